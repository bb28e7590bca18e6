#!/usr/bin/env python3
"""Integration: faults under load (issue 8, item 3; docs/robustness.md).

One 3x2 testbed: node-0 the lookup service, node-1 and node-2
lighthouses, node-3..6 routers, node-7..14 portals (node-K's parent is
node-(K-1)//2). Six users, each a ua with its SIP front; every user's
softphone registered once (SIPp), then a steady load of INVITE -> 302
calls in a ring that always crosses the two lighthouses (ann -> dan ->
ben -> eve -> cat -> fay -> ann), each pair at PAIR_RATE calls/s from a
paced client of our own that stamps every call (sent, answered, status).

While the calls go on, one node at a time is killed (-9), left dead for
DOWN_S seconds and started again: the router most users' circuits cross,
then the portal most users are connected through, then the lighthouse
most users depend on, then the other lighthouse for LONG_DOWN_S (every
retry has backed off further by then), and last a ua. The nodes run with
the shipped link defaults (the testbed's quicker reconnect_max_ms is
taken out), as a deployment would. For each fault and each user the
calls to and from it give the unreachable window: from the kill (and
from the node's start) to the first call that succeeded after the last
one that failed. Asserted for every fault: every user reachable and
calling again within RECOVER_S of the node being started; calls between
users the fault does not touch all succeed and their circuits are never
rebuilt; not one account, certificate, registration or lookup home lost,
changed or duplicated (the SQLite files, read read-only after every
restart), every binding live again (ctl and SQLite); and no human help:
no ua restarted (same pids) and no softphone registered again (same
registration expiry), apart from the ua the last fault restarts."""
import os
import re
import select
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, run, wait_for  # noqa: E402
from sipclients import free_port, run_sipp  # noqa: E402

suite = Suite("faults")
DOMAIN = "anosip"
LIGHTHOUSES = ("node-1", "node-2")
ROUTERS = ("node-3", "node-4", "node-5", "node-6")
# nick: (home lighthouse, portals: the first in use, the next for failover)
USERS = {
    "ann": ("node-1", "node-7 node-9"),    # node-7 -> node-3 -> node-1
    "ben": ("node-1", "node-11 node-10"),  # node-11 -> node-5 -> node-2 -> node-1
    "cat": ("node-1", "node-8 node-10"),   # node-8 -> node-3 -> node-1
    "dan": ("node-2", "node-11 node-13"),  # node-11 -> node-5 -> node-2
    "eve": ("node-2", "node-7 node-14"),   # node-7 -> node-3 -> node-1 -> node-2
    "fay": ("node-2", "node-13 node-11"),  # node-13 -> node-6 -> node-2
}
RING = ["ann", "dan", "ben", "eve", "cat", "fay"]
PAIRS = [(RING[i], RING[(i + 1) % len(RING)]) for i in range(len(RING))]
PAIR_RATE = 3.0      # calls/s per pair: 18 calls/s in all
CALL_TIMEOUT = 3.0   # a call without a final answer by then failed
DOWN_S = 2.0         # how long a killed node stays dead
LONG_DOWN_S = 8.0    # the second lighthouse fault: a longer outage
RECOVER_S = 5.0      # the aim: reachable again within 5 s of the node's start
SETTLE_CALLS = 4     # calls in a row that must succeed on every pair after a fault
SETTLE_LIMIT = 30.0  # bound on waiting for them

tb = None
ports = {}    # nick -> SIP front port
faults = []   # one dict per fault, for the closing table


def parent(node):
    return f"node-{(int(node.split('-')[1]) - 1) // 2}"


def path_of(portal, home):
    """The nodes a circuit from a portal (a leaf) to its lighthouse
    crosses in a 3x2 tree: up to the router, up to its lighthouse, and
    across the sibling ring when that is not the home."""
    router = parent(portal)
    top = parent(router)
    return [portal, router, top] + ([home] if top != home else [])


# --- the load ---------------------------------------------------------------

class CallLoad:
    """INVITE -> 302 calls on every pair at a steady pace, from one thread.
    Every call is sent at its scheduled time whatever the earlier ones
    did (several may be outstanding), so a failure never slows the load.
    calls: [(caller, callee, sent, answered, status)], status 302 for
    success, another code, or 0 for no answer in CALL_TIMEOUT."""

    def __init__(self, pairs, rate):
        self.pairs = pairs
        self.rate = rate
        self.calls = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = None
        self.error = None
        self.socks = []

    def start(self):
        for caller, _ in self.pairs:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.connect(("127.0.0.1", ports[caller]))
            s.setblocking(False)
            self.socks.append(s)
        self.thread = threading.Thread(target=self._run, name="call-load", daemon=True)
        self.thread.start()

    def stop(self):
        self.stop_flag.set()
        if self.thread:
            self.thread.join(timeout=CALL_TIMEOUT + 5)
            assert not self.thread.is_alive(), "call load did not stop"
        for s in self.socks:
            s.close()
        if self.error:
            raise AssertionError(f"call load failed: {self.error}")

    def snapshot(self):
        with self.lock:
            return list(self.calls)

    @staticmethod
    def message(method, caller, callee, me, branch, call_id):
        uri = f"sip:{callee}@{DOMAIN}"
        return (f"{method} {uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch={branch};rport\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:{caller}@{DOMAIN}>;tag={call_id[:8]}\r\n"
                f"To: <sip:{callee}@{DOMAIN}>\r\nCall-ID: {call_id}\r\n"
                f"CSeq: 1 {method}\r\nContact: <sip:{caller}@127.0.0.1:{me}>\r\n"
                "Content-Length: 0\r\n\r\n").encode()

    def _run(self):
        try:
            self._loop()
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = repr(e)

    def _loop(self):
        n = len(self.pairs)
        start = time.monotonic()
        next_k = [0] * n
        outstanding = {}   # call_id -> (pair index, sent, branch)
        while not self.stop_flag.is_set() or outstanding:
            now = time.monotonic()
            if not self.stop_flag.is_set():
                for i, (caller, callee) in enumerate(self.pairs):
                    due = start + next_k[i] / self.rate + i / (self.rate * n)
                    if now < due:
                        continue
                    next_k[i] += 1
                    call_id = os.urandom(8).hex()
                    branch = "z9hG4bK" + call_id
                    me = self.socks[i].getsockname()[1]
                    try:
                        self.socks[i].send(self.message("INVITE", caller, callee, me, branch,
                                                        call_id))
                    except OSError:
                        self._record(i, now, time.monotonic(), 0)
                        continue
                    outstanding[call_id] = (i, now, branch)
            for call_id, (i, sent, _) in list(outstanding.items()):
                if now - sent > CALL_TIMEOUT:
                    del outstanding[call_id]
                    self._record(i, sent, now, 0)
            if self.stop_flag.is_set() and not outstanding:
                break
            due = min(start + next_k[i] / self.rate + i / (self.rate * n) for i in range(n))
            wait = max(0.0, min(due - time.monotonic(), 0.05))
            readable, _, _ = select.select(self.socks, [], [], wait)
            for s in readable:
                try:
                    data = s.recv(65536)
                except OSError:
                    continue
                m = re.match(rb"SIP/2.0 (\d{3}) ", data)
                cid = re.search(rb"\r\nCall-ID: *([0-9a-f]+)", data, re.I)
                if not m or not cid:
                    continue
                status, call_id = int(m.group(1)), cid.group(1).decode()
                if status < 200 or call_id not in outstanding:
                    continue
                i, sent, branch = outstanding.pop(call_id)
                self._record(i, sent, time.monotonic(), status)
                caller, callee = self.pairs[i]
                me = s.getsockname()[1]
                try:
                    s.send(self.message("ACK", caller, callee, me, branch, call_id))
                except OSError:
                    pass

    def _record(self, i, sent, answered, status):
        caller, callee = self.pairs[i]
        with self.lock:
            self.calls.append((caller, callee, sent, answered, status))


load = None


# --- the testbed and what it stores ---------------------------------------------

def testbed():
    global tb
    if tb is None:
        tb = Testbed("3x2", log_level="info")
        tb.up(timeout=120)
        shipped_link_defaults(tb)
        callers = {callee: caller for caller, callee in PAIRS}
        for nick, (lh, portals) in USERS.items():
            pw = tb.path(f"{nick}.password")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(f"{nick}-secret\n")
            listen, direct = free_port(), free_port()
            ports[nick] = listen
            run([anosip_bin(), "testbed", "ua", "add", "--dir", tb.dir, nick, "--lighthouse", lh,
                 "--portals", portals, "--log-level", "info", "--timeout", "30",
                 "--sip-listen", f"127.0.0.1:{listen}", "--sip-direct", f"127.0.0.1:{direct}",
                 "--password-file", pw, "--digest", "MD5", "--contacts", callers[nick]],
                timeout=60)
    return tb


def shipped_link_defaults(t):
    """The testbed writes reconnect_max_ms = 1000 into every node's config
    (quick tests); a deployment keeps the default. The faults are measured
    with the default: the line goes and every node starts again."""
    for node in t.nodes:
        path = t.path(f"{node}.conf")
        with open(path) as f:
            text = f.read()
        text = re.sub(r"^reconnect_max_ms = \d+\n", "", text, flags=re.M)
        with open(path, "w") as f:
            f.write(text)
    for node in t.nodes:
        t.stop(node)
    for node in t.nodes:
        t.start(node)
    t.wait_all_links(30)


def lh_db(lh):
    return sqlite3.connect(f"file:{tb.path(lh + '.lighthouse.db')}?mode=ro", uri=True, timeout=5)


def stored():
    """Everything the lighthouses and the lookup service keep that must
    survive a fault, read from their SQLite files: {lighthouse: {table:
    rows}} and the lookup's homes. Bindings apart (their circuit handle
    changes on a rebuild): only their nicknames."""
    out = {}
    for lh in LIGHTHOUSES:
        with lh_db(lh) as db:
            out[lh] = {
                "accounts": db.execute(
                    "SELECT nickname, hex(sign_public), created_unix, hex(ha1_md5), "
                    "hex(ha1_sha256) FROM accounts ORDER BY nickname").fetchall(),
                "certificates": db.execute(
                    "SELECT nickname, hex(certificate), expires_unix FROM certificates "
                    "ORDER BY nickname").fetchall(),
                "registrations": db.execute(
                    "SELECT nickname, expires_unix FROM registrations ORDER BY nickname"
                ).fetchall(),
                "bindings": db.execute(
                    "SELECT nickname FROM bindings ORDER BY nickname").fetchall(),
            }
    # The lookup's homes: nickname -> lighthouse (its updated_unix moves
    # when a restarted lighthouse claims its accounts again).
    with sqlite3.connect(f"file:{tb.path('node-0.lookup.db')}?mode=ro", uri=True,
                         timeout=5) as db:
        out["lookup"] = db.execute("SELECT nickname, lighthouse FROM homes ORDER BY nickname"
                                   ).fetchall()
    return out


def check_nothing_lost(before, what):
    after = stored()
    for lh in LIGHTHOUSES:
        for table, rows in before[lh].items():
            assert after[lh][table] == rows, (what, lh, table, rows, after[lh][table])
            nicks = [r[0] for r in rows]
            assert len(nicks) == len(set(nicks)), (what, lh, table, "duplicate", nicks)
    assert after["lookup"] == before["lookup"], (what, before["lookup"], after["lookup"])


def bindings_live(t):
    """Every user's binding live on its home lighthouse, in the ctl view
    and in the SQLite file, and no other binding there."""
    for lh in LIGHTHOUSES:
        mine = sorted(n for n, (home, _) in USERS.items() if home == lh)
        table = t.bindings(lh)[2]
        if sorted(table) != mine or any(table[n]["state"] != "live" for n in mine):
            return False
        with lh_db(lh) as db:
            rows = db.execute("SELECT nickname, live FROM bindings ORDER BY nickname").fetchall()
        if rows != [(n, 1) for n in mine]:
            return False
    return True


def links_up(t, node):
    """Every link of the node up (False while its control socket is not
    there yet)."""
    p = t.ctl(node, "links", timeout=5, check=False)
    states = re.findall(r"^\S+ \S+ (\S+)", p.stdout, re.M)
    return p.returncode == 0 and states and all(s == "up" for s in states)


def ua_pids(t):
    return {nick: t.pid(t.ua(nick)) for nick in USERS}


def current_portals(t):
    return {nick: t.circuit(nick)["portal"] for nick in USERS}


def register_all():
    for nick in USERS:
        r = run_sipp("register_auth.xml", "127.0.0.1", ports[nick], service=nick,
                     auth_user=nick, auth_pass=f"{nick}-secret",
                     keys={"domain": DOMAIN, "expires": 3600}, timeout_s=20)
        assert r.ok, r.describe()


# --- windows ------------------------------------------------------------------

def settled(since):
    """True when every pair's last SETTLE_CALLS calls sent after `since`
    all succeeded."""
    calls = [c for c in load.snapshot() if c[2] >= since]
    for caller, callee in PAIRS:
        mine = sorted((c for c in calls if c[0] == caller and c[1] == callee),
                      key=lambda c: c[2])[-SETTLE_CALLS:]
        if len(mine) < SETTLE_CALLS or any(c[4] != 302 for c in mine):
            return False
    return True


def window(calls, t_kill):
    """For the calls of one pair sent from t_kill on, in send order:
    (failed count, time of the first success after the last failure or
    None when none failed; inf when no success followed)."""
    calls = sorted((c for c in calls if c[2] >= t_kill), key=lambda c: c[2])
    failed = [c for c in calls if c[4] != 302]
    if not failed:
        return 0, None
    last = failed[-1][2]
    ok = [c for c in calls if c[2] > last and c[4] == 302]
    return len(failed), (ok[0][2] if ok else float("inf"))


def fault(name, kind, node, affected, restart, down_s=None):
    """Kills node, waits down_s (DOWN_S), starts it (restart(node)), waits until
    every pair settled, then checks nothing was lost and measures."""
    t = testbed()
    before = stored()
    pids = ua_pids(t)
    portals_before = current_portals(t)
    # The circuits the fault does not cross must not notice it.
    untouched = t.ua_snapshot([n for n in USERS if n not in affected])
    t_kill = time.monotonic()
    down_s = DOWN_S if down_s is None else down_s
    t.stop(node, kill=True)
    time.sleep(down_s)
    restart(node)
    t_back = time.monotonic()
    links_s = None
    if kind != "ua":
        wait_for(lambda: links_up(t, node), SETTLE_LIMIT, f"{node}'s links up", interval=0.05)
        links_s = time.monotonic() - t_back
    wait_for(lambda: settled(t_back), SETTLE_LIMIT, f"every pair calling again after {name}",
             interval=0.2)
    t_settled = time.monotonic()
    # Bindings are live again at once (the calls just succeeded through
    # them); the files hold every row they held before.
    wait_for(lambda: bindings_live(t), 10, "every binding live")
    check_nothing_lost(before, name)
    try:
        t.undisturbed(untouched)
        disturbed = None
    except AssertionError as e:
        disturbed = str(e)
    calls = [c for c in load.snapshot() if t_kill <= c[2] <= t_settled]
    # Calls between two users the fault does not touch must all succeed.
    collateral = [c for c in calls if c[4] != 302 and c[0] not in affected and
                  c[1] not in affected]
    rows = []
    for nick in USERS:
        to = [c for c in calls if c[1] == nick]
        frm = [c for c in calls if c[0] == nick]
        n_to, ok_to = window(to, t_kill)
        n_from, ok_from = window(frm, t_kill)
        rows.append({"user": nick, "home": USERS[nick][0], "affected": nick in affected,
                     "portal": portals_before[nick], "portal_after": None,
                     "failed_to": n_to, "failed_from": n_from,
                     "ok_to": ok_to, "ok_from": ok_from})
    after_portals = current_portals(t)
    for r in rows:
        r["portal_after"] = after_portals[r["user"]]
    codes = {}
    for c in calls:
        if c[4] != 302:
            codes[c[4]] = codes.get(c[4], 0) + 1
    rec = {"name": name, "kind": kind, "node": node, "down_s": down_s, "links_s": links_s,
           "t_kill": t_kill, "t_back": t_back,
           "calls": len(calls), "failed": sum(codes.values()), "codes": codes, "rows": rows,
           "pids_before": pids, "pids_after": ua_pids(t), "disturbed": disturbed,
           "collateral": collateral}
    faults.append(rec)
    print_fault(rec)
    return rec


def fmt(x):
    return "-" if x is None else ("never" if x == float("inf") else f"{x:5.2f}")


def print_fault(rec):
    print(f"     {rec['name']}: {rec['node']} killed, started {rec['down_s']:g} s later"
          + ("" if rec["links_s"] is None else f", all its links up {rec['links_s']:.2f} s later")
          + f"; {rec['calls']} calls, {rec['failed']} failed {rec['codes']}")
    print("       user  home    portal        affected  to: failed  from kill  from start"
          "   from: failed  from kill  from start")
    for r in rec["rows"]:
        def rel(ok, base):
            return None if ok is None else ok - base
        portal = r["portal"] + ("" if r["portal_after"] == r["portal"]
                                else "->" + r["portal_after"].split("-")[1])
        hit = "yes" if r["affected"] else "no"
        print(f"       {r['user']:<5} {r['home']:<7} {portal:<13} {hit:<9}"
              f" {r['failed_to']:>10}  {fmt(rel(r['ok_to'], rec['t_kill'])):>9}"
              f"  {fmt(rel(r['ok_to'], rec['t_back'])):>10}"
              f"   {r['failed_from']:>12}  {fmt(rel(r['ok_from'], rec['t_kill'])):>9}"
              f"  {fmt(rel(r['ok_from'], rec['t_back'])):>10}")
    sys.stdout.flush()


def check_recovered(rec, restarted_ua=None):
    """Every user reachable and calling again within RECOVER_S of the
    node's start; a user the fault did not touch lost no call; no ua
    restarted by anyone but the test."""
    late = []
    for r in rec["rows"]:
        for ok in (r["ok_to"], r["ok_from"]):
            if ok is not None and ok - rec["t_back"] > RECOVER_S:
                late.append((r["user"], ok - rec["t_back"]))
    assert not late, (rec["name"], "not reachable within 5 s of the start", late)
    assert not rec["collateral"], (rec["name"], "calls failed between untouched users",
                                   rec["collateral"][:5])
    assert not rec["disturbed"], (rec["name"], "an untouched circuit was rebuilt",
                                  rec["disturbed"])
    for nick, pid in rec["pids_before"].items():
        if nick != restarted_ua:
            assert rec["pids_after"][nick] == pid, (rec["name"], nick, "ua restarted")


# --- tests --------------------------------------------------------------------

@suite.test
def test_steady_load_without_faults():
    """Registrations once, then the load: 3 s of calls, none fails."""
    global load
    t = testbed()
    register_all()
    wait_for(lambda: bindings_live(t), 10, "every binding live")
    load = CallLoad(PAIRS, PAIR_RATE)
    load.start()
    t0 = time.monotonic()
    time.sleep(3.0)
    calls = [c for c in load.snapshot() if c[2] >= t0]
    bad = [c for c in calls if c[4] != 302]
    assert len(calls) >= 3 * PAIR_RATE * len(PAIRS) * 0.8, len(calls)
    assert not bad, bad[:5]
    print(f"     {len(calls)} calls in 3 s, all 302")


def busiest(choices, of):
    """The choice with the most users (ties: the first), and those users."""
    users = {c: sorted(n for n in USERS if c in of(n)) for c in choices}
    best = max(choices, key=lambda c: len(users[c]))
    return best, users[best]


@suite.test
def test_router_killed_under_load():
    t = testbed()
    portals = current_portals(t)
    router, affected = busiest(ROUTERS, lambda n: path_of(portals[n], USERS[n][0]))
    rec = fault("router", "router", router, affected, t.start)
    check_recovered(rec)


@suite.test
def test_portal_killed_under_load():
    t = testbed()
    portals = current_portals(t)
    portal, affected = busiest(sorted(set(portals.values())), lambda n: [portals[n]])
    rec = fault("portal", "portal", portal, affected, t.start)
    check_recovered(rec)


@suite.test
def test_lighthouse_killed_under_load():
    t = testbed()
    portals = current_portals(t)
    lh, affected = busiest(LIGHTHOUSES, lambda n: path_of(portals[n], USERS[n][0]))
    rec = fault("lighthouse", "lighthouse", lh, affected, t.start)
    check_recovered(rec)


@suite.test
def test_lighthouse_down_longer_under_load():
    """The other lighthouse, dead for LONG_DOWN_S: its neighbours' and
    its users' retries have backed off further by the time it is back."""
    t = testbed()
    portals = current_portals(t)
    first = faults[-1]["node"] if faults and faults[-1]["kind"] == "lighthouse" else None
    choices = [lh for lh in LIGHTHOUSES if lh != first]
    lh, affected = busiest(choices, lambda n: path_of(portals[n], USERS[n][0]))
    rec = fault("lighthouse long", "lighthouse", lh, affected, t.start, down_s=LONG_DOWN_S)
    check_recovered(rec)


@suite.test
def test_ua_killed_under_load():
    """A ua killed and started again (its softphone does nothing): its
    calls come back, no one else's stop."""
    t = testbed()
    rec = fault("ua", "ua", t.ua("ann"), ["ann"], t.start)
    check_recovered(rec, restarted_ua="ann")


@suite.test
def test_summary():
    """The table of every fault, and the totals."""
    assert faults, "no fault ran"
    load.stop()
    calls = load.snapshot()
    print("     fault           node     users hit  worst from kill  worst from start"
          "  failed/calls")
    for rec in faults:
        hit = [r for r in rec["rows"] if r["failed_to"] or r["failed_from"]]
        oks = [ok for r in hit for ok in (r["ok_to"], r["ok_from"]) if ok is not None]
        worst_kill = max((ok - rec["t_kill"] for ok in oks), default=None)
        worst_back = max((ok - rec["t_back"] for ok in oks), default=None)
        print(f"     {rec['name']:<15} {rec['node']:<8} {len(hit):>9}  {fmt(worst_kill):>15}"
              f"  {fmt(worst_back):>16}  {rec['failed']:>6}/{rec['calls']}")
    failed = sum(1 for c in calls if c[4] != 302)
    print(f"     in all: {len(calls)} calls, {failed} failed, over "
          f"{calls[-1][2] - calls[0][2]:.0f} s" if calls else "     no calls")


@suite.test
def test_clean_shutdown():
    if load and not load.stop_flag.is_set():
        load.stop()
    reports = testbed().down()
    assert not reports, reports


sys.exit(suite.run())
