/* The control socket: a local UNIX stream socket (mode 0600). A client
 * writes one command line, the node answers with text lines and closes.
 *
 * Hand-written parsing: a command is one line of at most CONTROL_LINE_MAX
 * bytes split on blanks into at most CONTROL_ARGS words. Nothing else is
 * read, so a bounded split is all the parser there is. */
#include "node/node_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONTROL_LINE_MAX 4096
#define CONTROL_ARGS 64
#define CONTROL_OUT_MAX (1u << 20)

struct node_ctl {
	uv_pipe_t pipe;
	uv_write_t write_req;
	struct node *node;
	char line[CONTROL_LINE_MAX + 1];
	size_t line_len;
	int dispatched;
	int truncated;
	char *out;
	size_t out_len, out_cap;
};

/* Room for n more bytes and a NUL in the reply. */
static int reserve(struct node_ctl *req, size_t n)
{
	if (req->out_len + n + 1 <= req->out_cap)
		return 0;
	size_t cap = req->out_cap ? req->out_cap : 1024;
	while (cap < req->out_len + n + 1)
		cap *= 2;
	char *o = realloc(req->out, cap);
	if (!o)
		return -ENOMEM;
	req->out = o;
	req->out_cap = cap;
	return 0;
}

void node_ctl_printf(struct node_ctl *req, const char *fmt, ...)
{
	static const char cut[] = "error: output truncated\n";
	va_list ap;
	va_start(ap, fmt);
	int need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (req->truncated || need < 0)
		return;
	if (req->out_len + (size_t)need + sizeof(cut) > CONTROL_OUT_MAX) {
		/* Say so once, rather than stop mid-list without a word; the
		 * bound above keeps room for this line. */
		req->truncated = 1;
		if (reserve(req, sizeof(cut)) == 0) {
			memcpy(req->out + req->out_len, cut, sizeof(cut));
			req->out_len += sizeof(cut) - 1;
		}
		return;
	}
	if (reserve(req, (size_t)need) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(req->out + req->out_len, req->out_cap - req->out_len, fmt, ap);
	va_end(ap);
	req->out_len += (size_t)need;
}

static void on_ctl_closed(uv_handle_t *h)
{
	struct node_ctl *req = h->data;
	free(req->out);
	free(req);
}

static void on_ctl_written(uv_write_t *w, int status)
{
	struct node_ctl *req = w->data;
	uv_close((uv_handle_t *)&req->pipe, on_ctl_closed);
}

void node_ctl_done(struct node_ctl *req)
{
	uv_buf_t b = uv_buf_init(req->out ? req->out : "", (unsigned)req->out_len);
	req->write_req.data = req;
	if (uv_write(&req->write_req, (uv_stream_t *)&req->pipe, &b, 1, on_ctl_written) < 0)
		uv_close((uv_handle_t *)&req->pipe, on_ctl_closed);
}

/* Splits a line into words in place; returns the count, or -1 if too many. */
int control_split_words(char *line, char **argv, int max)
{
	int argc = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == max)
			return -1;
		argv[argc++] = w;
	}
	return argc;
}

static void dispatch(struct node_ctl *req)
{
	struct node *n = req->node;
	char *argv[CONTROL_ARGS];
	int argc = control_split_words(req->line, argv, CONTROL_ARGS);
	req->dispatched = 1;
	if (argc <= 0) {
		node_ctl_printf(req, "error: %s\n", argc < 0 ? "too many words" : "empty command");
		node_ctl_done(req);
		return;
	}
	if (control_builtin(n, req, argc, argv))
		return;
	for (size_t i = 0; i < n->n_modules; i++)
		if (n->modules[i]->on_control &&
		    n->modules[i]->on_control(n->module_state[i], req, argc, argv))
			return;
	node_ctl_printf(req, "error: unknown command \"%.40s\" (try help)\n", argv[0]);
	node_ctl_done(req);
}

static void on_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct node_ctl *req = h->data;
	buf->base = req->line + req->line_len;
	buf->len = CONTROL_LINE_MAX - req->line_len;
}

static void on_ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct node_ctl *req = s->data;
	if (req->dispatched)
		return;
	if (nread < 0) {
		uv_read_stop(s);
		if (req->line_len == 0) {
			uv_close((uv_handle_t *)&req->pipe, on_ctl_closed);
			return;
		}
		req->line[req->line_len] = 0; /* a last line without newline */
		dispatch(req);
		return;
	}
	req->line_len += (size_t)nread;
	req->line[req->line_len] = 0;
	char *nl = memchr(req->line, '\n', req->line_len);
	if (!nl && req->line_len < CONTROL_LINE_MAX)
		return;
	uv_read_stop(s);
	if (!nl) {
		req->dispatched = 1;
		node_ctl_printf(req, "error: command longer than %d bytes\n", CONTROL_LINE_MAX);
		node_ctl_done(req);
		return;
	}
	*nl = 0;
	dispatch(req);
}

static void on_ctl_connection(uv_stream_t *server, int status)
{
	struct node *n = server->data;
	if (status < 0)
		return;
	struct node_ctl *req = calloc(1, sizeof(*req));
	if (!req)
		return;
	req->node = n;
	uv_pipe_init(&n->loop, &req->pipe, 0);
	req->pipe.data = req;
	if (uv_accept(server, (uv_stream_t *)&req->pipe) < 0 ||
	    uv_read_start((uv_stream_t *)&req->pipe, on_ctl_alloc, on_ctl_read) < 0)
		uv_close((uv_handle_t *)&req->pipe, on_ctl_closed);
}

int control_start(struct node *n)
{
	const char *path = n->cfg.control_path;
	/* A socket left by a node that died; a live node would hold it, and
	 * the testbed never starts two nodes with one path. */
	unlink(path);
	uv_pipe_init(&n->loop, &n->control, 0);
	n->control.data = n;
	/* Created 0600 from the start: no window in which others can connect. */
	mode_t old = umask(0177);
	int rc = uv_pipe_bind(&n->control, path);
	umask(old);
	if (rc == 0)
		rc = chmod(path, 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&n->control, 16, on_ctl_connection);
	if (rc < 0) {
		log_error("%s: cannot open control socket %s: %s", n->cfg.path, path,
			  uv_strerror(rc));
		uv_close((uv_handle_t *)&n->control, NULL);
		return rc;
	}
	n->control_open = 1;
	return 0;
}

void control_close(struct node *n)
{
	if (!n->control_open)
		return;
	n->control_open = 0;
	uv_close((uv_handle_t *)&n->control, NULL);
	unlink(n->cfg.control_path);
}
