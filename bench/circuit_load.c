/* circuit_load: the live circuit benchmark (`anosip-bench circuit-load`,
 * run by scripts/bench.sh against a testbed).
 *
 * One process, one epoll loop. It opens anonymous client links to one portal
 * (the handshake of docs/protocol.md §3, as a ua makes it) and builds Mist
 * circuits through them to one lighthouse, each with its own nickname
 * (bench-RUN-I; the first build signs the nickname up). It keeps the
 * portal's bounds (router/router.h): at most ROUTER_CLIENT_MAX_PENDING
 * CREATEs in flight and ROUTER_CLIENT_MAX_CIRCUITS circuits per link, so a
 * round opens ceil(builds / 16) links and every circuit stays open until
 * the round ends and its links close.
 *
 * Modes:
 *   rate    an open-loop schedule: build i is due at i / RATE s; the builds
 *           are spread round robin over the links
 *   max     as fast as the bounds allow: WINDOW CREATEs in flight over all
 *           links, no more than the per-link bound
 *   memory  the memory of every node on the path, and of the lookup
 *           service, read from /proc/PID/smaps_rollup before any link, with
 *           the links open and no circuit, and with every circuit open;
 *           then (--hold) every node's CPU while the circuits stay open,
 *           and how long and how much CPU their teardown takes
 *
 * rate and max run, --runs times, a sign-up round (fresh nicknames) and
 * then a round with the same nicknames, whose accounts now exist, and print
 * every round's figures and their medians. The CREATE requests of a
 * round (circ_client_create) are made before it starts, so the schedule is
 * not held up by our own crypto; a build's latency runs from the write() of
 * its CREATE to the CREATED verified by circ_client_finish.
 *
 * Output: "key value" lines on stdout, as the rest of anosip-bench. Every
 * wait is bounded by a deadline; only loopback addresses from the testbed's
 * directory are dialled. */
#include "circuit/circuit.h"
#include "keys/keys.h"
#include "lighthouse/lh_private.h" /* sizeof(struct lh_circuit), a baseline */
#include "link/link.h"
#include "link.pb-c.h"
#include "node/node_private.h"	   /* sizeof(struct conn) */
#include "router/router_private.h" /* sizeof(struct circuit) */
#include "topo/topo.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* anosip-bench.c's circuit-load subcommand calls this. */
int circuit_load_main(int argc, char **argv);

#define PER_LINK ROUTER_CLIENT_MAX_CIRCUITS
#define PER_LINK_PENDING ROUTER_CLIENT_MAX_PENDING
#define MAX_BUILDS 20000
#define MAX_LINKS ((MAX_BUILDS + PER_LINK - 1) / PER_LINK)
#define MAX_WATCH 16
#define MAX_RUNS 9
#define HANDSHAKES_AT_ONCE 16		/* a portal accepts 64 at once (max_pending_handshakes) */
#define KEEPALIVE_NS 1000000000ull	/* the testbed's keepalive_ms; dead_ms is 5000 */
#define BUILD_TIMEOUT_NS 15000000000ull /* a hop gives up after 10 s (ROUTER_CREATE_TIMEOUT_MS) */
#define LINKS_UP_TIMEOUT_NS 30000000000ull
#define TEARDOWN_TIMEOUT_MS 30000
#define SETTLE_NS 1500000000ull /* > keepalive_ms: every link has sent both ways */
#define LATE_NS 1000000ull	/* a scheduled CREATE sent later than this is late */
#define OUT_MAX (256 * 1024)	/* bytes queued on one link before we give up on it */
#define EVENTS 256
#define SLOWEST 8 /* the slowest builds of a round are listed, for attributing a tail */
#define CTL_TIMEOUT_MS 5000

enum fail_kind {
	/* 0..9: DestroyReason values, as the lighthouse or a hop sent them */
	FAIL_LINK = 16, /* our link to the portal closed with the CREATE pending */
	FAIL_TIMEOUT,	/* no answer in BUILD_TIMEOUT_NS */
	FAIL_AUTH,	/* a CREATED that circ_client_finish refused */
	FAIL_SEND,	/* the CREATE could not be written */
	FAIL_KINDS
};

enum link_state { L_FREE, L_CONNECTING, L_HANDSHAKE, L_UP, L_CLOSED };
enum build_state { B_NEW, B_SENT, B_OK, B_FAILED };

struct slot {
	uint32_t id;
	int build; /* -1: free */
	int open;
};

struct blink {
	int fd;
	enum link_state state;
	int attempts;
	struct link_handshake hs;
	struct link_session s;
	uint8_t in[LINK_FRAME_SIZE];
	size_t in_len;
	uint8_t *out;
	size_t out_len, out_cap;
	int want_out; /* EPOLLOUT registered */
	uint64_t last_tx_ns;
	int pending, used;
	struct slot slots[PER_LINK];
};

struct nick {
	char name[CIRC_NICKNAME_MAX + 1];
	struct keys_pair keys;
};

struct build {
	int nick;
	int link, slot;
	enum build_state state;
	int fail;
	uint64_t due_ns, sent_ns, done_ns;
	struct circ_client cc;
	uint8_t *sealed;
	size_t sealed_len;
};

struct watch {
	int node;
	const char *role;
	pid_t pid;
};

struct mem {
	long rss_kb, dirty_kb, anon_kb;
	/* Private_Dirty by mapping: the brk heap (malloc's small blocks) and
	 * anonymous mmaps (malloc's blocks of 128 KiB and more: hash tables,
	 * replay memories); -1 when /proc/PID/smaps cannot be read. */
	long heap_kb, mmap_kb;
};

enum mode { M_RATE, M_MAX, M_MEMORY };

struct load {
	/* options */
	const char *dir;
	const char *run;
	enum mode mode;
	double rate, seconds;
	int count, window, runs, circuits;
	double timeout_s;
	double hold_s; /* memory: how long the circuits stay open after the figures */
	/* the network */
	struct topo *topo;
	int portal, lighthouse;
	struct sockaddr_storage portal_addr;
	int path[64], path_len;
	struct watch watch[MAX_WATCH];
	int n_watch;
	/* nicknames */
	struct nick *nicks;
	int n_nicks;
	/* links */
	int ep;
	struct blink *links;
	int want_links, n_links, next_open, connecting, up, link_failures;
	/* the round */
	struct build *builds;
	int n_builds, next_send, inflight, answered, ok;
	int scheduling; /* 0: no CREATE goes out */
	int opening;	/* open_links is running: failed links are tried again */
	uint64_t t0, first_sent, last_done;
	uint64_t fails[FAIL_KINDS];
	int lost_open; /* open circuits destroyed before the round ended */
	int late;
	uint64_t late_max;
	uint64_t next_keepalive_scan, next_expiry_scan;
	int rr; /* round robin over links */
};

static uint8_t read_buf[64 * 1024];
static uint8_t pack_buf[LINK_MESSAGE_MAX];
static uint8_t frame_buf[LINK_FRAMES_MAX * LINK_FRAME_SIZE];

static uint64_t now_ns(void)
{
	return util_now_ns();
}

static uint64_t cpu_self_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- control sockets and /proc --- */

/* One command to DIR/NODE.sock; the reply (NUL-terminated) into out. */
static int ctl_query(const struct load *L, int node, const char *cmd, char *out, size_t cap)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int n =
	    snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s.sock", L->dir, L->topo->nodes[node].id);
	if (n < 0 || (size_t)n >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	char line[128];
	int len = snprintf(line, sizeof(line), "%s\n", cmd);
	size_t got = 0;
	int rc = 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, line, (size_t)len) != len)
		rc = -errno;
	uint64_t deadline = util_now_ms() + CTL_TIMEOUT_MS;
	/* The node answers and closes. */
	while (rc == 0 && got < cap - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = util_now_ms();
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		ssize_t r = read(fd, out + got, cap - 1 - got);
		if (r > 0)
			got += (size_t)r;
		else if (r == 0)
			break;
		else if (errno != EINTR && errno != EAGAIN)
			rc = -errno;
	}
	close(fd);
	out[got] = 0;
	return rc;
}

/* The number after "KEY " at the start of a line of a ctl reply, or -1. */
static long reply_value(const char *reply, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = reply; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, k) == 0 && p[k] == ' ')
			return strtol(p + k + 1, NULL, 10);
	return -1;
}

static long ctl_metric(const struct load *L, int node, const char *cmd, const char *key)
{
	static char reply[64 * 1024];
	if (ctl_query(L, node, cmd, reply, sizeof(reply)) < 0)
		return -1;
	return reply_value(reply, key);
}

static pid_t read_pid(const struct load *L, int node)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.pid", L->dir, L->topo->nodes[node].id);
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* Rss, Private_Dirty and Anonymous of a process (kB), from smaps_rollup;
 * VmRSS and RssAnon from status where smaps_rollup cannot be read. */
static int read_mem(pid_t pid, struct mem *m)
{
	char path[64], line[256];
	m->rss_kb = m->dirty_kb = m->anon_kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "Rss: %ld", &m->rss_kb);
			sscanf(line, "Private_Dirty: %ld", &m->dirty_kb);
			sscanf(line, "Anonymous: %ld", &m->anon_kb);
		}
		fclose(f);
	}
	m->heap_kb = m->mmap_kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (f) {
		/* A mapping's header line has an address range and, for a file or
		 * [heap], a name in its sixth field; its fields follow. */
		int kind = 0; /* 1 heap, 2 anonymous, 0 other */
		long v;
		m->heap_kb = m->mmap_kb = 0;
		while (fgets(line, sizeof(line), f)) {
			char name[128] = "";
			unsigned long lo, hi;
			if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %127s", &lo, &hi, name) >= 2 &&
			    strchr(line, '-') && line[0] != ' ') {
				kind = strcmp(name, "[heap]") == 0 ? 1 : name[0] == 0 ? 2 : 0;
				continue;
			}
			if (sscanf(line, "Private_Dirty: %ld", &v) == 1) {
				if (kind == 1)
					m->heap_kb += v;
				else if (kind == 2)
					m->mmap_kb += v;
			}
		}
		fclose(f);
	}
	if (m->rss_kb >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &m->rss_kb);
		sscanf(line, "RssAnon: %ld", &m->anon_kb);
	}
	fclose(f);
	m->dirty_kb = m->anon_kb;
	return m->rss_kb >= 0 ? 0 : -EIO;
}

/* CPU time a process has used (ns) and the time it waited on a run queue
 * for a CPU (ns; 0 without schedstat), from schedstat or, without it, stat. */
static uint64_t read_cpu_ns(pid_t pid, uint64_t *wait_ns)
{
	char path[64];
	unsigned long long ns = 0, wait = 0;
	*wait_ns = 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%llu %llu", &ns, &wait) != 2)
			ns = wait = 0;
		fclose(f);
		*wait_ns = wait;
		return ns;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	unsigned long ut = 0, st = 0;
	/* Fields 14 and 15; the command (field 2) holds no blanks here. */
	if (fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		ut = st = 0;
	fclose(f);
	return (uint64_t)(ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* --- links --- */

static void link_watch(struct load *L, int i, int out)
{
	struct blink *b = &L->links[i];
	if (b->want_out == out)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)i};
	epoll_ctl(L->ep, EPOLL_CTL_MOD, b->fd, &ev);
	b->want_out = out;
}

static void build_fail(struct load *L, struct build *b, int kind)
{
	if (b->state != B_SENT)
		return;
	b->state = B_FAILED;
	b->fail = kind;
	b->done_ns = now_ns();
	L->fails[kind]++;
	L->inflight--;
	L->answered++;
	sodium_memzero(&b->cc, sizeof(b->cc));
}

static void link_close(struct load *L, int i, int count_failure)
{
	struct blink *b = &L->links[i];
	if (b->state == L_FREE || b->state == L_CLOSED)
		return;
	if (b->state == L_CONNECTING || b->state == L_HANDSHAKE)
		L->connecting--;
	if (b->state == L_UP)
		L->up--;
	if (count_failure)
		L->link_failures++;
	epoll_ctl(L->ep, EPOLL_CTL_DEL, b->fd, NULL);
	close(b->fd);
	b->fd = -1;
	b->state = L_CLOSED;
	for (int s = 0; s < PER_LINK; s++) {
		struct slot *sl = &b->slots[s];
		if (sl->build < 0)
			continue;
		struct build *bd = &L->builds[sl->build];
		if (!sl->open)
			build_fail(L, bd, FAIL_LINK);
		else if (count_failure)
			L->lost_open++;
		sl->build = -1;
	}
	b->pending = b->used = 0;
	link_handshake_wipe(&b->hs);
	link_session_wipe(&b->s);
	free(b->out);
	b->out = NULL;
	b->out_len = b->out_cap = 0;
}

/* Writes what is queued; 0, or -1 after closing the link. */
static int link_flush(struct load *L, int i)
{
	struct blink *b = &L->links[i];
	size_t done = 0;
	while (done < b->out_len) {
		ssize_t w = write(b->fd, b->out + done, b->out_len - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		link_close(L, i, 1);
		return -1;
	}
	memmove(b->out, b->out + done, b->out_len - done);
	b->out_len -= done;
	link_watch(L, i, b->out_len > 0);
	return 0;
}

static int link_queue(struct load *L, int i, const uint8_t *data, size_t len)
{
	struct blink *b = &L->links[i];
	if (b->out_len + len > OUT_MAX) {
		link_close(L, i, 1);
		return -1;
	}
	if (b->out_len + len > b->out_cap) {
		size_t cap = b->out_cap ? b->out_cap * 2 : 4096;
		while (cap < b->out_len + len)
			cap *= 2;
		uint8_t *o = realloc(b->out, cap);
		if (!o) {
			link_close(L, i, 1);
			return -1;
		}
		b->out = o;
		b->out_cap = cap;
	}
	memcpy(b->out + b->out_len, data, len);
	b->out_len += len;
	b->last_tx_ns = now_ns();
	return link_flush(L, i);
}

static int link_send(struct load *L, int i, const Anosip__V1__LinkMessage *m)
{
	size_t len = anosip__v1__link_message__get_packed_size(m);
	if (len > sizeof(pack_buf))
		return -EMSGSIZE;
	anosip__v1__link_message__pack(m, pack_buf);
	long n = link_seal_message(&L->links[i].s, pack_buf, len, frame_buf, sizeof(frame_buf));
	if (n < 0)
		return -EMSGSIZE;
	return link_queue(L, i, frame_buf, (size_t)n);
}

static int link_open(struct load *L, int i)
{
	struct blink *b = &L->links[i];
	int fd = socket(L->portal_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	socklen_t alen = L->portal_addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							      : sizeof(struct sockaddr_in);
	if (connect(fd, (struct sockaddr *)&L->portal_addr, alen) < 0 && errno != EINPROGRESS) {
		int e = -errno;
		close(fd);
		return e;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
	if (epoll_ctl(L->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	memset(b, 0, sizeof(*b));
	for (int s = 0; s < PER_LINK; s++)
		b->slots[s].build = -1;
	b->fd = fd;
	b->want_out = 1;
	b->state = L_CONNECTING;
	const struct topo_node *p = &L->topo->nodes[L->portal];
	/* keys NULL: an anonymous initiator, as a ua. */
	link_handshake_initiator(&b->hs, NULL, "", p->id, p->keys.sign);
	L->connecting++;
	return 0;
}

/* Opens links until want_links are open or opening, a few at a time. */
static void links_schedule(struct load *L)
{
	while (L->connecting < HANDSHAKES_AT_ONCE && L->next_open < L->want_links) {
		int i = L->next_open++;
		if (link_open(L, i) < 0)
			L->link_failures++;
	}
	/* A link that failed to come up is tried again, twice at most. */
	for (int i = 0; i < L->next_open && L->connecting < HANDSHAKES_AT_ONCE; i++) {
		struct blink *b = &L->links[i];
		if (L->opening && b->state == L_CLOSED && b->attempts < 2) {
			int attempts = b->attempts + 1;
			if (link_open(L, i) == 0)
				L->links[i].attempts = attempts;
			else
				b->attempts = attempts;
		}
	}
}

static void on_connected(struct load *L, int i)
{
	struct blink *b = &L->links[i];
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		link_close(L, i, 1);
		return;
	}
	uint8_t frame[LINK_FRAME_SIZE];
	b->state = L_HANDSHAKE;
	link_watch(L, i, 0);
	if (link_handshake_write_1(&b->hs, frame) < 0) {
		link_close(L, i, 1);
		return;
	}
	link_queue(L, i, frame, sizeof(frame));
}

static void on_handshake_frame(struct load *L, int i, const uint8_t frame[LINK_FRAME_SIZE])
{
	struct blink *b = &L->links[i];
	uint8_t out[LINK_FRAME_SIZE];
	if (link_handshake_read_2(&b->hs, frame) < 0 || link_handshake_write_3(&b->hs, out) < 0 ||
	    link_handshake_finish(&b->hs, &b->s) < 0) {
		link_close(L, i, 1);
		return;
	}
	b->state = L_UP;
	L->connecting--;
	L->up++;
	link_queue(L, i, out, sizeof(out));
}

static int slot_find(struct blink *b, uint32_t id)
{
	for (int s = 0; s < PER_LINK; s++)
		if (b->slots[s].build >= 0 && b->slots[s].id == id)
			return s;
	return -1;
}

static void on_created(struct load *L, struct blink *b, int s, const Anosip__V1__Created *created)
{
	struct slot *sl = &b->slots[s];
	struct build *bd = &L->builds[sl->build];
	if (sl->open || bd->state != B_SENT)
		return;
	struct circ_keys keys;
	Anosip__V1__CreateConfirm *confirm = NULL;
	if (circ_client_finish(&bd->cc, created, &keys, &confirm) < 0) {
		b->pending--;
		b->used--;
		sl->build = -1;
		build_fail(L, bd, FAIL_AUTH);
		return;
	}
	bd->done_ns = now_ns();
	anosip__v1__create_confirm__free_unpacked(confirm, NULL);
	circ_keys_wipe(&keys);
	bd->state = B_OK;
	sl->open = 1;
	b->pending--;
	L->inflight--;
	L->answered++;
	L->ok++;
	if (bd->done_ns > L->last_done)
		L->last_done = bd->done_ns;
}

static void on_cell(struct load *L, int i, const Anosip__V1__Cell *cell)
{
	struct blink *b = &L->links[i];
	int s = slot_find(b, cell->circuit_id);
	if (s < 0)
		return;
	struct slot *sl = &b->slots[s];
	if (cell->body_case == ANOSIP__V1__CELL__BODY_CREATED) {
		on_created(L, b, s, cell->created);
	} else if (cell->body_case == ANOSIP__V1__CELL__BODY_DESTROY) {
		int reason = cell->destroy->reason;
		if (reason < 0 || reason >= FAIL_LINK)
			reason = 0;
		struct build *bd = &L->builds[sl->build];
		if (sl->open) {
			L->lost_open++;
		} else if (bd->state == B_SENT) {
			b->pending--;
			build_fail(L, bd, reason);
		} /* else it timed out here already (and was counted) */
		sl->build = -1;
		sl->open = 0;
		b->used--;
	}
}

static void on_readable(struct load *L, int i)
{
	struct blink *b = &L->links[i];
	for (int rounds = 0; rounds < 16 && b->state != L_CLOSED; rounds++) {
		ssize_t r = read(b->fd, read_buf, sizeof(read_buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			link_close(L, i, 1);
			return;
		}
		const uint8_t *p = read_buf;
		size_t left = (size_t)r;
		while (left > 0 && b->state != L_CLOSED) {
			size_t take = LINK_FRAME_SIZE - b->in_len;
			if (take > left)
				take = left;
			memcpy(b->in + b->in_len, p, take);
			b->in_len += take;
			p += take;
			left -= take;
			if (b->in_len < LINK_FRAME_SIZE)
				break;
			b->in_len = 0;
			if (b->state == L_HANDSHAKE) {
				on_handshake_frame(L, i, b->in);
				continue;
			}
			const uint8_t *msg;
			size_t len;
			int rc = link_open_frame(&b->s, b->in, &msg, &len);
			if (rc < 0) {
				link_close(L, i, 1);
				break;
			}
			if (rc == 0)
				continue;
			Anosip__V1__LinkMessage *m =
			    anosip__v1__link_message__unpack(NULL, len, msg);
			if (m && m->body_case == ANOSIP__V1__LINK_MESSAGE__BODY_CELL)
				on_cell(L, i, m->cell);
			anosip__v1__link_message__free_unpacked(m, NULL);
		}
		if ((size_t)r < sizeof(read_buf))
			return;
	}
}

static void keepalives(struct load *L, uint64_t now)
{
	if (now < L->next_keepalive_scan)
		return;
	L->next_keepalive_scan = now + 100000000ull;
	Anosip__V1__Keepalive ka = ANOSIP__V1__KEEPALIVE__INIT;
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_KEEPALIVE;
	m.keepalive = &ka;
	for (int i = 0; i < L->n_links; i++)
		if (L->links[i].state == L_UP && now >= L->links[i].last_tx_ns + KEEPALIVE_NS)
			link_send(L, i, &m);
}

/* --- builds --- */

/* A link with room for one more CREATE, round robin; -1 if none. */
static int pick_link(struct load *L)
{
	for (int k = 0; k < L->n_links; k++) {
		int i = (L->rr + k) % L->n_links;
		struct blink *b = &L->links[i];
		if (b->state == L_UP && b->pending < PER_LINK_PENDING && b->used < PER_LINK) {
			L->rr = (i + 1) % L->n_links;
			return i;
		}
	}
	return -1;
}

static int send_create(struct load *L, int bi)
{
	int i = pick_link(L);
	if (i < 0)
		return -EAGAIN;
	struct blink *b = &L->links[i];
	struct build *bd = &L->builds[bi];
	int s = 0;
	while (b->slots[s].build >= 0)
		s++;
	uint32_t id;
	do /* we dialed the portal: our ids carry the high bit */
		id = randombytes_random() | 0x80000000u;
	while (id == 0x80000000u || slot_find(b, id) >= 0);
	Anosip__V1__Create create = ANOSIP__V1__CREATE__INIT;
	Anosip__V1__Cell cell = ANOSIP__V1__CELL__INIT;
	Anosip__V1__LinkMessage m = ANOSIP__V1__LINK_MESSAGE__INIT;
	create.lighthouse = L->topo->nodes[L->lighthouse].id;
	create.sealed.data = bd->sealed;
	create.sealed.len = bd->sealed_len;
	cell.circuit_id = id;
	cell.body_case = ANOSIP__V1__CELL__BODY_CREATE;
	cell.create = &create;
	m.body_case = ANOSIP__V1__LINK_MESSAGE__BODY_CELL;
	m.cell = &cell;
	b->slots[s].id = id;
	b->slots[s].build = bi;
	b->slots[s].open = 0;
	b->pending++;
	b->used++;
	bd->link = i;
	bd->slot = s;
	bd->state = B_SENT;
	bd->sent_ns = now_ns();
	L->inflight++;
	if (!L->first_sent)
		L->first_sent = bd->sent_ns;
	int rc = link_send(L, i, &m);
	free(bd->sealed);
	bd->sealed = NULL;
	if (rc == -EMSGSIZE) {
		b->slots[s].build = -1;
		b->pending--;
		b->used--;
		build_fail(L, bd, FAIL_SEND);
	}
	/* A write error closed the link and failed the build with it. */
	return 0;
}

static void schedule_builds(struct load *L, uint64_t now)
{
	if (!L->scheduling)
		return;
	if (L->mode == M_RATE) {
		while (L->next_send < L->n_builds && L->builds[L->next_send].due_ns <= now) {
			if (send_create(L, L->next_send) < 0)
				return; /* no link has room: late, tried again next turn */
			struct build *bd = &L->builds[L->next_send];
			uint64_t late = bd->sent_ns - bd->due_ns;
			if (late > LATE_NS)
				L->late++;
			if (late > L->late_max)
				L->late_max = late;
			L->next_send++;
		}
	} else {
		while (L->next_send < L->n_builds && L->inflight < L->window) {
			if (send_create(L, L->next_send) < 0)
				return;
			L->next_send++;
		}
	}
}

static void expire_builds(struct load *L, uint64_t now)
{
	if (now < L->next_expiry_scan || !L->inflight)
		return;
	L->next_expiry_scan = now + 100000000ull;
	for (int i = 0; i < L->next_send; i++) {
		struct build *bd = &L->builds[i];
		if (bd->state != B_SENT || now < bd->sent_ns + BUILD_TIMEOUT_NS)
			continue;
		struct blink *b = &L->links[bd->link];
		/* The circuit id stays taken: the portal may still hold it. */
		b->pending--;
		build_fail(L, bd, FAIL_TIMEOUT);
	}
}

/* --- the loop --- */

typedef int (*done_fn)(const struct load *L);

static int done_links_up(const struct load *L)
{
	return L->next_open >= L->want_links && L->connecting == 0;
}

static int done_round(const struct load *L)
{
	return L->answered >= L->n_builds;
}

static int done_never(const struct load *L)
{
	return 0;
}

static int wait_events(struct load *L, struct epoll_event *ev, uint64_t wait)
{
	struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull),
			      .tv_nsec = (long)(wait % 1000000000ull)};
	static int no_pwait2;
	if (!no_pwait2) {
		int n = epoll_pwait2(L->ep, ev, EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		no_pwait2 = 1;
	}
	return epoll_wait(L->ep, ev, EVENTS, (int)((wait + 999999) / 1000000));
}

/* Runs the loop until done() or the deadline; 0, or -ETIMEDOUT. */
static int loop_until(struct load *L, uint64_t deadline, done_fn done)
{
	struct epoll_event ev[EVENTS];
	for (;;) {
		uint64_t now = now_ns();
		links_schedule(L);
		schedule_builds(L, now);
		keepalives(L, now);
		expire_builds(L, now);
		if (done(L))
			return 0;
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t wake = deadline < now + 100000000ull ? deadline : now + 100000000ull;
		if (L->scheduling && L->mode == M_RATE && L->next_send < L->n_builds &&
		    L->builds[L->next_send].due_ns < wake) {
			wake = L->builds[L->next_send].due_ns;
			/* Due and not sent: no link had room; look again soon. */
			if (wake <= now)
				wake = now + 1000000ull;
		}
		int n = wait_events(L, ev, wake > now ? wake - now : 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int k = 0; k < n; k++) {
			int i = (int)ev[k].data.u32;
			struct blink *b = &L->links[i];
			if (b->state == L_CLOSED || b->state == L_FREE)
				continue;
			if (b->state == L_CONNECTING) {
				if (ev[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					on_connected(L, i);
				continue;
			}
			if (ev[k].events & EPOLLOUT)
				link_flush(L, i);
			if (b->state != L_CLOSED &&
			    (ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				on_readable(L, i);
		}
	}
}

/* Opens n links to the portal and waits until they are up. */
static int open_links(struct load *L, int n)
{
	L->want_links = n;
	L->n_links = n;
	L->next_open = 0;
	L->connecting = L->up = L->link_failures = 0;
	L->rr = 0;
	for (int i = 0; i < n; i++) {
		L->links[i].state = L_FREE;
		L->links[i].fd = -1;
	}
	L->opening = 1;
	int rc = loop_until(L, now_ns() + LINKS_UP_TIMEOUT_NS, done_links_up);
	L->opening = 0;
	if (rc < 0 || L->up < n) {
		fprintf(stderr, "circuit-load: %d of %d links to %s up (%d failures)\n", L->up, n,
			L->topo->nodes[L->portal].id, L->link_failures);
		return -EIO;
	}
	return 0;
}

static void close_links(struct load *L)
{
	for (int i = 0; i < L->n_links; i++)
		link_close(L, i, 0);
	L->n_links = L->want_links = 0;
}

/* Waits until the portal holds no client and no hop on the path any circuit. */
static int wait_teardown(struct load *L)
{
	uint64_t deadline = util_now_ms() + TEARDOWN_TIMEOUT_MS;
	for (;;) {
		long busy = ctl_metric(L, L->portal, "status", "clients");
		for (int h = 0; h < L->path_len && busy == 0; h++)
			busy = ctl_metric(L, L->path[h], "metrics", "circuits");
		if (busy == 0)
			return 0;
		if (util_now_ms() > deadline) {
			fprintf(stderr, "circuit-load: circuits still held after %d s\n",
				TEARDOWN_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
		struct timespec ts = {0, 50000000};
		nanosleep(&ts, NULL);
	}
}

/* --- rounds --- */

static void nicks_free(struct load *L);

static int nicks_make(struct load *L, int n, const char *tag)
{
	nicks_free(L);
	L->nicks = calloc((size_t)n, sizeof(*L->nicks));
	if (!L->nicks)
		return -ENOMEM;
	L->n_nicks = n;
	for (int i = 0; i < n; i++) {
		snprintf(L->nicks[i].name, sizeof(L->nicks[i].name), "bench-%s-%d", tag, i);
		if (!circ_nickname_valid(L->nicks[i].name) || keys_generate(&L->nicks[i].keys) < 0)
			return -EINVAL;
	}
	return 0;
}

static void nicks_free(struct load *L)
{
	if (L->nicks)
		for (int i = 0; i < L->n_nicks; i++)
			keys_wipe(&L->nicks[i].keys);
	free(L->nicks);
	L->nicks = NULL;
	L->n_nicks = 0;
}

static void builds_free(struct load *L)
{
	for (int i = 0; i < L->n_builds; i++) {
		free(L->builds[i].sealed);
		sodium_memzero(&L->builds[i].cc, sizeof(L->builds[i].cc));
	}
	L->n_builds = 0;
}

/* Makes the CREATE requests of a round: build i for nickname i. */
static int builds_prepare(struct load *L, int n)
{
	builds_free(L);
	const struct topo_node *lh = &L->topo->nodes[L->lighthouse];
	for (int i = 0; i < n; i++) {
		struct build *bd = &L->builds[i];
		memset(bd, 0, sizeof(*bd));
		bd->nick = i;
		bd->link = bd->slot = -1;
		if (circ_client_create(&bd->cc, &L->nicks[i].keys, L->nicks[i].name, lh->id,
				       lh->keys.kx, 1, &bd->sealed, &bd->sealed_len) < 0) {
			L->n_builds = i;
			return -EINVAL;
		}
	}
	L->n_builds = n;
	L->next_send = L->inflight = L->answered = L->ok = 0;
	L->first_sent = L->last_done = 0;
	L->late = 0;
	L->late_max = 0;
	L->lost_open = 0;
	memset(L->fails, 0, sizeof(L->fails));
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static double pct_ms(const uint64_t *v, int n, double q)
{
	if (n <= 0)
		return 0;
	int k = (int)ceil(q * n) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return (double)v[k] / 1e6;
}

struct round_result {
	int builds, ok, failed, links, lost_open, late;
	double per_s, seconds, p50, p90, p99, max, mean, late_max_ms;
	double cpu_us[MAX_WATCH + 1];  /* per successful build; the last is ours */
	double wait_ms[MAX_WATCH + 1]; /* on a run queue over the round, in all */
	/* the slowest builds: latency (ms) and when they were sent (s into the round) */
	double slow_ms[SLOWEST], slow_at_s[SLOWEST];
	int n_slow;
	/* The lighthouse's uptime when the round started: its timer ticks every
	 * second of uptime and touches the database every tenth tick. */
	long lh_uptime_ms;
	uint64_t fails[FAIL_KINDS];
};

static const char *fail_name(int kind)
{
	static char name[32];
	switch (kind) {
	case FAIL_LINK:
		return "link_closed";
	case FAIL_TIMEOUT:
		return "timeout";
	case FAIL_AUTH:
		return "auth";
	case FAIL_SEND:
		return "send";
	}
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&anosip__v1__destroy_reason__descriptor, kind);
	snprintf(name, sizeof(name), "%s", v ? v->name : "destroy_other");
	for (char *p = name; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return name;
}

/* CPU time of every watched process and ours (the last); with wait, their
 * run-queue waits too. */
static void cpu_sample(const struct load *L, uint64_t *out, uint64_t *wait)
{
	uint64_t ignored;
	for (int w = 0; w < L->n_watch; w++)
		out[w] = read_cpu_ns(L->watch[w].pid, wait ? &wait[w] : &ignored);
	out[L->n_watch] = cpu_self_ns();
	if (wait)
		read_cpu_ns(getpid(), &wait[L->n_watch]);
}

/* One round: n builds over ceil(n / 16) links, by the mode's scheduler. */
static int run_round(struct load *L, int n, struct round_result *res)
{
	int links = (n + PER_LINK - 1) / PER_LINK;
	memset(res, 0, sizeof(*res));
	int rc = open_links(L, links);
	if (rc == 0)
		rc = builds_prepare(L, n);
	if (rc < 0) {
		close_links(L);
		return rc;
	}
	uint64_t cpu0[MAX_WATCH + 1], cpu1[MAX_WATCH + 1], wait0[MAX_WATCH + 1],
	    wait1[MAX_WATCH + 1];
	uint64_t asked = now_ns();
	long uptime = ctl_metric(L, L->lighthouse, "status", "uptime_ms");
	cpu_sample(L, cpu0, wait0);
	L->t0 = now_ns();
	res->lh_uptime_ms = uptime < 0 ? -1 : uptime + (long)((L->t0 - asked) / 1000000);
	if (L->mode == M_RATE)
		for (int i = 0; i < n; i++)
			L->builds[i].due_ns = L->t0 + (uint64_t)((double)i * 1e9 / L->rate);
	L->scheduling = 1;
	uint64_t limit = L->mode == M_RATE ? (uint64_t)((double)n / L->rate * 1e9) +
						 BUILD_TIMEOUT_NS + 5000000000ull
					   : (uint64_t)(L->timeout_s * 1e9);
	rc = loop_until(L, L->t0 + limit, done_round);
	L->scheduling = 0;
	cpu_sample(L, cpu1, wait1);
	/* Whatever is still unanswered failed. */
	for (int i = 0; i < L->n_builds; i++)
		if (L->builds[i].state == B_SENT)
			build_fail(L, &L->builds[i], FAIL_TIMEOUT);
	uint64_t *lat = calloc((size_t)(n ? n : 1), sizeof(uint64_t));
	if (!lat) {
		close_links(L);
		return -ENOMEM;
	}
	int k = 0;
	double sum = 0;
	for (int i = 0; i < L->n_builds; i++)
		if (L->builds[i].state == B_OK) {
			lat[k] = L->builds[i].done_ns - L->builds[i].sent_ns;
			sum += (double)lat[k++];
		}
	qsort(lat, (size_t)k, sizeof(uint64_t), cmp_u64);
	/* The slowest few, each with its send time, from the sorted latencies. */
	for (int j = k - 1; j >= 0 && res->n_slow < SLOWEST; j--) {
		for (int i = 0; i < L->n_builds; i++) {
			const struct build *bd = &L->builds[i];
			if (bd->state != B_OK || bd->done_ns - bd->sent_ns != lat[j])
				continue;
			res->slow_ms[res->n_slow] = (double)lat[j] / 1e6;
			res->slow_at_s[res->n_slow++] = (double)(bd->sent_ns - L->t0) / 1e9;
			break;
		}
	}
	res->builds = n;
	res->ok = L->ok;
	res->failed = n - L->ok;
	res->links = links;
	res->lost_open = L->lost_open;
	res->late = L->late;
	res->late_max_ms = (double)L->late_max / 1e6;
	res->seconds =
	    L->last_done > L->first_sent ? (double)(L->last_done - L->first_sent) / 1e9 : 0;
	res->per_s = res->seconds > 0 ? L->ok / res->seconds : 0;
	res->p50 = pct_ms(lat, k, 0.50);
	res->p90 = pct_ms(lat, k, 0.90);
	res->p99 = pct_ms(lat, k, 0.99);
	res->max = k ? (double)lat[k - 1] / 1e6 : 0;
	res->mean = k ? sum / k / 1e6 : 0;
	for (int w = 0; w <= L->n_watch; w++) {
		res->cpu_us[w] = L->ok ? (double)(cpu1[w] - cpu0[w]) / 1e3 / L->ok : 0;
		res->wait_ms[w] = (double)(wait1[w] - wait0[w]) / 1e6;
	}
	memcpy(res->fails, L->fails, sizeof(res->fails));
	free(lat);
	close_links(L);
	if (rc == -ETIMEDOUT)
		fprintf(stderr, "circuit-load: %d of %d builds unanswered at the deadline\n",
			n - L->answered, n);
	return wait_teardown(L);
}

static void print_result(const struct load *L, const char *p, const struct round_result *r)
{
	printf("%s_builds %d\n%s_ok %d\n%s_failed %d\n%s_links %d\n", p, r->builds, p, r->ok, p,
	       r->failed, p, r->links);
	for (int k = 0; k < FAIL_KINDS; k++)
		if (r->fails[k])
			printf("%s_fail_%s %llu\n", p, fail_name(k),
			       (unsigned long long)r->fails[k]);
	printf("%s_lost_open %d\n", p, r->lost_open);
	/* Each slow build: latency @ when it was sent, and how long after the
	 * lighthouse's last 10-second database tick (its uptime, mod 10 s). */
	printf("%s_slowest ", p);
	for (int j = 0; j < r->n_slow; j++) {
		printf("%s%.2fms@%.2fs", j ? "," : "", r->slow_ms[j], r->slow_at_s[j]);
		if (r->lh_uptime_ms >= 0)
			printf("/tick+%ldms",
			       (r->lh_uptime_ms + (long)(r->slow_at_s[j] * 1000)) % 10000);
	}
	printf("%s\n", r->n_slow ? "" : "-");
	printf("%s_seconds %.3f\n%s_per_s %.1f\n", p, r->seconds, p, r->per_s);
	printf("%s_p50_ms %.3f\n%s_p90_ms %.3f\n%s_p99_ms %.3f\n%s_max_ms %.3f\n%s_mean_ms %.3f\n",
	       p, r->p50, p, r->p90, p, r->p99, p, r->max, p, r->mean);
	if (L->mode == M_RATE)
		printf("%s_offered_per_s %.1f\n%s_late %d\n%s_late_max_ms %.3f\n", p, L->rate, p,
		       r->late, p, r->late_max_ms);
	for (int w = 0; w < L->n_watch; w++)
		printf("%s_cpu_us_%s %.1f\n", p, L->topo->nodes[L->watch[w].node].id, r->cpu_us[w]);
	printf("%s_cpu_us_client %.1f\n", p, r->cpu_us[L->n_watch]);
	for (int w = 0; w <= L->n_watch; w++)
		printf("%s_runq_wait_ms_%s %.1f\n", p,
		       w < L->n_watch ? L->topo->nodes[L->watch[w].node].id : "client",
		       r->wait_ms[w]);
	fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median_of(const double *v, int n)
{
	double s[MAX_RUNS];
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* rate and max: --runs times (fresh nicknames each run) a sign-up round and
 * a round with the same nicknames, whose accounts now exist; then the
 * median of each figure over the runs (counts are summed). */
static int mode_runs(struct load *L)
{
	static const char *const round_names[] = {"signup", "existing"};
	const char *mode = L->mode == M_RATE ? "rate" : "max";
	int n = L->mode == M_RATE ? (int)lround(L->rate * L->seconds) : L->count;
	static struct round_result res[2][MAX_RUNS];
	if (n < 1 || n > MAX_BUILDS)
		return -EINVAL;
	int rc = 0;
	for (int run = 0; run < L->runs && rc == 0; run++) {
		char tag[64];
		snprintf(tag, sizeof(tag), "%s-%d", L->run, run + 1);
		rc = nicks_make(L, n, tag);
		for (int r = 0; r < 2 && rc == 0; r++) {
			char prefix[64];
			rc = run_round(L, n, &res[r][run]);
			snprintf(prefix, sizeof(prefix), "%s_%s_run%d", mode, round_names[r],
				 run + 1);
			print_result(L, prefix, &res[r][run]);
		}
	}
	if (rc < 0)
		return rc;
	printf("%s_runs %d\n%s_window %d\n", mode, L->runs, mode, L->window);
	if (L->mode == M_RATE)
		printf("%s_offered_per_s %.1f\n%s_seconds %.1f\n", mode, L->rate, mode, L->seconds);
	for (int r = 0; r < 2; r++) {
		const char *rn = round_names[r];
		double v[MAX_RUNS];
		int builds = 0, ok = 0, late = 0, lost = 0;
		for (int run = 0; run < L->runs; run++) {
			builds += res[r][run].builds;
			ok += res[r][run].ok;
			late += res[r][run].late;
			lost += res[r][run].lost_open;
		}
		printf("%s_%s_builds %d\n%s_%s_ok %d\n%s_%s_failed %d\n%s_%s_late %d\n"
		       "%s_%s_lost_open %d\n",
		       mode, rn, builds, mode, rn, ok, mode, rn, builds - ok, mode, rn, late, mode,
		       rn, lost);
#define MEDIAN(field, name, fmt)                                                                   \
	do {                                                                                       \
		for (int run = 0; run < L->runs; run++)                                            \
			v[run] = res[r][run].field;                                                \
		printf("%s_%s_" name " " fmt "\n", mode, rn, median_of(v, L->runs));               \
		printf("%s_%s_" name "_runs ", mode, rn);                                          \
		for (int run = 0; run < L->runs; run++)                                            \
			printf("%s" fmt, run ? "," : "", v[run]);                                  \
		printf("\n");                                                                      \
	} while (0)
		MEDIAN(per_s, "per_s", "%.1f");
		MEDIAN(seconds, "seconds", "%.3f");
		MEDIAN(p50, "p50_ms", "%.3f");
		MEDIAN(p90, "p90_ms", "%.3f");
		MEDIAN(p99, "p99_ms", "%.3f");
		MEDIAN(max, "max_ms", "%.3f");
		MEDIAN(mean, "mean_ms", "%.3f");
		if (L->mode == M_RATE)
			MEDIAN(late_max_ms, "late_max_ms", "%.3f");
#undef MEDIAN
		for (int w = 0; w <= L->n_watch; w++) {
			const char *id =
			    w < L->n_watch ? L->topo->nodes[L->watch[w].node].id : "client";
			for (int run = 0; run < L->runs; run++)
				v[run] = res[r][run].cpu_us[w];
			printf("%s_%s_cpu_us_%s %.1f\n", mode, rn, id, median_of(v, L->runs));
			for (int run = 0; run < L->runs; run++)
				v[run] = res[r][run].wait_ms[w];
			printf("%s_%s_runq_wait_ms_%s %.1f\n", mode, rn, id, median_of(v, L->runs));
		}
	}
	fflush(stdout);
	return 0;
}

static void mem_sample(const struct load *L, struct mem *out)
{
	for (int w = 0; w < L->n_watch; w++)
		read_mem(L->watch[w].pid, &out[w]);
}

/* memory: S0 before any link, S1 with the links open and idle, S2 with
 * every circuit open; per link (S1 - S0) and per circuit (S2 - S1). */
static int mode_memory(struct load *L)
{
	int n = L->circuits, links = (n + PER_LINK - 1) / PER_LINK;
	struct mem m0[MAX_WATCH], m1[MAX_WATCH], m2[MAX_WATCH], m3[MAX_WATCH];
	long up1, up2; /* the lighthouse's uptime at the second and third samples */
	long circuits[MAX_WATCH];
	/* The requests first: no link waits for our crypto (a portal closes a
	 * client link that stays silent for dead_ms). */
	int rc = nicks_make(L, n, L->run);
	if (rc == 0)
		rc = builds_prepare(L, n);
	if (rc < 0)
		return rc;
	mem_sample(L, m0);
	rc = open_links(L, links);
	/* Idle links for a while: both sides have sent keep-alives. */
	if (rc == 0)
		loop_until(L, now_ns() + SETTLE_NS, done_never);
	if (rc < 0) {
		close_links(L);
		return rc;
	}
	mem_sample(L, m1);
	up1 = ctl_metric(L, L->lighthouse, "status", "uptime_ms");
	uint64_t cpu0[MAX_WATCH + 1], cpu1[MAX_WATCH + 1];
	cpu_sample(L, cpu0, NULL);
	L->t0 = now_ns();
	L->scheduling = 1;
	rc = loop_until(L, L->t0 + (uint64_t)(L->timeout_s * 1e9), done_round);
	L->scheduling = 0;
	cpu_sample(L, cpu1, NULL);
	uint64_t built = now_ns();
	/* Settle: timers at the lighthouse, keep-alives on every link. */
	loop_until(L, built + SETTLE_NS, done_never);
	mem_sample(L, m2);
	up2 = ctl_metric(L, L->lighthouse, "status", "uptime_ms");
	for (int w = 0; w < L->n_watch; w++)
		circuits[w] = ctl_metric(L, L->watch[w].node, "metrics", "circuits");
	int open = 0;
	for (int i = 0; i < L->n_links; i++)
		for (int s = 0; s < PER_LINK; s++)
			open += L->links[i].state == L_UP && L->links[i].slots[s].build >= 0 &&
				L->links[i].slots[s].open;

	printf("mem_circuits_wanted %d\nmem_links %d\nmem_circuits_ok %d\nmem_circuits_failed %d\n"
	       "mem_circuits_open %d\nmem_lost_open %d\n",
	       n, links, L->ok, n - L->ok, open, L->lost_open);
	for (int k = 0; k < FAIL_KINDS; k++)
		if (L->fails[k])
			printf("mem_fail_%s %llu\n", fail_name(k), (unsigned long long)L->fails[k]);
	double secs =
	    L->last_done > L->first_sent ? (double)(L->last_done - L->first_sent) / 1e9 : 0;
	printf("mem_build_seconds %.3f\nmem_build_per_s %.1f\nmem_window %d\n", secs,
	       secs > 0 ? L->ok / secs : 0, L->window);
	/* The lighthouse refreshes every live binding when its uptime passes a
	 * multiple of 10 s: did that happen between the samples? */
	printf("mem_lh_uptime_ms %ld,%ld\nmem_lh_refreshes_between %ld\n", up1, up2,
	       up1 >= 0 && up2 >= 0 ? up2 / 10000 - up1 / 10000 : -1);
	/* What each hop allocates by itself, for comparison (malloc adds its
	 * header and rounds to 16 bytes). */
	printf("mem_circuit_struct_bytes %zu\nmem_lh_circuit_struct_bytes %zu\n"
	       "mem_conn_struct_bytes %zu\n",
	       sizeof(struct circuit), sizeof(struct lh_circuit), sizeof(struct conn));
	/* The bounds and fixed tables the figures depend on, as compiled (-1 if
	 * the product no longer has that constant). */
#ifdef LH_SEEN_SLOTS
	printf("limit_lh_seen_slots %ld\n", (long)LH_SEEN_SLOTS);
#else
	printf("limit_lh_seen_slots -1\n");
#endif
#ifdef REPLAY_SLOTS
	printf("limit_routed_replay_slots %ld\n", (long)REPLAY_SLOTS);
#else
	printf("limit_routed_replay_slots -1\n");
#endif
#ifdef LH_CREATE_RATE
	printf("limit_lh_create_rate %ld\n", (long)LH_CREATE_RATE);
#else
	printf("limit_lh_create_rate -1\n");
#endif
#ifdef ROUTER_CLIENT_CREATE_RATE
	printf("limit_client_create_rate %ld\n", (long)ROUTER_CLIENT_CREATE_RATE);
#else
	printf("limit_client_create_rate -1\n");
#endif
#ifdef ROUTER_CLIENT_CREATE_BURST
	printf("limit_client_create_burst %ld\n", (long)ROUTER_CLIENT_CREATE_BURST);
#else
	printf("limit_client_create_burst -1\n");
#endif
	printf("mem_nodes ");
	for (int w = 0; w < L->n_watch; w++)
		printf("%s%s", w ? "," : "", L->topo->nodes[L->watch[w].node].id);
	printf("\n");
	for (int w = 0; w < L->n_watch; w++) {
		const char *id = L->topo->nodes[L->watch[w].node].id;
		char roles[64];
		topo_roles_text(L->topo->nodes[L->watch[w].node].roles, roles, sizeof(roles));
		printf("mem_%s_role %s\nmem_%s_roles %s\nmem_%s_circuits %ld\n", id,
		       L->watch[w].role, id, roles[0] ? roles : "-", id, circuits[w]);
		printf("mem_%s_rss_kb %ld,%ld,%ld\n", id, m0[w].rss_kb, m1[w].rss_kb, m2[w].rss_kb);
		printf("mem_%s_dirty_kb %ld,%ld,%ld\n", id, m0[w].dirty_kb, m1[w].dirty_kb,
		       m2[w].dirty_kb);
		printf("mem_%s_anon_kb %ld,%ld,%ld\n", id, m0[w].anon_kb, m1[w].anon_kb,
		       m2[w].anon_kb);
		printf("mem_%s_heap_kb %ld,%ld,%ld\nmem_%s_mmap_kb %ld,%ld,%ld\n", id,
		       m0[w].heap_kb, m1[w].heap_kb, m2[w].heap_kb, id, m0[w].mmap_kb,
		       m1[w].mmap_kb, m2[w].mmap_kb);
		printf("mem_%s_circuit_heap_bytes %.0f\nmem_%s_circuit_mmap_bytes %.0f\n", id,
		       L->ok ? (double)(m2[w].heap_kb - m1[w].heap_kb) * 1024 / L->ok : 0, id,
		       L->ok ? (double)(m2[w].mmap_kb - m1[w].mmap_kb) * 1024 / L->ok : 0);
		printf("mem_%s_link_bytes %.0f\n", id,
		       (double)(m1[w].dirty_kb - m0[w].dirty_kb) * 1024 / links);
		printf("mem_%s_link_rss_bytes %.0f\n", id,
		       (double)(m1[w].rss_kb - m0[w].rss_kb) * 1024 / links);
		printf("mem_%s_circuit_bytes %.0f\n", id,
		       L->ok ? (double)(m2[w].dirty_kb - m1[w].dirty_kb) * 1024 / L->ok : 0);
		printf("mem_%s_circuit_rss_bytes %.0f\n", id,
		       L->ok ? (double)(m2[w].rss_kb - m1[w].rss_kb) * 1024 / L->ok : 0);
		printf("mem_%s_cpu_us %.1f\n", id,
		       L->ok ? (double)(cpu1[w] - cpu0[w]) / 1e3 / L->ok : 0);
	}
	printf("mem_client_cpu_us %.1f\n",
	       L->ok ? (double)(cpu1[L->n_watch] - cpu0[L->n_watch]) / 1e3 / L->ok : 0);
	fflush(stdout);
	/* What keeping them costs: every node's CPU while the circuits stay
	 * open and idle (keep-alives, timers, the lighthouse's binding refresh
	 * every ten seconds). */
	if (L->hold_s > 0) {
		uint64_t h0[MAX_WATCH + 1], h1[MAX_WATCH + 1], t = now_ns();
		cpu_sample(L, h0, NULL);
		loop_until(L, t + (uint64_t)(L->hold_s * 1e9), done_never);
		cpu_sample(L, h1, NULL);
		double held = (double)(now_ns() - t) / 1e9;
		printf("mem_hold_seconds %.2f\n", held);
		for (int w = 0; w <= L->n_watch; w++)
			printf("mem_%s_hold_cpu_ms_per_s %.2f\n",
			       w < L->n_watch ? L->topo->nodes[L->watch[w].node].id : "client",
			       (double)(h1[w] - h0[w]) / 1e6 / held);
		printf("mem_hold_lost_open %d\n", L->lost_open);
		/* Memory again, after at least one binding refresh: steady state. */
		mem_sample(L, m3);
		for (int w = 0; w < L->n_watch; w++) {
			const char *id = L->topo->nodes[L->watch[w].node].id;
			printf("mem_%s_held_rss_kb %ld\nmem_%s_held_dirty_kb %ld\n", id,
			       m3[w].rss_kb, id, m3[w].dirty_kb);
			printf("mem_%s_held_circuit_bytes %.0f\n", id,
			       L->ok ? (double)(m3[w].dirty_kb - m1[w].dirty_kb) * 1024 / L->ok
				     : 0);
			printf("mem_%s_held_circuit_rss_bytes %.0f\n", id,
			       L->ok ? (double)(m3[w].rss_kb - m1[w].rss_kb) * 1024 / L->ok : 0);
		}
	}
	/* Taking them down: every link closes at once; until the portal holds
	 * no client and no hop on the path a circuit. */
	uint64_t down0[MAX_WATCH + 1], down1[MAX_WATCH + 1], t_down = now_ns();
	cpu_sample(L, down0, NULL);
	close_links(L);
	int trc = wait_teardown(L);
	cpu_sample(L, down1, NULL);
	printf("mem_teardown_ms %.1f\n", (double)(now_ns() - t_down) / 1e6);
	for (int w = 0; w < L->n_watch; w++)
		printf("mem_%s_teardown_cpu_ms %.1f\n", L->topo->nodes[L->watch[w].node].id,
		       (double)(down1[w] - down0[w]) / 1e6);
	fflush(stdout);
	return rc < 0 ? rc : trc;
}

/* --- setup --- */

static int load_network(struct load *L, const char *portal, const char *lighthouse)
{
	char path[4096], err[512];
	struct keys_public auth;
	snprintf(path, sizeof(path), "%s/authority.pub", L->dir);
	if (keys_load_public(path, &auth) < 0) {
		fprintf(stderr, "circuit-load: cannot read %s\n", path);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/directory.bin", L->dir);
	if (topo_directory_load(path, auth.sign, &L->topo, err, sizeof(err)) < 0) {
		fprintf(stderr, "circuit-load: %s\n", err);
		return -EINVAL;
	}
	const struct topo *t = L->topo;
	L->portal = topo_find(t, portal);
	L->lighthouse = topo_find(t, lighthouse);
	if (L->portal < 0 || !(t->nodes[L->portal].roles & TOPO_ROLE_PORTAL) || L->lighthouse < 0 ||
	    !(t->nodes[L->lighthouse].roles & TOPO_ROLE_LIGHTHOUSE)) {
		fprintf(stderr, "circuit-load: %s is not a portal or %s not a lighthouse\n", portal,
			lighthouse);
		return -EINVAL;
	}
	if (util_parse_address(t->nodes[L->portal].address, &L->portal_addr) < 0) {
		fprintf(stderr, "circuit-load: bad address %s\n", t->nodes[L->portal].address);
		return -EINVAL;
	}
	/* Loopback only: this is a benchmark against a local testbed. */
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&L->portal_addr;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&L->portal_addr;
	int loopback = L->portal_addr.ss_family == AF_INET
			   ? (ntohl(a4->sin_addr.s_addr) >> 24) == 127
			   : L->portal_addr.ss_family == AF_INET6 &&
				 memcmp(&a6->sin6_addr, &in6addr_loopback, 16) == 0;
	if (!loopback) {
		fprintf(stderr, "circuit-load: %s is not a loopback address\n",
			t->nodes[L->portal].address);
		return -EINVAL;
	}
	/* The path the CREATEs take: topo_next_hop, as every hop computes it. */
	int at = L->portal;
	L->path_len = 0;
	L->path[L->path_len++] = at;
	while (at != L->lighthouse && L->path_len < (int)(sizeof(L->path) / sizeof(L->path[0]))) {
		at = topo_next_hop(t, at, L->lighthouse);
		if (at < 0)
			return -EINVAL;
		L->path[L->path_len++] = at;
	}
	if (at != L->lighthouse)
		return -EINVAL;
	for (int h = 0; h < L->path_len && L->n_watch < MAX_WATCH; h++) {
		struct watch *w = &L->watch[L->n_watch++];
		w->node = L->path[h];
		w->role = h == 0 ? "portal" : h == L->path_len - 1 ? "lighthouse" : "router";
	}
	for (int i = 0; i < t->n && L->n_watch < MAX_WATCH; i++) {
		int on_path = 0;
		for (int h = 0; h < L->path_len; h++)
			on_path |= L->path[h] == i;
		if (!on_path && (t->nodes[i].roles & TOPO_ROLE_LOOKUP)) {
			L->watch[L->n_watch].node = i;
			L->watch[L->n_watch++].role = "lookup";
		}
	}
	for (int w = 0; w < L->n_watch; w++) {
		L->watch[w].pid = read_pid(L, L->watch[w].node);
		if (L->watch[w].pid <= 0) {
			fprintf(stderr, "circuit-load: no pid for %s in %s\n",
				t->nodes[L->watch[w].node].id, L->dir);
			return -EINVAL;
		}
	}
	printf("path ");
	for (int h = 0; h < L->path_len; h++)
		printf("%s%s", h ? "," : "", t->nodes[L->path[h]].id);
	printf("\npath_hops %d\n", L->path_len - 1);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: anosip-bench circuit-load --dir TESTBED --portal NODE --lighthouse NODE\n"
		"           [--mode rate|max|memory] [--rate R] [--seconds S] [--count N]\n"
		"           [--window W] [--runs N] [--circuits N] [--hold S] [--run TAG]\n"
		"           [--timeout S]\n"
		"  rate    open-loop: R builds/s for S s (default 100, 10), then again with\n"
		"          the accounts made (sign-up round, existing round)\n"
		"  max     N builds (default 2000) with W CREATEs in flight (default 32, at\n"
		"          most 4 per link), sign-up and existing rounds, --runs times\n"
		"  memory  N circuits open at once (default 10000); memory of every node on\n"
		"          the path and of the lookup service, before, with links, with circuits;\n"
		"          then the nodes' CPU while they stay open --hold S s, and the teardown\n"
		"  nicknames are bench-TAG-I (TAG default: the pid)\n");
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

int circuit_load_main(int argc, char **argv)
{
	static struct load L_;
	struct load *L = &L_;
	const char *portal = NULL, *lighthouse = NULL;
	char run_tag[32];
	snprintf(run_tag, sizeof(run_tag), "%d", (int)getpid());
	L->run = run_tag;
	L->mode = M_RATE;
	L->rate = 100;
	L->seconds = 10;
	L->count = 2000;
	L->window = 32;
	L->runs = 1;
	L->circuits = 10000;
	L->timeout_s = 120;
	L->hold_s = 0;
	L->ep = -1;
	for (int i = 1; i < argc; i += 2) {
		double v;
		const char *o = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
		if (!a)
			goto usage;
		if (strcmp(o, "--dir") == 0)
			L->dir = a;
		else if (strcmp(o, "--portal") == 0)
			portal = a;
		else if (strcmp(o, "--lighthouse") == 0)
			lighthouse = a;
		else if (strcmp(o, "--run") == 0)
			L->run = a;
		else if (strcmp(o, "--mode") == 0 && strcmp(a, "rate") == 0)
			L->mode = M_RATE;
		else if (strcmp(o, "--mode") == 0 && strcmp(a, "max") == 0)
			L->mode = M_MAX;
		else if (strcmp(o, "--mode") == 0 && strcmp(a, "memory") == 0)
			L->mode = M_MEMORY;
		else if (strcmp(o, "--rate") == 0 && parse_num(a, 0.1, 10000, &v) == 0)
			L->rate = v;
		else if (strcmp(o, "--seconds") == 0 && parse_num(a, 0.1, 60, &v) == 0)
			L->seconds = v;
		else if (strcmp(o, "--count") == 0 && parse_num(a, 1, MAX_BUILDS, &v) == 0)
			L->count = (int)v;
		else if (strcmp(o, "--window") == 0 && parse_num(a, 1, 4 * MAX_LINKS, &v) == 0)
			L->window = (int)v;
		else if (strcmp(o, "--runs") == 0 && parse_num(a, 1, MAX_RUNS, &v) == 0)
			L->runs = (int)v;
		else if (strcmp(o, "--circuits") == 0 && parse_num(a, 1, MAX_BUILDS, &v) == 0)
			L->circuits = (int)v;
		else if (strcmp(o, "--timeout") == 0 && parse_num(a, 1, 600, &v) == 0)
			L->timeout_s = v;
		else if (strcmp(o, "--hold") == 0 && parse_num(a, 0, 900, &v) == 0)
			L->hold_s = v;
		else
			goto usage;
	}
	if (!L->dir || !portal || !lighthouse)
		goto usage;
	/* Each link is a descriptor: ask for as many as we may. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int rc = load_network(L, portal, lighthouse);
	L->links = calloc(MAX_LINKS, sizeof(*L->links));
	L->builds = calloc(MAX_BUILDS, sizeof(*L->builds));
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	if (rc == 0 && (!L->links || !L->builds || L->ep < 0))
		rc = -ENOMEM;
	if (rc == 0) {
		printf("mode %s\n", L->mode == M_RATE  ? "rate"
				    : L->mode == M_MAX ? "max"
						       : "memory");
		fflush(stdout);
		rc = L->mode == M_MEMORY ? mode_memory(L) : mode_runs(L);
	}
	if (L->links)
		close_links(L);
	if (L->builds)
		builds_free(L);
	nicks_free(L);
	free(L->links);
	free(L->builds);
	if (L->ep >= 0)
		close(L->ep);
	topo_free(L->topo);
	if (rc < 0)
		fprintf(stderr, "circuit-load: %s\n", strerror(-rc));
	return rc < 0 ? 1 : 0;
usage:
	usage();
	return 2;
}
