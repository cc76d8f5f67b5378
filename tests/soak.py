"""Bounded soak: several hundred connections of mixed queries against apid
while the producer publishes every 50 ms. No errors, flat worker memory, and
(in the ASan build) no leak report when everything stops.
Usage: soak.py BUILD_DIR. FABTEL_SOAK_SECONDS sets the length (default 10; the long run is 60)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, children, http_get, report  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    seconds = int(os.environ.get("FABTEL_SOAK_SECONDS", "10"))
    env = Env(sys.argv[1])
    try:
        prod = env.producer("--switches", "50", "--interval", "0.05")
        apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm)
        base = "http://127.0.0.1:%d" % apid.port()
        ing = env.ingestd(prod.url)
        check(env.wait_for(lambda: http_get(base + "/health")[0] == 200), "data")
        # Warm up (first generation caches, allocator pools), then measure.
        subprocess.run(["wrk", "-t2", "-c300", "-d2s", "-s", os.path.join(os.path.dirname(__file__), "soak.lua"), base],
                       capture_output=True, timeout=60)
        workers = children(apid.pid)
        before = {w: rss_kb(w) for w in workers}
        out = subprocess.run(["wrk", "-t2", "-c300", "-d%ds" % seconds, "-s", os.path.join(os.path.dirname(__file__), "soak.lua"),
                              base], capture_output=True, text=True, timeout=seconds + 60).stdout
        after = {w: rss_kb(w) for w in workers if os.path.exists("/proc/%d" % w)}
        m = re.search(r"(\d+) requests in", out)
        total = int(m.group(1)) if m else 0
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        sockerr = re.search(r"Socket errors: (.*)", out)
        print("soak: %d s, 300 connections, %d requests, non-2xx %s, socket errors %s, worker RSS kB before %s after %s" % (
            seconds, total, non2xx.group(1) if non2xx else 0, sockerr.group(1) if sockerr else "none",
            sorted(before.values()), sorted(after.values())))
        check(total > seconds * 1000, "the soak should complete many requests (%d)" % total)
        check(non2xx is None, "no non-2xx answers: %s" % (non2xx and non2xx.group(0)))
        check(sockerr is None, "no socket errors: %s" % (sockerr and sockerr.group(0)))
        check(set(after) == set(before), "no worker died during the soak")
        # Under ASan freed memory sits in its quarantine (hundreds of MB), so RSS says nothing there: leaks are
        # judged by LeakSanitizer at shutdown instead, and flatness in the normal build.
        with open(env.bin("apid/fabtel-apid"), "rb") as f:
            sanitized = b"__asan_init" in f.read()
        for w in before:
            grow = after.get(w, 0) - before[w]
            check(sanitized or grow < max(2048, before[w] // 5), "worker %d RSS flat: %d kB -> %d kB" % (w, before[w], after.get(w, 0)))
        gen = http_get(base + "/health")[2]
        check(b'"status":"ok"' in gen, "healthy after the soak: %s" % gen)
        apid.stop()
        ing.stop()
        prod.stop()
        for p in (apid, ing, prod):
            text = p.text()
            check("LeakSanitizer" not in text and "ERROR: AddressSanitizer" not in text and "runtime error" not in text,
                  "%s: sanitizer report at shutdown:\n%s" % (p.args[0], text[-3000:]))
    finally:
        env.cleanup()
    return report("soak")


if __name__ == "__main__":
    sys.exit(main())
