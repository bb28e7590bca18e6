#!/usr/bin/env python3
"""Integration: SIP over Mist with real SIP clients (docs/protocol.md §6).

One 2x3 testbed: node-0 the lookup service, node-1..3 lighthouses,
node-4..12 portals. User agents with their SIP front on loopback:
mother (node-1, accepts father and grandma), father (node-2, accepts
mother), grandma (node-1, same lighthouse as mother), stranger (node-3,
in nobody's contacts), aunt (node-3, a ua whose softphone never
registers). SIPp and baresip talk to them exactly as a softphone would.
The tests build on each other in order (registrations first)."""
import hashlib
import os
import re
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, run, wait_for  # noqa: E402
from sipclients import Baresip, Sipp, free_port, run_sipp  # noqa: E402

suite = Suite("sip")
tb = None
DOMAIN = "anosip"
USERS = {
    # nick: (lighthouse, portals, contacts, password)
    "mother": ("node-1", "node-4 node-5", "father grandma", "mother-secret"),
    "father": ("node-2", "node-7 node-8", "mother", "father-secret"),
    "grandma": ("node-1", "node-6 node-4", "mother", "grandma-secret"),
    "stranger": ("node-3", "node-10 node-11", "", "stranger-secret"),
    "aunt": ("node-3", "node-12 node-10", "mother", "aunt-secret"),
    # A ua that passes both challenges on, for a client that does SHA-256.
    "cousin": ("node-2", "node-9 node-7", "", "cousin-secret"),
}
ports = {}  # nick -> (listen, direct)


def testbed():
    global tb
    if tb is None:
        tb = Testbed("2x3", log_level="debug")
        tb.up(timeout=120)
        for nick, (lh, portals, contacts, password) in USERS.items():
            pw = tb.path(f"{nick}.password")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(password + "\n")
            listen, direct = free_port(), free_port()
            ports[nick] = (listen, direct)
            extra = ["--contacts", contacts] if contacts else []
            # SIPp 3.6 and baresip 1.0 answer only the first challenge, and
            # only MD5 (../shared/SIP-INTEROP.md).
            if nick != "cousin":
                extra += ["--digest", "MD5"]
            run([tb_bin(), "testbed", "ua", "add", "--dir", tb.dir, nick, "--lighthouse", lh,
                 "--portals", portals, "--log-level", "debug", "--timeout", "30",
                 "--sip-listen", f"127.0.0.1:{listen}", "--sip-direct", f"127.0.0.1:{direct}",
                 "--password-file", pw, *extra], timeout=60)
    return tb


def tb_bin():
    from lib import anosip_bin
    return anosip_bin()


def sip_port(nick):
    return ports[nick][0]


def register(nick, password=None, expires=600, scenario="register_auth.xml", **kw):
    return run_sipp(scenario, "127.0.0.1", sip_port(nick), service=nick,
                    auth_user=nick, auth_pass=password or USERS[nick][3],
                    keys={"domain": DOMAIN, "expires": expires}, timeout_s=20, **kw)


def call_expect(caller, callee, code, service=None):
    """An INVITE from caller's ua to callee that must end with code (302:
    a redirect with a contact, ACKed, nothing more)."""
    if code == 302:
        return run_sipp("invite_redirect_bench.xml", "127.0.0.1", sip_port(caller),
                        service=service or caller, keys={"domain": DOMAIN, "callee": callee},
                        timeout_s=20)
    return run_sipp("invite_expect.xml", "127.0.0.1", sip_port(caller),
                    service=service or caller, keys={"domain": DOMAIN, "callee": callee},
                    sets={"expected": str(code)}, timeout_s=20)


def lighthouse_db(lh):
    return sqlite3.connect(f"file:{tb.path(lh + '.lighthouse.db')}?mode=ro", uri=True)


def registration(lh, nick):
    with lighthouse_db(lh) as db:
        row = db.execute("SELECT expires_unix FROM registrations WHERE nickname = ?",
                         (nick,)).fetchone()
    return row[0] if row else None


def sip_raw(port, data, tcp=False, timeout=3.0, expect_reply=True):
    """Sends raw bytes to a ua's SIP port; returns the first reply or b''."""
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        if tcp:
            s.sendall(data)
        else:
            s.send(data)
        if not expect_reply:
            return b""
        try:
            return s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return b""


def request(method="OPTIONS", uri=f"sip:mother@{DOMAIN}", headers=None, body=b"",
            branch=None, length=None, start=None):
    branch = branch or f"z9hG4bK{os.urandom(6).hex()}"
    base = [f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch={branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:father@{DOMAIN}>;tag={os.urandom(4).hex()}",
            f"To: <sip:mother@{DOMAIN}>",
            f"Call-ID: {os.urandom(8).hex()}@test",
            f"CSeq: 1 {method}"]
    lines = [start or f"{method} {uri} SIP/2.0"] + (base if headers is None else headers)
    lines.append(f"Content-Length: {len(body) if length is None else length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def status_of(reply):
    m = re.match(rb"SIP/2.0 (\d{3}) ", reply)
    return int(m.group(1)) if m else None


@suite.test
def test_register_with_digest():
    t = testbed()
    for nick in ("mother", "grandma", "stranger"):
        r = register(nick)
        assert r.ok, r.describe()
        # The first answer is a challenge, the second a 200 with our own
        # contact back.
        assert r.received(r"^SIP/2.0 401"), r.describe()
        ok = r.received(r"^SIP/2.0 200")
        assert ok and re.search(r"^Contact: <sip:" + nick + r"@127\.0\.0\.1:\d+", ok[0], re.M), ok
        now = time.time()
        exp = registration(USERS[nick][0], nick)
        assert exp and now + 500 < exp < now + 700, exp
    # Only hashes of the password in SQLite.
    with lighthouse_db("node-1") as db:
        md5, sha = db.execute("SELECT ha1_md5, ha1_sha256 FROM accounts WHERE nickname = 'mother'"
                              ).fetchone()
    assert len(md5) == 16 and len(sha) == 32
    with open(t.path("node-1.lighthouse.db"), "rb") as f:
        assert b"mother-secret" not in f.read()


def digest_register(nick, password, algorithm, nc="00000001", replay=None):
    """A REGISTER answered with RFC 7616 digest by this test itself (SIPp
    and baresip only do MD5). Returns (challenge, final reply)."""
    hash_fn = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5
    port = sip_port(nick)
    hdrs = [f"From: <sip:{nick}@{DOMAIN}>;tag={os.urandom(4).hex()}",
            f"To: <sip:{nick}@{DOMAIN}>", f"Call-ID: {os.urandom(8).hex()}@test",
            "Contact: <sip:{0}@127.0.0.1:5999>".format(nick), "Expires: 600"]

    def reg(cseq, extra):
        via = f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{os.urandom(6).hex()}"
        return request("REGISTER", uri=f"sip:{DOMAIN}",
                       headers=[via] + hdrs + [f"CSeq: {cseq} REGISTER"] + extra)
    challenge = sip_raw(port, reg(1, []))
    nonce = re.search(rb'WWW-Authenticate: Digest [^\r]*nonce="([^"]+)"[^\r]*algorithm='
                      + algorithm.encode() + rb'\b', challenge, re.I)
    assert nonce, challenge
    nonce = nonce.group(1).decode()
    ha1 = hash_fn(f"{nick}:anosip:{password}".encode()).hexdigest()
    ha2 = hash_fn(f"REGISTER:sip:{DOMAIN}".encode()).hexdigest()
    cnonce = "0a4f113b"
    response = hash_fn(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    auth = (f'Authorization: Digest username="{nick}", realm="anosip", nonce="{nonce}", '
            f'uri="sip:{DOMAIN}", response="{response}", algorithm={algorithm}, '
            f'cnonce="{cnonce}", qop=auth, nc={nc}')
    final = sip_raw(port, reg(2, [auth]))
    again = sip_raw(port, reg(3, [auth])) if replay else None
    return challenge, final, again


@suite.test
def test_tcp_softphone():
    """The same over TCP: REGISTER with digest, and an INVITE answered 302."""
    r = register("grandma", transport="t1")
    assert r.ok, r.describe()
    r = run_sipp("invite_redirect_bench.xml", "127.0.0.1", sip_port("grandma"),
                 service="grandma", keys={"domain": DOMAIN, "callee": "mother"},
                 timeout_s=20, transport="t1")
    assert r.ok, r.describe()


@suite.test
def test_register_sha256_for_newer_clients():
    """RFC 8760: SHA-256 challenged first, then MD5; a client answering
    SHA-256 registers; the same Authorization again (a replayed nonce
    count) is challenged anew, stale=true."""
    challenge, final, again = digest_register("cousin", USERS["cousin"][3], "SHA-256",
                                              replay=True)
    algorithms = re.findall(rb"algorithm=([\w-]+)", challenge)
    assert algorithms == [b"SHA-256", b"MD5"], challenge
    assert status_of(final) == 200, final
    assert status_of(again) == 401 and b"stale=true" in again, again
    assert registration("node-2", "cousin")
    _, wrong, _ = digest_register("cousin", "wrong", "SHA-256")
    assert status_of(wrong) == 403, wrong


@suite.test
def test_wrong_password_refused():
    r = register("father", password="not-the-password", scenario="register_wrong_password.xml")
    assert r.ok, r.describe()
    assert r.received(r"^SIP/2.0 40[13]"), r.describe()
    assert registration("node-2", "father") is None
    # The right one still works afterwards.
    r = register("father")
    assert r.ok, r.describe()
    assert registration("node-2", "father")


@suite.test
def test_guessing_is_slowed_down():
    """Five wrong passwords within 15 minutes lock the nickname out (403
    with Retry-After) even for the right password; the lighthouse logs the
    failures without any password."""
    t = testbed()
    for _ in range(5):
        r = register("aunt", password="guess", scenario="register_wrong_password.xml")
        assert r.ok, r.describe()
    # Now even the first REGISTER (no credentials yet) is refused.
    reply = sip_raw(sip_port("aunt"), request(
        "REGISTER", uri=f"sip:{DOMAIN}",
        headers=["Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKlocked1",
                 f"From: <sip:aunt@{DOMAIN}>;tag=1", f"To: <sip:aunt@{DOMAIN}>",
                 "Call-ID: locked@test", "CSeq: 1 REGISTER",
                 "Contact: <sip:aunt@127.0.0.1:5999>"]))
    assert status_of(reply) == 403 and re.search(rb"Retry-After: \d+", reply, re.I), reply
    log = t.log("node-3")
    assert "aunt" in log and "guess" not in log and "aunt-secret" not in log


@suite.test
def test_call_redirect_across_lighthouses():
    """father (node-2) calls mother (node-1): INVITE -> 302 -> ACK, the
    direct INVITE to mother's SIPp, BYE."""
    callee = Sipp("uas_register_then_answer.xml", "127.0.0.1", sip_port("mother"),
                  service="mother", auth_user="mother", auth_pass=USERS["mother"][3],
                  keys={"domain": DOMAIN, "expires": 600}, sets={"wait_loops": "300"},
                  ooc_scenario="uas_answer.xml", timeout_s=45)
    with callee:
        callee.start()
        wait_for(lambda: registration("node-1", "mother"), 10, "mother registered")
        time.sleep(0.5)
        r = run_sipp("invite_redirect_uac.xml", "127.0.0.1", sip_port("father"),
                     service="father", keys={"domain": DOMAIN, "callee": "mother"},
                     hold_ms=300, timeout_s=20)
        c = callee.wait(timeout=30)
    assert r.ok, r.describe()
    assert c.ok, c.describe()
    redirect = r.received(r"^SIP/2.0 302")[0]
    # The contact is mother's ua's direct address with a one-time token,
    # never mother's softphone.
    m = re.search(r"^Contact: <sip:([0-9a-f]{32})@127\.0\.0\.1:(\d+)>", redirect, re.M)
    assert m and int(m.group(2)) == ports["mother"][1], redirect


@suite.test
def test_call_same_lighthouse():
    """grandma and mother share node-1: the INVITE never leaves it."""
    r = call_expect("grandma", "mother", 302)
    assert r.ok, r.describe()


@suite.test
def test_call_errors_reach_the_softphone():
    # Nobody has that nickname: 404.
    r = call_expect("father", "nobody", 404)
    assert r.ok, r.describe()
    # aunt has an account and a circuit but no registered softphone: 480.
    r = call_expect("father", "aunt", 480)
    assert r.ok, r.describe()
    # stranger is in nobody's contacts: mother's ua declines, signed.
    r = call_expect("stranger", "mother", 603)
    assert r.ok, r.describe()
    # A request on father's circuit speaks for father only.
    r = call_expect("father", "mother", 403, service="grandma")
    assert r.ok, r.describe()
    # Other methods to a nickname: 405 from the ua.
    reply = sip_raw(sip_port("father"), request("MESSAGE"))
    assert status_of(reply) == 405, reply


@suite.test
def test_baresip_call():
    """Two headless baresip softphones, each registered through its own
    ua, call by nickname; audio flows on the direct leg; mother's ua is
    killed (-9) and restarted in the middle of the call, which goes on and
    ends cleanly (the direct leg's proxying is stateless); both see the call
    established and closed, and no account or binding was lost."""
    t = testbed()
    mother = Baresip("mother", domain=DOMAIN, password=USERS["mother"][3],
                     outbound=("127.0.0.1", sip_port("mother")))
    father = Baresip("father", domain=DOMAIN, password=USERS["father"][3],
                     outbound=("127.0.0.1", sip_port("father")))
    with mother, father:
        mother.start()
        father.start()
        mother.wait_registered(15)
        father.wait_registered(15)
        father.dial(f"sip:mother@{DOMAIN}")
        father.wait_event("CALL_ESTABLISHED", 20)
        mother.wait_event("CALL_ESTABLISHED", 20)
        time.sleep(1.0)
        accounts = t.accounts("node-1")
        t.stop("ua-mother", kill=True)
        t.start("ua-mother")
        wait_for(lambda: t.circuit("mother").get("circuit") == "open", 20, "mother's circuit")
        time.sleep(0.5)
        father.hangup()
        father.wait_event("CALL_CLOSED", 10)
        mother.wait_event("CALL_CLOSED", 10)
        # baresip prints its RTP table when the call is gone.
        for phone in (mother, father):
            wait_for(lambda: phone.rtp_packets(), 5, f"{phone.nick}'s RTP statistics")
            stats = phone.rtp_packets()
            assert all(tx > 0 and rx > 0 for tx, rx in stats), (phone.nick, stats)
    assert t.accounts("node-1") == accounts
    assert t.bindings("node-1")[2]["mother"]["state"] == "live"


@suite.test
def test_lighthouses_see_scrubbed_sip_only():
    """What reached the lighthouses (their debug log of every SIP message
    from a circuit) holds no softphone address, port, host name or
    software: only nicknames, the domain and anosip.invalid."""
    t = testbed()
    seen = []
    for lh in ("node-1", "node-2", "node-3"):
        seen += [line for line in t.log(lh).splitlines() if " sip from circuit: " in line]
    assert len(seen) >= 10, seen
    text = "\n".join(seen)
    for word in ("127.0.0.1", "User-Agent", "SIPp", "baresip", "Subject", "application/sdp",
                 "rport", "transport=", "tool:", "c=IN"):
        assert word not in text, (word, [line for line in seen if word in line][:2])
    for nick in USERS:
        for port in ports[nick]:
            assert f":{port}" not in text


@suite.test
def test_transactions():
    # baresip unregistered mother when it quit: her SIPp registers again.
    r = register("mother")
    assert r.ok, r.describe()
    port = sip_port("father")
    # OPTIONS is answered by the ua itself.
    reply = sip_raw(port, request("OPTIONS"))
    assert status_of(reply) == 200 and b"Allow:" in reply, reply
    # A retransmitted INVITE gets the same final answer once there is one.
    msg = request("INVITE", uri=f"sip:nobody@{DOMAIN}", branch="z9hG4bKretrans1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        s.send(msg)
        first = [s.recv(65536) for _ in range(2)]  # 100, then 404
        assert [status_of(x) for x in first] == [100, 404], first
        s.send(msg)
        again = s.recv(65536)
        assert again == first[1], (again, first[1])
    # CANCEL of a transaction the ua does not know: 481.
    reply = sip_raw(port, request("CANCEL", uri=f"sip:mother@{DOMAIN}"))
    assert status_of(reply) == 481, reply
    # Every transaction got its answer: none waits; the answered ones stay
    # (for retransmissions) and none was forgotten early.
    t = testbed()
    m = t.metrics("ua-father")
    assert m["ua_sip_transactions_pending"] == 0, m
    assert m["ua_sip_transactions"] >= 1, m
    assert m["ua_sip_transactions_forgotten_early"] == 0, m


@suite.test
def test_direct_address_is_not_a_relay():
    """What reaches a ua's direct address from anyone: a response with
    made-up Vias is not passed on, an in-dialog request without the mark
    of a dialog that crossed this ua is refused, and so is a new INVITE
    without a token."""
    t = testbed()
    direct = ports["mother"][1]
    before = t.metrics("ua-mother")["ua_sip_direct_refused"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as victim:
        victim.bind(("127.0.0.1", 0))
        victim.settimeout(1.0)
        vport = victim.getsockname()[1]
        forged = (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{direct};branch=z9hG4bKx\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{vport};branch=z9hG4bKy\r\n"
                  f"From: <sip:a@{DOMAIN}>;tag=1\r\nTo: <sip:b@{DOMAIN}>;tag=2\r\n"
                  "Call-ID: relay@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
        sip_raw(direct, forged.encode(), expect_reply=False)
        try:
            got = victim.recv(65536)
        except socket.timeout:
            got = b""
        assert got == b"", got
    bye = request("BYE", uri=f"sip:x@127.0.0.1:{ports['mother'][0]}",
                  headers=["Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKbye1",
                           f"From: <sip:father@{DOMAIN}>;tag=1",
                           f"To: <sip:mother@{DOMAIN}>;tag=2", "Call-ID: nodialog@test",
                           "CSeq: 2 BYE"])
    assert status_of(sip_raw(direct, bye)) == 403
    invite = request("INVITE", uri=f"sip:{'0' * 32}@127.0.0.1:{direct}")
    assert status_of(sip_raw(direct, invite)) == 403
    assert t.metrics("ua-mother")["ua_sip_direct_refused"] >= before + 3


MALFORMED = [
    # (name, bytes, expected status or None for a silent drop)
    ("not sip", b"hello world\r\n\r\n", None),
    ("bad start line", b"INVITE sip:mother@anosip SIP/3.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\n\r\n",
     None),
    ("no call-id", request(headers=["Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx1",
                                    "From: <sip:father@anosip>;tag=1",
                                    "To: <sip:mother@anosip>", "CSeq: 1 OPTIONS"]), None),
    # On TCP the ua waits for the rest of the body, then closes the
    # connection (the slow-message timeout): no answer.
    ("content-length too long", request("INVITE", body=b"v=0\r\n", length=500), (400, None)),
    ("content-length too short", request("INVITE", body=b"v=0\r\no=x\r\n", length=2), 400),
    # Not even a 400 can echo that From back: dropped.
    ("bad utf-8 display name",
     request(headers=["Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx2",
                      'From: "\xff\xfe" <sip:father@anosip>;tag=1'.encode("latin-1").decode(
                          "latin-1"),
                      "To: <sip:mother@anosip>", "Call-ID: a@b", "CSeq: 1 OPTIONS"]), None),
    ("bad utf-8 in another header",
     request(headers=["Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx4",
                      "From: <sip:father@anosip>;tag=1", "To: <sip:mother@anosip>",
                      "Call-ID: a@b", "CSeq: 1 OPTIONS", "Subject: caf\xe9"]), 400),
    ("header injection", request(headers=["Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx3",
                                          "From: <sip:father@anosip>;tag=1\rX-Evil: 1",
                                          "To: <sip:mother@anosip>", "Call-ID: a@b",
                                          "CSeq: 1 OPTIONS"]), 400),
    ("oversized", request("INVITE", body=b"a=x" * 7000), 513),
]


@suite.test
def test_malformed_sip_gets_an_error_or_a_drop():
    t = testbed()
    port = sip_port("father")
    for name, data, expected in MALFORMED:
        data = data if isinstance(data, bytes) else data.encode("latin-1")
        for tcp in (False, True):
            reply = sip_raw(port, data, tcp=tcp, timeout=1.5)
            got = status_of(reply)
            want = expected[tcp] if isinstance(expected, tuple) else expected
            assert got == want, (name, "tcp" if tcp else "udp", reply[:200])
    # The ua is still there and still works.
    assert status_of(sip_raw(port, request("OPTIONS"))) == 200
    assert t.metrics("ua-father")["ua_sip_malformed"] >= len(MALFORMED)
    r = call_expect("father", "mother", 302)
    assert r.ok, r.describe()


@suite.test
def test_ua_restart_keeps_account_and_binding():
    """mother's ua is killed (-9) and restarted: without her softphone
    registering again she is reachable, and nothing was lost."""
    t = testbed()
    accounts = t.accounts("node-1")
    exp = registration("node-1", "mother")
    t.stop("ua-mother", kill=True)
    r = call_expect("father", "mother", 480)  # her circuit is gone
    assert r.ok, r.describe()
    t.start("ua-mother")
    wait_for(lambda: t.circuit("mother").get("circuit") == "open", 20, "mother's circuit")
    r = call_expect("father", "mother", 302)
    assert r.ok, r.describe()
    assert t.accounts("node-1") == accounts
    assert registration("node-1", "mother") == exp
    live, _, table = t.bindings("node-1")
    assert table["mother"]["state"] == "live"


@suite.test
def test_lighthouse_restart_keeps_registrations():
    t = testbed()
    exp = registration("node-1", "mother")
    t.stop("node-1", kill=True)
    t.start("node-1")
    t.wait_all_links(30)
    wait_for(lambda: t.circuit("mother").get("circuit") == "open", 30, "mother's circuit")
    assert registration("node-1", "mother") == exp
    wait_for(lambda: call_expect("father", "mother", 302).ok, 30, "a call to mother")


@suite.test
def test_who_knows_what_in_sip():
    """The lighthouses' files and logs never hold a softphone's address
    or port; the uas never log a nickname next to an address."""
    t = testbed()
    for lh in ("node-1", "node-2", "node-3"):
        with open(t.path(f"{lh}.lighthouse.db"), "rb") as f:
            data = f.read()
        for nick in USERS:
            for port in ports[nick]:
                assert str(port).encode() not in data
        assert b"127.0.0.1" not in data
    addr = re.compile(r"\d+\.\d+\.\d+\.\d+:\d+")
    for nick in USERS:
        for line in t.log(f"ua-{nick}").splitlines():
            others = [n for n in USERS if n != nick and re.search(rf"\b{n}\b", line)]
            assert not (others and addr.search(line)), line


@suite.test
def test_clean_shutdown():
    reports = testbed().down()
    assert not reports, reports


sys.exit(suite.run())
