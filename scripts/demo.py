#!/usr/bin/env python3
"""make demo: an anonymous call between two nicknames, with real softphones.

A 13-node network on loopback (tree 2x3: a lookup service, three
lighthouses, nine portals), two user agents ("mother" homed on node-1,
"father" on node-2), and two headless baresip softphones using them as
registrar and outbound proxy. Father calls mother by nickname; every step
prints its time and the nodes it crossed (the nodes whose cell or routed
counters grew). Usage: scripts/demo.py PATH/TO/anosip"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from sipclients import Baresip, free_port  # noqa: E402

DOMAIN = "anosip"
COUNTERS = ("cells_forwarded", "routed_forwarded", "routed_delivered", "routed_sent",
            "lh_data_in", "lh_data_out")

anosip = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/anosip"
workdir = tempfile.mkdtemp(prefix="anosip-demo-", dir="/tmp")
roles = {}
started = time.monotonic()


def sh(*args, timeout=60):
    p = subprocess.run([anosip, *args], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"anosip {' '.join(args)}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def step(text):
    print(f"\n== [{time.monotonic() - started:6.2f} s] {text}", flush=True)


def counters():
    out = {}
    for node in roles:
        text = sh("ctl", "-s", os.path.join(workdir, f"{node}.sock"), "metrics")
        values = dict(re.findall(r"^(\S+) (\d+)$", text, re.M))
        out[node] = sum(int(values.get(c, 0)) for c in COUNTERS)
    return out


def crossed(before, after):
    nodes = [n for n in roles if after[n] > before[n]]
    order = {"portal": 0, "lighthouse": 1, "lookup": 2}
    nodes.sort(key=lambda n: (order.get(roles[n], 3), int(n.split("-")[1])))
    return ", ".join(f"{n} ({roles[n]})" for n in nodes) or "none"


def timed(what, fn):
    before = counters()
    t0 = time.monotonic()
    result = fn()
    ms = (time.monotonic() - t0) * 1000
    print(f"   {what}: {ms:.0f} ms; nodes crossed: {crossed(before, counters())}", flush=True)
    return result


def show_sip(phone, pattern, since=0):
    for m in phone.sip_messages()[since:]:
        if re.match(pattern, m["first"]):
            way = "sent" if m["sent"] else "got "
            contact = re.search(r"^Contact: (.*)$", m["text"], re.M)
            extra = f"  (Contact: {contact.group(1)})" if m["first"].startswith(
                "SIP/2.0 302") and contact else ""
            print(f"   {phone.nick}'s softphone {way}: {m['first']}{extra}")


def main():
    step("1. a network authority, a signed directory and 13 nodes on 127.0.0.1 (tree 2x3)")
    up = sh("testbed", "up", "--tree", "2x3", "--dir", workdir, "--timeout", "30")
    for m in re.finditer(r"^(node-\d+)\s+\d+\s+\S+\s+\S+\s+(\S+)", up, re.M):
        roles[m.group(1)] = m.group(2)
    print("   " + ", ".join(f"{n} {r}" for n, r in roles.items()))

    step("2. two user agents: mother homed on node-1, father on node-2, each with a circuit "
         "through a portal")
    phones = {}
    for nick, lh, portals, friend in (("mother", "node-1", "node-4 node-5", "father"),
                                      ("father", "node-2", "node-7 node-8", "mother")):
        pw = os.path.join(workdir, f"{nick}.password")
        with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(f"{nick}-secret\n")
        listen, direct = free_port(), free_port()
        sh("testbed", "ua", "add", "--dir", workdir, nick, "--lighthouse", lh, "--portals",
           portals, "--sip-listen", f"127.0.0.1:{listen}", "--sip-direct",
           f"127.0.0.1:{direct}", "--contacts", friend, "--password-file", pw,
           "--digest", "MD5", "--timeout", "30")
        print(f"   ua {nick}: softphone side 127.0.0.1:{listen}, direct calls 127.0.0.1:{direct},"
              f" accepts calls from {friend}")
        phones[nick] = Baresip(nick, domain=DOMAIN, password=f"{nick}-secret",
                               outbound=("127.0.0.1", listen))

    try:
        for nick in ("mother", "father"):
            step(f"3. {nick}'s baresip registers sip:{nick}@{DOMAIN} with its ua, which "
                 "scrubs it and sends it through the circuit to the lighthouse (digest auth)")
            phone = phones[nick]
            timed("REGISTER -> 401 -> REGISTER -> 200",
                  lambda p=phone: (p.start(), p.wait_registered(15)))
            show_sip(phone, r"^(REGISTER|SIP/2.0)")

        step("4. father calls sip:mother@anosip: INVITE through his circuit to node-2, routed "
             "to mother's lighthouse node-1, down her circuit; her ua answers 302 with its "
             "direct address sealed to father and signed by mother")
        father, mother = phones["father"], phones["mother"]
        seen = len(father.sip_messages())
        timed("INVITE -> 302 -> direct INVITE -> 200 -> ACK (call established)",
              lambda: (father.dial(f"sip:mother@{DOMAIN}"),
                       father.wait_event("CALL_ESTABLISHED", 20),
                       mother.wait_event("CALL_ESTABLISHED", 20)))
        show_sip(father, r"^(INVITE|SIP/2.0 30|SIP/2.0 200|ACK)", since=seen)

        step("5. the call: audio (a 440 Hz tone, no sound card) straight between the two "
             "softphones, outside the Mist")
        time.sleep(3)
        timed("BYE -> 200 (call closed)",
              lambda: (father.hangup(), father.wait_event("CALL_CLOSED", 10),
                       mother.wait_event("CALL_CLOSED", 10)))
        for nick in ("father", "mother"):
            for _ in range(50):
                if phones[nick].rtp_packets():
                    break
                time.sleep(0.1)
            for tx, rx in phones[nick].rtp_packets():
                print(f"   {nick}: {tx} RTP packets sent, {rx} received")

        step("6. who knew what")
        print("   node-1 (mother's lighthouse) holds her nickname and a circuit, no address:")
        for line in sh("ctl", "-s", os.path.join(workdir, "node-1.sock"),
                       "bindings").splitlines():
            if "mother" in line:
                print("     " + line)
        portal_circuits = sh("ctl", "-s", os.path.join(workdir, "node-4.sock"), "circuits")
        print("   node-4 (mother's portal) holds link and circuit ids, no nickname:")
        for line in portal_circuits.splitlines()[:3]:
            print("     " + line)
        print("   the lookup service node-0: nickname -> lighthouse only:")
        for line in sh("ctl", "-s", os.path.join(workdir, "node-0.sock"),
                       "homes").splitlines():
            print("     " + line)
        print("   between nodes, only fixed-size sealed frames (node-1: "
              + ", ".join(f"{k} {v}" for k, v in re.findall(
                  r"^(frames_in|bytes_in) (\d+)$",
                  sh("ctl", "-s", os.path.join(workdir, "node-1.sock"), "metrics"), re.M))
              + ")")
    finally:
        for phone in phones.values():
            phone.stop()
            phone.cleanup()
        step("7. stop the network")
        subprocess.run([anosip, "testbed", "down", "--dir", workdir], capture_output=True,
                       timeout=60)
        shutil.rmtree(workdir, ignore_errors=True)
    print("\ndemo: done — father called mother by nickname; no node learned who is where")


if __name__ == "__main__":
    main()
