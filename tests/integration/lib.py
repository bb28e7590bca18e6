"""Helpers for integration tests: real anosip processes on loopback.

Every wait has a timeout; every testbed a test starts is stopped by it
(Testbed is a context manager and also registers an atexit hook)."""
import atexit
import os
import re
import shutil
import signal
import struct
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


SANITIZER_RE = re.compile(r"(ERROR|WARNING|SUMMARY): (Address|Leak|UndefinedBehavior|Thread|Memory)"
                          r"Sanitizer|runtime error:")


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

    def __init__(self, tree="2x3", log_level="info", users=0, netns=False):
        self.netns = netns
        self.tree = tree
        self.log_level = log_level
        self.users = users
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
        users = ["--users", str(self.users)] if self.users else []
        netns = ["--netns"] if self.netns else []
        p = run([anosip_bin(), "testbed", "up", "--tree", self.tree, "--dir", self.dir,
                 "--log-level", self.log_level, "--timeout", "30", *users, *netns],
                timeout=timeout)
        self.up_output = p.stdout
        self.nodes = re.findall(r"^(node-\d+)\s", p.stdout, re.M)
        assert self.nodes, p.stdout

    def down(self):
        """Stops every ua and node (SIGTERM, so LeakSanitizer runs), then
        returns the sanitizer report lines found in the logs (empty when
        clean; tests assert on it). Safe to call twice."""
        reports = []
        if self.dir and os.path.isdir(self.dir):
            for extra in self.extra_dirs:
                run([anosip_bin(), "testbed", "down", "--dir", extra], timeout=60, check=False)
            run([anosip_bin(), "testbed", "down", "--dir", self.dir], timeout=60, check=False)
            reports = self.sanitizer_reports()
            if reports:
                print(f"sanitizer reports in {self.dir}:\n" + "\n".join(reports[:40]))
            if os.environ.get("ANOSIP_KEEP_TESTBED") or reports:
                print(f"(kept {self.dir})")
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        return reports

    extra_dirs = ()  # sub-folders made by ua_folder(), stopped by down()

    def sanitizer_reports(self):
        """Lines of AddressSanitizer / LeakSanitizer / UBSan reports in any
        log under the testbed folder (nodes, uas, sub-folders)."""
        found = []
        for root, _, files in os.walk(self.dir):
            for name in sorted(files):
                if not name.endswith(".log"):
                    continue
                with open(os.path.join(root, name), errors="replace") as f:
                    for line in f:
                        if SANITIZER_RE.search(line):
                            found.append(f"{name}: {line.rstrip()}")
        return found

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

    # --- processes ------------------------------------------------------

    def stop(self, name, kill=False):
        """`testbed stop` a node or a ua (ua-NICK); kill: SIGKILL."""
        run([anosip_bin(), "testbed", "stop", "--dir", self.dir, name] +
            (["--kill"] if kill else []), timeout=30)

    def start(self, name):
        run([anosip_bin(), "testbed", "start", "--dir", self.dir, name], timeout=30)

    # --- users (anosip ua) ---------------------------------------------

    def ua_add(self, nick, lighthouse, portals, timeout=20, check=True, folder=None):
        """`testbed ua add`: starts a ua and waits for its open circuit.
        folder: another testbed folder sharing this network (see
        ua_folder), for a second ua with a nickname already used here."""
        return run([anosip_bin(), "testbed", "ua", "add", "--dir", folder or self.dir, nick,
                    "--lighthouse", lighthouse, "--portals", " ".join(portals),
                    "--log-level", self.log_level, "--timeout", str(timeout)],
                   timeout=timeout + 20, check=check)

    def ua_folder(self, name):
        """A sub-folder that `anosip testbed` sees as the same network (the
        directory and the authority's public key), for uas whose file
        names would collide with this folder's (ua-NICK.*). down() stops
        what runs in it and checks its logs."""
        folder = self.path(name)
        os.makedirs(folder, exist_ok=True)
        for f in ("directory.bin", "authority.pub"):
            shutil.copy(self.path(f), os.path.join(folder, f))
        self.extra_dirs = tuple(self.extra_dirs) + (folder,)
        return folder

    def ua(self, nick):
        return f"ua-{nick}"

    def ua_nicks(self):
        return sorted(n[3:-5] for n in os.listdir(self.dir)
                      if n.startswith("ua-") and n.endswith(".conf"))

    def circuit(self, nick, sock=None):
        """The ua's `circuit` answer as a dict (numbers as int)."""
        text = run([anosip_bin(), "ctl", "-s", sock or self.sock(self.ua(nick)), "circuit"],
                   timeout=20).stdout
        out = {}
        for k, v in parse_pairs(text).items():
            out[k] = int(v) if v.isdigit() else v
        return out

    def echo(self, nick, count=1, size=None, timeout=60):
        """`echo COUNT [BYTES]` on a ua: (round trips, ok, stdout)."""
        args = ["echo", str(count)] + ([str(size)] if size is not None else [])
        p = self.ctl(self.ua(nick), *args, timeout=timeout, check=False)
        m = re.search(r"^(\d+) round trips, (\d+) ok", p.stdout, re.M)
        assert m, (nick, p.stdout, p.stderr)
        return int(m.group(1)), int(m.group(2)), p.stdout

    def bindings(self, lighthouse):
        """(live, stale, {nick: {'state', 'expires', 'circuit'}})."""
        text = self.ctl(lighthouse, "bindings").stdout
        pairs = parse_pairs(text)
        table = {}
        for m in re.finditer(r"^binding (\S+) (live|stale) expires=(\d+) circuit=([0-9a-f]+)$",
                             text, re.M):
            table[m.group(1)] = {"state": m.group(2), "expires": int(m.group(3)),
                                 "circuit": m.group(4)}
        return int(pairs["bindings_live"]), int(pairs["bindings_stale"]), table

    def accounts(self, lighthouse):
        return int(parse_pairs(self.ctl(lighthouse, "accounts").stdout)["accounts"])

    def homes(self, lookup="node-0"):
        """{nick: lighthouse} from the lookup service; checks its count line."""
        text = self.ctl(lookup, "homes").stdout
        table = dict(re.findall(r"^home (\S+) (\S+)$", text, re.M))
        assert int(parse_pairs(text)["homes"]) == len(table), text
        return table

    def ua_snapshot(self, nicks=None):
        """{nick: (open_ms, built)}, for undisturbed() later."""
        snap = {}
        for nick in nicks or self.ua_nicks():
            c = self.circuit(nick)
            assert c["circuit"] == "open", (nick, c)
            snap[nick] = (c["open_ms"], c["built"])
        return snap

    def undisturbed(self, before):
        """Every ua of the snapshot still has the same circuit: open, its
        open_ms grown, no build since. Raises with the first that did not."""
        for nick, (open_ms, built) in before.items():
            c = self.circuit(nick)
            assert c["circuit"] == "open" and c["open_ms"] > open_ms and c["built"] == built, \
                (nick, (open_ms, built), c)

    # --- attackers ----------------------------------------------------

    def evil_client(self, portal, attack, *extra, timeout=60):
        """tests/tools/evil_peer as an anonymous client of a portal;
        returns the CompletedProcess (exit 0: the node answered as it must)."""
        return run([tool_bin("evil_peer"), "--dir", self.dir, "--client", "--to", portal,
                    "--attack", attack, *extra], timeout=timeout, check=False)


# --- what an eavesdropper sees -------------------------------------------

def read_pcap(path):
    """Yields (flow, payload) for each TCP segment with data, flow being
    (source port, destination port). The pcap format is small enough to
    read by hand: global header, then records."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:  # Ethernet (Linux lo)
            if len(pkt) < 14 or pkt[12:14] != b"\x08\x00":
                continue
            ip = pkt[14:]
        elif linktype == 113:  # Linux cooked
            ip = pkt[16:]
        else:
            ip = pkt
        if len(ip) < 20 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack(">HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:]
        if payload:
            yield (sport, dport), payload


class Capture:
    """tcpdump on lo into a pcap file while the block runs (a context
    manager); the filter is `tcp and (port P1 or port P2 ...)`."""

    def __init__(self, path, ports):
        self.path = path
        self.expr = "tcp and (" + " or ".join(f"port {p}" for p in ports) + ")"
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "-w", self.path,
                                      self.expr],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(self.path) and os.path.getsize(self.path) >= 24, 10,
                 "tcpdump to start")
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def word_re(words):
    """A regex matching any of words as a whole token: not preceded or
    followed by a nickname character ([a-z0-9._-]; a "." only when a
    nickname character follows it), so "user-1" does not match inside
    "user-10" but does at the end of a sentence."""
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9._-])(?:{alt})(?![a-z0-9_-]|\.[a-z0-9])")


def local_tcp_ports(pids):
    """{pid: set of local ports} of the TCP connections those processes
    hold now (from `ss -tnp`)."""
    out = {pid: set() for pid in pids}
    text = run(["ss", "-tnpH"], timeout=20).stdout
    for line in text.splitlines():
        words = line.split()
        if len(words) < 6:
            continue
        for pid in re.findall(r"pid=(\d+)", line):
            if int(pid) in out:
                out[int(pid)].add(int(words[3].rsplit(":", 1)[1]))
    return out
