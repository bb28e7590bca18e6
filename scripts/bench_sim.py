#!/usr/bin/env python3
"""The simulator's benchmark for `make bench` (and `make bench-sim`).

Usage: scripts/bench_sim.py BUILD/anosip-sim OUT.md

1. The issue's size: a 5x10 hierarchy (111,111 nodes, 100,000 portals at
   the leaves, 100 lighthouses at depth 2), 1,000,000 users, 100 trials of
   10,000 targets, each node colluding with probability 0.05; two threads.
   Next to it, in the same run: the same with one thread, and the world's
   set-up alone (1 trial of 1 target), so the per-trial cost is the
   difference. Every figure is the median of BENCH_RUNS runs (default 3),
   the runs interleaved.
2. How the cost grows with the number of lighthouses (10, 100, 1,000 at
   depths 1-3): one pass over the routing tree per lighthouse per trial.

Times are wall-clock seconds from the sim's own report (the run without
the set-up) and from here (everything); memory is the sim's peak RSS.
Every run is bounded by a timeout; nothing touches the network."""
import os
import re
import statistics
import subprocess
import sys
import time

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
LIMIT_S = 300

BIG = ["--shape", "5x10", "--lighthouses", "depth:2", "--users", "1000000",
       "--pf", "0.05", "--seed", "1"]


def run(sim, args):
    start = time.monotonic()
    proc = subprocess.run([sim, *args], capture_output=True, text=True, timeout=LIMIT_S)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"bench_sim: anosip-sim {' '.join(args)} failed:\n{proc.stderr}")
    m = re.search(r"in ([0-9.]+) s \(([0-9.]+) trials/s\), peak RSS ([0-9.]+) MiB",
                  proc.stderr)
    if not m:
        sys.exit(f"bench_sim: no summary line from anosip-sim:\n{proc.stderr}")
    row = proc.stdout.strip().splitlines()[-1].split(",")
    header = proc.stdout.strip().splitlines()[0].split(",")
    return {"wall": wall, "run": float(m.group(1)), "rss": float(m.group(3)),
            "row": dict(zip(header, row))}


def median_of(results, key):
    return statistics.median(r[key] for r in results)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/bench_sim.py ANOSIP_SIM OUT.md")
    sim, out_path = sys.argv[1], sys.argv[2]
    series = {
        "two": BIG + ["--trials", "100", "--targets", "10000", "--threads", "2"],
        "one": BIG + ["--trials", "100", "--targets", "10000", "--threads", "1"],
        "setup": BIG + ["--trials", "1", "--targets", "1", "--threads", "1"],
    }
    results = {k: [] for k in series}
    for i in range(RUNS):
        for name, args in series.items():
            results[name].append(run(sim, args))
            print(f"bench_sim: {name} run {i + 1}: {results[name][-1]['wall']:.2f} s",
                  file=sys.stderr)
    scaling = []
    for depth, count in ((1, 10), (2, 100), (3, 1000)):
        args = ["--shape", "5x10", "--lighthouses", f"depth:{depth}", "--users", "1000000",
                "--pf", "0.05", "--trials", "10", "--targets", "10000", "--threads", "2"]
        r = [run(sim, args) for _ in range(RUNS)]
        scaling.append((count, r))
        print(f"bench_sim: {count} lighthouses: {median_of(r, 'run'):.2f} s", file=sys.stderr)

    two, one, setup = (results[k] for k in ("two", "one", "setup"))
    two_run, one_run = median_of(two, "run"), median_of(one, "run")
    two_wall, setup_wall = median_of(two, "wall"), median_of(setup, "wall")
    first = two[0]["row"]
    lines = [
        "## Simulator (anosip-sim)",
        "",
        "Command (`scripts/bench_sim.py`, part of `make bench`; alone: `make bench-sim`):",
        "",
        "```",
        "anosip-sim " + " ".join(series["two"]),
        "```",
        "",
        f"{first['nodes']} nodes ({first['portals']} portals, {first['lighthouses']} "
        f"lighthouses), {int(first['users']):,} users, 100 trials of 10,000 targets, "
        f"every node colluding with probability 0.05 (about "
        f"{float(first['compromised_mean']):,.0f} a trial). Medians of {RUNS} runs, "
        "interleaved; ratios compare figures of this one run.",
        "",
        "| | 2 threads | 1 thread (baseline) | ratio |",
        "|---|---:|---:|---:|",
        f"| whole command, s (aim: under 60) | {two_wall:.2f} | {median_of(one, 'wall'):.2f} | "
        f"{median_of(one, 'wall') / two_wall:.2f} |",
        f"| the 100 trials, s | {two_run:.2f} | {one_run:.2f} | {one_run / two_run:.2f} |",
        f"| trials/s | {100 / two_run:.1f} | {100 / one_run:.1f} | {one_run / two_run:.2f} |",
        f"| targets/s | {1e6 / two_run:,.0f} | {1e6 / one_run:,.0f} | "
        f"{one_run / two_run:.2f} |",
        f"| peak RSS, MiB | {median_of(two, 'rss'):.0f} | {median_of(one, 'rss'):.0f} | |",
        "",
        f"Set-up alone (the tree, every lighthouse's routing tree, the population; "
        f"1 trial of 1 target): {setup_wall:.2f} s, {median_of(setup, 'rss'):.0f} MiB — "
        f"{100 * setup_wall / two_wall:.0f}% of the whole command. A trial costs one pass "
        "over the routing tree of each lighthouse that has targets (here all 100: "
        "11.1 million node visits) and a walk along each target's circuit; the "
        f"result: mean degree of anonymity {float(first['degree_mean']):.4f}, "
        f"mean path {float(first['hops_mean']):.2f} hops.",
        "",
        "How the cost grows with the lighthouses (same tree and users, 10 trials of "
        "10,000 targets, 2 threads; the routing tables are lighthouses x nodes x 8 B):",
        "",
        "| lighthouses | s for 10 trials | trials/s | ratio to 10 lighthouses | peak RSS, MiB |",
        "|---:|---:|---:|---:|---:|",
    ]
    base = median_of(scaling[0][1], "run")
    for count, r in scaling:
        t = median_of(r, "run")
        lines.append(f"| {count:,} | {t:.2f} | {10 / t:.1f} | {t / base:.1f} | "
                     f"{median_of(r, 'rss'):.0f} |")
    lines.append("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
