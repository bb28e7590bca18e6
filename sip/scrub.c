/* The privacy scrubber (DESIGN.md §5.4, RFC 3323): a message is not
 * cleaned of what is known to leak, it is rebuilt from the few things that
 * may cross the circuit, each one checked and written out afresh. What is
 * not named here (every other header, every body) does not survive,
 * whatever a softphone invents next. */
#include "sip/sip_private.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BRANCH_MAX 128
#define HOST_MAX 253
#define METHOD_MAX 32
/* Domain-separation bytes of the two kinds of hashed values. */
#define HASH_TAG 't'
#define HASH_CALL_ID 'c'

void sip_scrub_hash(const uint8_t key[32], const char *value, int is_call_id, char *out,
		    size_t out_len)
{
	static const char suffix[] = "@" SIP_ANON_HOST;
	uint8_t h[16];
	size_t need = 2 * sizeof(h) + 1 + (is_call_id ? sizeof(suffix) - 1 : 0);
	if (!out || out_len < need) {
		if (out && out_len)
			out[0] = '\0';
		return;
	}
	uint8_t kind = is_call_id ? HASH_CALL_ID : HASH_TAG;
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, 32, sizeof(h));
	crypto_generichash_update(&st, &kind, 1);
	if (value)
		crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, out_len, h, sizeof(h));
	if (is_call_id)
		memcpy(out + 2 * sizeof(h), suffix, sizeof(suffix));
}

static int osip_rc(int rc)
{
	if (rc == 0)
		return 0;
	return rc == OSIP_NOMEM ? -ENOMEM : SIP_ERR_INVALID;
}

/* A host name we write: letters, digits, dots and dashes. */
static int host_ok(const char *s)
{
	size_t n = s ? strnlen(s, HOST_MAX + 1) : 0;
	if (n == 0 || n > HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/* Text that may be copied into a header: short, UTF-8, no control bytes. */
static int clean(const char *s)
{
	if (!s)
		return 1;
	size_t n = strnlen(s, 1025);
	if (n > 1024 || !sip_utf8_valid(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The user of a sip:/sips: URI as a nickname; *nick is "" when the URI
 * has no user. */
static int uri_user(const osip_uri_t *u, char nick[SIP_NICKNAME_MAX + 1])
{
	nick[0] = '\0';
	if (!u || !u->scheme ||
	    (strcasecmp(u->scheme, "sip") != 0 && strcasecmp(u->scheme, "sips") != 0))
		return SIP_ERR_INVALID;
	if (!u->username)
		return 0;
	return sip_uri_nickname(u, nick);
}

/* Whether a display name (quoted or not, as libosip2 keeps it) is the
 * user itself. */
static int display_is_user(const char *dn, const char *user)
{
	if (!dn || !*user)
		return 0;
	size_t n = strlen(dn);
	if (n >= 2 && dn[0] == '"' && dn[n - 1] == '"') {
		dn++;
		n -= 2;
	}
	return n == strlen(user) && strncmp(dn, user, n) == 0;
}

/* From or To: [ "user" ] <sip:user@domain>[;tag=HASH]. */
static int add_address(osip_message_t *n, const osip_from_t *a, const struct sip_scrub *s,
		       int is_to)
{
	char user[SIP_NICKNAME_MAX + 1], tag[65] = "", value[512];
	int rc = uri_user(a->url, user);
	if (rc != 0)
		return rc;
	osip_generic_param_t *t = NULL;
	if (osip_from_get_tag((osip_from_t *)a, &t) == 0 && t && t->gvalue)
		sip_scrub_hash(s->hash_key, t->gvalue, 0, tag, sizeof(tag));
	int show = display_is_user(a->displayname, user);
	snprintf(value, sizeof(value), "%s%s%s<sip:%s%s%s>%s%s", show ? "\"" : "", show ? user : "",
		 show ? "\" " : "", user, *user ? "@" : "", s->domain, *tag ? ";tag=" : "", tag);
	return osip_rc(is_to ? osip_message_set_to(n, value) : osip_message_set_from(n, value));
}

static int add_start_line(osip_message_t *n, const osip_message_t *m, const struct sip_scrub *s)
{
	char *version = osip_strdup("SIP/2.0");
	if (!version)
		return -ENOMEM;
	osip_message_set_version(n, version);
	if (!m->sip_method) {
		if (m->status_code < 100 || m->status_code > 699)
			return SIP_ERR_INVALID;
		/* The softphone's own phrase may name it ("Busy - baresip"). */
		char *phrase = osip_strdup(sip_reason_phrase(m->status_code));
		if (!phrase)
			return -ENOMEM;
		osip_message_set_reason_phrase(n, phrase);
		osip_message_set_status_code(n, m->status_code);
		return 0;
	}
	char user[SIP_NICKNAME_MAX + 1];
	int rc = uri_user(m->req_uri, user);
	if (rc != 0)
		return rc;
	if (!sip_token_valid(m->sip_method, METHOD_MAX))
		return SIP_ERR_INVALID;
	char *method = osip_strdup(m->sip_method);
	if (!method)
		return -ENOMEM;
	osip_message_set_method(n, method);
	osip_uri_t *u = NULL;
	if (osip_uri_init(&u) != 0)
		return -ENOMEM;
	u->scheme = osip_strdup("sip");
	u->host = osip_strdup(s->domain);
	u->username = *user ? osip_strdup(user) : NULL;
	if (!u->scheme || !u->host || (*user && !u->username)) {
		osip_uri_free(u);
		return -ENOMEM;
	}
	osip_message_set_uri(n, u);
	return 0;
}

static int add_call_id_cseq(osip_message_t *n, const osip_message_t *m, const struct sip_scrub *s)
{
	char *id = NULL, hash[64], cseq[64];
	unsigned long long seq;
	if (!m->call_id->number || !m->cseq->number || !m->cseq->method ||
	    !sip_digits_value(m->cseq->number, 10, &seq) || seq > 2147483647ull ||
	    !sip_token_valid(m->cseq->method, METHOD_MAX))
		return SIP_ERR_INVALID;
	int rc = osip_rc(osip_call_id_to_str(m->call_id, &id));
	if (rc != 0)
		return rc;
	sip_scrub_hash(s->hash_key, id, 1, hash, sizeof(hash));
	osip_free(id);
	snprintf(cseq, sizeof(cseq), "%llu %s", seq, m->cseq->method);
	rc = osip_rc(osip_message_set_call_id(n, hash));
	return rc ? rc : osip_rc(osip_message_set_cseq(n, cseq));
}

/* A kept number header, written as the number alone (comments and
 * parameters, as Retry-After may carry, are dropped). */
static int add_number(osip_message_t *n, const osip_message_t *m, const char *name,
		      unsigned long long max)
{
	const char *v = sip_header(m, name);
	char digits[24], text[24];
	size_t k = 0;
	if (!v)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	while (k < sizeof(digits) - 1 && v[k] >= '0' && v[k] <= '9') {
		digits[k] = v[k];
		k++;
	}
	digits[k] = '\0';
	unsigned long long x;
	if (!sip_digits_value(digits, 20, &x))
		return 0; /* not a number: dropped */
	snprintf(text, sizeof(text), "%llu", x > max ? max : x);
	return osip_rc(osip_message_set_header(n, name, text));
}

static int add_contact(osip_message_t *n, const osip_message_t *m, const struct sip_scrub *s)
{
	const osip_contact_t *c = osip_list_get(&m->contacts, 0);
	char value[128];
	if (!c)
		return 0;
	if (!c->url && c->displayname && strcmp(c->displayname, "*") == 0)
		return osip_rc(osip_message_set_contact(n, "*"));
	osip_generic_param_t *e = NULL;
	unsigned long long x;
	int has = osip_contact_param_get_byname((osip_contact_t *)c, "expires", &e) == 0 && e &&
		  sip_digits_value(e->gvalue, 20, &x);
	if (has && x > UINT_MAX)
		x = UINT_MAX;
	int w = snprintf(value, sizeof(value), "<sip:%s@%s>", s->nickname, SIP_ANON_HOST);
	if (has)
		snprintf(value + w, sizeof(value) - (size_t)w, ";expires=%llu", x);
	return osip_rc(osip_message_set_contact(n, value));
}

/* dst = copy of src when src is clean; -1 when it is not, -2 out of memory. */
static int copy_field(char **dst, const char *src)
{
	if (!src)
		return 0;
	if (!clean(src))
		return -1;
	*dst = osip_strdup(src);
	return *dst ? 0 : -2;
}

static int field_rc(int bad)
{
	return bad == -2 ? -ENOMEM : bad ? SIP_ERR_INVALID : 0;
}

/* The digest fields of each Authorization, nothing else of it. */
static int add_authorizations(osip_message_t *n, const osip_message_t *m)
{
	for (int i = 0; !osip_list_eol(&m->authorizations, i); i++) {
		const osip_authorization_t *a = osip_list_get(&m->authorizations, i);
		osip_authorization_t *b = NULL;
		if (!a)
			continue;
		if (osip_authorization_init(&b) != 0)
			return -ENOMEM;
		int bad = 0;
		bad = bad ? bad : copy_field(&b->auth_type, a->auth_type);
		bad = bad ? bad : copy_field(&b->username, a->username);
		bad = bad ? bad : copy_field(&b->realm, a->realm);
		bad = bad ? bad : copy_field(&b->nonce, a->nonce);
		bad = bad ? bad : copy_field(&b->uri, a->uri);
		bad = bad ? bad : copy_field(&b->response, a->response);
		bad = bad ? bad : copy_field(&b->algorithm, a->algorithm);
		bad = bad ? bad : copy_field(&b->cnonce, a->cnonce);
		bad = bad ? bad : copy_field(&b->opaque, a->opaque);
		bad = bad ? bad : copy_field(&b->message_qop, a->message_qop);
		bad = bad ? bad : copy_field(&b->nonce_count, a->nonce_count);
		if (!bad && !b->auth_type)
			bad = -1;
		if (bad || osip_list_add(&n->authorizations, b, -1) < 0) {
			osip_authorization_free(b);
			return bad ? field_rc(bad) : -ENOMEM;
		}
	}
	return 0;
}

/* The challenge fields of each WWW-Authenticate (not its domain list). */
static int add_challenges(osip_message_t *n, const osip_message_t *m)
{
	for (int i = 0; !osip_list_eol(&m->www_authenticates, i); i++) {
		const osip_www_authenticate_t *a = osip_list_get(&m->www_authenticates, i);
		osip_www_authenticate_t *b = NULL;
		if (!a)
			continue;
		if (osip_www_authenticate_init(&b) != 0)
			return -ENOMEM;
		int bad = 0;
		bad = bad ? bad : copy_field(&b->auth_type, a->auth_type);
		bad = bad ? bad : copy_field(&b->realm, a->realm);
		bad = bad ? bad : copy_field(&b->nonce, a->nonce);
		bad = bad ? bad : copy_field(&b->opaque, a->opaque);
		bad = bad ? bad : copy_field(&b->stale, a->stale);
		bad = bad ? bad : copy_field(&b->algorithm, a->algorithm);
		bad = bad ? bad : copy_field(&b->qop_options, a->qop_options);
		if (!bad && !b->auth_type)
			bad = -1;
		if (bad || osip_list_add(&n->www_authenticates, b, -1) < 0) {
			osip_www_authenticate_free(b);
			return bad ? field_rc(bad) : -ENOMEM;
		}
	}
	return 0;
}

static int build(osip_message_t *n, const osip_message_t *m, const struct sip_scrub *s)
{
	char via[sizeof("SIP/2.0/UDP " SIP_ANON_HOST ";branch=") + BRANCH_MAX];
	int rc = add_start_line(n, m, s);
	if (rc != 0)
		return rc;
	snprintf(via, sizeof(via), "SIP/2.0/UDP %s;branch=%s", SIP_ANON_HOST, s->branch);
	if ((rc = osip_rc(osip_message_set_via(n, via))) != 0 ||
	    (rc = add_address(n, m->from, s, 0)) != 0 || (rc = add_address(n, m->to, s, 1)) != 0 ||
	    (rc = add_call_id_cseq(n, m, s)) != 0 || (rc = add_contact(n, m, s)) != 0 ||
	    (rc = add_number(n, m, "Max-Forwards", 255)) != 0 ||
	    (rc = add_number(n, m, "Expires", UINT_MAX)) != 0)
		return rc;
	if (m->sip_method && strcmp(m->sip_method, "REGISTER") == 0 &&
	    (rc = add_authorizations(n, m)) != 0)
		return rc;
	if (!m->sip_method && ((rc = add_challenges(n, m)) != 0 ||
			       (rc = add_number(n, m, "Min-Expires", UINT_MAX)) != 0 ||
			       (rc = add_number(n, m, "Retry-After", UINT_MAX)) != 0))
		return rc;
	/* No body is copied, so no Content-Type either. */
	return osip_rc(osip_message_set_content_length(n, "0"));
}

static int scrub(osip_message_t *m, const struct sip_scrub *s, int request)
{
	if (!m || !s || sip_is_request(m) != request || !util_nickname_valid(s->nickname) ||
	    !host_ok(s->domain) || !s->branch || !sip_token_valid(s->branch, BRANCH_MAX))
		return SIP_ERR_INVALID;
	if (!m->from || !m->to || !m->call_id || !m->cseq)
		return SIP_ERR_MISSING;
	sip_init();
	osip_message_t *n = NULL;
	if (osip_message_init(&n) != 0)
		return -ENOMEM;
	int rc = build(n, m, s);
	if (rc != 0) {
		osip_message_free(n);
		return rc;
	}
	/* In place: the caller's pointer now holds the rebuilt message and the
	 * original goes. libosip2's lists are a count and a first node, so the
	 * structs can be swapped whole. */
	osip_message_t old = *m;
	*m = *n;
	*n = old;
	osip_message_free(n);
	osip_message_force_update(m);
	return 0;
}

int sip_scrub_request(osip_message_t *m, const struct sip_scrub *s)
{
	return scrub(m, s, 1);
}

int sip_scrub_response(osip_message_t *m, const struct sip_scrub *s)
{
	return scrub(m, s, 0);
}
