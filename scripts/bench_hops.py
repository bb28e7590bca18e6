#!/usr/bin/env python3
"""How SIP latency grows with the hops between portal and lighthouse
(part of `make bench`, issue 7).

Usage: scripts/bench_hops.py PATH/TO/anosip OUT.md   (also writes OUT.json)

For each hop count H in BENCH_HOPS (default 1 2 3 4 5 6) a fresh chain
`anosip testbed up --tree (H+1)x1`: node-0 the lookup service, node-1 the
lighthouse, node-2 ... node-H routers and the leaf node-(H+1) the only
portal, so a circuit from a ua at the leaf to node-1 crosses H node-to-node
hops (checked with a routed ping from the portal, whose answer counts
them). Three uas on that portal, all homed on node-1: "reg", "caller" and
"callee" (the callee's SIPp registers once). Then, with the paced client
of bench_common (microsecond timing; SIPp's clock has 4 ms steps here):

  REGISTER: the authenticated REGISTER -> 200, one round trip over H hops
            (ua -> portal -> ... -> lighthouse and back);
  INVITE:   INVITE -> 302 from caller to callee: up the caller's circuit,
            down the callee's, the signed 302 back the same way, so every
            extra level adds two hops to the path.

each at every rate of BENCH_HOPS_RATES calls/s (a low one, where every
process on the path sleeps between calls, and a higher one) for
BENCH_HOPS_SECONDS s. The growth per extra hop is the least-squares slope
of p50 over H (INVITE: over 2H, the hops its path crosses), next to the
aim (under 0.2 ms per hop). Every run is bounded; every testbed is taken
down.

Environment: BENCH_HOPS="1 2 3 4 5 6" BENCH_HOPS_RATES="20 100"
BENCH_HOPS_SECONDS=4"""
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from sipclients import free_port, run_sipp  # noqa: E402
from bench_common import anosip_runner, exit_on_sigterm, json_path, precise, stats, write_json  # noqa: E402

HOPS = [int(x) for x in os.environ.get("BENCH_HOPS", "1 2 3 4 5 6").split()]
RATES = [float(x) for x in os.environ.get("BENCH_HOPS_RATES", "20 100").split()]
SECONDS = float(os.environ.get("BENCH_HOPS_SECONDS", "4"))
AIM_MS_PER_HOP = 0.2
DOMAIN = "anosip"
PASSWORDS = {"reg": "reg-secret", "callee": "callee-secret", "caller": "caller-secret"}

anosip = os.path.abspath(sys.argv[1])
out_path = sys.argv[2]
work = tempfile.mkdtemp(prefix="anosip-bench-hops-", dir="/tmp")
atexit.register(shutil.rmtree, work, True)


def say(text):
    print(f"bench-hops: {text}", file=sys.stderr, flush=True)


sh = anosip_runner(anosip)


def fit(xs, ys):
    """Least squares y = a + b x: (a, b, r2, standard error of b); NaN
    where it cannot be had."""
    nan = float("nan")
    pts = [(x, y) for x, y in zip(xs, ys) if y == y]
    n = len(pts)
    if n < 2:
        return nan, nan, nan, nan
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    sxy = sum((x - mx) * (y - my) for x, y in pts)
    if sxx == 0:
        return nan, nan, nan, nan
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in pts)
    ss_res = sum((y - a - b * x) ** 2 for x, y in pts)
    se = (ss_res / (n - 2) / sxx) ** 0.5 if n > 2 else nan
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0, se


def one_depth(hops):
    tb = os.path.join(work, f"tb{hops}")
    portal, lighthouse = f"node-{hops + 1}", "node-1"
    ports = {}
    t0 = time.monotonic()
    try:
        sh("testbed", "up", "--tree", f"{hops + 1}x1", "--dir", tb, "--log-level", "warn",
           "--timeout", "60", timeout=120)
        ping = sh("ctl", "-s", os.path.join(tb, f"{portal}.sock"), "-t", "10", "ping",
                  lighthouse, "1")
        m = re.search(r"hops=(\d+)\+(\d+)", ping)
        seen = [int(m.group(1)), int(m.group(2))] if m else None
        for nick, contacts in (("reg", ""), ("callee", "caller"), ("caller", "")):
            pw = os.path.join(tb, f"{nick}.password")
            with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(PASSWORDS[nick] + "\n")
            ports[nick] = free_port()
            sh("testbed", "ua", "add", "--dir", tb, nick, "--lighthouse", lighthouse,
               "--portals", portal, "--sip-listen", f"127.0.0.1:{ports[nick]}",
               "--sip-direct", f"127.0.0.1:{free_port()}", "--password-file", pw,
               "--digest", "MD5", "--log-level", "warn", "--timeout", "30",
               *(["--contacts", contacts] if contacts else []))
        r = run_sipp("register_auth.xml", "127.0.0.1", ports["callee"], service="callee",
                     auth_user="callee", auth_pass=PASSWORDS["callee"],
                     keys={"domain": DOMAIN, "expires": 3600}, timeout_s=20)
        if not r.ok:
            raise RuntimeError(f"callee registration failed at {hops} hops:\n"
                               + r.describe())
        setup_s = time.monotonic() - t0
        by_rate = {}
        for rate in RATES:
            reg, reg_failed = precise("register", ports["reg"], rate, SECONDS, "reg",
                                      PASSWORDS["reg"], DOMAIN)
            inv, inv_failed = precise("invite", ports["caller"], rate, SECONDS, "caller",
                                      domain=DOMAIN, callee="callee")
            by_rate[str(rate)] = {"register": dict(stats(reg), failed=reg_failed),
                                  "invite": dict(stats(inv), failed=inv_failed)}
    finally:
        subprocess.run([anosip, "testbed", "down", "--dir", tb], capture_output=True,
                       timeout=120)
        shutil.rmtree(tb, ignore_errors=True)
    row = {"hops": hops, "tree": f"{hops + 1}x1", "portal": portal, "ping_hops": seen,
           "by_rate": by_rate, "setup_s": setup_s, "seconds": time.monotonic() - t0}
    say(f"{hops} hops (ping {seen}): p50 REGISTER / INVITE "
        + ", ".join(f"{float(r):g}/s {v['register']['p50']:.3f} / {v['invite']['p50']:.3f} ms"
                    for r, v in by_rate.items())
        + f", {sum(v[k]['failed'] for v in by_rate.values() for k in v)} failed, "
        f"{row['seconds']:.1f} s")
    return row


def main():
    t_start = time.monotonic()
    rows = []
    try:
        for h in HOPS:
            rows.append(one_depth(h))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    xs = [r["hops"] for r in rows]
    res = {"meta": {"hops": HOPS, "rates": RATES, "seconds": SECONDS,
                    "aim_ms_per_hop": AIM_MS_PER_HOP}, "rows": rows, "fit": {}, "aims": {}}
    for rate in map(str, RATES):
        fits = {}
        for kind, per in (("register", 1), ("invite", 2)):
            for q in ("p50", "p90"):
                a, b, r2, se = fit([per * x for x in xs],
                                   [r["by_rate"][rate][kind][q] for r in rows])
                fits[f"{kind}_{q}"] = {"intercept_ms": a, "ms_per_hop": b, "r2": r2,
                                       "se_ms_per_hop": se, "hops_per_level": per}
        res["fit"][rate] = fits
        res["aims"][rate] = {k: {"ms_per_hop": fits[f"{k}_p50"]["ms_per_hop"],
                                 "se": fits[f"{k}_p50"]["se_ms_per_hop"],
                                 "limit": AIM_MS_PER_HOP,
                                 "met": fits[f"{k}_p50"]["ms_per_hop"] < AIM_MS_PER_HOP}
                             for k in ("register", "invite")}
    res["meta"]["total_seconds"] = time.monotonic() - t_start
    write_json(json_path(out_path), res)

    head = "| Hops portal → lighthouse | tree | ping hops (out+back) | " + " | ".join(
        f"{rate:g}/s: REGISTER p50 / p90 / p99 ms | {rate:g}/s: INVITE → 302 p50 / p90 / p99 ms"
        for rate in RATES) + " | failed |"
    lines = [head, "|---|---|---|" + "---|---|" * len(RATES) + "---|"]
    for r in rows:
        ping = "+".join(str(x) for x in r["ping_hops"]) if r["ping_hops"] else "?"
        cells = [str(r["hops"]), r["tree"], ping]
        failed = 0
        for rate in map(str, RATES):
            for kind in ("register", "invite"):
                g = r["by_rate"][rate][kind]
                cells.append(f"{g['p50']:.3f} / {g['p90']:.3f} / {g['p99']:.3f}")
                failed += g["failed"]
        lines.append("| " + " | ".join(cells) + f" | {failed} |")

    def verdict(rate, kind):
        a, ft = res["aims"][rate][kind], res["fit"][rate][kind + "_p50"]
        se = ft["se_ms_per_hop"]
        return (f"**{'met' if a['met'] else 'NOT met'}**, {ft['intercept_ms']:.3f} ms + "
                f"{a['ms_per_hop']:.3f}" + (f" ± {se:.3f}" if se == se else "") +
                f" ms per hop (R² {ft['r2']:.2f}; p90: "
                f"{res['fit'][rate][kind + '_p90']['ms_per_hop']:.3f} ms per hop)")
    fit_lines = "\n".join(
        f"- {float(rate):g} calls/s: REGISTER {verdict(rate, 'register')}; INVITE → 302 "
        f"{verdict(rate, 'invite')}." for rate in map(str, RATES))
    text = f"""## Latency against hops

Command: `make bench` runs `scripts/bench_hops.py`. For each hop count H a
fresh chain `anosip testbed up --tree (H+1)x1`: node-0 lookup, node-1
the lighthouse, the leaf node-(H+1) the portal, so every circuit crosses
H node-to-node hops (the routed ping's hop count, out+back, in the
table). Three uas on the portal, all homed on node-1. Our paced client
(microseconds; {SECONDS:g} s per exchange, depth and rate, at
{" and ".join(f"{r:g}" for r in RATES)} calls/s) times the authenticated
REGISTER → 200 (one round trip over H hops) and INVITE → 302 from caller
to callee (the INVITE goes up the caller's circuit and down the callee's,
the 302 back: 2H hops each way). At the lower rate every process on the
path sleeps between calls, so each hop also pays a wakeup; at the higher
one they stay busier.

{chr(10).join(lines)}

Least-squares fit of p50 against the hops crossed one way (INVITE: 2 hops
per level of the chain; ± the slope's standard error), against the aim of
under {AIM_MS_PER_HOP} ms growth per extra hop:

{fit_lines}
"""
    with open(out_path, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    exit_on_sigterm()
    main()
