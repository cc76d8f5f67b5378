#!/usr/bin/env bash
# Builds the .deb, installs it with dpkg -i, starts the binaries from
# their installed paths on free loopback ports, queries them, and stops them.
# Needs root (it installs a package); tools/test.sh runs it when it can.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build-pkg -j"$(nproc)" >/dev/null
(cd build-pkg && cpack -G DEB >/dev/null)
deb=$(ls build-pkg/fabtel_*.deb)
echo "package: $deb"
dpkg-deb --info "$deb" | grep -E "Depends|Version"
dpkg -i "$deb" >/dev/null
for f in /usr/bin/fabtel-producer /usr/bin/fabtel-ingestd /usr/bin/fabtel-apid /usr/bin/fabtel-flowd /usr/bin/fabtel-orchd /usr/bin/shmdump \
         /usr/lib/systemd/system/fabtel-flowd.service /usr/share/man/man1/fabtel-flowd.1 \
         /usr/lib/systemd/system/fabtel-orchd.service /usr/share/man/man1/fabtel-orchd.1 \
         /usr/share/fabtel/web/index.html /usr/share/fabtel/web/vendor/uplot/LICENSE \
         /usr/share/doc/fabtel/deploy/README.md /usr/share/doc/fabtel/deploy/prometheus/prometheus.yml \
         /usr/lib/systemd/system/fabtel-apid.service /usr/share/man/man1/fabtel-apid.1; do
    [ -e "$f" ] || { echo "package-test: $f not installed" >&2; exit 1; }
done
getent passwd fabtel >/dev/null || { echo "package-test: the fabtel user was not created" >&2; exit 1; }
grep -q "ExecStart=/usr/bin/fabtel-apid" /usr/lib/systemd/system/fabtel-apid.service
tmp=$(mktemp -d)
shm=/fabtel-pkgtest-$$
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"; rm -f /dev/shm${shm} /dev/shm${shm}.lock /dev/shm${shm}-api; }
trap cleanup EXIT
port_of() { for _ in $(seq 100); do p=$(grep -o 'listen=127.0.0.1:[0-9]*' "$1" | head -1 | cut -d: -f2); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.05; done; }
/usr/bin/fabtel-producer --listen 127.0.0.1:0 --switches 5 --interval 0.5 2>"$tmp/p.log" & pids+=($!)
pp=$(port_of "$tmp/p.log")
/usr/bin/fabtel-ingestd --source "http://127.0.0.1:$pp/counters" --shm-name "$shm" 2>"$tmp/i.log" & pids+=($!)
/usr/bin/fabtel-apid --listen 127.0.0.1:0 --workers 1 --shm-name "$shm" 2>"$tmp/a.log" & pids+=($!)
ap=$(port_of "$tmp/a.log")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ap/health" >/dev/null && break; sleep 0.05; done
answer=$(curl -sf "http://127.0.0.1:$ap/telemetry/GetMetric?switch_id=sw-03&metric=latency")
echo "installed apid answered: $answer"
curl -sf "http://127.0.0.1:$ap/ui/" | grep -q '<title>fabtel</title>'
curl -sfI "http://127.0.0.1:$ap/ui/app.js" | grep -qi '^content-security-policy:'
echo "installed apid serves the dashboard from /usr/share/fabtel/web"
echo "$answer" | grep -q '"switch_id":"sw-03","metric":"latency","value":'
/usr/bin/shmdump --shm-name "$shm" --header | head -3
/usr/bin/fabtel-flowd --listen 127.0.0.1:0 --state-dir "$tmp/state" 2>"$tmp/f.log" & pids+=($!)
fp=$(port_of "$tmp/f.log")
curl -sf -H 'Content-Type: application/json' -d '[{"src_app":"a","dest_app":"b","vpc_id":"c","hour":1,"bytes_rx":2,"bytes_tx":3}]' \
    "http://127.0.0.1:$fp/flows" | grep -q '"accepted":1'
echo "installed flowd answered: $(curl -sf "http://127.0.0.1:$fp/flows?hour=1")"
/usr/bin/fabtel-orchd --listen 127.0.0.1:0 --state-dir "$tmp/state" --shm-name "$shm" --producer "http://127.0.0.1:$pp" \
    --time-scale 0.05 2>"$tmp/o.log" & pids+=($!)
op=$(port_of "$tmp/o.log")
curl -sf -H 'Content-Type: application/json' -d '{"name":"pkg","target_node_count":3}' "http://127.0.0.1:$op/deployments" | grep -q '"id":1'
for _ in $(seq 200); do [ "$(curl -sf "http://127.0.0.1:$op/deployments/1/nodes" | grep -o '"state":"RUNNING"' | wc -l)" = 3 ] && break; sleep 0.05; done
echo "installed orchd answered: $(curl -sf "http://127.0.0.1:$op/deployments/1/nodes" | head -c 200)"
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$pp/switches" | grep -q '"name":"switch-1-003"' && break; sleep 0.05; done
curl -sf "http://127.0.0.1:$pp/switches" | grep -q '"name":"switch-1-003"'
echo "package-test: ok"
