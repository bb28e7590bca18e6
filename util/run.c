/* A child program run to its end on a private loop, bounded in time: the
 * operator tools' way to call ip, dot and gnuplot. */
#include "util/util.h"

#include <signal.h>
#include <stdint.h>
#include <uv.h>

struct run_state {
	uv_process_t proc;
	uv_timer_t timer;
	int64_t status;
	int killed;
};

static void run_exited(uv_process_t *proc, int64_t status, int signal)
{
	struct run_state *r = proc->data;
	r->status = signal ? 128 + signal : status;
	uv_close((uv_handle_t *)proc, NULL);
	uv_close((uv_handle_t *)&r->timer, NULL);
}

static void run_too_slow(uv_timer_t *timer)
{
	struct run_state *r = timer->data;
	r->killed = 1;
	uv_process_kill(&r->proc, SIGKILL);
}

int util_run(char *const argv[], int timeout_ms, int *killed)
{
	uv_loop_t loop;
	struct run_state r = {.status = -1};
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
	uv_process_options_t opts = {.file = argv[0],
				     .args = (char **)argv,
				     .stdio = stdio,
				     .stdio_count = 3,
				     .exit_cb = run_exited};
	int rc = uv_loop_init(&loop);
	if (rc < 0)
		return rc;
	r.proc.data = r.timer.data = &r;
	rc = uv_spawn(&loop, &r.proc, &opts);
	if (rc < 0) {
		uv_close((uv_handle_t *)&r.proc, NULL); /* a failed spawn still holds the handle */
	} else {
		uv_timer_init(&loop, &r.timer);
		uv_timer_start(&r.timer, run_too_slow, (uint64_t)timeout_ms, 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (killed)
		*killed = r.killed;
	return rc < 0 ? rc : (int)r.status;
}
