"""Helpers for integration tests: real anosip processes on loopback.

Every wait has a timeout; every testbed a test starts is stopped by it
(Testbed is a context manager and also registers an atexit hook)."""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback


class Suite:
    """A list of test functions run in order; prints 'N passed, M failed'."""

    def __init__(self, name):
        self.name = name
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self):
        only = os.environ.get("ANOSIP_TEST_ONLY")
        passed = failed = 0
        for fn in self.tests:
            if only and only not in fn.__name__:
                continue
            start = time.monotonic()
            try:
                fn()
            except Exception:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL {self.name}.{fn.__name__} ({time.monotonic() - start:.1f}s)")
                traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print(f"ok   {self.name}.{fn.__name__} ({time.monotonic() - start:.1f}s)")
            sys.stdout.flush()
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0


def build_dir():
    return os.environ.get("ANOSIP_BUILD", "build/asan")


def anosip_bin():
    return os.path.abspath(os.path.join(build_dir(), "anosip"))


def tool_bin(name):
    return os.path.abspath(os.path.join(build_dir(), "tests", name))


def run(args, timeout=60, check=True, **kw):
    """Runs a command with a timeout; returns CompletedProcess (text)."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def parse_pairs(text):
    out = {}
    for line in text.splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


class Testbed:
    """`anosip testbed` in a private temporary folder (short path: UNIX
    socket paths are limited to 107 bytes)."""

    def __init__(self, tree="2x3", log_level="info"):
        self.tree = tree
        self.log_level = log_level
        self.dir = tempfile.mkdtemp(prefix="anosip-tb-", dir="/tmp")
        self.up_output = ""
        self.nodes = []
        atexit.register(self.down)

    def __enter__(self):
        self.up()
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self, timeout=60):
        p = run([anosip_bin(), "testbed", "up", "--tree", self.tree, "--dir", self.dir,
                 "--log-level", self.log_level, "--timeout", "30"], timeout=timeout)
        self.up_output = p.stdout
        self.nodes = re.findall(r"^(node-\d+)\s", p.stdout, re.M)
        assert self.nodes, p.stdout

    def down(self):
        if self.dir and os.path.isdir(self.dir):
            run([anosip_bin(), "testbed", "down", "--dir", self.dir], timeout=60, check=False)
            if os.environ.get("ANOSIP_KEEP_TESTBED"):
                print(f"(kept {self.dir})")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def sock(self, node):
        return self.path(f"{node}.sock")

    def ctl(self, node, *cmd, timeout=30, check=True):
        return run([anosip_bin(), "ctl", "-s", self.sock(node), "-t", str(timeout), *cmd],
                   timeout=timeout + 10, check=check)

    def metrics(self, node):
        return {k: int(v) for k, v in parse_pairs(self.ctl(node, "metrics").stdout).items()}

    def status(self, node):
        return parse_pairs(self.ctl(node, "status").stdout)

    def links(self, node):
        """{peer: {'state': ..., 'up_ms': int, ...}}"""
        out = {}
        for line in self.ctl(node, "links").stdout.splitlines():
            words = line.split()
            info = {"relation": words[1], "state": words[2]}
            for w in words[3:]:
                k, v = w.split("=", 1)
                info[k] = int(v) if v.isdigit() else v
            out[words[0]] = info
        return out

    def ping(self, src, dst, count=1, hop_limit=None, check=True):
        args = ["ping", dst, str(count)] + ([str(hop_limit)] if hop_limit else [])
        return self.ctl(src, *args, check=check)

    def all_pairs_ping(self):
        """Every node pings every other; returns the list of failures."""
        failures = []
        for src in self.nodes:
            for dst in self.nodes:
                if src == dst:
                    continue
                p = self.ping(src, dst, check=False)
                if p.returncode != 0 or "1 received" not in p.stdout:
                    failures.append((src, dst, p.stdout.strip()))
        return failures

    def wait_all_links(self, timeout=30):
        run([anosip_bin(), "testbed", "wait", "--dir", self.dir, "--timeout", str(timeout)],
            timeout=timeout + 10)

    def pid(self, node):
        with open(self.path(f"{node}.pid")) as f:
            return int(f.read())

    def log(self, node):
        with open(self.path(f"{node}.log"), errors="replace") as f:
            return f.read()

    def address(self, node):
        with open(self.path("topology.ini")) as f:
            text = f.read()
        m = re.search(rf"\[node {re.escape(node)}\]\naddress = ([\d.]+):(\d+)", text)
        return m.group(1), int(m.group(2))
