#!/usr/bin/env python3
"""fabtel benchmark: fabtel against references in the same invocation, on loopback.

    python3 tools/bench/bench.py [--rounds 3] [--duration 5] [--out bench-results.tsv]

Builds in release mode, then for each case starts a reference and fabtel on
free loopback ports and runs wrk against them, alternating, for several rounds;
it reports medians, p50/p99 latency and the ratio fabtel/reference, as a table
and as TSV. Cases (issue "Performance"):
  1 GetMetric (50 switches) vs a libh2o server answering a constant body of the same size
  2 ListMetrics (50, 1000, 10000 switches) vs Debian's h2o serving a static file with the same body
  3 GetMetric and ListMetrics while ingest runs hard (50 switches every 10 ms; 10000 every second), vs idle
  4 freshness: producer sample time to visibility through GetMetric, p50/p99 over 100+ generations
  5 ingest: parse-and-publish time and CSV MB/s for 50, 10000, 100000 switches; segment size; worker RSS
  6 front door: GET forwarded through apid vs the same upstream straight; long-poll publish-to-client latency
  7 flows: POST throughput (records/s, 50 connections, batches of 1/10/100) of flowd vs the seed's design
    (FastAPI + SQLite, tools/bench/flows_reference.py) vs the engine limit (tools/bench/flow_engine.c)
  8 history: what recording costs a publish (10,000 and 100,000 switches, on vs off in one run), bytes per
    sample and the windows a budget keeps (tools/bench/history_bench.c); /telemetry/history for one series,
    1 h raw and 24 h at 1-minute steps, vs a libh2o server answering a body of the same bytes, cache hits
    (the same question) and misses (every request another window) measured apart
  9 bottlenecks: /telemetry/bottlenecks over 10,000 switches and a 10-minute window of history, time per answer
    (each request another question, so never from the cache), ingest paused vs publishing every second
 10 orchd vs the seed's design (FastAPI + SQLAlchemy + SQLite, tools/bench/orch_reference.py): a 1,000-node
    deployment, time to 201 over HTTP; one lifecycle tick over 16 deployments x 1,000 nodes (all due, none due);
    a deployment's bottlenecks over 1,000 nodes and a 60-minute window (tools/bench/orch_bench.c, in-process both)
 11 dashboard: the fabric view in headless Chromium at 50, 1,000 and 10,000 switches with a generation every second:
    time to first render, frame time per generation, page weight (tools/bench/dashboard_bench.py)
 12 UFM: 200,000 ports x 31 counters — in-process (tools/bench/ufm_bench.c: parse, rewrite, apply, publish, with and
    without the pre-rendered ListMetrics, and with history), then live (producer --format ufm, ingestd, apid):
    ingest durations while GetMetric is served under wrk
 13 flows on PostgreSQL: POST throughput (records/s, 50 connections, batches of 10 and 100) of one flowd on SQLite,
    one flowd front end on PostgreSQL and two front ends sharing it (25 connections each, at once), in one run
    (a private PostgreSQL 15 from tests/pg.py, fsync on)
Every server is stopped by pid at the end; every load is bounded in time and loopback only."""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from fabtel_test import Env, children, free_port, http_get  # noqa: E402

RESULTS = []


def record(case, metric, value, unit, note=""):
    RESULTS.append((case, metric, value, unit, note))
    print("%-34s %-34s %12s %-6s %s" % (case, metric, ("%.3f" % value) if isinstance(value, float) else value, unit, note), flush=True)


def wrk(url, duration, conns=50, threads=2):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, "--latency", url],
                         capture_output=True, text=True, timeout=duration + 30).stdout

    def lat(pct):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, out, re.M)
        if not m:
            return float("nan")
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": lat(50), "p99": lat(99), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(1) if errors else ""}


def compare(case, ref_url, fab_url, rounds, duration):
    """Alternate reference and fabtel; report medians and the ratio."""
    ref, fab = [], []
    for _ in range(rounds):
        ref.append(wrk(ref_url, duration))
        fab.append(wrk(fab_url, duration))
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    record(case, "reference req/s (median)", med(ref, "rps"), "req/s")
    record(case, "fabtel req/s (median)", med(fab, "rps"), "req/s")
    record(case, "ratio fabtel/reference", med(fab, "rps") / med(ref, "rps"), "x")
    record(case, "reference p50 / p99", "%.3f / %.3f" % (med(ref, "p50"), med(ref, "p99")), "ms")
    record(case, "fabtel p50 / p99", "%.3f / %.3f" % (med(fab, "p50"), med(fab, "p99")), "ms")
    record(case, "fabtel non-2xx answers", sum(x["non2xx"] for x in fab), "")
    record(case, "reference non-2xx answers", sum(x["non2xx"] for x in ref), "", "must be 0 for the ratio to mean anything")
    return med(fab, "rps")


def start_fabric(env, switches, interval, tag, extra_ingest=()):
    shm = "%s-%s" % (env.shm, tag)
    prod = env.producer("--switches", str(switches), "--interval", str(interval), "--seed", "1")
    cap = ["--max-switches", str(max(switches, 64))]
    ing = env.ingestd(prod.url, *cap, *extra_ingest, shm=shm)
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--shm-name", shm, "--workers", "2")
    base = "http://127.0.0.1:%d" % apid.port()
    end = time.time() + 60
    while time.time() < end and http_get(base + "/health")[0] != 200:
        time.sleep(0.1)
    return prod, ing, apid, base, shm


def stop_all(env, *procs):
    for p in procs:
        p.stop()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+)", f.read())
    return int(m.group(1)) if m else 0


def case_getmetric(env, args):
    prod, ing, apid, base, _ = start_fabric(env, 50, 3600, "gm")
    url = base + "/telemetry/GetMetric?switch_id=sw-05&metric=latency"
    body = http_get(url)[2]
    path = os.path.join(env.dir, "getmetric.json")
    with open(path, "wb") as f:
        f.write(body)
    ref = env.start("tools/bench/bench-refserver", "--listen", "127.0.0.1:0", "--body-file", path, "--workers", "2")
    compare("1 GetMetric 50 sw (%d B)" % len(body), "http://127.0.0.1:%d/x" % ref.port(), url, args.rounds, args.duration)
    stop_all(env, ref, apid, ing, prod)


def h2o_static(env, body, name):
    docroot = os.path.join(env.dir, "docroot-" + name)
    os.makedirs(docroot, exist_ok=True)
    with open(os.path.join(docroot, "list.json"), "wb") as f:
        f.write(body)
    # h2o started as root serves as 'nobody': the files must be readable by it (mkdtemp makes 0700 dirs).
    for d in (env.dir, docroot):
        os.chmod(d, 0o755)
    os.chmod(os.path.join(docroot, "list.json"), 0o644)
    port = free_port()
    conf = os.path.join(env.dir, "h2o-%s.conf" % name)
    with open(conf, "w") as f:
        f.write("listen:\n  host: 127.0.0.1\n  port: %d\nnum-threads: 2\nhosts:\n  default:\n    paths:\n      /:\n"
                "        file.dir: %s\n" % (port, docroot))
    p = env.start("/usr/bin/h2o", "-c", conf, tag="h2o")
    p.args[0] = "h2o"
    end = time.time() + 10
    while True:
        try:
            st, _, got = http_get("http://127.0.0.1:%d/list.json" % port)
            if st == 200 and got == body:
                break
        except OSError:
            pass
        if time.time() > end:
            raise RuntimeError("h2o does not serve the reference file:\n" + p.text())
        time.sleep(0.1)
    return p, "http://127.0.0.1:%d/list.json" % port


def case_listmetrics(env, args):
    for n in (50, 1000, 10000):
        prod, ing, apid, base, _ = start_fabric(env, n, 3600, "lm%d" % n)
        url = base + "/telemetry/ListMetrics"
        body = http_get(url)[2]
        ref, ref_url = h2o_static(env, body, str(n))
        compare("2 ListMetrics %d sw (%d B)" % (n, len(body)), ref_url, url, args.rounds, args.duration)
        stop_all(env, ref, apid, ing, prod)


def case_under_ingest(env, args):
    """Same fabric, alternating rounds: the producer paused (SIGSTOP: no new generations, ingestd idle in its long
    poll) and running (a generation every `interval`), so machine noise hits both sides alike."""
    import signal
    for n, interval in ((50, 0.01), (10000, 1.0)):
        prod, ing, apid, base, _ = start_fabric(env, n, interval, "ui%d" % n)
        for q, path in (("GetMetric", "/telemetry/GetMetric?switch_id=sw-%0*d&metric=latency" % (max(2, len(str(n))), 5)),
                        ("ListMetrics", "/telemetry/ListMetrics")):
            runs = {"idle": [], "busy": []}
            for _ in range(args.rounds):
                for mode in ("idle", "busy"):
                    os.kill(prod.pid, signal.SIGSTOP if mode == "idle" else signal.SIGCONT)
                    time.sleep(0.3)
                    c0, t0 = cpu_seconds(ing.pid), time.time()
                    r = wrk(base + path, args.duration)
                    r["ingest_cpu"] = (cpu_seconds(ing.pid) - c0) / (time.time() - t0)
                    runs[mode].append(r)
            os.kill(prod.pid, signal.SIGCONT)
            idle = statistics.median(r["rps"] for r in runs["idle"])
            busy = statistics.median(r["rps"] for r in runs["busy"])
            case = "3 %s %d sw every %gs" % (q, n, interval)
            record(case, "idle-ingest req/s (median)", idle, "req/s")
            record(case, "busy-ingest req/s (median)", busy, "req/s")
            record(case, "ratio busy/idle", busy / idle, "x")
            record(case, "ingestd CPU share while busy", statistics.median(r["ingest_cpu"] for r in runs["busy"]), "cores")
            record(case, "non-2xx answers (busy)", sum(r["non2xx"] for r in runs["busy"]), "")
        stop_all(env, apid, ing, prod)


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def case_freshness(env, args):
    for n, interval, gens in ((50, 0.05, 150), (10000, 0.5, 100)):
        prod, ing, apid, base, _ = start_fabric(env, n, interval, "fr%d" % n)
        host, port = base.replace("http://", "").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        path = "/telemetry/GetMetric?switch_id=sw-%s&metric=latency" % ("1".zfill(max(2, len(str(n)))))
        seen, lags = None, []
        end = time.time() + gens * interval * 3 + 30
        while len(lags) < gens and time.time() < end:
            conn.request("GET", path)
            r = conn.getresponse()
            doc = r.read()
            m = re.search(rb'"timestamp":"([^"]+)"', doc)
            if not m:
                continue
            ts = m.group(1).decode()
            if ts != seen:
                now = time.time()
                if seen is not None:
                    lags.append((now - parse_ts(ts)) * 1000)
                seen = ts
        lags.sort()
        case = "4 freshness %d sw every %gs" % (n, interval)
        record(case, "generations observed", len(lags), "")
        if lags:
            record(case, "p50 sample->visible", lags[len(lags) // 2], "ms")
            record(case, "p99 sample->visible", lags[min(len(lags) - 1, int(len(lags) * 0.99))], "ms")
        stop_all(env, apid, ing, prod)


def private_kb(pid):
    """Memory private to the process (not the shared segment mapping), from smaps_rollup."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        t = f.read()
    return sum(int(x) for x in re.findall(r"Private_(?:Clean|Dirty):\s+(\d+)", t))


def case_ingest(env, args):
    for n, interval in ((50, 0.5), (10000, 1.0), (100000, 3.0)):
        prod, ing, apid, base, shm = start_fabric(env, n, interval, "in%d" % n, extra_ingest=("--log-level", "debug"))
        case = "5 ingest %d sw" % n
        end = time.time() + 60
        while time.time() < end and len(re.findall(r"event=published generation=\d+", ing.text())) < 4:
            time.sleep(0.2)
        runs = [(int(b), int(u)) for b, u in re.findall(r"event=published generation=\d+ switches=\d+ bytes=(\d+) duration_us=(\d+)",
                                                        ing.text())]
        if len(runs) < 2:
            record(case, "published", "no", "", ing.text()[-300:])
            stop_all(env, apid, ing, prod)
            continue
        nbytes = runs[0][0]
        steady = statistics.median(u for _, u in runs[1:4])
        record(case, "CSV body", nbytes / 1e6, "MB")
        record(case, "first publish (fresh segment)", runs[0][1] / 1000, "ms", "first byte to visible; includes first-touch page faults")
        record(case, "parse+publish, steady (median)", steady / 1000, "ms", "generations 2-4, first byte to visible")
        record(case, "CSV throughput, steady", nbytes / 1e6 / (steady / 1e6), "MB/s")
        record(case, "segment size (mapped)", os.path.getsize("/dev/shm" + shm) / 1e6, "MB")
        http_get(base + "/telemetry/ListMetrics")
        http_get(base + "/telemetry/ListMetrics")
        http_get(base + "/telemetry/GetMetric?switch_id=sw-%s&metric=latency" % "1".zfill(max(2, len(str(n)))))
        workers = children(apid.pid)
        record(case, "apid worker RSS (max)", max(rss_kb(w) for w in workers) / 1024, "MiB", "includes touched pages of the shared mapping")
        record(case, "apid worker private memory (max)", max(private_kb(w) for w in workers) / 1024, "MiB",
               "RSS minus shared pages; holds this generation's cached ListMetrics copy")
        stop_all(env, apid, ing, prod)


def case_frontdoor(env, args):
    """Forwarding overhead (the same upstream straight and through apid) and long-poll latency."""
    path = os.path.join(env.dir, "deployment.json")
    with open(path, "wb") as f:
        f.write(b'{"id":7,"name":"d1","status":"RUNNING","nodes":3}')
    ref = env.start("tools/bench/bench-refserver", "--listen", "127.0.0.1:0", "--body-file", path, "--workers", "1")
    up = "http://127.0.0.1:%d" % ref.port()
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--shm-name", env.shm + "-fd", "--workers", "1", "--orchd", up)
    base = "http://127.0.0.1:%d" % apid.port()
    compare("6 forward GET /deployments/7", up + "/deployments/7", base + "/deployments/7", args.rounds, args.duration)
    stop_all(env, apid, ref)
    # Long poll: a held GetMetric answered after each publish (producer every 200 ms); lag = receipt - collected_at.
    prod, ing, apid, base, _ = start_fabric(env, 50, 0.2, "lp")
    url = "/telemetry/GetMetric?switch_id=sw-05&metric=latency"
    port = int(base.rsplit(":", 1)[1])
    lags = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    etag = None
    for _ in range(60):
        conn.request("GET", url + "&wait=30", headers={"If-None-Match": etag} if etag else {})
        r = conn.getresponse()
        body = r.read()
        now = time.time()
        etag = r.getheader("ETag")
        if r.status == 200 and etag is not None and lags is not None:
            doc = __import__("json").loads(body)
            pub = datetime.datetime.strptime(doc["collected_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
            lags.append((now - pub.timestamp()) * 1000)
    lags = sorted(lags[1:])  # the first answer is not a held one
    if lags:
        record("6 long poll (50 sw, 200 ms)", "publish to client p50 / p99", "%.2f / %.2f" % (
            lags[len(lags) // 2], lags[min(len(lags) - 1, int(len(lags) * 0.99))]), "ms", "%d held answers" % len(lags))
    stop_all(env, apid, ing, prod)


def wrk_post(url, batch, duration, conns=50):
    """wrk posting batches (tools/bench/flows_post.lua); records/s and the share of 201s."""
    script = os.path.join(ROOT, "tools", "bench", "flows_post.lua")
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--latency", "-s", script, url],
                         capture_output=True, text=True, env=dict(os.environ, FLOWS_BATCH=str(batch)), timeout=duration + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return (float(m.group(1)) * batch if m else 0.0), int(bad.group(1)) if bad else 0


def case_flows(env, args):
    """Write throughput: flowd vs the seed's design (FastAPI + SQLite) vs the engine limit, batches of 1, 10, 100."""
    if not os.path.exists("/usr/bin/python3") or subprocess.run(["/usr/bin/python3", "-c", "import fastapi, uvicorn"]).returncode:
        record("7 flows", "reference", "skipped", "", "apt-get install python3-fastapi python3-uvicorn")
        return
    for batch in (1, 10, 100):
        case = "7 flows POST, batches of %d" % batch
        state = tempfile.mkdtemp(prefix="bench-flows-", dir=env.dir)
        fport = free_port()
        flowd = env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % fport, "--state-dir", state)
        flowd.wait_log("event=listening", timeout=30)
        rport = free_port()
        ref = env.start("/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "flows_reference.py"), str(rport),
                        os.path.join(state, "reference.sqlite"), tag="flows-reference")
        end = time.time() + 30
        while time.time() < end:
            try:
                if http_get("http://127.0.0.1:%d/flows?hour=1" % rport)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        ref_r, fab_r = [], []
        for _ in range(args.rounds):
            r, bad_ref = wrk_post("http://127.0.0.1:%d" % rport, batch, args.duration)
            ref_r.append(r)
            r, bad_fab = wrk_post("http://127.0.0.1:%d" % fport, batch, args.duration)
            fab_r.append(r)
        eng = subprocess.run([os.path.join(env.bindir, "tools", "bench", "bench-flow-engine"), state, str(batch), str(args.duration)],
                             capture_output=True, text=True, timeout=args.duration + 60).stdout.strip()
        record(case, "reference (FastAPI + SQLite) records/s", statistics.median(ref_r), "rec/s", "non-2xx %d" % bad_ref)
        record(case, "flowd records/s (median)", statistics.median(fab_r), "rec/s", "non-2xx %d" % bad_fab)
        record(case, "engine limit records/s", float(eng or 0), "rec/s", "one synchronous=FULL commit per batch, no HTTP")
        record(case, "ratio flowd/reference", statistics.median(fab_r) / max(1.0, statistics.median(ref_r)), "x")
        record(case, "flowd commit p50 / p99 under load", "%s / %s" % commit_quantiles(fport), "s", "histogram bucket bounds")
        if batch == 100:
            flows_read(env, args, fport, rport)
        stop_all(env, ref, flowd)


def commit_quantiles(port):
    """p50 and p99 of flowd's commit time, as the upper bounds of its histogram's buckets."""
    text = http_get("http://127.0.0.1:%d/metrics" % port)[2].decode()
    buckets = [(b, int(c)) for b, c in re.findall(r'fabtel_flowd_commit_seconds_bucket\{le="([^"]+)"\} (\d+)', text)]
    total = buckets[-1][1] if buckets else 0
    q = lambda f: next((b for b, c in buckets if c >= f * total), "+Inf")  # noqa: E731
    return q(0.5), q(0.99)


def flows_read(env, args, fport, rport):
    """GET /flows?hour=N with 10,000 flows in the hour: flowd vs the seed's design."""
    batch = [{"src_app": "s%05d" % i, "dest_app": "d", "vpc_id": "v", "hour": 777, "bytes_rx": i, "bytes_tx": i} for i in range(10000)]
    body = __import__("json").dumps(batch).encode()
    for port in (fport, rport):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("POST", "/flows", body=body, headers={"Content-Type": "application/json"})
        c.getresponse().read()
        c.close()
    case = "7 flows GET, 10,000 flows in the hour"
    ref = wrk("http://127.0.0.1:%d/flows?hour=777" % rport, args.duration)
    fab = wrk("http://127.0.0.1:%d/flows?hour=777" % fport, args.duration)
    record(case, "reference requests/s, p99", "%.1f, %.1f ms" % (ref["rps"], ref["p99"]), "")
    record(case, "flowd requests/s, p99", "%.1f, %.1f ms" % (fab["rps"], fab["p99"]), "")
    record(case, "ratio flowd/reference", fab["rps"] / max(0.1, ref["rps"]), "x")


def bench_history_tool(env, *args):
    out = subprocess.run([env.bin("tools/bench/bench-history")] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=1800)
    if out.returncode != 0:
        raise RuntimeError("bench-history failed: " + out.stderr)
    return out.stdout


def wrk_script(url, script, environ, duration, conns=50, threads=2):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, "-s", script, url], capture_output=True,
                         text=True, timeout=duration + 30, env=dict(os.environ, **environ)).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), int(non2xx.group(1)) if non2xx else 0


def wrk_post_many(urls, batch, duration):
    """wrk at several front ends at once (50 connections shared out); total records/s and non-2xx answers."""
    script = os.path.join(ROOT, "tools", "bench", "flows_post.lua")
    conns = 50 // len(urls)
    procs = [subprocess.Popen(["wrk", "-t%d" % (2 // len(urls) or 1), "-c%d" % conns, "-d%ds" % duration, "-s", script, u],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, FLOWS_BATCH=str(batch))) for u in urls]
    total, bad = 0.0, 0
    for p in procs:
        out = p.communicate(timeout=duration + 60)[0]
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        total += float(m.group(1)) * batch if m else 0.0
        b = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        bad += int(b.group(1)) if b else 0
    return total, bad


def case_flows_pg(env, args):
    """Write throughput on PostgreSQL with one and two front ends, beside SQLite's in the same run."""
    from pg import Postgres
    pg = Postgres()
    try:
        for batch in (10, 100):
            case = "13 flows POST, batches of %d" % batch
            url = pg.create_db("bench%d" % batch)
            ports = [free_port() for _ in range(3)]
            sq = env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % ports[0], "--state-dir",
                           tempfile.mkdtemp(prefix="bench-flows-", dir=env.dir))
            fronts = [env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % p, "--store", url, "--state-dir", env.dir)
                      for p in ports[1:]]
            for d in [sq] + fronts:
                d.wait_log("event=listening", timeout=30)
            runs = {"sqlite": [], "pg1": [], "pg2": []}
            bad = {"sqlite": 0, "pg1": 0, "pg2": 0}
            targets = {"sqlite": [ports[0]], "pg1": [ports[1]], "pg2": ports[1:]}
            for _ in range(args.rounds):
                for k, t in targets.items():
                    r, b = wrk_post_many(["http://127.0.0.1:%d" % p for p in t], batch, args.duration)
                    runs[k].append(r)
                    bad[k] += b
            med = {k: statistics.median(v) for k, v in runs.items()}
            record(case, "SQLite, one flowd records/s", med["sqlite"], "rec/s", "non-2xx %d" % bad["sqlite"])
            record(case, "PostgreSQL, one front end records/s", med["pg1"], "rec/s", "non-2xx %d" % bad["pg1"])
            record(case, "PostgreSQL, two front ends records/s", med["pg2"], "rec/s", "non-2xx %d" % bad["pg2"])
            record(case, "ratio PostgreSQL 1 front end / SQLite", med["pg1"] / max(1.0, med["sqlite"]), "x")
            record(case, "ratio 2 front ends / 1", med["pg2"] / max(1.0, med["pg1"]), "x", "all on the same 2 cores as PostgreSQL")
            record(case, "deadlocks run again (2 front ends)", sum(f.text().count("event=commit_retry") for f in fronts), "")
            stop_all(env, sq, *fronts)
    finally:
        pg.stop()


def case_history(env, args):
    """History: the publish cost and the budget (bench-history), then queries against a prefilled day."""
    for n, gens in ((10000, 30), (100000, 10)):
        out = bench_history_tool(env, "--switches", n, "--generations", gens)
        case = "8 history publish %d sw" % n
        for label, key in (("parse+apply+publish", "wall, parse+apply+publish"), ("publish alone", "wall, publish alone"),
                           ("CPU time", "CPU, all threads")):
            m = re.search(r"%s.*?off\s+([\d.]+) ms\s+on\s+([\d.]+) ms\s+ratio on/off ([\d.]+)" % re.escape(label), out)
            if m:
                record(case, key + " off / on", "%s / %s" % (m.group(1), m.group(2)), "ms")
                record(case, key + " ratio on/off", float(m.group(3)), "x", "goal <= 1.10 (wall)" if "wall" in key else "")
    out = bench_history_tool(env, "--switches", 50, "--generations", 3000, "--history-bytes", 64 << 20)
    m = re.search(r"bytes per sample .*?([\d.]+) B", out)
    record("8 history storage", "bytes per sample (1 s, simulated fabric)", float(m.group(1)), "B", "goal <= 3, lossless")
    for line in out.splitlines():
        m = re.match(r"budget\s+(\d+) MiB,\s+(\d+) switches .*full resolution\s+([\d.]+) h, rollups\s+([\d.]+) h", line)
        if m and m.group(1) in ("512", "2048"):
            record("8 history storage", "%s MiB, %s sw: raw / rollup window" % (m.group(1), m.group(2)),
                   "%s / %s" % (m.group(3), m.group(4)), "h")
    state = os.path.join(env.dir, "state-history-bench")
    os.makedirs(state, exist_ok=True)
    bench_history_tool(env, "--prefill", state, "--hours", 24, "--switches", 50)
    prod = env.producer("--switches", "50", "--interval", "3600", "--seed", "1")
    shm = env.shm + "-hq"
    ing = env.ingestd(prod.url, "--state-dir", state, "--history-bytes", str(512 << 20), shm=shm)
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--shm-name", shm, "--workers", "2", "--history-max-points", "4000")
    base = "http://127.0.0.1:%d" % apid.port()
    end = time.time() + 60
    while time.time() < end and http_get(base + "/health")[0] != 200:
        time.sleep(0.1)
    now = time.time() - 2
    for name, span, extra in (("1 h raw", 3600, ""), ("24 h at 60 s", 86400, "&step=60")):
        fmt = "/telemetry/history?switch_id=sw-05&metric=latency&from=%.3f&to=%.3f" + extra
        url = base + fmt % (now - span, now)
        body = http_get(url)[2]
        points = body.count(b"],[") + 1
        path = os.path.join(env.dir, "history-%d.json" % span)
        with open(path, "wb") as f:
            f.write(body)
        ref = env.start("tools/bench/bench-refserver", "--listen", "127.0.0.1:0", "--body-file", path, "--workers", "2")
        ref_url = "http://127.0.0.1:%d/x" % ref.port()
        case = "8 history %s (%d points, %d B)" % (name, points, len(body))
        compare(case + " hits", ref_url, url, args.rounds, args.duration)
        lua = os.path.join(ROOT, "tools", "bench", "history_query.lua")
        ref_rps, miss_rps, bad = [], [], 0
        for _ in range(args.rounds):
            ref_rps.append(wrk(ref_url, args.duration)["rps"])
            rps, non2xx = wrk_script(base, lua, {"FT_PATH": fmt, "FT_TO": "%.3f" % now, "FT_SPAN": str(span)}, args.duration)
            miss_rps.append(rps)
            bad += non2xx
        record(case + " misses", "reference req/s (median)", statistics.median(ref_rps), "req/s")
        record(case + " misses", "fabtel req/s, every window new (median)", statistics.median(miss_rps), "req/s")
        record(case + " misses", "ratio fabtel/reference", statistics.median(miss_rps) / statistics.median(ref_rps), "x", "goal >= 0.5")
        record(case + " misses", "fabtel non-2xx answers", bad, "")
        ref.stop()
    stop_all(env, apid, ing, prod)


def case_bottlenecks(env, args):
    """Time per answer of the fabric's bottlenecks at 10,000 switches, 10-minute window, idle and under ingest."""
    n = 10000
    state = os.path.join(env.dir, "state-bottleneck-bench")
    os.makedirs(state, exist_ok=True)
    bench_history_tool(env, "--prefill", state, "--hours", 0.2, "--switches", n, "--history-bytes", 2 << 30)
    prod = env.producer("--switches", str(n), "--interval", "1", "--seed", "1")
    shm = env.shm + "-bn"
    ing = env.ingestd(prod.url, "--max-switches", str(n + 16), "--state-dir", state, "--history-bytes", str(2 << 30), shm=shm)
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--shm-name", shm, "--workers", "2")
    base = "http://127.0.0.1:%d" % apid.port()
    end = time.time() + 120
    while time.time() < end and http_get(base + "/health")[0] != 200:
        time.sleep(0.1)
    q = [0]

    def timed():
        q[0] += 1  # another threshold each time: a question the cache has not seen
        t = time.perf_counter()
        st, _, body = http_get(base + "/telemetry/bottlenecks?window=600&threshold=%.6f" % (3.5 + q[0] * 1e-6), timeout=60)
        took = (time.perf_counter() - t) * 1000
        return took if st == 200 else float("nan"), body

    for label, paused in (("ingest paused", True), ("ingest publishing every 1 s", False)):
        if paused:
            os.kill(prod.pid, signal.SIGSTOP)
        times = []
        for _ in range(max(5, args.rounds * 4)):
            took, body = timed()
            times.append(took)
        if paused:
            os.kill(prod.pid, signal.SIGCONT)
        doc = json.loads(body)
        record("9 bottlenecks %d sw, 600 s" % n, "time per answer, %s (median)" % label, statistics.median(times), "ms",
               "goal < 20 ms; %d switches judged, %d flagged" % (doc.get("judged", 0), doc.get("total_bottlenecks", 0)))
        record("9 bottlenecks %d sw, 600 s" % n, "time per answer, %s (max)" % label, max(times), "ms")
    stop_all(env, apid, ing, prod)


def reference_python(*modules):
    """/usr/bin/python3 when it has the modules the seed's design needs, else None."""
    ok = os.path.exists("/usr/bin/python3") and subprocess.run(["/usr/bin/python3", "-c", "import " + ", ".join(modules)],
                                                               capture_output=True).returncode == 0
    return "/usr/bin/python3" if ok else None


def post_time(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    c.request("POST", "/deployments", body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    took = time.perf_counter() - t0
    c.close()
    if r.status != 201:
        raise RuntimeError("POST /deployments: %d" % r.status)
    return took


def figures(text):
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+) ([\d.]+)", text)}


def case_orchd(env, args):
    """orchd against the seed's design: create (HTTP), tick and bottlenecks (in-process), medians of runs."""
    py = reference_python("fastapi", "uvicorn", "sqlalchemy")
    if py is None:
        record("10 orchd", "reference", "skipped", "", "apt-get install python3-fastapi python3-uvicorn python3-sqlalchemy")
        return
    ref_script = os.path.join(ROOT, "tools", "bench", "orch_reference.py")
    state = tempfile.mkdtemp(prefix="bench-orch-", dir=env.dir)
    oport, rport = free_port(), free_port()
    orchd = env.start("orchd/fabtel-orchd", "--listen", "127.0.0.1:%d" % oport, "--state-dir", state, "--provisioner", "none",
                      "--shm-name", env.shm + "-none")
    orchd.wait_log("event=listening", timeout=30)
    ref = env.start(py, ref_script, "serve", str(rport), os.path.join(state, "reference.sqlite"), tag="orch-reference")
    def ref_up():
        try:
            return http_get("http://127.0.0.1:%d/health" % rport)[0] == 200
        except OSError:
            return ref.p.poll() is not None  # it exited: stop waiting (the POST says why)
    env.wait_for(ref_up, timeout=60, step=0.2)
    body = json.dumps({"name": "bench", "description": None, "target_node_count": 1000})
    fab, refr = [], []
    for _ in range(max(5, args.rounds)):
        refr.append(post_time(rport, body))
        fab.append(post_time(oport, body))
    case = "10 orchd: create 1,000 nodes"
    record(case, "reference time to 201 (median)", statistics.median(refr) * 1000, "ms")
    record(case, "orchd time to 201 (median)", statistics.median(fab) * 1000, "ms")
    record(case, "ratio reference/orchd", statistics.median(refr) / statistics.median(fab), "x", "higher is better")
    stop_all(env, ref, orchd)
    rounds = str(max(3, args.rounds))
    f = figures(subprocess.run([env.bin("tools/bench/bench-orch"), "tick", state, "16", "1000", rounds], capture_output=True, text=True,
                               timeout=1800).stdout)
    r = figures(subprocess.run([py, ref_script, "tick", os.path.join(state, "ref-tick.sqlite"), "16", "1000", rounds], capture_output=True,
                               text=True, timeout=3600).stdout)
    case = "10 orchd: tick 16 x 1,000 nodes"
    for k, what in (("tick_all_due_s", "all 16,000 due"), ("tick_none_due_s", "none due")):
        record(case, "reference, " + what, r.get(k, 0) * 1000, "ms")
        record(case, "orchd, " + what, f.get(k, 0) * 1000, "ms")
        record(case, "ratio reference/orchd, " + what, r.get(k, 0) / max(1e-9, f.get(k, 0)), "x")
    bench_history_tool(env, "--prefill", state, "--hours", "1", "--switches", "3", "--nodes", "1000", "--history-bytes", str(256 << 20))
    f = figures(subprocess.run([env.bin("tools/bench/bench-orch"), "bottlenecks", os.path.join(state, "history.ft"), "1000", "60", rounds],
                               capture_output=True, text=True, timeout=1800).stdout)
    r = figures(subprocess.run([py, ref_script, "bottlenecks", os.path.join(state, "ref-bn.sqlite"), "1000", "60", rounds],
                               capture_output=True, text=True, timeout=3600).stdout)
    case = "10 orchd: bottlenecks 1,000 nodes 60 min"
    record(case, "reference (720k samples: one per node per 5 s)", r.get("bottlenecks_s", 0) * 1000, "ms")
    record(case, "orchd (3.6M samples: one per node per 1 s)", f.get("bottlenecks_s", 0) * 1000, "ms", "flagged %d" % f.get("flagged", -1))
    record(case, "ratio reference/orchd", r.get("bottlenecks_s", 0) / max(1e-9, f.get("bottlenecks_s", 0)), "x")
    os.unlink(os.path.join(state, "history.ft"))


def case_dashboard(env, args):
    """The fabric view in Debian's headless Chromium (dashboard_bench.py runs under Debian's python3 and Selenium)."""
    if reference_python("selenium") is None or not os.path.exists("/usr/bin/chromium"):
        record("11 dashboard", "browser", "skipped", "", "apt-get install chromium chromium-driver python3-selenium")
        return
    out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "dashboard_bench.py"), env.bindir,
                          "--seconds", str(max(10, 3 * args.duration))], capture_output=True, text=True, timeout=900)
    for line in out.stdout.splitlines():
        f = figures(line)
        case = "11 dashboard, %d switches" % f.get("switches", 0)
        record(case, "time to first render", f.get("first_render_ms", 0), "ms", "navigation start to the first generation drawn")
        record(case, "frame time per generation, median / p90", "%.1f / %.1f" % (f.get("frame_median_ms", 0), f.get("frame_p90_ms", 0)), "ms",
               "%d generations, one a second" % f.get("generations", 0))
        record(case, "page weight, first load", f.get("page_bytes", 0) / 1000.0, "KB")
    if out.returncode != 0:
        record("11 dashboard", "failed", out.stderr[-300:], "")


def case_ufm(env, args):
    """UFM ingest at 200,000 ports x 31 counters: in-process phases, then the live pipeline with the API answering."""
    out = subprocess.run([env.bin("tools/bench/bench-ufm"), "--switches", "5000", "--ports", "40", "--rounds", str(max(3, args.rounds)),
                          "--history-bytes", str(2 << 30)], capture_output=True, text=True, timeout=1800).stdout
    f = figures(out)
    case = "12 UFM 200k ports x 31, in-process"
    for line in out.splitlines()[1:4]:
        record(case, line.split("  ")[0].strip(), line.split("total")[-1].strip(), "", line.split("total")[0].strip())
    record(case, "pre-rendered / not, total", "%.0f / %.0f" % (f.get("total_prerendered_ms", 0), f.get("total_not_prerendered_ms", 0)), "ms")
    prod = env.start("producer/fabtel-producer", "--listen", "127.0.0.1:0", "--switches", "5000", "--interval", "2", "--format", "ufm",
                     "--ports-per-switch", "40", "--seed", "1")
    url = "http://127.0.0.1:%d/csv/metrics" % prod.port()
    shm = env.shm + "-ufm"
    ing = env.ingestd(url, "--max-switches", "200016", "--max-counters", "64", "--history-bytes", str(2 << 30), shm=shm)
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--shm-name", shm, "--workers", "1")
    base = "http://127.0.0.1:%d" % apid.port()
    env.wait_for(lambda: http_get(base + "/health")[0] == 200, timeout=300, step=0.5)
    port = "0x0c42a10300000001_1"
    time.sleep(6)  # the first generations create 200,000 rows and their history series; the figures are of the steady state
    p0 = json.loads(http_get(base + "/telemetry/performance")[2])
    r = wrk(base + "/telemetry/GetMetric?switch_id=%s&metric=PortXmitDataExtended" % port, max(20, args.duration * 4), conns=20, threads=1)
    p1 = json.loads(http_get(base + "/telemetry/performance")[2])
    n0, n1 = p0["total_ingest_count_24"], p1["total_ingest_count_24"]
    steady = (p1["avg_ingest_duration_ms"] * n1 - p0["avg_ingest_duration_ms"] * n0) / max(1, n1 - n0)
    case = "12 UFM 200k ports x 31, live"
    record(case, "GetMetric while ingesting", r["rps"], "req/s", "p99 %.2f ms, non-2xx %d" % (r["p99"], r["non2xx"]))
    record(case, "ingest duration, steady state (avg of the ingests during wrk)", steady, "ms",
           "first byte to visible, history on; %d ingests; all 24 h incl. the first: avg %.0f, max %.0f" % (
               n1 - n0, p1["avg_ingest_duration_ms"], p1["max_ingest_duration_ms"]))
    stop_all(env, apid, ing, prod)
    for name in os.listdir("/dev/shm"):
        if name.startswith(shm.lstrip("/")):
            os.unlink("/dev/shm/" + name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--cases", default="1,2,3,4,5")
    ap.add_argument("--out", default="bench-results.tsv")
    args = ap.parse_args()
    for tool in ("wrk", "h2o"):
        if shutil.which(tool) is None:
            sys.exit("bench: '%s' is missing: apt-get install wrk h2o" % tool)
    subprocess.run(["cmake", "-S", ROOT, "-B", os.path.join(ROOT, "build-release"), "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", os.path.join(ROOT, "build-release"), "-j%d" % os.cpu_count()], check=True,
                   stdout=subprocess.DEVNULL)
    env = Env(os.path.join(ROOT, "build-release"))
    cases = {"1": case_getmetric, "2": case_listmetrics, "3": case_under_ingest, "4": case_freshness, "5": case_ingest,
             "6": case_frontdoor, "7": case_flows, "8": case_history, "9": case_bottlenecks,
             "10": case_orchd, "11": case_dashboard, "12": case_ufm, "13": case_flows_pg}
    print("%-34s %-34s %12s %-6s %s" % ("case", "metric", "value", "unit", "note"))
    try:
        for c in args.cases.split(","):
            cases[c](env, args)
    finally:
        env.cleanup()
        for name in os.listdir("/dev/shm"):
            if name.startswith(env.shm.lstrip("/")):
                os.unlink("/dev/shm/" + name)
        shutil.rmtree(env.dir, ignore_errors=True)
    with open(args.out, "w") as f:
        f.write("case\tmetric\tvalue\tunit\tnote\n")
        for r in RESULTS:
            f.write("\t".join(str(x) for x in r) + "\n")
    print("wrote " + args.out)


if __name__ == "__main__":
    main()
