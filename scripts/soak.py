#!/usr/bin/env python3
"""`make soak`: a testbed under steady call load for a while, its nodes
and uas under AddressSanitizer / LeakSanitizer (the sanitizer build), and
a report of memory growth, leaks, errors and latency over time (issue 8,
"Hardening").

Usage: scripts/soak.py BUILD_DIR [OUT.md]
  BUILD_DIR  a build folder holding `anosip` (make soak: build/asan)
  OUT.md     the report (default build/soak.md); OUT.json holds the
             samples, OUT.png the figure (when gnuplot is there)

What runs: `anosip testbed up --tree SOAK_TREE` (default 2x3: node-0 the
lookup service and the identity directory, three lighthouses, nine
portals), three uas with their SIP fronts — "callee" homed on the first
lighthouse, "caller" on the second, "reg" on the third, each through two
of the portals below its lighthouse — and the callee's softphone
registered with SIPp. Then, in rounds of SOAK_ROUND s until SOAK_SECONDS
have passed, three SIPp runs at once:
  INVITE -> 302 -> ACK from "caller" to "callee" at SOAK_RATE calls/s
    (invite_redirect_bench.xml: the caller's ua, its circuit, two
    lighthouses, the lookup, the callee's circuit and ua, and back);
  REGISTER -> 401 -> REGISTER with digest -> 200 for "reg" at
    SOAK_REGISTER_RATE calls/s (register_auth.xml: nonce, HA1 from
    SQLite, binding written to SQLite on the third lighthouse);
  one REGISTER refresh of the callee's softphone.
Every SOAK_SAMPLE s a sampler reads each process's /proc/PID/status
(VmRSS, VmHWM, RssAnon) and its counters (`anosip ctl -s SOCK metrics`).
At the end `anosip testbed down` stops everything with SIGTERM, so
LeakSanitizer checks every process as it exits, and the logs are searched
for sanitizer reports.

Verdict (the last line, and the exit code 0/1): PASS when no LeakSanitizer,
AddressSanitizer or UBSan report was found, no call failed (at most
SOAK_MAX_FAILED), no error or drop counter grew while the load ran, no
process died, and every process's memory was flat over the second half of
the run (the first half is warm-up: allocator caches, SQLite's page cache,
replay windows fill): the least-squares slope of its VmRSS over the
samples of the second half below SOAK_MAX_GROWTH KiB/min, or a rise over
the whole second half below SOAK_MIN_RISE KiB (the allocator and SQLite
take memory in steps of 64 KiB or so: in a short run one step alone reads
as a steep slope).

AddressSanitizer keeps freed memory in a quarantine (256 MB by default)
to catch a use after free; it fills for as long as the process frees
memory, which under a steady load reads as growth (a 4 MB quarantine
still made an idle portal grow 78 KiB/min). Unless ASAN_OPTIONS already
names quarantine_size_mb, the soak sets it to SOAK_QUARANTINE_MB (default
0: no quarantine, freed memory is reused at once, so the RSS follows what
the code holds). Use-after-free is `make test`'s and `make fuzz`'s to
catch, with the quarantine on; out-of-bounds accesses, UBSan and
LeakSanitizer work the same here.

ASan records the stack of every malloc in its stack depot, which only
grows. Its default fast unwinder follows frame pointers, and through
libraries built without them (libuv, libosip2, libsodium, SQLite) it
picks up whatever the frame register holds: a ua then records about six
new "unique" stacks per call, and its RSS climbed ~400 KiB/min while its
live heap (`__sanitizer_print_memory_profile`) stayed at 625 KB. Unless
ASAN_OPTIONS names fast_unwind_on_malloc, the soak sets it to 0: stacks
are unwound exactly (slower: p99 of the INVITEs ~80-140 ms instead of
~20 ms), the depot stops growing once every path has been seen, and the
stacks of LeakSanitizer reports are exact as well.

Environment (defaults): SOAK_SECONDS=600 SOAK_RATE=20 SOAK_REGISTER_RATE=2
SOAK_ROUND=30 SOAK_SAMPLE=10 SOAK_MAX_GROWTH=64 (KiB/min per process)
SOAK_MIN_RISE=256 (KiB)
SOAK_MAX_FAILED=0 SOAK_TREE=2x3 SOAK_QUARANTINE_MB=0 SOAK_KEEP=0 (1: keep
the testbed folder; it is also kept when a sanitizer reported).

Bounded: every SIPp run has -m, -recv_timeout and a timeout; every ctl
call a timeout; the testbed is always stopped (finally, atexit and
SIGTERM). Only 127.0.0.1 is used."""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from sipclients import Sipp, free_port, run_sipp  # noqa: E402
from bench_common import exit_on_sigterm, json_path, percentile, read_pid, write_json  # noqa: E402


def env_num(name, default, kind=float):
    try:
        return kind(os.environ.get(name, default))
    except ValueError:
        sys.exit(f"soak: {name} must be a number")


SECONDS = env_num("SOAK_SECONDS", 600)
RATE = env_num("SOAK_RATE", 20)
REGISTER_RATE = env_num("SOAK_REGISTER_RATE", 2)
ROUND = env_num("SOAK_ROUND", 30)
SAMPLE = env_num("SOAK_SAMPLE", 10)
MAX_GROWTH = env_num("SOAK_MAX_GROWTH", 64)
MIN_RISE = env_num("SOAK_MIN_RISE", 256)
MAX_FAILED = env_num("SOAK_MAX_FAILED", 0, int)
TREE = os.environ.get("SOAK_TREE", "2x3")
QUARANTINE_MB = env_num("SOAK_QUARANTINE_MB", 0, int)
KEEP = os.environ.get("SOAK_KEEP", "0") not in ("", "0")

DOMAIN = "anosip"
SIPP_ARGS = ("-timer_resol", "1")
PASSWORDS = {"callee": "callee-secret", "caller": "caller-secret", "reg": "reg-secret"}
# Counters that must not grow under a steady, well-formed load: every
# drop, failure, refusal, replay and rebuilt circuit. Not lh_sip_errors
# nor ua_sip_errors_sent: they count every answer >= 300 sent, and the
# load's 401 challenges and 302 redirects are such answers.
ERROR_COUNTER_RE = re.compile(
    r"^(drop_\w+|handshakes_failed|connect_failures|reconnects|iddir_bad_queries"
    r"|iddir_rate_limited|lh_creates_refused|lh_replays|lh_sip_auth_failed"
    r"|lh_sip_nonce_counts_full|lookup_conflicts|ua_rebuilds|ua_refused"
    r"|ua_sip_connections_refused|ua_sip_connections_timed_out|ua_sip_forged"
    r"|ua_sip_frame_errors|ua_sip_malformed|ua_sip_direct_refused|ua_sip_declines"
    r"|ua_sip_transactions_forgotten_early|\w+_failed|\w+_failures)$")
# Gauges of state held (reported at half time and at the end): one that
# only climbs under a steady load is state that is never let go.
GAUGES = ("circuits", "circuits_pending", "lh_circuits", "lh_sip_transactions",
          "ua_sip_transactions", "ua_sip_transactions_pending", "ua_sip_tcp_connections")
SANITIZER_RE = re.compile(r"(ERROR|WARNING|SUMMARY): (Address|Leak|UndefinedBehavior|Thread|Memory)"
                          r"Sanitizer|runtime error:")


def say(text):
    print(f"soak: {text}", file=sys.stderr, flush=True)


class Soak:
    def __init__(self, build, out_path):
        self.anosip = os.path.abspath(os.path.join(build, "anosip"))
        self.out_path = out_path
        self.tb = tempfile.mkdtemp(prefix="anosip-soak-", dir="/tmp")
        self.ports = {}
        self.procs = {}          # name -> pid, fixed once the testbed is set up
        self.samples = []        # {"t", "mem": {name: {VmRSS, VmHWM, RssAnon}}, "metrics"}
        self.rounds = []
        self.died = {}           # name -> t (s) when first seen gone
        self.t0 = None
        self.stopped = False
        self.lock = threading.Lock()
        atexit.register(self.down)

    # --- anosip ------------------------------------------------------------

    def sh(self, *args, timeout=90):
        p = subprocess.run([self.anosip, *args], capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"anosip {' '.join(args)}: "
                               f"{p.stderr.strip() or p.stdout.strip()}")
        return p.stdout

    def up(self):
        out = self.sh("testbed", "up", "--tree", TREE, "--dir", self.tb, "--log-level", "warn",
                      "--timeout", "60", timeout=120)
        rows = {}
        for m in re.finditer(r"^(node-\d+)\s+\d+\s+\S+\s+(\S+)\s+(\S+)", out, re.M):
            rows[m.group(1)] = (m.group(2), m.group(3).split(","))
        lighthouses = [n for n, (_, roles) in rows.items() if "lighthouse" in roles]
        portals = [n for n, (_, roles) in rows.items() if "portal" in roles]
        if not lighthouses or not portals:
            raise RuntimeError(f"testbed {TREE} has no lighthouse or no portal:\n{out}")

        def below(lh):
            """The portals in the subtree of lighthouse lh (else any two)."""
            mine = []
            for p in portals:
                node = p
                for _ in range(len(rows)):   # bounded walk up the tree
                    if node == lh:
                        mine.append(p)
                        break
                    node = rows.get(node, ("-",))[0]
                    if node == "-":
                        break
            return (mine or portals)[:2]

        for i, nick in enumerate(("callee", "caller", "reg")):
            lh = lighthouses[i % len(lighthouses)]
            self.ua(nick, lh, " ".join(below(lh)), contacts="caller" if nick == "callee" else "")
        self.register("callee", 1, 1, 20, expires=3600, check=True)
        for f in sorted(os.listdir(self.tb)):
            if f.endswith(".pid"):
                self.procs[f[:-4]] = read_pid(os.path.join(self.tb, f))
        return rows

    def ua(self, nick, lighthouse, portals, contacts=""):
        pw = os.path.join(self.tb, f"{nick}.password")
        with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PASSWORDS[nick] + "\n")
        listen, direct = free_port(), free_port()
        self.ports[nick] = listen
        extra = ["--contacts", contacts] if contacts else []
        self.sh("testbed", "ua", "add", "--dir", self.tb, nick, "--lighthouse", lighthouse,
                "--portals", portals, "--sip-listen", f"127.0.0.1:{listen}", "--sip-direct",
                f"127.0.0.1:{direct}", "--password-file", pw, "--digest", "MD5",
                "--log-level", "warn", "--timeout", "30", *extra, timeout=60)

    def down(self):
        """Stops every ua and node with SIGTERM (LeakSanitizer runs at each
        exit); once."""
        if self.stopped:
            return
        self.stopped = True
        try:
            subprocess.run([self.anosip, "testbed", "down", "--dir", self.tb],
                           capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            say(f"testbed down: {e}")

    def cleanup(self, keep):
        if keep:
            say(f"kept {self.tb}")
        else:
            shutil.rmtree(self.tb, ignore_errors=True)

    # --- SIPp --------------------------------------------------------------

    def register(self, user, rate, calls, timeout_s, expires=600, check=False, start=False):
        kw = dict(service=user, auth_user=user, auth_pass=PASSWORDS[user],
                  keys={"domain": DOMAIN, "expires": expires}, calls=calls, rate=rate,
                  limit=max(10, int(rate)), timeout_s=timeout_s, trace_rtt=True,
                  trace_msg=False, extra_args=SIPP_ARGS)
        if start:
            return Sipp("register_auth.xml", "127.0.0.1", self.ports[user], **kw).start()
        r = run_sipp("register_auth.xml", "127.0.0.1", self.ports[user], **kw)
        if check and not r.ok:
            raise RuntimeError(f"{user}'s registration failed:\n" + r.describe())
        return r

    def invite(self, rate, calls, timeout_s):
        return Sipp("invite_redirect_bench.xml", "127.0.0.1", self.ports["caller"],
                    service="caller", keys={"domain": DOMAIN, "callee": "callee"},
                    calls=calls, rate=rate, limit=max(10, int(rate)), timeout_s=timeout_s,
                    trace_rtt=True, trace_msg=False, extra_args=SIPP_ARGS).start()

    def one_round(self, seconds):
        """One round: INVITEs, REGISTERs and the callee's refresh at once."""
        t_start = self.now()
        n_inv = max(1, int(round(RATE * seconds)))
        n_reg = max(1, int(round(REGISTER_RATE * seconds)))
        timeout_s = seconds + 30
        runs = {"invite": self.invite(RATE, n_inv, timeout_s),
                "register": self.register("reg", REGISTER_RATE, n_reg, timeout_s, start=True),
                "refresh": self.register("callee", 1, 1, timeout_s, expires=3600, start=True)}
        results = {}
        for name, s in runs.items():
            try:
                results[name] = s.wait()
            finally:
                s.stop()
                if s.own_dir and s.dir:
                    shutil.rmtree(s.dir, ignore_errors=True)
        row = {"t_start": t_start, "t_end": self.now()}
        for name, rtd in (("invite", "1"), ("register", "2"), ("refresh", "2")):
            r = results[name]
            times = r.rtt_ms(rtd)
            row[name] = {"offered": {"invite": n_inv, "register": n_reg, "refresh": 1}[name],
                         "ok": r.successful, "failed": r.failed, "timed_out": r.timed_out,
                         "failures": r.failures(), "n": len(times),
                         "p50": percentile(times, 50), "p99": percentile(times, 99),
                         "max": max(times) if times else float("nan")}
            # A run that ended early (killed, fatal) leaves calls neither ok
            # nor failed: those count as failed too.
            missing = row[name]["offered"] - r.successful - r.failed
            if missing > 0:
                row[name]["failed"] += missing
        return row

    # --- sampling ----------------------------------------------------------

    def now(self):
        return time.monotonic() - self.t0

    def sample(self):
        s = {"t": self.now(), "mem": {}, "metrics": {}}
        for name, pid in self.procs.items():
            mem = {}
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        k, _, v = line.partition(":")
                        if k in ("VmRSS", "VmHWM", "RssAnon"):
                            mem[k] = int(v.split()[0])
            except (OSError, ValueError, IndexError):
                mem = None
            if not mem:
                with self.lock:
                    self.died.setdefault(name, s["t"])
                continue
            s["mem"][name] = mem
            s["metrics"][name] = self.metrics(name)
        with self.lock:
            self.samples.append(s)
        return s

    def metrics(self, name):
        try:
            p = subprocess.run([self.anosip, "ctl", "-s", os.path.join(self.tb, f"{name}.sock"),
                                "-t", "10", "metrics"], capture_output=True, text=True,
                               timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if p.returncode != 0:
            return None
        out = {}
        for line in p.stdout.splitlines():
            k, _, v = line.partition(" ")
            if v.strip().isdigit():
                out[k] = int(v)
        return out

    def sampler(self, stop):
        next_t = self.now() + SAMPLE
        while not stop.wait(max(0.0, next_t - self.now())):
            self.sample()
            next_t += SAMPLE

    # --- the run -----------------------------------------------------------

    def run(self):
        self.t0 = time.monotonic()
        say(f"testbed {TREE} and three uas in {self.tb}")
        self.up()
        say(f"{len(self.procs)} processes; load: INVITE {RATE:g}/s, REGISTER "
            f"{REGISTER_RATE:g}/s, {SECONDS:g} s in rounds of {ROUND:g} s")
        self.t0 = time.monotonic()
        self.sample()
        stop = threading.Event()
        th = threading.Thread(target=self.sampler, args=(stop,), daemon=True)
        th.start()
        try:
            while self.now() < SECONDS - 1:
                seconds = min(ROUND, SECONDS - self.now())
                row = self.one_round(seconds)
                self.rounds.append(row)
                inv, reg = row["invite"], row["register"]
                say(f"t={row['t_end']:.0f}s INVITE {inv['ok']}/{inv['offered']} ok, p99 "
                    f"{inv['p99']:.0f} ms; REGISTER {reg['ok']}/{reg['offered']} ok; RSS "
                    f"{self.total_rss('node-') // 1024} MiB nodes, "
                    f"{self.total_rss('ua-') // 1024} MiB uas")
        finally:
            stop.set()
            th.join(timeout=60)
        self.sample()
        self.end_t = self.now()

    def total_rss(self, prefix):
        with self.lock:
            if not self.samples:
                return 0
            mem = self.samples[-1]["mem"]
        return sum(m["VmRSS"] for n, m in mem.items() if n.startswith(prefix))


# --- judging -----------------------------------------------------------------------

def slope_per_min(points):
    """Least-squares slope of [(t s, KiB)] in KiB/min; None for < 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var <= 0:
        return None
    return sum((t - mt) * (v - mv) for t, v in points) / var * 60


def memory_table(samples, end_t):
    """Per process: RSS at the start, at half time and at the end, the peak,
    and the slope over the second half."""
    half = end_t / 2
    names = sorted({n for s in samples for n in s["mem"]}, key=proc_key)
    out = {}
    for name in names:
        series = [(s["t"], s["mem"][name]["VmRSS"]) for s in samples if name in s["mem"]]
        anon = [(s["t"], s["mem"][name].get("RssAnon", 0)) for s in samples
                if name in s["mem"]]
        if not series:
            continue
        second = [p for p in series if p[0] >= half]
        mid = second[0][1] if second else series[-1][1]
        out[name] = {"start": series[0][1], "mid": mid, "end": series[-1][1],
                     "hwm": max(s["mem"][name]["VmHWM"] for s in samples if name in s["mem"]),
                     "slope": slope_per_min(second),
                     "rise": second[-1][1] - second[0][1] if second else None,
                     "anon_slope": slope_per_min([p for p in anon if p[0] >= half]),
                     "points": len(second)}
    return out


def grows(m):
    return m["slope"] is not None and m["slope"] >= MAX_GROWTH and m["rise"] >= MIN_RISE


def proc_key(name):
    m = re.match(r"node-(\d+)$", name)
    return (0, int(m.group(1)), "") if m else (1, 0, name)


def counter_growth(samples):
    """{process: {counter: growth}} of the error counters between the
    first and the last sample that read the process's metrics."""
    grown = {}
    names = {n for s in samples for n in s["metrics"]}
    for name in names:
        readings = [s["metrics"][name] for s in samples if s["metrics"].get(name)]
        if len(readings) < 2:
            continue
        first, last = readings[0], readings[-1]
        for k, v in last.items():
            if ERROR_COUNTER_RE.match(k) and v > first.get(k, 0):
                grown.setdefault(name, {})[k] = v - first.get(k, 0)
    return grown


def gauge_table(samples, end_t):
    """{process: {gauge: (value at half time, highest in the second half,
    value at the end)}} for the gauges a process has and ever held above 0."""
    half = end_t / 2
    out = {}
    names = {n for s in samples for n in s["metrics"]}
    for name in sorted(names, key=proc_key):
        second = [s["metrics"][name] for s in samples
                  if s["t"] >= half and s["metrics"].get(name)]
        if not second:
            continue
        for g in GAUGES:
            values = [m[g] for m in second if g in m]
            if values and max(values) > 0:
                out.setdefault(name, {})[g] = (values[0], max(values), values[-1])
    return out


def sanitizer_reports(folder):
    """{log name: {"leaks": n, "errors": n, "lines": [...], "stacks": [...]}}
    for every log under the folder with a sanitizer line."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(root, name), errors="replace") as f:
                lines = f.read().splitlines()
            hits = [ln for ln in lines if SANITIZER_RE.search(ln)]
            if not hits:
                continue
            rep = {"leaks": sum("ERROR: LeakSanitizer" in ln for ln in hits),
                   "errors": sum(("ERROR: AddressSanitizer" in ln or "runtime error:" in ln
                                  or "ERROR: UndefinedBehaviorSanitizer" in ln)
                                 for ln in hits),
                   "lines": hits[:20], "stacks": []}
            # The first frames of each leak ("Direct leak of N byte(s) ...").
            for i, ln in enumerate(lines):
                if re.match(r"\s*(Direct|Indirect) leak of", ln) and len(rep["stacks"]) < 6:
                    frames = [x.strip() for x in lines[i + 1:i + 9] if x.strip().startswith("#")]
                    rep["stacks"].append([ln.strip()] + frames)
            out[name] = rep
    return out


# --- the report --------------------------------------------------------------------

def fmt(x, digits=0):
    return "—" if x is None or x != x else f"{x:.{digits}f}"


def rss_at(samples, t, prefix):
    """Total VmRSS (KiB) of the processes named prefix* in the last sample
    at or before t."""
    best = None
    for s in samples:
        if s["t"] <= t + 0.5:
            best = s
    if best is None:
        return None
    return sum(m["VmRSS"] for n, m in best["mem"].items() if n.startswith(prefix))


def plot(samples, rounds, png):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot or not samples:
        return None
    tmp = tempfile.mkdtemp(prefix="anosip-soak-plot-")
    try:
        mem = os.path.join(tmp, "mem.dat")
        with open(mem, "w") as f:
            for s in samples:
                nodes = sum(m["VmRSS"] for n, m in s["mem"].items() if n.startswith("node-"))
                uas = sum(m["VmRSS"] for n, m in s["mem"].items() if n.startswith("ua-"))
                f.write(f"{s['t']:.1f} {nodes / 1024:.2f} {uas / 1024:.2f}\n")
        lat = os.path.join(tmp, "lat.dat")
        with open(lat, "w") as f:
            for r in rounds:
                inv = r["invite"]
                if inv["n"]:
                    f.write(f"{r['t_end']:.1f} {inv['p50']} {inv['p99']}\n")
        script = f"""set terminal pngcairo size 900,700 noenhanced font 'Sans,10'
set output '{os.path.abspath(png)}'
set multiplot layout 2,1 title "soak: {TREE}, INVITE {RATE:g}/s, REGISTER {REGISTER_RATE:g}/s"
set grid ytics
set key top left
set xlabel "time (s)"
set ylabel "RSS (MiB)"
set key center right
plot '{mem}' using 1:2 with linespoints pt 7 title "nodes (sum)", \\
     '' using 1:3 with linespoints pt 5 title "uas (sum)"
set ylabel "INVITE -> 302 (ms)"
set key top left
set yrange [0:*]
plot '{lat}' using 1:2 with linespoints pt 7 title "p50 per round", \\
     '' using 1:3 with linespoints pt 5 title "p99 per round"
unset multiplot
"""
        gp = os.path.join(tmp, "soak.gp")
        with open(gp, "w") as f:
            f.write(script)
        p = subprocess.run([gnuplot, gp], capture_output=True, text=True, timeout=60, cwd=tmp)
        if p.returncode != 0 or not os.path.exists(png):
            say(f"gnuplot failed: {p.stderr.strip()[:300]}")
            return None
        return png
    except (OSError, subprocess.TimeoutExpired) as e:
        say(f"gnuplot failed: {e}")
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(soak, reports, setup_error=None):
    """The markdown text and the verdict's reasons (empty: PASS)."""
    samples, rounds = soak.samples, soak.rounds
    end_t = getattr(soak, "end_t", samples[-1]["t"] if samples else 0)
    mem = memory_table(samples, end_t)
    grown = counter_growth(samples)
    reasons = []
    if setup_error:
        reasons.append(f"setup or load failed: {setup_error}")
    leaks = sum(r["leaks"] for r in reports.values())
    san_errors = sum(r["errors"] for r in reports.values())
    other_san = sum(1 for r in reports.values() if not r["leaks"] and not r["errors"])
    if leaks:
        reasons.append(f"{leaks} LeakSanitizer report(s)")
    if san_errors:
        reasons.append(f"{san_errors} ASan/UBSan report(s)")
    if other_san:
        reasons.append(f"sanitizer lines in {other_san} log(s)")
    inv_failed = sum(r["invite"]["failed"] for r in rounds)
    reg_failed = sum(r["register"]["failed"] + r["refresh"]["failed"] for r in rounds)
    inv_ok = sum(r["invite"]["ok"] for r in rounds)
    reg_ok = sum(r["register"]["ok"] + r["refresh"]["ok"] for r in rounds)
    if inv_failed + reg_failed > MAX_FAILED:
        reasons.append(f"{inv_failed} INVITE and {reg_failed} REGISTER calls failed")
    if not rounds and not setup_error:
        reasons.append("no load ran")
    if grown:
        reasons.append("error counters grew: " + ", ".join(
            f"{n} {k} +{v}" for n in sorted(grown, key=proc_key)
            for k, v in sorted(grown[n].items())))
    if soak.died:
        reasons.append("processes died: " + ", ".join(sorted(soak.died, key=proc_key)))
    growing = [n for n, m in mem.items() if grows(m)]
    unjudged = [n for n, m in mem.items() if m["slope"] is None]
    if growing:
        reasons.append("memory grew: " + ", ".join(f"{n} {mem[n]['slope']:.0f} KiB/min"
                                                   for n in growing))
    if unjudged and not setup_error:
        reasons.append(f"memory not judged for {len(unjudged)} process(es) (fewer than 3 "
                       "samples in the second half: run longer)")

    all_inv = [r["invite"] for r in rounds if r["invite"]["n"]]
    lines = [f"# Soak: {TREE} testbed, INVITE {RATE:g}/s + REGISTER {REGISTER_RATE:g}/s "
             f"for {end_t:.0f} s", ""]
    lines.append(f"Binary `{os.path.relpath(soak.anosip, ROOT)}` (sanitizer build: ASan, "
                 f"UBSan, LeakSanitizer at exit); ASAN_OPTIONS=`{os.environ.get('ASAN_OPTIONS', '')}`. "
                 f"{len(soak.procs)} processes: "
                 f"{sum(1 for n in soak.procs if n.startswith('node-'))} nodes and "
                 f"{sum(1 for n in soak.procs if n.startswith('ua-'))} uas. Load in rounds of "
                 f"{ROUND:g} s (one SIPp run each per kind); memory and counters sampled every "
                 f"{SAMPLE:g} s. Started {time.strftime('%Y-%m-%d %H:%M:%S', soak.wall_start)}; "
                 f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
                 f"on {os.cpu_count()} cores.")
    lines += ["", "## Over time", "",
              "| t (s) | INVITE ok | failed | p50 ms | p99 ms | REGISTER ok | failed | "
              "p99 ms | RSS nodes (MiB) | RSS uas (MiB) |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rounds:
        inv, reg = r["invite"], r["register"]
        nodes, uas = rss_at(samples, r["t_end"], "node-"), rss_at(samples, r["t_end"], "ua-")
        lines.append(f"| {r['t_end']:.0f} | {inv['ok']} | {inv['failed']} | {fmt(inv['p50'])} "
                     f"| {fmt(inv['p99'])} | {reg['ok'] + r['refresh']['ok']} | "
                     f"{reg['failed'] + r['refresh']['failed']} | {fmt(reg['p99'])} | "
                     f"{fmt(nodes / 1024 if nodes else None, 1)} | "
                     f"{fmt(uas / 1024 if uas else None, 1)} |")
    if all_inv:
        lines += ["", f"INVITE → 302 p99 per round: first {fmt(all_inv[0]['p99'])} ms, last "
                  f"{fmt(all_inv[-1]['p99'])} ms, highest {fmt(max(r['p99'] for r in all_inv))} ms "
                  f"(SIPp's clock steps 4 ms here)."]
    lines += ["", f"## Memory per process (VmRSS, KiB; slope over the second half, from "
              f"t = {end_t / 2:.0f} s; flat: below {MAX_GROWTH:g} KiB/min or a rise below "
              f"{MIN_RISE:g} KiB)", "",
              "| process | start | half time | end | peak (VmHWM) | rise in 2nd half | "
              "slope KiB/min | RssAnon slope | |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, m in mem.items():
        verdict = "not judged" if m["slope"] is None else (
            "**grows**" if grows(m) else "flat")
        lines.append(f"| {name} | {m['start']} | {m['mid']} | {m['end']} | {m['hwm']} | "
                     f"{fmt(m['rise'])} | {fmt(m['slope'], 1)} | {fmt(m['anon_slope'], 1)} | "
                     f"{verdict} |")
    gauges = gauge_table(samples, end_t)
    if gauges:
        lines += ["", "State held in the second half (gauges from `ctl metrics`: at half time, "
                  "highest, at the end):", ""]
        lines += [f"- {n}: " + ", ".join(f"`{g}` {a} / {b} / {c}" for g, (a, b, c) in gs.items())
                  for n, gs in gauges.items()]
    lines += ["", "## Leaks and errors", "",
              f"- LeakSanitizer reports: {leaks}",
              f"- ASan / UBSan reports: {san_errors}",
              f"- calls: INVITE {inv_ok} ok, {inv_failed} failed; REGISTER {reg_ok} ok, "
              f"{reg_failed} failed",
              "- error and drop counters grown during the load: " +
              (", ".join(f"{n} `{k}` +{v}" for n in sorted(grown, key=proc_key)
                         for k, v in sorted(grown[n].items())) if grown else "none"),
              "- processes that died: " +
              (", ".join(f"{n} (t = {t:.0f} s)" for n, t in sorted(soak.died.items()))
               if soak.died else "none")]
    for name, rep in sorted(reports.items()):
        lines += ["", f"### {name}", "", "```"] + rep["lines"][:10]
        for st in rep["stacks"]:
            lines += [""] + st
        lines += ["```"]
    png = plot(samples, rounds, png_path(soak.out_path))
    if png:
        lines += ["", f"![RSS and INVITE latency over time]({os.path.basename(png)})"]
    lines += ["", "soak: PASS" if not reasons else f"soak: FAIL ({'; '.join(reasons)})"]
    return "\n".join(lines) + "\n", reasons


def png_path(md_path):
    base = md_path[:-3] if md_path.endswith(".md") else md_path
    return base + ".png"


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: scripts/soak.py BUILD_DIR [OUT.md]")
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build", "soak.md")
    opts = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    if "fast_unwind_on_malloc" not in opts:
        opts += ":fast_unwind_on_malloc=0"
    if "quarantine_size_mb" not in opts:
        opts += f":quarantine_size_mb={QUARANTINE_MB}"
        if QUARANTINE_MB == 0:
            opts += ":thread_local_quarantine_size_kb=0"
    os.environ["ASAN_OPTIONS"] = opts
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    binary = os.path.join(sys.argv[1], "anosip")
    if not os.access(binary, os.X_OK):
        sys.exit(f"soak: no {binary}")
    soak = Soak(sys.argv[1], out_path)
    soak.wall_start = time.localtime()
    setup_error = None
    try:
        soak.run()
    except (RuntimeError, OSError, subprocess.TimeoutExpired, AssertionError) as e:
        setup_error = str(e).strip().splitlines()[0][:300] if str(e).strip() else repr(e)
        say(f"error: {str(e)[:2000]}")
    finally:
        soak.down()
    reports = sanitizer_reports(soak.tb)
    text, reasons = report(soak, reports, setup_error)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        f.write(text)
    write_json(json_path(out_path), {"tree": TREE, "rate": RATE, "register_rate": REGISTER_RATE,
                                     "seconds": SECONDS, "rounds": soak.rounds,
                                     "samples": soak.samples, "sanitizer": reports,
                                     "reasons": reasons})
    print(text, end="")
    soak.cleanup(KEEP or bool(reports) or bool(setup_error))
    return 1 if reasons else 0


if __name__ == "__main__":
    exit_on_sigterm()
    sys.exit(main())
