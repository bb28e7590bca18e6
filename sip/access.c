/* sip: reading parsed messages and building responses to requests. */
#include "sip/sip_private.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

int sip_is_request(const osip_message_t *m)
{
	return m && m->sip_method != NULL;
}

const char *sip_method(const osip_message_t *m)
{
	if (!m)
		return "";
	if (m->sip_method)
		return m->sip_method;
	if (m->cseq && m->cseq->method)
		return m->cseq->method;
	return "";
}

int sip_status(const osip_message_t *m)
{
	return m && !m->sip_method ? m->status_code : 0;
}

const char *sip_branch(const osip_message_t *m)
{
	if (!m)
		return NULL;
	osip_via_t *via = osip_list_get(&m->vias, 0);
	osip_generic_param_t *b = NULL;
	if (!via || osip_via_param_get_byname(via, "branch", &b) != 0 || !b)
		return NULL;
	return b->gvalue;
}

int sip_uri_nickname(const osip_uri_t *uri, char nick[SIP_NICKNAME_MAX + 1])
{
	nick[0] = '\0';
	if (!uri || !uri->username || !util_nickname_valid(uri->username))
		return SIP_ERR_INVALID;
	size_t n = strlen(uri->username);
	if (n > SIP_NICKNAME_MAX)
		return SIP_ERR_INVALID;
	memcpy(nick, uri->username, n + 1);
	return 0;
}

/* RFC 3261 §7.3.3 and the later RFCs' compact forms. */
static const struct {
	char letter;
	const char *name;
} compact_forms[] = {
    {'a', "accept-contact"},
    {'b', "referred-by"},
    {'c', "content-type"},
    {'d', "request-disposition"},
    {'e', "content-encoding"},
    {'f', "from"},
    {'i', "call-id"},
    {'j', "reject-contact"},
    {'k', "supported"},
    {'l', "content-length"},
    {'m', "contact"},
    {'n', "identity-info"},
    {'o', "event"},
    {'r', "refer-to"},
    {'s', "subject"},
    {'t', "to"},
    {'u', "allow-events"},
    {'v', "via"},
    {'x', "session-expires"},
    {'y', "identity"},
};

const char *sip_header(const osip_message_t *m, const char *name)
{
	if (!m || !name || !*name)
		return NULL;
	/* The long and the compact name of what was asked for. */
	const char *full = name;
	char letter = 0;
	for (size_t i = 0; i < sizeof(compact_forms) / sizeof(compact_forms[0]); i++) {
		if (strcasecmp(name, compact_forms[i].name) == 0 ||
		    (name[1] == '\0' && (name[0] | 0x20) == compact_forms[i].letter)) {
			full = compact_forms[i].name;
			letter = compact_forms[i].letter;
			break;
		}
	}
	if (strcasecmp(full, "content-length") == 0)
		return m->content_length ? m->content_length->value : NULL;
	for (int i = 0; !osip_list_eol(&m->headers, i); i++) {
		const osip_header_t *h = osip_list_get(&m->headers, i);
		if (!h || !h->hname)
			continue;
		if (strcasecmp(h->hname, full) == 0 ||
		    (letter && h->hname[0] && !h->hname[1] && (h->hname[0] | 0x20) == letter))
			return h->hvalue ? h->hvalue : "";
	}
	return NULL;
}

/* A delta-seconds value (RFC 3261 §20.19: larger ones mean 2**32-1). */
static int delta_seconds(const char *s, unsigned *out)
{
	unsigned long long v;
	if (!s)
		return 0;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!sip_digits_value(s, 20, &v))
		return 0;
	*out = v > UINT_MAX ? UINT_MAX : (unsigned)v;
	return 1;
}

unsigned sip_register_expires(const osip_message_t *m, unsigned def)
{
	unsigned v;
	if (!m)
		return def;
	osip_contact_t *c = osip_list_get(&m->contacts, 0);
	osip_generic_param_t *p = NULL;
	if (c && osip_contact_param_get_byname(c, "expires", &p) == 0 && p &&
	    delta_seconds(p->gvalue, &v))
		return v;
	if (delta_seconds(sip_header(m, "expires"), &v))
		return v;
	return def;
}

const char *sip_reason_phrase(int status)
{
	const char *r = osip_message_get_reason(status);
	return r ? r : "Unknown";
}

/* A reason phrase we put on the wire: short UTF-8 text, no control bytes. */
static int reason_ok(const char *r)
{
	size_t n = strlen(r);
	if (n > 128 || !sip_utf8_valid(r, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
			return 0;
	return 1;
}

static int add_tag(osip_to_t *to)
{
	uint8_t raw[8];
	char hex[2 * sizeof(raw) + 1];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	char *name = osip_strdup("tag"), *value = osip_strdup(hex);
	if (!name || !value || osip_generic_param_add(&to->gen_params, name, value) != 0) {
		/* On a failed add libosip2 may already own them; only the
		 * allocation failure is certain to leave them with us. */
		if (!name || !value) {
			osip_free(name);
			osip_free(value);
		}
		return -ENOMEM;
	}
	return 0;
}

static int clone_rc(int rc)
{
	if (rc == 0)
		return 0;
	return rc == OSIP_NOMEM ? -ENOMEM : SIP_ERR_MISSING;
}

int sip_response_make(const osip_message_t *request, int status, const char *reason,
		      osip_message_t **out)
{
	*out = NULL;
	if (!request || !request->sip_method || status < 100 || status > 699)
		return SIP_ERR_INVALID;
	if (osip_list_eol(&request->vias, 0) || !request->from || !request->to ||
	    !request->call_id || !request->cseq)
		return SIP_ERR_MISSING;
	if (!reason)
		reason = sip_reason_phrase(status);
	else if (!reason_ok(reason))
		return SIP_ERR_INVALID;
	sip_init();

	osip_message_t *r = NULL;
	if (osip_message_init(&r) != 0)
		return -ENOMEM;
	int rc = -ENOMEM;
	char *version = osip_strdup("SIP/2.0"), *phrase = osip_strdup(reason);
	if (!version || !phrase) {
		osip_free(version);
		osip_free(phrase);
		goto fail;
	}
	osip_message_set_version(r, version);
	osip_message_set_reason_phrase(r, phrase);
	osip_message_set_status_code(r, status);
	for (int i = 0; !osip_list_eol(&request->vias, i); i++) {
		osip_via_t *via = NULL;
		if ((rc = clone_rc(osip_via_clone(osip_list_get(&request->vias, i), &via))) != 0)
			goto fail;
		if (osip_list_add(&r->vias, via, -1) < 0) {
			osip_via_free(via);
			rc = -ENOMEM;
			goto fail;
		}
	}
	/* A clone fails on NOMEM or on a header missing its parts (a request
	 * not from sip_parse). */
	if ((rc = clone_rc(osip_from_clone(request->from, &r->from))) != 0 ||
	    (rc = clone_rc(osip_to_clone(request->to, &r->to))) != 0 ||
	    (rc = clone_rc(osip_call_id_clone(request->call_id, &r->call_id))) != 0 ||
	    (rc = clone_rc(osip_cseq_clone(request->cseq, &r->cseq))) != 0)
		goto fail;
	rc = -ENOMEM;
	osip_generic_param_t *tag = NULL;
	if (status > 100 && (osip_to_get_tag(r->to, &tag) != 0 || !tag) && add_tag(r->to) != 0)
		goto fail;
	if (osip_message_set_content_length(r, "0") != 0)
		goto fail;
	*out = r;
	return 0;
fail:
	osip_message_free(r);
	return rc;
}

int sip_response_text(const osip_message_t *request, int status, const char *reason,
		      const char *const *headers, char **out, size_t *len)
{
	osip_message_t *resp = NULL;
	int rc = sip_response_make(request, status, reason, &resp);
	if (rc < 0)
		return rc;
	for (; headers && headers[0]; headers += 2)
		if (osip_message_set_header(resp, headers[0], headers[1]) != 0) {
			osip_message_free(resp);
			return -ENOMEM;
		}
	rc = sip_to_string(resp, out, len);
	osip_message_free(resp);
	return rc;
}
