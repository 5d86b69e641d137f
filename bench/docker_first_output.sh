#!/usr/bin/env bash
# The docker runtime's row of the performance table (docs/performance.md): trigger → the agent's
# first action inside its crew's container, one webhook at a time, on the machine's Docker
# Engine. The image is Debian's busybox-static imported offline (no registry); the first run
# creates the container (reported as "cold"), the others exec in it. Folded into bench/run.sh by
# whoever merges the runtimes' rows.
#
#   bench/docker_first_output.sh                  # release build, 200 runs
#   BENCH_PROFILE=debug BENCH_START_RUNS=50 …     # the dev build, fewer runs
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_START_RUNS:-200}
PROFILE=${BENCH_PROFILE:-release}
SECRET="bench-secret-0123456789abcdef0123456789abcdef"
IMAGE=crewship-bench/busybox:1
PREFIX="crewbench$$"

echo "building ($PROFILE)…" >&2
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet -p local-runner -p e2e-tests --bins
else
  cargo build --quiet -p local-runner -p e2e-tests --bins
fi
BIN=target/$PROFILE
WORK=$(mktemp -d)
cleanup() {
  [ -e "$WORK/runner.pid" ] && kill "$(cat "$WORK/runner.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  docker ps -aq --filter "label=crewship.instance=$PREFIX" | xargs -r docker rm -f >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "importing $IMAGE from /bin/busybox…" >&2
  mkdir -p "$WORK/root/bin" "$WORK/root/tmp" "$WORK/root/work"
  chmod 1777 "$WORK/root/tmp"
  cp /bin/busybox "$WORK/root/bin/"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$WORK/root/bin/$applet"
  done
  tar -C "$WORK/root" -c . | docker import -c 'ENV PATH=/bin' - "$IMAGE" >/dev/null
fi

cat >"$WORK/config.toml" <<TOML
[executor]
runtime = "docker"
docker_image = "$IMAGE"
docker_name_prefix = "$PREFIX"
max_concurrent_runs = 2

[[agents]]
id = "start"
crew_id = "bench"
workspace_id = "ws"
max_concurrent_runs = 2
command = ["sh", "-c", "m=\${CREWSHIP_MESSAGE#*mark-}; : > /work/start-\${m%%-end*}"]
webhook_secret = "$SECRET"
rate_limit_per_min = 10000000
TOML

env RUST_LOG=warn "$BIN/local-runner" --config "$WORK/config.toml" --listen 127.0.0.1:0 \
  --work-dir "$WORK/work" >"$WORK/runner.out" 2>"$WORK/runner.err" &
echo $! >"$WORK/runner.pid"
URL=
for _ in $(seq 1 200); do
  URL=$(sed -n 's/^.* listening on \(http[^ ]*\).*/\1/p' "$WORK/runner.out" | head -n1)
  [ -n "$URL" ] && break
  sleep 0.05
done
[ -n "$URL" ] || { echo "runner did not start: $(cat "$WORK/runner.err")" >&2; exit 1; }

# The crew directory appears with the first run; loadgen waits for each run's file in it.
mkdir -p "$WORK/work/ws/bench"
"$BIN/loadgen" start --url "$URL/api/v1/webhooks/bench/start/trigger" --runs "$RUNS" \
  --dir "$WORK/work/ws/bench" --stamp mtime >"$WORK/start.json"

python3 - "$WORK/start.json" "$PROFILE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
ms = lambda us: f"{us / 1000:.1f} ms"
print(f"| trigger → agent's first action, docker runtime ({sys.argv[2]} build), {r['runs']} runs: p50 / p99 (cold: the max) | {ms(r['p50_us'])} / {ms(r['p99_us'])} ({ms(r['max_us'])}) | | |")
PY
