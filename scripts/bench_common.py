"""Shared pieces of the SIP benchmarks (scripts/bench_sip.py,
scripts/bench_hops.py, scripts/bench_users.py, scripts/bench_report.py):
percentiles, the paper's 10 ms buckets, a paced UDP client with
microsecond timing, the rate ramp and the /proc readings.

Stdlib only; every socket wait has a timeout, every loop a bound, and only
127.0.0.1 is ever addressed."""
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

BUCKETS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
LOOPBACK = "127.0.0.1"
HZ = os.sysconf("SC_CLK_TCK")


def anosip_runner(binary):
    """sh(*args, timeout=90): runs `binary args...`, returns its stdout; a
    non-zero exit raises RuntimeError with what it said."""
    def sh(*args, timeout=90):
        p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"anosip {' '.join(args)}: {p.stderr.strip() or p.stdout.strip()}")
        return p.stdout
    return sh


def exit_on_sigterm():
    """SIGTERM (and SIGHUP) end the script through SystemExit, so its
    finally blocks and atexit hooks still stop what it started."""
    def handler(signum, frame):
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def buckets(values):
    counts = [0] * (len(BUCKETS) + 1)
    for x in values:
        for i, bound in enumerate(BUCKETS):
            if x < bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
    return counts


def stats(times):
    """{n, p50, p90, p99, max, mean} of a list of ms values (NaN if empty)."""
    nan = float("nan")
    return {"n": len(times), "p50": percentile(times, 50), "p90": percentile(times, 90),
            "p99": percentile(times, 99), "max": max(times) if times else nan,
            "mean": sum(times) / len(times) if times else nan}


def clean(obj):
    """JSON-safe copy: NaN and infinities become None."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(clean(data), f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def json_path(md_path):
    """OUT.md -> OUT.json (the machine-readable twin bench_report.py reads)."""
    base = md_path[:-3] if md_path.endswith(".md") else md_path
    return base + ".json"


# --- /proc ------------------------------------------------------------------

def cpu_seconds(pids):
    """User + system CPU seconds of these processes so far (missing ones: 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / HZ


def smaps_rollup(pid):
    """{Rss, Pss, Private_Dirty, Anonymous, ...} in kB of one process."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                m = re.match(r"(\w+):\s+(\d+) kB", line)
                if m:
                    out[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return out


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


# --- a paced SIP client with microsecond timing ---------------------------------

def _auth_header(challenge_text, method, uri, user, password):
    """Authorization for the first MD5 challenge (a header without an
    algorithm is MD5, RFC 2617); None when there is no usable one."""
    for line in challenge_text.split("\r\n"):
        if not line.lower().startswith("www-authenticate:"):
            continue
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', line.split(":", 1)[1]))
        if params.get("algorithm", "MD5").upper() != "MD5" or "nonce" not in params:
            continue
        realm, nonce = params.get("realm", ""), params["nonce"]
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
        if "auth" in params.get("qop", "").split(","):
            cnonce = os.urandom(4).hex()
            resp = hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()
                               ).hexdigest()
            return (f'Authorization: Digest username="{user}", realm="{realm}", '
                    f'nonce="{nonce}", uri="{uri}", response="{resp}", algorithm=MD5, '
                    f'cnonce="{cnonce}", qop=auth, nc=00000001\r\n')
        resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        return (f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
                f'uri="{uri}", response="{resp}", algorithm=MD5\r\n')
    return None


def precise(kind, port, rate, seconds, user, password=None, domain="anosip", callee=None,
            recv_timeout=2.0):
    """Paced UDP client: one exchange every 1/rate s for `seconds` s, each
    waited for before the next (so it never has more than one outstanding).
    Returns (times_ms, failed).

    kind "register": REGISTER -> 401 -> REGISTER with MD5 digest (qop=auth
      when offered) -> 200; the time is the authenticated REGISTER's.
    kind "invite": INVITE sip:CALLEE@DOMAIN -> 302 (then ACK, same branch);
      the time is INVITE sent -> 302 received.
    SIPp stamps its times on a 4 ms clock on these machines; this one uses
    perf_counter_ns."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOPBACK, 0))
    s.connect((LOOPBACK, port))
    s.settimeout(recv_timeout)
    me = s.getsockname()[1]
    times, failed = [], 0

    def msg(method, uri, to_user, branch, cseq, call_id, extra=""):
        return (f"{method} {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {LOOPBACK}:{me};branch={branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag={call_id[:8]}\r\n"
                f"To: <sip:{to_user}@{domain}>\r\nCall-ID: {call_id}\r\n"
                f"CSeq: {cseq} {method}\r\nContact: <sip:{user}@{LOOPBACK}:{me}>\r\n"
                f"{extra}Content-Length: 0\r\n\r\n").encode()

    def answer(call_id, cseq):
        # Bounded: at most 20 datagrams (provisionals, strays) per request.
        for _ in range(20):
            data = s.recv(65536)
            if data.startswith(b"SIP/2.0 1"):
                continue
            if call_id.encode() not in data or \
                    f"\r\ncseq: {cseq} ".encode() not in data.lower():
                continue   # a late answer to an earlier request
            return data
        raise OSError("no final answer")

    start = time.monotonic()
    calls = int(rate * seconds)
    for i in range(calls):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        call_id = os.urandom(8).hex()
        try:
            if kind == "register":
                uri = f"sip:{domain}"
                s.send(msg("REGISTER", uri, user, "z9hG4bK" + call_id + "a", 1, call_id,
                           "Expires: 600\r\n"))
                auth = _auth_header(answer(call_id, 1).decode(errors="replace"), "REGISTER", uri,
                                    user, password)
                if auth is None:
                    failed += 1
                    continue
                t0 = time.perf_counter_ns()
                s.send(msg("REGISTER", uri, user, "z9hG4bK" + call_id + "b", 2, call_id,
                           auth + "Expires: 600\r\n"))
                ok = answer(call_id, 2).startswith(b"SIP/2.0 200")
                t1 = time.perf_counter_ns()
            else:
                branch = "z9hG4bK" + call_id
                uri = f"sip:{callee}@{domain}"
                t0 = time.perf_counter_ns()
                s.send(msg("INVITE", uri, callee, branch, 1, call_id))
                reply = answer(call_id, 1)
                t1 = time.perf_counter_ns()
                ok = reply.startswith(b"SIP/2.0 302")
                s.send(msg("ACK", uri, callee, branch, 1, call_id))
            if ok:
                times.append((t1 - t0) / 1e6)
            else:
                failed += 1
        except (OSError, UnicodeError):
            failed += 1
    s.close()
    return times, failed


# --- the rate ramp --------------------------------------------------------------

def sustained(s, rate, p99_limit=100.0, min_share=0.9):
    """Every call answered, p99 within the limit, and the offered rate held
    (calls completed per second of the run at least min_share of it)."""
    if s["failed"] or s["ok"] < s["calls"] or not (s["p99"] <= p99_limit):
        return False
    achieved = s.get("achieved")
    return achieved is None or achieved != achieved or achieved >= min_share * rate


RAMP_PAUSE_S = 2.0   # after a step that was not held: let queues and retransmissions drain


RECOVER_LIMIT_S = 45.0  # longer than the ua's 30 s transaction timeout


def recover(run_step, say=None):
    """After a step that was not held: waits (bounded) until a light load
    (20 calls at 20/s) is answered in full again, so the next step does
    not measure the last one's backlog (an overloaded ua holds its
    transactions until they time out). Returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < RECOVER_LIMIT_S:
        time.sleep(RAMP_PAUSE_S)
        s = run_step(20, 20)
        if s["ok"] == s["calls"]:
            break
    took = time.monotonic() - t0
    if say:
        say(f"  recovered in {took:.1f} s" if took < RECOVER_LIMIT_S
            else f"  not recovered after {RECOVER_LIMIT_S:g} s")
    return took


def ramp(run_step, rates, seconds, refine=2, say=None):
    """Offers each rate in `rates` for `seconds` s (run_step(rate, calls) ->
    a summary with calls, ok, failed, p99 and achieved calls/s) until one
    is not sustained, then bisects between the last sustained and the first
    failed rate `refine` more times. Bounded: len(rates) + refine steps.
    Returns (rows sorted by rate, best sustained rate (0: none), top: True
    when even the last rate of the list was sustained)."""
    rows, good, bad = [], 0, None

    def attempt(rate):
        s = run_step(rate, max(1, int(rate * seconds)))
        rows.append((rate, s))
        ok = sustained(s, rate)
        if say:
            say(f"  {rate}/s: {s['ok']}/{s['calls']} ok, p99 {s['p99']} ms, "
                f"{s.get('achieved', float('nan')):.0f} calls/s achieved"
                f"{'' if ok else ' -> not sustained'}")
        if not ok:
            recover(run_step, say)
        return ok

    for rate in rates:
        if not attempt(rate):
            bad = rate
            break
        good = rate
    for _ in range(refine if bad is not None and good else 0):
        mid = int(round((good + bad) / 2))
        if mid in (good, bad):
            break
        if attempt(mid):
            good = mid
        else:
            bad = mid
    rows.sort(key=lambda r: r[0])
    return rows, good, bad is None
