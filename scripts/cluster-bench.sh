#!/usr/bin/env bash
# Cluster benchmark: events/s of N engines sharing one PostgreSQL journal and one Mosquitto
# (a private one with unlimited queues), and the slot takeover time after a kill -9.
#
#   scripts/cluster-bench.sh <instances> [events] [rate]
#
# IOC_BIN names the binary (default target/release/ioc); IOC_BENCH_PG the server
# (default postgres://postgres@127.0.0.1:5432). Prints one line per measurement.
set -euo pipefail
N=${1:-1}
EVENTS=${2:-40000}
RATE=${3:-20000}
BIN=${IOC_BIN:-target/release/ioc}
PG=${IOC_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
WORK=$(mktemp -d /tmp/ioc-cluster-bench.XXXXXX)
DB=ioc_bench_$$
MQTT_PORT=$((20000 + RANDOM % 20000))
ROOT=bench$$
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  psql "$PG/test" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
EOF
mosquitto -c "$WORK/mosquitto.conf" >/dev/null 2>&1 &
pids+=($!)
psql "$PG/test" -qc "CREATE DATABASE $DB" >/dev/null

metric() { curl -s "127.0.0.1:$1/metrics" | awk -v m="$2" '$1==m {print $2}'; }

for i in $(seq 1 "$N"); do
  port=$((18080 + i))
  "$BIN" serve --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --listen "127.0.0.1:$port" \
    --data-dir "$WORK/i$i" --topic-root "$ROOT" --database-url "$PG/$DB" \
    --mqtt-share-group bench --instance "i$i" --slots 12 2>"$WORK/i$i.log" &
  pids+=($!)
done
# Wait until every slot is held and every instance is ready.
for _ in $(seq 1 300); do
  held=0; ready=1
  for i in $(seq 1 "$N"); do
    port=$((18080 + i))
    held=$((held + $(metric "$port" ioc_cluster_slots_owned || echo 0)))
    curl -sf "127.0.0.1:$port/readyz" >/dev/null || ready=0
  done
  [ "$held" = 12 ] && [ "$ready" = 1 ] && break
  sleep 0.2
done

start=$(date +%s.%N)
"$BIN" sim --mqtt "mqtt://127.0.0.1:$MQTT_PORT" --topic-root "$ROOT" --rate "$RATE" \
  --duration 600s --max-events "$EVENTS" --quiet --seed 1 >/dev/null
for _ in $(seq 1 3000); do
  done_all=1
  for i in $(seq 1 "$N"); do
    total=$(metric $((18080 + i)) ioc_events_total || echo 0)
    [ "${total%.*}" -ge "$EVENTS" ] 2>/dev/null || done_all=0
  done
  [ "$done_all" = 1 ] && break
  sleep 0.1
done
end=$(date +%s.%N)
echo "instances=$N events=$EVENTS offered=$RATE/s applied_everywhere_in=$(echo "$end - $start" | bc)s rate=$(echo "$EVENTS / ($end - $start)" | bc)/s"

if [ "$N" -ge 2 ]; then
  # Takeover: kill -9 the first instance; time until the others hold all 12 slots.
  kill -9 "${pids[1]}"
  t0=$(date +%s.%N)
  for _ in $(seq 1 300); do
    held=0
    for i in $(seq 2 "$N"); do
      held=$((held + $(metric $((18080 + i)) ioc_cluster_slots_owned || echo 0)))
    done
    [ "$held" = 12 ] && break
    sleep 0.05
  done
  echo "takeover_of_all_slots_after_kill9=$(echo "$(date +%s.%N) - $t0" | bc)s"
fi
