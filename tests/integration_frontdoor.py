"""apid's front door: forwarding to the daemons that own writes (a scripted
upstream stands in for orchd and flowd), the write guards (content type,
cross-origin, bearer token, body caps), and long polls of telemetry answers
(held until the next generation, 304 after the wait, 2,000 held at once while
other requests are served). Usage: integration_frontdoor.py BUILD_DIR"""
import datetime
import http.client
import http.server
import json
import os
import resource
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, children, free_port, http_get, report, unlink_segment  # noqa: E402


class Upstream(http.server.BaseHTTPRequestHandler):
    """Records every request; answers as the path says: /x/silent never answers, /x/hangup closes without answering."""
    protocol_version = "HTTP/1.1"
    seen = []

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/health":  # apid's workers ask every upstream once a second (apid/probe.h): not a forwarded request
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            return
        Upstream.seen.append({"method": self.command, "path": self.path, "body": body, "headers": self.headers})
        if "/silent" in self.path:
            time.sleep(5)
            return
        if "/hangup" in self.path:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status = 201 if self.command == "POST" else 204 if self.command == "DELETE" else 200
        out = b"" if status == 204 else json.dumps({"echo": self.command, "path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", '"up-1"')
        if status == 201:
            self.send_header("Location", "/deployments/7")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    def log_message(self, *a):
        pass


class ShortKeepAlive(http.server.BaseHTTPRequestHandler):
    """Keeps a connection open only 0.3 s after an answer: apid's pooled connection to it goes stale."""
    protocol_version = "HTTP/1.1"
    timeout = 0.3
    served = 0

    def do_GET(self):
        ShortKeepAlive.served += self.path != "/health"  # apid's probe (apid/probe.h) is not a forwarded read
        out = b'{"ok":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


def request(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    doc = None
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        pass
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data, doc


def error_of(doc):
    return (doc or {}).get("error", {})


def test_forwarding(env, apid, port, dead_port):
    J = {"Content-Type": "application/json"}
    st, h, _, doc = request(port, "GET", "/deployments?status=RUNNING")
    last = Upstream.seen[-1] if Upstream.seen else {}
    check(st == 200 and doc == {"echo": "GET", "path": "/deployments?status=RUNNING"} and h.get("etag") == '"up-1"',
          "GET forwarded with its query, answer and ETag passed back: %d %s %s" % (st, doc, h))
    body = json.dumps({"name": "d1", "nodes": 3})
    st, h, _, doc = request(port, "POST", "/deployments", body, dict(J, **{"Idempotency-Key": "k-1", "If-None-Match": '"x"'}))
    last = Upstream.seen[-1]
    check(st == 201 and h.get("location") == "/deployments/7", "POST answered as the upstream did: %d %s" % (st, h))
    check(last["method"] == "POST" and last["body"] == body.encode() and last["headers"].get("Idempotency-Key") == "k-1" and
          last["headers"].get("Content-Type") == "application/json" and last["headers"].get("If-None-Match") == '"x"',
          "method, body and headers passed on: %s" % last)
    st, _, data, _ = request(port, "DELETE", "/deployments/7")
    check(st == 204 and data == b"" and Upstream.seen[-1]["method"] == "DELETE", "DELETE forwarded: %d" % st)
    st, _, _, doc = request(port, "PUT", "/flows/hours/3", "{}", J)
    check(st == 200 and doc["path"] == "/flows/hours/3" and Upstream.seen[-1]["method"] == "PUT", "/flows/... to flowd: %d %s" % (st, doc))
    st, _, _, doc = request(port, "GET", "/flowsx")
    check(st == 404, "/flowsx is not under /flows: %d" % st)
    # Upstream down: 503 naming it; silent: 504 after --forward-timeout; a POST cut off is not retried.
    st, _, _, doc = request(dead_port, "GET", "/deployments")
    check(st == 503 and "orchd" in error_of(doc).get("message", "") and error_of(doc).get("field") == "upstream",
          "refused upstream: 503 JSON naming it: %d %s" % (st, doc))
    t0 = time.time()
    st, _, _, doc = request(port, "GET", "/deployments/silent")
    took = time.time() - t0
    check(st == 504 and error_of(doc).get("status") == 504 and took < 4.5, "silent upstream: 504 JSON after the timeout (%d in %.1f s)" % (
        st, took))
    n0 = len(Upstream.seen)
    st, _, _, doc = request(port, "POST", "/deployments/hangup", "{}", J)
    time.sleep(0.5)  # room for a retry to arrive, were there one
    check(st == 502 and len(Upstream.seen) == n0 + 1, "a POST the upstream hung up on: 502, sent once (%d, %d sent)" % (
        st, len(Upstream.seen) - n0))
    st, _, text, _ = request(port, "GET", "/metrics")
    check(b'fabtel_api_requests_total{route="deployments",status="2xx"}' in text or
          b'fabtel_api_requests_total{route="deployments",status="200"}' in text,
          "forwarded answers are counted under their route:\n%s" % [l for l in text.split(b"\n") if b"requests_total" in l])


def test_stale_pooled_connection(env):
    """A read forwarded on a pooled connection the upstream has since closed is sent again on a fresh one: 200, not 502."""
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ShortKeepAlive)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm + "-stale",
                     "--flowd", "http://127.0.0.1:%d" % up.server_port)
    port = apid.port()
    results = []
    for _ in range(4):
        results.append(request(port, "GET", "/flows")[0])
        time.sleep(0.6)  # longer than the upstream keeps the pooled connection
    check(results == [200] * 4 and ShortKeepAlive.served == 4, "reads survive stale pooled connections: %s, served %d" % (
        results, ShortKeepAlive.served))
    apid.stop()
    up.shutdown()


def test_guards(env, port, token):
    J = {"Content-Type": "application/json"}
    auth = {"Authorization": "Bearer " + token}
    st, _, _, doc = request(port, "POST", "/deployments", "{}", dict(J, **auth, Origin="http://evil.example"))
    check(st == 403 and error_of(doc).get("field") == "Origin", "cross-origin write: 403: %d %s" % (st, doc))
    st, _, _, doc = request(port, "POST", "/deployments", "{}", dict(J, **auth, Origin="http://127.0.0.1:%d" % port))
    check(st == 201, "same-origin write passes: %d %s" % (st, doc))
    st, h, _, doc = request(port, "POST", "/deployments", "{}", J)
    check(st == 401 and "www-authenticate" in h, "write without the token: 401: %d %s" % (st, doc))
    st, _, _, doc = request(port, "POST", "/deployments", "{}", dict(J, Authorization="Bearer wrong" + token))
    check(st == 401, "write with a wrong token: 401: %d" % st)
    st, _, _, doc = request(port, "GET", "/deployments")
    check(st == 200, "reads stay open without --auth-reads: %d" % st)
    st, _, _, doc = request(port, "POST", "/deployments", "name=x", dict(auth, **{"Content-Type": "application/x-www-form-urlencoded"}))
    check(st == 415 and error_of(doc).get("field") == "Content-Type", "a form post: 415: %d %s" % (st, doc))
    st, _, _, doc = request(port, "POST", "/deployments", "x" * 5000, dict(J, **auth))
    check(st == 413 and error_of(doc).get("field") == "body", "body over --max-body-bytes: 413 JSON: %d %s" % (st, doc))
    st, _, _, doc = request(port, "POST", "/health", "{}", dict(J, **auth))
    check(st == 405, "a write to a read-only route: 405: %d" % st)
    # Past libh2o's own limit: refused without being kept, and apid stays up.
    try:
        st, _, _, _ = request(port, "POST", "/health", b"x" * 300000, J)
    except (OSError, http.client.HTTPException):
        st = -1
    check(st != 200, "a body far over every cap is refused (%d)" % st)
    check(http_get("http://127.0.0.1:%d/health" % port)[0] in (200, 503), "apid still answers")
    # A body that trickles in is not read forever: closed after --request-timeout (1 s here).
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /deployments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
    t0, closed = time.time(), False
    while time.time() - t0 < 20:
        try:
            s.sendall(b" ")
            s.settimeout(0.2)
            if s.recv(1000) == b"":
                closed = True
                break
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
    took = time.time() - t0
    check(closed and took < 10, "a trickling body is cut off after the request timeout (%s after %.1f s)" % (closed, took))
    s.close()


class Source(http.server.BaseHTTPRequestHandler):
    """A CSV source whose data changes only when the test says (version)."""
    protocol_version = "HTTP/1.1"
    version = 1

    def do_GET(self):
        etag = '"v%d"' % Source.version
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        body = ("switch_id,temperature\nsw-1,%d\n" % Source.version).encode()
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


def generation(port):
    return json.loads(http_get("http://127.0.0.1:%d/health" % port)[2])["generation"]


def test_long_poll(env, port, shm):
    src = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Source)
    threading.Thread(target=src.serve_forever, daemon=True).start()
    ing = env.ingestd("http://127.0.0.1:%d/c.csv" % src.server_port, "--interval", "0.05", "--wait", "1", shm=shm)
    check(env.wait_for(lambda: http_get("http://127.0.0.1:%d/health" % port)[0] == 200, timeout=60), "data:\n" + ing.text())
    path = "/telemetry/GetMetric?switch_id=sw-1&metric=temperature"
    st, h, _, _ = request(port, "GET", path)
    etag = h.get("etag")
    # Nothing new: 304 after the wait.
    t0 = time.time()
    st, _, _, _ = request(port, "GET", path + "&wait=1", headers={"If-None-Match": etag})
    took = time.time() - t0
    check(st == 304 and 0.9 <= took < 5, "no new generation: 304 after the wait (%d in %.2f s)" % (st, took))
    st, _, _, doc = request(port, "GET", path + "&wait=61", headers={"If-None-Match": etag})
    check(st == 400 and error_of(doc).get("field") == "wait", "wait over 60: 400: %d %s" % (st, doc))
    # A new generation: the held request is answered at once.
    result = {}

    def held():
        result["st"], _, _, result["doc"] = request(port, "GET", path + "&wait=30", headers={"If-None-Match": etag})
        result["t"] = time.time()

    t = threading.Thread(target=held)
    t.start()
    t.join(1.0)
    check(t.is_alive(), "the request is held while nothing new is published")
    Source.version += 1
    t.join(40)
    check(result.get("st") == 200 and result["doc"]["value"] == Source.version, "held until the new generation: %s" % result)
    # collected_at is when ingestd published (wall clock): the answer's lag behind the publish.
    pub = datetime.datetime.strptime(result["doc"]["collected_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    lag = result["t"] - pub.timestamp()
    print("long poll answered %.2f ms after the publish" % (lag * 1000))
    check(lag < 1.0, "answered within a moment of the publish (%.3f s)" % lag)
    return src, ing


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_many_held(env, port, apid_pid, n=2000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 500)), hard))
    path = "/telemetry/ListMetrics"
    st, h, _, _ = request(port, "GET", path)
    req = ("GET %s?wait=50 HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n" % (path, h["etag"])).encode()
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(req)
        socks.append(s)
    # Normal traffic while they are held.
    t0 = time.time()
    ok = sum(http_get("http://127.0.0.1:%d/health" % port)[0] == 200 for _ in range(200))
    took = time.time() - t0
    print("%d held long polls; 200 other requests meanwhile in %.2f s" % (n, took))
    check(ok == 200, "other requests are served while %d are held (%d ok in %.2f s)" % (n, ok, took))
    early = select.poll()
    for s in socks:
        early.register(s.fileno(), select.POLLIN)
    check(early.poll(0) == [], "all %d are held (none answered before a new generation)" % n)
    # Held requests cost (almost) no CPU: the workers sleep until ingestd's wake-up.
    workers = children(apid_pid)
    c0, t0 = sum(cpu_seconds(w) for w in workers), time.time()
    time.sleep(2.0)  # a measuring window, not a wait for a condition
    used, took = sum(cpu_seconds(w) for w in workers) - c0, time.time() - t0
    print("%d held for %.1f s: the workers used %.3f s of CPU" % (n, took, used))
    check(used < 0.2 * took, "holding %d requests costs little CPU (%.3f s in %.1f s)" % (n, used, took))
    g0 = generation(port)
    Source.version += 1
    check(env.wait_for(lambda: generation(port) > g0, timeout=30), "a new generation")
    answered, deadline = 0, time.time() + 60
    poller, by_fd = select.poll(), {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while by_fd and time.time() < deadline:
        for fd, _ in poller.poll(1000):
            data = by_fd[fd].recv(65536)
            answered += data.startswith(b"HTTP/1.1 200")
            poller.unregister(fd)
            del by_fd[fd]
    for s in socks:
        s.close()
    check(answered == n, "every held request is answered by the new generation (%d of %d)" % (answered, n))


def main():
    env = Env(sys.argv[1])
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    upstream = "http://127.0.0.1:%d" % up.server_port
    token = "t0k3n-%d" % os.getpid()
    tokfile = os.path.join(env.dir, "token")
    with open(tokfile, "w") as f:
        f.write(token + "\n")
    shm = env.shm + "-fd"
    extra = []
    try:
        apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", shm, "--orchd", upstream,
                         "--flowd", upstream, "--forward-timeout", "1", "--max-body-bytes", "4096")
        port = apid.port()
        dead = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm,
                         "--orchd", "http://127.0.0.1:%d" % free_port())
        test_forwarding(env, apid, port, dead.port())
        test_stale_pooled_connection(env)
        guarded = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm, "--orchd", upstream,
                            "--auth-token-file", tokfile, "--max-body-bytes", "4096", "--request-timeout", "1")
        test_guards(env, guarded.port(), token)
        src, ing = test_long_poll(env, port, shm)
        extra.append(src)
        test_many_held(env, port, apid.pid)
        for p in (apid, dead, guarded):
            rc = p.stop(timeout=60)
            check(rc == 0 and "signal=" not in p.text(), "apid stops cleanly (rc %s):\n%s" % (rc, p.text()[-1500:]))
        ing.stop()
    finally:
        up.shutdown()
        for s in extra:
            s.shutdown()
        env.cleanup()
        unlink_segment(shm)
        unlink_segment(env.shm + "-stale")
    return report("integration_frontdoor")


if __name__ == "__main__":
    sys.exit(main())
