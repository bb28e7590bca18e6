#!/usr/bin/env python3
"""Integration: a 2x3 testbed of real `anosip node` processes on loopback."""
import os
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, run, tool_bin, wait_for  # noqa: E402

suite = Suite("node")
tb = None


def testbed():
    global tb
    if tb is None:
        tb = Testbed("2x3")
        tb.up()
    return tb


def drops(t, node, reason):
    return t.metrics(node).get(f"drop_{reason}", 0)


@suite.test
def testbed_up_has_13_nodes_with_all_links():
    t = testbed()
    assert len(t.nodes) == 13, t.up_output
    expected_neighbours = {"node-0": 3, "node-1": 6, "node-4": 3}
    for node in t.nodes:
        s = t.status(node)
        assert s["links_up"] == s["neighbours"], (node, s)
    for node, count in expected_neighbours.items():
        assert int(t.status(node)["neighbours"]) == count, node


@suite.test
def secrets_and_control_sockets_are_0600():
    t = testbed()
    for node in t.nodes + ["authority"]:
        mode = stat.S_IMODE(os.stat(t.path(f"{node}.key")).st_mode)
        assert mode == 0o600, (node, oct(mode))
    for node in t.nodes:
        mode = stat.S_IMODE(os.stat(t.sock(node)).st_mode)
        assert mode == 0o600, (node, oct(mode))


@suite.test
def every_node_pings_every_other_node():
    t = testbed()
    failures = t.all_pairs_ping()
    assert not failures, failures[:5]


@suite.test
def ping_reports_the_tree_path_length():
    t = testbed()
    # node-4 (under node-1) to node-12 (under node-3): up, across the ring
    # (node-1 and node-3 are ring neighbours), down.
    out = t.ping("node-4", "node-12").stdout
    assert "hops=3+3" in out, out
    out = t.ping("node-4", "node-5").stdout  # ring siblings
    assert "hops=1+1" in out, out
    out = t.ping("node-0", "node-9").stdout  # straight down
    assert "hops=2+2" in out, out


@suite.test
def hop_limit_too_small_is_dropped_and_counted():
    t = testbed()
    before = sum(drops(t, n, "hop_limit") for n in t.nodes)
    p = t.ping("node-4", "node-12", hop_limit=2, check=False)
    assert p.returncode != 0 and "0 received" in p.stdout, p.stdout
    after = sum(drops(t, n, "hop_limit") for n in t.nodes)
    assert after == before + 1, (before, after)
    assert "hops=3+3" in t.ping("node-4", "node-12", hop_limit=3).stdout


@suite.test
def killed_node_comes_back_and_all_pairs_ping_again():
    t = testbed()
    before = t.links("node-0")["node-1"].get("reconnects", 0)
    os.kill(t.pid("node-1"), signal.SIGKILL)
    wait_for(lambda: t.links("node-0")["node-1"]["state"] == "down", 10, "node-0 to see node-1 go")
    p = t.ping("node-4", "node-0", check=False)
    assert "0 received" in p.stdout, p.stdout
    run([anosip_bin(), "testbed", "start", "--dir", t.dir, "node-1"])
    t.wait_all_links(timeout=20)
    assert t.links("node-0")["node-1"]["reconnects"] == before + 1
    failures = t.all_pairs_ping()
    assert not failures, failures[:5]


@suite.test
def garbage_speaker_is_cut_off_and_node_keeps_routing():
    t = testbed()
    host, port = t.address("node-1")
    up_before = {p: i["up_ms"] for p, i in t.links("node-1").items()}
    hs_before = drops(t, "node-1", "handshake")
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(os.urandom(3000))
        s.settimeout(5)
        received = b""
        while True:  # the node answers message 1 (512 bytes), then closes
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # closed with our bytes unread: also a close
                break
            if not chunk:
                break
            received += chunk
    assert len(received) == 512, len(received)
    assert drops(t, "node-1", "handshake") == hs_before + 1
    after = t.links("node-1")
    for peer, up in up_before.items():
        assert after[peer]["state"] == "up" and after[peer]["up_ms"] > up, (peer, after[peer])
    assert "1 received" in t.ping("node-4", "node-12").stdout


@suite.test
def silent_connection_times_out_in_handshake():
    t = testbed()
    host, port = t.address("node-2")
    before = drops(t, "node-2", "handshake_timeout")
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"\0" * 100)  # less than one frame, then nothing
        s.settimeout(10)
        start = time.monotonic()
        assert s.recv(100) == b""
        assert time.monotonic() - start < 8
    assert drops(t, "node-2", "handshake_timeout") == before + 1


def evil(t, attack, expect_drop, *extra):
    before = drops(t, "node-1", expect_drop) if expect_drop else 0
    others = {p: i["up_ms"] for p, i in t.links("node-1").items() if p != "node-4"}
    p = run([tool_bin("evil_peer"), "--dir", t.dir, "--as", "node-4", "--to", "node-1",
             "--attack", attack, *extra], timeout=30, check=False)
    assert p.returncode == 0, (attack, p.stdout, p.stderr)
    if expect_drop:
        wait_for(lambda: drops(t, "node-1", expect_drop) == before + 1, 5,
                 f"drop_{expect_drop} after {attack}")
    after = t.links("node-1")
    for peer, up in others.items():
        assert after[peer]["state"] == "up" and after[peer]["up_ms"] > up, (attack, peer)


@suite.test
def bad_frames_from_a_neighbour_close_only_that_link():
    t = testbed()
    run([anosip_bin(), "testbed", "stop", "--dir", t.dir, "node-4"])
    try:
        evil(t, "forged", "frame_auth")
        evil(t, "replay", "frame_auth")
        evil(t, "truncated", "truncated")
        evil(t, "oversize", "oversize")
        evil(t, "badproto", "decode")
        evil(t, "hoplimit", "hop_limit")
        evil(t, "unknownfield", "decode")
    finally:
        run([anosip_bin(), "testbed", "start", "--dir", t.dir, "node-4"])
    t.wait_all_links(timeout=20)
    assert "1 received" in t.ping("node-4", "node-12").stdout


@suite.test
def impostors_are_refused():
    t = testbed()
    rogue = os.path.join(t.dir, "rogue")
    run([anosip_bin(), "keygen", "--out", rogue])
    # A real id with the wrong key: its signature does not verify.
    evil(t, "impostor", "bad_signature", "--key", rogue + ".key")
    # An id the directory does not list.
    evil(t, "impostor", "unknown_peer", "--key", rogue + ".key", "--as", "node-99")
    # A real node that is not node-1's neighbour (node-7 sits under node-2).
    evil(t, "impostor", "unknown_peer", "--as", "node-7")


@suite.test
def bad_config_or_directory_stops_startup_with_one_clear_line():
    t = testbed()
    conf = t.path("node-5.conf")
    with open(conf) as f:
        good = f.read()

    def start_with(text, expect):
        path = t.path("bad.conf")
        with open(path, "w") as f:
            f.write(text)
        p = run([anosip_bin(), "node", "-c", path], timeout=20, check=False)
        assert p.returncode != 0, p
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        assert len(lines) == 1 and expect in lines[0], (expect, p.stderr)

    start_with(good + "bogus = 1\n", "bad.conf:15: unknown key \"bogus\"")
    start_with(good.replace("id = node-5", "id = node-77"), "node-77 is not in the directory")
    start_with(good.replace("node-5.key", "node-6.key"), "does not match the directory")
    start_with("[node]\nid = x\n", "is missing")
    # A tampered directory.
    with open(t.path("directory.bin"), "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 1
    with open(t.path("tampered.bin"), "wb") as f:
        f.write(data)
    start_with(good.replace("directory.bin", "tampered.bin"), "does not verify")
    # A directory signed by another authority.
    run([anosip_bin(), "keygen", "--out", t.path("other-authority")])
    start_with(good.replace("authority.pub", "other-authority.pub"), "does not verify")
    # A secret key others can read.
    os.chmod(t.path("other-authority.key"), 0o644)
    start_with(good.replace("node-5.key", "other-authority.key"), "readable by others")


@suite.test
def sigterm_shuts_down_cleanly():
    t = testbed()
    run([anosip_bin(), "testbed", "stop", "--dir", t.dir, "node-12"])
    p = subprocess.Popen([anosip_bin(), "node", "-c", t.path("node-12.conf")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: os.path.exists(t.sock("node-12")) and
                 t.status("node-12")["links_up"] == "3", 20, "node-12 links")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (p.returncode, err)
    assert "shutting down" in err
    assert not os.path.exists(t.sock("node-12"))
    run([anosip_bin(), "testbed", "start", "--dir", t.dir, "node-12"])
    t.wait_all_links(timeout=20)


@suite.test
def a_stalled_neighbour_fills_only_its_bounded_queue():
    t = testbed()
    # node-12 stops reading; node-3 forwards a flood toward it. node-3's
    # queue to node-12 stops at max_queue_bytes (4 MiB) and the rest is
    # dropped and counted; node-3's other links carry on.
    before = drops(t, "node-3", "queue_full")
    pid = t.pid("node-12")
    os.kill(pid, signal.SIGSTOP)
    try:
        t.ctl("node-0", "send-routed", "node-12", "20000", "400", timeout=30)
        wait_for(lambda: drops(t, "node-3", "queue_full") > before, 10, "queue_full at node-3")
        queued = t.links("node-3")["node-12"]["queued"]
        assert queued <= 4 * 1024 * 1024, queued
        assert "1 received" in t.ping("node-0", "node-10").stdout
    finally:
        os.kill(pid, signal.SIGCONT)
    t.wait_all_links(timeout=20)
    wait_for(lambda: "1 received" in t.ping("node-4", "node-12", check=False).stdout, 15,
             "node-12 to answer again")


@suite.test
def directory_show_verifies_and_lists():
    t = testbed()
    p = run([anosip_bin(), "directory", "show", "--authority", t.path("authority.pub"),
             t.path("directory.bin")])
    assert "13 nodes, signature good" in p.stdout, p.stdout
    assert p.stdout.count("\nnode-") == 13


@suite.test
def nodes_stop_cleanly_with_no_sanitizer_report():
    # Last: SIGTERM every node; ASan/LSan/UBSan would have written to the logs.
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
