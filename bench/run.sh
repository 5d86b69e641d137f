#!/usr/bin/env bash
# One command for the performance table (README "Performance", docs/performance.md):
# builds in release mode, measures the local runner against a bare hyper server in the same run,
# and prints a Markdown table. Everything listens on 127.0.0.1 and is stopped at the end.
#
#   bench/run.sh                 # about 10 minutes after the build (the memory phases wait
#                                # for 2 × 100,000 runs to finish)
#   BENCH_SECONDS=5 bench/run.sh # shorter load phases
#   BENCH_SKIP_CRITERION=1 …     # leave out the micro-benchmarks
#   BENCH_RUNTIMES="process sandbox" …  # runtimes of the agent-start row (sandbox needs bwrap)
#   BENCH_ONLY_START=1 …         # only the agent-start rows (no ingest, memory, logs)
#   BENCH_DEBUG=1 …              # debug build instead of release (a busy machine)
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_PHASE=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
ACCEPTED_FOR_MEMORY=${BENCH_ACCEPTED_RUNS:-100000}
START_RUNS=${BENCH_START_RUNS:-1000}
LOG_LINES=${BENCH_LOG_LINES:-1000000}
# Below the default cap on connections still waiting to authenticate (1,024).
WS_CONNECTIONS=${BENCH_WS_CONNECTIONS:-1000}
RUNTIMES=${BENCH_RUNTIMES:-process sandbox}
SECRET="bench-secret-0123456789abcdef0123456789abcdef"
TOKEN="bench-token"

if [ -n "${BENCH_DEBUG:-}" ]; then
  # For a machine too busy for a release build; the numbers are then not the table's.
  echo "building (debug)…" >&2
  cargo build --quiet -p local-runner -p e2e-tests --bins
  BIN=target/debug
else
  echo "building (release)…" >&2
  cargo build --release --quiet -p local-runner -p e2e-tests --bins
  BIN=target/release
fi
WORK=$(mktemp -d)
cleanup() {
  # Servers are started in command substitutions: their pids are in files, not in this shell.
  for f in "$WORK"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a server whose first stdout line is "<name> listening on <url>"; prints the URL.
start_server() {
  local out=$1; shift
  "$@" >"$out" 2>"$out.err" &
  echo $! >"$out.pid"
  for _ in $(seq 1 200); do
    local url
    url=$(sed -n 's/^.* listening on \(http[^ ]*\).*/\1/p' "$out" | head -n1)
    if [ -n "$url" ]; then echo "$url"; return; fi
    sleep 0.05
  done
  echo "server did not start: $(cat "$out" "$out.err")" >&2
  exit 1
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
loadgen() { "$BIN/loadgen" "$@"; }

cat >"$WORK/config.toml" <<TOML
[server]
internal_token = "bench-internal-token"
dedup_window_secs = 3600

[executor]
max_concurrent_runs = 2

# The log throughput phase keeps all of its LOG_LINES lines.
[retention]
log_max_lines = 100000000
log_max_bytes = 100000000000

[[tokens]]
token = "$TOKEN"
workspace_id = "ws"

# Ingest: a trivial agent, limits high enough that nothing is refused.
[[agents]]
id = "ingest"
crew_id = "bench"
workspace_id = "ws"
command = ["true"]
webhook_secret = "$SECRET"
rate_limit_per_min = 10000000
max_queued_runs = 10000000
max_concurrent_runs = 2

# Agent start: the first action creates start-<n> in the crew's directory (the only place a
# sandboxed agent can write), <n> taken from the message.
[[agents]]
id = "start"
crew_id = "bench"
workspace_id = "ws"
# Two at a time: the next webhook may arrive before the previous run is marked finished, and
# an agent at its concurrency cap defers the run (500 ms), which is not start latency.
max_concurrent_runs = 2
command = ["sh", "-c", "m=\${CREWSHIP_MESSAGE#*mark-}; date +%s%N > \"start-\${m%%-end*}\""]
webhook_secret = "$SECRET"
rate_limit_per_min = 10000000

# Log throughput: many short lines.
[[agents]]
id = "chatty"
crew_id = "bench"
workspace_id = "ws"
command = ["seq", "1", "$LOG_LINES"]
webhook_secret = "$SECRET"
TOML

# The same ingest agent, but its first run never ends and the executor takes one run at a time:
# nothing else executes while the trigger path is measured. Stopped at once at the end.
cat >"$WORK/trigger_only.toml" <<TOML
[server]
dedup_window_secs = 3600

[executor]
max_concurrent_runs = 1
shutdown_grace_secs = 0
kill_grace_secs = 1

[[agents]]
id = "ingest"
crew_id = "bench"
workspace_id = "ws"
command = ["sleep", "3600"]
webhook_secret = "$SECRET"
rate_limit_per_min = 10000000
max_queued_runs = 10000000
max_concurrent_runs = 1
TOML

if [ -z "${BENCH_ONLY_START:-}" ]; then
# 1. Ingest: bare hyper, then the local runner, same generator, same settings.
echo "ingest: bare hyper baseline…" >&2
BARE=$(start_server "$WORK/bare.out" "$BIN/bare-hyper")
PATH_TRIGGER=/api/v1/webhooks/bench/ingest/trigger
loadgen http --label bare --url "$BARE$PATH_TRIGGER" --connections "$CONNECTIONS" \
  --duration "$SECONDS_PER_PHASE" >"$WORK/bare.json"
BARE_RPS=$(sed 's/.*"rps":\([0-9.]*\).*/\1/' "$WORK/bare.json")
HALF_RATE=$(awk -v r="$BARE_RPS" 'BEGIN {printf "%d", r / 2}')
loadgen http --label bare_half --url "$BARE$PATH_TRIGGER" --connections "$CONNECTIONS" \
  --duration "$SECONDS_PER_PHASE" --rate "$HALF_RATE" >"$WORK/bare_half.json"
kill "$(cat "$WORK/bare.out.pid")"

# The local runner twice: first as it is (every accepted run also executes its agent, `true`,
# on the same two cores), then with the executor occupied by one long run so that the backlog
# waits in the queue: the trigger path alone.
ingest_runner() {
  local label=$1 config=$2; shift 2
  echo "ingest: local runner ($label)…" >&2
  local url
  url=$(start_server "$WORK/$label.out" env RUST_LOG=warn "$BIN/local-runner" \
    --config "$config" --listen 127.0.0.1:0 --work-dir "$WORK/work_$label" "$@")
  loadgen http --label "$label" --url "$url$PATH_TRIGGER" --connections "$CONNECTIONS" \
    --duration "$SECONDS_PER_PHASE" >"$WORK/$label.json"
  loadgen http --label "${label}_half" --url "$url$PATH_TRIGGER" --connections "$CONNECTIONS" \
    --duration "$SECONDS_PER_PHASE" --rate "$HALF_RATE" >"$WORK/${label}_half.json"
  kill "$(cat "$WORK/$label.out.pid")"
}
ingest_runner runner "$WORK/config.toml"
ingest_runner trigger_only "$WORK/trigger_only.toml"
# The same two on the SQLite store (docs/stores.md): every 202 after its commit.
ingest_runner sqlite_runner "$WORK/config.toml" --data "$WORK/ingest.db"
ingest_runner sqlite_trigger_only "$WORK/trigger_only.toml" --data "$WORK/trigger_only.db"

# 5. Memory: a fresh runner, idle, then after exactly ACCEPTED_FOR_MEMORY accepted runs, and
# again once every one of them has finished and the retention sweep (every 10 s) has run:
# bounded by the retention defaults, whatever the history. Once per store.
queued_left() {
  local url=$1 status=$2
  curl -s -H "Authorization: Bearer $TOKEN" \
    "$url/api/v1/agents/ingest/runs?status=$status&limit=1" | tr -d '[:space:]'
}
memory_phase() {
  local label=$1; shift
  echo "memory ($label): $ACCEPTED_FOR_MEMORY accepted runs…" >&2
  local url pid
  url=$(start_server "$WORK/$label.out" env RUST_LOG=warn "$BIN/local-runner" \
    --config "$WORK/config.toml" --listen 127.0.0.1:0 --work-dir "$WORK/work_$label" "$@")
  pid=$(cat "$WORK/$label.out.pid")
  sleep 1
  rss_kib "$pid" >"$WORK/$label.rss_idle"
  loadgen http --label "$label" --url "$url$PATH_TRIGGER" --connections "$CONNECTIONS" \
    --requests "$ACCEPTED_FOR_MEMORY" >"$WORK/$label.json"
  rss_kib "$pid" >"$WORK/$label.rss_accepted"
  # Bounded: every run of `true` finishes within minutes on two cores.
  for _ in $(seq 1 1800); do
    if [ "$(queued_left "$url" QUEUED)" = "[]" ] && [ "$(queued_left "$url" RUNNING)" = "[]" ]; then
      break
    fi
    sleep 1
  done
  sleep 12
  rss_kib "$pid" >"$WORK/$label.rss_finished"
  kill "$pid"
}
memory_phase memory
memory_phase memory_sqlite --data "$WORK/memory.db"
RSS_IDLE=$(cat "$WORK/memory.rss_idle")
RSS_LOADED=$(cat "$WORK/memory.rss_accepted")
DONE=$(sed 's/.*"requests":\([0-9]*\).*/\1/' "$WORK/memory.json")

# 4 on a fresh runner, so no backlog of ingest runs sits in front of it.
echo "log throughput…" >&2
RUNNER=$(start_server "$WORK/runner2.out" env RUST_LOG=warn "$BIN/local-runner" \
  --config "$WORK/config.toml" --listen 127.0.0.1:0 --work-dir "$WORK/work2")
loadgen logs --base "$RUNNER" --crew bench --agent chatty --token "$TOKEN" \
  --lines "$LOG_LINES" >"$WORK/logs.json"
loadgen ws --base "$RUNNER" --crew bench --agent chatty --token "$TOKEN" --workspace ws \
  --lines "$LOG_LINES" >"$WORK/ws.json"
kill "$(cat "$WORK/runner2.out.pid")"
fi

# 3. Agent start, once per runtime, each on a fresh runner with nothing else to do.
for rt in $RUNTIMES; do
  echo "agent start: $rt runtime…" >&2
  RUNNER=$(start_server "$WORK/start_$rt.out" env RUST_LOG=warn "$BIN/local-runner" \
    --config "$WORK/config.toml" --listen 127.0.0.1:0 --work-dir "$WORK/work_start_$rt" \
    --runtime "$rt")
  mkdir -p "$WORK/work_start_$rt/ws/bench"
  loadgen start --url "$RUNNER/api/v1/webhooks/bench/start/trigger" --runs "$START_RUNS" \
    --dir "$WORK/work_start_$rt/ws/bench" >"$WORK/start_$rt.json"
  kill "$(cat "$WORK/start_$rt.out.pid")"
done

# 6. WebSocket memory: idle connections before and after authentication, and what 30,000
# subscribe/unsubscribe cycles on one connection leave behind. Both ends need descriptors.
if [ -z "${BENCH_ONLY_START:-}" ]; then
echo "websocket memory: $WS_CONNECTIONS connections…" >&2
ulimit -n "$(ulimit -Hn)"
RUNNER=$(start_server "$WORK/runner_ws.out" env RUST_LOG=warn "$BIN/local-runner" \
  --config "$WORK/config.toml" --listen 127.0.0.1:0 --work-dir "$WORK/work_ws")
loadgen ws-memory --base "$RUNNER" --pid "$(cat "$WORK/runner_ws.out.pid")" --token "$TOKEN" \
  --workspace ws --connections "$WS_CONNECTIONS" >"$WORK/ws_memory.json"
kill "$(cat "$WORK/runner_ws.out.pid")"
fi

# 2. Micro-benchmarks.
if [ -z "${BENCH_SKIP_CRITERION:-}" ] && [ -z "${BENCH_ONLY_START:-}" ]; then
  echo "criterion micro-benchmarks…" >&2
  cargo bench --quiet -p crewship-core --bench hot_path -- --warm-up-time 1 \
    --measurement-time 3 --output-format bencher 2>/dev/null | grep '^test ' >"$WORK/criterion.txt" || true
else
  : >"$WORK/criterion.txt"
fi

python3 - "$WORK" "${RSS_IDLE:-0}" "${RSS_LOADED:-0}" "${DONE:-0}" "$CONNECTIONS" "$SECONDS_PER_PHASE" "$RUNTIMES" "${BENCH_ONLY_START:-}" <<'PY'
import json, re, sys
work, rss_idle, rss_loaded, accepted, conns, secs, runtimes, only_start = sys.argv[1:]
load = lambda name: json.load(open(f"{work}/{name}.json"))
ms = lambda us: f"{us / 1000:.2f} ms"
print(f"| measurement | local runner | bare hyper (same run) | ratio |")
print(f"|---|---|---|---|")
def start_rows():
    for rt in runtimes.split():
        start = load(f"start_{rt}")
        print(f"| trigger → agent's first action, `{rt}` runtime, {start['runs']} runs: p50 / p99 | {ms(start['p50_us'])} / {ms(start['p99_us'])} | | |")
if only_start:
    start_rows()
    sys.exit(0)
bare, runner, bare_h, runner_h = load("bare"), load("runner"), load("bare_half"), load("runner_half")
only, only_h = load("trigger_only"), load("trigger_only_half")
logs, ws, wsm = load("logs"), load("ws"), load("ws_memory")
sq, sq_h = load("sqlite_runner"), load("sqlite_runner_half")
sq_only, sq_only_h = load("sqlite_trigger_only"), load("sqlite_trigger_only_half")
rss = lambda label, when: int(open(f"{work}/{label}.rss_{when}").read()) / 1024
def ingest_rows(what, r, r_h):
    print(f"| ingest, {what}: requests/s | {r['rps']:,.0f} | {bare['rps']:,.0f} | **{r['rps'] / bare['rps']:.0%}** |")
    print(f"| ingest, {what}: latency p50 / p99 | {ms(r['p50_us'])} / {ms(r['p99_us'])} | {ms(bare['p50_us'])} / {ms(bare['p99_us'])} | {r['p99_us'] / max(bare['p99_us'], 1):.1f}× (p99) |")
    print(f"| ingest, {what}, at half the baseline load ({bare_h['rps']:,.0f} req/s offered): achieved req/s | {r_h['rps']:,.0f} | {bare_h['rps']:,.0f} | {r_h['rps'] / bare_h['rps']:.0%} |")
    print(f"| ingest, {what}, at half the baseline load: latency p50 / p99 | {ms(r_h['p50_us'])} / {ms(r_h['p99_us'])} | {ms(bare_h['p50_us'])} / {ms(bare_h['p99_us'])} | {r_h['p99_us'] / max(bare_h['p99_us'], 1):.1f}× (p99) |")
print(f"| ingest: {conns} connections, 1 KiB signed JSON, {secs} s per phase | | | |")
ingest_rows("trigger path only", only, only_h)
ingest_rows("agents running alongside", runner, runner_h)
ingest_rows("SQLite store, trigger path only", sq_only, sq_only_h)
ingest_rows("SQLite store, agents running alongside", sq, sq_h)
non2xx = sum(r['status_4xx'] + r['status_5xx'] for r in (runner, runner_h, only, only_h, sq, sq_h, sq_only, sq_only_h))
print(f"| non-2xx answers (all ingest phases) | {non2xx} | {bare['status_4xx'] + bare['status_5xx']} | |")
start_rows()
print(f"| log throughput, {logs['lines_printed']:,} lines to the log store | {logs['lines_per_second']:,.0f} lines/s ({logs['agent_lines_stored']:,} stored, none lost) | | |")
print(f"| log throughput, {ws['lines_printed']:,} lines to a `/ws` subscriber | {ws['lines_per_second']:,.0f} lines/s ({ws['agent_lines_received']:,} received in order, none lost; {ws['reconnects']} slow-consumer resumes) | | |")
print(f"| `/ws` memory per idle connection, {wsm['connections']:,} connections: before auth / authenticated and subscribed | {wsm['per_unauthenticated_kib']:.1f} KiB / {wsm['per_subscribed_kib']:.1f} KiB | | |")
print(f"| `/ws` memory kept by {wsm['cycles']:,} subscribe/unsubscribe cycles on one connection | {wsm['kept_by_cycles_kib']} KiB | | |")
print(f"| resident memory (VmRSS) idle | {int(rss_idle) / 1024:.1f} MiB | | |")
print(f"| resident memory after {int(accepted):,} accepted runs (memory store) | {int(rss_loaded) / 1024:.1f} MiB | | |")
print(f"| resident memory after {int(accepted):,} accepted and finished runs, after a retention sweep (memory store) | {rss('memory', 'finished'):.1f} MiB | | |")
print(f"| resident memory after {int(accepted):,} accepted runs (SQLite store) | {rss('memory_sqlite', 'accepted'):.1f} MiB | | |")
print(f"| resident memory after {int(accepted):,} accepted and finished runs, after a retention sweep (SQLite store) | {rss('memory_sqlite', 'finished'):.1f} MiB | | |")
rows = []
for line in open(f"{work}/criterion.txt"):
    m = re.match(r"test (\S+) \.\.\. bench:\s+([\d,]+) ns/iter", line)
    if m:
        rows.append((m.group(1), int(m.group(2).replace(",", ""))))
if rows:
    print()
    print("| micro-benchmark (criterion) | time per iteration |")
    print("|---|---|")
    for name, ns in rows:
        print(f"| `{name}` | {ns / 1000:,.2f} µs |" if ns >= 1000 else f"| `{name}` | {ns} ns |")
PY
