#!/usr/bin/env bash
# The cluster benchmark of docs/PERFORMANCE.md in one run: the embedded default (SQLite), then the local
# PostgreSQL cluster with 1 and with 3 silos (two front ends each), the same load against each, with the
# CPU seconds every process used during the load.
# Usage: scripts/bench-cluster.sh [events] [tenants] ["silo counts", default "1 3"] [skip-embedded]
# BENCH_EXTRA adds bench options to every run, e.g. BENCH_EXTRA="--mix stripe --query-samples 0".
# BENCH_WARMUP=W first sends W unmeasured deliveries to every server (other tenants), so each topology is
# measured warm — JIT done in every process, as after a while in production; the CPU seconds then cover
# the measured run only.
# BENCH_SETTLE=S leaves the cluster idle S seconds after the warm-up and tenant creation, before the measured
# load (the bench's --settle): the background tier-1 compiles they set off finish first.
# CLUSTER_EXTRA adds options to scripts/cluster-local.sh start, e.g. CLUSTER_EXTRA="--api-on-silos --frontends 0"
# (every silo serves the API itself; the load is spread over them).
# BENCH_KILL_SILO_AFTER=S kills silo 1 with SIGKILL S seconds after the measured load starts (the bench then
# redelivers what was refused, as Stripe retries, and checks rows = events acknowledged once).
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-200000}"; tenants="${2:-100}"; silo_counts="${3:-1 3}"
state="${TMPDIR:-/tmp}/billingwatch-bench-cluster"
bench=(dotnet bench/BillingWatch.Bench/bin/Release/net10.0/BillingWatch.Bench.dll --events "$events" --tenants "$tenants" --concurrency 32 --query-samples 200)
# shellcheck disable=SC2206
bench+=(${BENCH_EXTRA:-})
# Only the measured runs settle (the warm-up run needs no idle time before it).
# shellcheck disable=SC2206
measured=(${BENCH_SETTLE:+--settle "$BENCH_SETTLE"})

dotnet build -c Release --nologo -v quiet bench/BillingWatch.Bench/BillingWatch.Bench.csproj >/dev/null
if [ "${4:-}" != "skip-embedded" ]; then
  echo "== embedded default (SQLite, one process)"
  "${bench[@]}" "${measured[@]}" ${BENCH_WARMUP:+--warmup "$BENCH_WARMUP"}
fi

for silos in $silo_counts; do
  echo "== PostgreSQL cluster: $silos silo(s), 2 front ends ${CLUSTER_EXTRA:+(overridden: $CLUSTER_EXTRA)}"
  # shellcheck disable=SC2086
  scripts/cluster-local.sh start --no-build --silos "$silos" --frontends 2 ${CLUSTER_EXTRA:-} --state "$state" | tail -n 1
  # shellcheck disable=SC1091
  source "$state/cluster.env"
  if [ -n "${BENCH_WARMUP:-}" ]; then
    "${bench[@]}" --events "$BENCH_WARMUP" --query-samples 0 --url "${FRONTENDS// /,}" --admin-key "$ADMIN_KEY" \
      | grep -E "accepted/s|latency ms" | sed 's/^/  warm-up: /' || true
  fi
  scripts/cluster-local.sh cpu --state "$state" >"$state/cpu-before"
  if [ -n "${BENCH_KILL_SILO_AFTER:-}" ]; then
    "${bench[@]}" "${measured[@]}" --url "${FRONTENDS// /,}" --admin-key "$ADMIN_KEY" --postgres "$CONNECTION_STRING" &
    load=$!
    sleep "$((BENCH_KILL_SILO_AFTER + ${BENCH_SETTLE:-0}))"
    echo "== kill -9 silo 1 (pid $SILO_1_PID)"
    kill -9 "$SILO_1_PID"
    wait "$load" || true
  else
    "${bench[@]}" "${measured[@]}" --url "${FRONTENDS// /,}" --admin-key "$ADMIN_KEY" --postgres "$CONNECTION_STRING" || true
  fi
  scripts/cluster-local.sh cpu --state "$state" >"$state/cpu-after"
  echo "CPU seconds during the run:"
  # By name: a killed silo has no line after the run.
  awk 'NR == FNR { before[$1] = $2; next } { printf "  %-12s %6.1f\n", $1, $2 - before[$1] }' "$state/cpu-before" "$state/cpu-after"
  scripts/cluster-local.sh stop --state "$state" >/dev/null
done
