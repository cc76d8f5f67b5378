"""fabtel-orchd on the live pipeline (producer, ingestd, orchd, apid on free loopback ports, --time-scale 0.05):
  - a deployment's whole lifecycle: states in order with the timing and failure rules, addresses and hostnames,
    nodes in ListMetrics once RUNNING and gone after DELETE, events (also after the deletion);
  - telemetry and bottlenecks of a 20-node deployment on the degraded profile: robust flags exactly the degraded
    running nodes, zscore gives the reference's numbers computed here from the same samples;
  - capacity (409, nothing created), a restarted producer gets its nodes back within two ticks;
  - every bad-input class, pagination edges, the front door through apid, and orchd down behind it;
  - SIGKILL of orchd at random points of many lifecycles (FABTEL_ORCHD_KILLS, default 60; 15 under the
    sanitizers): no acknowledged write lost, no state skipped or repeated (the events tell), the machine resumes;
  - an online backup, and a clean stop.
Usage: integration_orchd.py BUILD_DIR"""
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, free_port, http_json, report, unlink_segment  # noqa: E402

J = {"Content-Type": "application/json"}
SCALE = 0.05
TICK = 2.0 * SCALE
STATES = ["PENDING", "PROVISIONING", "CONFIGURING"]


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Stack:
    def __init__(self, env, max_switches=64):
        self.env = env
        self.prod_port = free_port()
        self.prod = self.start_producer()
        self.ing = env.ingestd("http://127.0.0.1:%d/counters" % self.prod_port, "--interval", "0.2", "--wait", "0",
                               "--max-switches", str(max_switches), "--forget-after", "2")
        self.state = os.path.join(env.dir, "orchd-state")
        self.port = free_port()
        self.orchd = self.start_orchd()
        self.apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm,
                              "--orchd", "http://127.0.0.1:%d" % self.port)
        self.api = self.apid.port()

    def start_producer(self):
        p = self.env.start("producer/fabtel-producer", "--listen", "127.0.0.1:%d" % self.prod_port, "--switches", "3",
                           "--interval", "0.2", "--seed", "5")
        if p.wait_log(r"event=listening", timeout=30) is None:
            raise RuntimeError("producer did not start:\n" + p.text())
        return p

    def start_orchd(self, *extra):
        p = self.env.start("orchd/fabtel-orchd", "--listen", "127.0.0.1:%d" % self.port, "--state-dir", self.state,
                           "--shm-name", self.env.shm, "--producer", "http://127.0.0.1:%d" % self.prod_port,
                           "--time-scale", str(SCALE), *extra)
        if p.wait_log(r"event=listening", timeout=30) is None:
            raise RuntimeError("orchd did not start:\n" + p.text())
        return p

    def kill_orchd(self):
        self.orchd.stop(signal.SIGKILL)
        self.env.procs.remove(self.orchd)

    def call(self, method, path, body=None, headers=None, port=None):
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        st, doc, _ = http_json(port or self.port, method, path, body, headers if headers is not None else (J if body else {}))
        return st, doc

    def create(self, name, n, via=None):
        return self.call("POST", "/deployments", {"name": name, "target_node_count": n}, port=via)

    def nodes(self, dep):
        st, doc = self.call("GET", "/deployments/%d/nodes" % dep)
        return doc["nodes"] if st == 200 else None

    def settled(self, dep, timeout=60):
        """The deployment's nodes once none is moving any more."""
        return self.env.wait_for(lambda: (lambda ns: ns if ns and all(n["state"] not in STATES for n in ns) else None)(self.nodes(dep)),
                                 timeout=timeout, step=0.05)

    def events(self, dep):
        out, skip = [], 0
        while True:
            st, doc = self.call("GET", "/deployments/%d/events?skip=%d&limit=1000" % (dep, skip))
            if st != 200 or not doc["events"]:
                return out if st == 200 else None
            out += doc["events"]
            skip += len(doc["events"])

    def fabric(self):
        st, doc, _ = http_json(self.api, "GET", "/telemetry/ListMetrics")
        return {m["switch_id"] for m in doc["metrics"]} if st == 200 else set()

    def producer_nodes(self):
        st, doc, _ = http_json(self.prod_port, "GET", "/switches")
        return {s["name"]: s["node_id"] for s in doc["switches"]} if st == 200 else None


def walks(events):
    """node id -> [states entered], oldest first, from STATE_CHANGE events (which come newest first)."""
    w = {}
    for e in reversed(events):
        if e["event_type"] == "STATE_CHANGE":
            w.setdefault(e["node_id"], []).append((e["event_metadata"]["from"], e["event_metadata"]["to"], ts(e["created_at"])))
    return w


def expected_end(node_id, dep):
    return "FAILED" if (node_id + dep) % 20 == 0 else "RUNNING"


def check_walk(dep, node_id, walk, what):
    want = [("PENDING", "PROVISIONING"), ("PROVISIONING", "CONFIGURING"), ("CONFIGURING", expected_end(node_id, dep))]
    return check([(a, b) for a, b, _ in walk] == want, "%s: node %d walked %s" % (what, node_id, [(a, b) for a, b, _ in walk]))


def test_lifecycle(s):
    st, dep = s.create("edge", 20, via=s.api)  # through apid's front door
    check(st == 201 and dep["name"] == "edge" and dep["description"] is None and dep["target_node_count"] == 20 and
          dep["created_at"].endswith("Z"), "POST through apid: 201 with the deployment: %s %s" % (st, dep))
    d = dep["id"]
    st, got = s.call("GET", "/deployments/%d" % d)
    check(st == 200 and got["current_node_count"] == 20, "GET one: current_node_count 20 (%s)" % got)
    nodes = s.settled(d)
    check(nodes is not None and len(nodes) == 20, "all 20 nodes settled")
    ev = s.events(d)
    w = walks(ev)
    for i, n in enumerate(nodes or []):
        nid = n["id"]
        check(n["node_id"] == "node-%03d" % (i + 1) and n["hostname"] == "switch-%d-%03d" % (d, i + 1),
              "node %d named node-%03d / switch-%d-%03d: %s %s" % (nid, i + 1, d, i + 1, n["node_id"], n["hostname"]))
        check(n["ip_address"] == "10.%d.%d.%d" % (nid >> 16 & 255, nid >> 8 & 255, nid & 255), "node %d address %s" % (nid, n["ip_address"]))
        check(n["state"] == expected_end(nid, d), "node %d ends %s (rule (id + deployment) %% 20)" % (nid, n["state"]))
        walk = w.get(nid, [])
        if check_walk(d, nid, walk, "lifecycle"):
            prov, conf = walk[1][2] - walk[0][2], walk[2][2] - walk[1][2]
            want_p, want_c = (3 + nid % 5) * SCALE, (5 + nid % 7) * SCALE
            # Never early; late by at most a tick plus what a loaded machine adds.
            check(want_p - 0.002 <= prov <= want_p + TICK + 2.0 and want_c - 0.002 <= conf <= want_c + TICK + 2.0,
                  "node %d: %.3f s provisioning (rule %.3f), %.3f s configuring (rule %.3f)" % (nid, prov, want_p, conf, want_c))
    running = {n["hostname"] for n in nodes or [] if n["state"] == "RUNNING"}
    failed = {n["hostname"] for n in nodes or [] if n["state"] == "FAILED"}
    check(len(failed) == 1, "exactly one of 20 consecutive ids fails: %s" % failed)
    fab = s.env.wait_for(lambda: (lambda f: f if running <= f else None)(s.fabric()), timeout=30)
    check(fab is not None and not (failed & fab), "every RUNNING node is in ListMetrics, no FAILED one: %s" % sorted(running - (fab or set())))
    joined = {e["node_id"] for e in ev if e["event_type"] == "NODE_JOINED_FABRIC"}
    check(joined == {n["id"] for n in nodes or [] if n["state"] == "RUNNING"}, "one NODE_JOINED_FABRIC per running node")
    st, _ = s.call("DELETE", "/deployments/%d" % d)
    check(st == 204, "DELETE: 204 (%d)" % st)
    check(s.call("GET", "/deployments/%d" % d)[0] == 404, "the deployment is gone")
    gone = s.env.wait_for(lambda: not (running & s.fabric()), timeout=30)
    check(gone, "its switches left ListMetrics: %s" % sorted(running & s.fabric()))
    ev2 = s.events(d)
    check(ev2 is not None and len(ev2) > len(ev) and ev2[-1]["event_type"] == "DEPLOYMENT_CREATED" and
          any(e["event_type"] == "DEPLOYMENT_DELETED" for e in ev2) and
          {e["node_id"] for e in ev2 if e["event_type"] == "NODE_LEFT_FABRIC"} == joined,
          "events stay after the deletion, with DEPLOYMENT_DELETED and a NODE_LEFT_FABRIC per node")
    return d


def reference_zscore(samples_by_node):
    """The seed-003 reference's analysis over all samples of the window: baseline mean and sample sd per metric,
    each node's mean, z by direction, flagged at 2.0, score 0.4 z_lat + 0.4 z_thr + 0.2 z_err over positive z."""
    fields = [("latency_ms", 1, 0.4), ("throughput_gbps", -1, 0.4), ("error_rate", 1, 0.2)]
    allv = {f: [x[f] for ss in samples_by_node.values() for x in ss] for f, _, _ in fields}
    base = {}
    for f, _, _ in fields:
        v = allv[f]
        m = sum(v) / len(v)
        sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5
        base[f] = (m, sd)
    out = {}
    for nid, ss in samples_by_node.items():
        score, flag = 0.0, False
        for f, d, wgt in fields:
            mean = sum(x[f] for x in ss) / len(ss)
            z = d * (mean - base[f][0]) / base[f][1] if base[f][1] > 0 else 0.0
            flag |= z >= 2.0
            score += wgt * max(0.0, z)
        if flag:
            out[nid] = score
    return out


def test_telemetry_bottlenecks(s):
    st, dep = s.create("degraded", 20)
    d = dep["id"]
    nodes = s.settled(d)
    run = [n for n in nodes or [] if n["state"] == "RUNNING"]
    # Enough samples of every running node for the statistics (the module judges from 3).
    enough = s.env.wait_for(lambda: all(s.call("GET", "/deployments/%d/telemetry?node_id=%d&limit=1" % (d, n["id"]))[1]["total"] >= 8
                                        for n in run), timeout=60, step=0.2)
    check(enough, "every running node has samples in history")
    os.kill(s.prod.pid, signal.SIGSTOP)  # values hold still: both questions see the same samples
    try:
        time.sleep(0.5)  # an answer on its way to ingestd lands (it is published or not; nothing after)
        st, tel = s.call("GET", "/deployments/%d/telemetry?limit=5" % d)
        check(st == 200 and len(tel["samples"]) == 5 and tel["total"] >= 8 * len(run) and
              all(set(x) == {"id", "node_id", "deployment_id", "timestamp", "latency_ms", "throughput_gbps", "error_rate"} for x in tel["samples"]) and
              [ts(x["timestamp"]) for x in tel["samples"]] == sorted([ts(x["timestamp"]) for x in tel["samples"]], reverse=True),
              "telemetry: newest first, the reference's fields, total counts every match (%s)" % (tel and tel.get("total")))
        x = tel["samples"][0] if st == 200 and tel["samples"] else {}
        check(isinstance(x.get("id"), int) and x.get("id", 0) >= 1 and x.get("deployment_id") == d,
              "a sample's id is the generation it was published in: %s" % x)
        st, bn = s.call("GET", "/deployments/%d/bottlenecks?analysis_window_minutes=1" % d)
        flagged = {b["node_id"] for b in bn["bottlenecks"]} if st == 200 else None
        degraded = {n["id"] for n in run if n["id"] % 10 >= 8}
        check(st == 200 and bn["method"] == "robust" and flagged == degraded and bn["total_bottlenecks"] == len(degraded),
              "robust flags exactly the degraded running nodes %s: %s" % (sorted(degraded), flagged and sorted(flagged)))
        check(st == 200 and all(set(b) >= {"node_id", "node_identifier", "deployment_id", "latency_ms", "throughput_gbps", "error_rate",
                                           "deviation_score", "timestamp"} for b in bn["bottlenecks"]) and
              [b["deviation_score"] for b in bn["bottlenecks"]] == sorted([b["deviation_score"] for b in bn["bottlenecks"]], reverse=True),
              "bottlenecks: the reference's fields, worst first")
        st, zs = s.call("GET", "/deployments/%d/bottlenecks?analysis_window_minutes=1&method=zscore" % d)
        end = ts(zs["detected_at"]) if st == 200 else time.time()
        lo = datetime.fromtimestamp(end - 60, timezone.utc).isoformat().replace("+00:00", "Z")
        hi = datetime.fromtimestamp(end, timezone.utc).isoformat().replace("+00:00", "Z")
        by_node = {}
        for n in run:
            _, t = s.call("GET", "/deployments/%d/telemetry?node_id=%d&start_time=%s&end_time=%s&limit=1000" % (d, n["id"], lo, hi))
            by_node[n["id"]] = t["samples"]
        want = reference_zscore(by_node)
        got = {b["node_id"]: b["deviation_score"] for b in zs["bottlenecks"]} if st == 200 else {}
        check(st == 200 and set(got) == set(want) and all(abs(got[k] - want[k]) <= 1e-6 * max(1.0, abs(want[k])) for k in want),
              "zscore gives the reference's numbers on the same samples: %s vs %s" % (got, want))
    finally:
        os.kill(s.prod.pid, signal.SIGCONT)
    st, bad = s.call("GET", "/deployments/%d/bottlenecks?analysis_window_minutes=61" % d)
    check(st == 400 and bad["error"]["field"] == "analysis_window_minutes", "window past 60: 400 (%d)" % st)
    return d


def test_capacity(s):
    st, before = s.call("GET", "/deployments?limit=1000")
    st, doc = s.create("too-big", 1000)
    check(st == 409 and "max-switches" in doc["error"]["message"], "past ingestd's capacity: 409 naming it (%d %s)" % (st, doc))
    check(s.call("GET", "/deployments?limit=1000")[1] == before, "nothing was created")


def ticks(s):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith("fabtel_orchd_tick_seconds_count "):
            return int(line.split()[1])
    return -1


def test_producer_restart(s, dep):
    want = {n["hostname"] for n in s.nodes(dep) if n["state"] == "RUNNING"}
    check(set(s.producer_nodes() or {}) >= want, "before: the producer has the running nodes")
    s.prod.stop(signal.SIGKILL)
    s.env.procs.remove(s.prod)
    s.prod = s.start_producer()
    t0 = ticks(s)
    back = s.env.wait_for(lambda: want <= set(s.producer_nodes() or {}), timeout=30, step=0.01)
    t1 = ticks(s)
    check(back and 0 <= t1 - t0 <= 2, "a restarted producer got its %d nodes back within two ticks (%d)" % (len(want), t1 - t0))


def test_bad_input(s):
    st, before = s.call("GET", "/deployments?limit=1000")
    bodies = [
        (b"not json", J, 400, "body"), (b"[1,2]", J, 400, "body"), (b'{"name":"a","target_node_count":2}', {}, 415, "Content-Type"),
        (b'{"name":"a","target_node_count":2}', {"Content-Type": "text/plain"}, 415, "Content-Type"),
        ({"target_node_count": 2}, J, 400, "name"), ({"name": "", "target_node_count": 2}, J, 400, "name"),
        ({"name": "x" * 256, "target_node_count": 2}, J, 400, "name"), ({"name": 5, "target_node_count": 2}, J, 400, "name"),
        ({"name": "a"}, J, 400, "target_node_count"), ({"name": "a", "target_node_count": 0}, J, 400, "target_node_count"),
        ({"name": "a", "target_node_count": 1001}, J, 400, "target_node_count"),
        ({"name": "a", "target_node_count": "5"}, J, 400, "target_node_count"),
        ({"name": "a", "target_node_count": True}, J, 400, "target_node_count"),
        ({"name": "a", "target_node_count": 2.5}, J, 400, "target_node_count"),
        ({"name": "a", "target_node_count": 2, "description": 7}, J, 400, "description"),
        (b'{"name":"a","target_node_count":2' + b" " * (1 << 20) + b"}", J, 413, "body"),
    ]
    for body, hdrs, want, field in bodies:
        st, doc = s.call("POST", "/deployments", body, hdrs)
        check(st == want and doc and doc["error"]["status"] == want and doc["error"].get("field") == field,
              "POST %.60s -> %d naming %s (got %d %s)" % (body, want, field, st, doc))
    check(s.call("GET", "/deployments?limit=1000")[1] == before, "no bad POST wrote anything")
    st, ok = s.call("POST", "/deployments", {"name": "é" * 255, "description": None, "target_node_count": 1, "unknown": [1]})
    check(st == 201 and ok["name"] == "é" * 255, "255 characters (not bytes) is a name; unknown fields are ignored (%d)" % st)
    gets = [("/deployments/abc", 400, "id"), ("/deployments/0", 400, "id"), ("/deployments/-3", 400, "id"),
            ("/deployments/99999999999999999999", 400, "id"), ("/deployments/424242", 404, "id"),
            ("/deployments?skip=-1", 400, "skip"), ("/deployments?limit=0", 400, "limit"), ("/deployments?limit=1001", 400, "limit"),
            ("/deployments?limit=ten", 400, "limit"), ("/deployments/424242/nodes", 404, "id"), ("/deployments/424242/events", 404, "id"),
            ("/deployments/%d/telemetry?node_id=x" % ok["id"], 400, "node_id"),
            ("/deployments/%d/telemetry?start_time=yesterday" % ok["id"], 400, "start_time"),
            ("/deployments/%d/telemetry?end_time=2026-13-40T00:00:00Z" % ok["id"], 400, "end_time"),
            ("/deployments/%d/telemetry?limit=1001" % ok["id"], 400, "limit"),
            ("/deployments/%d/bottlenecks?analysis_window_minutes=0" % ok["id"], 400, "analysis_window_minutes"),
            ("/deployments/%d/bottlenecks?method=mean" % ok["id"], 400, "method"),
            ("/deployments/%d/bottlenecks?threshold=-1" % ok["id"], 400, "threshold"),
            ("/deployments/%d/events?limit=0" % ok["id"], 400, "limit")]
    for path, want, field in gets:
        st, doc = s.call("GET", path)
        check(st == want and doc and doc["error"]["status"] == want and doc["error"].get("field") == field,
              "GET %s -> %d naming %s (got %d %s)" % (path, want, field, st, doc))
    st, doc = s.call("GET", "/deployments/424242")
    check("not found" in doc["error"]["message"], "a 404's message says not found: %s" % doc)
    for method, path, want in (("PUT", "/deployments/1", 405), ("PATCH", "/deployments", 405), ("GET", "/nope", 404),
                               ("DELETE", "/deployments/424242", 404)):
        st, doc = s.call(method, path)
        check(st == want and doc["error"]["status"] == want, "%s %s -> %d (got %d)" % (method, path, want, st))
    # Pagination edges.
    names = []
    for i in range(3):
        names.append(s.create("page-%d" % i, 1)[1]["id"])
    st, page = s.call("GET", "/deployments?skip=0&limit=2")
    check(st == 200 and [x["id"] for x in page] == names[::-1][:2], "newest first, limit 2: %s" % [x["id"] for x in page or []])
    st, page = s.call("GET", "/deployments?skip=1&limit=1")
    check(st == 200 and [x["id"] for x in page] == [names[1]], "skip 1 limit 1")
    st, page = s.call("GET", "/deployments?skip=100000&limit=1000")
    check(st == 200 and page == [], "skip past the end: []")
    ev = s.events(names[0])
    st, doc = s.call("GET", "/deployments/%d/events?skip=%d" % (names[0], len(ev)))
    check(st == 200 and doc["events"] == [] and doc["total"] == len(ev), "events skip past the end: [] with the total")
    for i in names + [ok["id"]]:
        s.call("DELETE", "/deployments/%d" % i)


def test_front_door(s):
    st, doc, _ = http_json(s.api, "POST", "/deployments", json.dumps({"name": "x", "target_node_count": 1}),
                           {"Content-Type": "application/json", "Origin": "http://evil.example"})
    check(st == 403, "a cross-origin write is refused by apid (%d)" % st)
    st, doc = s.create("via-apid", 2, via=s.api)
    d = doc["id"]
    check(st == 201 and http_json(s.api, "GET", "/deployments/%d" % d)[1] == s.call("GET", "/deployments/%d" % d)[1],
          "apid serves orchd's answer unchanged")
    st, h, _ = http_json(s.api, "GET", "/health")
    check(st == 200 and h.get("database") == "healthy" and isinstance(h.get("active_deployments"), int) and
          h.get("components", {}).get("orchd") == "ok" and "timestamp" in h,
          "apid /health reports orchd: %s" % h)
    s.call("DELETE", "/deployments/%d" % d)
    s.orchd.stop()
    s.env.procs.remove(s.orchd)
    st, doc, _ = http_json(s.api, "GET", "/deployments")
    check(st == 503 and "orchd" in doc["error"]["message"], "orchd down: apid answers 503 naming it (%d %s)" % (st, doc))
    h = s.env.wait_for(lambda: (lambda r: r[1] if r[1].get("components", {}).get("orchd") == "down" else None)(http_json(s.api, "GET", "/health")),
                       timeout=15)
    check(h is not None and h["database"] == "unhealthy" and h["status"] in ("ok", "degraded", "healthy"),
          "apid /health: orchd down, database unhealthy, telemetry status kept: %s" % h)
    s.orchd = s.start_orchd()


def test_kills(s, kills):
    """SIGKILL orchd at random points while deployments are created, moving and deleted."""
    rng = random.Random(11)
    acked, deleted, tried, t0 = {}, set(), set(), time.time()  # tried: a DELETE was sent (acknowledged or not)
    def write(k, op):
        try:
            if op < 0.6 or not acked:
                st, doc = s.create("k%d" % k, rng.randint(1, 12))
                if st == 201:
                    acked[doc["id"]] = doc
            else:
                d = rng.choice(sorted(set(acked) - deleted) or sorted(acked))
                tried.add(d)
                st, _ = s.call("DELETE", "/deployments/%d" % d)
                if st == 204:
                    deleted.add(d)
        except OSError:
            pass  # killed before it answered: not acknowledged, either outcome is right

    for k in range(kills):
        op = rng.random()
        if k % 3 == 0:  # the kill lands while the write is in flight (before, during or after its commit)
            t = threading.Thread(target=write, args=(k, op))
            t.start()
            time.sleep(rng.uniform(0.0, 0.02))
            s.kill_orchd()
            t.join(30)
        else:  # the kill lands anywhere in the ticks, commits and provisioning calls after an acknowledged write
            write(k, op)
            time.sleep(rng.uniform(0.0, 0.25))
            s.kill_orchd()
        s.orchd = s.start_orchd()
    took = time.time() - t0
    live = sorted(set(acked) - tried)  # a DELETE cut off by a kill may or may not have happened: neither outcome is checked
    print("kills: %d SIGKILLs of orchd in %.1f s; %d creates and %d deletes acknowledged" % (kills, took, len(acked), len(deleted)))
    lost = [d for d in live if s.call("GET", "/deployments/%d" % d)[0] != 200]
    back = [d for d in deleted if s.call("GET", "/deployments/%d" % d)[0] != 404]
    check(not lost and not back, "%d SIGKILLs in %.1f s: every acknowledged create is there (%s lost), every acknowledged delete "
          "stayed deleted (%s back)" % (kills, took, lost, back))
    bad = 0
    for d in live:
        nodes = s.settled(d, timeout=60)
        w = walks(s.events(d) or [])
        for n in nodes or []:
            bad += not check_walk(d, n["id"], w.get(n["id"], []), "after kills")
        bad += nodes is None or len(nodes) != acked[d]["target_node_count"]
    check(bad == 0, "after the kills every node resumed and walked its states once each (%d wrong)" % bad)
    # What orchd holds (a create cut off by a kill may have committed without its answer: it is there too).
    running, existing = set(), [x["id"] for x in s.call("GET", "/deployments?limit=1000")[1]]
    for d in existing:
        s.settled(d, timeout=60)
        running |= {n["hostname"] for n in s.nodes(d) or [] if n["state"] == "RUNNING"}
    have = s.env.wait_for(lambda: (lambda p: p if p is not None and {x for x in p if x.startswith("switch-")} == running else None)(s.producer_nodes()),
                          timeout=30)
    check(have is not None, "the fabric carries exactly the running nodes after the kills (%d)" % len(running))
    for d in existing:
        s.call("DELETE", "/deployments/%d" % d)


def test_backup_and_stop(s):
    st, doc = s.create("backed-up", 1)
    dst = os.path.join(s.env.dir, "backup.sqlite")
    src = sqlite3.connect(os.path.join(s.state, "orchd.sqlite"))
    out = sqlite3.connect(dst)
    src.backup(out)
    src.close()
    n = out.execute("SELECT count(*) FROM deployments WHERE id=?", (doc["id"],)).fetchone()[0]
    out.close()
    check(st == 201 and n == 1, "an online backup while orchd runs holds the acknowledged deployment")
    rc = s.orchd.stop()
    check(rc == 0 and "event=stopped" in s.orchd.text(), "orchd stops with exit 0 (rc %s)" % rc)


def sanitized(path):
    with open(path, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data


def main():
    env = Env(sys.argv[1])
    kills = int(os.environ.get("FABTEL_ORCHD_KILLS", "15" if sanitized(env.bin("orchd/fabtel-orchd")) else "60"))
    try:
        s = Stack(env)
        test_lifecycle(s)
        d = test_telemetry_bottlenecks(s)
        test_capacity(s)
        test_producer_restart(s, d)
        s.call("DELETE", "/deployments/%d" % d)
        test_bad_input(s)
        test_front_door(s)
        test_kills(s, kills)
        test_backup_and_stop(s)
    finally:
        env.cleanup()
        unlink_segment(env.shm)
    return report("integration_orchd")


if __name__ == "__main__":
    sys.exit(main())
