#!/usr/bin/env bash
# Runs independent third-party clients of Personio, BambooHR and Greenhouse Harvest v3,
# unchanged, against `tributary sim`, in two rounds (plain, then --documented-rate-limits),
# and prints a table of what each client did. See README.md. Not run in CI: it installs
# the clients from PyPI and npm.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${CLIENTS_WORK:-/tmp/tributary-clients}
port=${SIM_PORT:-7391}
python=${PYTHON:-python3.11}
sim_url="http://127.0.0.1:$port"

mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then
  "$python" -m venv "$work/venv"
fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/package.json" "$work/package.json"
(cd "$work" && npm install --no-audit --no-fund --silent)
(cd "$root" && cargo build -p tributary --locked --quiet)

results="$work/results.tsv"
: > "$results"
sim_pid=
stop_sim() {
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=
  fi
}
trap stop_sim EXIT

for round in plain documented-rate-limits; do
  flags=()
  if [ "$round" = documented-rate-limits ]; then flags=(--documented-rate-limits); fi
  "$root/target/debug/tributary" sim --listen "127.0.0.1:$port" --employees 250 --seed 42 \
    --data-dir "$work/data" "${flags[@]}" > "$work/sim-$round.log" 2>&1 &
  sim_pid=$!
  for _ in $(seq 1 120); do
    if curl -fsS "$sim_url/_control/health" > /dev/null 2>&1; then break; fi
    sleep 0.5
  done
  curl -fsS "$sim_url/_control/health" > /dev/null
  for script in personio_clients.py bamboohr_clients.py greenhouse_clients.py; do
    SIM_URL="$sim_url" ROUND="$round" "$work/venv/bin/python" "$here/$script" \
      >> "$results" 2>> "$work/clients-$round.log" || echo "$script exited $?" >&2
  done
  SIM_URL="$sim_url" ROUND="$round" NODE_PATH="$work/node_modules" node "$here/node_bamboohr.js" \
    >> "$results" 2>> "$work/clients-$round.log" || echo "node_bamboohr.js exited $?" >&2
  stop_sim
done

"$work/venv/bin/python" "$here/table.py" "$results"
