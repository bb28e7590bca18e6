/* The lighthouse as a registrar (DESIGN.md §5.1, paper §4.1): digest
 * authentication (RFC 7616, RFC 8760: SHA-256 first, MD5 when allowed) with
 * nonces it checks without storing them, each (nonce, nc, cnonce) once,
 * failures per nickname counted in SQLite and slowed down, the granted
 * Expires in SQLite; and the password hashes a ua gives at sign-up. */
#include "lighthouse/lh_private.h"

#include "sip/sip.h"
#include "util/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Expires we grant: at least this (shorter gets 423), at most the max. */
#define LH_REGISTER_MIN_S 60
#define LH_REGISTER_MAX_S 7200
#define LH_REGISTER_DEFAULT_S 3600

static void challenge(struct lh *lh, const struct lh_sip_origin *o, const osip_message_t *req,
		      int stale)
{
	char nonce[128], *sha = NULL, *md5 = NULL;
	sip_nonce_make(lh->nonce_key, lh->realm, util_wall_ms() / 1000, nonce, sizeof(nonce));
	/* RFC 8760 §2.4: most preferred first. */
	if (sip_digest_challenge(SIP_DIGEST_SHA256, lh->realm, nonce, stale, &sha) < 0 ||
	    (lh->digest_md5 &&
	     sip_digest_challenge(SIP_DIGEST_MD5, lh->realm, nonce, stale, &md5) < 0)) {
		free(sha);
		return;
	}
	const char *headers[] = {"WWW-Authenticate", sha, md5 ? "WWW-Authenticate" : NULL, md5,
				 NULL};
	lh_sip_reply(lh, o, req, 401, headers);
	free(sha);
	free(md5);
}

/* What a REGISTER gets: a challenge, or a status with up to two extra
 * headers (name/value pairs in headers, values in the buffers here). */
struct register_answer {
	int challenge, stale;
	int registered; /* a registration written (counted once committed) */
	int status;
	const char *headers[5];
	char contact[160], number[16];
};

static void answer(struct register_answer *a, int status, const char *name, const char *value)
{
	a->status = status;
	a->headers[0] = name;
	a->headers[1] = value;
	a->headers[2] = NULL;
}

/* Decides a REGISTER's answer, reading and writing the store. */
static void decide(struct lh *lh, struct lh_circuit *c, const osip_message_t *req, uint64_t now,
		   struct register_answer *a)
{
	char to[SIP_NICKNAME_MAX + 1];
	/* The circuit speaks for its own nickname only. */
	if (!req->to || sip_uri_nickname(osip_to_get_url(req->to), to) < 0 ||
	    strcmp(to, c->nickname) != 0) {
		answer(a, 403, NULL, NULL);
		return;
	}
	unsigned failures = 0;
	if (lh_store_auth_failures(lh->store, c->nickname, now, &failures) == 0 &&
	    failures >= LH_AUTH_MAX_FAILURES) {
		/* At most this long: the window started at the first failure. */
		snprintf(a->number, sizeof(a->number), "%u", LH_STORE_AUTH_WINDOW_S);
		answer(a, 403, "Retry-After", a->number);
		return;
	}
	struct sip_credentials cred = {0};
	if (sip_credentials_parse(req, &cred) < 0) {
		a->challenge = 1;
		goto out;
	}
	int rc = sip_nonce_check(lh->nonce_key, lh->realm, cred.nonce, now);
	if (rc < 0 || strcmp(cred.realm, lh->realm) != 0 ||
	    (cred.algorithm == SIP_DIGEST_MD5 && !lh->digest_md5)) {
		a->challenge = 1;
		a->stale = rc == SIP_ERR_STALE;
		goto out;
	}
	uint8_t ha1_md5[SIP_HA1_MD5_LEN], ha1_sha[SIP_HA1_SHA256_LEN];
	int has_md5 = 0, has_sha = 0;
	if (lh_store_password_get(lh->store, c->nickname, ha1_md5, &has_md5, ha1_sha, &has_sha) <
		0 ||
	    (cred.algorithm == SIP_DIGEST_MD5 ? !has_md5 : !has_sha)) {
		/* No password yet: the ua sets one from its config first. */
		answer(a, 403, "Warning", "399 anosip \"no password set for this account\"");
		goto wipe;
	}
	rc = sip_digest_verify(&cred, "REGISTER",
			       cred.algorithm == SIP_DIGEST_MD5 ? ha1_md5 : ha1_sha);
	if (rc < 0 || strcmp(cred.username, c->nickname) != 0) {
		lh_store_auth_failure(lh->store, c->nickname, now, &failures);
		lh->sip_auth_failed++;
		log_info("REGISTER for %s: wrong digest response (%u failures)", c->nickname,
			 failures);
		answer(a, 403, NULL, NULL);
		goto wipe;
	}
	/* Each (nonce, nc, cnonce) once: a replayed Authorization asks again. */
	uint8_t id[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(id));
	crypto_generichash_update(&st, (const uint8_t *)cred.nonce, strlen(cred.nonce) + 1);
	crypto_generichash_update(&st, (const uint8_t *)cred.nc, strlen(cred.nc) + 1);
	crypto_generichash_update(&st, (const uint8_t *)cred.cnonce, strlen(cred.cnonce) + 1);
	crypto_generichash_final(&st, id, sizeof(id));
	uint64_t full = lh->nonce_counts.refused_full;
	if (util_replay_check(&lh->nonce_counts, id, sizeof(id), util_now_ms())) {
		uint64_t n = lh->nonce_counts.refused_full;
		/* Logged at the 1st, 2nd, 4th, 8th... refusal: seen, not a flood. */
		if (n != full && (n & (n - 1)) == 0)
			log_warn("REGISTER: the set of accepted nonce counts is full (%llu "
				 "refused); REGISTERs wait for it to turn over",
				 (unsigned long long)n);
		node_count_drop(lh->node, NODE_DROP_REPLAY);
		a->challenge = a->stale = 1;
		goto wipe;
	}
	if (failures > 0)
		lh_store_auth_reset(lh->store, c->nickname);
	unsigned expires = sip_register_expires(req, LH_REGISTER_DEFAULT_S);
	if (expires == 0) {
		lh_store_registration_delete(lh->store, c->nickname);
		answer(a, 200, NULL, NULL);
		goto wipe;
	}
	if (expires < LH_REGISTER_MIN_S) {
		answer(a, 423, "Min-Expires", "60");
		goto wipe;
	}
	if (expires > LH_REGISTER_MAX_S)
		expires = LH_REGISTER_MAX_S;
	if (lh_store_registration_set(lh->store, c->nickname, now + expires) < 0) {
		answer(a, 500, "Retry-After", "5");
		goto wipe;
	}
	a->registered = 1;
	snprintf(a->contact, sizeof(a->contact), "<sip:%s@%s>;expires=%u", c->nickname,
		 SIP_ANON_HOST, expires);
	snprintf(a->number, sizeof(a->number), "%u", expires);
	answer(a, 200, "Contact", a->contact);
	a->headers[2] = "Expires";
	a->headers[3] = a->number;
	a->headers[4] = NULL;
wipe:
	sodium_memzero(ha1_md5, sizeof(ha1_md5));
	sodium_memzero(ha1_sha, sizeof(ha1_sha));
out:
	sip_credentials_free(&cred);
}

void lh_registrar_on_register(struct lh *lh, struct lh_circuit *c, const struct lh_sip_origin *o,
			      const osip_message_t *req)
{
	struct register_answer a = {0};
	/* One transaction for the REGISTER, committed before it is answered:
	 * a 200 stands for a registration on disk. */
	int in_transaction = lh_store_begin(lh->store) == 0;
	decide(lh, c, req, util_wall_ms() / 1000, &a);
	if (in_transaction && lh_store_commit(lh->store) < 0 && !a.challenge) {
		log_warn("REGISTER: the store did not commit");
		answer(&a, 500, "Retry-After", "5");
		a.registered = 0;
	}
	if (a.registered)
		lh->sip_registered++;
	if (a.challenge)
		challenge(lh, o, req, a.stale);
	else
		lh_sip_reply(lh, o, req, a.status, a.headers[0] ? a.headers : NULL);
}

void lh_sip_on_password(struct lh *lh, struct lh_circuit *c, const Anosip__V1__SipPassword *p)
{
	Anosip__V1__SipPasswordAnswer a = ANOSIP__V1__SIP_PASSWORD_ANSWER__INIT;
	Anosip__V1__CircuitMessage m = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	a.realm = lh->realm;
	if (p->realm && strcmp(p->realm, lh->realm) == 0 &&
	    p->ha1_sha256.len == SIP_HA1_SHA256_LEN &&
	    (p->ha1_md5.len == SIP_HA1_MD5_LEN || p->ha1_md5.len == 0))
		a.stored =
		    lh_store_password_set(lh->store, c->nickname,
					  lh->digest_md5 && p->ha1_md5.len ? p->ha1_md5.data : NULL,
					  p->ha1_sha256.data, 1) == 0;
	if (a.stored)
		log_info("%s: password set by its owner", c->nickname);
	m.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_PASSWORD_ANSWER;
	m.password_answer = &a;
	lh_send_back(lh, c, &m);
}
