"""A private PostgreSQL for tests: initdb in a temporary directory, a free loopback port, trust authentication
(loopback only, for the test's lifetime), stopped by pid. initdb and postgres refuse to run as root, so as root
they run as the `postgres` user (the postgresql package creates it).

As a program: with_postgres.py's job, `pg.py CMD ARGS...` runs CMD with FABTEL_TEST_PG (the server's admin URL)
and FABTEL_TEST_FLOW_STORE (a fresh database's URL) set, and stops the server afterwards; exit status CMD's."""
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fabtel_test import free_port  # noqa: E402

BINDIR = "/usr/lib/postgresql/15/bin"


class Postgres:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fabtel-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.pid = None
        self.prefix = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run([os.path.join(BINDIR, "initdb"), "-D", self.data, "-U", "fabtel", "--auth=trust", "-E", "UTF8", "--locale=C",
                   # a natural-language default collation, so that only the columns' COLLATE "C" gives byte order
                   "--locale-provider=icu", "--icu-locale=en-US"])
        self.start()

    def start(self):
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=50 -c fsync=on" % (self.port, self.dir)
        self._run([os.path.join(BINDIR, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts, "-w", "-t", "120", "start"])
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def restart(self):
        """A fast shutdown and a start on the same port and data (what clients see of a failover)."""
        self._halt()
        self.start()

    def _run(self, cmd):
        r = subprocess.run(self.prefix + cmd, capture_output=True, text=True, timeout=180, cwd=self.dir)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr, self.text()[-2000:]))
        return r

    def text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def url(self, db="postgres"):
        return "postgresql://fabtel@127.0.0.1:%d/%s" % (self.port, db)

    def sql(self, statement, db="postgres"):
        r = subprocess.run([os.path.join(BINDIR, "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", self.url(db), "-c", statement],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql %s: %s" % (statement, r.stderr))
        return r.stdout.strip()

    def create_db(self, name):
        self.sql('CREATE DATABASE "%s"' % name)
        return self.url(name)

    def stop(self):
        self._halt()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _halt(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGINT)  # "fast" shutdown
                end = time.time() + 60
                while time.time() < end:
                    os.kill(self.pid, 0)
                    time.sleep(0.05)
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.pid = None


def main():
    pg = Postgres()
    try:
        env = dict(os.environ, FABTEL_TEST_PG=pg.url(), FABTEL_TEST_FLOW_STORE=pg.create_db("flows"))
        rc = subprocess.run(sys.argv[1:], env=env).returncode
        if rc != 0:
            print("postgres log (tail):\n" + pg.text()[-3000:])
        return rc
    finally:
        pg.stop()


if __name__ == "__main__":
    sys.exit(main())
