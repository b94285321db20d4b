// node-bamboohr (npm) against the simulator's BambooHR. It reads XML, BambooHR's default.
//
// node-bamboohr has no base-URL option: it builds
// `https://api.bamboohr.com/api/gateway.php/<subdomain>/v1/<path>` for every request through
// its `request` instance. That instance is wrapped to swap the host part for the simulator's
// gateway URL; paths, headers and parsing are the client's own.
'use strict';
const BambooHR = require('node-bamboohr');
const version = require('node-bamboohr/package.json').version;

const SIM = (process.env.SIM_URL || 'http://127.0.0.1:7391').replace(/\/$/, '');
const ROUND = process.env.ROUND || 'plain';
const VENDOR = 'https://api.bamboohr.com/api/gateway.php/';

const bamboo = new BambooHR({ apikey: 'sim-bamboohr-key', subdomain: 'demo' });
const send = bamboo.request;
bamboo.request = (opts, cb) => send(Object.assign({}, opts, { url: opts.url.replace(VENDOR, `${SIM}/bamboohr/api/gateway.php/`) }), cb);

const call = (fn) => new Promise((resolve, reject) => fn((err, value) => (err ? reject(new Error(`error ${err}`)) : resolve(value))));

async function stats() {
  const res = await fetch(`${SIM}/_control/stats?tool=bamboohr`);
  return (await res.json()).bamboohr;
}

async function check(operation, fn) {
  let status = 'PASS';
  let detail;
  try {
    detail = await fn();
  } catch (err) {
    status = 'FAIL';
    detail = String(err && err.stack ? err.stack.split('\n')[0] : err);
  }
  console.log([ROUND, 'node-bamboohr', version, operation, status, String(detail).slice(0, 160)].join('\t'));
}

function equal(what, got, want) {
  if (got !== want) throw new Error(`${what}: got ${got}, want ${want}`);
  return `${what} = ${got}`;
}

(async () => {
  const truth = await stats();
  const state = {};
  await check('auth + employee directory (XML)', async () => {
    state.employees = await call((cb) => bamboo.employees(cb));
    const e = state.employees[0];
    if (!e.id || !e.fields.firstName) throw new Error(`no id or firstName: ${JSON.stringify(e.fields)}`);
    return `${state.employees.length} employees, first ${e.id} ${e.fields.firstName} ${e.fields.lastName}`;
  });
  await check('employee by id with fields (XML)', async () => {
    const first = state.employees[0];
    const e = await call((cb) => bamboo.employee(first.id).get('firstName', 'lastName', 'hireDate', cb));
    equal('id', e.id, first.id);
    return `${e.id}: ${e.fields.firstName} ${e.fields.lastName}, hired ${e.fields.hireDate}`;
  });
  await check('jobInfo table (tables/jobInfo/, XML)', async () => {
    const rows = await call((cb) => bamboo.employee(state.employees[0].id).jobInfo(cb));
    if (!rows || !rows.length || !rows[0].field) throw new Error(`no rows: ${JSON.stringify(rows)}`);
    return `${rows.length} row(s), fields ${rows[0].field.map((f) => f.$.id).join(',')}`;
  });
  await check('time-off requests (XML)', async () => {
    const requests = await call((cb) => bamboo.timeOffRequests({ start: '2000-01-01', end: '2100-01-01' }, cb));
    const r = requests[0];
    if (!r.employeeId || !r.type || !r.status || !r.amountUnit) throw new Error(`incomplete: ${JSON.stringify(r)}`);
    return equal('time-off requests', requests.length, truth.absences);
  });
  await check('time-off types (meta/time_off/types/, JSON)', async () => {
    const types = await call((cb) => bamboo.timeOffTypes(cb));
    return `${types.timeOffTypes.length} types`;
  });
})();
