#!/usr/bin/env python3
"""Memory and SQLite size against the number of registered users (part of
`make bench`, issue 7).

Usage: scripts/bench_users.py PATH/TO/anosip PATH/TO/anosip-bench OUT.md
(also writes OUT.json)

What a registered ANOSIP user costs its lighthouse: an account (nickname,
signing key, HA1s) and a nickname certificate, made at sign-up; a live
binding (nickname -> circuit), kept while the ua's circuit is open; the
circuit's state in memory; and, once its softphone has REGISTERed, a
registration row (until when it holds). Registering 100,000 users through
100,000 uas and softphones is not possible on one machine, so for each N
in BENCH_USERS (default 1000 10000 100000), on a fresh
`anosip testbed up --tree 2x1` (node-0 lookup, node-1 lighthouse, node-2
portal):

 1. Live: `anosip-bench circuit-load --mode memory` (bench/circuit_load.c)
    opens N circuits to node-1 through portal node-2, one fresh nickname
    each, exactly as uas do (anonymous client links, CREATE with a
    nickname proof; 16 circuits per client link, where a ua has one): the
    lighthouse signs every nickname up (account + certificate), claims it
    at the lookup service and binds it to its circuit; at most 20,000 per
    process, in at most two waves of BENCH_USERS_WAVE circuits (see plan():
    a CREATE is refused when older than 60 s, and a process holds its
    circuits 60 s after its round). With all N open,
    the lighthouse's (and the portal's and lookup's) Rss and Private_Dirty
    from /proc/PID/smaps_rollup, against the same before any circuit, and
    the size of node-1.lighthouse.db and its -wal (and the lookup's).
 2. The SIP part, written by this script: for every one of the N accounts
    the HA1s a ua sets (MD5 and SHA-256 of nick:anosip:password) and a
    registration row, with the lighthouse's own statements
    (lighthouse/store.c ST_PASSWORD_SET, ST_REGISTRATION_SET) in batches,
    while the lighthouse runs (its busy timeout covers the overlap). That a
    real REGISTER writes rows of the same shape is checked once with a
    real ua and SIPp (the "probe" user). Then the file sizes again. The
    memory does not change with these rows: the lighthouse keeps no SIP
    state per user outside SQLite (its nonces are stateless).

Every wait is bounded; every testbed is taken down, every circuit-load
process stopped (by pid).

Environment: BENCH_USERS="1000 10000 100000" BENCH_USERS_WINDOW=32
(CREATEs in flight per process) BENCH_USERS_WAVE=50000 (circuits built at
once) BENCH_USERS_LIMIT=400 (seconds a stage may take to open its
circuits; a stage also stops waiting after 15 s without a new circuit)"""
import atexit
import hashlib
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from sipclients import free_port, run_sipp  # noqa: E402
from bench_common import (anosip_runner, exit_on_sigterm, json_path, read_pid, smaps_rollup,  # noqa: E402
                          write_json)

USERS = [int(x) for x in os.environ.get("BENCH_USERS", "1000 10000 100000").split()]
WINDOW = int(os.environ.get("BENCH_USERS_WINDOW", "32"))
LIMIT_S = float(os.environ.get("BENCH_USERS_LIMIT", "400"))
# circuit_load.c's MAX_BUILDS is 20,000: circuits one process can hold.
PER_PROCESS = min(20000, int(os.environ.get("BENCH_USERS_PER_PROCESS", "20000")))
# Long enough for the last wave to be built and measured (every wave's
# processes hold theirs meanwhile); bench_users stops them once measured.
HOLD_S = 600
STALL_S = 15               # no new circuit for this long: measure what is open
LINKS_WAIT_S = 30          # for one process's client links before the next starts
WAVE_MAX = int(os.environ.get("BENCH_USERS_WAVE", "50000"))  # circuits built at once
REALM = "anosip"
LH, PORTAL, LOOKUP = "node-1", "node-2", "node-0"

anosip = os.path.abspath(sys.argv[1])
bench_bin = os.path.abspath(sys.argv[2])
out_path = sys.argv[3]
work = tempfile.mkdtemp(prefix="anosip-bench-users-", dir="/tmp")
loads = []                 # running circuit-load processes


def say(text):
    print(f"bench-users: {text}", file=sys.stderr, flush=True)


sh = anosip_runner(anosip)


def metric(tb, node, key, command="metrics"):
    try:
        text = sh("ctl", "-s", os.path.join(tb, f"{node}.sock"), "-t", "10", command,
                  timeout=20)
    except (RuntimeError, subprocess.TimeoutExpired):
        return None
    m = re.search(rf"^{re.escape(key)} (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def db_sizes(tb):
    out = {}
    for name, path in (("lighthouse", f"{LH}.lighthouse.db"), ("lookup", f"{LOOKUP}.lookup.db")):
        p = os.path.join(tb, path)
        out[name] = {"db": file_size(p), "wal": file_size(p + "-wal"),
                     "shm": file_size(p + "-shm")}
    return out


def memory(tb):
    out = {}
    for role, node in (("lighthouse", LH), ("portal", PORTAL), ("lookup", LOOKUP)):
        m = smaps_rollup(read_pid(os.path.join(tb, f"{node}.pid")))
        out[role] = {"rss_kb": m.get("Rss", 0), "dirty_kb": m.get("Private_Dirty", 0),
                     "anon_kb": m.get("Anonymous", 0)}
    return out


def lh_db(tb):
    return sqlite3.connect(os.path.join(tb, f"{LH}.lighthouse.db"), timeout=30,
                           isolation_level=None)


def checkpoint(tb):
    """A passive checkpoint of both databases (what SQLite does by itself
    every 1,000 pages): the main files then hold every page, so their sizes
    compare; the -wal files stay as large as they grew."""
    for path in (f"{LH}.lighthouse.db", f"{LOOKUP}.lookup.db"):
        c = sqlite3.connect(os.path.join(tb, path), timeout=30, isolation_level=None)
        try:
            c.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            c.close()


def counts(tb):
    c = lh_db(tb)
    try:
        q = {"accounts": "SELECT count(*) FROM accounts",
             "certificates": "SELECT count(*) FROM certificates",
             "bindings_live": "SELECT count(*) FROM bindings WHERE live = 1",
             "registrations": "SELECT count(*) FROM registrations",
             "with_password": "SELECT count(*) FROM accounts WHERE ha1_md5 IS NOT NULL",
             "page_size": "PRAGMA page_size", "page_count": "PRAGMA page_count",
             "freelist": "PRAGMA freelist_count"}
        return {k: c.execute(v).fetchone()[0] for k, v in q.items()}
    finally:
        c.close()


def row_shape(c, nick):
    """typeof/length of what the SIP layer wrote for one nickname."""
    r = c.execute("SELECT typeof(ha1_md5), length(ha1_md5), typeof(ha1_sha256),"
                  " length(ha1_sha256) FROM accounts WHERE nickname = ?", (nick,)).fetchone()
    g = c.execute("SELECT typeof(expires_unix), expires_unix - strftime('%s','now')"
                  " FROM registrations WHERE nickname = ?", (nick,)).fetchone()
    return {"ha1": list(r) if r else None,
            "registration": [g[0], int(round(g[1] / 60.0)) * 60] if g else None}


def probe(tb):
    """One real user: a ua and SIPp's REGISTER (expires 3600). Returns the
    shape of its rows, which write_sip_rows must match."""
    pw = os.path.join(tb, "probe.password")
    with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("probe-secret\n")
    port = free_port()
    sh("testbed", "ua", "add", "--dir", tb, "probe", "--lighthouse", LH, "--portals", PORTAL,
       "--sip-listen", f"127.0.0.1:{port}", "--sip-direct", f"127.0.0.1:{free_port()}",
       "--password-file", pw, "--digest", "MD5", "--log-level", "warn", "--timeout", "30")
    r = run_sipp("register_auth.xml", "127.0.0.1", port, service="probe", auth_user="probe",
                 auth_pass="probe-secret", keys={"domain": REALM, "expires": 3600},
                 timeout_s=20, trace_msg=False)
    if not r.ok:
        raise RuntimeError("probe registration failed:\n" + r.describe())
    sh("testbed", "stop", "--dir", tb, "ua-probe")
    c = lh_db(tb)
    try:
        return row_shape(c, "probe")
    finally:
        c.close()


def write_sip_rows(tb, prefix, batch=2000):
    """HA1s and a registration for every account whose nickname starts with
    prefix, as the lighthouse writes them: ST_PASSWORD_SET (only where no
    password is set yet) and ST_REGISTRATION_SET, expires now + 3600."""
    c = lh_db(tb)
    t0 = time.monotonic()
    try:
        nicks = [r[0] for r in c.execute("SELECT nickname FROM accounts WHERE nickname LIKE ?",
                                         (prefix + "%",))]
        now = int(time.time())
        for i in range(0, len(nicks), batch):
            c.execute("BEGIN IMMEDIATE")
            for nick in nicks[i:i + batch]:
                secret = f"{nick}:{REALM}:{nick}-secret".encode()
                c.execute("UPDATE accounts SET ha1_md5 = ?2, ha1_sha256 = ?3 WHERE nickname = ?1"
                          " AND (?4 = 0 OR (ha1_md5 IS NULL AND ha1_sha256 IS NULL))",
                          (nick, hashlib.md5(secret).digest(), hashlib.sha256(secret).digest(),
                           1))
                c.execute("INSERT INTO registrations (nickname, expires_unix) VALUES (?1, ?2)"
                          " ON CONFLICT (nickname) DO UPDATE SET"
                          " expires_unix = excluded.expires_unix", (nick, now + 3600))
            c.execute("COMMIT")
        shape = row_shape(c, nicks[0]) if nicks else None
    finally:
        c.close()
    return len(nicks), shape, time.monotonic() - t0


def stop_loads():
    for p, _ in loads:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            except ProcessLookupError:
                pass
    for _, f in loads:
        f.close()
    loads.clear()


atexit.register(shutil.rmtree, work, True)
atexit.register(stop_loads)   # runs first (last registered)


def load_done(path):
    try:
        with open(path) as f:
            return "mem_circuits_ok" in f.read()
    except OSError:
        return False


def plan(n):
    """Load processes, in waves: [[circuits of each process], ...].

    Two bounds shape it. circuit-load makes every CREATE of a round before
    the round starts, and a lighthouse refuses a CREATE older than 60 s
    (CIRC_CREATE_MAX_AGE_MS), so one wave must be built well within that
    (at the ~1,200-1,500 sign-ups/s a lighthouse does here: WAVE_MAX
    circuits). And a process holds its circuits HOLD_S s after its
    own round (--hold), so the next wave must be built within that: two
    waves at most, so N up to 2 x WAVE_MAX."""
    waves = max(1, math.ceil(n / WAVE_MAX))
    if waves > 2:
        raise RuntimeError(f"{n} users need {waves} waves of {WAVE_MAX}; at most 2 "
                           f"(BENCH_USERS_WAVE)")
    out = []
    for w in range(waves):
        m = n // waves + (1 if w < n % waves else 0)
        procs = max(1, math.ceil(m / PER_PROCESS))
        out.append([m // procs + (1 if i < m % procs else 0) for i in range(procs)])
    return out


def stage(n, do_probe):
    tb = os.path.join(work, f"tb{n}")
    t0 = time.monotonic()
    say(f"{n} users: a 2x1 testbed")
    row = {"users": n}
    try:
        sh("testbed", "up", "--tree", "2x1", "--dir", tb, "--log-level", "warn", "--timeout",
           "60", timeout=120)
        shape_real = probe(tb) if do_probe else None
        time.sleep(1.5)
        checkpoint(tb)
        row["before"] = {"memory": memory(tb), "db": db_sizes(tb)}
        waves = plan(n)
        procs = sum(len(w) for w in waves)
        tag = f"u{n}"
        say(f"{n} users: {procs} circuit-load process(es) in {len(waves)} wave(s) "
            f"{waves}, {WINDOW} CREATEs in flight each")
        t_build = time.monotonic()
        deadline = t_build + LIMIT_S
        row["stalled"] = False
        row["waves"] = waves
        outs = []
        for wave in waves:
            first = len(outs)
            for k in wave:
                i = len(outs)
                outs.append(os.path.join(work, f"load{n}-{i}.txt"))
                f = open(outs[-1], "w")
                p = subprocess.Popen(
                    [bench_bin, "circuit-load", "--dir", tb, "--portal", PORTAL,
                     "--lighthouse", LH, "--mode", "memory", "--circuits", str(k),
                     "--window", str(WINDOW), "--hold", str(HOLD_S), "--run", f"{tag}-{i}",
                     "--timeout", str(int(LIMIT_S))],
                    stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
                loads.append((p, f))
                # One process's links at a time: the portal takes 64
                # handshakes at once and each process opens 16 at a time,
                # giving up on a link after two refusals. Wait (bounded)
                # until the portal holds this process's links too.
                links = sum(math.ceil(x / 16) for x in [x for w in waves for x in w][:i + 1])
                t_links = time.monotonic()
                while time.monotonic() - t_links < LINKS_WAIT_S:
                    if (metric(tb, PORTAL, "clients", "status") or 0) >= links or \
                            p.poll() is not None:
                        break
                    time.sleep(0.2)
            # This wave's builds done (each process prints its figures when
            # its round ends), a stall, or the time is up.
            last, t_last = -1, time.monotonic()
            while time.monotonic() < deadline:
                if all(load_done(o) or p.poll() is not None
                       for o, (p, _) in list(zip(outs, loads))[first:]):
                    break
                open_now = metric(tb, LH, "lh_circuits") or 0
                if open_now != last:
                    last, t_last = open_now, time.monotonic()
                elif time.monotonic() - t_last > STALL_S:
                    row["stalled"] = True
                    say(f"{n} users: no new circuit for {STALL_S:g} s; measuring what is "
                        f"open")
                    break
                time.sleep(0.5)
            if row["stalled"]:
                break
        build_s = time.monotonic() - t_build
        time.sleep(1.5)         # settle: keep-alives, the lighthouse's timers
        open_now = metric(tb, LH, "lh_circuits") or 0
        row["build_seconds"] = build_s
        row["circuits_open"] = open_now
        row["signups"] = metric(tb, LH, "lh_signups")
        checkpoint(tb)
        row["with_circuits"] = {"memory": memory(tb), "db": db_sizes(tb), "rows": counts(tb)}
        # What each load process said about its builds (failures by kind).
        row["loads"] = []
        for i in range(len(outs)):
            try:
                with open(outs[i]) as f:
                    said = [ln.strip() for ln in f
                            if re.match(r"(mem_circuits_|mem_fail_|mem_links |"
                                        r"mem_build_|circuit-load:)", ln)]
            except OSError:
                said = []
            row["loads"].append(said)
            if open_now < n:
                say(f"{n} users: only {open_now} circuits open; circuit-load {i}: "
                    + "; ".join(said))
        say(f"{n} users: {open_now} circuits open after {build_s:.1f} s; lighthouse "
            f"{row['with_circuits']['memory']['lighthouse']['dirty_kb']} kB dirty")
        written, shape, write_s = write_sip_rows(tb, f"bench-{tag}-")
        row["sip_rows_written"] = written
        row["sip_rows_seconds"] = write_s
        row["sip_row_shape"] = shape
        row["sip_row_shape_real"] = shape_real
        checkpoint(tb)
        row["with_sip"] = {"memory": memory(tb), "db": db_sizes(tb), "rows": counts(tb)}
        if shape_real is not None and shape is not None and shape_real != shape:
            raise RuntimeError(f"rows written here {shape} differ from a real REGISTER's "
                               f"{shape_real}")
    finally:
        # The nodes first (each gets 5 s, then SIGKILL: tearing 100,000
        # circuits down one by one is not what this measures), then the
        # load processes, by pid.
        subprocess.run([anosip, "testbed", "down", "--dir", tb], capture_output=True,
                       timeout=180)
        stop_loads()
        shutil.rmtree(tb, ignore_errors=True)
    row["seconds"] = time.monotonic() - t0
    # Per user: over the circuits actually open (memory) and the accounts
    # actually made (database), which are N unless a stage stalled.
    lh0, lh1 = row["before"]["memory"]["lighthouse"], row["with_circuits"]["memory"]["lighthouse"]
    k = max(1, row["circuits_open"])
    row["lighthouse_dirty_bytes_per_user"] = (lh1["dirty_kb"] - lh0["dirty_kb"]) * 1024 / k
    row["lighthouse_rss_bytes_per_user"] = (lh1["rss_kb"] - lh0["rss_kb"]) * 1024 / k
    d0, d2 = row["before"]["db"]["lighthouse"], row["with_sip"]["db"]["lighthouse"]
    row["lighthouse_db_bytes_per_user"] = (d2["db"] - d0["db"]) / max(1, row["sip_rows_written"])
    row["complete"] = row["circuits_open"] >= n and row["sip_rows_written"] >= n
    say(f"{n} users: done in {row['seconds']:.1f} s")
    return row


def mib(b):
    return f"{b / 1048576:.2f}"


def main():
    t_start = time.monotonic()
    rows = []
    try:
        for i, n in enumerate(USERS):
            rows.append(stage(n, i == 0))
    finally:
        stop_loads()
        shutil.rmtree(work, ignore_errors=True)
    res = {"meta": {"users": USERS, "window": WINDOW, "per_process": PER_PROCESS,
                    "total_seconds": time.monotonic() - t_start}, "rows": rows}
    write_json(json_path(out_path), res)

    lines = ["| Users | circuits open | build s | lighthouse Rss MiB | Private_Dirty MiB | "
             "per user B (dirty) | portal dirty MiB | lookup dirty MiB | lighthouse.db MiB "
             "(+ -wal) accounts, certificates, bindings | with HA1s + registrations | "
             "per user B (db) | lookup.db MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        w, s = r["with_circuits"], r["with_sip"]
        lines.append(
            f"| {r['users']:,} | {r['circuits_open']:,} | {r['build_seconds']:.1f} | "
            f"{w['memory']['lighthouse']['rss_kb'] / 1024:.1f} | "
            f"{w['memory']['lighthouse']['dirty_kb'] / 1024:.1f} | "
            f"{r['lighthouse_dirty_bytes_per_user']:.0f} | "
            f"{w['memory']['portal']['dirty_kb'] / 1024:.1f} | "
            f"{w['memory']['lookup']['dirty_kb'] / 1024:.1f} | "
            f"{mib(w['db']['lighthouse']['db'])} (+ {mib(w['db']['lighthouse']['wal'])}) | "
            f"{mib(s['db']['lighthouse']['db'])} (+ {mib(s['db']['lighthouse']['wal'])}) | "
            f"{r['lighthouse_db_bytes_per_user']:.0f} | {mib(s['db']['lookup']['db'])} |")
    base = rows[0]["before"]["memory"]["lighthouse"] if rows else {"rss_kb": 0, "dirty_kb": 0}
    shape = next((r["sip_row_shape_real"] for r in rows if r.get("sip_row_shape_real")), None)
    if shape and shape.get("ha1") and shape.get("registration"):
        h, g = shape["ha1"], shape["registration"]
        shape = (f"HA1s as {h[0]}s of {h[1]} and {h[3]} bytes, the registration an {g[0]} "
                 f"expiry {g[1]} s ahead")
    text = f"""## Memory and SQLite against registered users

Command: `make bench` runs `scripts/bench_users.py`. For each N a fresh
`testbed up --tree 2x1` (node-0 lookup, node-1 lighthouse, node-2
portal). Measured, for N users:

1. live: N circuits open at once through portal node-2 to lighthouse
   node-1, one fresh nickname each (`anosip-bench circuit-load --mode
   memory`, at most 20,000 per process, {WINDOW} CREATEs in flight each):
   each makes an account and a certificate (sign-up), a lookup claim and a
   live binding, as a ua's circuit does; memory from
   `/proc/PID/smaps_rollup` with all N open (the lighthouse before any
   circuit: Rss {base['rss_kb'] / 1024:.1f} MiB, Private_Dirty
   {base['dirty_kb'] / 1024:.1f} MiB);
2. then, for the same N accounts, the rows a ua's password and a SIP
   REGISTER add (HA1s, a registration), written by the script with the
   lighthouse's own SQL (a real ua's REGISTER through SIPp, checked once,
   writes rows of the same shape: {shape}), and the files again (after a passive
   checkpoint; the -wal file is reused, not shrunk).

Not measured this way: 100,000 real uas and softphones (one process
each); the load generator packs 16 circuits per client link where each
ua has its own link, so the portal's figure is low by the links.

{chr(10).join(lines)}

Per user, the lighthouse's Private_Dirty grows by the "per user B" column
(its circuit state, keys and the binding; the HA1s and the registration
live only in SQLite) and its database by the "per user B (db)" column.
"""
    with open(out_path, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    exit_on_sigterm()
    main()
