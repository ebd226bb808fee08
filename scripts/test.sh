#!/usr/bin/env bash
# Runs the whole BillingWatch test suite and ends with one line "N passed, N failed[, N skipped]"
# totalled over every test project. Starts whatever the tests need itself.
#   ./scripts/test.sh          everything: tests/BillingWatch.Tests and tests/BillingWatch.IntegrationTests
#   ./scripts/test.sh --fast   the fast loop only: tests/BillingWatch.Tests (in-process, about a minute)
set -uo pipefail
cd "$(dirname "$0")/.."

target=BillingWatch.sln
if [ "${1:-}" = "--fast" ]; then
  target=tests/BillingWatch.Tests/BillingWatch.Tests.csproj
fi

# The integration tests' browser tests drive Debian's Chromium (never a downloaded browser). When it is
# missing, this installs the Debian package "chromium" with apt-get, and says so.
if [ "$target" = BillingWatch.sln ] && [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: /usr/bin/chromium is missing; installing Debian's 'chromium' package with apt-get (for the dashboard's browser tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt_get() { if [ "$(id -u)" = "0" ]; then apt-get "$@"; else sudo -n apt-get "$@"; fi; }
  if { apt_get install -y --no-install-recommends chromium || { apt_get update && apt_get install -y --no-install-recommends chromium; }; } >/tmp/billingwatch-apt.log 2>&1; then
    echo "test.sh: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium) (apt-get's output: /tmp/billingwatch-apt.log)"
  else
    echo "test.sh: could not install chromium (see /tmp/billingwatch-apt.log): the browser tests will fail"
  fi
fi

results="$(mktemp -d)"
# Throwaway PostgreSQL servers of this run are named after it; whatever a killed test host leaves running
# is stopped when the script ends.
export BILLINGWATCH_TEST_RUN="run$$"
stop_leftover_postgres() {
  for data in "${TMPDIR:-/tmp}"/bw-pg-"$BILLINGWATCH_TEST_RUN"-*/data; do
    [ -d "$data" ] || continue
    if [ "$(id -u)" = "0" ]; then runuser -u postgres -- pg_ctl -D "$data" -m immediate stop >/dev/null 2>&1
    else pg_ctl -D "$data" -m immediate stop >/dev/null 2>&1; fi
    rm -rf "$(dirname "$data")"
  done
}
trap 'stop_leftover_postgres; rm -rf "$results"' EXIT

dotnet test "$target" -c Release --nologo \
  --logger "console;verbosity=normal" --logger "trx" --results-directory "$results" 2>&1 | tee "$results/console.log"
status=${PIPESTATUS[0]}

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done

# The console log is long and a CI page may show only its end: repeat each failed test with the start of its message.
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  awk '
    /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); printf "FAILED %s\n", name; want = 1 }
    want && /<Message>/ { inmsg = 1; lines = 0; sub(/.*<Message>/, "") }
    inmsg { line = $0; done = sub(/<\/Message>.*/, "", line); if (lines < 12) print "  " line; lines++; if (done) { inmsg = 0; want = 0 } }
  ' "$trx" | sed -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
done

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The run failed without a failed test (build error, crashed test host): count it as a failure.
  failed=1
fi

if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
exit "$status"
