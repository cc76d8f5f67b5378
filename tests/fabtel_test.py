"""Helpers shared by fabtel's integration tests: start the real binaries on
free loopback ports with private segment names, read their logs, and stop
everything they started, by pid."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# The seed-004 canonical example of flow records (flowd's tests and the dashboard's).
CANON = [{"src_app": "foo", "dest_app": "bar", "vpc_id": "vpc-0", "bytes_tx": 100, "bytes_rx": 300, "hour": 1},
         {"src_app": "foo", "dest_app": "bar", "vpc_id": "vpc-0", "bytes_tx": 200, "bytes_rx": 600, "hour": 1},
         {"src_app": "baz", "dest_app": "qux", "vpc_id": "vpc-0", "bytes_tx": 100, "bytes_rx": 500, "hour": 1},
         {"src_app": "baz", "dest_app": "qux", "vpc_id": "vpc-0", "bytes_tx": 100, "bytes_rx": 500, "hour": 2},
         {"src_app": "baz", "dest_app": "qux", "vpc_id": "vpc-1", "bytes_tx": 100, "bytes_rx": 500, "hour": 2}]

FAILURES = []
CHECKS = [0]


def check(cond, msg):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(msg)
        print("FAILED: " + msg, file=sys.stderr, flush=True)
    return cond


def report(name):
    print("%s: %d checks, %d failed" % (name, CHECKS[0], len(FAILURES)))
    return 1 if FAILURES else 0


class Proc:
    """A started binary; its log goes to a file we can grep."""

    def __init__(self, args, logdir, tag, env=None):
        self.log_path = os.path.join(logdir, tag + ".log")
        self.log = open(self.log_path, "w")
        self.args = args
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pid = self.p.pid

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.p.poll() is not None:
                break
            time.sleep(0.02)
        return None

    def port(self):
        m = self.wait_log(r"listen=127\.0\.0\.1:(\d+)")
        if not m:
            raise RuntimeError("%s did not report its port; log:\n%s" % (self.args[0], self.text()))
        return int(m.group(1))

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        return self.p.returncode


class Env:
    """Everything one test run starts, so that all of it is stopped at the end."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.dir = tempfile.mkdtemp(prefix="fabtel-test-")
        self.procs = []
        self.shm = "/fabtel-it-%d" % os.getpid()
        self.n = 0

    def bin(self, name):
        return os.path.join(self.bindir, name)

    def start(self, name, *args, tag=None, env=None):
        self.n += 1
        p = Proc([self.bin(name)] + list(args), self.dir, "%s-%d" % (tag or os.path.basename(name), self.n), env)
        self.procs.append(p)
        return p

    def producer(self, *args):
        p = self.start("producer/fabtel-producer", "--listen", "127.0.0.1:0", *args)
        p.url = "http://127.0.0.1:%d/counters" % p.port()
        return p

    def state_dir(self, shm=None):
        """One state directory per segment name, so that two ingestds of one test never share a history file."""
        return os.path.join(self.dir, "state" + (shm or self.shm).replace("/", "-"))

    def ingestd(self, source, *args, shm=None):
        # A 16 MiB history by default (reserved on disk when created; later flags win); tests of history pass their own.
        return self.start("ingestd/fabtel-ingestd", "--source", source, "--shm-name", shm or self.shm,
                          "--state-dir", self.state_dir(shm), "--history-bytes", str(16 << 20), *args)

    def shmdump(self, *args, shm=None):
        r = subprocess.run([self.bin("tools/shmdump/shmdump"), "--shm-name", shm or self.shm] + list(args),
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout, r.stderr

    def header(self, shm=None):
        """The shmdump header as a dict of the figures the tests use."""
        rc, out, err = self.shmdump("--header", shm=shm)
        h = {"rc": rc, "text": out + err}
        m = re.search(r"^generation\s+(\d+)", out, re.M)
        h["generation"] = int(m.group(1)) if m else -1
        m = re.search(r"epoch ([0-9a-f]+)", out)
        h["epoch"] = m.group(1) if m else None
        m = re.search(r"ingest 24h\s+(\d+) ok \((\d+) unchanged\), (\d+) failed, (\d+) rows rejected", out)
        if m:
            h["ok"], h["unchanged"], h["failed"], h["rejected"] = map(int, m.groups())
        h["failing"] = "ingest failing" in out
        return h

    def wait_for(self, fn, timeout=10.0, step=0.05):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(step)
        return fn()

    def cleanup(self):
        for p in self.procs:
            p.stop(signal.SIGKILL)
        unlink_segment(self.shm)
        # Every segment a test named after this run's (…-ufm, …-sh1, their locks and stats), even after a failure.
        for name in os.listdir("/dev/shm"):
            if name.startswith(self.shm.lstrip("/") + "-"):
                try:
                    os.unlink("/dev/shm/" + name)
                except FileNotFoundError:
                    pass
        # Logs stay for a look after a failure; history files (reserved whole on disk) do not.
        for root, _, files in os.walk(self.dir):
            for f in files:
                if f.startswith("history."):
                    os.unlink(os.path.join(root, f))


def free_port():
    """A port that was free a moment ago (for a server that must come back on the same port)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def unlink_segment(name):
    """Remove a data segment, its writer lock and its API stats segment."""
    for suffix in ("", ".lock", "-api"):
        try:
            os.unlink("/dev/shm" + name + suffix)
        except FileNotFoundError:
            pass


def children(pid):
    """The pids of a process's children (apid's workers)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def http_get(url, headers=None, timeout=10.0, method="GET"):
    """(status, headers, body) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_json(port, method, path, body=None, headers=None, timeout=30):
    """(status, parsed JSON body or None, response headers lower-cased) from 127.0.0.1:port."""
    import http.client
    import json
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return r.status, doc, {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()


def parse_csv(text):
    import csv
    import io
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:] if r}


def same_value(a, b):
    """Equal as the pipeline promises: integers exactly, floats as doubles, text as text."""
    if a == b:
        return True
    try:
        return int(a) == int(b)
    except ValueError:
        pass
    try:
        return float(a) == float(b)
    except ValueError:
        return False
