/* RFC 3261 §25.1 grammar checks on what libosip2 parsed (grammar_raw.c
 * reads the raw text for what libosip2 reads away). Its reader is lenient
 * where a malformed field costs it nothing: a port "abc", an unclosed IPv6
 * bracket, a Via version "3.0", 8-bit bytes in a Call-ID or a tag all come
 * out as fields it happily writes back. A message like that is not SIP,
 * and the parts after us (the scrubber, the lighthouse, the next ua)
 * should not have to wonder about it: refused here, field by field. */
#include "sip/sip_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A decoded URI part: libosip2 hands user, password, parameters and
 * headers out with their escapes decoded, so any character may stand
 * there legally (sip:*97%23@h, ;x=a%20b) — except control bytes, which
 * grammar_raw.c already refuses escaped. NULL (absent) is fine. */
static int decoded_ok(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* A host name, an IPv4 address or an IPv6 reference (libosip2 keeps it
 * without the brackets). */
static int host_ok(const char *h)
{
	if (!h || !*h)
		return 0;
	const char *allowed = strchr(h, ':') ? "0123456789abcdefABCDEF:." : NULL;
	for (const char *p = h; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (allowed ? !strchr(allowed, c) : !is_alnum(c) && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

static int port_ok(const char *port)
{
	unsigned long long v;
	return !port || (sip_digits_value(port, 5, &v) && v <= 65535);
}

/* A generic-param: a token name, and a value that is a token, a host or
 * a quoted string (whose bytes the raw checks of parse.c have seen). */
static int params_ok(const osip_list_t *list)
{
	for (int i = 0; !osip_list_eol(list, i); i++) {
		const osip_generic_param_t *p = osip_list_get(list, i);
		if (!p || !sip_token_valid(p->gname, 256))
			return 0;
		const char *v = p->gvalue;
		if (!v || *v == '"')
			continue;
		if (!*v)
			return 0;
		for (; *v; v++)
			if (!sip_token_valid((char[]){*v, 0}, 1) && !strchr("[]:", *v))
				return 0;
	}
	return 1;
}

int sip_uri_grammar_ok(const osip_uri_t *u)
{
	if (!u || !u->scheme)
		return 0;
	/* Other schemes (tel:, urn:) are libosip2's opaque string. */
	if (osip_strcasecmp(u->scheme, "sip") != 0 && osip_strcasecmp(u->scheme, "sips") != 0)
		return 1;
	/* Their raw text, escapes and all, is grammar_raw.c's to check. */
	if (!decoded_ok(u->username) || !decoded_ok(u->password) || !host_ok(u->host) ||
	    !port_ok(u->port))
		return 0;
	for (int i = 0; !osip_list_eol(&u->url_params, i); i++) {
		const osip_uri_param_t *p = osip_list_get(&u->url_params, i);
		if (!p || !p->gname || !*p->gname || !decoded_ok(p->gname) ||
		    !decoded_ok(p->gvalue))
			return 0;
	}
	for (int i = 0; !osip_list_eol(&u->url_headers, i); i++) {
		const osip_uri_header_t *h = osip_list_get(&u->url_headers, i);
		if (!h || !h->gname || !*h->gname || !decoded_ok(h->gname) ||
		    !decoded_ok(h->gvalue))
			return 0;
	}
	return 1;
}

int sip_address_params_ok(const osip_from_t *a)
{
	return a && params_ok(&a->gen_params);
}

/* The numbers a Via parameter must hold (RFC 3261 §20.42, RFC 3581). */
static int via_param_ok(const osip_generic_param_t *p)
{
	unsigned long long v;
	if (strcasecmp(p->gname, "ttl") == 0)
		return p->gvalue && sip_digits_value(p->gvalue, 3, &v) && v <= 255;
	if (strcasecmp(p->gname, "rport") == 0)
		return !p->gvalue || port_ok(p->gvalue);
	if (strcasecmp(p->gname, "received") == 0 || strcasecmp(p->gname, "maddr") == 0) {
		/* maddr is a host, an IPv6 one in brackets; received is bare
		 * by RFC 3261, bracketed by some servers (RFC 5118 §4.5). */
		const char *h = p->gvalue;
		size_t n = h ? strlen(h) : 0;
		if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
			char inside[64];
			if (n - 2 >= sizeof(inside) || !memchr(h + 1, ':', n - 2))
				return 0;
			memcpy(inside, h + 1, n - 2);
			inside[n - 2] = '\0';
			return host_ok(inside);
		}
		return h && host_ok(h);
	}
	return 1;
}

int sip_via_grammar_ok(const osip_via_t *v)
{
	if (!v || !v->version || strcmp(v->version, "2.0") != 0 ||
	    !sip_token_valid(v->protocol, 32) || !host_ok(v->host) || !port_ok(v->port) ||
	    !params_ok(&v->via_params))
		return 0;
	for (int i = 0; !osip_list_eol(&v->via_params, i); i++)
		if (!via_param_ok(osip_list_get(&v->via_params, i)))
			return 0;
	return 1;
}

/* Call-ID = word ["@" word]: printable ASCII without blanks. */
int sip_call_id_grammar_ok(const osip_call_id_t *c)
{
	const char *parts[2] = {c ? c->number : NULL, c ? c->host : NULL};
	if (!parts[0] || !*parts[0] || (parts[1] && !*parts[1]))
		return 0;
	for (int i = 0; i < 2; i++)
		for (const char *p = parts[i]; p && *p; p++)
			if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '@')
				return 0;
	return 1;
}

int sip_content_type_grammar_ok(const osip_content_type_t *ct)
{
	return ct && sip_token_valid(ct->type, 128) && sip_token_valid(ct->subtype, 128) &&
	       params_ok(&ct->gen_params);
}
