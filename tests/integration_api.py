"""End-to-end test of the read side: the three real binaries on free ports,
every endpoint, alias and error status checked against the producer's CSV,
the fault modes seen through the API, SIGKILL of ingestd and of a worker, and
the master's death taking its workers with it. Usage: integration_api.py BUILD_DIR"""
import http.server
import json
import os
import re
import signal
import subprocess
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, children, http_get, parse_csv, report, same_value, unlink_segment  # noqa: E402

PERF_FIELDS = ["measure-timestamp", "total_ingest_count_24", "total_ingest_failures_24", "max_ingest_duration_ms",
               "avg_ingest_duration_ms", "min_ingest_duration_ms", "total_api_requests_24",
               "total_api_requests_failures_24", "min_api_latency_ms", "avg_api_latency_ms", "max_api_latency_ms",
               "p50_api_latency_ms", "p99_api_latency_ms", "total_api_client_errors_24", "total_rows_rejected_24",
               "data_age_ms", "generation"]


def api(base, path, headers=None, method="GET"):
    status, hdrs, body = http_get(base + path, headers=headers, method=method)
    doc = None
    if body:
        try:
            doc = json.loads(body)
        except ValueError:
            check(False, "%s: body is not JSON: %r" % (path, body[:200]))
    return status, {k.lower(): v for k, v in hdrs.items()}, doc


def expect_error(base, path, status, fragment, method="GET"):
    st, hdrs, doc = api(base, path, method=method)
    ok = st == status and doc and doc.get("error", {}).get("status") == status and fragment in doc["error"].get("message", "")
    check(ok, "%s %s: expected %d with '%s', got %d %s" % (method, path[:80], status, fragment, st, doc))


def test_endpoints(env):
    prod = env.producer("--switches", "20", "--interval", "3600", "--seed", "7")
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm, "--stale-after", "2")
    base = "http://127.0.0.1:%d" % apid.port()
    # Before any data: 503 with a JSON body, health down.
    st, _, doc = api(base, "/health")
    check(st == 503 and doc and doc["status"] == "down" and doc["workers"] == 2, "health before data: %d %s" % (st, doc))
    expect_error(base, "/telemetry/GetMetric?switch_id=sw-01&metric=latency", 503, "no data yet")
    ing = env.ingestd(prod.url, "--wait", "30")
    check(env.wait_for(lambda: api(base, "/health")[0] == 200, timeout=10), "apid should pick the segment up:\n" + apid.text())

    _, _, csv_body = http_get(prod.url)
    cols, want = parse_csv(csv_body.decode())
    # Every switch, every metric, through GetMetric and its aliases.
    n = 0
    for sw, row in want.items():
        for i, col in enumerate(cols[1:]):
            path = ["/telemetry/GetMetric?switch_id=%s&metric=%s", "/telemetry/get_metric?switch_name=%s&metric_name=%s"][i % 2]
            st, hdrs, doc = api(base, path % (sw, col))
            ok = st == 200 and doc["switch_id"] == sw and doc["metric"] == col and same_value(str(doc["value"]), row[col])
            ok = ok and doc["timestamp"] == row["timestamp"] and doc["generation"] >= 1 and doc["collected_at"].endswith("Z")
            if not check(ok, "GetMetric %s %s: want %s, got %d %s" % (sw, col, row[col], st, doc)):
                return
            if col.startswith("port_"):
                check(isinstance(doc["value"], int) and doc["value"] == int(row[col]), "64-bit exact: %s vs %s" % (doc["value"], row[col]))
            n += 1
    check(n == 20 * 10, "checked %d GetMetric answers" % n)

    for path in ("/telemetry/ListMetrics", "/telemetry/list_metrics"):
        st, hdrs, doc = api(base, path)
        check(st == 200 and len(doc["metrics"]) == 20, "%s: %d %s" % (path, st, doc and len(doc.get("metrics", []))))
        for m in doc["metrics"]:
            for col in cols[1:]:
                check(same_value(str(m[col]), want[m["switch_id"]][col]), "ListMetrics %s %s" % (m["switch_id"], col))
    st, _, doc = api(base, "/telemetry/ListMetrics?metric=latency,temperature&switch_id=sw-03,sw-01")
    check(st == 200 and [m["switch_id"] for m in doc["metrics"]] == ["sw-03", "sw-01"]
          and all(set(m) == {"switch_id", "latency", "temperature"} for m in doc["metrics"]), "filters: %s" % doc)
    st, _, doc = api(base, "/telemetry/ListMetrics?limit=5&offset=15")
    check(st == 200 and [m["switch_id"] for m in doc["metrics"]] == ["sw-16", "sw-17", "sw-18", "sw-19", "sw-20"]
          and doc["total"] == 20 and doc["offset"] == 15, "paging: %s" % doc)
    st, _, doc = api(base, "/telemetry/counters")
    types = {c["name"]: c["type"] for c in doc["counters"]}
    check(types == {"timestamp": "text", "bandwidth_usage": "float", "latency": "float", "packet_error": "int",
                    "port_xmit_data": "int", "port_rcv_data": "int", "symbol_error": "int", "link_downed": "int",
                    "temperature": "float", "error_rate": "float"}, "counters: %s" % types)

    # Caching.
    st, hdrs, doc = api(base, "/telemetry/GetMetric?switch_id=sw-02&metric=latency")
    etag = hdrs.get("etag")
    check(etag and etag.startswith('"'), "ETag expected, got %s" % etag)
    st, _, _ = api(base, "/telemetry/GetMetric?switch_id=sw-02&metric=latency", headers={"If-None-Match": etag})
    check(st == 304, "matching If-None-Match should give 304, got %d" % st)
    st2, hdrs2, _ = api(base, "/telemetry/GetMetric?switch_id=sw-03&metric=latency")
    check(hdrs2.get("etag") != etag, "another query is another variant")
    st, hdrs, _ = api(base, "/telemetry/ListMetrics")
    st, _, _ = api(base, "/telemetry/ListMetrics", headers={"If-None-Match": hdrs.get("etag")})
    check(st == 304, "ListMetrics 304, got %d" % st)
    # The pre-compressed gzip variant, for clients that accept it: same document, its own ETag, Vary on the encoding.
    import gzip as gz
    import urllib.request
    with urllib.request.urlopen(urllib.request.Request(base + "/telemetry/ListMetrics", headers={"Accept-Encoding": "gzip"})) as r:
        zbody, zh = r.read(), {k.lower(): v for k, v in r.headers.items()}
    st, ih, ibody = http_get(base + "/telemetry/ListMetrics")
    check(zh.get("content-encoding") == "gzip" and gz.decompress(zbody) == ibody and len(zbody) < len(ibody) / 2,
          "gzip variant: %s, %d vs %d bytes" % (zh, len(zbody), len(ibody)))
    check(zh.get("etag") != {k.lower(): v for k, v in ih.items()}.get("etag") and "accept-encoding" in zh.get("vary", "").lower(),
          "gzip variant has its own ETag and Vary: %s" % zh)
    st, hdrs, _ = api(base, "/telemetry/ListMetrics", method="HEAD")
    check(st == 200 and int(hdrs.get("content-length", "0")) > 100, "HEAD: %d %s" % (st, hdrs))

    # Errors.
    expect_error(base, "/telemetry/GetMetric?metric=latency", 400, "switch_id")
    expect_error(base, "/telemetry/GetMetric?switch_id=sw-01", 400, "metric")
    expect_error(base, "/telemetry/GetMetric?switch_id=&metric=latency", 400, "switch_id")
    expect_error(base, "/telemetry/GetMetric?switch_id=sw-0%zz&metric=latency", 400, "percent-encoding")
    expect_error(base, "/telemetry/GetMetric?switch_id=sw-01&switch_id=sw-02&metric=latency", 400, "more than once")
    expect_error(base, "/telemetry/GetMetric?switch_id=sw-99&metric=latency", 404, "unknown switch 'sw-99'")
    expect_error(base, "/telemetry/GetMetric?switch_id=sw-01&metric=nope", 404, "unknown metric 'nope'")
    expect_error(base, "/telemetry/ListMetrics?metric=latency,nope", 404, "unknown metric 'nope'")
    expect_error(base, "/telemetry/ListMetrics?limit=-1", 400, "limit")
    expect_error(base, "/nope", 404, "no such path")
    expect_error(base, "/telemetry/ListMetrics", 405, "not allowed", method="POST")
    expect_error(base, "/telemetry/ListMetrics?x=" + "a" * 9000, 414, "URI longer")
    expect_error(base, "/telemetry/GetMetric?switch_id=%22%5C%0A%01&metric=latency", 404, "unknown switch '\"\\\n\x01'")

    # Performance: exactly the dashboard fields (plus ours), counting what we did.
    st, _, doc = api(base, "/telemetry/performance")
    check(st == 200 and all(f in doc for f in PERF_FIELDS), "performance fields: %s" % doc)
    check(doc["total_api_requests_24"] >= 200 and doc["total_api_client_errors_24"] >= 12 and doc["total_ingest_count_24"] >= 1,
          "performance counts: %s" % doc)
    check(doc["total_api_requests_failures_24"] >= 2, "503s count as failures: %s" % doc)
    check(doc["p99_api_latency_ms"] >= doc["p50_api_latency_ms"] > 0, "percentiles: %s" % doc)

    # shmdump --stats shows apid's workers; --watch redraws until interrupted.
    rc, out, err = env.shmdump("--stats", "--header")
    check(rc == 0 and re.search(r"2 of 2 workers alive", out) and re.search(r"^all\s+\d+", out, re.M), "shmdump --stats:\n" + out + err)
    w = subprocess.run(["timeout", "-s", "INT", "1.6", env.bin("tools/shmdump/shmdump"), "--shm-name", env.shm, "--watch", "0.5"],
                       capture_output=True, text=True)
    check(w.stdout.count("generation ") >= 2 and "\033[2J" in w.stdout, "shmdump --watch should redraw: %r" % w.stdout[:200])
    return prod, apid, ing, base, want


def test_faults_and_kills(env, prod, apid, ing, base):
    # The producer goes bad: the API keeps the last good data, counts the failures, then degrades.
    ing.stop()
    st, _, before = api(base, "/telemetry/GetMetric?switch_id=sw-04&metric=latency")
    ing = env.ingestd(prod.url + "?mode=error500", "--backoff-max", "0.2")
    perf0 = api(base, "/telemetry/performance")[2]
    check(env.wait_for(lambda: api(base, "/health")[2]["status"] == "degraded" and
                       api(base, "/telemetry/performance")[2]["total_ingest_failures_24"] >= perf0["total_ingest_failures_24"] + 3,
                       timeout=60), "the failing source makes health degraded and counts failures")
    st, _, after = api(base, "/telemetry/GetMetric?switch_id=sw-04&metric=latency")
    check(st == 200 and after["value"] == before["value"] and after["generation"] == before["generation"],
          "last good data kept: %s vs %s" % (before, after))
    st, _, perf = api(base, "/telemetry/performance")
    check(perf["total_ingest_failures_24"] >= perf0["total_ingest_failures_24"] + 3, "ingest failures counted: %s" % perf)
    st, _, h = api(base, "/health")
    check(st == 200 and h["status"] == "degraded" and h["data_age_ms"] > 2000, "stale data -> degraded: %s" % h)
    ing.stop()
    # Corrupt rows: published, bad rows' switches shown stale with their previous values.
    ing = env.ingestd(prod.url + "?mode=corrupt", "--wait", "30")
    check(env.wait_for(lambda: api(base, "/telemetry/GetMetric?switch_id=sw-04&metric=latency")[2].get("stale") is True),
          "sw-04's garbled row should make it stale")
    st, _, doc = api(base, "/telemetry/GetMetric?switch_id=sw-04&metric=latency")
    check(doc["value"] == before["value"], "stale keeps the previous value: %s vs %s" % (doc, before))
    st, _, doc = api(base, "/telemetry/GetMetric?switch_id=sw-02&metric=latency")
    check(st == 200 and "stale" not in doc, "a good row is not stale: %s" % doc)
    st, _, lm = api(base, "/telemetry/ListMetrics")
    stale = [m["switch_id"] for m in lm["metrics"] if m.get("stale")]
    check(stale == ["sw-04", "sw-06", "sw-11", "sw-17", "sw-18"], "rows 4, 11, 18 garbled and 6, 17 short should be stale: %s" % stale)
    st, _, perf = api(base, "/telemetry/performance")
    check(perf["total_rows_rejected_24"] >= 5, "rows rejected counted: %s" % perf)
    st, _, h = api(base, "/health")
    check(h["status"] == "ok", "a publish confirms the data: %s" % h)

    # SIGKILL ingestd: the API keeps answering.
    ing.stop(signal.SIGKILL)
    st, _, doc = api(base, "/telemetry/GetMetric?switch_id=sw-02&metric=latency")
    check(st == 200, "API after ingestd SIGKILL: %d" % st)

    # SIGKILL a worker: the master restarts it; the other keeps answering meanwhile.
    workers = children(apid.pid)
    check(len(workers) == 2, "two workers expected: %s" % workers)
    t0 = time.time()
    os.kill(workers[0], signal.SIGKILL)
    ok = 0
    for _ in range(50):
        ok += api(base, "/health")[0] == 200
    back = env.wait_for(lambda: len(children(apid.pid)) == 2 and workers[0] not in children(apid.pid), timeout=5)
    gap = time.time() - t0
    check(back, "the killed worker should be replaced: %s" % children(apid.pid))
    check(ok == 50, "requests during the restart: %d of 50 ok" % ok)
    check(apid.wait_log(r"event=worker_restarted") is not None, "restart logged")
    print("worker restart observed within %.0f ms" % (gap * 1000))

    # The master dies: its workers exit too, and the port is freed.
    port = int(base.rsplit(":", 1)[1])
    workers = children(apid.pid)
    os.kill(apid.pid, signal.SIGKILL)
    gone = env.wait_for(lambda: not any(os.path.exists("/proc/%d" % w) and open("/proc/%d/stat" % w).read().split()[2] != "Z"
                                        for w in workers), timeout=5)
    check(gone, "workers should exit when the master dies")
    s = socket.socket()
    refused = s.connect_ex(("127.0.0.1", port)) != 0
    s.close()
    check(refused, "no orphan should keep port %d" % port)


class CsvHandler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *a):
        pass


def test_escaping(env):
    """A plain CSV endpoint (no ETag: polled) with names that need escaping."""
    CsvHandler.body = ('switch_id,"we""ird\\name",note\n'
                       '"sw ""q""",1,"line one\nline \\two\t\u00e9"\n'
                       'sw-\u2603,2,plain\n').encode()
    srv = http.server.HTTPServer(("127.0.0.1", 0), CsvHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    shm = env.shm + "-esc"
    apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm)
    base = "http://127.0.0.1:%d" % apid.port()
    ing = env.ingestd("http://127.0.0.1:%d/x.csv" % srv.server_port, "--interval", "0.2", shm=shm)
    check(env.wait_for(lambda: api(base, "/health")[0] == 200), "escaping source ingested:\n" + ing.text())
    st, _, doc = api(base, "/telemetry/ListMetrics")
    by = {m["switch_id"]: m for m in doc["metrics"]}
    check(set(by) == {'sw "q"', "sw-\u2603"}, "ids: %s" % list(by))
    check(by.get('sw "q"', {}).get('we"ird\\name') == 1, "escaped column name: %s" % by)
    check(by.get('sw "q"', {}).get("note") == "line one\nline \\two\t\u00e9", "text cell: %r" % by.get('sw "q"'))
    st, _, doc = api(base, "/telemetry/GetMetric?switch_id=sw%20%22q%22&metric=note")
    check(st == 200 and doc["value"] == "line one\nline \\two\t\u00e9", "GetMetric text: %s" % doc)
    ing.stop()
    apid.stop()
    srv.shutdown()
    unlink_segment(shm)


def main():
    env = Env(sys.argv[1])
    try:
        prod, apid, ing, base, _ = test_endpoints(env)
        test_faults_and_kills(env, prod, apid, ing, base)
        test_escaping(env)
    finally:
        env.cleanup()
    return report("integration_api")


if __name__ == "__main__":
    sys.exit(main())
