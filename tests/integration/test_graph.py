#!/usr/bin/env python3
"""Integration: `anosip testbed graph` (docs/deploy.md).

A 2x3 testbed with 4 users: the graph must name every node and user, draw
the tree (nodes - 1 edges) and the sibling rings (3 links per ring of 3),
link each user to the portal its ua reports, and draw each open circuit
along the path computed here, independently, from the signed directory
(`anosip directory show`). Then a stopped node and a stopped ua are drawn
down, not an error; a bad --out and a missing `dot` fail with one clear
line; small trees check rings of two and of one, and a testbed with no
users."""
import os
import re
import subprocess
import sys
import tempfile
import xml.dom.minidom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import SANITIZER_RE, Suite, Testbed, anosip_bin, run  # noqa: E402

suite = Suite("graph")
tb = None
USERS = 4

NODE_RE = re.compile(r'^\s*"([^"]+)" \[class="(node-up|node-down|user)".*label="([^"]*)"', re.M)
EDGE_RE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[class="(\w+)"(.*)\];$', re.M)


def testbed():
    global tb
    if tb is None:
        tb = Testbed("2x3", users=USERS)
        tb.up(timeout=90)
    return tb


def graph(t, prefix, check=True, env=None):
    p = run([anosip_bin(), "testbed", "graph", "--dir", t.dir, "--out", prefix], timeout=60,
            check=check, env=env)
    assert not SANITIZER_RE.search(p.stderr), p.stderr
    return p


def parse_dot(path):
    """(nodes {name: (class, label)}, edges [(a, b, class, attributes)])."""
    with open(path) as f:
        text = f.read()
    nodes = {m.group(1): (m.group(2), m.group(3)) for m in NODE_RE.finditer(text)}
    return nodes, [m.groups() for m in EDGE_RE.finditer(text)]


def directory(t):
    """[(id, parent or None)] in directory order, from the signed directory."""
    out = run([anosip_bin(), "directory", "show", "--authority", t.path("authority.pub"),
               t.path("directory.bin")], timeout=20).stdout
    rows = re.findall(r"^(\S+)\s+\S+\s+parent=(\S+)", out, re.M)
    assert rows, out
    return [(i, None if p == "-" else p) for i, p in rows]


def children_of(rows):
    kids = {i: [] for i, _ in rows}
    for i, p in rows:
        if p:
            kids[p].append(i)
    return kids


def next_hop(rows, x, dest):
    """DESIGN.md §3, written again here: down to the child whose subtree
    holds dest, else around the sibling ring the shorter way (ties
    forward) toward the sibling whose subtree holds dest, else up."""
    parent = dict(rows)
    kids = children_of(rows)

    def ancestors(n):
        out = [n]
        while parent[n]:
            n = parent[n]
            out.append(n)
        return out

    up = ancestors(dest)
    if x in up:
        return up[up.index(x) - 1]
    p = parent[x]
    if p in up[1:]:
        ring = kids[p]
        target = up[up.index(p) - 1]
        i, j, k = ring.index(x), ring.index(target), len(ring)
        forward = (j - i) % k
        return ring[(i + 1) % k] if forward <= k - forward else ring[(i - 1) % k]
    return p


def expected_path(rows, portal, lighthouse):
    path, x = [], portal
    while x != lighthouse:
        n = next_hop(rows, x, lighthouse)
        path.append((x, n))
        x = n
        assert len(path) <= len(rows), path
    return path


def check_shape(nodes, edges, rows):
    """Every node, the tree, the rings."""
    ids = [i for i, _ in rows]
    assert set(ids) <= set(nodes), set(ids) - set(nodes)
    tree = [(a, b) for a, b, c, _ in edges if c == "tree"]
    assert len(tree) == len(ids) - 1, tree
    assert set(tree) == {(p, i) for i, p in rows if p}, tree
    ring_edges = [frozenset((a, b)) for a, b, c, _ in edges if c == "ring"]
    expected = set()
    for ring in children_of(rows).values():
        if len(ring) >= 2:
            expected |= {frozenset((ring[i], ring[(i + 1) % len(ring)]))
                         for i in range(len(ring))}
    assert len(ring_edges) == len(set(ring_edges)) == len(expected), ring_edges
    assert set(ring_edges) == expected, ring_edges


def check_svg(path, names):
    doc = xml.dom.minidom.parse(path)
    titles = {n.firstChild.data for n in doc.getElementsByTagName("title") if n.firstChild}
    missing = [n for n in names if n not in titles]
    assert not missing, missing


def check_users(t, nodes, edges, rows, nicks):
    """Each user linked to the portal its ua reports; each open circuit's
    path equal to the one computed here. Returns the open nicks."""
    opened = []
    for nick in nicks:
        assert f"ua:{nick}" in nodes, nick
        c = t.circuit(nick)
        access = [a for a, b, cl, _ in edges if cl == "access" and b == f"ua:{nick}"]
        assert access == [c["portal"]], (nick, access, c)
        drawn = [(a, b) for a, b, cl, attrs in edges
                 if cl == "path" and f'label="{nick}"' in attrs]
        if c["circuit"] == "open":
            opened.append(nick)
            assert drawn == expected_path(rows, c["portal"], c["lighthouse"]), (nick, drawn)
        else:
            assert not drawn, (nick, drawn)
    return opened


@suite.test
def graph_of_a_running_testbed_matches_the_directory_and_the_circuits():
    t = testbed()
    prefix = t.path("g")
    p = graph(t, prefix)
    assert f"wrote {prefix}.dot" in p.stdout and f"wrote {prefix}.svg" in p.stdout, p.stdout
    run(["dot", "-Tsvg", "-o", os.devnull, prefix + ".dot"], timeout=30)
    rows = directory(t)
    nodes, edges = parse_dot(prefix + ".dot")
    check_shape(nodes, edges, rows)
    assert len([e for e in edges if e[2] == "ring"]) == 12  # four rings of three
    assert all(nodes[i][0] == "node-up" and "circuit" in nodes[i][1] for i, _ in rows), nodes
    nicks = t.ua_nicks()
    assert len(nicks) == USERS, nicks
    opened = check_users(t, nodes, edges, rows, nicks)
    assert len(opened) == USERS, opened
    # Circuits that cross a ring or go up exist in this testbed (user-2 is
    # homed on node-2 but enters at node-5, below node-1).
    assert any(len(expected_path(rows, t.circuit(n)["portal"], t.circuit(n)["lighthouse"])) > 1
               for n in nicks)
    check_svg(prefix + ".svg", [i for i, _ in rows] + [f"ua:{n}" for n in nicks])


@suite.test
def a_stopped_node_and_a_stopped_ua_are_drawn_down():
    t = testbed()
    # node-12 is no user's portal (user-K enters at node-(3+K), fails over
    # to node-(7+K)), so the other circuits stay as they are.
    t.stop("node-12")
    t.stop(t.ua("user-4"))
    prefix = t.path("down")
    p = graph(t, prefix)
    assert "1 down" in p.stdout, p.stdout
    rows = directory(t)
    nodes, edges = parse_dot(prefix + ".dot")
    check_shape(nodes, edges, rows)
    assert nodes["node-12"][0] == "node-down" and "down" in nodes["node-12"][1], nodes["node-12"]
    assert all(nodes[i][0] == "node-up" for i, _ in rows if i != "node-12"), nodes
    assert nodes["ua:user-4"][0] == "user" and "down" in nodes["ua:user-4"][1], nodes
    assert not [e for e in edges if e[2] == "path" and 'label="user-4"' in e[3]], edges
    opened = check_users(t, nodes, edges, rows, [n for n in t.ua_nicks() if n != "user-4"])
    assert len(opened) == USERS - 1, opened
    check_svg(prefix + ".svg", [i for i, _ in rows])


@suite.test
def a_bad_out_is_one_clear_line_and_exit_1():
    t = testbed()
    prefix = t.path("no/such/folder/g")
    p = graph(t, prefix, check=False)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{prefix}.dot" in lines[0], p.stderr


@suite.test
def without_dot_the_dot_file_is_written_and_graphviz_named():
    t = testbed()
    prefix = t.path("nodot")
    with tempfile.TemporaryDirectory() as empty:
        p = graph(t, prefix, check=False, env=dict(os.environ, PATH=empty))
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "graphviz" in p.stderr.lower() and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert os.path.getsize(prefix + ".dot") > 0 and not os.path.exists(prefix + ".svg")


@suite.test
def everything_stops_cleanly_with_no_sanitizer_report():
    global tb
    t = testbed()
    tb = None
    reports = t.down()
    assert not reports, "\n".join(reports[:20])


@suite.test
def small_trees_without_users_rings_of_two_and_of_one():
    # 2x2: three rings of two, one link each; 2x1: a chain, rings of one.
    for tree, rings in (("2x2", 3), ("2x1", 0)):
        with Testbed(tree) as t:
            p = run([anosip_bin(), "testbed", "graph", "--dir", t.dir], timeout=60)
            assert "0 users" in p.stdout, p.stdout
            rows = directory(t)
            nodes, edges = parse_dot(t.path("graph.dot"))
            check_shape(nodes, edges, rows)
            assert len([e for e in edges if e[2] == "ring"]) == rings, (tree, edges)
            assert not [e for e in edges if e[2] in ("access", "path")], edges
            subprocess.run(["dot", "-Tsvg", "-o", os.devnull, t.path("graph.dot")],
                           check=True, timeout=30)
            check_svg(t.path("graph.svg"), [i for i, _ in rows])
            assert not t.down()


if __name__ == "__main__":
    try:
        rc = suite.run()
    finally:
        if tb:
            tb.down()
    sys.exit(rc)
