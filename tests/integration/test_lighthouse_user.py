#!/usr/bin/env python3
"""Integration: `anosip lighthouse user add|del|list|passwd` on a real
lighthouse database — what it stores (16/32-byte HA1s, never the password),
its refusals and their exit codes.

Usage: test_lighthouse_user.py [BUILD_DIR]   (default $ANOSIP_BUILD)"""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) > 1:
    os.environ["ANOSIP_BUILD"] = sys.argv[1]
from lib import SANITIZER_RE, Suite, anosip_bin, run  # noqa: E402

suite = Suite("lighthouse_user")
WORK = tempfile.mkdtemp(prefix="anosip-lhuser-", dir="/tmp")
PASSWORD = "correct horse battery staple"
PASSWORD2 = "Tr0ub4dor&3 but longer"


def path(*names):
    return os.path.join(WORK, *names)


def write(name, text, mode=0o600):
    p = path(name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)
    return p


def anosip(*args, expect=0, stdin=None, cwd=None):
    """Runs the binary from another folder than the config's, so relative
    paths must be taken from the config file."""
    p = subprocess.run([anosip_bin(), *args], capture_output=True, text=True, timeout=60,
                       input=stdin, cwd=cwd or "/")
    assert not SANITIZER_RE.search(p.stderr), p.stderr
    assert p.returncode == expect, (
        f"anosip {' '.join(args)} exited {p.returncode}, expected {expect}\n"
        f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def keygen(name):
    p = path("keys", name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if not os.path.exists(p + ".pub"):
        anosip("keygen", "--out", p)
    return p + ".pub"


def ha1(alg, user, realm, password):
    return hashlib.new(alg, f"{user}:{realm}:{password}".encode()).digest()


def rows(db):
    con = sqlite3.connect(db)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT nickname, ha1_md5, ha1_sha256, typeof(ha1_md5), typeof(ha1_sha256)"
            " FROM accounts")}
    finally:
        con.close()


def db_bytes(db):
    """Every byte SQLite keeps for this database, -wal and -shm included."""
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as f:
                data += f.read()
    return data


def assert_no_plaintext(db, *passwords):
    data = db_bytes(db)
    assert data, db
    for pw in passwords:
        for form in (pw.encode(), pw.encode("utf-16-le")):
            assert form not in data, f"password {pw!r} found in {db}"


# A full node config (the lighthouse's own), and a minimal one with only
# [lighthouse]: the command reads nothing else.
FULL_CONF = write("full/node.conf", """[node]
id = node-1
key = node-1.key
directory = directory
authority = authority.pub
control = node-1.sock

[link]
keepalive_ms = 1000

[lighthouse]
database = state/lh.db
open_signup = no
realm = example.anosip
""", 0o644)
os.makedirs(path("full", "state"))
FULL_DB = path("full", "state", "lh.db")
MIN_CONF = write("min/node.conf", "[lighthouse]\ndatabase = x.db\ndigest_md5 = no\n", 0o644)
MIN_DB = path("min", "x.db")
PWFILE = write("secret/pw", PASSWORD + "\n")
PWFILE2 = write("secret/pw2", PASSWORD2 + "\r\n")


def list_lines(*target):
    return anosip("lighthouse", "user", "list", *target).stdout.splitlines()


@suite.test
def add_stores_only_the_two_hashes():
    key = keygen("mother")
    p = anosip("lighthouse", "user", "add", "mother", "-c", FULL_CONF, "--key", key,
               "--password-file", PWFILE)
    assert "added mother" in p.stdout, p.stdout
    assert PASSWORD not in p.stdout + p.stderr
    assert os.path.exists(FULL_DB), "the database is relative to the config file"
    assert os.stat(FULL_DB).st_mode & 0o777 == 0o600
    md5, sha, tmd5, tsha = rows(FULL_DB)["mother"]
    assert (tmd5, tsha) == ("blob", "blob")
    assert len(md5) == 16 and len(sha) == 32
    assert md5 == ha1("md5", "mother", "example.anosip", PASSWORD)
    assert sha == ha1("sha256", "mother", "example.anosip", PASSWORD)
    # The account's key is the .pub file's signing key.
    con = sqlite3.connect(FULL_DB)
    (sign,) = con.execute("SELECT sign_public FROM accounts WHERE nickname = 'mother'").fetchone()
    con.close()
    with open(key) as f:
        assert sign.hex() in f.read().lower()
    assert_no_plaintext(FULL_DB, PASSWORD)


@suite.test
def list_shows_one_line_per_account_and_no_hash():
    anosip("lighthouse", "user", "add", "father", "-c", FULL_CONF, "--key", keygen("father"),
           "--password-stdin", stdin=PASSWORD2 + "\n")
    lines = list_lines("-c", FULL_CONF)
    assert len(lines) == 2, lines
    assert lines[0].split()[0] == "father" and lines[1].split()[0] == "mother", lines
    for line in lines:
        assert "password=yes" in line and "registered-until=-" in line, line
        assert "created=20" in line and line.split("created=")[1].split()[0].endswith("Z"), line
    md5, sha, _, _ = rows(FULL_DB)["mother"]
    text = "\n".join(lines)
    assert md5.hex() not in text and sha.hex() not in text
    # A registration the node stored shows as registered-until.
    until = int(time.time()) + 3600
    con = sqlite3.connect(FULL_DB)
    with con:
        con.execute("INSERT INTO registrations VALUES ('mother', ?)", (until,))
    con.close()
    line = [ln for ln in list_lines("-c", FULL_CONF) if ln.startswith("mother")][0]
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
    assert f"registered-until={iso}" in line, line


@suite.test
def passwd_replaces_the_hashes():
    before = rows(FULL_DB)["mother"]
    p = anosip("lighthouse", "user", "passwd", "mother", "-c", FULL_CONF,
               "--password-file", PWFILE2)
    assert "changed the password of mother" in p.stdout, p.stdout
    md5, sha, _, _ = rows(FULL_DB)["mother"]
    assert (md5, sha) != before[:2]
    # "\r\n" ends the line: it is not part of the password.
    assert md5 == ha1("md5", "mother", "example.anosip", PASSWORD2)
    assert sha == ha1("sha256", "mother", "example.anosip", PASSWORD2)
    assert_no_plaintext(FULL_DB, PASSWORD, PASSWORD2)


@suite.test
def minimal_config_and_md5_off():
    anosip("lighthouse", "user", "add", "sister", "-c", MIN_CONF, "--key", keygen("sister"),
           "--password-file", PWFILE)
    md5, sha, tmd5, tsha = rows(MIN_DB)["sister"]
    assert md5 is None and tmd5 == "null"
    assert sha == ha1("sha256", "sister", "anosip", PASSWORD), "default realm is anosip"
    lines = list_lines("-c", MIN_CONF)
    assert len(lines) == 1 and "password=yes" in lines[0], lines
    assert_no_plaintext(MIN_DB, PASSWORD)


@suite.test
def database_and_realm_options_for_scripts():
    db = path("scripted.db")
    anosip("lighthouse", "user", "add", "bob", "--database", db, "--realm", "r.example",
           "--key", keygen("bob"), "--password-file", PWFILE)
    md5, sha, _, _ = rows(db)["bob"]
    assert md5 == ha1("md5", "bob", "r.example", PASSWORD)
    assert sha == ha1("sha256", "bob", "r.example", PASSWORD)
    anosip("lighthouse", "user", "passwd", "bob", "--database", db, "--realm", "r.example",
           "--no-md5", "--password-stdin", stdin=PASSWORD2)
    md5, sha, _, _ = rows(db)["bob"]
    assert md5 is None and sha == ha1("sha256", "bob", "r.example", PASSWORD2)
    assert_no_plaintext(db, PASSWORD, PASSWORD2)


@suite.test
def del_removes_the_account_and_what_hangs_on_it():
    p = anosip("lighthouse", "user", "del", "mother", "-c", FULL_CONF)
    assert "deleted mother" in p.stdout, p.stdout
    assert "mother" not in rows(FULL_DB)
    con = sqlite3.connect(FULL_DB)
    assert con.execute("SELECT count(*) FROM registrations").fetchone() == (0,)
    con.close()
    lines = list_lines("-c", FULL_CONF)
    assert [ln.split()[0] for ln in lines] == ["father"], lines
    # The name is free again.
    anosip("lighthouse", "user", "add", "mother", "-c", FULL_CONF, "--key", keygen("mother"),
           "--password-file", PWFILE)


def refused(args, message, expect=1, stdin=None):
    p = anosip(*args, expect=expect, stdin=stdin)
    assert message in p.stderr, f"{message!r} not in {p.stderr!r}"
    assert PASSWORD not in p.stdout + p.stderr
    return p


@suite.test
def wrong_inputs_are_refused_clearly():
    key = keygen("mother")
    before = db_bytes(FULL_DB)
    user = ["lighthouse", "user"]
    for bad in ("Mother", "mo ther", "a" * 64, "m\u00f6ther", "x@y"):
        refused(user + ["add", bad, "-c", FULL_CONF, "--key", key, "--password-file", PWFILE],
                "bad nickname")
    refused(user + ["del", "UPPER", "-c", FULL_CONF], "bad nickname")
    refused(user + ["add", "newbie", "-c", FULL_CONF, "--key", path("keys", "nobody.pub"),
                    "--password-file", PWFILE], "not a readable .pub file")
    refused(user + ["add", "newbie", "-c", FULL_CONF, "--key", PWFILE,
                    "--password-file", PWFILE], "not a readable .pub file")
    loose = write("secret/loose", PASSWORD + "\n", 0o644)
    refused(user + ["add", "newbie", "-c", FULL_CONF, "--key", key, "--password-file", loose],
            "chmod 600")
    group = write("secret/group", PASSWORD + "\n", 0o640)
    refused(user + ["passwd", "father", "-c", FULL_CONF, "--password-file", group],
            "open to group or others")
    refused(user + ["add", "newbie", "-c", FULL_CONF, "--key", key,
                    "--password-file", path("secret", "missing")], "No such file")
    empty = write("secret/empty", "\n")
    refused(user + ["add", "newbie", "-c", FULL_CONF, "--key", key, "--password-file", empty],
            "empty")
    refused(user + ["add", "newbie", "-c", FULL_CONF, "--key", key, "--password-stdin"],
            "empty", stdin="")
    refused(user + ["add", "mother", "-c", FULL_CONF, "--key", key, "--password-file", PWFILE],
            "already exists")
    refused(user + ["del", "nobody", "-c", FULL_CONF], "no account \"nobody\"")
    refused(user + ["passwd", "nobody", "-c", FULL_CONF, "--password-file", PWFILE],
            "no account \"nobody\"")
    # Nothing above changed the database.
    assert db_bytes(FULL_DB) == before
    # Config problems.
    refused(user + ["list", "-c", path("no", "such.conf")], "cannot read the config")
    noconf = write("bad/node.conf", "[lighthouse]\nrealm = x\n", 0o644)
    refused(user + ["list", "-c", noconf], "database is missing")
    badmd5 = write("bad/md5.conf", "[lighthouse]\ndatabase = x.db\ndigest_md5 = maybe\n")
    refused(user + ["list", "-c", badmd5], "digest_md5")
    # list, del and passwd do not create a database that is not there.
    ghost = path("ghost.db")
    refused(user + ["list", "--database", ghost], "no such database")
    refused(user + ["passwd", "mother", "--database", ghost, "--password-file", PWFILE],
            "no such database")
    assert not os.path.exists(ghost)
    # A file that is not a lighthouse database is left alone.
    other = path("other.db")
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.close()
    refused(user + ["list", "--database", other], "not a lighthouse database")


@suite.test
def usage_errors_exit_2():
    key = keygen("mother")
    usages = [
        [],
        ["user"],
        ["group", "list", "-c", FULL_CONF],
        ["user", "frobnicate", "-c", FULL_CONF],
        ["user", "list"],
        ["user", "list", "-c", FULL_CONF, "--database", FULL_DB],
        ["user", "list", "-c", FULL_CONF, "--realm", "x"],
        ["user", "list", "-c", FULL_CONF, "extra"],
        ["user", "add", "-c", FULL_CONF, "--key", key, "--password-file", PWFILE],
        ["user", "add", "newbie", "-c", FULL_CONF, "--password-file", PWFILE],
        ["user", "add", "newbie", "-c", FULL_CONF, "--key", key],
        ["user", "add", "newbie", "-c", FULL_CONF, "--key", key, "--password-file", PWFILE,
         "--password-stdin"],
        ["user", "passwd", "newbie", "-c", FULL_CONF, "--key", key, "--password-file", PWFILE],
        ["user", "del", "newbie", "-c", FULL_CONF, "--password-file", PWFILE],
        ["user", "del", "-c", FULL_CONF, "--bogus"],
    ]
    for args in usages:
        p = anosip("lighthouse", *args, expect=2)
        assert "usage: anosip lighthouse user" in p.stderr, (args, p.stderr)
    p = anosip("lighthouse", "--help")
    assert "user add NICK --key NICK.pub" in p.stdout
    assert "lighthouse" in anosip("--help").stdout


@suite.test
def works_while_another_connection_writes():
    # The node keeps the database open; a write of its in progress makes
    # the command wait (busy timeout), not fail.
    con = sqlite3.connect(FULL_DB, isolation_level=None, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    con.execute("UPDATE accounts SET created_unix = created_unix WHERE nickname = 'father'")
    release = threading.Timer(0.7, lambda: con.execute("COMMIT"))
    release.start()
    try:
        anosip("lighthouse", "user", "add", "uncle", "-c", FULL_CONF, "--key", keygen("uncle"),
               "--password-file", PWFILE)
    finally:
        release.join()
        con.close()
    assert "uncle" in rows(FULL_DB)


@suite.test
def the_database_never_holds_a_password():
    for db in (FULL_DB, MIN_DB, path("scripted.db")):
        assert os.stat(db).st_mode & 0o777 == 0o600, db
        assert_no_plaintext(db, PASSWORD, PASSWORD2)
        for nick, (md5, sha, tmd5, tsha) in rows(db).items():
            assert tmd5 in ("blob", "null") and tsha == "blob", (db, nick)
            assert md5 is None or len(md5) == 16
            assert len(sha) == 32


if __name__ == "__main__":
    try:
        rc = suite.run()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(rc)
