#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the normal build,
# the ASan+UBSan build of the whole suite, and the TSan build of the
# concurrency tests. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/deps.sh
fabtel_install "${FABTEL_PKGS[@]}" "${FABTEL_TEST_PKGS[@]}"
jobs=$(nproc)
# Each stage says how long it took (CI must stay well under 40 minutes).
stage_start=$SECONDS
stage() {
    [ -n "${stage_name:-}" ] && echo "-- ${stage_name}: $((SECONDS - stage_start)) s"
    stage_name=$1
    stage_start=$SECONDS
    echo "== $1"
}

stage "build + ctest (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j1)

# Tests labelled `external` start third-party servers (Prometheus, VictoriaMetrics, a browser, two flowd front ends on
# PostgreSQL): plain pass only. The flows suite on a private PostgreSQL (label `postgres`) runs under the sanitizers too.
# Kill loops are shorter under the sanitizers, whose start-up is slower.
stage "build + ctest under ASan+UBSan (without the external label)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFABTEL_SANITIZE=address >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && FABTEL_KILLS=80 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j1 -LE external)

stage "build + concurrency tests under TSan"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DFABTEL_SANITIZE=thread >/dev/null
cmake --build build-tsan -j"$jobs" --target stress_seqlock test_flow stress_history test_ingest_model
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -R '^(stress_seqlock_threads|test_flow|test_flow_pg|stress_history_threads|test_ingest_model)$')
stage "libFuzzer targets (clang), a short bounded run each"
CC=clang cmake -S . -B build-fuzz -DFABTEL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs"
(cd build-fuzz && ctest --output-on-failure -j1)
stage "package: build the .deb, install it, run the installed binaries"
if [ "$(id -u)" -eq 0 ]; then
    bash tools/package-test.sh
else
    echo "(skipped: installing a package needs root)"
fi
stage "all tests passed"
