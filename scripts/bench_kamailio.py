#!/usr/bin/env python3
"""Kamailio as the plain-SIP baseline of `make bench` (issue 7).

Two configurations, bench/kamailio/registrar.cfg (registrar with MD5
digest, HA1s and bindings in SQLite) and bench/kamailio/redirect.cfg (the
same registrar plus INVITE -> lookup -> 302 with the registered contact).
scripts/bench_sip.py drives them with the very SIPp scenarios and rates it
drives the anonymized path with, in the same run.

    from bench_kamailio import Kamailio
    with Kamailio("registrar", {"reg": "reg-secret"}) as k:
        run_sipp("register_auth.xml", "127.0.0.1", k.port, ...)

Every Kamailio runs in the foreground (-DD: no daemon; it forks its worker
and timer processes, which it stops itself), logs to stderr (-E) into its
own folder, listens on 127.0.0.1 only (-l udp:127.0.0.1:PORT, a port free
at run time), keeps its pid file (-P) and working directory (-w) and its
SQLite file in a temporary folder of its own, and is always stopped: stop()
(SIGTERM to its pid, a bounded wait, then SIGKILL to its process group),
the context manager and an atexit hook. `kamailio -c` checks the
configuration first.

The temporary folder is on /dev/shm when there is one: db_sqlite 5.6.3 has
no way to turn SQLite's per-commit fsync off (synchronous = FULL), which
costs about 0.5 ms per commit on this VM's disk; ANOSIP's stores run in WAL
mode with synchronous = NORMAL (no fsync per commit). On tmpfs the fsync is
free, so both write each registration to SQLite without waiting for the
disk. The file is put in WAL mode before Kamailio opens it (the mode is
kept in the file).

Environment:
  BENCH_KAMAILIO_CHILDREN=1   UDP worker processes (-A CHILDREN=N)
  BENCH_KAMAILIO_DB_MODE=1    usrloc db_mode (1 write-through, 2 write-back)
  BENCH_KAMAILIO_TMP          folder for the temporary folders (/dev/shm)

Run alone (a smoke test, a few seconds): scripts/bench_kamailio.py
"""
import atexit
import glob
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from sipclients import free_port, wait_udp_bound  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "scripts"))
from bench_common import cpu_seconds  # noqa: E402

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
CFG_DIR = os.path.join(ROOT, "bench", "kamailio")
# Debian's module folder, whatever the architecture.
MODULES = next(iter(sorted(glob.glob("/usr/lib/*/kamailio/modules/"))),
               "/usr/lib/x86_64-linux-gnu/kamailio/modules/")
SCHEMA_DIR = "/usr/share/kamailio/db_sqlite"
SCHEMAS = ("standard-create.sql", "auth_db-create.sql", "usrloc-create.sql")
CHILDREN = int(os.environ.get("BENCH_KAMAILIO_CHILDREN", "1"))
DB_MODE = int(os.environ.get("BENCH_KAMAILIO_DB_MODE", "1"))
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10

_live = set()


@atexit.register
def _stop_all():
    for k in list(_live):
        try:
            k.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def version():
    p = subprocess.run([KAMAILIO, "-v"], capture_output=True, text=True, timeout=10)
    m = re.search(r"version: kamailio (\S+)", p.stdout or p.stderr)
    return m.group(1) if m else "?"


def _tmp_parent():
    want = os.environ.get("BENCH_KAMAILIO_TMP")
    if want:
        return want
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


class Kamailio:
    """One Kamailio (mode "registrar" or "redirect") on 127.0.0.1:port.

    users: {username: password}; each becomes a subscriber row with
    ha1 = MD5(user:realm:password) (no plain password stored)."""

    def __init__(self, mode, users, realm="anosip", children=None, db_mode=None):
        if mode not in ("registrar", "redirect"):
            raise ValueError(mode)
        self.mode = mode
        self.users = dict(users)
        self.realm = realm
        self.children = CHILDREN if children is None else children
        self.db_mode = DB_MODE if db_mode is None else db_mode
        self.cfg = os.path.join(CFG_DIR, f"{mode}.cfg")
        self.dir = None
        self.proc = None
        self.port = None
        self.pid = None

    # --- setup ---------------------------------------------------------------

    def _make_db(self):
        db = os.path.join(self.dir, "kamailio.db")
        c = sqlite3.connect(db, isolation_level=None)
        try:
            c.execute("PRAGMA journal_mode = WAL")
            for name in SCHEMAS:
                with open(os.path.join(SCHEMA_DIR, name)) as f:
                    c.executescript(f.read())
            c.execute("BEGIN")
            for user, password in self.users.items():
                ha1 = hashlib.md5(f"{user}:{self.realm}:{password}".encode()).hexdigest()
                c.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b)"
                          " VALUES (?, ?, '', ?, '')", (user, self.realm, ha1))
            c.execute("COMMIT")
        finally:
            c.close()
        return db

    def _args(self, check=False):
        db_url = "sqlite:///" + self.db          # + "/abs/path": four slashes
        args = [KAMAILIO, "-f", self.cfg,
                "-A", f'DBURL="{db_url}"',
                "-A", f"CHILDREN={int(self.children)}",
                "-A", f"DBMODE={int(self.db_mode)}",
                "-A", f'REALM="{self.realm}"',
                "-A", f'MPATH="{MODULES}"']
        if check:
            return args + ["-c"]
        return args + ["-DD", "-E", "-l", f"udp:127.0.0.1:{self.port}",
                       "-w", self.dir, "-P", os.path.join(self.dir, "kamailio.pid"),
                       "-m", "64", "-M", "8"]

    def start(self):
        if self.proc is not None:
            return self
        self.dir = tempfile.mkdtemp(prefix="anosip-bench-kam-", dir=_tmp_parent())
        self.db = self._make_db()
        chk = subprocess.run(self._args(check=True), capture_output=True, text=True,
                             timeout=30, cwd=self.dir)
        if chk.returncode != 0:
            raise RuntimeError(f"kamailio -c -f {self.cfg} failed:\n{chk.stderr[-2000:]}")
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "kamailio.log")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self._args(), cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _live.add(self)
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                log = self.log()
                self.stop()
                raise RuntimeError(f"kamailio ({self.mode}) exited {self.proc.returncode}:\n"
                                   + log[-3000:])
            if os.path.exists(os.path.join(self.dir, "kamailio.pid")) and \
                    wait_udp_bound(self.port, 0.05):
                break
            if time.monotonic() > deadline:
                log = self.log()
                self.stop()
                raise RuntimeError(f"kamailio ({self.mode}) not listening on "
                                   f"127.0.0.1:{self.port} after {START_TIMEOUT_S}s:\n"
                                   + log[-3000:])
            time.sleep(0.05)
        # Its workers come up right after the socket is bound.
        time.sleep(0.3)
        return self

    # --- what it does ----------------------------------------------------------

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, AttributeError):
            return ""

    def pids(self):
        """The main process and the processes it forked (same session)."""
        out = []
        if self.pid is None:
            return out
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                # fields[3] is the session id (field 6 of stat)
                if int(fields[3]) == self.pid:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                continue
        return out

    def cpu_seconds(self):
        """User + system CPU of all its processes so far."""
        return cpu_seconds(self.pids())

    def locations(self):
        """Rows in the location table (what db_mode 1 wrote through)."""
        c = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return c.execute("SELECT count(*) FROM location").fetchone()[0]
        finally:
            c.close()

    def errors(self):
        """ERROR lines of its log (e.g. "database is locked")."""
        return [ln for ln in self.log().splitlines() if "ERROR" in ln]

    # --- stop ------------------------------------------------------------------

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except ProcessLookupError:
                pass
        # Whatever it forked and left behind: its own process group.
        if self.pid is not None:
            for _ in range(50):
                left = self.pids()
                if not left:
                    break
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        _live.discard(self)

    def cleanup(self):
        self.stop()
        if self.dir and not os.environ.get("ANOSIP_KEEP_TESTBED"):
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            print(f"kamailio ({self.mode}) log tail:\n{self.log()[-2000:]}", file=sys.stderr)
        self.cleanup()


def _smoke():
    """A few seconds: both configurations, one SIPp run each."""
    from sipclients import run_sipp
    users = {"reg": "reg-secret", "callee": "callee-secret"}
    print(f"Kamailio {version()}")
    with Kamailio("registrar", users) as k:
        r = run_sipp("register_auth.xml", "127.0.0.1", k.port, service="reg", auth_user="reg",
                     auth_pass="reg-secret", keys={"domain": "anosip", "expires": 600},
                     calls=20, rate=20, timeout_s=20, trace_rtt=True, trace_msg=False)
        print(f"registrar on {k.port}: {r.successful} ok, {r.failed} failed, "
              f"{k.locations()} location rows, errors {k.errors()[:3]}")
        if not r.ok:
            print(r.describe())
    with Kamailio("redirect", users) as k:
        r = run_sipp("register_auth.xml", "127.0.0.1", k.port, service="callee",
                     auth_user="callee", auth_pass="callee-secret",
                     keys={"domain": "anosip", "expires": 3600}, timeout_s=20, trace_msg=False)
        print(f"redirect on {k.port}: callee registered: {r.ok}")
        r = run_sipp("invite_redirect_bench.xml", "127.0.0.1", k.port, service="caller",
                     keys={"domain": "anosip", "callee": "callee"}, calls=20, rate=20,
                     timeout_s=20, trace_rtt=True, trace_msg=True)
        print(f"INVITE -> 302: {r.successful} ok, {r.failed} failed")
        got = r.received(r"^SIP/2.0 302")
        if got:
            print(got[0])
        if not r.ok:
            print(r.describe())


if __name__ == "__main__":
    _smoke()
