// The official Kombo TypeScript SDK (@kombo-api/sdk, pinned in package.json and
// package-lock.json), unchanged, against `tributary serve`: every endpoint the SDK offers that
// we serve, pagination, filters, force-sync and the error cases. Run by node's own test runner
// from crates/tributary/tests/kombo_sdk.rs, which starts the stack and sets the environment.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Kombo } from "@kombo-api/sdk";
import * as errors from "@kombo-api/sdk/models/errors";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set by kombo_sdk.rs`);
  return value;
};

const SERVER_URL = `${env("TRIBUTARY_URL")}/v1`;
const API_KEY = env("TRIBUTARY_API_KEY");
const OTHER_ENV_API_KEY = env("TRIBUTARY_OTHER_ENV_API_KEY");
const HRIS_ID = env("HRIS_INTEGRATION_ID");
const ATS_ID = env("ATS_INTEGRATION_ID");
const FOREIGN_ID = env("FOREIGN_INTEGRATION_ID");
const EXPECTED_COUNTS = JSON.parse(env("EXPECTED_COUNTS"));

// No retries: a 429 or 5xx must show, not be papered over.
const client = (api_key, integration_id) =>
  new Kombo({ api_key, integration_id, server_url: SERVER_URL, retry_config: { strategy: "none" } });

const hris = client(API_KEY, HRIS_ID);
const ats = client(API_KEY, ATS_ID);

// Every list endpoint we serve, by the SDK method that reads it.
const ENDPOINTS = [
  ["/hris/employees", hris, (k, r) => k.hris.getEmployees(r)],
  ["/hris/employments", hris, (k, r) => k.hris.getEmployments(r)],
  ["/hris/groups", hris, (k, r) => k.hris.getGroups(r)],
  ["/hris/locations", hris, (k, r) => k.hris.getLocations(r)],
  ["/hris/legal-entities", hris, (k, r) => k.hris.getLegalEntities(r)],
  ["/hris/absence-types", hris, (k, r) => k.hris.getAbsenceTypes(r)],
  ["/hris/absences", hris, (k, r) => k.hris.getAbsences(r)],
  ["/hris/time-off-balances", hris, (k, r) => k.hris.getTimeOffBalances(r)],
  ["/ats/jobs", ats, (k, r) => k.ats.getJobs(r)],
  ["/ats/candidates", ats, (k, r) => k.ats.getCandidates(r)],
  ["/ats/applications", ats, (k, r) => k.ats.getApplications(r)],
  ["/ats/application-stages", ats, (k, r) => k.ats.getApplicationStages(r)],
  ["/ats/users", ats, (k, r) => k.ats.getUsers(r)],
  ["/ats/tags", ats, (k, r) => k.ats.getTags(r)],
  ["/ats/interviews", ats, (k, r) => k.ats.getInterviews(r)],
  ["/ats/offers", ats, (k, r) => k.ats.getOffers(r)],
  ["/ats/rejection-reasons", ats, (k, r) => k.ats.getRejectionReasons(r)],
];

/** Every record of a listing, walked with the SDK's own page iterator. */
async function walk(list, sdk, request = {}) {
  const records = [];
  let pages = 0;
  for await (const page of await list(sdk, request)) {
    pages += 1;
    assert.equal(page.result.status, "success");
    records.push(...page.result.data.results);
  }
  return { records, pages };
}

/** The call fails with the SDK's error class `type` carrying Kombo's `code`, as a 4xx. */
async function expectError(call, type, code) {
  await assert.rejects(call, (error) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error?.constructor?.name}: ${error}`);
    assert.equal(error.data$.error.code, code, error.message);
    assert.ok(error.statusCode >= 400 && error.statusCode < 500, `HTTP ${error.statusCode}`);
    assert.ok(error.data$.error.message, "an error says what is wrong");
    return true;
  });
}

describe("general", () => {
  test("check-api-key names the key's environment", async () => {
    const mine = await client(API_KEY).general.checkApiKey();
    assert.equal(mine.status, "success");
    assert.ok(mine.data.environment_id);
    const theirs = await client(OTHER_ENV_API_KEY).general.checkApiKey();
    assert.notEqual(theirs.data.environment_id, mine.data.environment_id);
  });

  for (const [id, tool, category] of [
    [HRIS_ID, "personio", "HRIS"],
    [ATS_ID, "greenhouse", "ATS"],
  ]) {
    test(`integration details of ${id}`, async () => {
      const details = await client(API_KEY).general.getIntegrationDetails({ integration_id: id });
      assert.equal(details.data.id, id);
      assert.equal(details.data.tool.id, tool);
      assert.equal(details.data.category, category);
      assert.equal(details.data.status, "ACTIVE");
      assert.ok(details.data.created_at instanceof Date && !Number.isNaN(details.data.created_at.valueOf()));
      const models = new Map(details.data.read_models.map((m) => [m.id, m]));
      const prefix = category === "HRIS" ? "/hris/" : "/ats/";
      for (const [path] of ENDPOINTS.filter(([p]) => p.startsWith(prefix))) {
        const scopeId = path.slice(1).replaceAll("/", "_").replaceAll("-", "_");
        assert.ok(models.get(scopeId)?.is_available, `${scopeId} in ${[...models.keys()]}`);
      }
    });
  }

  test("force-sync queues a DELTA", async () => {
    const answer = await hris.general.triggerSync({ type: "DELTA" });
    assert.equal(answer.status, "success");
    assert.equal(answer.data.type, "DELTA");
    assert.ok(typeof answer.data.sync_id === "string" && answer.data.sync_id);
    assert.equal(typeof answer.data.already_queued, "boolean");
  });
});

describe("every list endpoint", () => {
  for (const [path, sdk, list] of ENDPOINTS) {
    test(`${path} lists every live record once`, async () => {
      const { records } = await walk(list, sdk, { page_size: 250 });
      assert.ok(EXPECTED_COUNTS[path] > 0, `${path} has records in the mirror`);
      assert.equal(records.length, EXPECTED_COUNTS[path], path);
      assert.equal(new Set(records.map((r) => r.id)).size, records.length, `${path}: an id twice`);
      for (const r of records) {
        assert.ok(typeof r.id === "string" && r.id);
        assert.ok(r.changed_at instanceof Date, `${path} ${r.id}: changed_at parsed as a date`);
        assert.equal(r.remote_deleted_at ?? null, null, `${path} ${r.id}: deleted, yet listed`);
      }
    });
  }
});

describe("pagination", () => {
  test("more than a thousand employees, 100 a page", async () => {
    const list = ENDPOINTS[0][2];
    const { records, pages } = await walk(list, hris, { page_size: 100 });
    assert.ok(records.length >= 1000, `${records.length}`);
    assert.equal(records.length, EXPECTED_COUNTS["/hris/employees"]);
    assert.equal(pages, Math.ceil(records.length / 100));
  });

  test("an odd page size walks the same records", async () => {
    const list = ENDPOINTS[0][2];
    const byHundred = (await walk(list, hris, { page_size: 100 })).records.map((r) => r.id);
    const bySeven = (await walk(list, hris, { page_size: 7 })).records.map((r) => r.id);
    assert.deepEqual(new Set(bySeven), new Set(byHundred));
  });
});

describe("filters", () => {
  const employees = ENDPOINTS[0][2];

  test("ids and remote_ids", async () => {
    const first = await (await employees(hris, { page_size: 5 })).result.data.results;
    const picked = first.slice(0, 3);
    const byIds = await employees(hris, { ids: picked.map((e) => e.id) });
    assert.deepEqual(new Set(byIds.result.data.results.map((e) => e.id)), new Set(picked.map((e) => e.id)));
    const byRemote = await employees(hris, { remote_ids: [picked[0].remote_id] });
    assert.deepEqual(
      byRemote.result.data.results.map((e) => e.id),
      [picked[0].id],
    );
  });

  test("updated_after in the future lists nothing; in the past, everything", async () => {
    const future = await employees(hris, { updated_after: new Date(Date.now() + 86_400_000) });
    assert.equal(future.result.data.results.length, 0);
    const past = await walk(employees, hris, { updated_after: new Date("2000-01-01T00:00:00Z"), page_size: 250 });
    assert.equal(past.records.length, EXPECTED_COUNTS["/hris/employees"]);
  });

  test("employment_statuses keeps exactly the employees with that status", async () => {
    const all = (await walk(employees, hris, { page_size: 250 })).records;
    const active = all.filter((e) => e.employment_status === "ACTIVE").map((e) => e.id);
    assert.ok(active.length > 0 && active.length < all.length, `${active.length} of ${all.length} active`);
    const { records } = await walk(employees, hris, { employment_statuses: ["ACTIVE"], page_size: 250 });
    assert.deepEqual(new Set(records.map((e) => e.id)), new Set(active));
  });

  test("include_deleted lists at least the live records", async () => {
    const { records } = await walk(employees, hris, { include_deleted: true, page_size: 250 });
    assert.ok(records.length >= EXPECTED_COUNTS["/hris/employees"]);
  });

  test("job statuses keep exactly the jobs with that status", async () => {
    const jobs = ENDPOINTS.find(([p]) => p === "/ats/jobs")[2];
    const all = (await walk(jobs, ats, { page_size: 250 })).records;
    const open = all.filter((j) => j.status === "OPEN").map((j) => j.id);
    assert.ok(open.length > 0, `no OPEN job among ${all.length}`);
    const { records } = await walk(jobs, ats, { statuses: ["OPEN"], page_size: 250 });
    assert.deepEqual(new Set(records.map((j) => j.id)), new Set(open));
  });
});

describe("errors", () => {
  for (const key of ["trb_not-a-key", "trb_" + "A".repeat(43)]) {
    test(`a bad API key (${key.slice(0, 12)}…) is AUTHENTICATION_INVALID`, async () => {
      await expectError(
        client(key, HRIS_ID).hris.getEmployees(),
        errors.KomboHrisError,
        "PLATFORM.AUTHENTICATION_INVALID",
      );
      await expectError(
        client(key, ATS_ID).ats.getJobs(),
        errors.KomboAtsError,
        "PLATFORM.AUTHENTICATION_INVALID",
      );
      await expectError(
        client(key).general.checkApiKey(),
        errors.KomboGeneralError,
        "PLATFORM.AUTHENTICATION_INVALID",
      );
    });
  }

  for (const id of ["personio:does-not-exist", FOREIGN_ID]) {
    test(`integration ${id} is not found`, async () => {
      await expectError(
        client(API_KEY, id).hris.getEmployees(),
        errors.KomboHrisError,
        "PLATFORM.INTEGRATION_NOT_FOUND",
      );
      await expectError(
        client(API_KEY).general.getIntegrationDetails({ integration_id: id }),
        errors.KomboGeneralError,
        "PLATFORM.INTEGRATION_NOT_FOUND",
      );
      await expectError(
        client(API_KEY, id).general.triggerSync({ type: "DELTA" }),
        errors.KomboGeneralError,
        "PLATFORM.INTEGRATION_NOT_FOUND",
      );
    });
  }

  test("the other environment reads only its own integration", async () => {
    const own = await client(OTHER_ENV_API_KEY, FOREIGN_ID).hris.getEmployees({ page_size: 5 });
    assert.equal(own.result.data.results.length, 5);
  });

  for (const page_size of [0, 251]) {
    test(`page_size ${page_size} is INPUT_INVALID`, async () => {
      await expectError(hris.hris.getEmployees({ page_size }), errors.KomboHrisError, "PLATFORM.INPUT_INVALID");
      await expectError(ats.ats.getCandidates({ page_size }), errors.KomboAtsError, "PLATFORM.INPUT_INVALID");
    });
  }

  test("a forged cursor is INPUT_INVALID", async () => {
    await expectError(
      hris.hris.getEmployees({ cursor: "not-a-cursor" }),
      errors.KomboHrisError,
      "PLATFORM.INPUT_INVALID",
    );
  });
});
