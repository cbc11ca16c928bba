#!/usr/bin/env bash
# The web console's browser tests: installs Debian's chromium (apt-get) if it is missing
# and the tests' npm packages (npm ci: playwright-core only, which never downloads a
# browser), then runs every tests/console_browser*.rs test (#[ignore]d for a plain
# `cargo test`, since they need chromium and node). Each starts a broker in-process and
# drives the console with a script from tests/console/. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium
fi
command -v node >/dev/null || { echo "tests/console/run.sh needs Node.js 18 or later" >&2; exit 1; }
# Playwright must never fetch a browser of its own: it uses /usr/bin/chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd tests/console && npm ci --no-audit --no-fund)

tests=()
for f in tests/console_browser*.rs; do
  tests+=(--test "$(basename "$f" .rs)")
done
cargo test -p warren-suite "${tests[@]}" -- --ignored --test-threads 1
