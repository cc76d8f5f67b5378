"""History end to end: ingestd records, apid answers /telemetry/history, shmdump reads it.

A scripted CSV source (values the test can predict) drives a real ingestd and apid:
  - rates of a counter above 2^60 are exact and scaled by the column's unit; across a reset, never negative;
  - a switch forgotten and its row reused by another switch, then the first switch returning: separate series,
    one per incarnation, values never mixed;
  - SIGKILL of ingestd and apid, restart: the history before the kill is served and continues;
  - a segment re-created under the same state directory: the switch's series continues, nothing mixes;
  - steps, rollup-sized steps, caps, every class of bad parameter (400 JSON), unknown names (404), a window
    before any history (200, empty), ETag/304 and the long poll, --history-bytes 0 (503);
  - a history file of an unknown version: ingestd refuses to start, says why, and leaves the file alone; one of an
    older version (an upgrade) is set aside as history.ft.v<N> and a new one started.
Usage: integration_history.py BUILD_DIR"""
import http.server
import json
import os
import re
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, http_get, report, unlink_segment  # noqa: E402

BIG = 1 << 60


def send_csv(handler, data):
    handler.send_response(200)
    handler.send_header("Content-Type", "text/csv")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Source(http.server.BaseHTTPRequestHandler):
    """Every request is a new sample: k counts them. phase picks which switches exist and how rx moves."""
    protocol_version = "HTTP/1.1"
    k = 0
    phase = "A"
    lock = threading.Lock()

    @staticmethod
    def rows(k, phase):
        rows = []
        rx_a = BIG + 5000 * k if phase in ("A", "B") else 7 + 100 * k  # phase C resets sw-a's counter
        rows.append(("sw-a", rx_a, 1.25 + (k % 4) * 0.25))
        if phase == "A":
            rows.append(("sw-b", 1000 + k, 2.0))
        if phase in ("A", "B", "C"):
            rows.append(("sw-c", 2000 + k, 3.0))
        if phase == "C":
            rows.append(("sw-d", 500000 + k, 4.0))
        if phase == "E":
            rows.append(("sw-b", 900000 + k, 5.0))
        return rows

    def do_GET(self):
        with Source.lock:
            Source.k += 1
            k, phase = Source.k, Source.phase
        body = "switch_id,rx,latency,desc\n" + "".join("%s,%d,%s,text %d\n" % (n, rx, lat, k) for n, rx, lat in self.rows(k, phase))
        data = body.encode()
        send_csv(self, data)

    def log_message(self, *a):
        pass


def get(port, query, headers=None):
    status, hdrs, body = http_get("http://127.0.0.1:%d/telemetry/history?%s" % (port, query), headers=headers)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return status, {k.lower(): v for k, v in hdrs.items()}, doc


def series(port, sw, metric, extra="from=0"):
    status, _, doc = get(port, "switch_id=%s&metric=%s&%s" % (sw, metric, extra))
    return doc["series"] if status == 200 and doc else None


def start_stack(env, src_port, shm, state, *extra):
    ing = env.ingestd("http://127.0.0.1:%d/counters" % src_port, "--interval", "0.1", "--wait", "0", "--forget-after", "1",
                      "--max-switches", "3", "--counter-columns", "rx", "--column-scales", "rx=4", "--state-dir", state,
                      "--history-bytes", str(16 << 20), *extra, shm=shm)
    api = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm)
    return ing, api, api.port()


def wait_points(port, sw, metric, n, timeout=30):
    def enough():
        s = series(port, sw, metric)
        return s if s and len(s[-1]["points"]) >= n else None
    return wait_for(enough, timeout)


def wait_for(fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return fn()


def test_rates(port):
    s = wait_points(port, "sw-a", "rx", 20)
    check(s is not None and len(s) == 1, "sw-a has one series: %s" % s)
    if not s:
        return
    pts = s[0]["points"]
    check(all(isinstance(v, int) and v > 2 ** 53 for _, v in pts), "counter values above 2^53 served as exact integers")
    check(all((pts[i][1] - BIG) % 5000 == 0 for i in range(len(pts))), "every value is one the source sent")
    to = pts[-1][0] / 1000.0
    r = series(port, "sw-a", "rx", "from=0&to=%.3f&rate=1" % to)
    rates = r[0]["points"] if r else []
    expect = {pts[i][0]: (pts[i][1] - pts[i - 1][1]) * 4 * 1000.0 / (pts[i][0] - pts[i - 1][0]) for i in range(1, len(pts))}
    check(len(rates) == len(pts) - 1, "one rate per interval: %d rates for %d samples" % (len(rates), len(pts)))
    bad = [(t, v, expect.get(t)) for t, v in rates if expect.get(t) is None or abs(v - expect[t]) > 1e-9 * expect[t]]
    check(not bad, "rates are the exact deltas times the unit (4) per second: %s" % bad[:3])


def test_identity_and_reset(env, port, ing):
    Source.phase = "B"  # sw-b disappears, and is forgotten after 1 s
    check(ing.wait_log(r"forgotten=1", timeout=30) is not None, "sw-b forgotten:\n" + ing.text()[-2000:])
    Source.phase = "C"  # sw-d takes sw-b's row; sw-a's counter resets
    check(wait_points(port, "sw-d", "rx", 5) is not None, "sw-d recorded")
    Source.phase = "D"  # only sw-a: sw-c and sw-d are forgotten
    check(ing.wait_log(r"forgotten=2", timeout=30) is not None, "sw-c and sw-d forgotten")
    Source.phase = "E"  # sw-b returns
    s = wait_for(lambda: (lambda x: x if x and len(x) == 2 and len(x[1]["points"]) >= 5 else None)(series(port, "sw-b", "rx")), 30)
    check(s is not None, "sw-b returns as a second series: %s" % s)
    if s:
        check([x["incarnation"] for x in s] == [1, 2], "incarnations 1 then 2: %s" % [x["incarnation"] for x in s])
        check(all(1000 <= v < 900000 for _, v in s[0]["points"]), "incarnation 1 holds only sw-b's first life")
        check(all(v >= 900000 for _, v in s[1]["points"]), "incarnation 2 holds only its second life")
    d = series(port, "sw-d", "rx")
    check(d is not None and len(d) == 1 and all(500000 <= v < 900000 for _, v in d[0]["points"]),
          "sw-d, on sw-b's old row, has only its own values")
    a = series(port, "sw-a", "rx", "from=0&rate=1")
    rates = [v for _, v in a[0]["points"]] if a else []
    check(rates and min(rates) >= 0, "no negative rate across the reset (min %s)" % (min(rates) if rates else None))
    raw = series(port, "sw-a", "rx")[0]["points"]
    resets = sum(1 for i in range(1, len(raw)) if raw[i][1] < raw[i - 1][1])
    check(resets == 1 and len(rates) == len(raw) - 1 - resets, "no rate at the reset, one for every other interval (%d rates, %d samples)"
          % (len(rates), len(raw)))


def test_queries(port):
    status, hdrs, doc = get(port, "switch_id=sw-a&metric=latency&step=1&agg=max")
    check(status == 200 and doc["step"] == 1 and doc["agg"] == "max", "steps of 1 s: %s %s" % (status, doc and doc.get("step")))
    now = time.time()
    status, _, doc = get(port, "switch_id=sw-a,sw-b&metric=rx,latency&from=%.3f&step=60" % (now - 3600))
    check(status == 200 and doc["step"] == 60 and len(doc["series"]) == 2 * 3, "two switches (sw-b twice) x two metrics in minute steps")
    status, _, doc = get(port, "switch_id=sw-a&metric=latency&from=0&to=1000")
    check(status == 200 and doc["series"] and doc["series"][0]["points"] == [], "a window before any history: 200, no points")
    status, hdrs, doc = get(port, "switch_id=sw-a&metric=latency")
    etag = hdrs.get("etag")
    status2, _, _ = get(port, "switch_id=sw-a&metric=latency", {"If-None-Match": etag})
    check(status2 in (200, 304), "a conditional read answers (got %d)" % status2)
    t0 = time.time()
    status3, _, doc3 = get(port, "switch_id=sw-a&metric=latency&wait=10", {"If-None-Match": etag})
    check(status3 == 200 and doc3["generation"] > doc["generation"] and time.time() - t0 < 10,
          "the long poll answers with the next generation (%d, %s)" % (status3, doc3 and doc3.get("generation")))
    bad = [
        ("metric=rx", 400, "switch_id"), ("switch_id=sw-a", 400, "metric"),
        ("switch_id=sw-a&metric=rx&from=abc", 400, "from"), ("switch_id=sw-a&metric=rx&to=nan", 400, "to"),
        ("switch_id=sw-a&metric=rx&from=inf", 400, "from"), ("switch_id=sw-a&metric=rx&from=2026-02-30T00:00:00Z", 400, "from"),
        ("switch_id=sw-a&metric=rx&from=2026-12-06T02:00:00Z&to=2026-12-06T01:00:00Z", 400, "from"),
        ("switch_id=sw-a&metric=rx&step=0", 400, "step"), ("switch_id=sw-a&metric=rx&step=-1", 400, "step"),
        ("switch_id=sw-a&metric=rx&step=nan", 400, "step"), ("switch_id=sw-a&metric=rx&agg=median", 400, "agg"),
        ("switch_id=sw-a&metric=rx&rate=2", 400, "rate"), ("switch_id=sw-a&metric=latency&rate=1", 400, "rate"),
        ("switch_id=sw-a&metric=desc", 400, "metric"), ("switch_id=nope&metric=rx", 404, "switch_id"),
        ("switch_id=sw-a&metric=nope", 404, "metric"), ("switch_id=sw-a,&metric=rx", 400, "switch_id"),
        ("switch_id=sw-a&metric=rx&from=0&step=0.001", 400, "step"),
    ]
    for q, want, field in bad:
        status, hdrs, doc = get(port, q)
        err = doc.get("error") if isinstance(doc, dict) else None
        check(status == want and err and err.get("status") == want and err.get("field") == field and
              hdrs.get("content-type", "").startswith("application/json"),
              "%s: expected %d naming '%s', got %d %s" % (q, want, field, status, doc))


def test_caps(env, shm, port_src):
    api = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm, "--history-max-points", "5",
                    "--history-max-answer-points", "20")
    port = api.port()
    status, _, doc = get(port, "switch_id=sw-a&metric=latency&from=0")
    check(status == 200 and doc["step"] is not None and all(len(s["points"]) <= 5 for s in doc["series"]),
          "past --history-max-points, steps are chosen so that each series fits: %s" % (doc and doc.get("step")))
    status, _, doc = get(port, "switch_id=sw-a,sw-b&metric=rx,latency&from=0&step=1")
    check(status == 400 and "cap" in doc["error"]["message"], "an explicit step past the cap is refused naming it: %s" % doc)
    api.stop()


def test_restart(env, src_port, shm, state, ing, api, port):
    before = series(port, "sw-a", "latency")
    n0, first0 = len(before[0]["points"]), before[0]["points"][0]
    ing.stop(signal.SIGKILL)
    api.stop(signal.SIGKILL)
    ing, api, port = start_stack(env, src_port, shm, state)
    after = wait_for(lambda: (lambda s: s if s and len(s[0]["points"]) > n0 + 3 else None)(series(port, "sw-a", "latency")), 30)
    check(after is not None and len(after) == 1 and after[0]["points"][0] == first0,
          "after SIGKILL of ingestd and apid, the history before is served and continues (%s)" %
          str(after and (len(after[0]["points"]), after[0]["points"][0], first0)))
    check(ing.wait_log(r"event=history_recovered", timeout=5) is not None, "the unclosed file was checked on restart")
    # A re-created segment (another capacity) under the same state directory: the same series continues.
    ing.stop()
    n1 = len(series(port, "sw-a", "latency")[0]["points"])
    ing = env.ingestd("http://127.0.0.1:%d/counters" % src_port, "--interval", "0.1", "--wait", "0", "--max-switches", "3",
                      "--max-counters", "32", "--counter-columns", "rx", "--state-dir", state, "--history-bytes", str(16 << 20), shm=shm)
    check(ing.wait_log(r"event=segment_recreated", timeout=10) is not None, "the segment was re-created:\n" + ing.text())
    s = wait_for(lambda: (lambda s: s if s and len(s[0]["points"]) > n1 + 3 else None)(series(port, "sw-a", "latency")), 30)
    check(s is not None and len(s) == 1 and s[0]["incarnation"] == 1, "sw-a's series continues over the new segment: %s" %
          str(s and [(x["incarnation"], len(x["points"])) for x in s]))
    b = series(port, "sw-b", "rx")
    check(b is not None and [x["incarnation"] for x in b] == [1, 2] and all(v >= 900000 for _, v in b[1]["points"]),
          "sw-b's two lives stay apart over the new segment")
    rc, out, err = env.shmdump("--history", "sw-a", "latency", "--from", "0", "--csv", shm=shm)
    lines = out.strip().split("\n")
    check(rc == 0 and lines[0] == "switch_id,incarnation,metric,t_ms,value" and len(lines) > n1,
          "shmdump --history prints the series (%d lines): %s" % (len(lines), err))
    rc, out, err = env.shmdump("--history-export", shm=shm)
    check(rc == 0 and ",raw," in out and out.startswith("switch_id,incarnation,metric,kind,"), "shmdump --history-export: %s" % err)
    rc, out, err = env.shmdump("--header", shm=shm)
    check("history keeps" in out and "bytes per sample" in out, "shmdump --header reports the history windows:\n" + out)
    status, _, body = http_get("http://127.0.0.1:%d/telemetry/performance" % port)
    perf = json.loads(body)
    check(all(k in perf and perf[k] is not None for k in ("history_window_s", "history_rollup_window_s", "history_bytes_per_sample")),
          "/telemetry/performance reports the history windows: %s" % {k: perf.get(k) for k in perf if k.startswith("history")})
    return ing, api


def test_off_and_refused(env, src_port):
    shm = env.shm + "-hoff"
    try:
        ing = env.ingestd("http://127.0.0.1:%d/counters" % src_port, "--interval", "0.2", "--wait", "0", "--history-bytes", "0", shm=shm)
        api = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm)
        port = api.port()
        check(env.wait_for(lambda: env.header(shm=shm)["generation"] >= 1, timeout=30), "published without history")
        status, hdrs, doc = get(port, "switch_id=sw-a&metric=rx")
        check(status == 503 and doc and doc["error"]["status"] == 503, "--history-bytes 0: history answers 503 JSON (%d %s)" % (status, doc))
        status, _, body = http_get("http://127.0.0.1:%d/telemetry/bottlenecks" % port)
        check(status == 503 and json.loads(body)["error"]["status"] == 503, "and so do bottlenecks (%d)" % status)
        ing.stop()
        api.stop()
        # A file of an unknown version: refused, not re-created.
        state = os.path.join(env.dir, "state-refused")
        os.makedirs(state)
        path = os.path.join(state, "history.ft")
        with open(path, "wb") as f:
            f.write(struct.pack("<QII", 0x5453494854424146, 99, 4096) + b"\0" * (8 << 20))
        size = os.path.getsize(path)
        ing = env.ingestd("http://127.0.0.1:%d/counters" % src_port, "--state-dir", state, "--history-bytes", str(16 << 20), shm=shm)
        rc = ing.p.wait(30)
        check(rc != 0 and "version 99" in ing.text() and "refusing" in ing.text(),
              "ingestd refuses a history file of an unknown version, saying so (rc %s):\n%s" % (rc, ing.text()))
        check(os.path.getsize(path) == size, "the refused file is left as it was")
        # A file of an older format (an upgrade): set aside under its version's name, a new one started.
        with open(path, "wb") as f:
            f.write(struct.pack("<QII", 0x5453494854424146, 1, 4096) + b"\0" * (8 << 20))
        ing = env.ingestd("http://127.0.0.1:%d/counters" % src_port, "--state-dir", state, "--history-bytes", str(16 << 20), shm=shm)
        check(ing.wait_log(r"event=history_open", timeout=30) and "event=history_set_aside" in ing.text() and
              os.path.getsize(path + ".v1") == size and os.path.getsize(path) == 16 << 20,
              "an older history file is set aside as history.ft.v1 and a new one created:\n%s" % ing.text()[-600:])
        ing.stop()
        # A budget the disk cannot hold: refused at start, with a reason, and nothing left behind.
        big = os.path.join(env.dir, "state-too-big")
        ing = env.ingestd("http://127.0.0.1:%d/counters" % src_port, "--state-dir", big, "--history-bytes", str(1 << 44), shm=shm)
        rc = ing.p.wait(60)
        check(rc != 0 and re.search(r"event=start_refused .*(cannot reserve|cannot create)", ing.text()) is not None and
              not [f for f in os.listdir(big) if f.startswith("history")],
              "a history the disk cannot hold is refused at start, leaving no file (rc %s):\n%s" % (rc, ing.text()[-400:]))
    finally:
        unlink_segment(shm)


def test_replaced(env):
    """The history file moved away while ingestd is stopped: ingestd starts a new one, apid's workers map it."""
    shm = env.shm + "-repl"
    state = os.path.join(env.dir, "state-replaced")
    try:
        prod = env.producer("--switches", "5", "--interval", "0.1")
        ing = env.ingestd(prod.url, "--state-dir", state, shm=shm)
        api = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", shm)
        port = api.port()
        old = wait_for(lambda: (lambda s: s if s and len(s[0]["points"]) >= 5 else None)(series(port, "sw-01", "latency")), 30)
        check(old is not None, "history recorded before the file is replaced")
        rc = ing.stop()
        check(rc == 0 and "event=stopped" in ing.text(), "ingestd stops cleanly with its history helper running (exit %s)" % rc)
        stopped_ms = time.time() * 1000
        os.rename(os.path.join(state, "history.ft"), os.path.join(state, "history.old"))
        ing = env.ingestd(prod.url, "--state-dir", state, shm=shm)
        check(ing.wait_log(r"event=history_open .*created=1", timeout=30) is not None, "ingestd starts a new history file")
        new = wait_for(lambda: (lambda s: s if s and s[0]["points"] and s[0]["points"][0][0] > stopped_ms else None)(
            series(port, "sw-01", "latency")), 30)
        check(new is not None, "apid answers from the new file (its first point after the stop): %s" % str(new and new[0]["points"][:2]))
        for p in (api, ing, prod):
            p.stop()
        check("history_unavailable" not in api.text(), "no history errors while the file was replaced:\n" + api.text()[-500:])
    finally:
        unlink_segment(shm)


def test_10k(env):
    """A fabric of 10,000 switches: every switch recorded at every generation, answers agree with the snapshot."""
    shm = env.shm + "-h10k"
    try:
        prod = env.producer("--switches", "10000", "--interval", "1", "--seed", "3")
        ing = env.ingestd(prod.url, "--max-switches", "10016", "--history-bytes", str(256 << 20), shm=shm)
        api = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm)
        port = api.port()
        check(env.wait_for(lambda: env.header(shm=shm)["generation"] >= 4, timeout=120), "10,000 switches published 4 times")
        names = ["sw-%05d" % i for i in (1, 2500, 5000, 7500, 10000)]
        status, _, doc = get(port, "switch_id=%s&metric=latency,port_xmit_data&from=0" % ",".join(names))
        check(status == 200 and len(doc["series"]) == 10, "ten series of five switches (%d)" % status)
        if status == 200:
            gen = doc["generation"]
            counts = {len(s["points"]) for s in doc["series"]}
            check(counts == {gen}, "every switch has one sample per generation: %s points for %d generations" % (counts, gen))
            st, _, cur = http_get("http://127.0.0.1:%d/telemetry/GetMetric?switch_id=sw-05000&metric=latency" % port)
            cur = json.loads(cur)
            if cur["generation"] == gen:
                last = [s for s in doc["series"] if s["switch_id"] == "sw-05000" and s["metric"] == "latency"][0]["points"][-1]
                check(last[1] == cur["value"], "the newest point is the snapshot's value (%s vs %s)" % (last, cur["value"]))
        rc, out, _ = env.shmdump("--header", shm=shm)
        check("history holds 10000 series" in out, "shmdump counts 10,000 series:\n" + out)
        for p in (api, ing, prod):
            p.stop()
    finally:
        unlink_segment(shm)


class Fabric20(http.server.BaseHTTPRequestHandler):
    """20 switches; sw-04, sw-11 and sw-17 degraded as in the seed's profile (latency 210, throughput 1.1, errors 5.5 %)."""
    protocol_version = "HTTP/1.1"
    k = 0
    BAD = ("sw-04", "sw-11", "sw-17")

    def do_GET(self):
        Fabric20.k += 1
        k = Fabric20.k
        rows = []
        for i in range(1, 21):
            name = "sw-%02d" % i
            j = (i * 7 + k) % 5  # a little spread among the healthy
            if name in self.BAD:
                rows.append("%s,%.1f,%.2f,%.2f" % (name, 210 + j, 1.1, 5.5))
            else:
                rows.append("%s,%.1f,%.2f,%.2f" % (name, 10 + j * 0.1, 9.5 - j * 0.05, 0.1 + j * 0.01))
        data = ("switch_id,latency,bandwidth_usage,error_rate\n" + "\n".join(rows) + "\n").encode()
        send_csv(self, data)

    def log_message(self, *a):
        pass


def test_bottlenecks(env):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fabric20)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    shm = env.shm + "-bn"
    try:
        ing = env.ingestd("http://127.0.0.1:%d/counters" % srv.server_port, "--interval", "0.1", "--wait", "0", shm=shm)
        api = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm)
        port = api.port()
        url = "http://127.0.0.1:%d/telemetry/bottlenecks" % port
        check(env.wait_for(lambda: env.header(shm=shm)["generation"] >= 5, timeout=60), "20 switches published 5 times")
        status, hdrs, body = http_get(url + "?window=60")
        doc = json.loads(body)
        flagged = sorted(b["switch_id"] for b in doc.get("bottlenecks", []))
        check(status == 200 and doc["method"] == "robust" and doc["threshold"] == 3.5 and flagged == list(Fabric20.BAD) and
              doc["total_bottlenecks"] == 3 and doc["judged"] == 20,
              "robust flags exactly the three degraded switches: %s" % (body[:300],))
        worst = doc["bottlenecks"][0] if doc.get("bottlenecks") else {}
        check(set(worst.get("means", {})) == {"latency", "bandwidth_usage", "error_rate"} and worst.get("deviation_score", 0) > 0 and
              all(isinstance(v, (int, float)) for v in worst.get("z", {}).values()), "each bottleneck has its means, z and score")
        status, _, body = http_get(url + "?window=60&method=zscore")
        doc = json.loads(body)
        check(status == 200 and doc["method"] == "zscore" and doc["threshold"] == 2 and
              all(b["switch_id"] in Fabric20.BAD for b in doc["bottlenecks"]), "zscore answers, flagging none of the healthy: %s" % body[:200])
        status, _, body = http_get(url + "?window=60&metrics=latency:%2B1")
        doc = json.loads(body)
        check(status == 200 and sorted(b["switch_id"] for b in doc["bottlenecks"]) == list(Fabric20.BAD) and
              list(doc["bottlenecks"][0]["means"]) == ["latency"], "metrics=latency:+1 judges latency alone")
        status, _, body = http_get(url + "?window=60&metrics=latency:+1")
        check(status == 200, "a '+' sent unescaped (a space) is the sign: %d %s" % (status, body[:120]))
        for q, want, field in (("window=0", 400, "window"), ("window=86401", 400, "window"), ("window=1.5", 400, "window"),
                               ("method=mean", 400, "method"), ("threshold=-1", 400, "threshold"), ("threshold=nan", 400, "threshold"),
                               ("metrics=latency", 400, "metrics"), ("metrics=nope:%2B1", 404, "metrics")):
            status, _, body = http_get(url + "?" + q)
            err = json.loads(body).get("error", {})
            check(status == want and err.get("field") == field, "%s: expected %d naming %s, got %d %s" % (q, want, field, status, body[:150]))
        status, hdrs, _ = http_get(url)
        etag = {k.lower(): v for k, v in hdrs.items()}.get("etag")
        status2, _, _ = http_get(url, {"If-None-Match": etag}) if etag else (0, 0, 0)
        check(status == 200 and etag and status2 in (200, 304), "ETag and If-None-Match (%s, %s)" % (etag, status2))
        api.stop()
        ing.stop()
    finally:
        srv.shutdown()
        unlink_segment(shm)


def main():
    env = Env(sys.argv[1])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Source)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    shm = env.shm + "-hist"
    state = os.path.join(env.dir, "state-hist")
    try:
        ing, api, port = start_stack(env, srv.server_port, shm, state)
        test_rates(port)
        test_identity_and_reset(env, port, ing)
        test_queries(port)
        test_caps(env, shm, srv.server_port)
        ing, api = test_restart(env, srv.server_port, shm, state, ing, api, port)
        ing.stop()
        api.stop()
        test_off_and_refused(env, srv.server_port)
        test_replaced(env)
        test_10k(env)
        test_bottlenecks(env)
    finally:
        srv.shutdown()
        env.cleanup()
        unlink_segment(shm)
    return report("integration_history")


if __name__ == "__main__":
    sys.exit(main())
