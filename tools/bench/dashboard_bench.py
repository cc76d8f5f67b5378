"""The dashboard's fabric view in Debian's headless Chromium at 50, 1,000 and 10,000 switches, a new generation every
second: time to first render (from navigation start to the first generation drawn), frame time per generation
(response received to drawn, JSON parse included; median and p90 over the run), and the page weight (bytes on
the wire for the first load: HTML, CSS, JavaScript and the first ListMetrics). Measured in the browser by the
page's own counters (window.fabtel.perf) and the browser's network log. Needs Debian's /usr/bin/python3 with
python3-selenium, chromium and chromium-driver.

    /usr/bin/python3 tools/bench/dashboard_bench.py BUILD_DIR [--seconds 15]
Prints one line per size: "switches N first_render_ms F frame_median_ms M frame_p90_ms P page_bytes B generations G"."""
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import browser  # noqa: E402
from fabtel_test import Env, http_json, unlink_segment  # noqa: E402


def run(env, n, seconds):
    shm = "%s-%d" % (env.shm, n)
    prod = env.producer("--switches", str(n), "--interval", "1", "--seed", "4")
    ing = env.ingestd(prod.url, "--max-switches", str(n + 16), shm=shm)
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm,
                     "--web-root", os.path.join(ROOT, "web"))
    port = apid.port()
    env.wait_for(lambda: http_json(port, "GET", "/health")[0] == 200, timeout=60)
    b = browser.Browser()
    try:
        b.d.get("http://127.0.0.1:%d/ui/#/fabric" % port)
        b.wait("window.fabtel && window.fabtel.perf && window.fabtel.perf.firstRenderMs !== null", timeout=60)
        weight = b.drain_logs()
        time.sleep(seconds)
        perf = b.js("return window.fabtel.perf")
    finally:
        b.close()
        for p in (apid, ing, prod):
            p.stop()
            env.procs.remove(p)
        unlink_segment(shm)
    frames = perf["frames"][1:] or perf["frames"]  # the first includes the page's own start
    frames.sort()
    p90 = frames[min(len(frames) - 1, int(len(frames) * 0.9))]
    print("switches %d first_render_ms %.1f frame_median_ms %.1f frame_p90_ms %.1f page_bytes %d generations %d" % (
        n, perf["firstRenderMs"], statistics.median(frames), p90, weight, perf["generations"]), flush=True)


def main():
    missing = browser.available()
    if missing:
        sys.exit("dashboard_bench: " + missing)
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 15.0
    env = Env(os.path.abspath(sys.argv[1]))
    try:
        for n in (50, 1000, 10000):
            run(env, n, seconds)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
