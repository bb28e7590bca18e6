#!/usr/bin/env python3
"""Integration: a generated suite of malformed SIP messages against a ua
(docs/robustness.md, "Malformed SIP suite").

One 1x2 testbed (node-0 lookup and lighthouse, node-1 and node-2 portals)
with two uas, father and mother, each accepting the other. Every message
of sip_malformed.py goes to father's SIP listen port over UDP and over
TCP. A message passes when father answers it with a final status >= 400,
or sends nothing (a clean drop) — never 1xx/2xx/3xx — and father's process
is the same one still running. Afterwards: father's metrics agree, OPTIONS
still gets 200, a well-formed call father -> mother still ends in a 302,
and no log holds a sanitizer report.

UDP: each malformed datagram is followed, on the same socket, by a
well-formed OPTIONS with a Call-ID of its own; the ua handles datagrams in
order, so whatever arrives before that probe's 200 is the answer to the
malformed one, and no time is spent waiting for a drop. TCP: one
connection per message, written, then half-closed (shutdown SHUT_WR); the
answer is what arrives before the ua closes."""
import errno
import os
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, run, wait_for  # noqa: E402
from sipclients import free_port, run_sipp  # noqa: E402
import sip_malformed  # noqa: E402

suite = Suite("sip_malformed")
tb = None
DOMAIN = sip_malformed.DOMAIN
USERS = {
    # nick: (lighthouse, portals, contacts, password)
    "father": ("node-0", "node-1 node-2", "mother", "father-secret"),
    "mother": ("node-0", "node-2 node-1", "father", "mother-secret"),
}
ports = {}
# Bounds: the answer to one message and its probe, and the whole suite.
EXCHANGE_S = 5.0
MESSAGES = sip_malformed.generate()
results = {"udp": [], "tcp": []}  # (message, outcome, statuses, seconds)
before = {}


def testbed():
    global tb
    if tb is None:
        tb = Testbed("1x2")
        tb.up(timeout=60)
        for nick, (lh, portals, contacts, password) in USERS.items():
            pw = tb.path(f"{nick}.password")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(password + "\n")
            listen, direct = free_port(), free_port()
            ports[nick] = (listen, direct)
            # SIPp 3.6 answers only the first challenge, and only MD5.
            run([anosip_bin(), "testbed", "ua", "add", "--dir", tb.dir, nick, "--lighthouse", lh,
                 "--portals", portals, "--timeout", "30", "--contacts", contacts,
                 "--sip-listen", f"127.0.0.1:{listen}", "--sip-direct", f"127.0.0.1:{direct}",
                 "--password-file", pw, "--digest", "MD5"], timeout=60)
    return tb


def sip_port(nick):
    return ports[nick][0]


def statuses(data):
    """The status codes of the responses in data (one datagram, or what a
    TCP connection received)."""
    return [int(s) for s in re.findall(rb"(?:^|\r\n)SIP/2\.0 (\d{3}) ", data)]


def probe(n, local_port):
    call_id = f"probe-{n}@ha.test"
    text = (f"OPTIONS sip:mother@{DOMAIN} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bKprobe{n};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:father@{DOMAIN}>;tag=p{n}\r\n"
            f"To: <sip:mother@{DOMAIN}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n")
    return text.encode(), call_id.encode()


def udp_exchange(port, data, n):
    """Sends data, then probe n; returns (answers before the probe's 200,
    whether that 200 came within EXCHANGE_S)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.connect(("127.0.0.1", port))
        p, call_id = probe(n, s.getsockname()[1])
        s.send(data)
        s.send(p)
        answers = []
        deadline = time.monotonic() + EXCHANGE_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return answers, False
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except socket.timeout:
                return answers, False
            except ConnectionRefusedError:  # nobody on the port any more
                return answers, False
            if call_id in d and statuses(d) == [200]:
                return answers, True
            answers.append(d)


def tcp_exchange(port, data):
    """One connection: writes data, half-closes, reads until the ua
    closes. Returns (bytes received, how it ended: 'closed', 'reset' or
    'timeout')."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=EXCHANGE_S) as s:
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + EXCHANGE_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return received, "timeout"
            writing = [s] if sent < len(data) else []
            r, w, _ = select.select([s], writing, [], left)
            try:
                if w:
                    sent += s.send(data[sent:sent + 65536])
                    if sent == len(data):
                        s.shutdown(socket.SHUT_WR)
                if r:
                    chunk = s.recv(65536)
                    if not chunk:
                        return received, "closed"
                    received += chunk
            except (ConnectionResetError, BrokenPipeError):
                return received, "reset"
            except OSError as e:  # ENOTCONN: the ua closed before our shutdown
                if e.errno != errno.ENOTCONN:
                    raise
                return received, "reset"


def ua_alive(nick):
    pid = tb.pid(f"ua-{nick}")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def judge(m, got, finished):
    """(outcome, passed): outcome is 'drop', a status, or what went wrong."""
    codes = statuses(b"".join(got)) if isinstance(got, list) else statuses(got)
    junk = [d for d in (got if isinstance(got, list) else [got])
            if d.strip(b"\r\n") and not statuses(d)]
    if not finished:
        return "hang", False
    if junk:
        return "not-a-response", False
    if not codes:
        return "drop", True
    if any(c < 400 for c in codes):
        return "/".join(map(str, codes)), False
    return str(codes[0]), True


def run_transport(kind):
    t = testbed()
    port = sip_port("father")
    pid = ua_alive("father")
    msgs = [m for m in MESSAGES if kind in m.transports]
    failures = []
    start = time.monotonic()
    for n, m in enumerate(msgs):
        t0 = time.monotonic()
        if kind == "udp":
            got, finished = udp_exchange(port, m.data, n)
        else:
            got, end = tcp_exchange(port, m.data)
            finished = end != "timeout"
        outcome, ok = judge(m, got, finished)
        took = time.monotonic() - t0
        results[kind].append((m, outcome, took))
        if not ok:
            failures.append((m.category, m.name, outcome, m.data[:160]))
            if ua_alive("father") != pid:
                failures.append(("-", "-", "ua died", b""))
                break
    total = time.monotonic() - start
    report(kind, total)
    assert ua_alive("father") == pid, "father's ua is gone"
    assert not failures, f"{len(failures)} failed over {kind}: {failures[:10]}"
    # What the class "error" promises: an answer on UDP, where the ua
    # cannot wait for more bytes.
    if kind == "udp":
        silent = [(m.category, m.name) for m, outcome, _ in results[kind]
                  if m.expect == sip_malformed.ERROR and outcome == "drop"]
        assert not silent, f"expected an error answer, got none: {silent}"


def report(kind, total):
    rows = results[kind]
    by_cat, by_outcome = {}, {}
    for m, outcome, _ in rows:
        c = by_cat.setdefault(m.category, {})
        c[outcome] = c.get(outcome, 0) + 1
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
    print(f"  {kind}: {len(rows)} messages in {total:.1f}s")
    for cat, outcomes in by_cat.items():
        detail = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()))
        print(f"    {cat:15} {sum(outcomes.values()):5}  {detail}")
    print("    outcomes: " + ", ".join(f"{o} {n}" for o, n in sorted(by_outcome.items())))
    odd = [f"{m.category}/{m.name}: {o}" for m, o, _ in rows if o not in ("400", "513", "drop")]
    if odd:
        print(f"    answered other than 400/513: {odd[:20]}")
    slow = max(rows, key=lambda r: r[2])
    print(f"    slowest: {slow[0].category}/{slow[0].name} ({len(slow[0].data)} bytes) "
          f"{slow[2] * 1000:.0f} ms")


@suite.test
def test_generator_is_deterministic_and_large():
    again = sip_malformed.generate()
    assert [m.data for m in again] == [m.data for m in MESSAGES]
    assert len({m.data for m in MESSAGES}) == len(MESSAGES) >= 1000, len(MESSAGES)
    cats = {m.category for m in MESSAGES}
    for c in ("start-line", "headers", "uri", "content-length", "body", "encoding", "huge",
              "crlf", "cseq", "via"):
        assert c in cats, c
    assert all(m.transports for m in MESSAGES)
    assert all(len(m.data) <= sip_malformed.UDP_MAX for m in MESSAGES if "udp" in m.transports)
    print(f"  {len(MESSAGES)} messages, "
          + ", ".join(f"{c} {sum(m.category == c for m in MESSAGES)}" for c in sorted(cats)))


@suite.test
def test_templates_are_well_formed():
    """The control: the unmutated templates are accepted (OPTIONS 200,
    REGISTER challenged 401, INVITE 100 Trying), so a refusal below is the
    mutation's doing."""
    t = testbed()
    port = sip_port("father")
    before.update(t.metrics("ua-father"))
    want = {"OPTIONS": 200, "REGISTER": 401, "INVITE": 100}
    for kind, data in sip_malformed.templates().items():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(EXCHANGE_S)
            s.connect(("127.0.0.1", port))
            s.send(data)
            got = statuses(s.recv(65536))
            assert got == [want[kind]], (kind, got)


@suite.test
def test_malformed_over_udp():
    run_transport("udp")


@suite.test
def test_malformed_over_tcp():
    run_transport("tcp")


@suite.test
def test_metrics_are_consistent():
    """ua_sip_malformed grew by at least the messages answered 400/513 and
    at most the messages sent, and no TCP connection is left open."""
    t = testbed()
    after = t.metrics("ua-father")
    grew = after["ua_sip_malformed"] - before.get("ua_sip_malformed", 0)
    # Each 400 or 513 was a message that failed parsing (the suite has no
    # request the ua refuses 400 for after parsing it).
    refused = sum(1 for k in results for _, outcome, _ in results[k] if outcome in ("400", "513"))
    sent = sum(len(results[k]) for k in results)
    print(f"  ua_sip_malformed +{grew} (answered 400/513: {refused}, sent: {sent}); "
          f"frame errors +{after['ua_sip_frame_errors'] - before.get('ua_sip_frame_errors', 0)}")
    assert results["udp"] and results["tcp"]
    assert refused <= grew <= sent, (refused, grew, sent)
    # Every probe and template went through the softphone path; what else
    # did was a malformed message the parser let through.
    through = after["ua_sip_from_softphone"] - before.get("ua_sip_from_softphone", 0)
    print(f"  from_softphone +{through} ({len(results['udp'])} probes + 3 templates)")
    wait_for(lambda: t.metrics("ua-father")["ua_sip_tcp_connections"] == 0, 10,
             "father's TCP connections to close")


@suite.test
def test_still_works():
    """OPTIONS still 200 over both transports, and a well-formed call
    right after: mother's softphone (SIPp) registers, father calls her,
    INVITE -> 302 -> ACK."""
    testbed()
    port = sip_port("father")
    data, call_id = probe(999999, 5999)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(EXCHANGE_S)
        s.connect(("127.0.0.1", port))
        s.send(data)
        assert statuses(s.recv(65536)) == [200]
    got, end = tcp_exchange(port, data)
    assert statuses(got) == [200] and call_id in got, (got, end)
    r = run_sipp("register_auth.xml", "127.0.0.1", sip_port("mother"), service="mother",
                 auth_user="mother", auth_pass=USERS["mother"][3],
                 keys={"domain": DOMAIN, "expires": 600}, timeout_s=20)
    assert r.ok, r.describe()
    r = run_sipp("invite_redirect_bench.xml", "127.0.0.1", sip_port("father"), service="father",
                 keys={"domain": DOMAIN, "callee": "mother"}, timeout_s=20)
    assert r.ok, r.describe()
    assert r.received(r"^SIP/2.0 302"), r.describe()


@suite.test
def test_clean_shutdown():
    pid = ua_alive("father")
    assert pid, "father's ua is gone"
    reports = testbed().down()
    assert not reports, reports


sys.exit(suite.run())
