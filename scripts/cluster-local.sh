#!/usr/bin/env bash
# The cluster topology as plain processes on 127.0.0.1, for demos, benchmarks and the process-level
# fault test: a throwaway PostgreSQL (initdb/pg_ctl, as the postgres user when run as root), N silos and
# M API front ends, each health-checked. Everything lives in the state folder (default /tmp/billingwatch-cluster-local,
# outside the checkout so that the postgres user can reach it).
#
#   scripts/cluster-local.sh start [--silos 3] [--frontends 2] [--api-on-silos] [--state DIR] [--no-build]
#     --api-on-silos: every silo is an API-and-silo process (the API binary in its default role on PostgreSQL)
#     that serves the HTTP API too, so it is in FRONTENDS beside the front ends (--frontends 0 for none)
#   scripts/cluster-local.sh status [--state DIR]
#   scripts/cluster-local.sh cpu [--state DIR]       CPU seconds used so far by each process (for benchmarks)
#   scripts/cluster-local.sh stop [--state DIR] [--keep]      (--keep leaves the database folder)
#
# PG_EXTRA_OPTIONS adds server settings to PostgreSQL's command line, e.g.
#   PG_EXTRA_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c shared_buffers=512MB"
# and PG_INITDB_OPTIONS adds options to initdb for a new database folder, e.g. PG_INITDB_OPTIONS="--locale=C".
#
# After start, DIR/cluster.env holds FRONTENDS (space-separated URLs), ADMIN_KEY, CONNECTION_STRING and
# one SILO_<n>_PID / FRONTEND_<n>_PID per process; logs are in DIR/logs.
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"; shift || true
silos=3; frontends=2; api_on_silos=0; state="${TMPDIR:-/tmp}/billingwatch-cluster-local"; build=1; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --silos) silos="$2"; shift 2 ;;
    --frontends) frontends="$2"; shift 2 ;;
    --api-on-silos) api_on_silos=1; shift ;;
    --state) state="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$state"
state="$(cd "$state" && pwd)"
env_file="$state/cluster.env"

as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A loopback port nothing listens on and no earlier call of this run handed out, below Linux's ephemeral
# range (32768+) so that no outgoing connection of another process can be given it meanwhile.
taken=" "
free_port() {
  local port
  while true; do
    port=$(( (RANDOM % 11000) + 21000 ))
    case "$taken" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      taken="$taken$port "
      echo "$port"
      return
    fi
  done
}

wait_ready() { # url name pid
  local deadline=$((SECONDS + 120))
  until curl -fsS -o /dev/null "$1/health/ready" 2>/dev/null; do
    if ! kill -0 "$3" 2>/dev/null; then echo "$2 exited; see $state/logs/$2.log" >&2; tail -n 20 "$state/logs/$2.log" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "$2 not ready after 120 s" >&2; return 1; fi
    sleep 0.5
  done
  echo "$2 ready at $1"
}

start() {
  if [ "$build" = 1 ]; then
    dotnet build -c Release --nologo -v quiet src/BillingWatch.Api/BillingWatch.Api.csproj >/dev/null
  fi
  local silo_dll="src/BillingWatch.Silo/bin/Release/net10.0/BillingWatch.Silo.dll"
  local api_dll="src/BillingWatch.Api/bin/Release/net10.0/BillingWatch.Api.dll"
  if [ "$api_on_silos" = 1 ]; then silo_dll="$api_dll"; fi
  [ -f "$silo_dll" ] && [ -f "$api_dll" ] || { echo "build output missing: run without --no-build" >&2; exit 1; }

  mkdir -p "$state/logs"
  local pg_port; pg_port=$(free_port)
  if [ ! -d "$state/pg/data" ]; then
    mkdir -p "$state/pg"
    if [ "$(id -u)" = "0" ]; then chown postgres "$state/pg"; fi
    as_postgres initdb -D "$state/pg/data" -U postgres -A trust -E UTF8 ${PG_INITDB_OPTIONS:-} --no-instructions >"$state/logs/initdb.log"
  fi
  as_postgres pg_ctl -D "$state/pg/data" -l "$state/pg/postgres.log" -w -t 60 \
    -o "-p $pg_port -k $state/pg -c listen_addresses=127.0.0.1 -c max_connections=400 ${PG_EXTRA_OPTIONS:-}" start >/dev/null
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'billingwatch'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE billingwatch"
  local connection="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=billingwatch;Timeout=5"
  local admin_key="bwadmin_local_$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"

  {
    echo "PG_PORT=$pg_port"
    echo "CONNECTION_STRING='$connection'"
    echo "ADMIN_KEY=$admin_key"
  } >"$env_file"

  # Five .NET processes share this machine's cores: workstation GC and no thread-pool spinning keep them
  # from burning CPU waiting on each other (on real hardware each process has cores of its own).
  local common=(env DOTNET_gcServer=0 DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0
    BillingWatch__Storage__Provider=postgres "ConnectionStrings__BillingWatch=$connection"
    BillingWatch__AdminKey="$admin_key" BillingWatch__Orleans__ClusterId=local BillingWatch__Orleans__ServiceId=billingwatch)
  for i in $(seq 1 "$silos"); do
    local silo_port gateway_port health_port
    silo_port=$(free_port); gateway_port=$(free_port); health_port=$(free_port)
    "${common[@]}" BillingWatch__Orleans__SiloPort="$silo_port" BillingWatch__Orleans__GatewayPort="$gateway_port" \
      ASPNETCORE_URLS="http://127.0.0.1:$health_port" \
      nohup dotnet "$silo_dll" >"$state/logs/silo-$i.log" 2>&1 &
    echo "SILO_${i}_PID=$!" >>"$env_file"
    echo "SILO_${i}_URL=http://127.0.0.1:$health_port" >>"$env_file"
  done
  # The front ends start once every silo is ready: an Orleans client keeps each grain on the gateway it
  # first used for it, so one that starts while only some silos are up sends those silos all its traffic.
  # shellcheck disable=SC1090
  source "$env_file"
  for i in $(seq 1 "$silos"); do
    local pid_var="SILO_${i}_PID" url_var="SILO_${i}_URL"
    wait_ready "${!url_var}" "silo-$i" "${!pid_var}"
  done
  local urls=""
  if [ "$api_on_silos" = 1 ]; then
    for i in $(seq 1 "$silos"); do
      local url_var="SILO_${i}_URL"
      urls="$urls ${!url_var}"
    done
  fi
  for i in $(seq 1 "$frontends"); do
    local port; port=$(free_port)
    "${common[@]}" BillingWatch__Role=frontend ASPNETCORE_URLS="http://127.0.0.1:$port" \
      nohup dotnet "$api_dll" >"$state/logs/frontend-$i.log" 2>&1 &
    echo "FRONTEND_${i}_PID=$!" >>"$env_file"
    echo "FRONTEND_${i}_URL=http://127.0.0.1:$port" >>"$env_file"
    urls="$urls http://127.0.0.1:$port"
  done
  echo "FRONTENDS='${urls# }'" >>"$env_file"

  # shellcheck disable=SC1090
  source "$env_file"
  for i in $(seq 1 "$frontends"); do
    local pid_var="FRONTEND_${i}_PID" url_var="FRONTEND_${i}_URL"
    wait_ready "${!url_var}" "frontend-$i" "${!pid_var}"
  done
  echo "cluster up: front ends $FRONTENDS; admin key in $env_file"
}

status() {
  [ -f "$env_file" ] || { echo "not started"; exit 1; }
  # shellcheck disable=SC1090
  source "$env_file"
  grep -o '^[A-Z_0-9]*_PID=[0-9]*' "$env_file" | while IFS== read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then echo "${name%_PID} running (pid $pid)"; else echo "${name%_PID} stopped"; fi
  done
  for url in $FRONTENDS; do
    echo "$url/health/ready: $(curl -s "$url/health/ready" || echo unreachable)"
  done
}

cpu() {
  [ -f "$env_file" ] || { echo "not started"; exit 1; }
  local ticks; ticks=$(getconf CLK_TCK)
  grep -o '^[A-Z_0-9]*_PID=[0-9]*' "$env_file" | while IFS== read -r name pid; do
    if [ -r "/proc/$pid/stat" ]; then
      awk -v n="${name%_PID}" -v t="$ticks" '{ printf "%s %.1f\n", n, ($14 + $15) / t }' "/proc/$pid/stat"
    fi
  done
  local pg_total=0
  for pid in $(pgrep -u postgres -f "" 2>/dev/null); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$state/pg" || [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$state/pg/data" ]; then
      pg_total=$((pg_total + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat")))
    fi
  done
  awk -v v="$pg_total" -v t="$ticks" 'BEGIN { printf "POSTGRES %.1f\n", v / t }'
}

stop() {
  if [ -f "$env_file" ]; then
    # shellcheck disable=SC1090
    source "$env_file"
    # Front ends first (they drain in-flight webhooks), then silos (they hand off their grains).
    for kind in FRONTEND SILO; do
      local pids; pids=$(grep -o "^${kind}_[0-9]*_PID=[0-9]*" "$env_file" | cut -d= -f2 || true)
      for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
      for pid in $pids; do
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
      done
    done
    rm -f "$env_file"
  fi
  if [ -f "$state/pg/data/postmaster.pid" ]; then
    as_postgres pg_ctl -D "$state/pg/data" -m fast -w stop >/dev/null || true
  fi
  if [ "$keep" = 0 ]; then rm -rf "$state"; fi
  echo "cluster stopped"
}

case "$command" in
  start)
    if [ -f "$env_file" ]; then echo "already started ($env_file); stop it first" >&2; exit 1; fi
    # A start that fails half way stops what it started, so no process or server is left behind.
    trap 'code=$?; if [ "$code" -ne 0 ]; then keep=0; stop >/dev/null 2>&1; echo "start failed; everything it started was stopped" >&2; fi' EXIT
    start
    trap - EXIT ;;
  status) status ;;
  cpu) cpu ;;
  stop) stop ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
