#!/usr/bin/env bash
# Installs what is missing, builds (release), and runs the whole system on its
# defaults in the foreground: the producer on 127.0.0.1:9001, ingestd into
# the segment /fabtel, flowd on 127.0.0.1:8081 and orchd on 127.0.0.1:8082 (their
# stores in state/), apid on 127.0.0.1:8080. Logs go to logs/. Ctrl-C stops them all cleanly. Extra
# arguments are passed to fabtel-apid.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
fabtel_install "${FABTEL_PKGS[@]}"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)"
mkdir -p logs state
# Stores that outlive the daemons (common/statedir.h) go to state/ in the checkout, as systemd's StateDirectory would.
export STATE_DIRECTORY="$PWD/state"
pids=()
stopping=0
stop() {
    stopping=1
    trap - INT TERM EXIT
    echo "fabtel: stopping" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT
build-release/producer/fabtel-producer --log-file logs/producer.log & pids+=($!)
build-release/ingestd/fabtel-ingestd --log-file logs/ingestd.log & pids+=($!)
build-release/flowd/fabtel-flowd --log-file logs/flowd.log & pids+=($!)
build-release/orchd/fabtel-orchd --log-file logs/orchd.log & pids+=($!)
build-release/apid/fabtel-apid --log-file logs/apid.log --web-root "$PWD/web" "$@" & pids+=($!)
cat >&2 <<MSG
fabtel: running (producer pid ${pids[0]}, ingestd pid ${pids[1]}, flowd pid ${pids[2]}, orchd pid ${pids[3]}, apid pid ${pids[4]}); logs in logs/; Ctrl-C stops all.
  the dashboard: http://127.0.0.1:8080/ui/
  apid (the front door): http://127.0.0.1:8080   orchd: http://127.0.0.1:8082   flowd: http://127.0.0.1:8081
  curl 'http://127.0.0.1:8080/telemetry/GetMetric?switch_id=sw-05&metric=latency'
  curl 'http://127.0.0.1:8080/telemetry/ListMetrics'
  curl 'http://127.0.0.1:8080/health'
  curl 'http://127.0.0.1:8080/telemetry/history?switch_id=sw-05&metric=latency'
  curl 'http://127.0.0.1:8080/telemetry/bottlenecks'
  curl -H 'Content-Type: application/json' -d '[{"src_app":"a","dest_app":"b","vpc_id":"v","hour":1,"bytes_rx":1,"bytes_tx":2}]' http://127.0.0.1:8080/flows
  curl 'http://127.0.0.1:8080/flows?hour=1'
  curl -H 'Content-Type: application/json' -d '{"name":"edge","target_node_count":20}' http://127.0.0.1:8080/deployments
  curl 'http://127.0.0.1:8080/deployments/1/nodes'
  curl 'http://127.0.0.1:8080/deployments/1/bottlenecks'
MSG
# If any of them exits on its own, stop the others and say so.
wait -n "${pids[@]}" || true
[ "$stopping" = 1 ] || echo "fabtel: a process exited on its own; stopping the others (see logs/)" >&2
