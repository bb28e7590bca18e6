#!/usr/bin/env python3
"""Integration: what an eavesdropper on loopback sees of a running testbed.

tcpdump records every packet on the testbed's ports while all-pairs pings,
keep-alives and a restart (fresh handshakes) cross the network. Every TCP
payload must be whole fixed-size frames, and no node id, public key or
protobuf-framed field may appear in clear."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, Testbed, anosip_bin, read_pcap, run, wait_for  # noqa: E402

FRAME = 512
suite = Suite("capture")


def secrets_to_look_for(t):
    needles = {}
    for node in t.nodes:
        needles[f"id {node}"] = node.encode()
    for name in t.nodes + ["authority"]:
        with open(t.path(f"{name}.pub")) as f:
            text = f.read()
        for kind, hexkey in re.findall(r"(\w+_public) = ([0-9a-f]{64})", text):
            needles[f"{kind} of {name}"] = bytes.fromhex(hexkey)
    return needles


@suite.test
def capture_shows_only_fixed_size_sealed_frames():
    with Testbed("2x3") as t:
        ports = [t.address(n)[1] for n in t.nodes]
        pcap = t.path("lo.pcap")
        expr = "tcp and (" + " or ".join(f"port {p}" for p in ports) + ")"
        dump = subprocess.Popen(["tcpdump", "-i", "lo", "-s", "0", "-U", "-w", pcap, expr],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) >= 24, 10,
                     "tcpdump to start")
            time.sleep(0.3)
            # Fresh handshakes on the wire: restart an inner node.
            run([anosip_bin(), "testbed", "stop", "--dir", t.dir, "node-2"])
            run([anosip_bin(), "testbed", "start", "--dir", t.dir, "node-2"])
            t.wait_all_links(timeout=20)
            assert not t.all_pairs_ping()
            time.sleep(1.2)  # a round of keep-alives
        finally:
            dump.send_signal(signal.SIGINT)
            try:
                dump.wait(timeout=10)
            except subprocess.TimeoutExpired:
                dump.kill()
                dump.wait()
        segments = list(read_pcap(pcap))
        assert len(segments) > 300, f"only {len(segments)} segments captured"
        streams = {}
        bad_sizes = [len(p) for _, p in segments if len(p) % FRAME]
        assert not bad_sizes, f"segments not whole frames: {bad_sizes[:10]}"
        for flow, payload in segments:
            streams.setdefault(flow, bytearray()).extend(payload)
        for flow, stream in streams.items():
            assert len(stream) % FRAME == 0, (flow, len(stream))
        everything = b"".join(bytes(s) for s in streams.values())
        found = [what for what, needle in secrets_to_look_for(t).items() if needle in everything]
        assert not found, f"in clear on the wire: {found}"
        # A protobuf string field holding an id would start with "node-"
        # after a tag and length; the id search above covers it, and
        # "anosip" (our signature contexts) must not appear either.
        assert b"anosip" not in everything
        print(f"     {len(segments)} segments, {len(streams)} flows, "
              f"{len(everything) // FRAME} frames, all {FRAME} bytes")


if __name__ == "__main__":
    sys.exit(suite.run())
