"""systemd integration, without systemd running: each daemon speaks the notify
protocol to a datagram socket of ours (READY=1 only once it really serves,
STATUS= lines, WATCHDOG=1 pings at the interval asked for), and every unit
passes `systemd-analyze verify` and scores <= 2.0 in offline
`systemd-analyze security`. Usage: integration_systemd.py BUILD_DIR SOURCE_DIR"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import Env, check, http_get, report  # noqa: E402

BINS = {"fabtel-producer": "producer", "fabtel-ingestd": "ingestd", "fabtel-apid": "apid", "fabtel-orchd": "orchd"}


def notify_run(env, name, args, seconds, on_ready=None):
    """Run one daemon with NOTIFY_SOCKET and a 300 ms watchdog; collect what it says."""
    path = os.path.join(env.dir, "notify-%s.sock" % name)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.05)
    e = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="300000")
    p = env.start("%s/%s" % (BINS[name], name), *args, env=e)
    msgs, ready_at, ready_check = [], None, None
    t0 = time.time()
    end = t0 + seconds
    stopped = False
    while True:
        if time.time() >= end and not stopped:
            os.kill(p.pid, 15)  # SIGTERM: it should say STOPPING=1
            stopped, end = True, time.time() + 1.0
        elif time.time() >= end:
            break
        try:
            m = sock.recv(4096).decode()
        except socket.timeout:
            continue
        for line in m.split("\n"):
            msgs.append((time.time() - t0, line))
            if line == "READY=1" and ready_at is None:
                ready_at = time.time() - t0
                ready_check = on_ready() if on_ready else True
    p.stop()
    sock.close()
    msgs_running = [(t, l) for t, l in msgs if t <= seconds]
    pings = [t for t, l in msgs_running if l == "WATCHDOG=1"]
    statuses = [l for t, l in msgs if l.startswith("STATUS=")]
    ok = ready_at is not None and ready_check and len(statuses) >= 2 and len(pings) >= int(seconds / 0.3)
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    check(ok, "%s notify: ready at %s (check %s), %d STATUS, %d pings in %.1f s: %s" % (
        name, ready_at, ready_check, len(statuses), len(pings), seconds, msgs[:6]))
    check(not gaps or max(gaps) < 0.3, "%s: watchdog pings must come within 300 ms (largest gap %.3f s)" % (
        name, max(gaps) if gaps else 0))
    check(any(l == "STOPPING=1" for _, l in msgs), "%s says STOPPING=1 on SIGTERM" % name)
    print("%s: READY after %.0f ms, %d watchdog pings in %.1f s, e.g. %s" % (
        name, (ready_at or 0) * 1000, len(pings), seconds, statuses[-1] if statuses else "-"))


def test_notify(env):
    prod_port = []
    notify_run(env, "fabtel-producer", ["--listen", "127.0.0.1:0", "--interval", "0.2"], 1.5)
    prod = env.producer("--switches", "5", "--interval", "0.2")
    # ingestd: READY only once the segment exists.
    notify_run(env, "fabtel-ingestd", ["--source", prod.url, "--shm-name", env.shm], 1.5,
               on_ready=lambda: os.path.exists("/dev/shm" + env.shm))
    # apid: READY only once its workers listen.
    port_holder = {}

    def apid_ready():
        text = open([p for p in env.procs if "apid" in p.args[0]][-1].log_path).read()
        m = re.search(r"listen=127\.0\.0\.1:(\d+)", text)
        return bool(m) and http_get("http://127.0.0.1:%s/health" % m.group(1), timeout=2)[0] in (200, 503)

    notify_run(env, "fabtel-apid", ["--listen", "127.0.0.1:0", "--workers", "2", "--shm-name", env.shm], 1.5, on_ready=apid_ready)
    # orchd: READY only once its store is open (the file exists) and it listens.
    state = os.path.join(env.dir, "orchd-notify")
    notify_run(env, "fabtel-orchd", ["--listen", "127.0.0.1:0", "--state-dir", state, "--shm-name", env.shm, "--provisioner", "none"],
               1.5, on_ready=lambda: os.path.exists(os.path.join(state, "orchd.sqlite")))
    del prod_port, port_holder


def test_units(build, source):
    if shutil.which("systemd-analyze") is None:
        check(False, "systemd-analyze is missing (apt-get install systemd)")
        return
    tmp = tempfile.mkdtemp(prefix="fabtel-units-")
    man = os.path.join(tmp, "man", "man1")
    os.makedirs(man)
    for d, name in (("producer", "fabtel-producer"), ("ingestd", "fabtel-ingestd"), ("apid", "fabtel-apid"),
                    ("flowd", "fabtel-flowd"), ("orchd", "fabtel-orchd"), ("tools/shmdump", "shmdump")):
        shutil.copy(os.path.join(source, d, name + ".1"), man)
    units = []
    for name, d in list(BINS.items()) + [("fabtel-flowd", "flowd")]:
        with open(os.path.join(build, "units", name + ".service")) as f:
            text = f.read()
        # As installed, ExecStart names the installed binary; verify checks it exists, so point it at this build.
        text = re.sub(r"^ExecStart=\S+", "ExecStart=" + os.path.join(build, d, name), text, flags=re.M)
        path = os.path.join(tmp, name + ".service")
        with open(path, "w") as f:
            f.write(text)
        units.append(path)
    env = dict(os.environ, MANPATH=os.path.join(tmp, "man"))
    r = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True, env=env)
    check(r.returncode == 0 and r.stderr.strip() == "", "systemd-analyze verify: rc=%d %s" % (r.returncode, r.stderr))
    for u in units:
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", u], capture_output=True, text=True)
        m = re.search(r"Overall exposure level for (\S+): ([\d.]+)", r.stdout)
        check(m is not None and float(m.group(2)) <= 2.0, "security exposure of %s: %s" % (u, m and m.group(2)))
        if m:
            print("systemd-analyze security --offline: %s %s" % (m.group(1), m.group(2)))
    shutil.rmtree(tmp)


def test_log_reopen(env):
    """logrotate: move the log file away, SIGHUP, and the daemon writes to a new file at the old path."""
    for name, args in (("fabtel-producer", ["--listen", "127.0.0.1:0", "--interval", "0.2"]),
                       ("fabtel-apid", ["--listen", "127.0.0.1:0", "--workers", "1", "--shm-name", env.shm]),
                       ("fabtel-orchd", ["--listen", "127.0.0.1:0", "--state-dir", os.path.join(env.dir, "orchd-log"),
                                         "--shm-name", env.shm, "--provisioner", "none"])):
        log = os.path.join(env.dir, name + ".file.log")
        p = env.start("%s/%s" % (BINS[name], name), *args, "--log-file", log, "--log-level", "debug")
        check(env.wait_for(lambda: os.path.exists(log) and "event=listening" in open(log).read()), "%s logs to --log-file" % name)
        os.rename(log, log + ".1")
        os.kill(p.pid, 1)  # SIGHUP
        check(env.wait_for(lambda: os.path.exists(log), timeout=30), "%s: SIGHUP reopens the log at its path" % name)
        os.kill(p.pid, 15)
        p.p.wait(10)
        new = open(log).read() if os.path.exists(log) else ""
        check("event=stopped" in new, "%s reopened its log on SIGHUP: new file holds %r" % (name, new[-200:]))
        check(all(re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) \S+ event=", l) for l in new.splitlines()),
              "%s: one `ts level component key=value` line per event: %r" % (name, new[:300]))


def main():
    build, source = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    env = Env(build)
    try:
        test_units(build, source)
        test_notify(env)
        test_log_reopen(env)
    finally:
        env.cleanup()
    return report("integration_systemd")


if __name__ == "__main__":
    sys.exit(main())
