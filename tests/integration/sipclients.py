"""Real SIP clients for the integration tests, the demo and the benchmark:
SIPp 3.6.1 scenarios (tests/integration/sip/*.xml) and baresip 1.0.0
softphones, both aimed at a ua's loopback SIP port.

Stdlib only. Every run is bounded by a timeout, every process started
here is stopped by the same object (and by an atexit hook as a last
resort), ports are picked free at run time and only 127.0.0.1 is used.

    from sipclients import run_sipp, Baresip, free_ports, scenario

    r = run_sipp("register_auth.xml", "127.0.0.1", ua_port, service="alice",
                 auth_user="alice", auth_pass="secret",
                 keys={"domain": "lh.anosip", "expires": 600})
    assert r.ok, r.describe()

    with Baresip("alice", domain="lh.anosip", password="secret",
                 outbound=("127.0.0.1", ua_port)) as phone:
        phone.wait_registered(10)
        phone.dial("sip:bob@lh.anosip")
        phone.wait_event("CALL_ESTABLISHED", 20)
        phone.hangup()
        phone.wait_event("CALL_CLOSED", 10)

Scenarios (tests/integration/sip/; parameters in each file's comment):
  register_auth.xml            REGISTER -> 401 -> REGISTER+digest -> 200
  register_wrong_password.xml  same, the second answer must be 401 or 403
  invite_redirect_uac.xml      INVITE -> 302 -> ACK -> INVITE Contact -> 200
                               -> ACK -> hold (-d) -> BYE -> 200
  invite_redirect_bench.xml    INVITE -> 302 -> ACK (rtd 1: INVITE -> 302)
  invite_expect.xml            INVITE -> the final code in -set expected -> ACK
  uas_answer.xml               callee: INVITE -> 180 -> 200 -> ACK, BYE -> 200
  uas_register_then_answer.xml callee that registers first (with -oocsf
                               uas_answer.xml; see start_callee())
  baseline_registrar.xml       a SIPp registrar (MD5 digest): make bench's
                               baseline, SIPp and the kernel without ANOSIP

The SIPp command line Sipp builds (all of it was checked on SIPp 3.6.1):
  sipp 127.0.0.1:UA_PORT -sf sip/register_auth.xml -t u1
       -i 127.0.0.1 -p PORT -mi 127.0.0.1 -mp MEDIA -ci 127.0.0.1 -cp CTRL
       -bind_local -nostdin -m CALLS [-r RATE] [-d HOLD_MS]
       -s NICK -au NICK -ap PASS -auth_uri DOMAIN
       -key domain DOMAIN -key expires 600 [-key callee NICK]
       [-set expected 404] [-set wait_loops 300] [-oocsf sip/uas_answer.xml]
       -trace_stat -stf FILE -fd 1 -trace_err -error_file FILE
       -trace_screen -screen_file FILE -trace_msg -message_file FILE
       [-trace_rtt -rtt_freq 1] -recv_timeout 10000 -timeout 30s -timeout_error
(-ci/-cp/-mi/-mp keep SIPp's control and media sockets on 127.0.0.1 and on
free ports: by default it binds 0.0.0.0:8888 and 6000+.)

The facts behind the choices here are in ../shared/SIP-INTEROP.md; the
uses are tests/integration/test_sip.py, scripts/demo.py and
scripts/bench_sip.py.
"""
import atexit
import csv
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIP_DIR = os.path.join(HERE, "sip")
LOOPBACK = "127.0.0.1"

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
BARESIP_MODULES = "/usr/lib/baresip/modules"


def scenario(name):
    """Absolute path of a scenario in tests/integration/sip/ (a path that
    exists is returned as is)."""
    if os.path.exists(name):
        return os.path.abspath(name)
    path = os.path.join(SIP_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


# --- ports -------------------------------------------------------------

# Below the kernel's ephemeral range (32768-60999 here), so a port we pick
# is not taken meanwhile by some process's outgoing connection; above
# baresip's RTP range (set to 10000-19999 in its config below).
PORT_RANGE = (20000, 32700)
# baresip's DNS server: a loopback port nobody listens on (below the range
# ports are picked from).
DNS_BLACKHOLE_PORT = 19999
_handed_out = set()
_port_lock = threading.Lock()


def _bindable(port, udp=True, tcp=True, host=LOOPBACK):
    kinds = ([socket.SOCK_DGRAM] if udp else []) + ([socket.SOCK_STREAM] if tcp else [])
    for kind in kinds:
        s = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port(span=1, udp=True, tcp=True, step=1):
    """A port P such that P, P+step, ..., P+(span-1)*step are all free
    (UDP and TCP by default) on 127.0.0.1 right now and were not handed
    out before by this process. span=2 suits baresip (TLS on P+1) and
    SIPp's media port (audio P, video P+2 with step=2)."""
    with _port_lock:
        for _ in range(2000):
            p = random.randrange(PORT_RANGE[0], PORT_RANGE[1] - span * step)
            ports = [p + i * step for i in range(span)]
            if any(q in _handed_out for q in ports):
                continue
            if all(_bindable(q, udp, tcp) for q in ports):
                _handed_out.update(ports)
                return p
    raise RuntimeError("no free port found")


def free_ports(n, span=1, udp=True, tcp=True):
    """n distinct free ports (each with `span` free ports from it on)."""
    return [free_port(span, udp, tcp) for _ in range(n)]


def wait_udp_bound(port, timeout, host=LOOPBACK):
    """Waits until something listens on UDP host:port (seen by failing to
    bind it). Returns True, or False after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _bindable(port, udp=True, tcp=False, host=host):
            return True
        time.sleep(0.05)
    return False


# --- process hygiene ---------------------------------------------------

_live = set()


def _kill_all_at_exit():
    for obj in list(_live):
        try:
            obj.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_kill_all_at_exit)


def _stop_process(proc, term_grace=3.0, sig=signal.SIGTERM):
    """SIGTERM (or sig), then SIGKILL after term_grace seconds; reaps."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=term_grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


# --- SIPp --------------------------------------------------------------

class SippResult:
    """What one SIPp run left behind.

    returncode  SIPp's exit code (0 all calls succeeded, 1 some failed,
                97 internal exit, 99 no call processed, 255/254 fatal) or
                None when it had to be killed at the timeout
    timed_out   True when the Python-side timeout ran out
    sipp_timed_out  True when SIPp's own -timeout ended it (exit 255,
                "... timed out after 'N' seconds" on stderr)
    stats       {column: value} of the last row of the -trace_stat file
                (numbers as int/float, times "HH:MM:SS:uuuuuu" as ms float)
    successful, failed   cumulated SuccessfulCall(C) / FailedCall(C)
    repartition {rtd name: [(upper bound ms or None for the last, count)]}
    rtt         [(date_ms, response_time_ms, rtd name)] from -trace_rtt
    messages    the -trace_msg log (all SIP messages sent and received)
    errors      the -trace_err log (unexpected messages)
    stdout, stderr, cmd, dir
    """

    def __init__(self):
        self.returncode = None
        self.timed_out = False
        self.sipp_timed_out = False
        self.stdout = ""
        self.stderr = ""
        self.stats = {}
        self.successful = 0
        self.failed = 0
        self.repartition = {}
        self.rtt = []
        self.messages = ""
        self.errors = ""
        self.cmd = []
        self.dir = None

    @property
    def ok(self):
        return self.returncode == 0 and not self.timed_out and self.failed == 0

    def rtt_ms(self, rtd="1"):
        """Response times (ms) of one rtd, in call order."""
        return [ms for _, ms, name in self.rtt if name == str(rtd)]

    def failures(self):
        """{FailedXxx: count} of the non-zero failure counters."""
        return {k[:-3]: v for k, v in self.stats.items()
                if k.startswith("Failed") and k.endswith("(C)") and v}

    def sent(self, first_line_re):
        """SIP messages sent whose first line matches the regex."""
        return self._messages("sent", first_line_re)

    def received(self, first_line_re):
        return self._messages("received", first_line_re)

    def _messages(self, way, first_line_re):
        out = []
        for block in re.split(r"^-{10,} [^\n]*\n", self.messages, flags=re.M):
            m = re.match(r"\w+ message (sent|received)[^\n]*\n\n?", block)
            if not m or m.group(1) != way:
                continue
            msg = block[m.end():].strip("\n")
            if re.search(first_line_re, msg.split("\n", 1)[0]):
                out.append(msg)
        return out

    def describe(self):
        """A short multi-line text for assertion messages."""
        tail = "\n".join(self.stdout.strip().splitlines()[-25:])
        return (f"sipp exit={self.returncode} timed_out={self.timed_out} "
                f"sipp_timed_out={self.sipp_timed_out} "
                f"successful={self.successful} failed={self.failed} "
                f"failures={self.failures()}\ncmd: {' '.join(self.cmd)}\n"
                f"stderr: {self.stderr.strip()[-2000:]}\nerrors: {self.errors[-3000:]}\n"
                f"screen tail:\n{tail}")


def _time_to_ms(value):
    m = re.fullmatch(r"(\d+):(\d+):(\d+):(\d+)", value)
    if not m:
        return None
    h, mi, s, us = (int(x) for x in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + us / 1000.0


def _number(value):
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        pass
    ms = _time_to_ms(value)
    return ms if ms is not None else value


def parse_stat_file(path):
    """Last row of a SIPp -trace_stat file as {column: value}."""
    with open(path, newline="", errors="replace") as f:
        rows = [r for r in csv.reader(f, delimiter=";") if r]
    if len(rows) < 2:
        return {}
    header, last = rows[0], rows[-1]
    return {k: _number(v) for k, v in zip(header, last) if k}


def repartitions(stats):
    """{rtd name: [(bound ms or None, count)]} from the ResponseTimeRepartitionN_<X
    and _>=X columns of a stats dict."""
    out = {}
    for key, value in stats.items():
        m = re.fullmatch(r"ResponseTimeRepartition(\w+?)_(<|>=)(\d+)", key)
        if not m:
            continue
        bound = int(m.group(3)) if m.group(2) == "<" else None
        out.setdefault(m.group(1), []).append((bound, int(value)))
    return out


def parse_rtt_files(folder):
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*_rtt.csv"))):
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.strip().split(";")
                if len(parts) >= 3 and not parts[0].startswith("Date"):
                    try:
                        rows.append((float(parts[0]), float(parts[1]), parts[2]))
                    except ValueError:
                        continue
    return rows


class Sipp:
    """One SIPp process in the background (a UAS scenario waiting for a
    call, or a UAC that runs while something else happens). wait() and
    stop() return a SippResult. Also a context manager."""

    def __init__(self, scenario_name, remote_host=None, remote_port=None, local_port=None,
                 service=None, keys=None, sets=None, calls=1, rate=None, rate_period_ms=None,
                 limit=None, timeout_s=30, auth_user=None, auth_pass=None, auth_uri=None,
                 hold_ms=None, stats_dir=None, trace_rtt=False, trace_msg=True,
                 recv_timeout_ms=10000, ooc_scenario=None, inf=None, transport="u1",
                 extra_args=()):
        self.scenario = scenario(scenario_name)
        self.remote = None
        if remote_port is not None:
            self.remote = f"{remote_host or LOOPBACK}:{int(remote_port)}"
        self.local_port = local_port or free_port(udp=True, tcp=True)
        self.media_port = free_port(span=2, step=2, udp=True, tcp=False)
        self.control_port = free_port(udp=True, tcp=False)
        self.timeout_s = timeout_s
        self.own_dir = stats_dir is None
        self.dir = stats_dir or tempfile.mkdtemp(prefix="anosip-sipp-", dir="/tmp")
        os.makedirs(self.dir, exist_ok=True)
        tag = os.path.splitext(os.path.basename(self.scenario))[0]
        self.files = {k: os.path.join(self.dir, f"{tag}.{self.local_port}.{k}")
                      for k in ("stat.csv", "messages.log", "errors.log", "screen.log",
                                "stdout.log", "stderr.log")}
        args = [SIPP] + ([self.remote] if self.remote else []) + [
            "-sf", self.scenario,
            "-t", transport,
            "-i", LOOPBACK, "-p", str(self.local_port),
            "-mi", LOOPBACK, "-mp", str(self.media_port),
            "-ci", LOOPBACK, "-cp", str(self.control_port),
            "-bind_local",
            "-nostdin",
            "-m", str(int(calls)),
            "-trace_stat", "-stf", self.files["stat.csv"], "-fd", "1",
            "-trace_err", "-error_file", self.files["errors.log"],
            "-trace_screen", "-screen_file", self.files["screen.log"],
            "-timeout", f"{int(timeout_s)}s", "-timeout_error",
        ]
        if ooc_scenario:
            args += ["-oocsf", scenario(ooc_scenario)]
        if trace_msg:
            args += ["-trace_msg", "-message_file", self.files["messages.log"]]
        if trace_rtt:
            args += ["-trace_rtt", "-rtt_freq", "1"]
        if service is not None:
            args += ["-s", str(service)]
        if auth_user is not None:
            args += ["-au", str(auth_user)]
        if auth_pass is not None:
            args += ["-ap", str(auth_pass)]
        if auth_uri is None and auth_user is not None and "domain" in (keys or {}):
            auth_uri = keys["domain"]   # digest uri = the Request-URI sip:DOMAIN
        if auth_uri is not None:
            args += ["-auth_uri", str(auth_uri)]
        if rate is not None:
            args += ["-r", str(rate)]
        if rate_period_ms is not None:
            args += ["-rp", f"{int(rate_period_ms)}ms"]
        if limit is not None:
            args += ["-l", str(int(limit))]
        if hold_ms is not None:
            args += ["-d", str(int(hold_ms))]
        if recv_timeout_ms is not None:
            args += ["-recv_timeout", str(int(recv_timeout_ms))]
        for k, v in (keys or {}).items():
            args += ["-key", str(k), str(v)]
        for k, v in (sets or {}).items():
            args += ["-set", str(k), str(v)]
        if inf:
            args += ["-inf", inf]
        args += list(extra_args)
        self.cmd = args
        self.proc = None
        self.result = None
        self._deadline = None

    def start(self):
        """Starts SIPp (once: a second call, e.g. after `with`, is a no-op)."""
        if self.proc is not None:
            return self
        self._out = open(self.files["stdout.log"], "w")
        self._err = open(self.files["stderr.log"], "w")
        self.proc = subprocess.Popen(self.cmd, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err,
                                     start_new_session=True)
        _live.add(self)
        # Python-side bound: SIPp's own -timeout plus a margin.
        self._deadline = time.monotonic() + self.timeout_s + 10
        return self

    def wait_listening(self, timeout=5):
        """Waits until SIPp has bound its SIP port (a UAS ready for calls)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("sipp exited early:\n" + self._collect().describe())
            if not _bindable(self.local_port, udp=True, tcp=False):
                return self
            time.sleep(0.05)
        raise AssertionError(f"sipp did not bind 127.0.0.1:{self.local_port} in {timeout}s")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=None):
        """Waits for SIPp to end by itself (timeout: at most that many
        seconds, else the overall bound); kills it when the time is up."""
        if self.result is not None:
            return self.result
        limit = self._deadline if timeout is None else min(self._deadline,
                                                            time.monotonic() + timeout)
        timed_out = False
        try:
            self.proc.wait(timeout=max(0.0, limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop_process(self.proc)   # SIGTERM: SIPp still writes its stats
        return self._collect(timed_out)

    def stop(self):
        """Ends SIPp now (SIGTERM, then SIGKILL) and collects the result.
        SIGUSR1 would be a soft stop that lets calls finish; a stop here is
        what a test does when it is done with a UAS."""
        if self.result is not None:
            return self.result
        if self.proc is None:
            return None
        _stop_process(self.proc)
        return self._collect(False)

    def _collect(self, timed_out=False):
        r = SippResult()
        r.cmd = self.cmd
        r.dir = self.dir
        r.timed_out = timed_out
        r.returncode = None if timed_out else self.proc.returncode
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                f.close()

        def read(key):
            try:
                with open(self.files[key], errors="replace") as f:
                    return f.read()
            except FileNotFoundError:
                return ""
        r.stdout = read("screen.log") or read("stdout.log")
        r.stderr = read("stderr.log")
        r.sipp_timed_out = "timed out after" in r.stderr
        r.messages = read("messages.log")
        r.errors = read("errors.log")
        if os.path.exists(self.files["stat.csv"]):
            r.stats = parse_stat_file(self.files["stat.csv"])
        r.successful = int(r.stats.get("SuccessfulCall(C)", 0) or 0)
        r.failed = int(r.stats.get("FailedCall(C)", 0) or 0)
        r.repartition = repartitions(r.stats)
        r.rtt = parse_rtt_files(self.dir)
        if self.proc is not None and self.proc.poll() is not None:
            self.result = r
            _live.discard(self)
        return r

    def cleanup(self):
        """Removes the run's folder when this object made it."""
        self.stop()
        if self.own_dir and not os.environ.get("ANOSIP_KEEP_TESTBED"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        """Stops SIPp; removes its folder unless the block failed (then
        its path is printed) or ANOSIP_KEEP_TESTBED is set."""
        self.stop()
        if exc_type is None:
            self.cleanup()
        else:
            print(f"(kept sipp files in {self.dir})")


def start_sipp(scenario_name, *args, **kw):
    """Sipp(...).start(): a background SIPp (see Sipp for the arguments)."""
    return Sipp(scenario_name, *args, **kw).start()


def run_sipp(scenario_name, remote_host=None, remote_port=None, local_port=None, keys=None,
             calls=1, rate=None, timeout_s=30, auth_user=None, auth_pass=None,
             stats_dir=None, **kw):
    """Runs one SIPp scenario to its end (at most timeout_s seconds, then
    it is killed) and returns its SippResult.

    scenario_name  file in tests/integration/sip/ (or a path)
    remote_host, remote_port   where requests go (the ua's SIP port);
                   None for a UAS scenario
    local_port     SIPp's own SIP port (picked free when None)
    keys           {name: value} for -key (e.g. domain, callee, expires)
    sets           {name: value} for -set (globals: expected, wait_loops)
    service        -s (the nickname in From/To/Contact)
    calls, rate    -m and -r (calls per second); rate_period_ms -rp; limit -l
    auth_user, auth_pass, auth_uri   -au -ap -auth_uri (MD5 digest); auth_uri
                   defaults to keys["domain"] (SIPp writes uri="sip:DOMAIN";
                   without it, uri="sip:REMOTE_IP:PORT")
    hold_ms        -d (the <pause/> of the scenario: call hold, ring time)
    trace_rtt      per-call response times (-trace_rtt -rtt_freq 1)
    trace_msg      keep every SIP message (default True)
    recv_timeout_ms  -recv_timeout (default 10 s; None: none)
    ooc_scenario   -oocsf (out-of-call scenario, e.g. uas_answer.xml)
    stats_dir      where SIPp's files go (a fresh temp folder when None;
                   a temp folder is removed after parsing unless
                   ANOSIP_KEEP_TESTBED is set)
    """
    s = Sipp(scenario_name, remote_host, remote_port, local_port, keys=keys, calls=calls,
             rate=rate, timeout_s=timeout_s, auth_user=auth_user, auth_pass=auth_pass,
             stats_dir=stats_dir, **kw)
    s.start()
    try:
        result = s.wait()
    finally:
        s.stop()
    if s.own_dir and not os.environ.get("ANOSIP_KEEP_TESTBED"):
        shutil.rmtree(s.dir, ignore_errors=True)
        result.dir = None
    return result


def start_callee(ua_port, nick, password, domain, ua_host=LOOPBACK, ring_ms=200,
                 wait_s=60, expires=600, timeout_s=None, **kw):
    """The callee "softphone" as one background SIPp: registers nick
    through the ua at ua_host:ua_port (MD5 digest), then answers one
    INVITE (180, ring_ms, 200 with SDP, ACK, BYE -> 200) within wait_s.
    Its wait() result is ok when both happened. The INVITE must come from
    the ua's address that took the REGISTER (SIPp in client mode answers
    to its fixed remote address). Its port is .local_port (the Contact it
    registered is sip:NICK@127.0.0.1:PORT;transport=UDP)."""
    return Sipp("uas_register_then_answer.xml", ua_host, ua_port, service=nick,
                auth_user=nick, auth_pass=password, auth_uri=domain,
                keys={"domain": domain, "expires": expires},
                sets={"wait_loops": int(wait_s * 10)}, ooc_scenario="uas_answer.xml",
                hold_ms=ring_ms, timeout_s=timeout_s or wait_s + 15, **kw).start()


# --- network namespaces ------------------------------------------------

CLONE_NEWNET = 0x40000000


def netns_connect(netns, address, timeout):
    """A TCP connection made from inside network namespace `netns` (an
    `ip netns` name). setns() moves only the calling thread, so a helper
    thread enters the namespace, connects and ends; the socket keeps its
    namespace and serves this thread like any other."""
    import ctypes
    result = {}

    def enter_and_connect():
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            with open(f"/var/run/netns/{netns}") as f:
                if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            result["sock"] = socket.create_connection(address, timeout=timeout)
        except OSError as e:
            result["error"] = e

    t = threading.Thread(target=enter_and_connect, daemon=True)
    t.start()
    t.join(timeout + 5)
    if "sock" not in result:
        raise result.get("error") or OSError(f"no connection in {netns}")
    return result["sock"]


# --- baresip -----------------------------------------------------------

def netstring(data):
    return str(len(data)).encode() + b":" + data + b","


class NetstringReader:
    """Splits a byte stream into netstring payloads."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            colon = self.buf.find(b":")
            if colon <= 0:
                break
            try:
                n = int(self.buf[:colon])
            except ValueError:
                raise ValueError(f"bad netstring: {self.buf[:40]!r}")
            end = colon + 1 + n
            if len(self.buf) < end + 1:
                break
            if self.buf[end:end + 1] != b",":
                raise ValueError(f"bad netstring end: {self.buf[:end + 1][-20:]!r}")
            out.append(self.buf[colon + 1:end])
            self.buf = self.buf[end + 1:]
        return out


class Baresip:
    """A headless baresip 1.0.0 softphone, driven over ctrl_tcp.

    nick, domain, password   the account <sip:nick@domain>;auth_pass=...
    outbound    (host, port) or "sip:host:port" of the outbound proxy (the
                ua); None: no outbound (calls go straight to the URI)
    regint      REGISTER interval; 0 (or register=False) does not register
    answermode  "auto" answers incoming calls by itself, "manual" waits
                for answer()
    audio       "sine": ausine 440 Hz as microphone (default); the player
                is always aubridge "null" (no sound card needed)
    net_interface  the address baresip puts in SDP o=/c= and uses for RTP:
                127.0.0.1 (default). None lets baresip pick the machine's
                address (its default, what a real softphone leaks): RTP
                then goes to a non-loopback address: keep it for tests
                that only look at signalling.
    sip_trace   -s: every SIP message in the log (default True)
    lifetime_s  baresip's own -t: it quits by itself after that long
    extra_config  {key: value} added to the config file
    account_params  extra ;params on the account line (e.g. "medianat=")
    netns       a network namespace (`ip netns` name) to run in, as a phone
                on a host of its own: baresip starts there, its ctrl_tcp is
                reached from inside it (see netns_connect), its SIP and
                control ports default to fixed ones (the namespace is
                empty); pair it with net_interface = the namespace's
                address so RTP crosses the bridge

    Events come from ctrl_tcp as JSON, e.g. {"event":true,"class":"call",
    "type":"CALL_ESTABLISHED","accountaor":"sip:a@d","direction":
    "outgoing","peeruri":"sip:b@d","id":"...","param":"..."}.
    """

    def __init__(self, nick, domain=LOOPBACK, password=None, outbound=None, regint=600,
                 register=True, answermode="auto", name=None, sip_port=None, ctrl_port=None,
                 net_interface=LOOPBACK, sip_trace=True, lifetime_s=900, extra_config=None,
                 account_params="", workdir=None, netns=None):
        self.netns = netns
        if netns:
            sip_port = sip_port or 5062
            ctrl_port = ctrl_port or 4444
        self.nick = nick
        self.domain = domain
        self.password = password
        if isinstance(outbound, tuple):
            outbound = f"sip:{outbound[0]}:{int(outbound[1])}"
        self.outbound = outbound
        self.regint = regint if register else 0
        self.answermode = answermode
        self.name = name or nick
        self.sip_port = sip_port or free_port(span=2)  # TLS binds sip_port + 1
        self.ctrl_port = ctrl_port or free_port(tcp=True, udp=False)
        self.net_interface = net_interface
        self.sip_trace = sip_trace
        self.lifetime_s = lifetime_s
        self.extra_config = extra_config or {}
        self.account_params = account_params
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix=f"anosip-baresip-{self.name}-",
                                                dir="/tmp")
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.proc = None
        self.sock = None
        self.events = []          # every event, in order
        self._consumed = set()    # indexes of events returned by wait_event
        self._responses = {}
        self._cond = threading.Condition()
        self._reader = None
        self._token = 0
        self._closed = False

    # config ------------------------------------------------------------

    def aor(self):
        return f"sip:{self.nick}@{self.domain}"

    def contact_uri(self):
        """Where this phone can be reached directly (no registrar)."""
        return f"sip:{self.nick}@{LOOPBACK}:{self.sip_port}"

    def account_line(self):
        line = f"<{self.aor()}>"
        if self.password is not None:
            line += f";auth_pass={self.password}"
        if self.outbound:
            line += f';outbound="{self.outbound}"'
        line += f";regint={int(self.regint)}"
        if self.answermode:
            line += f";answermode={self.answermode}"
        line += self.account_params
        return line

    def config_text(self):
        cfg = [
            ("poll_method", "epoll"),
            ("sip_listen", f"{LOOPBACK}:{self.sip_port}"),
            ("call_local_timeout", "120"),
            ("call_max_calls", "4"),
            ("audio_player", "aubridge,null"),
            ("audio_source", "ausine,440"),
            ("audio_alert", "aubridge,null"),
            ("ausrc_srate", "48000"),
            ("ausrc_channels", "2"),
            ("audio_level", "no"),
            # Never ask the machine's resolver (not loopback): a domain
            # that needs DNS (no outbound proxy) fails here at once.
            ("dns_server", f"{LOOPBACK}:{DNS_BLACKHOLE_PORT}"),
            ("rtp_ports", "10000-19998"),
            ("rtp_timeout", "0"),
            ("rtp_stats", "yes"),
            ("rtcp_mux", "no"),
            ("module_path", BARESIP_MODULES),
            ("module", "g711.so"),
            ("module", "ausine.so"),
            ("module", "aubridge.so"),
            ("module_tmp", "account.so"),
            ("module_app", "menu.so"),
            ("module_app", "ctrl_tcp.so"),
            ("ctrl_tcp_listen", f"{LOOPBACK}:{self.ctrl_port}"),
        ]
        if self.net_interface:
            cfg.insert(1, ("net_interface", self.net_interface))
        cfg += list(self.extra_config.items())
        return "".join(f"{k}\t{v}\n" for k, v in cfg)

    def write_config(self):
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(self.config_text())
        # The account is created over ctrl_tcp once connected (uanew), not
        # from this file: a REGISTER sent before ctrl_tcp is up would
        # report REGISTER_OK to nobody.
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write("")
        # Empty contacts file: otherwise baresip writes a template with
        # example addresses.
        with open(os.path.join(self.dir, "contacts"), "w") as f:
            f.write("")

    # process -----------------------------------------------------------

    def start(self, timeout=10):
        """Starts baresip, connects to ctrl_tcp and creates the account
        (uanew, which registers when regint > 0). Once: a second call
        (e.g. after `with`) is a no-op."""
        if self.proc is not None:
            return self
        self.write_config()
        args = [BARESIP, "-f", self.dir, "-v", "-t", str(int(self.lifetime_s))]
        if self.sip_trace:
            args.append("-s")
        if self.netns:
            args = ["ip", "netns", "exec", self.netns, *args]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _live.add(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"baresip {self.name} exited {self.proc.returncode}:\n"
                                     + self.log()[-3000:])
            try:
                if self.netns:
                    self.sock = netns_connect(self.netns, (LOOPBACK, self.ctrl_port), 1)
                else:
                    self.sock = socket.create_connection((LOOPBACK, self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"baresip {self.name}: no ctrl_tcp on "
                                         f"{self.ctrl_port} after {timeout}s:\n"
                                         + self.log()[-3000:])
                time.sleep(0.1)
        self.sock.settimeout(0.5)
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"baresip-{self.name}")
        self._reader.start()
        self.command("uanew", self.account_line())
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        """Stops baresip; removes its folder unless the block failed (then
        its path is printed) or ANOSIP_KEEP_TESTBED is set. log() and what
        reads it still work afterwards."""
        self.stop()
        if exc_type is None:
            self.cleanup()
        else:
            print(f"(kept baresip {self.name} files in {self.dir})")

    def _read_loop(self):
        reader = NetstringReader()
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            for payload in reader.feed(data):
                try:
                    msg = json.loads(payload)
                except ValueError:
                    continue
                with self._cond:
                    if msg.get("event"):
                        msg["_t"] = time.monotonic()
                        self.events.append(msg)
                    elif msg.get("response"):
                        self._responses[msg.get("token")] = msg
                    self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def command(self, command, params=None, timeout=5, check=True):
        """Sends one ctrl_tcp command ({"command","params","token"}) and
        returns its response {"response":true,"ok":bool,"data":str}."""
        if self.sock is None:
            raise AssertionError(f"baresip {self.name} is not started")
        self._token += 1
        token = f"t{self._token}"
        msg = {"command": command, "token": token}
        if params is not None:
            msg["params"] = params
        self.sock.sendall(netstring(json.dumps(msg).encode()))
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise AssertionError(f"baresip {self.name}: no answer to {msg} "
                                         f"in {timeout}s")
                self._cond.wait(left)
            resp = self._responses.pop(token)
        if check and not resp.get("ok"):
            raise AssertionError(f"baresip {self.name}: {msg} failed: {resp}")
        return resp

    def dial(self, uri):
        return self.command("dial", uri)

    def answer(self):
        """Accepts the incoming call (menu command "accept")."""
        return self.command("accept")

    def hangup(self):
        return self.command("hangup")

    def reginfo(self):
        return self.command("reginfo").get("data", "")

    def wait_event(self, type_, timeout, pred=None, fail_on=()):
        """Returns the first event of that type not returned before (and
        matching pred(event) when given), waiting at most timeout seconds.
        An event of a type in fail_on seen first raises at once."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self.events):
                    if i in self._consumed:
                        continue
                    if ev.get("type") in fail_on:
                        self._consumed.add(i)
                        raise AssertionError(f"baresip {self.name}: got {ev} while waiting "
                                             f"for {type_}")
                    if ev.get("type") == type_ and (pred is None or pred(ev)):
                        self._consumed.add(i)
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"baresip {self.name}: no {type_} in {timeout}s; events: "
                        f"{[e.get('type') for e in self.events]}\nlog tail:\n"
                        + self.log()[-3000:])
                if self._closed and self.proc.poll() is not None:
                    raise AssertionError(f"baresip {self.name} ended while waiting for "
                                         f"{type_}:\n" + self.log()[-3000:])
                self._cond.wait(min(left, 0.5))

    def wait_registered(self, timeout=10):
        return self.wait_event("REGISTER_OK", timeout, fail_on=("REGISTER_FAIL",))

    def event_types(self):
        with self._cond:
            return [e.get("type") for e in self.events]

    def stop(self, timeout=5):
        """quit over ctrl_tcp, then SIGTERM, then SIGKILL. Safe twice."""
        if self.proc is not None and self.proc.poll() is None and self.sock is not None:
            try:
                self.sock.sendall(netstring(json.dumps({"command": "quit",
                                                        "token": "quit"}).encode()))
                self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        _stop_process(self.proc)
        self._closed = True
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        if self._reader is not None:
            self._reader.join(timeout=2)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        self._final_log = self.log()   # kept after cleanup() removes the folder
        _live.discard(self)

    def cleanup(self):
        self.stop()
        if self.own_dir and not os.environ.get("ANOSIP_KEEP_TESTBED"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # what it wrote -------------------------------------------------------

    def log(self):
        """Its stdout/stderr so far (status lines end in \\r)."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return getattr(self, "_final_log", "")

    def rtp_packets(self):
        """[(transmitted, received)] audio packet counts of the calls that
        ended, from the rtp_stats table baresip prints at hangup."""
        text = self.log().replace("\r", "\n")
        return [(int(a), int(b)) for a, b in
                re.findall(r"^audio\s+Transmit:\s+Receive:\s*\npackets:\s+(\d+)\s+(\d+)",
                           text, re.M)]

    def sip_messages(self):
        """The SIP messages of the -s trace, in order, as dicts:
        {"sent": bool, "transport", "src", "dst", "first": first line,
        "text": the whole message}."""
        text = self.log().replace("\r", "")
        out = []
        for m in re.finditer(r"\x1b\[[0-9;]*m#\n(UDP|TCP|TLS) (\S+) -> (\S+)\n(.*?)\x1b\[;m",
                             text, re.S):
            body = m.group(4).strip("\n")
            src = m.group(2)
            out.append({"sent": src.rsplit(":", 1)[-1] == str(self.sip_port),
                        "transport": m.group(1), "src": src, "dst": m.group(3),
                        "first": body.split("\n", 1)[0], "text": body})
        return out
