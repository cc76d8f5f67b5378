"""Prometheus: apid's, orchd's and flowd's /metrics pass `promtool check metrics`, and a real Prometheus
server on loopback scrapes apid and returns a switch's value through its
HTTP query API. Usage: integration_prometheus.py BUILD_DIR"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, free_port, http_get, report  # noqa: E402


def main():
    for tool in ("promtool", "prometheus"):
        if shutil.which(tool) is None:
            check(False, "%s is missing (apt-get install --no-install-recommends prometheus)" % tool)
            return report("integration_prometheus")
    env = Env(sys.argv[1])
    try:
        prod = env.producer("--switches", "5", "--interval", "3600", "--seed", "3")
        apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm)
        port = apid.port()
        base = "http://127.0.0.1:%d" % port
        env.ingestd(prod.url, "--wait", "2")
        check(env.wait_for(lambda: http_get(base + "/health")[0] == 200), "data")
        http_get(base + "/telemetry/GetMetric?switch_id=sw-02&metric=latency")
        st, hdrs, body = http_get(base + "/metrics")
        check(st == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"), "/metrics: %d %s" % (st, hdrs))
        text = body.decode()
        for series in ('fabtel_switch_latency{switch_id="sw-02"}', 'fabtel_switch_port_xmit_data_total{switch_id="sw-05"}',
                       "# TYPE fabtel_switch_port_xmit_data_total counter", "# TYPE fabtel_switch_latency gauge",
                       'fabtel_api_requests_total{route="GetMetric",status="200"}', "fabtel_ingest_duration_seconds_bucket",
                       'fabtel_ingest_total{outcome="published"} 1', "fabtel_apid_workers_alive 2", "fabtel_generation 1",
                       'fabtel_switch_present{switch_id="sw-03"} 1', 'fabtel_source_scrape_ok{source="%s"} 1' % prod.url):
            check(series in text, "/metrics lacks %s" % series)
        r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
        check(r.returncode == 0, "promtool check metrics: %s %s" % (r.stdout, r.stderr))
        want = json.loads(http_get(base + "/telemetry/GetMetric?switch_id=sw-02&metric=latency")[2])["value"]
        # orchd's and flowd's /metrics pass promtool too.
        for name, extra in (("orchd", ["--provisioner", "none", "--shm-name", env.shm]), ("flowd", [])):
            d = env.start("%s/fabtel-%s" % (name, name), "--listen", "127.0.0.1:0", "--state-dir", os.path.join(env.dir, name), *extra)
            st, _, body = http_get("http://127.0.0.1:%d/metrics" % d.port())
            r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
            check(st == 200 and r.returncode == 0 and b"fabtel_%s_" % name.encode() in body,
                  "%s /metrics passes promtool check metrics: %d %s %s" % (name, st, r.stdout, r.stderr))
            d.stop()

        pport = free_port()
        conf = os.path.join(env.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fabtel\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % port)
        prom = env.start("/usr/bin/prometheus", "--config.file=" + conf, "--storage.tsdb.path=" + os.path.join(env.dir, "tsdb"),
                         "--web.listen-address=127.0.0.1:%d" % pport, tag="prometheus")
        q = urllib.parse.quote('fabtel_switch_latency{switch_id="sw-02"}')
        got = None
        end = time.time() + 60
        while time.time() < end and got is None:
            time.sleep(0.5)
            try:
                st, _, body = http_get("http://127.0.0.1:%d/api/v1/query?query=%s" % (pport, q), timeout=3)
            except OSError:
                continue
            if st == 200:
                res = json.loads(body)["data"]["result"]
                if res:
                    got = float(res[0]["value"][1])
        print("Prometheus returned fabtel_switch_latency{switch_id=\"sw-02\"} = %s (apid says %s)" % (got, want))
        check(got is not None and got == want, "Prometheus should return apid's value %s, got %s:\n%s" % (want, got, prom.text()[-1500:]))
        prom.stop()
    finally:
        env.cleanup()
    return report("integration_prometheus")


if __name__ == "__main__":
    sys.exit(main())
