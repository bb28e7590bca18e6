"""anosip-sim, the program: checked against a second opinion.

The second opinion is written here from the model's definition
(docs/simulator.md §2) in the plainest way: routes walked hop by hop with
this file's own copy of the routing rule, and for each target the
candidates enumerated user by user. The simulator computes the same
numbers with one leaves-first pass per lighthouse; they must agree on
uneven random trees for every timing mode and both tree policies.
Also: determinism, the paper's formula, the plot, a signed directory as
input, and clear errors."""
import csv
import io
import math
import os
import random
import subprocess
import sys
import tempfile
import xml.dom.minidom

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import Suite, anosip_bin, build_dir  # noqa: E402

suite = Suite("sim")
SIM = os.path.abspath(os.path.join(build_dir(), "anosip-sim"))
TIMEOUT = 120


def run_sim(*args, check=True):
    proc = subprocess.run([SIM, "--quiet", *args], capture_output=True, text=True,
                          timeout=TIMEOUT)
    if check and proc.returncode != 0:
        raise AssertionError(f"anosip-sim {' '.join(args)}: exit {proc.returncode}\n"
                             f"{proc.stderr}")
    return proc


def summary_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


# --- the second opinion ----------------------------------------------------

class Tree:
    """A tree from parent indices; children in index order form the ring."""

    def __init__(self, parent, roles):
        self.parent = parent
        self.roles = roles
        self.n = len(parent)
        self.children = [[] for _ in range(self.n)]
        for x, p in enumerate(parent):
            if p >= 0:
                self.children[p].append(x)
        self.ancestors = []
        for x in range(self.n):
            chain, y = [], x
            while y >= 0:
                chain.append(y)
                y = parent[y]
            self.ancestors.append(set(chain))

    def below(self, top, x):
        return top in self.ancestors[x]

    def child_toward(self, x, dest):
        return next(c for c in self.children[x] if self.below(c, dest))

    def next_hop(self, x, dest, policy):
        if x == dest:
            return x
        if self.below(x, dest):
            return self.child_toward(x, dest)
        p = self.parent[x]
        if policy == "updown" or not self.below(p, dest) or dest == p:
            return p
        ring = self.children[p]
        k, i = len(ring), ring.index(x)
        j = ring.index(self.child_toward(p, dest))
        forward = (j - i) % k
        return ring[(i + 1) % k] if forward <= k - forward else ring[(i - 1) % k]

    def path(self, x, dest, policy):
        out = [x]
        while x != dest:
            x = self.next_hop(x, dest, policy)
            out.append(x)
            assert len(out) <= self.n
        return out


def expected_entropy(tree, users, colluders, timing, policy, target):
    """users: list of (portal, lighthouse); the adversary's H for target."""
    portal, light = users[target]
    path = tree.path(portal, light, policy)
    routes = [tree.path(p, light, policy) for p, _ in users]

    def before(route, node):
        return route[:route.index(node)] if node in route else None

    correlate = timing == "active" or (timing == "passive" and light in colluders)
    if correlate:
        first = next((i for i, x in enumerate(path) if x in colluders), None)
        if first == 0:
            return 0.0
        h = light if first is None else path[first - 1]
        candidates = [u for u, r in enumerate(routes)
                      if users[u][0] not in colluders and before(r, h) is not None
                      and not any(x in colluders for x in before(r, h))]
        assert target in candidates
        return math.log2(len(candidates))
    honest = [x for x in path if x not in colluders]
    if not honest:
        return 0.0
    h = honest[-1]
    circuits = [u for u, r in enumerate(routes)
                if users[u][1] == light and before(r, h) is not None]

    def group(route):
        """The first cut on the way to h: an honest hop whose next colludes."""
        way = before(route, h)
        return next((x for i, x in enumerate(way[:-1])
                     if x not in colluders and way[i + 1] in colluders), None)

    prob = {}
    unknown = {}
    for u in circuits:
        if users[u][0] in colluders:
            prob[u] = 1.0 / len(circuits)
        else:
            g = group(routes[u])
            unknown[g] = unknown.get(g, 0) + 1
    for g, n in unknown.items():
        members = [u for u, r in enumerate(routes)
                   if users[u][0] not in colluders and before(r, h) is not None
                   and group(r) == g]
        for u in members:
            prob[u] = prob.get(u, 0) + n / len(members) / len(circuits)
    assert abs(sum(prob.values()) - 1) < 1e-9
    return -sum(p * math.log2(p) for p in prob.values() if p > 0)


def random_world(rng, workdir, size):
    """An uneven tree, its INI, and a population file."""
    parent = [-1]
    for x in range(1, size):
        parent.append(rng.randrange(0, x))
    tree0 = Tree(parent, [0] * size)
    leaves = [x for x in range(size) if not tree0.children[x]]
    inner = [x for x in range(1, size) if tree0.children[x]] or [0]
    lighthouses = rng.sample(inner, min(len(inner), rng.randint(1, 3)))
    portals = [x for x in range(size) if x not in lighthouses and
               (x in leaves or rng.random() < 0.2)]
    roles = ["lighthouse" if x in lighthouses else "portal" if x in portals else ""
             for x in range(size)]
    ini = ["[directory]", "serial = 1"]
    for x in range(size):
        ini += ["", f"[node r{x}]", f"address = 10.0.{x // 250}.{x % 250 + 1}:7000",
                f"sign_public = {os.urandom(32).hex()}", f"kx_public = {os.urandom(32).hex()}"]
        if parent[x] >= 0:
            ini.append(f"parent = r{parent[x]}")
        if roles[x]:
            ini.append(f"roles = {roles[x]}")
    topo_path = os.path.join(workdir, "topology.ini")
    with open(topo_path, "w") as f:
        f.write("\n".join(ini) + "\n")
    users = []
    pop = []
    for p in portals:
        counts = {}
        for _ in range(rng.randint(0, 4)):
            light = rng.choice(lighthouses)
            counts[light] = counts.get(light, 0) + 1
        if counts:
            pop.append(f"[r{p}]")
            for light, c in counts.items():
                pop.append(f"r{light} = {c}")
                users += [(p, light)] * c
    if not users:
        p, light = portals[0], lighthouses[0]
        pop += [f"[r{p}]", f"r{light} = 1"]
        users.append((p, light))
    pop_path = os.path.join(workdir, "population.ini")
    with open(pop_path, "w") as f:
        f.write("\n".join(pop) + "\n")
    return Tree(parent, roles), users, topo_path, pop_path


@suite.test
def matches_second_opinion_on_random_trees():
    rng = random.Random(20261202)
    checked = 0
    with tempfile.TemporaryDirectory() as work:
        for world in range(12):
            tree, users, topo_path, pop_path = random_world(rng, work, rng.randint(6, 22))
            for trial in range(4):
                colluders = set(rng.sample(range(tree.n), rng.randint(0, tree.n // 2)))
                for timing in ("none", "passive", "active"):
                    for policy in ("tree", "updown"):
                        per_target = os.path.join(work, "targets.csv")
                        args = ["--topology", topo_path, "--population", pop_path,
                                "--policy", policy, "--timing", timing,
                                "--trials", "1", "--targets", "all",
                                "--per-target", per_target]
                        if colluders:
                            args += ["--compromise", ",".join(f"r{x}" for x in colluders)]
                        run_sim(*args)
                        with open(per_target) as f:
                            rows = list(csv.DictReader(f))
                        assert len(rows) == len(users), (len(rows), len(users))
                        for row in rows:
                            u = int(row["user"])
                            want = expected_entropy(tree, users, colluders, timing, policy, u)
                            got = float(row["entropy"])
                            assert abs(got - want) < 1e-5, (
                                f"world {world} trial {trial} {timing} {policy} user {u}: "
                                f"sim {got}, model {want}; colluders {sorted(colluders)}")
                            want_hops = len(tree.path(*users[u], policy)) - 1
                            assert int(row["hops"]) == want_hops
                            checked += 1
    print(f"    {checked} targets agree with the second opinion")


@suite.test
def no_adversary_gives_degree_one():
    out = run_sim("--shape", "3x3", "--users", "500", "--trials", "2", "--targets", "100")
    row = summary_rows(out.stdout)[0]
    assert float(row["degree_mean"]) == 1.0, row
    assert float(row["full_linkage"]) == 0.0
    assert float(row["effective_set_mean"]) == 500.0


@suite.test
def same_seed_same_output():
    args = ["--shape", "3x4", "--users", "2000", "--random", "6", "--pf", "0.05",
            "--trials", "5", "--targets", "300"]

    a = run_sim(*args, "--seed", "7").stdout
    b = run_sim(*args, "--seed", "7", "--threads", "1").stdout
    c = run_sim(*args, "--seed", "8").stdout
    assert a == b, (a, b)  # byte for byte: no column depends on the clock
    assert a != c
    with tempfile.TemporaryDirectory() as work:
        outs = []
        for name in ("one", "two"):
            path = os.path.join(work, name + ".csv")
            run_sim(*args, "--seed", "7", "--per-target", path)
            with open(path) as f:
                outs.append(f.read())
        assert outs[0] == outs[1] and outs[0].count("\n") == 5 * 300 + 1
        # A trial's draws do not depend on the trials before it: the first
        # two of a 5-trial run are a 2-trial run.
        short = os.path.join(work, "short.csv")
        run_sim(*[a if a != "5" else "2" for a in args], "--seed", "7", "--per-target", short)
        with open(short) as f:
            assert outs[0].startswith(f.read())


@suite.test
def figure3_formula_and_plot():
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "fig3.csv")
        for image in ("fig3.png", "fig3.svg"):
            path = os.path.join(work, image)
            run_sim("--shape", "3x3", "--users", "300", "--figure3", "--pf-list", "0,0.3",
                    "--m-points", "4", "--trials", "3", "--targets", "50",
                    "--out", out, "--plot", path)
            with open(path, "rb") as f:
                data = f.read()
            if image.endswith(".png"):
                assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
            else:
                xml.dom.minidom.parseString(data)
        with open(out) as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 2 * 4
        portals = int(rows[0]["portals"])
        routers = int(rows[0]["routers"])
        assert (portals, routers) == (27, 13)
        assert [int(r["random_m"]) for r in rows[:4]] == [0, 9, 18, 27]
        n = portals + routers
        for r in rows:
            m, pf = float(r["random_m"]), float(r["pf"])
            assert float(r["formula_m"]) == m
            p = (n - routers - (m / portals) * pf) / n
            assert abs(float(r["formula_p"]) - p) < 1e-6
            h = -n * p * math.log2(p)
            assert abs(float(r["formula_entropy"]) - h) < 1e-4
            assert abs(float(r["formula_degree"]) - h / math.log2(n)) < 1e-5
        # More colluding portals, less anonymity; with pf on top, less again.
        d = [float(r["degree_mean"]) for r in rows]
        assert d[0] == 1.0 and d[3] < d[1] < d[0], d
        assert d[4] < d[0] and d[7] <= d[3] + 1e-9, d


@suite.test
def signed_directory_as_input():
    with tempfile.TemporaryDirectory() as work:
        rng = random.Random(5)
        tree, users, topo_path, pop_path = random_world(rng, work, 12)
        auth = os.path.join(work, "authority")
        subprocess.run([anosip_bin(), "keygen", "--out", auth], check=True,
                       capture_output=True, timeout=TIMEOUT)
        directory = os.path.join(work, "directory")
        subprocess.run([anosip_bin(), "directory", "sign", "--authority", auth + ".key",
                        "--topology", topo_path, "--out", directory], check=True,
                       capture_output=True, timeout=TIMEOUT)
        common = ["--population", pop_path, "--compromise", "r0", "--trials", "1",
                  "--targets", "all"]
        a = summary_rows(run_sim("--directory", directory, "--authority", auth + ".pub",
                                 *common).stdout)[0]
        b = summary_rows(run_sim("--topology", topo_path, *common).stdout)[0]
        for key in ("entropy_mean", "degree_mean", "hops_mean", "nodes", "users"):
            assert a[key] == b[key], (key, a[key], b[key])
        # Another authority's key: refused, with the reason.
        other = os.path.join(work, "other")
        subprocess.run([anosip_bin(), "keygen", "--out", other], check=True,
                       capture_output=True, timeout=TIMEOUT)
        bad = run_sim("--directory", directory, "--authority", other + ".pub", *common,
                      check=False)
        assert bad.returncode == 1 and "signature" in bad.stderr, bad.stderr


@suite.test
def bad_input_is_a_clear_error():
    cases = [
        (["--shape", "0x3"], 2, "--shape"),
        (["--shape", "3x"], 2, "--shape"),
        (["--users", "-5"], 2, "--users"),
        (["--pf", "1.5"], 2, "--pf"),
        (["--random", "3:villains"], 2, "--random"),
        (["--policy", "flood"], 2, "--policy"),
        (["--timing", "sometimes"], 2, "--timing"),
        (["--plot", "x.png"], 2, "--plot"),
        (["--figure3", "--out", "f.csv", "--plot", "x.pdf"], 2, "png or FILE.svg"),
        (["--figure3", "--random", "3"], 2, "do not go together"),
        (["--figure3", "--per-target", "t.csv"], 2, "do not go together"),
        (["--population", "p.ini", "--users", "5"], 2, "do not go together"),
        (["--topology", "t.ini", "--shape", "2x2"], 2, "do not go together"),
        (["--pf-list", "0.1"], 2, "add --figure3"),
        (["--authority", "a.pub"], 2, "--directory"),
        (["--out", "same.csv", "--per-target", "same.csv"], 2, "same file"),
        (["--directory", "/nonexistent"], 2, "--authority"),
        (["--shape", "2x2", "--random", "99"], 1, "only"),
        (["--shape", "2x2", "--compromise", "nobody"], 1, "not a node"),
        (["--shape", "2x2", "--lighthouses", "leaves"], 1, "both"),
        (["--shape", "16x4"], 1, "more than"),
        (["--topology", "/nonexistent.ini"], 1, "topology"),
        (["--population", "/nonexistent.ini"], 1, "cannot be read"),
        (["--population", "/dev/null"], 1, "not a regular file"),
    ]
    for args, code, words in cases:
        proc = run_sim(*args, check=False)
        assert proc.returncode == code, (args, proc.returncode, proc.stderr)
        assert words in proc.stderr, (args, proc.stderr)
        assert "AddressSanitizer" not in proc.stderr and "runtime error" not in proc.stderr


if __name__ == "__main__":
    sys.exit(suite.run())
