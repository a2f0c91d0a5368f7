#!/usr/bin/env bash
# The project's test command (README "Run the tests"): sets up what a fresh machine lacks for the
# tests, then runs every test of the workspace. Safe to run again: each step skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Redis: the scale-out tests talk to a real server at 127.0.0.1:6379; start one if none answers.
if command -v redis-server >/dev/null 2>&1; then
  if ! (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1); then
    mkdir -p /tmp/bff-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/bff-redis --logfile /tmp/bff-redis/redis.log || true
  fi
fi

# Browser test: Debian's Chromium and playwright-core (npm); node 20 and npm are on the machine.
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
[ -d browser-tests/node_modules/playwright-core ] ||
  (cd browser-tests && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

cargo test --workspace --locked

# GraphiQL in a real browser, offline: starts target/debug/stack, runs `node --test`, stops it.
./browser-tests/run.sh
