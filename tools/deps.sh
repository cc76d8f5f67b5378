#!/usr/bin/env bash
# Installs the Debian 12 packages fabtel needs to build, run and test, when
# any is missing. Sourced by tools/run.sh and tools/test.sh; safe to re-run.
set -euo pipefail

FABTEL_PKGS=(build-essential cmake pkg-config libh2o-evloop-dev libcsv-dev libjansson-dev libsystemd-dev libssl-dev zlib1g-dev libsqlite3-dev libpq-dev python3 curl)
FABTEL_TEST_PKGS=(clang libclang-rt-14-dev systemd wrk prometheus victoria-metrics postgresql chromium chromium-driver python3-selenium)
# tools/bench/bench.py also wants: wrk h2o python3-fastapi python3-uvicorn python3-sqlalchemy (it says which is missing)

fabtel_install() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "fabtel: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    echo "fabtel: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
