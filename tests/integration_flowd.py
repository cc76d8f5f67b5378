"""fabtel-flowd end to end: the seed's canonical example directly and through
apid's front door (read your writes), hostile bodies (nothing applied),
Idempotency-Key across a kill, and durability under fire: clients post while
flowd is SIGKILLed and restarted (FABTEL_FLOWD_KILLS, default 50); afterwards,
for every flow, acknowledged sums <= stored sums <= sent sums.
With FABTEL_TEST_FLOW_STORE (a postgresql:// URL; tests/pg.py sets it and FABTEL_TEST_PG) every flowd here
uses PostgreSQL instead of SQLite: a fresh database per state directory, the same checks.
Usage: integration_flowd.py BUILD_DIR"""
import http.client
import json
import os
import random
import subprocess
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import CANON, Env, check, free_port, http_json, report, unlink_segment  # noqa: E402

J = {"Content-Type": "application/json"}


def req(port, method, path, body=None, headers=None, timeout=30):
    st, doc, _ = http_json(port, method, path, body, headers, timeout)
    return st, doc


STORE = os.environ.get("FABTEL_TEST_FLOW_STORE") or None
DATABASES = {}


def store_args(state):
    """--state-dir, and on PostgreSQL the database standing for that state directory (the first: STORE)."""
    if STORE is None:
        return ["--state-dir", state]
    if state not in DATABASES:
        if not DATABASES:
            DATABASES[state] = STORE
        else:
            name = "flows%d" % len(DATABASES)
            subprocess.run(["/usr/lib/postgresql/15/bin/psql", "-X", "-q", os.environ["FABTEL_TEST_PG"], "-c",
                            "CREATE DATABASE %s" % name], check=True, timeout=60)
            DATABASES[state] = STORE.rsplit("/", 1)[0] + "/" + name
    return ["--state-dir", state, "--store", DATABASES[state]]


def start_flowd(env, port, state, *extra):
    p = env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % port, *store_args(state), *extra)
    if p.wait_log(r"event=listening", timeout=30) is None:
        raise RuntimeError("flowd did not start:\n" + p.text())
    return p


def test_canonical(env, port, apid_port):
    st, doc = req(port, "POST", "/flows", json.dumps(CANON), J)
    check(st == 201 and doc == {"accepted": 5}, "canonical POST: %d %s" % (st, doc))
    want1 = [{"src_app": "baz", "dest_app": "qux", "vpc_id": "vpc-0", "hour": 1, "bytes_rx": 500, "bytes_tx": 100},
             {"src_app": "foo", "dest_app": "bar", "vpc_id": "vpc-0", "hour": 1, "bytes_rx": 900, "bytes_tx": 300}]
    want2 = [{"src_app": "baz", "dest_app": "qux", "vpc_id": "vpc-0", "hour": 2, "bytes_rx": 500, "bytes_tx": 100},
             {"src_app": "baz", "dest_app": "qux", "vpc_id": "vpc-1", "hour": 2, "bytes_rx": 500, "bytes_tx": 100}]
    for p, how in ((port, "flowd"), (apid_port, "through apid")):
        check(req(p, "GET", "/flows?hour=1") == (200, want1), "hour 1 %s: %s" % (how, req(p, "GET", "/flows?hour=1")))
        check(req(p, "GET", "/flows?hour=2") == (200, want2), "hour 2 %s" % how)
        check(req(p, "GET", "/flows?hour=3") == (200, []), "hour 3 %s: []" % how)
        check(req(p, "GET", "/flows/hours") == (200, [1, 2]), "hours %s" % how)
    st, doc = req(apid_port, "POST", "/flows", json.dumps(CANON[:1]), J)
    check(st == 201 and req(port, "GET", "/flows?hour=1")[1][1]["bytes_rx"] == 1200, "a POST through apid is read back at once")
    st, doc = req(port, "GET", "/flows?hour=1&src_app=baz")
    check(st == 200 and len(doc) == 1 and doc[0]["src_app"] == "baz", "exact-match filter: %s" % doc)
    check(req(port, "GET", "/flows")[0] == 400 and req(port, "GET", "/flows?hour=x")[0] == 400, "hour missing or not a number: 400")
    st, doc = req(port, "GET", "/flows?hour=1&src_app=" + "x" * 256)
    check(st == 400 and doc["error"]["field"] == "src_app", "a filter no flow can match (256 bytes) is a 400, not all rows: %d %s" % (st, doc))
    st, doc = req(port, "GET", "/flows?hour=1&dest_app=")
    check(st == 400 and doc["error"]["field"] == "dest_app", "an empty filter is a 400: %d %s" % (st, doc))
    check(req(port, "DELETE", "/flows")[0] == 405, "other methods: 405")


def test_hostile(env, port):
    before = req(port, "GET", "/flows/hours")[1]
    bodies = [b"[", b"[{]", b'{"src_app": "a"', b"[" * 100000 + b"]" * 100000, b" " * (10 << 20), b"NaN",
              b'[{"src_app":"a","dest_app":"b","vpc_id":"c","hour":77,"bytes_rx":1e400,"bytes_tx":1}]',
              b'[{"src_app":"a","dest_app":"b","vpc_id":"c","hour":77,"bytes_rx":NaN,"bytes_tx":1}]',
              b'[{"src_app":"a","dest_app":"b","vpc_id":"c","hour":77,"hour":78,"bytes_rx":1,"bytes_tx":1}]',
              b'[{"src_app":"\xc3\x28","dest_app":"b","vpc_id":"c","hour":77,"bytes_rx":1,"bytes_tx":1}]',
              b'[{"src_app":"a","dest_app":"b","vpc_id":"c","hour":77,"bytes_rx":1,"bytes_tx":1},{"src_app":"a"}]']
    statuses = []
    for b in bodies:
        try:
            st, doc = req(port, "POST", "/flows", b, J)
        except (OSError, http.client.HTTPException):
            st = "closed"
        statuses.append(st)
    check(all(s == "closed" or 400 <= s < 500 for s in statuses), "hostile bodies: each a 4xx or a closed connection: %s" % statuses)
    check(req(port, "POST", "/flows", json.dumps(CANON), {"Content-Type": "text/plain"})[0] == 415, "not JSON: 415")
    # A body that never ends: cut off at the request timeout.
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
    t0, closed = time.time(), False
    while time.time() - t0 < 20 and not closed:
        try:
            s.sendall(b" ")
            s.settimeout(0.2)
            closed = s.recv(100) == b""
        except socket.timeout:
            pass
        except OSError:
            closed = True
    check(closed, "a body that trickles forever is cut off")
    s.close()
    check(req(port, "GET", "/flows/hours")[1] == before, "nothing of any hostile body was applied")


def test_idempotency_across_kill(env, port, state, cur):
    flowd = cur[0]
    body = json.dumps([{"src_app": "idem", "dest_app": "d", "vpc_id": "v", "hour": 500, "bytes_rx": 10, "bytes_tx": 1}])
    h = dict(J, **{"Idempotency-Key": "k-%d" % os.getpid()})
    # Send, and kill flowd without waiting for the answer: the commit may or may not have happened.
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("POST /flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s"
               % (h["Idempotency-Key"], len(body), body)).encode())
    time.sleep(0.02)
    flowd.stop(signal.SIGKILL)
    s.close()
    cur[0] = start_flowd(env, port, state)
    st1, _ = req(port, "POST", "/flows", body, h)
    st2, _ = req(port, "POST", "/flows", body, h)
    st, doc = req(port, "GET", "/flows?hour=500")
    check(st1 == 201 and st2 == 201 and doc[0]["bytes_rx"] == 10, "a keyed batch retried across a kill is applied once: %s %s %s" % (
        st1, st2, doc))
    check(req(port, "POST", "/flows", json.dumps(CANON), h)[0] == 422, "the key with another body: 422")


def test_many_flows(env, port):
    """10,000 distinct flows in one hour come back one to one."""
    batch = [{"src_app": "s%05d" % i, "dest_app": "d", "vpc_id": "v", "hour": 3000, "bytes_rx": i, "bytes_tx": 2 * i + 2147483648}
             for i in range(10000)]
    st, doc = req(port, "POST", "/flows", json.dumps(batch), J, timeout=120)
    check(st == 201 and doc == {"accepted": 10000}, "10,000 flows in one batch: %d %s" % (st, doc))
    st, got = req(port, "GET", "/flows?hour=3000", timeout=120)
    want = [dict(f) for f in batch]
    check(st == 200 and got == want, "they come back one to one, sorted, sums past 2^31 exact (%d, %d rows)" % (st, len(got or [])))


def test_store_full(env):
    """A store at its cap answers 507 and applies nothing of that batch; what was acknowledged stays."""
    port = free_port()
    state = os.path.join(env.dir, "state-full")
    if STORE is not None:  # a cap is SQLite's; PostgreSQL's disk is managed where it runs
        p = env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % port, *store_args(state), "--max-store-bytes", "300000")
        rc = p.stop(timeout=30) if p.wait_log(r"start_refused", timeout=30) else None
        check(rc is not None and rc != 0 and "--max-store-bytes is for the SQLite store" in p.text(),
              "--max-store-bytes with PostgreSQL is refused with a reason (rc %s): %s" % (rc, p.text()[-300:]))
        return
    p = start_flowd(env, port, state, "--max-store-bytes", "300000")
    statuses, acked = [], []
    for i in range(200):
        batch = [{"src_app": "full%03d" % i, "dest_app": "d%03d" % k, "vpc_id": "v" * 100, "hour": 4000, "bytes_rx": 1, "bytes_tx": 1}
                 for k in range(50)]
        st, doc = req(port, "POST", "/flows", json.dumps(batch), J)
        statuses.append(st)
        if st == 201:
            acked.append(i)
        if st == 507:
            full_at = i
            break
    check(statuses[-1] == 507 and doc["error"]["status"] == 507, "a full store: 507 JSON (after %d batches): %s" % (len(statuses), doc))
    st, rows = req(port, "GET", "/flows?hour=4000")
    srcs = {r["src_app"] for r in rows}
    check(st == 200 and srcs == {"full%03d" % i for i in acked}, "every acknowledged batch is there, nothing of the refused one (%d acked, %d sources)" % (
        len(acked), len(srcs)))
    check("full%03d" % full_at not in srcs, "the 507 batch left nothing")
    check(req(port, "GET", "/health")[0] == 200, "flowd still serves")
    p.stop()


def test_retention(env):
    """--retain-hours drops aggregates by arrival time; one written to again is kept."""
    port = free_port()
    p = start_flowd(env, port, os.path.join(env.dir, "state-ret"), "--retain-hours", "0.001")  # 3.6 s
    old = [{"src_app": "old", "dest_app": "d", "vpc_id": "v", "hour": 1, "bytes_rx": 1, "bytes_tx": 1}]
    check(req(port, "POST", "/flows", json.dumps(old), J)[0] == 201, "posted")
    t0 = time.time()
    gone = env.wait_for(lambda: req(port, "GET", "/flows?hour=1")[1] == [], timeout=60, step=0.2)
    took = time.time() - t0
    check(gone and took >= 3.0, "an aggregate not written to for --retain-hours is dropped (after %.1f s)" % took)
    check(req(port, "GET", "/flows/hours")[1] == [], "and its hour is gone from the list")
    p.stop()


class Poster(threading.Thread):
    """Posts batches of fresh flows; remembers what it sent and what was acknowledged."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n, self.stop = port, n, False
        self.sent, self.acked = {}, {}
        self.posts = self.ok = 0

    def run(self):
        rng = random.Random(self.n)
        while not self.stop:
            batch = [{"src_app": "c%d" % self.n, "dest_app": "d%d" % rng.randrange(20), "vpc_id": "v", "hour": 1000 + rng.randrange(3),
                      "bytes_rx": rng.randrange(1, 1000), "bytes_tx": 1} for _ in range(rng.randrange(1, 20))]
            for f in batch:
                k = (f["dest_app"], f["hour"])
                self.sent[k] = self.sent.get(k, 0) + f["bytes_rx"]
            self.posts += 1
            try:
                st, _ = req(self.port, "POST", "/flows", json.dumps(batch), J, timeout=10)
            except (OSError, http.client.HTTPException):
                time.sleep(0.005)
                continue
            if st == 201:
                self.ok += 1
                for f in batch:
                    k = (f["dest_app"], f["hour"])
                    self.acked[k] = self.acked.get(k, 0) + f["bytes_rx"]


def test_durability(env, port, state, kills, cur):
    posters = [Poster(port, i) for i in range(3)]
    for p in posters:
        p.start()
    rng = random.Random(7)
    t0 = time.time()
    for k in range(kills):
        time.sleep(rng.uniform(0.02, 0.12))  # lands anywhere in the posting
        cur[0].stop(signal.SIGKILL)
        env.procs.remove(cur[0])
        cur[0] = start_flowd(env, port, state)
    for p in posters:
        p.stop = True
        p.join(30)
    took = time.time() - t0
    stored = {}
    for hour in (1000, 1001, 1002):
        for f in req(port, "GET", "/flows?hour=%d" % hour)[1]:
            stored[(f["src_app"], f["dest_app"], f["hour"])] = f["bytes_rx"]
    lost = invented = 0
    for p in posters:
        for k, sent in p.sent.items():
            got = stored.get(("c%d" % p.n, k[0], k[1]), 0)
            lost += got < p.acked.get(k, 0)
            invented += got > sent
    posts, ok = sum(p.posts for p in posters), sum(p.ok for p in posters)
    print("durability: %d SIGKILLs in %.1f s; %d batches posted, %d acknowledged; %d flows checked, %d lost, %d invented" % (
        kills, took, posts, ok, sum(len(p.sent) for p in posters), lost, invented))
    check(ok > kills, "batches were acknowledged between the kills (%d)" % ok)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    check("fabtel_flowd_commit_batches_bucket{le=\"+Inf\"}" in text and "fabtel_flowd_commit_seconds_count" in text,
          "/metrics has the commit time and group size histograms:\n%s" % text[:500])
    check(lost == 0, "no acknowledged record lost (%d flows short)" % lost)
    check(invented == 0, "nothing invented (%d flows over what was sent)" % invented)


def main():
    print("store: %s" % ("postgresql" if STORE else "sqlite"))
    env = Env(sys.argv[1])
    state = os.path.join(env.dir, "state")
    port = free_port()
    try:
        cur = [start_flowd(env, port, state, "--request-timeout", "2")]
        apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm + "-flows",
                         "--flowd", "http://127.0.0.1:%d" % port)
        test_canonical(env, port, apid.port())
        test_hostile(env, port)
        test_many_flows(env, port)
        test_store_full(env)
        test_retention(env)
        test_idempotency_across_kill(env, port, state, cur)
        test_durability(env, port, state, int(os.environ.get("FABTEL_FLOWD_KILLS", "50")), cur)
        flowd = cur[0]
        rc = flowd.stop()
        check(rc == 0 and "event=stopped" in flowd.text(), "flowd stops with exit 0 (rc %s)" % rc)
        apid.stop()
    finally:
        env.cleanup()
        unlink_segment(env.shm + "-flows")
    return report("integration_flowd")


if __name__ == "__main__":
    sys.exit(main())
