"""The dashboard in a real browser (Debian's headless Chromium through Selenium) against a live pipeline: producer,
ingestd, orchd, flowd and apid on free loopback ports. Each view loads with no console error and no request to
another origin; the fabric view shows every switch, filters, sorts, follows a deep link and the back button, and
changes when a new generation arrives; the switch view draws charts with points; a deployment created through the
form appears with its nodes moving through their states; the flows view shows the canonical example's totals;
a daemon that is down shows calmly while the other views work. Screenshots of every view go to
BUILD_DIR/test-artifacts/dashboard/. Usage: /usr/bin/python3 browser_dashboard.py BUILD_DIR SOURCE_DIR"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import CANON, Env, check, free_port, http_json, report, unlink_segment  # noqa: E402



class Stack:
    def __init__(self, env, source, switches=50, interval="0.5"):
        self.prod = env.producer("--switches", str(switches), "--interval", interval, "--seed", "9")
        self.ing = env.ingestd(self.prod.url, "--max-switches", str(switches + 64))
        self.orchd_port, self.flowd_port = free_port(), free_port()
        state = os.path.join(env.dir, "state-ui")
        self.orchd = env.start("orchd/fabtel-orchd", "--listen", "127.0.0.1:%d" % self.orchd_port, "--state-dir", state,
                               "--shm-name", env.shm, "--producer", self.prod.url.rsplit("/", 1)[0], "--time-scale", "0.1")
        self.flowd = env.start("flowd/fabtel-flowd", "--listen", "127.0.0.1:%d" % self.flowd_port, "--state-dir", state)
        self.apid = env.start("apid/fabtel-apid", "--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm,
                              "--orchd", "http://127.0.0.1:%d" % self.orchd_port, "--flowd", "http://127.0.0.1:%d" % self.flowd_port,
                              "--web-root", os.path.join(source, "web"))
        self.port = self.apid.port()
        self.origin = "http://127.0.0.1:%d" % self.port
        for p in (self.orchd, self.flowd):
            if p.wait_log(r"event=listening", timeout=30) is None:
                raise RuntimeError("did not start:\n" + p.text())
        env.wait_for(lambda: http_json(self.port, "GET", "/health")[0] == 200, timeout=30)


def visit(b, s, route, name, artifacts, ready="ready"):
    """Open a view by its URL and wait until it says it is drawn; then check the console and the requests."""
    b.d.get(s.origin + "/ui/#" + route)
    state = b.wait("document.getElementById('view') && document.getElementById('view').dataset.state === '%s'" % ready, timeout=30)
    check(state, "%s (%s) drew itself (state %s)" % (name, route, b.js("return document.getElementById('view').dataset.state")))
    time.sleep(0.3)  # let requests started by the draw show up in the log
    b.drain_logs()
    errors = [e for e in b.console if e["level"] == "SEVERE"]
    check(not errors, "%s: no console error: %s" % (name, errors[:3]))
    foreign = [u for u in b.requests if not (u.startswith(s.origin + "/") or u.startswith("data:"))]
    check(not foreign, "%s: no request to another origin: %s" % (name, foreign[:3]))
    b.console.clear()
    b.requests.clear()
    b.screenshot(os.path.join(artifacts, name + ".png"))


def test_fabric(b, s, artifacts):
    visit(b, s, "/fabric", "fabric", artifacts)
    count = b.wait("document.getElementById('fabric-count').textContent")
    check(count == "50 of 50 switches", "the fabric view counts every switch: %r" % count)
    first = b.js("return [...document.querySelectorAll('tr[data-switch]')].map(r => r.dataset.switch)")
    check(first[:3] == ["sw-01", "sw-02", "sw-03"] and len(first) >= 20, "rows in name order, those in sight drawn: %s" % first[:5])
    g0 = int(b.js("return document.getElementById('view').dataset.generation"))
    g1 = b.wait("Number(document.getElementById('view').dataset.generation) > %d && document.getElementById('view').dataset.generation" % g0,
                timeout=20)
    check(g1, "the view follows a new generation (long poll): %s -> %s" % (g0, g1))
    check(b.js("return window.fabtel.perf.generations") >= 2, "each generation drawn once it is published")
    f = b.d.find_element("css selector", "input[type=search]")
    f.send_keys("sw-07")
    check(b.wait("document.getElementById('fabric-count').textContent === '1 of 50 switches'", timeout=5),
          "filtering by name: %r" % b.js("return document.getElementById('fabric-count').textContent"))
    f.clear()
    f.send_keys("x")  # nothing matches
    check(b.wait("document.getElementById('fabric-count').textContent === '0 of 50 switches'", timeout=5), "a filter matching nothing")
    b.d.get(s.origin + "/ui/#/fabric?sort=latency&dir=desc")
    b.wait("document.getElementById('view').dataset.state === 'ready'")
    lat = b.js("""const t = document.getElementById('fabric-table'); const i = [...t.querySelectorAll('th')].findIndex(th => th.textContent.startsWith('latency'));
                  return [...t.querySelectorAll('tr[data-switch]')].slice(0, 10).map(r => Number(r.children[i].textContent.replace(/,/g, '')));""")
    check(lat and lat == sorted(lat, reverse=True), "a deep link sorts by latency, highest first: %s" % lat)
    b.js("document.querySelector('tr[data-switch] a').click()")  # in one step: a new generation redraws the rows under a slower click
    check(b.wait("location.hash.startsWith('#/switch/')"), "a switch links to its view")
    b.d.back()
    check(b.wait("location.hash === '#/fabric?sort=latency&dir=desc' && document.getElementById('fabric-table') !== null"),
          "the back button returns to the sorted fabric: %s" % b.js("return location.hash"))


def test_switch(b, s, artifacts):
    visit(b, s, "/switch/sw-03?window=900", "switch", artifacts)
    pts = b.wait("window.fabtel.charts && window.fabtel.charts.length && window.fabtel.charts[0].data[0].length", timeout=30)
    boxes = b.js("return [...document.querySelectorAll('.chart')].map(c => [c.dataset.metric, Number(c.dataset.points)])")
    check(pts and pts > 0 and len(boxes) >= 9 and all(n > 0 for _, n in boxes),
          "the switch view draws a chart per counter, with points: %s" % boxes)
    check(b.js("return document.querySelectorAll('.chart canvas').length") >= len(boxes), "charts are drawn on canvases")
    check("port_xmit_data (per second" in b.js("return document.body.textContent"), "cumulative counters shown as rates")
    b.d.get(s.origin + "/ui/#/switch/nope-99")
    check(b.wait("document.getElementById('view').dataset.state === 'error' && document.body.textContent.includes('No switch named nope-99')"),
          "an unknown switch says so")
    b.drain_logs()  # its 404s were asked for
    b.console.clear()
    b.requests.clear()


def test_deployments(b, s, artifacts):
    visit(b, s, "/deployments", "deployments", artifacts)
    b.d.find_element("id", "dep-name").send_keys("from-the-browser")
    cnt = b.d.find_element("id", "dep-count")
    cnt.clear()
    cnt.send_keys("6")
    b.d.find_element("css selector", "#dep-form button[type=submit]").click()
    row = b.wait("document.querySelector('#dep-list tr[data-deployment] a') && document.querySelector('#dep-list tr[data-deployment] a').getAttribute('href')",
                 timeout=15)
    check(row and row.startswith("#/deployments/"), "the deployment created through the form is listed: %s" % row)
    if not row:
        return
    b.js("location.hash = arguments[0]", row)
    snaps = []
    end = time.time() + 40
    while time.time() < end:
        c = b.js("return Object.fromEntries([...document.querySelectorAll('#dep-counts .card')].map(c => [c.dataset.state, Number(c.querySelector('.v').textContent)]))")
        if c and (not snaps or c != snaps[-1]):
            snaps.append(c)
        if c and c.get("RUNNING", 0) + c.get("FAILED", 0) == 6:
            break
        time.sleep(0.05)
    moving = [x for x in snaps if x.get("PENDING", 0) + x.get("PROVISIONING", 0) + x.get("CONFIGURING", 0) > 0]
    check(len(snaps) >= 2 and moving and snaps[-1].get("RUNNING", 0) + snaps[-1].get("FAILED", 0) == 6,
          "its nodes move through their states on the page: %s" % snaps)
    check(b.wait("document.querySelectorAll('#dep-events li').length >= 6"), "its events timeline fills")
    b.screenshot(os.path.join(artifacts, "deployment.png"))


def test_flows(b, s, artifacts):
    st, doc, _ = http_json(s.flowd_port, "POST", "/flows", json.dumps(CANON), {"Content-Type": "application/json"})
    check(st == 201, "canonical example posted: %d %s" % (st, doc))
    visit(b, s, "/flows?hour=1", "flows", artifacts)
    rx = b.js("return document.getElementById('flows-rx').dataset.bytes")
    tx = b.js("return document.getElementById('flows-tx').dataset.bytes")
    top = b.js("return [...document.querySelectorAll('#flows-top tbody tr')].map(r => [r.children[0].textContent, r.children[1].textContent])")
    check(rx == "1400" and tx == "400" and top == [["foo → bar", "900"], ["baz → qux", "500"]],
          "hour 1 of the canonical example: rx 1400, tx 400, top talkers foo→bar 900, baz→qux 500: %s %s %s" % (rx, tx, top))


def test_others(b, s, artifacts):
    visit(b, s, "/bottlenecks", "bottlenecks", artifacts)
    check("Fabric:" in b.js("return document.getElementById('bn-fabric').textContent"), "the fabric's bottlenecks are shown")
    visit(b, s, "/service", "service", artifacts)
    txt = b.js("return document.getElementById('svc-health').textContent")
    check("orchd" in txt and "flowd" in txt and "generation" in txt, "the service view shows health and the daemons: %s" % txt[:200])


def test_calm_errors(b, s, artifacts, env):
    s.flowd.stop()
    env.procs.remove(s.flowd)
    b.d.get(s.origin + "/ui/#/flows")
    check(b.wait("document.getElementById('view').dataset.state === 'error' && !document.getElementById('banner').hidden"),
          "flowd down: the flows view says so, with the banner")
    b.screenshot(os.path.join(artifacts, "flows-down.png"))
    b.drain_logs()
    b.console.clear()
    b.d.get(s.origin + "/ui/#/fabric")
    check(b.wait("document.getElementById('view').dataset.state === 'ready'"), "and the fabric view still works")


def test_keyboard_and_narrow(b, s, artifacts):
    b.d.set_window_size(420, 900)
    b.d.get(s.origin + "/ui/#/fabric")
    b.wait("document.getElementById('view').dataset.state === 'ready'")
    over = b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(over <= 0, "a narrow window has no horizontal page scroll (the table scrolls in its box): %d px" % over)
    b.screenshot(os.path.join(artifacts, "fabric-narrow.png"))
    b.d.set_window_size(1280, 900)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    b.d.get(s.origin + "/ui/#/service")  # a fresh page: sequential focus starts at the top
    b.wait("document.getElementById('view').dataset.state === 'ready'")
    ActionChains(b.d).send_keys(Keys.TAB).perform()
    first = b.js("return document.activeElement && document.activeElement.outerHTML")
    ActionChains(b.d).send_keys(Keys.TAB).perform()
    second = b.js("return document.activeElement && document.activeElement.getAttribute('href')")
    check(first and 'class="skip"' in first and second == "#/fabric", "Tab reaches the skip link, then the views: %s, %s" % (first, second))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    import browser
    missing = browser.available()
    if missing:
        check(False, "the browser is missing: " + missing)
        return report("browser_dashboard")
    artifacts = os.path.join(build, "test-artifacts", "dashboard")
    env = Env(build)
    b = None
    try:
        s = Stack(env, source)
        b = browser.Browser()
        test_fabric(b, s, artifacts)
        test_switch(b, s, artifacts)
        test_deployments(b, s, artifacts)
        test_flows(b, s, artifacts)
        test_others(b, s, artifacts)
        test_keyboard_and_narrow(b, s, artifacts)
        test_calm_errors(b, s, artifacts, env)
        print("screenshots in %s: %s" % (artifacts, sorted(os.listdir(artifacts))))
    finally:
        if b:
            b.close()
        env.cleanup()
        unlink_segment(env.shm)
    return report("browser_dashboard")


if __name__ == "__main__":
    sys.exit(main())
