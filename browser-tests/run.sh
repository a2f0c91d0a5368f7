#!/usr/bin/env bash
# The browser test (scripts/test.sh runs it after `cargo test`): builds and starts the stack
# (demo services on 5001-5003, BFFs on 4001-4003), waits until every BFF is ready, runs
# `node --test` here (Chromium at /usr/bin/chromium, driven by playwright-core), stops the
# stack. Screenshots and the stack's log go to browser-tests/output/.
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd .. && pwd)"
mkdir -p output

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "browser-tests: no Chromium at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)" >&2
  exit 1
fi
[ -d node_modules/playwright-core ] || npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

(cd "$root" && cargo build -p stack --locked)

# Refuse to test whatever else may be listening on the stack's ports.
for port in 4001 4002 4003 5001 5002 5003; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "browser-tests: port $port is already in use; stop what listens there first" >&2
    exit 1
  fi
done

"$root/target/debug/stack" >output/stack.log 2>&1 &
stack_pid=$!
stop_stack() { kill "$stack_pid" 2>/dev/null && wait "$stack_pid" 2>/dev/null || true; }
trap stop_stack EXIT

# Ready when each BFF's /ready answers 200 (all downstreams up); at most 60 s.
node --input-type=module -e '
  const deadline = Date.now() + 60_000;
  for (const port of [4001, 4002, 4003]) {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) { console.error(`browser-tests: :${port} not ready after 60 s`); process.exit(1); }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }' || { echo "--- stack log:" >&2; cat output/stack.log >&2; exit 1; }
kill -0 "$stack_pid" 2>/dev/null || { echo "browser-tests: the stack exited" >&2; cat output/stack.log >&2; exit 1; }

node --test
