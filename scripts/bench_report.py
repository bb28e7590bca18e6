#!/usr/bin/env python3
"""bench/report.md and its figures (the last step of `make bench`, issue 7).

Usage: scripts/bench_report.py WORK_DIR OUT_DIR [DOCS_MD]
(DOCS_MD: the docs/benchmarks.md this run wrote, linked from the report)

Reads what the parts of scripts/bench.sh left in WORK_DIR — sip.json
(scripts/bench_sip.py: ANOSIP against Kamailio), hops.json
(scripts/bench_hops.py), users.json (scripts/bench_users.py),
linkcircuit.txt (bench.sh's link and circuit figures, "key value" lines)
and timing.txt (seconds per part) — and writes OUT_DIR/report.md and one
PNG per figure (gnuplot, pngcairo):

  report-latency-register.png  REGISTER p50/p90/p99, ANOSIP and Kamailio
  report-latency-invite.png    INVITE -> 302 p50/p90/p99 at 10 and 100/s
  report-rates.png             highest sustained REGISTER and INVITE rates
  report-hops.png              latency against hops, with the fits
  report-users.png             lighthouse memory and SQLite against users
  report-table1.png            the paper's Table 1 buckets, ANOSIP and Kamailio
  report-links.png             link and routed rates against their ceilings

A part whose file is missing is reported as not run; nothing here
measures anything. gnuplot runs with a timeout, in a temporary folder."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

GNUPLOT = shutil.which("gnuplot") or "/usr/bin/gnuplot"
BUDGET_S = 20 * 60


def load_json(work, name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_kv(work, name):
    out = {}
    try:
        with open(os.path.join(work, name)) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 1)
                if len(parts) == 2:
                    out[parts[0]] = parts[1]
    except OSError:
        return None
    return out


def num(x):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def f(x, digits=2, unit=""):
    v = num(x)
    return "—" if v is None else f"{v:.{digits}f}{unit}"


def ratio(a, b, digits=2):
    a, b = num(a), num(b)
    return "—" if a is None or not b else f"{a / b:.{digits}f}"


def verdict(met):
    return {True: "**met**", False: "**NOT met**"}.get(met, "**not determined**")


class Plotter:
    """Writes data and a gnuplot script per figure in a temporary folder
    and runs gnuplot (bounded) to make OUT_DIR/NAME.png."""

    def __init__(self, out_dir):
        # gnuplot runs in a temporary folder: every path it gets is absolute.
        self.out_dir = os.path.abspath(out_dir)
        self.tmp = tempfile.mkdtemp(prefix="anosip-bench-report-")
        self.made, self.failed = [], []

    def data(self, name, rows):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as fh:
            for r in rows:
                fh.write(" ".join(str(x) for x in r) + "\n")
        return path

    def plot(self, name, script):
        png = os.path.join(self.out_dir, name + ".png")
        text = (f"set terminal pngcairo size 900,540 noenhanced font 'Sans,10'\n"
                f"set output '{png}'\nset key top left\nset grid ytics\n{script}\n")
        gp = os.path.join(self.tmp, name + ".gp")
        with open(gp, "w") as fh:
            fh.write(text)
        try:
            p = subprocess.run([GNUPLOT, gp], capture_output=True, text=True, timeout=60,
                               cwd=self.tmp)
            ok = p.returncode == 0 and os.path.exists(png)
            err = p.stderr.strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            ok, err = False, str(e)
        (self.made if ok else self.failed).append((name, err))
        return f"![{name}]({name}.png)" if ok else f"(figure {name} failed: {err[:200]})"

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def q(s):
    """A gnuplot string literal."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- sections ------------------------------------------------------------------

def sip_section(sip, P):
    if not sip:
        return "## SIP against Kamailio\n\nNot run (no sip.json).\n", []
    meta, pr = sip["meta"], sip["precise"]
    kam = meta.get("kamailio")
    aims = []
    out = ["## SIP: ANOSIP against Kamailio", ""]
    out.append(f"Kamailio {meta.get('kamailio_version', '?')} (Debian) as a registrar (MD5 digest, HA1s "
               f"and bindings in SQLite, usrloc db_mode {meta.get('kamailio_db_mode')}, "
               f"{meta.get('kamailio_children')} worker) and as a redirect server "
               f"(`bench/kamailio/*.cfg`), on 127.0.0.1, driven in the same run with the same "
               f"SIPp scenarios, rates and durations as the anonymized path (testbed 3x2; the "
               f"INVITE crosses two lighthouses and six nodes). Latency from the paced "
               f"client (µs; SIPp's own clock has 4 ms steps here). Details: the SIP section "
               f"of `docs/benchmarks.md`." if kam else
               "Kamailio baseline switched off (BENCH_SIP_KAMAILIO=0).")
    out.append("")
    # latency figures
    if kam:
        rows = []
        for i, (name, label) in enumerate((("register", "REGISTER 10/s"),)):
            for j, qn in enumerate(("p50", "p90", "p99")):
                rows.append([q(qn), pr[name]["anosip"][qn], pr[name]["kamailio"][qn]])
        d = P.data("lat_reg.dat", rows)
        fig_reg = P.plot("report-latency-register", f"""
set title "Authenticated REGISTER -> 200 at 10 calls/s ({meta['precise_seconds']:g} s each), same run"
set ylabel "ms"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.05:*]
plot '{d}' using 2:xtic(1) title "ANOSIP (ua, portal, router, lighthouse)", '' using 3 title "Kamailio registrar"
""")
        rows = []
        for name, label in (("invite", "10/s"), ("invite100", "100/s")):
            for qn in ("p50", "p90", "p99"):
                rows.append([q(f"{label} {qn}"), pr[name]["anosip"][qn],
                             pr[name]["kamailio"][qn]])
        d = P.data("lat_inv.dat", rows)
        fig_inv = P.plot("report-latency-invite", f"""
set title "INVITE -> 302 (two lighthouses, six nodes) at 10 and 100 calls/s, same run"
set ylabel "ms"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.05:*]
set arrow from graph 0, first 10 to graph 1, first 10 nohead dt 2 lc rgb "red"
set label "aim at 100/s: p99 < 10 ms" at graph 0.02, first 12 tc rgb "red"
plot '{d}' using 2:xtic(1) title "ANOSIP", '' using 3 title "Kamailio redirect"
""")
        out += ["### Latency percentiles", "", "| Exchange | ANOSIP p50 / p90 / p99 ms | "
                "Kamailio p50 / p90 / p99 ms | ratio p50 | ratio p90 | ratio p99 |",
                "|---|---|---|---|---|---|"]
        labels = {"register": f"REGISTER → 200, 10/s, {meta['precise_seconds']:g} s",
                  "invite": f"INVITE → 302, 10/s, {meta['precise_seconds']:g} s",
                  "invite100": f"INVITE → 302, 100/s, {meta['precise_fast_seconds']:g} s"}
        for name in ("register", "invite", "invite100"):
            a, b = pr[name]["anosip"], pr[name]["kamailio"]
            out.append(f"| {labels[name]} | {f(a['p50'], 3)} / {f(a['p90'], 3)} / "
                       f"{f(a['p99'], 3)} | {f(b['p50'], 3)} / {f(b['p90'], 3)} / "
                       f"{f(b['p99'], 3)} | {ratio(a['p50'], b['p50'], 1)} | "
                       f"{ratio(a['p90'], b['p90'], 1)} | {ratio(a['p99'], b['p99'], 1)} |")
        cpu_p, cpu_i = sip["paper"].get("cpu_ms_per_call", {}), \
            sip["invite100"].get("cpu_ms_per_call", {})
        out += ["", f"CPU per call, all processes of each side: REGISTER at 10/s "
                f"{f(cpu_p.get('anosip'))} ms (ANOSIP, 15 nodes and 3 uas) against "
                f"{f(cpu_p.get('kamailio'))} ms (Kamailio), ratio "
                f"{ratio(cpu_p.get('anosip'), cpu_p.get('kamailio'), 1)}; INVITE → 302 at "
                f"100/s {f(cpu_i.get('anosip'))} ms against {f(cpu_i.get('kamailio'))} ms, "
                f"ratio {ratio(cpu_i.get('anosip'), cpu_i.get('kamailio'), 1)}.", "",
                fig_reg, "", fig_inv, ""]
    # rates
    ramp = sip.get("ramp", {})
    if ramp:
        out += ["### Highest sustained rate", "",
                f"Rates offered for {meta['ramp_seconds']:g} s each ({', '.join(map(str, meta['ramp']))}"
                f" calls/s, then {meta['ramp_refine']} bisection steps); held = every call "
                "answered, p99 ≤ 100 ms, ≥ 90% of the offered rate completed.", "",
                "| | ANOSIP calls/s | Kamailio calls/s | ratio |", "|---|---|---|---|"]
        rows = []
        for kind, label in (("register", "REGISTER"), ("invite", "INVITE → 302")):
            a = ramp[kind]["anosip"]
            b = ramp[kind].get("kamailio")
            ta = ("≥ " if a["top"] else "") + str(a["best"])
            tb_ = (("≥ " if b["top"] else "") + str(b["best"])) if b else "—"
            out.append(f"| {label} | {ta} | {tb_} | "
                       f"{ratio(a['best'], b['best']) if b else '—'} |")
            rows.append([q(label), a["best"], b["best"] if b else 0, q(ta), q(tb_)])
        d = P.data("rates.dat", rows)
        top = max([r[1] for r in rows] + [r[2] for r in rows] + [1])
        out += ["", P.plot("report-rates", f"""
set title "Highest sustained rate (one SIPp on the same 2 cores; >= : the top of the ramp), same run"
set ylabel "calls/s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:{top * 1.2:.0f}]
plot '{d}' using 2:xtic(1) title "ANOSIP", '' using 3 title "Kamailio", \\
     '' using ($0 - 0.167):2:4 with labels offset 0,0.8 notitle, \\
     '' using ($0 + 0.167):3:5 with labels offset 0,0.8 notitle
"""), ""]
    # table 1
    paper = sip.get("paper", {})
    if paper.get("anosip"):
        buckets = meta.get("buckets_ms", [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        names = [f"{a}-{b}" for a, b in zip([0] + buckets, buckets)] + [f">={buckets[-1]}"]
        rows = []
        for i, name in enumerate(names):
            rows.append([q(name), paper["anosip"]["buckets"][i],
                         paper["kamailio"]["buckets"][i] if paper.get("kamailio") else 0])
        d = P.data("table1.dat", rows)
        fig = P.plot("report-table1", f"""
set title "The paper's Table 1: REGISTER at 10 calls/s for {meta['paper_seconds']} s (SIPp, 10 ms buckets), same run"
set ylabel "calls"
set xlabel "response time of the authenticated REGISTER, ms (SIPp's 4 ms clock)"
set key top right
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0.8:*]
plot '{d}' using 2:xtic(1) title "ANOSIP", '' using 3 title "Kamailio registrar"
""")
        out += [f"### The paper's experiment (Table 1): REGISTER at 10 calls/s for "
                f"{meta['paper_seconds']} s", "",
                "| Run | " + " | ".join(n + " ms" for n in names) + " | ok / calls |",
                "|---|" + "---|" * (len(names) + 1)]
        for who, label in (("anosip", "ANOSIP"), ("kamailio", "Kamailio"),
                           ("sipp", "SIPp registrar scenario")):
            s = paper.get(who)
            if s:
                out.append(f"| {label} | " + " | ".join(str(c) for c in s["buckets"]) +
                           f" | {s['ok']} / {s['calls']} |")
        out += ["", "The paper measured 2.5–3 s under this load.", "", fig, ""]
    a100 = sip.get("aims", {}).get("invite_p99_100")
    if a100:
        aims.append(f"INVITE → 302 through 2 lighthouses and 6 nodes, p99 under 10 ms at "
                    f"100 calls/s: {verdict(a100['met'])}, {f(a100['value_ms'])} ms (paced "
                    f"client, {meta['precise_fast_seconds']:g} s; SIPp {f(a100['sipp_p99_ms'], 0)} "
                    f"ms on its 4 ms clock, {meta['fast_seconds']} s)")
    ar = sip.get("aims", {}).get("register_rate")
    if ar:
        aims.append(f"sustained REGISTER/s through ANOSIP at least a third of Kamailio's: "
                    f"{verdict(ar['met'])}, {ar['anosip']} against {ar['kamailio']} calls/s, "
                    f"ratio {ratio(ar['anosip'], ar['kamailio'])}"
                    + (" (Kamailio held the top of the ramp: its rate is higher, the ratio an "
                       "upper bound)" if ar.get("kamailio_top") else ""))
    return "\n".join(out), aims


def hops_section(hops, P):
    if not hops:
        return "## Latency against hops\n\nNot run (no hops.json).\n", []
    rows, rates = hops["rows"], [str(r) for r in hops["meta"]["rates"]]
    cols, plots, n = [], [], 2
    for rate in rates:
        for kind in ("register", "invite"):
            cols.append((rate, kind))
    d = P.data("hops.dat", [[r["hops"]] + [r["by_rate"][rate][kind]["p50"]
                                           for rate, kind in cols] for r in rows])
    styles = {"register": (7, 2), "invite": (5, 3)}
    for rate in rates:
        for kind in ("register", "invite"):
            ft = hops["fit"][rate][kind + "_p50"]
            per = ft["hops_per_level"]
            pt, dt = styles[kind]
            label = "REGISTER" if kind == "register" else "INVITE -> 302"
            plots.append(f"'{d}' using 1:{n} with points pt {pt} ps 1.3 lc {n - 1} title "
                         f"{q(f'{label} p50 at {float(rate):g}/s')}")
            slope = ft["ms_per_hop"] or 0
            plots.append(f"{ft['intercept_ms'] or 0} + {slope} * {per} * x with lines dt {dt} "
                         f"lc {n - 1} title {q(f'fit: {slope:.3f} ms per hop')}")
            n += 1
    fig = P.plot("report-hops", f"""
set title "Latency against hops portal -> lighthouse (chains (H+1)x1, {hops['meta']['seconds']:g} s per rate), same run"
set xlabel "hops between portal and lighthouse"
set ylabel "p50, ms"
set xrange [0.5:{max(r['hops'] for r in rows) + 0.5}]
set yrange [0:*]
set key below
plot {", ".join(plots)}
""")
    out = ["## Latency against hops", "",
           "A fresh chain per hop count H (`testbed up --tree (H+1)x1`: the leaf is the "
           "portal, node-1 the lighthouse, H hops apart, checked with a routed ping), three "
           "uas on the portal; the paced client times the authenticated REGISTER (one round "
           "trip over H hops) and INVITE → 302 (up the caller's circuit, down the callee's: "
           "2H hops each way), at " + " and ".join(f"{float(r):g}" for r in rates) +
           " calls/s. Least squares on p50. Details: `docs/benchmarks.md`.", "",
           "| Hops | " + " | ".join(f"{float(r):g}/s REGISTER p50 / p90 ms | {float(r):g}/s "
                                    f"INVITE → 302 p50 / p90 ms" for r in rates) + " |",
           "|---|" + "---|---|" * len(rates)]
    for r in rows:
        cells = [str(r["hops"])]
        for rate, kind in cols:
            g = r["by_rate"][rate][kind]
            cells.append(f"{f(g['p50'], 3)} / {f(g['p90'], 3)}")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    aims = []
    for rate in rates:
        fr, fi = hops["fit"][rate]["register_p50"], hops["fit"][rate]["invite_p50"]
        out.append(f"- {float(rate):g} calls/s: growth per extra hop (p50) REGISTER "
                   f"{f(fr['ms_per_hop'], 3)} ± {f(fr.get('se_ms_per_hop'), 3)} ms (R² "
                   f"{f(fr['r2'])}), INVITE → 302 {f(fi['ms_per_hop'], 3)} ± "
                   f"{f(fi.get('se_ms_per_hop'), 3)} ms per hop crossed (R² {f(fi['r2'])}).")
        a = hops["aims"][rate]
        aims.append(f"latency growth per extra hop under {hops['meta']['aim_ms_per_hop']} ms, at "
                    f"{float(rate):g} calls/s: REGISTER {verdict(a['register']['met'])} "
                    f"({f(a['register']['ms_per_hop'], 3)} ms), INVITE → 302 "
                    f"{verdict(a['invite']['met'])} ({f(a['invite']['ms_per_hop'], 3)} ms)")
    out += ["", "± is the slope's standard error.", "", fig, ""]
    return "\n".join(out), aims


def users_section(users, P):
    if not users:
        return "## Memory and SQLite against users\n\nNot run (no users.json).\n", []
    rows = users["rows"]
    mib = 1048576
    data = []
    for r in rows:
        w, s = r["with_circuits"], r["with_sip"]
        data.append([r["users"], w["memory"]["lighthouse"]["dirty_kb"] / 1024,
                     w["memory"]["lighthouse"]["rss_kb"] / 1024,
                     s["db"]["lighthouse"]["db"] / mib,
                     (s["db"]["lighthouse"]["db"] + s["db"]["lighthouse"]["wal"]) / mib,
                     w["memory"]["portal"]["dirty_kb"] / 1024, s["db"]["lookup"]["db"] / mib])
    d = P.data("users.dat", data)
    fig = P.plot("report-users", f"""
set title "Lighthouse memory and SQLite against registered users"
set xlabel "users (accounts, certificates, live circuits and bindings, HA1s, registrations)"
set ylabel "MiB"
set logscale xy
set format x "%.0s%c"
set key top left
plot '{d}' using 1:2 with linespoints pt 7 title "lighthouse Private_Dirty", \\
     '' using 1:3 with linespoints pt 6 title "lighthouse Rss", \\
     '' using 1:4 with linespoints pt 5 title "lighthouse.db", \\
     '' using 1:5 with linespoints pt 4 title "lighthouse.db + -wal", \\
     '' using 1:6 with linespoints pt 9 title "portal Private_Dirty", \\
     '' using 1:7 with linespoints pt 8 title "lookup.db"
""")
    out = ["## Memory and SQLite against registered users", "",
           "Per N, a fresh `testbed up --tree 2x1`; N circuits opened at once through the "
           "portal by `anosip-bench circuit-load --mode memory` (each a sign-up: account, "
           "certificate, lookup claim, live binding, as a ua's circuit), the lighthouse's "
           "memory read with all N open; then the HA1s and registration row a ua's password and "
           "SIP REGISTER add, written for the N accounts with the lighthouse's own SQL (a real "
           "REGISTER's rows checked to have the same shape), and the files again. What is not "
           "real: the N softphones and uas (one load process holds 16 circuits per client "
           "link). Details: `docs/benchmarks.md`.", "",
           "| Users | circuits open | lighthouse Private_Dirty MiB | per user B | "
           "lighthouse.db MiB (+ -wal) | per user B | lookup.db MiB |",
           "|---|---|---|---|---|---|---|"]
    for r, dd in zip(rows, data):
        w = r["with_sip"]["db"]["lighthouse"]
        made = r['circuits_open'] > 0
        out.append(f"| {r['users']:,} | {r['circuits_open']:,} | {dd[1]:.1f} | "
                   f"{f(r['lighthouse_dirty_bytes_per_user'], 0) if made else '—'} | {dd[3]:.2f} "
                   f"(+ {w['wal'] / mib:.2f}) | {f(r['lighthouse_db_bytes_per_user'], 0)} | "
                   f"{dd[6]:.2f} |")
    incomplete = [r["users"] for r in rows if not r.get("complete", True)]
    if incomplete:
        out += ["", f"Incomplete stages (fewer circuits or accounts than users): "
                f"{', '.join(map(str, incomplete))}; the per-user figures divide by what was "
                "made."]
    out += ["", fig, ""]
    return "\n".join(out), []


def links_section(lc, P):
    if not lc:
        return "## Links and circuits\n\nNot run (no linkcircuit.txt).\n", []
    rows = [[q("link 0->1 (frames)"), lc.get("link01"), lc.get("aead")],
            [q("link 1->0 (frames)"), lc.get("link10"), lc.get("aead")],
            [q("routed 1 hop"), lc.get("routed1"), lc.get("routed_crypto")],
            [q("routed 6 hops"), lc.get("routed6"), lc.get("routed_crypto")]]
    d = P.data("links.dat", [[r[0], num(r[1]) or 0, num(r[2]) or 0] for r in rows])
    fig = P.plot("report-links", f"""
set title "Links and routed messages against their ceilings (same run)"
set ylabel "per second"
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
plot '{d}' using 2:xtic(1) title "measured (live testbed)", '' using 3 title "ceiling: AEAD (links), routed crypto (routed)"
""")
    out = ["## Links and circuits (the earlier issues)", "",
           "From the same `make bench` run; every figure, its baseline and the explanations "
           "are in `docs/benchmarks.md`.", "",
           "| Figure | Measured | Baseline (same run) | Ratio |", "|---|---|---|---|",
           f"| one link node-0 → node-1, frames/s | {f(lc.get('link01'), 0)} | AEAD ceiling "
           f"{f(lc.get('aead'), 0)} | {ratio(lc.get('link01'), lc.get('aead'))} |",
           f"| one link node-1 → node-0, frames/s | {f(lc.get('link10'), 0)} | AEAD ceiling | "
           f"{ratio(lc.get('link10'), lc.get('aead'))} |",
           f"| routed, 1 hop, msgs/s | {f(lc.get('routed1'), 0)} | routed crypto "
           f"{f(lc.get('routed_crypto'), 0)} | {ratio(lc.get('routed1'), lc.get('routed_crypto'))} |",
           f"| routed, 6 hops, msgs/s | {f(lc.get('routed6'), 0)} | 1 hop | "
           f"{ratio(lc.get('routed6'), lc.get('routed1'))} |",
           f"| circuit builds/s, max, sign-ups / existing accounts | "
           f"{f(lc.get('circ_max_signup'), 0)} / {f(lc.get('circ_max_existing'), 0)} | "
           f"circuit crypto alone {f(lc.get('circ_crypto'), 0)} | "
           f"{ratio(lc.get('circ_max_existing'), lc.get('circ_crypto'))} |",
           f"| circuit build at {f(lc.get('circ_rate'), 0)}/s, p50 / p99 ms, sign-ups | "
           f"{f(lc.get('circ_signup_p50'))} / {f(lc.get('circ_signup_p99'))} | existing "
           f"accounts {f(lc.get('circ_existing_p50'))} / {f(lc.get('circ_existing_p99'))} | — |",
           f"| memory per circuit, worst hop | {lc.get('mem_worst', '—')} B at "
           f"{lc.get('mem_worst_node', '?')} | aim 1024 B | "
           f"{ratio(lc.get('mem_worst'), 1024)} |", "", fig, ""]
    aims = [f"(earlier issues) ≥ 100k frames/s per direction on one link: "
            f"{lc.get('link_aim', '?')}; circuit builds p99 under 5 ms at "
            f"{f(lc.get('circ_rate'), 0)}/s: {lc.get('circ_rate_aim', '?')}; memory per "
            f"circuit under 1 KiB: {lc.get('mem_aim', '?')}"]
    return "\n".join(out), aims


def guarded(title, fn, data, P):
    """One section; a file this script cannot read (another version's, cut
    short) costs that section, not the report."""
    try:
        return fn(data, P)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        print(f"bench-report: {title}: cannot use its figures: {e!r}", file=sys.stderr)
        return f"## {title}\n\nIts figures could not be read ({e!r}).\n", []


def timing_section(work):
    rows = load_kv(work, "timing.txt")
    if not rows:
        return "", None
    total = sum(num(v) or 0 for v in rows.values())
    out = ["## How long it took", "", "| Part | seconds |", "|---|---|"]
    out += [f"| {k} | {f(v, 0)} |" for k, v in rows.items()]
    out += [f"| **all** | **{total:.0f}** ({total / 60:.1f} min; budget {BUDGET_S // 60} min) |",
            ""]
    return "\n".join(out), total


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: scripts/bench_report.py WORK_DIR OUT_DIR [DOCS_MD]")
    work, out_dir = sys.argv[1], sys.argv[2]
    docs = sys.argv[3] if len(sys.argv) == 4 else "docs/benchmarks.md"
    os.makedirs(out_dir, exist_ok=True)
    P = Plotter(out_dir)
    try:
        sip = load_json(work, "sip.json")
        hops = load_json(work, "hops.json")
        users = load_json(work, "users.json")
        lc = load_kv(work, "linkcircuit.txt")
        s_sip, a_sip = guarded("SIP against Kamailio", sip_section, sip, P)
        s_hops, a_hops = guarded("Latency against hops", hops_section, hops, P)
        s_users, _ = guarded("Memory and SQLite against users", users_section, users, P)
        s_links, a_links = guarded("Links and circuits", links_section, lc, P)
        s_time, total = timing_section(work)
    finally:
        P.close()
    info = lc or {}
    aims = a_sip + a_hops + a_links
    text = "\n".join([
        "# Benchmark report: ANOSIP against plain SIP", "",
        "Written by `make bench` (`scripts/bench_report.py`, from the figures of "
        "`scripts/bench.sh`, `scripts/bench_sip.py`, `scripts/bench_kamailio.py`, "
        "`scripts/bench_hops.py` and `scripts/bench_users.py`); run `make bench` again to "
        "refresh it. Every figure's baseline was measured in the same run on the same machine; "
        "ratios compare figures of this run only.", "",
        f"- Date: {info.get('date', time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))}",
        f"- Machine: {info.get('machine', '?')}; load average {info.get('load_before', '?')} "
        f"before and {info.get('load_after', '?')} after",
        f"- Commit: {info.get('commit', '?')}", "",
        "## Aims", "", *[f"- {a}" for a in aims], "",
        s_sip, s_hops, s_users, s_links, s_time])
    # The full tables, as a link that works from the report's folder.
    link = os.path.relpath(os.path.abspath(docs), os.path.abspath(out_dir))
    text = text.replace("`docs/benchmarks.md`", f"[{docs}]({link})")
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write(text)
    for name, err in P.failed:
        print(f"bench-report: figure {name} failed: {err[:300]}", file=sys.stderr)
    print(f"bench-report: {os.path.join(out_dir, 'report.md')} and {len(P.made)} figures"
          + (f" (total {total:.0f} s)" if total else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
