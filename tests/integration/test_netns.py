"""A testbed on separate hosts: `anosip testbed up --netns`.

Every node and every ua runs in a network namespace of its own with its
own address on a bridge the testbed makes, so the bridge carries what a
real network between hosts would. Two baresip softphones, each in its
user's namespace (the user's device: softphone and ua together), call
each other by nickname; tcpdump on the bridge records everything. The
capture must show only whole 512-byte frames between nodes and between a
ua and its portal, nothing readable in them, and the direct call (SIP and
RTP) only between the two users' namespaces. `testbed down` removes every
namespace and the bridge. Also: uneven trees and topology files."""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, run, wait_for  # noqa: E402
from sipclients import Baresip  # noqa: E402

suite = Suite("netns")
FRAME = 512
DOMAIN = "anosip"
USERS = {
    # nick: (lighthouse, portals, contacts, password)
    "mother": ("node-1", "node-4 node-5", "father", "mother-secret"),
    "father": ("node-2", "node-7 node-8", "mother", "father-secret"),
}


def read_ipv4(path):
    """Yields (proto, src, dst, sport, dport, payload) for every IPv4 TCP or
    UDP packet of an Ethernet pcap (a bridge), and (proto, src, dst, 0, 0,
    b"") for other IPv4 protocols."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    assert struct.unpack(endian + "I", data[20:24])[0] == 1, "not an Ethernet capture"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
            continue  # ARP, IPv6 neighbour discovery
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        # 0 in a large GSO packet: the captured length is the packet's.
        total = struct.unpack(">H", ip[2:4])[0] or len(ip)
        src = ".".join(str(b) for b in ip[12:16])
        dst = ".".join(str(b) for b in ip[16:20])
        proto = ip[9]
        body = ip[ihl:total]
        if proto == 6 and len(body) >= 20:
            sport, dport = struct.unpack(">HH", body[:4])
            syn = b"SYN" if body[13] & 0x02 else b""
            yield proto, src, dst, sport, dport, (syn, body[(body[12] >> 4) * 4:])
        elif proto == 17 and len(body) >= 8:
            sport, dport = struct.unpack(">HH", body[:4])
            yield proto, src, dst, sport, dport, body[8:]
        else:
            yield proto, src, dst, 0, 0, b""


SIP_PROBE = r"""
import os, socket, sys
method, uri, host, port, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(timeout)
s.connect((host, port))
me = "%s:%d" % s.getsockname()
branch = "z9hG4bK" + os.urandom(6).hex()
lines = [f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP {me};branch={branch}",
         "Max-Forwards: 70", "From: <sip:evil@example.invalid>;tag=f1",
         "To: <sip:victim@example.invalid>" + (";tag=t1" if method != "INVITE" else ""),
         f"Call-ID: c{branch}", f"CSeq: 1 {method}"]
if method != "INVITE":  # in a dialog that never crossed this ua
    lines.append(f"Route: <sip:{host}:{port};lr;d={'0' * 32}>")
lines += ["Content-Length: 0", "", ""]
s.send("\r\n".join(lines).encode())
try:
    sys.stdout.buffer.write(s.recv(65536))
except socket.timeout:
    pass
"""


def udp_exchange(netns, host, port, method, uri, timeout=3):
    """A raw SIP request over UDP from inside namespace netns (another
    host); returns the first reply's bytes (b"" when none came)."""
    p = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", SIP_PROBE, method,
                        uri, host, str(port), str(timeout)],
                       capture_output=True, timeout=timeout + 10)
    return p.stdout


def namespaces():
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@suite.test
def test_call_between_namespaces():
    assert os.geteuid() == 0, "--netns needs root (ip netns, veth, bridge)"
    t = Testbed("2x3", netns=True)
    capture = None
    tag = bridge = None
    try:
        t.up(timeout=120)
        with open(t.path("netns.bridge")) as f:
            bridge, tag = f.read().split()
        nodes = {}
        for line in t.up_output.splitlines():
            m = re.match(r"^(node-\d+)\s+\d+\s+([\d.]+):7000\s", line)
            if m:
                nodes[m.group(2)] = m.group(1)
        nodes_by_id = {v: k for k, v in nodes.items()}
        assert len(nodes) == 13, t.up_output
        mine = [ns for ns in namespaces() if ns.startswith(f"anosip-{tag}-")]
        assert len(mine) == 13, mine
        # Each node really runs in its namespace.
        for node in ("node-0", "node-7"):
            out = run(["ip", "netns", "identify", str(t.pid(node))]).stdout.strip()
            assert out == f"anosip-{tag}-{node}", out

        pcap = t.path("bridge.pcap")
        capture = subprocess.Popen(["tcpdump", "-i", bridge, "-s", "0", "-U", "-w", pcap],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) >= 24, 10,
                 "tcpdump to start")
        time.sleep(0.3)

        users = {}
        for nick, (lh, portals, contacts, password) in USERS.items():
            pw = t.path(f"{nick}.password")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(password + "\n")
            p = run([anosip_bin(), "testbed", "ua", "add", "--dir", t.dir, nick,
                     "--lighthouse", lh, "--portals", portals, "--timeout", "30",
                     "--sip-listen", "127.0.0.1:5060", "--sip-direct", ":5070",
                     "--password-file", pw, "--digest", "MD5", "--contacts", contacts],
                    timeout=60)
            address = re.search(r"address ([\d.]+)", p.stdout).group(1)
            users[nick] = (f"anosip-{tag}-ua-{nick}", address)
        user_addrs = {a for _, a in users.values()}
        # A bad nickname is refused before any namespace is made.
        before = namespaces()
        bad = run([anosip_bin(), "testbed", "ua", "add", "--dir", t.dir, "Bad Nick",
                   "--lighthouse", "node-1", "--portals", "node-4"], check=False, timeout=30)
        assert bad.returncode == 2 and "not a nickname" in bad.stderr, bad.stderr
        assert namespaces() == before

        phones = {nick: Baresip(nick, domain=DOMAIN, password=USERS[nick][3],
                                outbound=("127.0.0.1", 5060), netns=ns, net_interface=addr)
                  for nick, (ns, addr) in users.items()}
        with phones["mother"] as mother, phones["father"] as father:
            mother.start()
            father.start()
            mother.wait_registered(20)
            father.wait_registered(20)
            father.dial(f"sip:mother@{DOMAIN}")
            father.wait_event("CALL_ESTABLISHED", 20)
            mother.wait_event("CALL_ESTABLISHED", 20)
            time.sleep(2.0)
            father.hangup()
            father.wait_event("CALL_CLOSED", 10)
            mother.wait_event("CALL_CLOSED", 10)
            for phone in (mother, father):
                wait_for(lambda: phone.rtp_packets(), 5, f"{phone.nick}'s RTP statistics")
                assert all(tx > 0 and rx > 0 for tx, rx in phone.rtp_packets()), \
                    (phone.nick, phone.rtp_packets())
        time.sleep(0.5)
        capture.send_signal(signal.SIGINT)
        capture.wait(timeout=10)
        capture = None

        flows = {}
        started = set()  # flows whose first bytes the capture saw (their SYN)
        udp = []
        counts = {"node-node": 0, "ua-portal": 0}
        for proto, src, dst, sport, dport, payload in read_ipv4(pcap):
            ends = {src, dst}
            if proto == 6:
                syn, payload = payload
                assert ends <= set(nodes) | user_addrs, (src, dst)
                assert not ends <= user_addrs, f"TCP between the users: {src} {dst}"
                assert 7000 in (sport, dport), (src, sport, dst, dport)
                if syn:
                    started.add((src, sport, dst, dport))
                    started.add((dst, dport, src, sport))
                if payload:
                    flows.setdefault((src, sport, dst, dport), bytearray()).extend(payload)
                    counts["ua-portal" if ends & user_addrs else "node-node"] += 1
            elif proto == 17:
                assert ends == user_addrs, f"UDP outside the direct call: {src} -> {dst}"
                udp.append(payload)
            elif proto == 2:
                # IGMP membership reports the kernel sends on its own when
                # a veth comes up (to 224.0.0.22, from 0.0.0.0 before the
                # address is set): link-local multicast control, no data.
                assert dst.startswith("224.0.0."), (proto, src, dst)
            else:
                assert proto == 1 and ends == user_addrs, (proto, src, dst)
        assert counts["node-node"] > 50 and counts["ua-portal"] > 20, counts
        # Links up before the capture began are cut at its edges; those it
        # saw from their SYN (every ua's link to its portal) must be whole
        # frames from the first byte.
        whole = [f for f in flows if f in started]
        assert len(whole) >= 4, (len(whole), len(flows))
        for flow in whole:
            assert len(flows[flow]) % FRAME == 0, (flow, len(flows[flow]))
        everything = b"".join(bytes(s) for s in flows.values())
        for needle in (b"mother", b"father", b"anosip", b"SIP/2.0", b"REGISTER", b"INVITE",
                       b"node-"):
            assert needle not in everything, f"{needle!r} in clear between hosts"
        sip = [p for p in udp if p.startswith((b"INVITE ", b"ACK ", b"BYE ", b"SIP/2.0 "))]
        rtp = [p for p in udp if len(p) >= 12 and p[0] >> 6 == 2 and not p[:3].isalpha()]
        assert sip and len(rtp) > 100, (len(sip), len(rtp))
        # Mother's direct address is no relay, whoever asks: an INVITE from
        # another host for a third address, a BYE with a made-up route.
        for method in ("INVITE", "BYE"):
            reply = udp_exchange(f"anosip-{tag}-node-3", users["mother"][1], 5070, method,
                                 f"sip:victim@{nodes_by_id['node-0']}:5099")
            assert reply.startswith(b"SIP/2.0 403"), (method, reply[:80])
        print(f"     {sum(counts.values())} TCP segments in {len(flows)} flows, "
              f"{len(everything) // FRAME} frames; direct call: {len(sip)} SIP, "
              f"{len(rtp)} RTP packets, only between {sorted(user_addrs)}")
    finally:
        if capture:
            capture.kill()
            capture.wait()
        reports = t.down()
        # Whatever a failure left behind goes too (the assertions below
        # still say it was left).
        left = [ns for ns in namespaces() if tag and ns.startswith(f"anosip-{tag}-")]
        for ns in left:
            run(["ip", "netns", "del", ns], check=False)
        if bridge:
            run(["ip", "link", "del", bridge], check=False)
    assert not reports, reports
    assert not left, left
    assert run(["ip", "link", "show", bridge], check=False).returncode != 0, "bridge left"


@suite.test
def test_uneven_tree():
    """--tree F1,F2,...: fan-out per level."""
    with Testbed("3,1,2") as t:
        assert len(t.nodes) == 1 + 3 + 3 + 6, t.up_output
        roles = dict(re.findall(r"^(node-\d+)\s+\d+\s+\S+\s+\S+\s+(\S+)", t.up_output, re.M))
        assert roles["node-0"] == "lookup,iddir"
        assert [n for n, r in roles.items() if r == "lighthouse"] == ["node-1", "node-2",
                                                                       "node-3"]
        assert sum(r == "portal" for r in roles.values()) == 6
        t.all_pairs_ping()


@suite.test
def test_one_level_tree_with_users():
    """--tree 1x3: the root is lighthouse and lookup service at once; a
    sign-up's claim is a routed message the node sends itself, delivered
    on the next loop turn (it once answered itself before it was ready to
    hear the answer, and no circuit ever opened)."""
    with Testbed("1x3", users=2) as t:
        assert "2 users with open circuits" in t.up_output, t.up_output
        for nick in ("user-1", "user-2"):
            _, ok, out = t.echo(nick, count=5)
            assert ok == 5, out
        out = t.ctl("node-0", "ping", "node-0", "2").stdout
        assert "2 received" in out, out


@suite.test
def test_topology_file():
    """--topology FILE: any shape, roles where the file puts them; the
    testbed picks addresses and keys (those given are ignored)."""
    layout = """
[directory]
serial = 7
[node top]
roles = lookup, iddir
[node lh-a]
parent = top
roles = lighthouse
[node lh-b]
parent = top
roles = lighthouse
address = 192.0.2.1:1
[node mid]
parent = lh-a
[node p-1]
parent = mid
roles = portal
[node p-2]
parent = mid
roles = portal
[node p-3]
parent = lh-b
roles = portal
"""
    d = tempfile.mkdtemp(prefix="anosip-layout-", dir="/tmp")
    path = os.path.join(d, "layout.ini")
    with open(path, "w") as f:
        f.write(layout)
    t = Testbed()
    try:
        p = run([anosip_bin(), "testbed", "up", "--topology", path, "--dir", t.dir,
                 "--timeout", "30", "--users", "3"], timeout=90)
        t.nodes = re.findall(r"^([a-z][a-z0-9.-]*)\s+\d+\s+127\.0\.0\.1:", p.stdout, re.M)
        assert sorted(t.nodes) == ["lh-a", "lh-b", "mid", "p-1", "p-2", "p-3", "top"], p.stdout
        assert "192.0.2.1" not in p.stdout
        t.all_pairs_ping()
        # Bad files: one clear line each, nothing started.
        cases = [("[node a]\nroles = portal\n[node b]\nparent = a\nroles = lighthouse\n",
                  "no node has the lookup role"),
                 ("[node a]\nroles = wizard\n", "no role"),
                 ("[node A!]\nroles = portal\n", "is not 1-31"),
                 ("[node a]\n[node b]\nparent = a\n", "without a parent or roles"),
                 ("[node a]\nroles = lookup, lighthouse\n[node b]\nparent = c\n"
                  "roles = portal\n", "parent c is not in the directory")]
        for text, words in cases:
            with open(path, "w") as f:
                f.write(text)
            bad = tempfile.mkdtemp(prefix="anosip-bad-", dir="/tmp")
            r = run([anosip_bin(), "testbed", "up", "--topology", path, "--dir", bad],
                    check=False, timeout=30)
            assert r.returncode != 0 and words in r.stderr, (text, r.stderr)
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
            run([anosip_bin(), "testbed", "down", "--dir", bad], check=False, timeout=30)
            shutil.rmtree(bad, ignore_errors=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)
        reports = t.down()
    assert not reports, reports


if __name__ == "__main__":
    sys.exit(suite.run())
