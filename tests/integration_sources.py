"""ingestd against a source nobody here wrote: a plain HTTP server that sends
an ETag and answers If-None-Match with an immediate 304, as nginx, a static
file server or a CDN does. ingestd must fall back to polling every --interval
(about one request per interval, not thousands a second), keep the data
confirmed by each 304, and go back to long polling when the source starts
holding requests. Usage: integration_sources.py BUILD_DIR"""
import http.server
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, report, unlink_segment  # noqa: E402

BODY = b"switch_id,temperature\nsw-1,40\nsw-2,41\n"
ETAG = '"v1"'


class Source(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests = 0
    hold = False  # True: hold a conditional request for its ?wait=S, as a long-polling source does

    def do_GET(self):
        Source.requests += 1
        if self.headers.get("If-None-Match") == ETAG:
            m = re.search(r"[?&]wait=([0-9.]+)", self.path)
            if Source.hold and m:
                time.sleep(float(m.group(1)))
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", ETAG)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *a):
        pass


def rate(seconds):
    """Requests the source saw over a measuring window."""
    n0, t0 = Source.requests, time.time()
    time.sleep(seconds)
    return Source.requests - n0, time.time() - t0


def data_age_s(env, shm):
    rc, out, _ = env.shmdump("--header", shm=shm)
    m = re.search(r"^data age\s+([0-9.]+) s", out, re.M)
    return float(m.group(1)) if m else None


def main():
    env = Env(sys.argv[1])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Source)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    shm = env.shm + "-src"
    interval = 0.2
    try:
        ing = env.ingestd("http://127.0.0.1:%d/counters.csv" % srv.server_port, "--interval", str(interval), "--wait", "2", shm=shm)
        check(env.wait_for(lambda: env.header(shm=shm)["generation"] == 1, timeout=30), "the body is published:\n" + ing.text())
        check(ing.wait_log(r"event=source_not_long_polling", timeout=30) is not None,
              "an immediate 304 is noticed and logged:\n" + ing.text())
        n, took = rate(3.0)
        print("immediate 304s: %d requests in %.1f s at --interval %.1f" % (n, took, interval))
        check(1 <= n <= took / interval + 3, "about one request per interval: %d requests in %.1f s" % (n, took))
        ages = [data_age_s(env, shm) for _ in range(5)]
        check(all(a is not None and a < interval + 1.0 for a in ages), "each 304 confirms the data (data age %s s)" % ages)
        check(env.header(shm=shm)["generation"] == 1, "an unchanged source publishes nothing new")

        Source.hold = True
        check(ing.wait_log(r"event=source_long_polls", timeout=30) is not None,
              "a source that starts holding requests turns long polling back on:\n" + ing.text())
        n, took = rate(4.0)
        print("held 304s: %d requests in %.1f s with --wait 2" % (n, took))
        check(n <= took / 2 + 2, "long polls are held by the source: %d requests in %.1f s" % (n, took))
        check(len(re.findall("event=source_not_long_polling", ing.text())) == 1, "one log line per switch of mode")
        ing.stop()
    finally:
        srv.shutdown()
        env.cleanup()
        unlink_segment(shm)
    return report("integration_sources")


if __name__ == "__main__":
    sys.exit(main())
