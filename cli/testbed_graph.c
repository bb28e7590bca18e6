/* `anosip testbed graph`: one picture of a testbed for its operator. A
 * tree of a dozen nodes, its sibling rings and the circuits of its users
 * are hard to follow from `testbed status` and the control sockets one by
 * one; this writes them as Graphviz DOT (and SVG when `dot` is there).
 *
 * What it draws is asked of the running processes (circuit counts, each
 * ua's portal, lighthouse and circuit state); the path of an open circuit
 * is computed with topo_next_hop, the function the nodes route with, so the
 * picture shows where cells go rather than a second opinion. A process
 * that does not answer is drawn greyed and dashed: a half-broken testbed is
 * exactly when the picture is wanted. */
#include "cli/testbed.h"

#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define GRAPH_CTL_MS 1000
#define GRAPH_DOT_TIMEOUT_MS 30000
#define GRAPH_MAX_USERS 2000
#define GRAPH_GREY "grey60"

/* Users' colours, cycled; dark enough to read on white. */
static const char *const palette[] = {"red3",	     "blue3",	   "green4",	"darkorange2",
				      "purple3",     "deeppink3",  "cyan4",	"goldenrod4",
				      "saddlebrown", "darkviolet", "firebrick", "navy"};
#define PALETTE_N (sizeof(palette) / sizeof(palette[0]))

struct graph_user {
	char nick[64];
	char lighthouse[64];
	char portal[64];
	char state[16]; /* open | creating | none | down */
};

/* s inside a DOT quoted string: quotes and backslashes escaped (a label
 * would read "\N" as the node's name), control characters dropped. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (!iscntrl((unsigned char)*s))
			fputc(*s, f);
	}
}

static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	put_escaped(f, s);
	fputc('"', f);
}

/* The first word after KEY at the start of a line of text, where KEY is
 * followed by spaces or " = ": fits both a control reply ("circuits 3")
 * and a config line ("lighthouse = node-1"). 0, or -ENOENT. */
static int line_value(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	for (const char *next = text; next;) {
		const char *line = next + strspn(next, " \t");
		next = strchr(next, '\n');
		next = next ? next + 1 : NULL;
		if (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != '='))
			continue;
		const char *v = line + klen + strspn(line + klen, " \t");
		if (*v == '=')
			v += 1 + strspn(v + 1, " \t");
		size_t n = strcspn(v, " \t\r\n;#");
		if (n == 0 || n >= len)
			return -ENOENT;
		memcpy(out, v, n);
		out[n] = 0;
		return 0;
	}
	return -ENOENT;
}

/* One control request; the value of KEY in the reply. */
static int ask(const char *sock, const char *command, const char *key, char *out, size_t len)
{
	char *reply;
	int rc = ctl_request(sock, command, GRAPH_CTL_MS, &reply);
	if (rc < 0)
		return rc;
	rc = line_value(reply, key, out, len);
	free(reply);
	return rc;
}

/* What a ua says of itself; a ua that does not answer is "down", with
 * its lighthouse and first portal taken from its config. */
static void user_query(const char *dir, struct graph_user *u)
{
	char name[80], path[4096], *reply = NULL;
	snprintf(name, sizeof(name), "ua-%s", u->nick);
	tb_path(path, sizeof(path), dir, name, ".sock");
	if (ctl_request(path, "circuit", GRAPH_CTL_MS, &reply) == 0 &&
	    line_value(reply, "circuit", u->state, sizeof(u->state)) == 0) {
		line_value(reply, "lighthouse", u->lighthouse, sizeof(u->lighthouse));
		line_value(reply, "portal", u->portal, sizeof(u->portal));
		free(reply);
		return;
	}
	free(reply);
	snprintf(u->state, sizeof(u->state), "down");
	uint8_t *conf;
	size_t len;
	tb_path(path, sizeof(path), dir, name, ".conf");
	if (util_read_file(path, 1 << 16, &conf, &len) < 0)
		return;
	line_value((char *)conf, "lighthouse", u->lighthouse, sizeof(u->lighthouse));
	line_value((char *)conf, "portals", u->portal, sizeof(u->portal));
	free(conf);
}

/* Every node: id, roles, live circuits; returns how many did not answer. */
static int write_nodes(FILE *f, const char *dir, const struct topo *t)
{
	int down = 0;
	for (int i = 0; i < t->n; i++) {
		const struct topo_node *nd = &t->nodes[i];
		char roles[64], sock[4096], circuits[32];
		topo_roles_text(nd->roles, roles, sizeof(roles));
		tb_path(sock, sizeof(sock), dir, nd->id, ".sock");
		int up = ask(sock, "circuits", "circuits", circuits, sizeof(circuits)) == 0;
		down += !up;
		const char *fill = nd->roles & TOPO_ROLE_PORTAL	      ? "lightblue"
				   : nd->roles & TOPO_ROLE_LIGHTHOUSE ? "lightgoldenrod1"
				   : nd->roles			      ? "palegreen"
								      : "white";
		fprintf(f, "  ");
		put_quoted(f, nd->id);
		fprintf(f, " [class=\"node-%s\", label=\"", up ? "up" : "down");
		put_escaped(f, nd->id);
		fprintf(f, "\\n");
		put_escaped(f, roles);
		if (up) {
			/* The reply's word, escaped like everything else a process says. */
			fprintf(f, "\\n");
			put_escaped(f, circuits);
			fprintf(f, " circuit%s\"", strcmp(circuits, "1") ? "s" : "");
		} else {
			fprintf(f, "\\ndown\", style=\"rounded,dashed\", color=" GRAPH_GREY
				   ", fontcolor=" GRAPH_GREY);
		}
		fprintf(f, ", fillcolor=%s];\n", up ? fill : "white");
	}
	return down;
}

/* Tree edges parent -> child; one undirected dashed edge per adjacent pair
 * of each sibling ring (a ring of two is one link, of one none). */
static void write_links(FILE *f, const struct topo *t)
{
	for (int i = 0; i < t->n; i++) {
		const struct topo_node *nd = &t->nodes[i];
		for (int c = 0; c < nd->n_children; c++) {
			fprintf(f, "  ");
			put_quoted(f, nd->id);
			fprintf(f, " -> ");
			put_quoted(f, t->nodes[nd->children[c]].id);
			fprintf(f, " [class=\"tree\"];\n");
		}
		int ring = nd->n_children;
		for (int c = 0; ring >= 2 && c < (ring == 2 ? 1 : ring); c++) {
			fprintf(f, "  ");
			put_quoted(f, t->nodes[nd->children[c]].id);
			fprintf(f, " -> ");
			put_quoted(f, t->nodes[nd->children[(c + 1) % ring]].id);
			fprintf(f, " [class=\"ring\", style=dashed, dir=none, constraint=false, "
				   "color=grey40];\n");
		}
	}
}

/* A user, its link to its portal and, with an open circuit, the circuit's
 * path from the portal to the lighthouse hop by hop. */
static void write_user(FILE *f, const struct topo *t, const struct graph_user *u,
		       const char *colour)
{
	int down = strcmp(u->state, "down") == 0;
	const char *c = down ? GRAPH_GREY : colour;
	fprintf(f, "  \"ua:");
	put_escaped(f, u->nick);
	fprintf(f, "\" [class=\"user\", shape=oval, style=%s, color=%s, fontcolor=%s, label=\"",
		down ? "dashed" : "bold", c, c);
	put_escaped(f, u->nick);
	fprintf(f, "\\n");
	put_escaped(f, u->state);
	fprintf(f, "\"];\n");
	int portal = topo_find(t, u->portal);
	if (portal < 0)
		return;
	fprintf(f, "  ");
	put_quoted(f, u->portal);
	fprintf(f, " -> \"ua:");
	put_escaped(f, u->nick);
	fprintf(f, "\" [class=\"access\", dir=back, color=%s, style=%s];\n", c,
		strcmp(u->state, "open") == 0 ? "bold" : "dashed");
	int lh = topo_find(t, u->lighthouse);
	if (strcmp(u->state, "open") != 0 || lh < 0)
		return;
	/* At most n hops: topo_next_hop always makes progress, but a picture
	 * tool should not be the one to find out it does not. */
	for (int x = portal, hops = 0; x != lh && hops < t->n; hops++) {
		int next = topo_next_hop(t, x, lh);
		if (next < 0 || next == x)
			break;
		fprintf(f, "  ");
		put_quoted(f, t->nodes[x].id);
		fprintf(f, " -> ");
		put_quoted(f, t->nodes[next].id);
		fprintf(f,
			" [class=\"path\", color=%s, fontcolor=%s, penwidth=2, "
			"constraint=false, fontsize=9, label=\"",
			colour, colour);
		put_escaped(f, u->nick);
		fprintf(f, "\"];\n");
		x = next;
	}
}

static int write_dot(const char *path, const char *dir, const struct topo *t)
{
	struct graph_user *users = calloc(GRAPH_MAX_USERS, sizeof(*users));
	char(*nicks)[64] = calloc(GRAPH_MAX_USERS, sizeof(*nicks));
	FILE *f = NULL;
	int rc = -ENOMEM;
	if (!users || !nicks)
		goto out;
	f = fopen(path, "w");
	if (!f) {
		rc = -errno;
		fprintf(stderr, "anosip testbed graph: cannot write %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	fprintf(f,
		"// anosip testbed graph of %s: nodes (tree solid, sibling rings dashed),\n"
		"// users (ovals) and the path of every open circuit in the user's colour.\n"
		"digraph anosip {\n  rankdir=TB;\n"
		"  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n"
		"  edge [fontname=\"Helvetica\"];\n",
		dir);
	int down = write_nodes(f, dir, t);
	write_links(f, t);
	int n_users = tb_ua_list(dir, nicks, GRAPH_MAX_USERS), n_open = 0;
	for (int i = 0; i < n_users; i++) {
		snprintf(users[i].nick, sizeof(users[i].nick), "%s", nicks[i]);
		user_query(dir, &users[i]);
		n_open += strcmp(users[i].state, "open") == 0;
		write_user(f, t, &users[i], palette[(size_t)i % PALETTE_N]);
	}
	fprintf(f, "}\n");
	rc = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	f = NULL;
	if (rc < 0)
		fprintf(stderr, "anosip testbed graph: writing %s: %s\n", path, strerror(-rc));
	else
		printf("wrote %s (%d nodes, %d down; %d users, %d open circuits)\n", path, t->n,
		       down, n_users, n_open);
out:
	if (f)
		fclose(f);
	free(users);
	free(nicks);
	return rc;
}

/* --- dot, bounded in time --- */

static int run_dot(const char *dot_path, const char *svg_path)
{
	/* A file name starting with '-' would read as one of dot's options. */
	char input[4200];
	snprintf(input, sizeof(input), "%s%s", dot_path[0] == '-' ? "./" : "", dot_path);
	char *args[] = {"dot", "-Tsvg", "-o", (char *)svg_path, input, NULL};
	int killed = 0;
	int rc = util_run(args, GRAPH_DOT_TIMEOUT_MS, &killed);
	if (rc < 0) {
		fprintf(stderr,
			"anosip testbed graph: cannot run dot: %s (install Graphviz: apt-get "
			"install graphviz); %s is written\n",
			uv_strerror(rc), dot_path);
		return rc == UV_ENOENT ? -ENOENT : -ECHILD;
	}
	if (killed || rc != 0) {
		if (killed)
			fprintf(stderr, "anosip testbed graph: dot took more than %d s, killed\n",
				GRAPH_DOT_TIMEOUT_MS / 1000);
		else
			fprintf(stderr, "anosip testbed graph: dot failed on %s (exit %lld)\n",
				dot_path, (long long)rc);
		return -ECHILD;
	}
	printf("wrote %s\n", svg_path);
	return 0;
}

/* PREFIX.EXT, or DIR/graph.EXT without a prefix. */
static int out_path(char *buf, size_t len, const char *dir, const char *out, const char *ext)
{
	int n =
	    out ? snprintf(buf, len, "%s%s", out, ext) : snprintf(buf, len, "%s/graph%s", dir, ext);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int tb_graph(const char *dir, const struct topo *t, const char *out)
{
	char dot_path[4096], svg_path[4096];
	int rc = out_path(dot_path, sizeof(dot_path), dir, out, ".dot");
	if (rc == 0)
		rc = out_path(svg_path, sizeof(svg_path), dir, out, ".svg");
	if (rc < 0) {
		fprintf(stderr, "anosip testbed graph: output path too long\n");
		return rc;
	}
	rc = write_dot(dot_path, dir, t);
	if (rc == 0)
		rc = run_dot(dot_path, svg_path);
	return rc;
}
