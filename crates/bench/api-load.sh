#!/usr/bin/env bash
# The HTTP API under load (BENCHMARKS.md): a release build of `grantflow
# serve` over a sandbox organisation of $PEOPLE generated people (plus the
# demo's), synced and drift-checked, then wrk with $READERS connections
# reading (people, plans, drift findings, reach) and, at the same time,
# $WRITERS connections writing (a requester's plans, an approver's
# approvals) for $DURATION; then `grantflow audit verify` and a count of the
# plan.created / plan.approved events against the writes wrk saw answered.
#
#   crates/bench/api-load.sh [sqlite|postgres|both]      (default: both)
#
# Readers are paced to READ_RATE requests/s in all (each client waits
# READERS/READ_RATE s between an answer and its next request); READ_RATE=0
# drives them as fast as the server answers (saturation).
#
# Env: PEOPLE (3000), READERS (200), WRITERS (20), DURATION (60s), READ_RATE (1100),
# POSTGRES (postgres://postgres@127.0.0.1:5432/test; a fresh schema per run),
# CARGO (cargo), PORT (18787), KEEP (keep the work folder).
# Benchmark, not a test: it prints figures and exits 0 unless a step fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/crates/bench/api-load"
which_db=${1:-both}
PEOPLE=${PEOPLE:-3000}
READERS=${READERS:-200}
READ_RATE=${READ_RATE:-1100}
think_ms=0
if [ "$READ_RATE" -gt 0 ]; then think_ms=$((READERS * 1000 / READ_RATE)); fi
WRITERS=${WRITERS:-20}
DURATION=${DURATION:-60s}
POSTGRES=${POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
CARGO=${CARGO:-cargo}
PORT=${PORT:-18787}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }

echo "== building (release)"
$CARGO build --release -q -p grantflow -p grantflow-bench
gf="$root/target/release/grantflow"
bench="$root/target/release/grantflow-bench"

work=$(mktemp -d /tmp/grantflow-api-load.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "work folder kept: $work"; fi
}
trap cleanup EXIT
cd "$work"

echo "== sandbox with $PEOPLE generated people"
"$bench" api-org --people "$PEOPLE" --out org.json
"$gf" sandbox up --org org.json --info sandbox.json >sandbox.log 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do [ -s sandbox.json ] && break; sleep 0.5; done
[ -s sandbox.json ] || { cat sandbox.log; echo "the sandbox did not start" >&2; exit 1; }
"$gf" init --sandbox sandbox.json >init.log
mkdir -p policies && cp "$root"/examples/policies/*.yaml policies/

# Percentiles and totals from wrk's --latency output.
figures() { # label file
  local label=$1 file=$2
  local rps p50 p99 total errors sockets
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$file")
  p50=$(awk '$1 == "50%" {print $2}' "$file")
  p99=$(awk '$1 == "99%" {print $2}' "$file")
  total=$(awk '/requests in/ {print $1}' "$file")
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$file")
  sockets=$(awk '/Socket errors:/ {print $0}' "$file")
  printf '%-8s requests=%s  throughput=%s/s  p50=%s  p99=%s  non-2xx/3xx=%s  %s\n' \
    "$label" "$total" "$rps" "$p50" "$p99" "${errors:-0}" "${sockets:-socket errors: none}"
}

run() { # label database-url
  local label=$1 db=$2
  export GRANTFLOW_DATABASE=$db
  echo "== $label: sync, drift check, tokens"
  local started=$SECONDS
  "$gf" sync >"sync-$label.log" 2>&1 || { cat "sync-$label.log"; exit 1; }
  "$gf" drift >"drift-$label.log" 2>&1 || true
  echo "   synced and drift-checked in $((SECONDS - started)) s ($(grep -c . "sync-$label.log") lines of sync output)"
  local viewer requester approver
  viewer=$("$gf" token create --name "bench-viewer" --role viewer --expires-in 1d 2>/dev/null)
  requester=$("$gf" token create --name "bench-requester" --role requester --expires-in 1d 2>/dev/null)
  approver=$("$gf" token create --name "bench-approver" --role approver --expires-in 1d 2>/dev/null)

  "$gf" serve --listen "127.0.0.1:$PORT" --interval 0 >"serve-$label.log" 2>&1 &
  local serve=$!
  pids+=($serve)
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$PORT/api/v1/openapi.json" >/dev/null && break
    sleep 0.5
  done
  # Warm-up: the first read builds the in-memory actual state.
  curl -fs -H "Authorization: Bearer $viewer" "http://127.0.0.1:$PORT/api/v1/people?limit=1" >/dev/null

  echo "== $label: $READERS readers (think time ${think_ms} ms; READ_RATE=$READ_RATE) and $WRITERS writers for $DURATION"
  REQUESTER_TOKEN=$requester APPROVER_TOKEN=$approver BENCH_PEOPLE=$PEOPLE \
    wrk -t1 -c"$WRITERS" -d"$DURATION" --timeout 10s --latency -s "$here/writes.lua" \
    "http://127.0.0.1:$PORT" >"writes-$label.txt" 2>&1 &
  local writer=$!
  GRANTFLOW_TOKEN=$viewer BENCH_PEOPLE=$PEOPLE BENCH_THINK_MS=$think_ms \
    wrk -t2 -c"$READERS" -d"$DURATION" --timeout 10s --latency -s "$here/reads.lua" \
    "http://127.0.0.1:$PORT" >"reads-$label.txt" 2>&1
  wait "$writer"
  kill -TERM "$serve"
  wait "$serve" || true

  echo "== $label: results"
  figures reads "reads-$label.txt"
  figures writes "writes-$label.txt"
  grep -E '^(writes:|refusals|[0-9]{3} )' "writes-$label.txt" | head -20 || true

  echo "== $label: audit"
  "$gf" audit verify 2>&1 | tail -3
  "$gf" audit export -o "audit-$label.jsonl" >/dev/null 2>&1
  local created approved seqs unique
  created=$(grep '"action":"plan.created"' "audit-$label.jsonl" | grep -c '"actor":"token:bench-requester"' || true)
  approved=$(grep '"action":"plan.approved"' "audit-$label.jsonl" | grep -c '"actor":"token:bench-approver"' || true)
  seqs=$(grep -o '"seq":[0-9]*' "audit-$label.jsonl" | wc -l)
  unique=$(grep -o '"seq":[0-9]*' "audit-$label.jsonl" | sort -u | wc -l)
  echo "   audit: plan.created by the requester=$created, plan.approved by the approver=$approved, events=$seqs (distinct seq $unique)"
  local answered_created answered_approved
  answered_created=$(sed -n 's/^writes: plans_created=\([0-9]*\).*/\1/p' "writes-$label.txt")
  answered_approved=$(sed -n 's/.* approvals=\([0-9]*\).*/\1/p' "writes-$label.txt")
  echo "   wrk saw answered: plans created=$answered_created, approvals=$answered_approved" \
    "(in-flight requests cut by wrk's stop may be recorded without wrk seeing the answer)"
}

case "$which_db" in
  sqlite | both) run sqlite "sqlite://$work/bench.db" ;;
esac
case "$which_db" in
  postgres | both)
    if psql "$POSTGRES" -qAtc 'select 1' >/dev/null 2>&1; then
      schema="gf_bench_$(date +%s)"
      psql "$POSTGRES" -qc "CREATE SCHEMA $schema" >/dev/null
      sep='?'; case "$POSTGRES" in *\?*) sep='&' ;; esac
      run postgres "${POSTGRES}${sep}options=-c%20search_path%3D${schema}"
      psql "$POSTGRES" -qc "DROP SCHEMA $schema CASCADE" >/dev/null
    else
      echo "== postgres: skipped ($POSTGRES is not reachable)"
    fi
    ;;
esac
