/* Calls from strangers (DESIGN.md §5.5, paper §4.3): a caller who is not
 * in the ua's contacts is declined, or — `strangers = iddir` — looked up in
 * the ID Directory and accepted when its real ID is one the user allows, or
 * — `strangers = ask` — looked up, then the user's ask_command decides. The
 * caller learns nothing beyond the 302 or the decline; the INVITE waits
 * here meanwhile (the caller's side holds it up to 30 s). */
#include "ua/sip_front.h"

#include "util/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UA_ASK_TIMEOUT_MS 20000
#define UA_MAX_STRANGERS 16

struct ua_sip_stranger_call {
	struct ua_sip *s; /* NULL once the front has stopped */
	uint64_t transaction;
	osip_message_t *invite;
	char caller[SIP_NICKNAME_MAX + 1];
	uint8_t caller_public[32];
	char real_id[CIRC_IDDIR_REAL_ID_MAX + 1];
	int verified; /* entered by the directory's operator, not by the caller */
	uv_process_t proc;
	uv_timer_t timer;
	int handles; /* libuv handles still open */
	struct ua_sip_stranger_call *next;
};

static void unlink_call(struct ua_sip *s, struct ua_sip_stranger_call *c)
{
	for (struct ua_sip_stranger_call **pp = &s->strangers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			s->n_strangers--;
			return;
		}
}

static void call_free(struct ua_sip_stranger_call *c)
{
	if (c->invite)
		osip_message_free(c->invite);
	free(c);
}

/* Answers and forgets the call (its handles, if any, close first). */
static void decide(struct ua_sip_stranger_call *c, int accept, const char *why)
{
	struct ua_sip *s = c->s;
	if (s) {
		unlink_call(s, c);
		if (accept) {
			s->strangers_accepted++;
			ua_sip_redirect(s, c->transaction, c->invite, c->caller, c->caller_public);
		} else {
			ua_sip_decline(s, c->transaction, c->invite, c->caller, why);
		}
		c->s = NULL;
	}
	if (!c->handles)
		call_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct ua_sip_stranger_call *c = h->data;
	if (--c->handles == 0 && !c->s)
		call_free(c);
}

static void on_ask_exit(uv_process_t *p, int64_t status, int signal)
{
	struct ua_sip_stranger_call *c = p->data;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->proc, on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	decide(c, status == 0 && signal == 0, "the ask command said no");
}

static void on_ask_timeout(uv_timer_t *t)
{
	struct ua_sip_stranger_call *c = t->data;
	/* Its exit decides (a decline: killed). */
	uv_process_kill(&c->proc, SIGKILL);
}

static void ask(struct ua_sip_stranger_call *c)
{
	struct ua_sip *s = c->s;
	uv_loop_t *loop = node_loop(s->ua->node);
	char caller_env[128], real_env[CIRC_IDDIR_REAL_ID_MAX + 32], verified_env[64];
	snprintf(caller_env, sizeof(caller_env), "ANOSIP_CALLER=%s", c->caller);
	snprintf(real_env, sizeof(real_env), "ANOSIP_CALLER_REAL_ID=%s", c->real_id);
	snprintf(verified_env, sizeof(verified_env), "ANOSIP_CALLER_REAL_ID_VERIFIED=%s",
		 c->verified ? "yes" : "no");
	char *args[] = {(char *)s->ua->cfg->ask_command, NULL};
	char *env[] = {caller_env, real_env, verified_env, "PATH=/usr/bin:/bin", NULL};
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
	uv_process_options_t opt = {.file = args[0],
				    .args = args,
				    .env = env,
				    .exit_cb = on_ask_exit,
				    .stdio_count = 3,
				    .stdio = stdio};
	c->proc.data = c;
	int rc = uv_spawn(loop, &c->proc, &opt);
	if (rc < 0) {
		/* uv_spawn leaves a handle to close even when it fails. */
		c->handles = 1;
		uv_close((uv_handle_t *)&c->proc, on_handle_closed);
		log_warn("ask_command: %s", uv_strerror(rc));
		decide(c, 0, "the ask command did not run");
		return;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	uv_timer_start(&c->timer, on_ask_timeout, UA_ASK_TIMEOUT_MS, 0);
}

static int allowed(const struct ua_config *cfg, const char *real_id)
{
	for (int i = 0; i < cfg->n_allow_real_ids; i++)
		if (strcmp(cfg->allow_real_ids[i], real_id) == 0)
			return 1;
	return 0;
}

static void on_directory(void *ctx, const Anosip__V1__IdDirResult *r, const char *error)
{
	struct ua_sip_stranger_call *c = ctx;
	if (!c->s) {
		decide(c, 0, "stopped");
		return;
	}
	const struct ua_config *cfg = c->s->ua->cfg;
	if (!r && error && strcmp(error, "shutting down") == 0) {
		decide(c, 0, error);
		return;
	}
	if (r && r->ok && r->real_id) {
		snprintf(c->real_id, sizeof(c->real_id), "%s", r->real_id);
		c->verified = r->verified;
	}
	if (cfg->strangers == UA_STRANGERS_ASK) {
		ask(c);
		return;
	}
	if (!c->real_id[0]) {
		decide(c, 0, "the ID Directory gave no real ID");
		return;
	}
	log_info("the ID Directory says %s is \"%s\" (%s)", c->caller, c->real_id,
		 c->verified ? "checked by its operator" : "as its owner says");
	/* Anyone may call itself anything: only a real ID the directory's
	 * operator entered opens the door. */
	if (!c->verified)
		decide(c, 0, "its real ID is only what it says itself");
	else
		decide(c, allowed(cfg, c->real_id), "that real ID is not allowed");
}

void ua_sip_stranger(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		     const char *caller, const uint8_t caller_public[32])
{
	const struct ua_config *cfg = s->ua->cfg;
	if (cfg->strangers == UA_STRANGERS_DECLINE) {
		ua_sip_decline(s, transaction, invite, caller, "not in contacts");
		return;
	}
	struct ua_sip_stranger_call *c =
	    s->n_strangers < UA_MAX_STRANGERS ? calloc(1, sizeof(*c)) : NULL;
	if (!c || osip_message_clone(invite, &c->invite) != 0) {
		free(c);
		ua_sip_decline(s, transaction, invite, caller, "too many pending decisions");
		return;
	}
	c->s = s;
	c->transaction = transaction;
	snprintf(c->caller, sizeof(c->caller), "%s", caller);
	memcpy(c->caller_public, caller_public, 32);
	c->next = s->strangers;
	s->strangers = c;
	s->n_strangers++;
	s->strangers_asked++;
	Anosip__V1__IdDirQuery q = ANOSIP__V1__ID_DIR_QUERY__INIT;
	q.op = ANOSIP__V1__ID_DIR_OP__IDDIR_OP_READ;
	q.nickname = c->caller;
	if (ua_iddir_query(s->ua, &q, on_directory, c) < 0)
		on_directory(c, NULL, "no ID Directory");
}

void ua_sip_strangers_stop(struct ua_sip *s)
{
	while (s->strangers) {
		struct ua_sip_stranger_call *c = s->strangers;
		if (c->handles == 2) {
			uv_timer_stop(&c->timer);
			uv_process_kill(&c->proc, SIGKILL);
			uv_close((uv_handle_t *)&c->proc, on_handle_closed);
			uv_close((uv_handle_t *)&c->timer, on_handle_closed);
		}
		decide(c, 0, "shutting down");
	}
}
