#!/usr/bin/env python3
"""Integration: Mist circuits on real processes (docs/protocol.md §3, §4).

One 2x3 testbed with 20 user agents: node-0 runs the lookup service,
node-1..3 are lighthouses, node-4..12 portals. user-K is homed on
lighthouses[(K-1) % 3] and links to portals[(K-1) % 9] (then
portals[(K+3) % 9] for failover). The tests build on each other in order:
bad input first, while the network is whole, then a killed router and a
restarted lighthouse, each leaving every ua with an open circuit; the two
last check that one user's extra circuits or a flood of CREATEs do not
cost another user its binding or its circuit."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, run, wait_for  # noqa: E402

suite = Suite("circuits")
tb = None
USERS = 20
LIGHTHOUSES = ["node-1", "node-2", "node-3"]
PORTALS = [f"node-{i}" for i in range(4, 13)]


def testbed():
    global tb
    if tb is None:
        tb = Testbed("2x3", users=USERS)
        tb.up(timeout=120)
    return tb


def users():
    return [f"user-{k}" for k in range(1, USERS + 1)]


def home_of(nick):
    return LIGHTHOUSES[(int(nick.split("-")[1]) - 1) % 3]


def first_portal_of(nick):
    return PORTALS[(int(nick.split("-")[1]) - 1) % 9]


def ua_home(t, nick):
    """The ua's lighthouse, from its config."""
    with open(t.path(f"ua-{nick}.conf")) as f:
        return re.search(r"^lighthouse = (\S+)$", f.read(), re.M).group(1)


def metric(t, node, name):
    return t.metrics(node).get(name, 0)


def lighthouse_circuits(t, lighthouse):
    """{handle (16 hex digits): 'open'|'pending'} for circuits ending at it."""
    out = {}
    for m in re.finditer(r"^circuit in=(\d+)/([0-9a-f]{8}) out=\S+ (open|pending) ends-here",
                         t.ctl(lighthouse, "circuits").stdout, re.M):
        out[f"{int(m.group(1)):08x}{m.group(2)}"] = m.group(3)
    return out


def sql(t, db, query):
    return run(["sqlite3", t.path(db), query], timeout=20).stdout


def wait_users_open(t, nicks, timeout=30):
    run([anosip_bin(), "testbed", "ua", "wait", "--dir", t.dir, *nicks,
         "--timeout", str(timeout)], timeout=timeout + 10)


def wait_bindings_live(t, lighthouse, nicks, timeout, old=None):
    """Waits until each of nicks has a live binding on lighthouse (with a
    circuit handle other than old[nick] when old is given); returns the
    seconds it took and the table."""
    start = time.monotonic()

    def ok():
        _, _, table = t.bindings(lighthouse)
        for n in nicks:
            b = table.get(n)
            if not b or b["state"] != "live" or (old and b["circuit"] == old[n]):
                return None
        return table
    table = wait_for(ok, timeout, f"live bindings for {len(nicks)} users on {lighthouse}",
                     interval=0.1)
    return time.monotonic() - start, table


@suite.test
def twenty_users_have_circuits_bindings_homes_and_accounts():
    t = testbed()
    assert t.ua_nicks() == sorted(users()), t.ua_nicks()
    for nick in users():
        c = t.circuit(nick)
        assert c["nickname"] == nick and c["circuit"] == "open", c
        assert c["lighthouse"] == home_of(nick) and c["portal"] == first_portal_of(nick), c
        assert c["built"] == 1 and c["rebuilds"] == 0 and c["refused"] == 0, c
        assert c["certificate"] == "yes", c
    total = 0
    for lh in LIGHTHOUSES:
        mine = {n for n in users() if home_of(n) == lh}
        live, stale, table = t.bindings(lh)
        assert (live, stale) == (len(mine), 0), (lh, live, stale)
        assert set(table) == mine, (lh, sorted(table))
        assert all(b["state"] == "live" for b in table.values()), table
        # Each binding names a circuit that ends here and is open.
        ends = lighthouse_circuits(t, lh)
        for nick, b in table.items():
            assert ends.get(b["circuit"]) == "open", (lh, nick, b, ends)
        assert t.accounts(lh) == len(mine), lh
        m = t.metrics(lh)
        assert m["lh_circuits"] == len(mine) and m["lh_signups"] == len(mine), (lh, m)
        assert m["lh_creates_refused"] == 0, (lh, m)
        # The database says the same.
        rows = sql(t, f"{lh}.lighthouse.db", "SELECT nickname, live FROM bindings").split()
        assert sorted(rows) == sorted(f"{n}|1" for n in mine), (lh, rows)
        total += live
    assert total == USERS
    homes = t.homes()
    assert homes == {n: home_of(n) for n in users()}, homes
    # Every portal holds exactly its users' circuits, all open.
    for i, portal in enumerate(PORTALS):
        expected = sum(1 for n in users() if first_portal_of(n) == portal)
        lines = re.findall(r"^circuit .* (open|pending) ", t.ctl(portal, "circuits").stdout,
                           re.M)
        assert lines == ["open"] * expected, (portal, lines)


@suite.test
def thousand_round_trips_on_one_circuit():
    t = testbed()
    nick = "user-2"  # node-5 -> node-1 -> node-2 (across the ring)
    lh, portal = home_of(nick), first_portal_of(nick)
    before_lh, before_portal = t.metrics(lh), t.metrics(portal)
    start = time.monotonic()
    total, ok, out = t.echo(nick, 1000, timeout=120)
    took = time.monotonic() - start
    assert (total, ok) == (1000, 1000), out
    print(f"     {out.strip()} ({took:.2f} s)")
    after_lh, after_portal = t.metrics(lh), t.metrics(portal)
    assert after_lh["lh_data_in"] - before_lh["lh_data_in"] == 1000
    assert after_lh["lh_data_out"] - before_lh["lh_data_out"] == 1000
    # The portal switched every cell both ways; the middle hop too.
    assert after_portal["cells_forwarded"] - before_portal["cells_forwarded"] == 2000
    # Cells larger than a frame (each DATA cell spans 17 link frames).
    total, ok, out = t.echo(nick, 50, 8000, timeout=60)
    assert (total, ok) == (50, 50), out
    c = t.circuit(nick)
    assert c["built"] == 1 and c["circuit"] == "open", c


@suite.test
def nickname_homed_elsewhere_is_refused():
    t = testbed()
    before = t.ua_snapshot()
    # The binding's expiry moves every 10 s (live circuits keep it fresh):
    # what must not change is where it points.
    binding_before = {k: v for k, v in t.bindings("node-1")[2]["user-1"].items()
                      if k != "expires"}
    accounts_before = {lh: t.accounts(lh) for lh in LIGHTHOUSES}
    refused_before = metric(t, "node-2", "lh_creates_refused")
    conflicts_before = metric(t, "node-0", "lookup_conflicts")
    # A second device claims user-1 (homed on node-1) on node-2, with a
    # fresh key: its own folder, so its files do not collide with user-1's.
    other = t.ua_folder("second-device")
    p = t.ua_add("user-1", "node-2", ["node-7", "node-10"], timeout=4, check=False,
                 folder=other)
    assert p.returncode != 0 and "no open circuit" in p.stderr, (p.returncode, p.stderr)
    sock = os.path.join(other, "ua-user-1.sock")
    c = t.circuit("user-1", sock=sock)
    assert c["circuit"] != "open" and c["refused"] >= 1 and c["built"] == 0, c
    assert c["last_destroy"] == "DESTROY_NICKNAME_TAKEN", c
    with open(os.path.join(other, "ua-user-1.log")) as f:
        log = f.read()
    assert "refused user-1: nickname taken" in log, log
    run([anosip_bin(), "testbed", "stop", "--dir", other, "ua-user-1"])
    # Counted where it was refused; nothing changed anywhere else.
    assert metric(t, "node-2", "lh_creates_refused") >= refused_before + 1
    assert metric(t, "node-0", "lookup_conflicts") >= conflicts_before + 1
    assert {lh: t.accounts(lh) for lh in LIGHTHOUSES} == accounts_before
    assert "user-1" not in t.bindings("node-2")[2]
    assert t.homes()["user-1"] == "node-1"
    binding_after = {k: v for k, v in t.bindings("node-1")[2]["user-1"].items()
                     if k != "expires"}
    assert binding_after == binding_before, (binding_before, binding_after)
    t.undisturbed(before)


def evil(t, portal, attack, *extra, expect=None, unchanged=None):
    """Runs one client attack through portal; expect {(node, metric): delta}
    must be reached exactly, unchanged [(node, metric)] must stay."""
    expect = expect or {}
    unchanged = unchanged or []
    watched = set(expect) | set(unchanged)
    before = {}
    for node in {n for n, _ in watched}:
        m = t.metrics(node)
        for (n, name) in watched:
            if n == node:
                before[(n, name)] = m.get(name, 0)
    p = t.evil_client(portal, attack, *extra)
    assert p.returncode == 0, (attack, p.returncode, p.stdout, p.stderr)
    print(f"     {attack}: {p.stdout.strip().splitlines()[-1]}")

    def reached():
        cache = {}
        for (node, name) in watched:
            if node not in cache:
                cache[node] = t.metrics(node)
        return all(cache[n].get(k, 0) - before[(n, k)] == expect.get((n, k), 0)
                   for (n, k) in watched)
    wait_for(reached, 5, f"counters after {attack}: {expect}", interval=0.1)
    return p.stdout


@suite.test
def bad_cells_from_a_client_are_refused_and_counted():
    t = testbed()
    # node-4 is the first portal of user-1, user-10 and user-19: the
    # attacker shares it with them.
    portal = "node-4"
    before = t.ua_snapshot()
    links_before = {p: i["up_ms"] for p, i in t.links(portal).items()}
    evil(t, portal, "none")
    # Not a portal: an anonymous initiator is refused at the handshake.
    evil(t, "node-1", "refused", expect={("node-1", "drop_unknown_peer"): 1})
    evil(t, portal, "create-unknown-lighthouse",
         expect={(portal, "drop_no_route"): 1})
    evil(t, portal, "create-unknown-lighthouse", "--lighthouse", "node-0",  # not a lighthouse
         expect={(portal, "drop_no_route"): 1})
    evil(t, portal, "create-garbage-sealed", "--lighthouse", "node-2",
         expect={("node-2", "drop_sealed"): 1, ("node-2", "lh_creates_refused"): 1},
         unchanged=[(portal, "drop_circuit_limit")])
    evil(t, portal, "data-unknown-circuit",
         expect={(portal, "drop_unknown_circuit"): 1})
    # Four CREATEs in flight are allowed; each is answered.
    evil(t, portal, "create-flood", "--lighthouse", "node-2", "--count", "4",
         expect={("node-2", "drop_sealed"): 4},
         unchanged=[(portal, "drop_circuit_limit")])
    # Ten in one burst: the portal reads them in one go, so the fifth
    # finds four pending (no answer can have come back from node-2 two
    # hops away yet) and the link is closed.
    evil(t, portal, "create-flood", "--lighthouse", "node-2", "--count", "10",
         expect={(portal, "drop_circuit_limit"): 1})
    evil(t, portal, "routed-from-client", expect={(portal, "drop_forbidden"): 1})
    # A fresh key for a nickname that has an account here.
    evil(t, portal, "create-wrong-key", "--lighthouse", "node-1", "--nickname", "user-1",
         expect={("node-1", "lh_creates_refused"): 1},
         unchanged=[("node-1", "lh_creates_ok")])
    # user-1's public key, a proof by another key.
    evil(t, portal, "bad-proof", "--lighthouse", "node-1", "--nickname", "user-1",
         "--nick-key", t.path("ua-user-1.key"),
         expect={("node-1", "drop_bad_signature"): 1, ("node-1", "lh_creates_refused"): 1})
    # One valid CREATE (a fresh nickname signs up) sent twice.
    evil(t, portal, "replayed-create", "--lighthouse", "node-1", "--nickname", "mallory",
         expect={("node-1", "lh_replays"): 1, ("node-1", "drop_replay"): 1,
                 ("node-1", "lh_creates_ok"): 1, ("node-1", "lh_signups"): 1,
                 ("node-1", "lh_creates_refused"): 1})
    # 16 circuits on one client link, then one more.
    evil(t, portal, "circuit-limit", "--lighthouse", "node-3", "--nickname", "trudy",
         expect={(portal, "drop_circuit_limit"): 1, ("node-3", "lh_creates_ok"): 16,
                 ("node-3", "lh_signups"): 1})
    # The portal's own links and every user are untouched.
    after = t.links(portal)
    for peer, up in links_before.items():
        assert after[peer]["state"] == "up" and after[peer]["up_ms"] > up, (peer, after[peer])
    t.undisturbed(before)
    for lh in LIGHTHOUSES:
        table = t.bindings(lh)[2]
        for nick in users():
            if home_of(nick) == lh:
                assert table[nick]["state"] == "live", (lh, nick, table[nick])
    # The attacker's circuits are all gone from the portal.
    lines = re.findall(r"^circuit ", t.ctl(portal, "circuits").stdout, re.M)
    assert len(lines) == sum(1 for n in users() if first_portal_of(n) == portal), lines


@suite.test
def killed_router_on_the_path_the_ua_fails_over_to_its_next_portal():
    t = testbed()
    # roamer: node-7 -> node-2 -> node-1 (ring), failover portal node-10
    # (node-10 -> node-3 -> node-1, avoiding node-2).
    t.ua_add("roamer", "node-1", ["node-7", "node-10"])
    c = t.circuit("roamer")
    assert c["portal"] == "node-7" and c["circuit"] == "open", c
    old = t.bindings("node-1")[2]["roamer"]
    assert old["state"] == "live", old
    # The circuit crosses node-2: it has the pair whose outgoing id is the
    # one the lighthouse bound.
    assert f"/{old['circuit'][8:]} open" in t.ctl("node-2", "circuits").stdout
    start = time.monotonic()
    t.stop("node-2", kill=True)
    took, table = wait_bindings_live(t, "node-1", ["roamer"], 10,
                                     old={"roamer": old["circuit"]})
    c = t.circuit("roamer")
    print(f"     node-2 killed: roamer's binding live again with a new circuit after "
          f"{took:.2f} s (bound 10 s); ua rebuilt in {c['last_build_ms']} ms via {c['portal']}")
    assert c["circuit"] == "open" and c["portal"] == "node-10", c
    assert c["rebuilds"] == 1 and c["refused"] >= 1, c
    assert time.monotonic() - start <= 10
    total, ok, out = t.echo("roamer", 20)
    assert (total, ok) == (20, 20), out
    t.start("node-2")
    t.wait_all_links(timeout=30)
    # Everyone whose path crossed node-2 (or who is homed there) rebuilds.
    wait_users_open(t, t.ua_nicks(), timeout=30)
    for lh in LIGHTHOUSES:
        wait_bindings_live(t, lh, [n for n in t.ua_nicks() if ua_home(t, n) == lh], 30)


@suite.test
def restarted_lighthouse_keeps_accounts_and_certificates_and_rebinds():
    t = testbed()
    lh = "node-1"
    mine = [n for n in t.ua_nicks() if ua_home(t, n) == lh]
    accounts = t.accounts(lh)
    live, stale, old = t.bindings(lh)
    assert all(old[n]["state"] == "live" for n in mine), old
    certificates = sql(t, f"{lh}.lighthouse.db",
                       "SELECT nickname, hex(certificate), expires_unix FROM certificates "
                       "ORDER BY nickname")
    keys = sql(t, f"{lh}.lighthouse.db",
               "SELECT nickname, hex(sign_public) FROM accounts ORDER BY nickname")
    t.stop(lh)
    t.start(lh)
    start = time.monotonic()
    # Right after start, every binding of the old run is stale: the log
    # line is written before the node serves anything.
    wait_for(lambda: re.search(r"lighthouse: \d+ accounts", t.log(lh).split("shutting down")[-1]),
             10, "the restarted lighthouse's start line")
    line = re.findall(r"lighthouse: (\d+) accounts, (\d+) bindings stale after restart",
                      t.log(lh))[-1]
    assert line == (str(accounts), str(live)), (line, accounts, live)
    took, table = wait_bindings_live(t, lh, mine, 15,
                                     old={n: old[n]["circuit"] for n in mine})
    print(f"     {lh} restarted: {len(mine)} bindings stale at start, all live again "
          f"after {took:.2f} s (bound 15 s)")
    assert t.accounts(lh) == accounts
    assert sql(t, f"{lh}.lighthouse.db",
               "SELECT nickname, hex(certificate), expires_unix FROM certificates "
               "ORDER BY nickname") == certificates
    assert sql(t, f"{lh}.lighthouse.db",
               "SELECT nickname, hex(sign_public) FROM accounts ORDER BY nickname") == keys
    assert t.homes()["user-1"] == lh
    for nick in mine:
        total, ok, out = t.echo(nick, 3)
        assert (total, ok) == (3, 3), (nick, out)
        c = t.circuit(nick)
        assert c["certificate"] == "yes", c
    wait_users_open(t, t.ua_nicks(), timeout=30)


@suite.test
def a_second_circuit_for_a_nickname_does_not_strand_the_first():
    # A second holder of user-3's key (the same user on a second device)
    # builds a circuit: the binding moves to it. When it goes away, user-3's
    # first circuit is still open and working, so the binding must point
    # to it again rather than stay stale (or calls to user-3 fail while its
    # ua, seeing an open circuit, never rebuilds).
    t = testbed()
    nick, lh = "user-3", home_of("user-3")
    assert t.bindings(lh)[2][nick]["state"] == "live"
    p = t.evil_client("node-8", "replayed-create", "--lighthouse", lh, "--nickname", nick,
                      "--nick-key", t.path(f"ua-{nick}.key"))
    assert p.returncode == 0, (p.stdout, p.stderr)
    total, ok, out = t.echo(nick, 3)
    assert (total, ok) == (3, 3) and t.circuit(nick)["circuit"] == "open", out
    try:
        wait_for(lambda: t.bindings(lh)[2][nick]["state"] == "live", 3,
                 f"{nick}'s binding to be live", interval=0.1)
    except AssertionError:
        raise AssertionError(f"{nick}'s circuit is open and echoes, but its binding on {lh} "
                             f"is {t.bindings(lh)[2][nick]}") from None


@suite.test
def a_flood_of_refused_creates_does_not_lock_others_out():
    # Anyone can make a key pair and sign a valid proof for any nickname,
    # so a CREATE that passes the proof costs an attacker nothing. One
    # client link, within the portal's pending bound, sends 17,000 of them
    # to node-3 for user-3 with fresh keys (each refused: nickname taken).
    # Afterwards user-6, homed on node-3, restarts its ua: it must get a
    # circuit as before. (Last but one: if it fails, node-3 refuses every
    # CREATE for the next two minutes.)
    t = testbed()
    lh, victim = "node-3", "user-6"
    assert home_of("user-3") == lh and home_of(victim) == lh
    p = t.evil_client("node-12", "create-churn", "--lighthouse", lh, "--nickname", "user-3",
                      "--count", "17000", timeout=120)
    assert p.returncode == 0, (p.stdout[-2000:], p.stderr[-2000:])
    print(f"     {p.stdout.strip().splitlines()[-1]}")
    t.stop(t.ua(victim))
    t.start(t.ua(victim))
    start = time.monotonic()
    p = run([anosip_bin(), "testbed", "ua", "wait", "--dir", t.dir, victim, "--timeout", "10"],
            timeout=30, check=False)
    c = t.circuit(victim)
    m = t.metrics(lh)
    assert p.returncode == 0, (f"{victim} has no circuit {time.monotonic() - start:.1f} s after "
                               f"its restart: {c}; {lh} lh_replays={m['lh_replays']}")


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
