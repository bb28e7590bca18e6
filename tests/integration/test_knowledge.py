#!/usr/bin/env python3
"""Integration: the who-knows-what table (DESIGN.md §2) against real
processes — what each node exposes over `anosip ctl`, writes to its log
and keeps in its files must not hold what its row says it does not know.

One 2x3 testbed at log level debug (the most a node ever writes) with nine
users, one per portal as first portal, whose nicknames are distinctive
and no one's prefix or part ("amber-fox", ...), so a plain search finds
every occurrence. While tcpdump records every link, the users echo, a ua
restarts, a portal restarts, a second device claims a taken nickname and
a lighthouse asks the lookup service: the nodes have then seen sign-ups,
claims, queries, refusals, rebuilds and failovers.

  portal (node-4..12): no nickname.
  router (every node that only forwards a circuit: the portals, node-0,
    the lighthouses for circuits to other lighthouses): no nickname
    (node-0: none outside its lookup table), no ua address or port.
  lighthouse (node-1..3): no ua address or port.
  lookup (node-0): nickname -> lighthouse and nothing else.
  eavesdropper (the wire): whole 512-byte frames, nothing in clear.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (Capture, Suite, Testbed, anosip_bin, local_tcp_ports, read_pcap,  # noqa: E402
                 run)

FRAME = 512
suite = Suite("knowledge")
tb = None
NICKS = ["amber-fox", "basil-owl", "cedar-elk", "dingo-yak", "ember-jay", "fjord-emu",
         "gecko-ram", "hazel-cod", "iris-gnu"]
LIGHTHOUSES = ["node-1", "node-2", "node-3"]
PORTALS = [f"node-{i}" for i in range(4, 13)]
LOOKUP = "node-0"
HOME = {n: LIGHTHOUSES[i % 3] for i, n in enumerate(NICKS)}
# Every ua's TCP source port seen at any time (uas reconnect: new ports).
UA_PORTS = set()
STARTED = time.time()


def note_ua_ports(t):
    pids = [t.pid(t.ua(n)) for n in NICKS]
    for ports in local_tcp_ports(pids).values():
        UA_PORTS.update(ports)


def testbed():
    global tb
    if tb is None:
        tb = Testbed("2x3", log_level="debug")
        tb.up()
        for i, nick in enumerate(NICKS):
            tb.ua_add(nick, HOME[nick], [PORTALS[i], PORTALS[(i + 4) % 9]])
        note_ua_ports(tb)
    return tb


def ctl_outputs(t, node, commands):
    """{command: output} for read-only commands the node answers."""
    out = {}
    for cmd in commands:
        p = t.ctl(node, *cmd.split(), check=False)
        out[cmd] = p.stdout + p.stderr
    return out


def node_files(t, node):
    """node-K.* in the testbed folder: config, keys, log, pid, databases
    (the control socket is not a file). Databases are read both raw and
    as an `sqlite3 .dump`."""
    files = {}
    for name in sorted(os.listdir(t.dir)):
        if not name.startswith(node + ".") or name.endswith(".sock"):
            continue
        with open(t.path(name), "rb") as f:
            files[name] = f.read()
        if name.endswith(".db"):
            files[name + " (.dump)"] = run(["sqlite3", t.path(name), ".dump"],
                                           timeout=20).stdout.encode()
    return files


def nicknames_in(blob):
    if isinstance(blob, str):
        blob = blob.encode()
    return [n for n in NICKS if n.encode() in blob]


# Addresses: a node may name directory addresses (its own, its
# neighbours': public), never a ua's. Two checks, both immune to the
# many numbers in counters, timestamps, handles and hex:
#  * every "IPv4:port" string must be a directory address;
#  * a ua's port (ephemeral, 32768-60999: five digits) must not appear
#    after ":" or the word "port" — the ways a port is written. Timestamps
#    only have two digits after a colon; counters follow "=" or a space
#    after their own name, never "port"; `sqlite3 .dump` blobs (X'..',
#    hex that may hold any digit run) are cut out first.
ADDRESS_RE = re.compile(rb"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})[:.](\d{1,5})(?!\d)")
PORT_CONTEXT_RE = re.compile(rb"(?i)(?:\bs?port\b[\s=:]*|:)(\d{4,5})(?!\d)")
BLOB_RE = re.compile(rb"X'[0-9a-fA-F]*'")


def ua_addresses_in(t, blob):
    if isinstance(blob, str):
        blob = blob.encode()
    blob = BLOB_RE.sub(b"X''", blob)
    directory = {("127.0.0.1", t.address(n)[1]) for n in t.nodes}
    found = []
    for m in ADDRESS_RE.finditer(blob):
        addr = (m.group(1).decode(), int(m.group(2)))
        if addr not in directory:
            found.append(m.group(0).decode())
    for m in PORT_CONTEXT_RE.finditer(blob):
        if int(m.group(1)) in UA_PORTS:
            found.append(m.group(0).decode())
    return found


NODE_COMMANDS = ["status", "links", "metrics", "circuits", "help"]


@suite.test
def eavesdropper_sees_whole_frames_and_no_nickname():
    t = testbed()
    node_ports = {t.address(n)[1] for n in t.nodes}
    portal_ports = {t.address(n)[1] for n in PORTALS}
    pcap = t.path("lo.pcap")
    with Capture(pcap, sorted(node_ports)):
        for nick in NICKS:
            total, ok, out = t.echo(nick, 20, 300)
            assert ok == 20, out
        total, ok, out = t.echo(NICKS[0], 5, 4000)
        assert ok == 5, out
        # A fresh anonymous handshake and CREATE (sign-in of a known key).
        t.stop(t.ua(NICKS[1]))
        t.start(t.ua(NICKS[1]))
        run([anosip_bin(), "testbed", "ua", "wait", "--dir", t.dir, NICKS[1]], timeout=40)
        # A portal restarts: its uas come back (new connections).
        t.stop("node-6")
        t.start("node-6")
        t.wait_all_links(timeout=20)
        run([anosip_bin(), "testbed", "ua", "wait", "--dir", t.dir, *NICKS], timeout=40)
        note_ua_ports(t)
        # A second device claims a nickname homed elsewhere: CREATE with
        # sign-up, a HOME_CLAIM to the lookup service, a refusal.
        other = t.ua_folder("second-device")
        p = t.ua_add(NICKS[2], "node-3" if HOME[NICKS[2]] != "node-3" else "node-1",
                     ["node-9", "node-5"], timeout=2, check=False, folder=other)
        assert p.returncode != 0
        run([anosip_bin(), "testbed", "stop", "--dir", other, t.ua(NICKS[2])])
        # A lighthouse asks the lookup service where a nickname lives.
        out = t.ctl("node-1", "lookup", NICKS[4]).stdout
        assert f"{NICKS[4]} homed on {HOME[NICKS[4]]}" in out, out
        for nick in NICKS:
            assert t.echo(nick, 3)[1] == 3
        time.sleep(1.2)  # a round of keep-alives on every link
    note_ua_ports(t)
    segments = list(read_pcap(pcap))
    flows = {}
    bad = [(f, len(p)) for f, p in segments if len(p) % FRAME]
    assert not bad, f"segments that are not whole frames: {bad[:10]}"
    for flow, payload in segments:
        flows.setdefault(flow, bytearray()).extend(payload)
    for flow, data in flows.items():
        assert len(data) % FRAME == 0, (flow, len(data))
    # The ua links are in the capture: every port a ua held talked to a portal.
    ua_flows = {f for f in flows if f[0] in UA_PORTS and f[1] in portal_ports}
    assert {f[0] for f in ua_flows} == UA_PORTS, (sorted(UA_PORTS), sorted(ua_flows))
    found = []
    for flow, data in flows.items():
        for needle in [n.encode() for n in NICKS] + [b"user-", b"anosip"]:
            if needle in data:
                found.append((flow, needle))
    assert not found, f"in clear on the wire: {found[:10]}"
    frames = sum(len(d) for d in flows.values()) // FRAME
    print(f"     {len(segments)} segments, {len(flows)} flows ({len(ua_flows)} ua links), "
          f"{frames} frames, all {FRAME} bytes; ua ports seen: {len(UA_PORTS)}")


@suite.test
def portals_hold_no_nickname():
    t = testbed()
    problems = []
    for node in PORTALS:
        for cmd, text in ctl_outputs(t, node, NODE_COMMANDS).items():
            if nicknames_in(text):
                problems.append((node, f"ctl {cmd}", nicknames_in(text)))
        # A portal has no lighthouse or lookup commands to ask.
        for cmd in ["bindings", "accounts", "homes"]:
            p = t.ctl(node, cmd, check=False)
            assert p.returncode != 0 and "unknown command" in p.stdout, (node, cmd, p.stdout)
        for name, data in node_files(t, node).items():
            if nicknames_in(data):
                problems.append((node, name, nicknames_in(data)))
    assert not problems, problems
    # The search would find them: the uas' own files do hold them.
    assert nicknames_in(t.log(t.ua(NICKS[0]))) == [NICKS[0]]


@suite.test
def routers_and_lookup_hold_no_ua_address_and_no_nickname_beyond_their_role():
    t = testbed()
    assert len(UA_PORTS) >= len(NICKS), UA_PORTS
    problems = []
    for node in [LOOKUP] + LIGHTHOUSES:
        for cmd, text in ctl_outputs(t, node, NODE_COMMANDS).items():
            if ua_addresses_in(t, text):
                problems.append((node, f"ctl {cmd}", ua_addresses_in(t, text)))
        for name, data in node_files(t, node).items():
            if ua_addresses_in(t, data):
                problems.append((node, name, ua_addresses_in(t, data)))
    # The lookup node routes and answers; outside its table (the database,
    # `homes`) it holds no nickname: not in its state, not in its log.
    for cmd, text in ctl_outputs(t, LOOKUP, NODE_COMMANDS).items():
        if nicknames_in(text):
            problems.append((LOOKUP, f"ctl {cmd}", nicknames_in(text)))
    for name, data in node_files(t, LOOKUP).items():
        if ".lookup.db" not in name and nicknames_in(data):
            problems.append((LOOKUP, name, nicknames_in(data)))
    homes = t.ctl(LOOKUP, "homes").stdout
    if ua_addresses_in(t, homes):
        problems.append((LOOKUP, "ctl homes", ua_addresses_in(t, homes)))
    assert not problems, problems
    # Routers in the lighthouses' places: a circuit a lighthouse only
    # forwards shows links and ids, nothing else.
    for node in LIGHTHOUSES:
        for line in t.ctl(node, "circuits").stdout.splitlines()[2:]:
            assert re.fullmatch(r"circuit in=\d+/[0-9a-f]{8} out=\d+/[0-9a-f]{8} "
                                r"(open|pending)( ends-here)? age_ms=\d+", line), (node, line)


@suite.test
def lighthouses_hold_no_ua_address_nor_others_nicknames():
    t = testbed()
    problems = []
    for node in LIGHTHOUSES:
        mine = [n for n in NICKS if HOME[n] == node]
        commands = NODE_COMMANDS + ["bindings", "accounts", f"lookup {mine[0]}"]
        outputs = ctl_outputs(t, node, commands)
        # They do know who: that is their job.
        assert set(nicknames_in(outputs["bindings"])) >= set(mine), (node, outputs["bindings"])
        for cmd, text in outputs.items():
            if ua_addresses_in(t, text):
                problems.append((node, f"ctl {cmd}", ua_addresses_in(t, text)))
        for name, data in node_files(t, node).items():
            if ua_addresses_in(t, data):
                problems.append((node, name, ua_addresses_in(t, data)))
        # As a router for circuits to the other lighthouses (node-1 carries
        # node-4..6's users homed on node-2 and node-3) it learns none of
        # their nicknames: only its own users' (and what it asks `lookup`).
        texts = {f"ctl {c}": v for c, v in outputs.items() if not c.startswith("lookup")}
        texts.update(node_files(t, node))
        for what, text in texts.items():
            foreign = set(nicknames_in(text)) - set(mine)
            if foreign:
                problems.append((node, what, sorted(foreign)))
        # Every column of every table is one docs/storage.md lists; a
        # binding points to a circuit handle (a link id and a circuit id
        # at this node), never to an address.
        db = t.path(f"{node}.lighthouse.db")
        schema = {}
        for table in ["accounts", "certificates", "bindings", "registrations", "auth_failures"]:
            info = run(["sqlite3", db, f"PRAGMA table_info({table})"], timeout=20).stdout
            schema[table] = [line.split("|")[1:3] for line in info.splitlines()]
        assert schema == {
            "accounts": [["nickname", "TEXT"], ["sign_public", "BLOB"],
                         ["created_unix", "INTEGER"], ["ha1_md5", "BLOB"],
                         ["ha1_sha256", "BLOB"]],
            "certificates": [["nickname", "TEXT"], ["certificate", "BLOB"],
                             ["expires_unix", "INTEGER"]],
            "bindings": [["nickname", "TEXT"], ["circuit", "INTEGER"], ["epoch", "INTEGER"],
                         ["expires_unix", "INTEGER"], ["live", "INTEGER"]],
            # A registration is who and until when, never a contact.
            "registrations": [["nickname", "TEXT"], ["expires_unix", "INTEGER"]],
            "auth_failures": [["nickname", "TEXT"], ["window_start_unix", "INTEGER"],
                              ["failures", "INTEGER"]],
        }, (node, schema)
        tables = run(["sqlite3", db, "SELECT name FROM sqlite_master WHERE type = 'table'"],
                     timeout=20).stdout.split()
        assert sorted(tables) == ["accounts", "auth_failures", "bindings", "certificates",
                                  "registrations"], (node, tables)
        rows = run(["sqlite3", db, "SELECT nickname, typeof(circuit), live FROM bindings"],
                   timeout=20).stdout.split()
        assert sorted(rows) == sorted(f"{n}|integer|1" for n in mine), (node, rows)
    assert not problems, problems


@suite.test
def lookup_database_holds_nickname_to_lighthouse_only():
    t = testbed()
    db = t.path(f"{LOOKUP}.lookup.db")
    objects = run(["sqlite3", db, "SELECT type, name, tbl_name FROM sqlite_master "
                                  "ORDER BY name"], timeout=20).stdout.split()
    # One table; the only index is its primary key's.
    assert sorted(objects) == ["index|sqlite_autoindex_homes_1|homes", "table|homes|homes"], \
        objects
    info = run(["sqlite3", db, "PRAGMA table_info(homes)"], timeout=20).stdout
    assert [line.split("|")[1:3] for line in info.splitlines()] == \
        [["nickname", "TEXT"], ["lighthouse", "TEXT"], ["updated_unix", "INTEGER"]], info
    rows = run(["sqlite3", "-separator", " ", db,
                "SELECT nickname, lighthouse, updated_unix, typeof(updated_unix) FROM homes"],
               timeout=20).stdout.splitlines()
    now = time.time()
    seen = {}
    for row in rows:
        nick, lighthouse, updated, kind = row.split(" ")
        assert kind == "integer" and STARTED - 60 <= int(updated) <= now + 60, row
        seen[nick] = lighthouse
    # Exactly our users, each on its lighthouse (the refused second device
    # changed nothing).
    assert seen == HOME, seen
    assert t.homes() == HOME
    dump = run(["sqlite3", db, ".dump"], timeout=20).stdout
    assert not ua_addresses_in(t, dump), ua_addresses_in(t, dump)


@suite.test
def everything_stops_cleanly_with_no_sanitizer_report():
    global tb
    t = testbed()
    tb = None
    reports = t.down()
    assert not reports, "\n".join(reports[:20])


if __name__ == "__main__":
    try:
        rc = suite.run()
    finally:
        if tb:
            tb.down()
    sys.exit(rc)
