"""Two flowd front ends on one PostgreSQL, one of them SIGKILLed over and over while both take posts: every
batch is retried with its Idempotency-Key (on either front end) until it gets a 2xx, and afterwards every
hour's answer equals, byte for byte, that of a SQLite flowd given the same batches once each.
FABTEL_FRONTS_KILLS (default 30) kills, at least FABTEL_FRONTS_BATCHES (1,500) batches. Usage: integration_flowd_fronts.py BUILD_DIR"""
import http.client
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, free_port, http_get, report  # noqa: E402
from pg import Postgres  # noqa: E402

HOURS = range(2000, 2004)


class Batches:
    """Batches over a small key space (the front ends contend for the same rows), each with its own key, made on
    demand until the kills are over (and at least `least` of them); `taken` keeps them for the SQLite run."""

    def __init__(self, least):
        self.rng, self.lock, self.least, self.taken, self.over = random.Random(16), threading.Lock(), least, [], False

    def next(self):
        with self.lock:
            if self.over and len(self.taken) >= self.least:
                return None
            flows = [{"src_app": "app%d" % self.rng.randrange(6), "dest_app": "svc%d" % self.rng.randrange(6),
                      "vpc_id": "vpc-%d" % self.rng.randrange(2), "hour": self.rng.choice(HOURS),
                      "bytes_rx": self.rng.randrange(1, 1 << 40), "bytes_tx": self.rng.randrange(0, 1000)}
                     for _ in range(self.rng.randrange(1, 30))]
            b = ("batch-%d-%d" % (os.getpid(), len(self.taken)), json.dumps(flows))
            self.taken.append(b)
            return b


def post(port, key, body, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/flows", body, {"Content-Type": "application/json", "Idempotency-Key": key})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


class Poster(threading.Thread):
    """Takes batches off a shared list; posts each to a front end, and again (either one) until a 2xx."""

    def __init__(self, work, ports, n):
        super().__init__(daemon=True)
        self.work, self.ports, self.rng = work, ports, random.Random(n)
        self.attempts = self.retried = 0
        self.failed = []

    def run(self):
        while True:
            b = self.work.next()
            if b is None:
                return
            key, body = b
            deadline = time.time() + 120
            tries = 0
            while time.time() < deadline:
                self.attempts += 1
                tries += 1
                try:
                    st = post(self.rng.choice(self.ports), key, body)
                except (OSError, http.client.HTTPException):
                    st = None
                if st is not None and 200 <= st < 300:
                    break
                if st is not None and st not in (500, 503):
                    self.failed.append((key, st))
                    break
                time.sleep(0.01)
            else:
                self.failed.append((key, "no 2xx in 120 s"))
            self.retried += tries > 1


def flowd(env, port, *args, tag):
    p = env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % port, *args, tag=tag)
    if p.wait_log(r"event=listening", timeout=60) is None:
        raise RuntimeError("flowd did not start:\n" + p.text())
    return p


def answers(port):
    """Every hour's raw answer and the hour list, as bytes."""
    out = {"hours": http_get("http://127.0.0.1:%d/flows/hours" % port)[2]}
    for h in HOURS:
        st, _, body = http_get("http://127.0.0.1:%d/flows?hour=%d" % (port, h))
        out[h] = body if st == 200 else st
    return out


def run(env, pg, kills):
    url = pg.create_db("fronts")
    ports = [free_port(), free_port()]
    args = ["--store", url, "--request-timeout", "5"]
    fronts = [flowd(env, ports[i], *args, "--state-dir", os.path.join(env.dir, "fe%d" % i), tag="front%d" % i) for i in range(2)]
    work = Batches(int(os.environ.get("FABTEL_FRONTS_BATCHES", "1500")))
    posters = [Poster(work, ports, n) for n in range(4)]
    t0 = time.time()
    for p in posters:
        p.start()
    rng = random.Random(5)
    done = 0
    while done < kills:
        time.sleep(rng.uniform(0.05, 0.25))
        fronts[0].stop(signal.SIGKILL)
        env.procs.remove(fronts[0])
        fronts[0] = flowd(env, ports[0], *args, "--state-dir", os.path.join(env.dir, "fe0"), tag="front0")
        done += 1
    work.over = True
    for p in posters:
        p.join(300)
    took = time.time() - t0
    reference = work.taken
    failed = [f for p in posters for f in p.failed]
    print("two front ends: %d batches in %.1f s, %d SIGKILLs of one front end, %d attempts, %d batches retried" % (
        len(reference), took, done, sum(p.attempts for p in posters), sum(p.retried for p in posters)))
    check(not failed, "every batch got a 2xx (failures: %s)" % failed[:5])
    # The same batches once each into a SQLite flowd: the sums to equal.
    sport = free_port()
    ref = flowd(env, sport, "--state-dir", os.path.join(env.dir, "sqlite"), tag="sqlite")
    bad = [k for k, body in reference if post(sport, k, body, timeout=60) != 201]
    check(not bad, "the SQLite flowd took every batch (%s)" % bad[:3])
    want = answers(sport)
    for port in ports:
        got = answers(port)
        diff = [h for h in want if want[h] != got.get(h)]
        check(not diff, "front end %d answers every hour byte for byte as SQLite does (differ: %s; e.g. %s vs %s)" % (
            port, diff, (got.get(diff[0]) or b"")[:200] if diff else "", (want.get(diff[0]) or b"")[:200] if diff else ""))
    check(len(json.loads(want[HOURS[0]])) > 10, "the comparison covers many flows: %d in hour %d" % (len(json.loads(want[HOURS[0]])),
                                                                                                    HOURS[0]))
    # PostgreSQL restarts (a failover, as clients see it): the front ends reconnect by themselves.
    pg.restart()
    key, body = "after-restart-%d" % os.getpid(), json.dumps([{"src_app": "r", "dest_app": "r", "vpc_id": "r", "hour": 2100,
                                                                  "bytes_rx": 5, "bytes_tx": 5}])
    seen = []

    def through(port):
        try:
            seen.append(post(port, key, body))
        except (OSError, http.client.HTTPException) as e:
            seen.append(str(e))
        return seen[-1] == 201
    for port in ports:
        check(env.wait_for(lambda: through(port), timeout=60, step=0.2), "front end %d writes again after PostgreSQL restarted: %s"
              % (port, seen[-5:]))
        st, _, got = http_get("http://127.0.0.1:%d/flows?hour=2100" % port)
        check(st == 200 and json.loads(got) == [{"src_app": "r", "dest_app": "r", "vpc_id": "r", "hour": 2100, "bytes_rx": 5, "bytes_tx": 5}],
              "and reads again; the batch posted to both with one key counts once: %s" % got[:200])
    retries = sum(p.text().count("event=commit_retry") for p in env.procs)
    print("deadlocks between the front ends run again by the writer: %d" % retries)
    for f in fronts + [ref]:
        check(f.stop() == 0, "flowd stops with exit 0")


def main():
    env = Env(sys.argv[1])
    pg = None
    try:
        pg = Postgres()
        run(env, pg, int(os.environ.get("FABTEL_FRONTS_KILLS", "30")))
    finally:
        env.cleanup()
        if pg is not None:
            pg.stop()
    return report("integration_flowd_fronts")


if __name__ == "__main__":
    sys.exit(main())
