"""Hostile HTTP against apid, and a foreign segment under its name: every case
gets a defined status (a JSON error wherever the request reaches a handler)
and the server keeps serving everyone else. Usage: integration_hostile.py BUILD_DIR"""
import json
import os
import resource
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, http_get, report  # noqa: E402

GOOD = "/telemetry/GetMetric?switch_id=sw-01&metric=latency"


def raw(port, data, timeout=5.0, read_all=True):
    """Send raw bytes, return what came back (until close or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if not read_all and b"\r\n\r\n" in out:
                break
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass  # the server refused by closing: what it sent before (if anything) is the answer
    s.close()
    return out


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def body_of(resp):
    return resp.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in resp else b""


def still_serving(base, what):
    st, _, body = http_get(base + GOOD, timeout=5)
    check(st == 200 and json.loads(body)["metric"] == "latency", "after %s: GetMetric should still answer (%d)" % (what, st))


def test_requests(env, base, port):
    # Overlong URI (past --max-uri, and past libh2o's own request limit), overlong header.
    for n in (9000, 70000):
        resp = raw(port, b"GET /telemetry/ListMetrics?x=" + b"a" * n + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        st = status_of(resp)
        check(st in (400, 413, 414, 431) or resp == b"", "URI of %d bytes: got %d" % (n, st))
        if st == 414:
            check(json.loads(body_of(resp))["error"]["status"] == 414, "414 carries a JSON error")
        still_serving(base, "a %d-byte URI" % n)
    # libh2o 2.2.5 takes requests up to its own limit (about 400 KiB with headers) and refuses what is larger.
    resp = raw(port, b"GET " + GOOD.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 + b"\r\nConnection: close\r\n\r\n")
    check(status_of(resp) == 200, "100 KB header, under libh2o's limit: got %r" % resp[:60])
    resp = raw(port, b"GET " + GOOD.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 1000000 + b"\r\nConnection: close\r\n\r\n")
    check(status_of(resp) in (400, 413, 431) or resp == b"", "1 MB header: got %r" % resp[:60])
    still_serving(base, "a 1 MB header")
    # Garbage request line, unknown method, bad percent-encoding, control and non-UTF-8 bytes in names.
    resp = raw(port, b"\x00\x01garbage\r\n\r\n")
    check(status_of(resp) in (0, 400), "garbage: %r" % resp[:60])
    resp = raw(port, b"BREW /telemetry/ListMetrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status_of(resp) == 405 and json.loads(body_of(resp))["error"]["status"] == 405, "BREW: %r" % resp[:80])
    for q, st in (("switch_id=%FF%FE%00x&metric=latency", 404), ("switch_id=sw-01&metric=%0A%0D%1B", 404),
                  ("switch_id=%&metric=latency", 400), ("switch_id=sw-01&metric=", 400), ("&&&", 400),
                  ("switch_id=a&switch_id=a&metric=latency", 400)):
        s, _, body = http_get(base + "/telemetry/GetMetric?" + q)
        doc = json.loads(body)  # must be valid JSON whatever the request held
        check(s == st and doc["error"]["status"] == st, "%s: expected %d, got %d %s" % (q, st, s, doc))
    # Pipelined requests on one connection: answered in order.
    three = "".join("GET /telemetry/GetMetric?switch_id=sw-0%d&metric=latency HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in (1, 2, 3))
    resp = raw(port, three.encode() + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ids = [l.split(b'"switch_id":"')[1][:5] for l in resp.split(b"\r\n") if b'"switch_id"' in l]
    check(ids == [b"sw-01", b"sw-02", b"sw-03"] and resp.count(b"HTTP/1.1 200") == 4, "pipelined: %s" % ids)


def test_slow_and_idle(env, base, port):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    # Slow clients trickling a request one byte at a time, while others are served normally.
    req = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % GOOD).encode()
    results = []

    def trickle():
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        for b in req:
            s.send(bytes([b]))
            time.sleep(0.01)
        out = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
        results.append(status_of(out))
        s.close()

    threads = [threading.Thread(target=trickle) for _ in range(20)]
    for t in threads:
        t.start()
    t0 = time.time()
    fast = sum(http_get(base + GOOD)[0] == 200 for _ in range(200))
    fast_s = time.time() - t0
    for t in threads:
        t.join()
    check(fast == 200 and fast_s < 5, "200 normal requests during 20 slow clients: %d ok in %.2f s" % (fast, fast_s))
    check(results == [200] * 20, "slow clients are answered too: %s" % results)
    # Thousands of idle connections.
    n = min(2000, want - 100)
    idle = []
    for _ in range(n):
        try:
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        except OSError:
            break
    t0 = time.time()
    ok = sum(http_get(base + GOOD)[0] == 200 for _ in range(50))
    check(len(idle) == n, "opened %d of %d idle connections" % (len(idle), n))
    check(ok == 50, "requests with %d idle connections open: %d of 50 ok in %.2f s" % (len(idle), ok, time.time() - t0))
    for s in idle:
        s.close()
    print("hostile: %d slow clients, %d idle connections, pipelining, overlong URI/header, garbage, bad encodings: served" % (
        len(threads), len(idle)))


def test_foreign_segment(env):
    name = env.shm + "-foreign"
    with open("/dev/shm" + name, "wb") as f:
        f.write(b"\x7fELF definitely not fabtel" * 1000)
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", name)
    base = "http://127.0.0.1:%d" % apid.port()
    st, _, body = http_get(base + GOOD)
    check(st == 503 and json.loads(body)["error"]["status"] == 503, "a foreign segment is refused: %d %s" % (st, body))
    check(apid.wait_log(r"level=error|error apid.* event=segment_unavailable .*not a fabtel data segment", timeout=3) is not None,
          "the refusal is logged clearly:\n" + apid.text())
    # Truncated to half a header, and a wrong layout version.
    with open("/dev/shm" + name, "wb") as f:
        f.write(b"\0" * 100)
    st, _, _ = http_get(base + "/health")  # a worker not attached tries to attach on every request
    check(st == 503 and apid.p.poll() is None, "a truncated segment: still running, 503")
    apid.stop()
    os.unlink("/dev/shm" + name)


def main():
    env = Env(sys.argv[1])
    try:
        prod = env.producer("--switches", "10", "--interval", "0.5")
        apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm)
        port = apid.port()
        base = "http://127.0.0.1:%d" % port
        env.ingestd(prod.url)
        check(env.wait_for(lambda: http_get(base + "/health")[0] == 200), "data")
        test_requests(env, base, port)
        test_slow_and_idle(env, base, port)
        check(apid.p.poll() is None and "worker_died" not in apid.text(), "no worker died:\n" + apid.text()[-2000:])
        test_foreign_segment(env)
    finally:
        env.cleanup()
    return report("integration_hostile")


if __name__ == "__main__":
    sys.exit(main())
