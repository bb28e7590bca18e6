/* Fuzzes the SIP part's handling of wire bytes (sip/): sip_frame_length,
 * sip_parse (and libosip2 under it), sip_to_string, the accessors,
 * sip_response_make and the scrubber. The input is one message as a
 * softphone, a TCP stream or a circuit would deliver it.
 *
 * What must hold:
 * - framing reads nothing past the input, returns at most the input's
 *   length and at most SIP_MESSAGE_MAX, and frames a message the same
 *   whether or not the stream had more bytes after it;
 * - a parsed message serialises into bytes sip_parse accepts again; a
 *   message handed out with an error is a request whose answer does;
 * - a response to a parsed request, and a scrubbed message, serialise
 *   into bytes that sip_parse accepts again (the scrubber's output is what
 *   enters the circuit, so it must be valid SIP with no body);
 * - the scrubbed message holds only what the whitelist names: one Via
 *   (ours), URIs sip:user@domain, hashed tags and Call-ID, the nickname's
 *   Contact, a handful of number headers, no body. */
#include "tests/fuzz/harness.h"

#include "sip/sip.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures(); /* sodium_init */
	sip_init();
	return 0;
}

static void scrub_settings(struct sip_scrub *s)
{
	memset(s, 0, sizeof(*s));
	s->nickname = FUZZ_NICKNAME;
	s->domain = "anosip.test";
	s->branch = "z9hG4bKfuzz";
	memset(s->hash_key, 0x5c, sizeof(s->hash_key));
}

/* Serialises m and parses the result, which must be accepted. */
static void reparse(const osip_message_t *m, const char *what)
{
	char *s = NULL;
	size_t len = 0;
	if (sip_to_string(m, &s, &len) != 0)
		fuzz_fail(what);
	/* A body may hold NULs; the terminator is after len. */
	if (s[len] != '\0' || strlen(s) > len)
		fuzz_fail("sip_to_string length disagrees with its output");
	osip_message_t *again = NULL;
	if (sip_parse(s, len, &again) != 0)
		fuzz_fail(what);
	osip_message_free(again);
	free(s);
}

static void accessors(const osip_message_t *m)
{
	char nick[SIP_NICKNAME_MAX + 1];
	if (!sip_method(m))
		fuzz_fail("sip_method returned NULL");
	(void)sip_status(m);
	(void)sip_branch(m);
	(void)sip_header(m, "subject");
	(void)sip_header(m, "l");
	(void)sip_register_expires(m, 3600);
	if (m->req_uri && sip_uri_nickname(m->req_uri, nick) == 0 &&
	    strlen(nick) > SIP_NICKNAME_MAX)
		fuzz_fail("sip_uri_nickname wrote a too long nickname");
	struct sip_credentials c;
	if (sip_credentials_parse(m, &c) == 0) {
		uint8_t ha1[SIP_HA1_SHA256_LEN] = {0};
		(void)sip_digest_verify(&c, sip_method(m), ha1);
		sip_credentials_free(&c);
	}
}

static int is(const char *s, const char *want)
{
	return s && strcmp(s, want) == 0;
}

/* A scrubbed URI: sip:[user@]host with no port, parameters or headers. */
static void check_uri(const osip_uri_t *u, const char *host)
{
	if (!u || !is(u->scheme, "sip") || !is(u->host, host) || u->port || u->password ||
	    !osip_list_eol(&u->url_params, 0) || !osip_list_eol(&u->url_headers, 0) || u->string)
		fuzz_fail("a scrubbed URI is not sip:user@host");
}

static void check_tag_only(const osip_list_t *params)
{
	for (int i = 0; !osip_list_eol(params, i); i++) {
		const osip_generic_param_t *p = osip_list_get(params, i);
		if (!is(p->gname, "tag") || !p->gvalue || strlen(p->gvalue) != 32)
			fuzz_fail("a scrubbed From or To has a parameter besides its hashed tag");
	}
}

/* The scrubbed message holds only what the whitelist names, in the shape
 * the scrubber writes it; and it serialises into SIP that parses. */
static void check_scrubbed(osip_message_t *m, const struct sip_scrub *s)
{
	const osip_via_t *via = osip_list_get(&m->vias, 0);
	if (!via || !osip_list_eol(&m->vias, 1) || !is(via->host, SIP_ANON_HOST) || via->port)
		fuzz_fail("a scrubbed message has another Via than ours");
	if (sip_is_request(m))
		check_uri(m->req_uri, s->domain);
	check_uri(m->from->url, s->domain);
	check_uri(m->to->url, s->domain);
	check_tag_only(&m->from->gen_params);
	check_tag_only(&m->to->gen_params);
	if (!is(m->call_id->host, SIP_ANON_HOST))
		fuzz_fail("a scrubbed Call-ID is not a hash");
	const osip_contact_t *c = osip_list_get(&m->contacts, 0);
	if (c && c->url) {
		check_uri(c->url, SIP_ANON_HOST);
		if (!is(c->url->username, s->nickname))
			fuzz_fail("a scrubbed Contact is not the nickname");
	}
	if (!osip_list_eol(&m->contacts, 1))
		fuzz_fail("a scrubbed message has two Contacts");
	for (int i = 0; !osip_list_eol(&m->headers, i); i++) {
		const osip_header_t *h = osip_list_get(&m->headers, i);
		if (strcasecmp(h->hname, "max-forwards") != 0 &&
		    strcasecmp(h->hname, "expires") != 0 &&
		    strcasecmp(h->hname, "min-expires") != 0 &&
		    strcasecmp(h->hname, "retry-after") != 0)
			fuzz_fail("a scrubbed message kept a header off the whitelist");
	}
	const osip_list_t *gone[] = {
	    &m->record_routes,
	    &m->routes,
	    &m->call_infos,
	    &m->alert_infos,
	    &m->error_infos,
	    &m->accepts,
	    &m->accept_encodings,
	    &m->accept_languages,
	    &m->content_encodings,
	    &m->allows,
	    &m->proxy_authenticates,
	    &m->proxy_authorizations,
	    &m->authentication_infos,
	    &m->proxy_authentication_infos,
	    &m->bodies,
	};
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (!osip_list_eol(gone[i], 0))
			fuzz_fail("a scrubbed message kept a list off the whitelist");
	if (m->mime_version)
		fuzz_fail("a scrubbed message kept MIME-Version");
	if (!osip_list_eol(&m->authorizations, 0) && !is(m->sip_method, "REGISTER"))
		fuzz_fail("Authorization kept outside a REGISTER");
	if (!osip_list_eol(&m->www_authenticates, 0) && sip_is_request(m))
		fuzz_fail("WWW-Authenticate kept in a request");
	reparse(m, "a scrubbed message does not parse again");
}

static void use(osip_message_t *m)
{
	accessors(m);
	reparse(m, "a parsed message does not serialise into SIP that parses");
	if (sip_is_request(m)) {
		static const int statuses[] = {100, 180, 400, 513};
		for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
			osip_message_t *r = NULL;
			if (sip_response_make(m, statuses[i], NULL, &r) != 0)
				fuzz_fail("sip_response_make refused a parsed request");
			reparse(r, "a response does not parse again");
			osip_message_free(r);
		}
	}
	struct sip_scrub s;
	scrub_settings(&s);
	int rc = sip_is_request(m) ? sip_scrub_request(m, &s) : sip_scrub_response(m, &s);
	if (rc == 0)
		check_scrubbed(m, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	int keepalive = 0;
	long n = sip_frame_length(buf, size, &keepalive);
	if (n > (long)size || n > SIP_MESSAGE_MAX)
		fuzz_fail("sip_frame_length framed more than it was given");
	if (n > 0 && !keepalive && (size_t)n < size) {
		/* The framed message alone frames the same. */
		if (sip_frame_length(buf, (size_t)n, NULL) != n)
			fuzz_fail("sip_frame_length depends on bytes after the message");
	}

	osip_message_t *m = NULL;
	int rc = sip_parse(buf, size, &m);
	if (rc == 0 && !m)
		fuzz_fail("sip_parse succeeded without a message");
	if (rc != 0 && m) {
		if (!sip_is_request(m) || sip_error_status(rc) == 0)
			fuzz_fail("sip_parse handed out a message it cannot answer");
		osip_message_t *r = NULL;
		if (sip_response_make(m, sip_error_status(rc), NULL, &r) != 0)
			fuzz_fail("sip_response_make refused a message sip_parse handed out");
		reparse(r, "an error response does not parse again");
		osip_message_free(r);
	}
	if (rc == 0)
		use(m);
	osip_message_free(m);
	return 0;
}
