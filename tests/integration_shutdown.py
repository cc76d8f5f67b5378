"""apid stops cleanly: SIGTERM with keep-alive connections open, after a large
request was read, and while a long answer is being sent to a slow reader. The
master and every worker must exit 0 (no abort, no core), the answer in flight
must arrive whole, and a reader that never finishes is cut off after
--shutdown-grace with a log line, still exit 0.
Usage: integration_shutdown.py BUILD_DIR"""
import http.client
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, http_get, report, unlink_segment  # noqa: E402


def worker_exits(text):
    return re.findall(r"event=worker_exited index=\d+ pid=\d+ (exit|signal)=(\d+)", text)


def check_clean_stop(apid, workers, what):
    rc = apid.stop(timeout=60)
    text = apid.text()
    exits = worker_exits(text)
    check(rc == 0, "%s: master exit status 0, got %s:\n%s" % (what, rc, text[-2000:]))
    check(exits == [("exit", "0")] * workers, "%s: every worker exits 0, got %s:\n%s" % (what, exits, text[-2000:]))
    check("Assertion" not in text and "worker_killed" not in text, "%s: no abort and no kill:\n%s" % (what, text[-2000:]))


def keepalive_connections(port, n):
    conns = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/health")
        c.getresponse().read()
        conns.append(c)
    return conns


def test_idle_and_large_request(env):
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm + "-none")
    port = apid.port()
    conns = keepalive_connections(port, 6)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60000 + b"\r\n\r\n")
    head = s.recv(100)
    check(head.startswith(b"HTTP/1.1 503"), "the large request is answered (no data yet): %r" % head)
    check_clean_stop(apid, 2, "keep-alive connections and a large request")
    # The idle connections were closed by the server, not left hanging.
    closed = 0
    for c in conns:
        try:
            c.request("GET", "/health")
            c.getresponse().read()
        except (OSError, http.client.HTTPException):
            closed += 1
    check(closed == len(conns), "idle keep-alive connections are closed on stop (%d of %d)" % (closed, len(conns)))
    s.close()


def test_no_client(env):
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm + "-none")
    apid.port()
    check_clean_stop(apid, 2, "no client ever connected")


class SlowReader(threading.Thread):
    """Asks for the whole ListMetrics with a tiny receive window and reads it slowly."""

    def __init__(self, port, stop_reading_after=None):
        super().__init__(daemon=True)
        self.port = port
        self.stop_after = stop_reading_after
        self.started = threading.Event()
        self.hurry = threading.Event()  # read slowly until told to hurry (after the stop was sent)
        self.body = b""
        self.length = -1
        self.error = None

    def run(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"GET /telemetry/ListMetrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            head, _, rest = data.partition(b"\r\n\r\n")
            m = re.search(rb"content-length: (\d+)", head, re.I)
            self.length = int(m.group(1)) if m else -1
            self.body = rest
            self.started.set()
            while len(self.body) < self.length:
                if self.stop_after is not None and len(self.body) >= self.stop_after:
                    time.sleep(60)  # a reader that stopped reading: the worker must give up on it
                    break
                if not self.hurry.is_set():
                    time.sleep(0.002)
                chunk = s.recv(65536)
                if not chunk:
                    break
                self.body += chunk
        except OSError as e:
            self.error = e
        finally:
            self.started.set()
            s.close()


def test_answer_in_flight(env):
    prod = env.producer("--switches", "60000", "--interval", "3600")
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm, "--shutdown-grace", "30")
    port = apid.port()
    ing = env.ingestd(prod.url, "--max-switches", "100000")
    base = "http://127.0.0.1:%d" % port
    check(env.wait_for(lambda: http_get(base + "/health")[0] == 200, timeout=60), "data published:\n" + ing.text())
    idle = keepalive_connections(port, 3)
    r = SlowReader(port)
    r.start()
    check(r.started.wait(30), "the slow reader got its headers")
    check(r.length > 500000 and len(r.body) < r.length // 2, "the answer is still in flight (%d of %d bytes read)" % (
        len(r.body), r.length))
    os.kill(apid.pid, 15)
    check(apid.wait_log("event=stopping", timeout=30) is not None, "the master got the stop")
    r.hurry.set()
    r.join(60)
    check(len(r.body) == r.length and r.error is None, "the answer in flight arrives whole: %d of %d bytes (%s)" % (
        len(r.body), r.length, r.error))
    check(r.body.endswith(b"}"), "and ends as JSON does: %r" % r.body[-20:])
    check_clean_stop(apid, 1, "an answer in flight")
    del idle
    ing.stop()
    prod.stop()
    return prod


def test_grace_expires(env):
    prod = env.producer("--switches", "60000", "--interval", "3600")
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm, "--shutdown-grace", "0.5")
    port = apid.port()
    ing = env.ingestd(prod.url, "--max-switches", "100000")
    check(env.wait_for(lambda: http_get("http://127.0.0.1:%d/health" % port)[0] == 200, timeout=60), "data published")
    r = SlowReader(port, stop_reading_after=8192)
    r.start()
    check(r.started.wait(30), "the stuck reader got its headers")
    t0 = time.time()
    os.kill(apid.pid, 15)
    check(apid.wait_log(r"event=shutdown_forced connections=1", timeout=30) is not None,
          "a reader that never finishes is cut off after the grace period:\n" + apid.text()[-2000:])
    check_clean_stop(apid, 1, "grace period over")
    took = time.time() - t0
    check(took < 20, "the stop does not wait for the stuck reader (%.1f s)" % took)
    ing.stop()
    prod.stop()


def test_producer_stop(env):
    """The producer shares the server plumbing: a held long poll and a keep-alive connection, then SIGTERM: exit 0."""
    prod = env.producer("--switches", "5", "--interval", "3600")
    port = int(prod.url.split(":")[2].split("/")[0])
    st, h, _ = http_get(prod.url)
    etag = {k.lower(): v for k, v in h.items()}["etag"]
    conns = keepalive_connections(port, 3)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    # A first conditional request answered at once proves the connection is accepted; the second is held
    # (nothing changes for an hour): the stop must answer it, not wait for it.
    s.sendall(("GET /counters HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n" % etag).encode())
    first = b""
    while b"\r\n\r\n" not in first:
        first += s.recv(1000)
    check(first.startswith(b"HTTP/1.1 304"), "a conditional request is answered 304: %r" % first)
    s.sendall(("GET /counters?wait=60 HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n" % etag).encode())
    t0 = time.time()
    rc = prod.stop(timeout=60)
    head = s.recv(100)
    check(rc == 0 and time.time() - t0 < 10, "the producer stops with exit 0 at once (rc %s):\n%s" % (rc, prod.text()[-1500:]))
    check(head.startswith(b"HTTP/1.1 304"), "its held long poll is answered 304 on the way out: %r" % head)
    del conns
    s.close()


def main():
    env = Env(sys.argv[1])
    try:
        test_producer_stop(env)
        test_no_client(env)
        test_idle_and_large_request(env)
        test_answer_in_flight(env)
        test_grace_expires(env)
    finally:
        env.cleanup()
        unlink_segment(env.shm + "-none")
    return report("integration_shutdown")


if __name__ == "__main__":
    sys.exit(main())
