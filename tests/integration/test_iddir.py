#!/usr/bin/env python3
"""Integration: the ID Directory (docs/protocol.md §8) on real processes.

A 2x3 testbed: node-0 runs the lookup service and the ID Directory,
node-1..3 are lighthouses. Users (each a real ua):
  mother (node-1): SIP front, knows nobody; strangers = iddir, accepts the
    real ID "Alan Smith".
  aunt (node-1): SIP front; strangers = ask: a command accepts "Alan Smith".
  grandfather (node-2): the operator entered "Alan Smith" for him,
    readable by mother and aunt.
  uncle (node-3): publishes "Eve Evil" himself, readable by anyone.
  nosy (node-3): may read nothing of grandfather's; publishes himself as
    "Alan Smith" (anyone may call itself anything: only what the operator
    entered opens mother's door).
  hermit (node-2): has no tuple at all.
The tests build on each other in order."""
import os
import re
import socket
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, run, wait_for  # noqa: E402
from sipclients import free_port, run_sipp  # noqa: E402

suite = Suite("iddir")
tb = None
DOMAIN = "anosip"
USERS = {
    # nick: (lighthouse, portals, extra ua config)
    "mother": ("node-1", "node-4 node-5",
               "strangers = iddir\nallow_real_ids = Alan Smith; Grace Hopper\n"),
    "aunt": ("node-1", "node-5 node-6", "strangers = ask\nask_command = ask.sh\n"),
    "grandfather": ("node-2", "node-7 node-8", ""),
    "uncle": ("node-3", "node-10 node-11", ""),
    "nosy": ("node-3", "node-11 node-12", ""),
    "hermit": ("node-2", "node-8 node-9", ""),
}
ports = {}

ASK_SCRIPT = """#!/bin/sh
# The user's own decision: only Alan Smith gets through.
echo "$ANOSIP_CALLER $ANOSIP_CALLER_REAL_ID $ANOSIP_CALLER_REAL_ID_VERIFIED" >> "$(dirname "$0")/asked.log"
[ "$ANOSIP_CALLER_REAL_ID" = "Alan Smith" ] && [ "$ANOSIP_CALLER_REAL_ID_VERIFIED" = yes ]
"""


def testbed():
    global tb
    if tb is None:
        tb = Testbed("2x3", log_level="info")
        tb.up(timeout=120)
        script = tb.path("ask.sh")
        with open(script, "w") as f:
            f.write(ASK_SCRIPT)
        os.chmod(script, 0o700)
        for nick, (lh, portals, extra) in USERS.items():
            pw = tb.path(f"{nick}.password")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(f"{nick}-secret\n")
            listen, direct = free_port(), free_port()
            ports[nick] = listen
            run([anosip_bin(), "testbed", "ua", "add", "--dir", tb.dir, nick, "--lighthouse",
                 lh, "--portals", portals, "--timeout", "30", "--sip-listen",
                 f"127.0.0.1:{listen}", "--sip-direct", f"127.0.0.1:{direct}",
                 "--password-file", pw, "--digest", "MD5"], timeout=60)
            if extra:
                # The policy lines, then a restart to read them.
                with open(tb.path(f"ua-{nick}.conf"), "a") as f:
                    f.write(extra)
                tb.stop(f"ua-{nick}")
                tb.start(f"ua-{nick}")
        for nick in USERS:
            wait_for(lambda n=nick: tb.circuit(n).get("circuit") == "open", 30,
                     f"{nick}'s circuit")
    return tb


def ctl(nick, *words):
    return run([anosip_bin(), "ctl", "-s", tb.sock(f"ua-{nick}"), "-t", "20", *words],
               timeout=30, check=False).stdout


def register(nick):
    r = run_sipp("register_auth.xml", "127.0.0.1", ports[nick], service=nick, auth_user=nick,
                 auth_pass=f"{nick}-secret", keys={"domain": DOMAIN, "expires": 600},
                 timeout_s=20)
    assert r.ok, r.describe()


def call(caller, callee, code):
    if code == 302:
        return run_sipp("invite_redirect_bench.xml", "127.0.0.1", ports[caller], service=caller,
                        keys={"domain": DOMAIN, "callee": callee}, timeout_s=30)
    return run_sipp("invite_expect.xml", "127.0.0.1", ports[caller], service=caller,
                    keys={"domain": DOMAIN, "callee": callee}, sets={"expected": str(code)},
                    timeout_s=30)


def directory_db():
    return sqlite3.connect(f"file:{tb.path('node-0.iddir.db')}?mode=ro", uri=True)


@suite.test
def test_operator_enters_and_owners_publish_tuples():
    t = testbed()
    p = run([anosip_bin(), "iddir", "add", "grandfather", "--real-id", "Alan Smith", "--policy",
             "list", "--readers", "mother aunt", "-c", t.path("node-0.conf")], timeout=30,
            check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)
    # What the operator checked is not the owner's to change.
    out = ctl("grandfather", "iddir", "publish", "anyone", "-", "Someone", "Else")
    assert out.startswith("error: ") and "operator" in out, out
    # Through the command users run (it talks to their ua).
    p = run([anosip_bin(), "iddir", "publish", "-s", t.sock("ua-uncle"), "--real-id",
             "Eve Evil", "--policy", "anyone"], timeout=30, check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)
    out = ctl("nosy", "iddir", "publish", "anyone", "-", "Alan", "Smith")
    assert out.strip().endswith("ok"), out
    with directory_db() as db:
        rows = dict(db.execute("SELECT nickname, real_id FROM tuples").fetchall())
    assert rows == {"grandfather": "Alan Smith", "uncle": "Eve Evil", "nosy": "Alan Smith"}, rows


@suite.test
def test_reads_follow_the_policy_and_refusals_look_alike():
    out = ctl("mother", "iddir", "read", "grandfather")
    assert 'ok grandfather is "Alan Smith" (entered by the operator)' in out, out
    # nosy is not on grandfather's list; hermit has no tuple: the same words.
    refused = ctl("nosy", "iddir", "read", "grandfather")
    missing = ctl("nosy", "iddir", "read", "hermit")
    assert refused.startswith("error: ") and refused == missing.replace("hermit", "grandfather"), \
        (refused, missing)
    out = ctl("nosy", "iddir", "read", "uncle")
    assert 'ok uncle is "Eve Evil" (published by its owner)' in out, out


@suite.test
def test_stranger_accepted_after_a_directory_check():
    """grandfather is not in mother's contacts: her ua asks the directory,
    learns "Alan Smith", which she allows, and redirects the call."""
    t = testbed()
    register("mother")
    r = call("grandfather", "mother", 302)
    assert r.ok, r.describe()
    assert 'the ID Directory says grandfather is "Alan Smith"' in t.log("ua-mother")


@suite.test
def test_stranger_declined_when_the_real_id_is_not_allowed():
    r = call("uncle", "mother", 603)
    assert r.ok, r.describe()
    # No tuple at all: declined the same way.
    r = call("hermit", "mother", 603)
    assert r.ok, r.describe()
    # nosy says he is Alan Smith, but only he says so.
    r = call("nosy", "mother", 603)
    assert r.ok, r.describe()
    assert "its real ID is only what it says itself" in testbed().log("ua-mother")


@suite.test
def test_ask_command_decides():
    t = testbed()
    register("aunt")
    r = call("grandfather", "aunt", 302)
    assert r.ok, r.describe()
    r = call("uncle", "aunt", 603)
    assert r.ok, r.describe()
    with open(t.path("asked.log")) as f:
        asked = f.read().splitlines()
    assert asked == ["grandfather Alan Smith yes", "uncle Eve Evil no"], asked


@suite.test
def test_owner_reads_the_access_log():
    out = ctl("grandfather", "iddir", "log")
    reads = re.findall(r"^read by (\S+) at \d+ (granted|refused)$", out, re.M)
    assert ("mother", "granted") in reads and ("nosy", "refused") in reads, out
    assert ("aunt", "granted") in reads, out
    # Only the owner sees it: another nickname asking gets its own log
    # (mother read nosy's tuple when he called her; nothing of grandfather's).
    out = ctl("nosy", "iddir", "log")
    assert re.findall(r"^read by (\S+) at \d+ (\w+)$", out, re.M) == [("mother", "granted")], out


@suite.test
def test_forged_and_replayed_queries_refused():
    t = testbed()
    before = t.metrics("node-0")
    for attack in ("iddir-forged", "iddir-replay"):
        p = t.evil_client("node-12", attack, "--lighthouse", "node-3", "--nickname",
                          f"mallory-{attack[6:]}")
        assert p.returncode == 0, (attack, p.stdout, p.stderr)
    after = t.metrics("node-0")
    assert after["iddir_bad_queries"] >= before["iddir_bad_queries"] + 2
    # Other users are undisturbed.
    assert 'ok grandfather is "Alan Smith"' in ctl("mother", "iddir", "read", "grandfather")


@suite.test
def test_bad_input_gets_a_clear_refusal():
    for words in (["iddir", "read", "NOT A NICK"], ["iddir", "publish", "sometimes", "-", "x"],
                  ["iddir", "publish", "anyone", "-"], ["iddir", "frobnicate"]):
        out = ctl("nosy", *words)
        assert out.startswith("error: "), (words, out)


@suite.test
def test_revoke():
    out = ctl("uncle", "iddir", "revoke")
    assert out.strip().endswith("ok"), out
    assert ctl("nosy", "iddir", "read", "uncle").startswith("error: ")
    with directory_db() as db:
        assert db.execute("SELECT count(*) FROM tuples WHERE nickname = 'uncle'"
                          ).fetchone()[0] == 0


@suite.test
def test_the_directory_never_learns_an_address():
    """Nothing in the directory's database, log or answers holds a ua's
    address or port (it only ever hears from lighthouses)."""
    t = testbed()
    with open(t.path("node-0.iddir.db"), "rb") as f:
        data = f.read()
    log = t.log("node-0")
    for nick in USERS:
        for port in (ports[nick],):
            assert str(port).encode() not in data and f":{port}" not in log
    assert b"127.0.0.1" not in data
    # The operator's view: the tuples and who read them, no address.
    p = run([anosip_bin(), "iddir", "inspect", "-c", t.path("node-0.conf")], timeout=30)
    assert "grandfather" in p.stdout and "127.0.0.1" not in p.stdout, p.stdout


@suite.test
def test_clean_shutdown():
    reports = testbed().down()
    assert not reports, reports


sys.exit(suite.run())
