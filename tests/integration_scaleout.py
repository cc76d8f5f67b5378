"""Scale-out of telemetry: two fabtel shards of one simulated fabric, scraped by a real Prometheus that
remote_writes into a real VictoriaMetrics, all on free loopback ports in a temporary directory. With the
producer paused (SIGSTOP) so values hold still, VictoriaMetrics returns every switch exactly once with the value
apid serves, zscore() across both shards finds the one switch with a latency spike, and a switch that left shows
fabtel_switch_present 0. The shipped examples in deploy/ pass promtool and vmagent's dry run, and vmagent run
with the shipped scrape file (its hosts pointed at this run's shards) brings both shards in too.
Usage: integration_scaleout.py BUILD_DIR"""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, free_port, http_get, http_json, report  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("prometheus", "promtool", "victoria-metrics", "vmagent")


def examples_valid():
    r = subprocess.run(["promtool", "check", "config", os.path.join(SRC, "deploy/prometheus/prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "deploy/prometheus/prometheus.yml passes promtool check config: %s%s" % (r.stdout, r.stderr))
    r = subprocess.run(["vmagent", "-promscrape.config=" + os.path.join(SRC, "deploy/vmagent/scrape.yml"), "-dryRun",
                        "-loggerLevel=ERROR"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "deploy/vmagent/scrape.yml passes vmagent -dryRun: %s%s" % (r.stdout, r.stderr))


def vm_query(port, q, at=None):
    """An instant query to VictoriaMetrics (now, or at a Unix time): [(labels, value)], or None when it did not answer."""
    when = "&time=%.3f" % at if at is not None else ""
    try:
        st, _, body = http_get("http://127.0.0.1:%d/api/v1/query?nocache=1%s&query=%s" % (port, when, urllib.parse.quote(q)), timeout=5)
    except OSError:
        return None
    if st != 200:
        return None
    return [(r["metric"], float(r["value"][1])) for r in json.loads(body)["data"]["result"]]


def apid_values(port, metric):
    """The value of one metric for every switch an apid serves."""
    st, doc, _ = http_json(port, "GET", "/telemetry/ListMetrics")
    out = {}
    if st != 200:  # (503 until the shard's first publish: the callers wait for what they need)
        return out
    for sw in (doc or {}).get("metrics", []):
        if sw.get("present", True) and sw.get(metric) is not None:
            out[sw["switch_id"]] = float(sw[metric])
    return out


def start_stack(env, prod):
    """The fabric's two shards: an ingestd and an apid each."""
    apids = []
    for i in range(2):
        shm = "%s-so%d" % (env.shm, i)
        env.ingestd(prod.url, "--shard", "%d/2" % i, "--wait", "1", shm=shm)
        a = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", shm, tag="apid-s%d" % i)
        apids.append(a.port())
    return apids


def metrics_line(port, prefix):
    st, _, body = http_get("http://127.0.0.1:%d/metrics" % port)
    return [ln for ln in body.decode().splitlines() if ln.startswith(prefix)] if st == 200 else []


def start_engines(env, apids):
    vport, pport = free_port(), free_port()
    vm = env.start("/usr/bin/victoria-metrics", "-httpListenAddr=127.0.0.1:%d" % vport,
                   "-storageDataPath=" + os.path.join(env.dir, "vmdata"), "-retentionPeriod=1d",
                   "-search.latencyOffset=0s", "-search.disableCache", tag="victoria-metrics")
    conf = os.path.join(env.dir, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: fabtel-apid\n"
                "    static_configs:\n      - targets: [%s]\nremote_write:\n  - url: http://127.0.0.1:%d/api/v1/write\n"
                "    queue_config:\n      batch_send_deadline: 1s\n"
                % (", ".join("'127.0.0.1:%d'" % p for p in apids), vport))
    prom = env.start("/usr/bin/prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(env.dir, "tsdb"),
                     "--web.listen-address=127.0.0.1:%d" % pport, tag="prometheus")
    return vm, vport, prom


def population_z(values, x):
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    return (x - mean) / sd


def run(env):
    prod = env.producer("--switches", "20", "--interval", "1", "--seed", "5")
    pport = int(prod.url.split(":")[2].split("/")[0])
    # Two added switches: one with a latency far above the rest (the node model's class 9: 90 ms), one that will leave.
    for name, node in (("spike-1", 9), ("gone-1", 1)):
        st, doc, _ = http_json(pport, "PUT", "/switches/" + name, json.dumps({"node_id": node}),
                               {"Content-Type": "application/json"})
        check(st in (200, 201), "PUT /switches/%s to the producer: %d %s" % (name, st, doc))
    apids = start_stack(env, prod)
    everyone = lambda: set().union(*(apid_values(p, "latency").keys() for p in apids))  # noqa: E731
    check(env.wait_for(lambda: len(everyone()) == 22, timeout=60), "the two shards serve the 22 switches: %d" % len(everyone()))
    http_json(pport, "DELETE", "/switches/gone-1")
    gone = lambda: any('fabtel_switch_present{switch_id="gone-1"' in ln and ln.endswith(" 0")  # noqa: E731
                       for p in apids for ln in metrics_line(p, "fabtel_switch_present"))
    check(env.wait_for(gone, timeout=30), "a switch that left is fabtel_switch_present 0 on its shard's /metrics")
    for i, p in enumerate(apids):
        ok = metrics_line(p, "fabtel_source_scrape_ok")
        check(len(ok) == 1 and ('shard="%d",shards="2"} 1' % i) in ok[0], "shard %d's fabtel_source_scrape_ok: %s" % (i, ok))

    vm, vport, prom = start_engines(env, apids)
    # Both shards' data reached VictoriaMetrics: every remembered switch has a present series.
    seen = lambda: (vm_query(vport, "fabtel_switch_present") or [])  # noqa: E731
    check(env.wait_for(lambda: len(seen()) == 22, timeout=120, step=1), "VictoriaMetrics has 22 present series: %d\n%s\n%s"
          % (len(seen()), vm.text()[-800:], prom.text()[-800:]))
    # A few generations of each shard stored first, so that one series has a past to be scored against.
    moved = lambda: (vm_query(vport, "min(changes(fabtel_generation[10m]))") or [({}, 0)])[0][1] >= 3  # noqa: E731
    check(env.wait_for(moved, timeout=90, step=1), "VictoriaMetrics has seen each shard's generation change 3 times")
    os.kill(prod.p.pid, signal.SIGSTOP)
    try:
        check_held_values(env, apids, vport)
    finally:
        os.kill(prod.p.pid, signal.SIGCONT)
    prom.stop()
    via_vmagent(env, apids, vport)
    vm.stop()


def via_vmagent(env, apids, vport):
    """The shipped vmagent configuration itself, pointed at this run's shards (the example hosts' jobs fail to
    resolve and are left to fail), writes both shards into VictoriaMetrics."""
    with open(os.path.join(SRC, "deploy/vmagent/scrape.yml")) as f:
        conf = f.read()
    for i, p in enumerate(apids):
        conf = conf.replace("fabtel-shard%d.example:8080" % i, "127.0.0.1:%d" % p)
    conf = conf.replace("scrape_interval: 10s", "scrape_interval: 1s").replace("scrape_timeout: 5s", "scrape_timeout: 900ms")
    path = os.path.join(env.dir, "vmagent.yml")
    with open(path, "w") as f:
        f.write(conf)
    agent = env.start("/usr/bin/vmagent", "-promscrape.config=" + path, "-httpListenAddr=127.0.0.1:%d" % free_port(),
                      "-remoteWrite.url=http://127.0.0.1:%d/api/v1/write" % vport, "-remoteWrite.label=via=vmagent",
                      "-remoteWrite.tmpDataPath=" + os.path.join(env.dir, "vmagent-data"), tag="vmagent")
    counts = lambda: [(m.get("shard"), v) for m, v in vm_query(vport, 'count(fabtel_switch_present{via="vmagent"}) by (shard)') or []]  # noqa: E731
    ok = env.wait_for(lambda: len(counts()) == 2 and sum(v for _, v in counts()) == 22, timeout=90, step=1)
    print("vmagent (deploy/vmagent/scrape.yml) into VictoriaMetrics, present series by shard: %s" % sorted(counts()))
    check(ok, "vmagent with deploy/vmagent/scrape.yml brings both shards' 22 switches into VictoriaMetrics: %s\n%s"
          % (counts(), agent.text()[-600:]))
    fabric = [m for m, _ in vm_query(vport, 'fabtel_switch_present{via="vmagent"}') or []]
    check(all(m.get("fabric") == "fabric-a" and m.get("job") == "fabtel-apid" for m in fabric) and fabric,
          "with the example's external label fabric=\"fabric-a\" and job fabtel-apid: %s" % (fabric[:1],))
    agent.stop()


def held_values(env, apids):
    """What the apids serve once the paused producer's last generation (if one was in flight) has landed:
    two reads a generation's interval apart that agree."""
    def read():
        out = {}
        for p in apids:
            out.update(apid_values(p, "latency"))
        return out
    prev = [read()]

    def steady():
        time.sleep(1.5)
        cur = read()
        same, prev[0] = cur == prev[0], cur
        return same
    check(env.wait_for(steady, timeout=60, step=0) and len(prev[0]) == 21,
          "apid's values for the 21 present switches hold still with the producer paused: %d" % len(prev[0]))
    return prev[0]


def check_held_values(env, apids, vport):
    want = held_values(env, apids)
    deadline = time.time() + 90
    got = None
    while time.time() < deadline:
        res = vm_query(vport, "fabtel_switch_latency")
        if res is not None:
            got = {}
            dup = []
            for m, v in res:
                if m["switch_id"] in got:
                    dup.append(m["switch_id"])
                got[m["switch_id"]] = v
            if got == want and not dup:
                break
        time.sleep(1)
    print("VictoriaMetrics: %d latency series; apid: %d switches" % (len(got or {}), len(want)))
    check(got == want, "VictoriaMetrics returns every switch once with apid's value: missing %s, extra %s, differing %s"
          % (sorted(set(want) - set(got or {}))[:5], sorted(set(got or {}) - set(want))[:5],
             [(s, want[s], got[s]) for s in want if got and s in got and got[s] != want[s]][:5]))
    shards = vm_query(vport, "count(fabtel_switch_latency) by (shard)") or []
    check(sorted(m.get("shard") for m, _ in shards) == ["0", "1"] and sum(v for _, v in shards) == len(want),
          "every series carries its shard label: %s" % shards)
    top = vm_query(vport, "topk(1, zscore(fabtel_switch_latency))") or []
    z = population_z(list(want.values()), want.get("spike-1", 0.0))
    print("zscore() across both shards: %s; from apid's values: spike-1 z = %.6f" % (top, z))
    check(len(top) == 1 and top[0][0].get("switch_id") == "spike-1", "zscore() finds the spiking switch: %s" % top)
    check(len(top) == 1 and abs(top[0][1] - z) < 1e-6 * max(1.0, abs(z)) and z > 3,
          "its z-score %s equals the one computed from apid's 21 values, %.6f (> 3)" % (top[0][1] if top else None, z))
    present = dict((m["switch_id"], v) for m, v in vm_query(vport, "fabtel_switch_present") or [])
    check(present.get("gone-1") == 0 and sum(present.values()) == len(want),
          "VictoriaMetrics: gone-1 present 0, the other %d present 1: %s" % (len(want), present.get("gone-1")))
    # (At an instant 5 s back: VictoriaMetrics scores only a series whose last sample is within a scrape interval
    # of the instant asked, and remote_write delivers a second or so late.)
    over = vm_query(vport, 'zscore_over_time(fabtel_switch_latency{switch_id="sw-03"}[10m])', at=time.time() - 5) or []
    check(len(over) == 1 and math.isfinite(over[0][1]), "zscore_over_time() answers for one series: %s" % over)
    # The paused source times out: each shard's /metrics says so (scrape_ok 0) while its data grows older.
    for p in apids:
        failing = lambda p=p: any(ln.endswith("} 0") for ln in metrics_line(p, "fabtel_source_scrape_ok"))  # noqa: E731
        check(env.wait_for(failing, timeout=60), "fabtel_source_scrape_ok 0 on %d while the source is paused: %s"
              % (p, metrics_line(p, "fabtel_source_scrape_ok")))
        age = metrics_line(p, "fabtel_data_age_seconds")
        check(len(age) == 1 and float(age[0].rsplit(" ", 1)[1]) > 1, "fabtel_data_age_seconds grows: %s" % age)


def main():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        check(False, "%s missing (apt-get install prometheus victoria-metrics)" % " ".join(missing))
        return report("integration_scaleout")
    examples_valid()
    env = Env(sys.argv[1])
    try:
        run(env)
    finally:
        env.cleanup()
    return report("integration_scaleout")


if __name__ == "__main__":
    sys.exit(main())
