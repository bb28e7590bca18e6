/* sip_parse: bound the bytes, check them ourselves where libosip2 is
 * lenient (line ends, control bytes, UTF-8, the start line, the length),
 * let libosip2 parse, then check what it parsed (mandatory headers, CSeq,
 * URI scheme) and, for what its reading loses, the raw URIs, addresses,
 * Vias and media types (grammar_raw.c). The first failed check decides the
 * error; see sip.h for when the message is handed out anyway. */
#include "sip/sip_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Methods and CSeq numbers longer than this are not from a softphone. */
#define METHOD_MAX 32
#define CSEQ_MAX 2147483647ull /* RFC 3261 §8.1.1.5: below 2**31 */

static void keep(int *err, int rc)
{
	if (*err == 0 && rc < 0)
		*err = rc;
}

/* What the first line looks like: SIP_ERR_PARSE when it is not SIP at all,
 * SIP_ERR_INVALID when it is SIP but wrong; *shape_ok says whether it has
 * the three parts libosip2 expects, so that libosip2 may still read the
 * headers (for an answer). */
static int check_start_line(const char *p, size_t n, int *shape_ok)
{
	*shape_ok = 0;
	if (n >= 4 && memcmp(p, "SIP/", 4) == 0) {
		/* SIP/2.0 SP 3DIGIT SP Reason-Phrase */
		const char *sp = memchr(p, ' ', n);
		if (!sp || (size_t)(sp - p) + 5 > n || sp[4] != ' ')
			return SIP_ERR_INVALID;
		int status = 0;
		for (int i = 1; i <= 3; i++) {
			if (sp[i] < '0' || sp[i] > '9')
				return SIP_ERR_INVALID;
			status = status * 10 + (sp[i] - '0');
		}
		*shape_ok = 1;
		if (sp - p != 7 || strncasecmp(p, "SIP/2.0", 7) != 0)
			return SIP_ERR_INVALID;
		if (status < 100 || status > 699)
			return SIP_ERR_INVALID;
		return 0;
	}
	/* Method SP Request-URI SP SIP-Version */
	const char *sp1 = memchr(p, ' ', n);
	const char *sp2 = sp1 ? memrchr(p, ' ', n) : NULL;
	const char *version = sp2 ? sp2 + 1 : p;
	size_t vlen = n - (size_t)(version - p);
	if (!sp1 || vlen < 4 || strncasecmp(version, "SIP/", 4) != 0)
		return SIP_ERR_PARSE;
	if (sp1 == sp2 || sp1 == p || sp2 == sp1 + 1 ||
	    memchr(sp1 + 1, ' ', (size_t)(sp2 - sp1 - 1)))
		return SIP_ERR_INVALID;
	*shape_ok = 1;
	if (vlen != 7 || strncasecmp(version, "SIP/2.0", 7) != 0)
		return SIP_ERR_INVALID;
	size_t mlen = (size_t)(sp1 - p);
	if (mlen > METHOD_MAX)
		return SIP_ERR_INVALID;
	char method[METHOD_MAX + 1];
	memcpy(method, p, mlen);
	method[mlen] = '\0';
	if (!sip_token_valid(method, METHOD_MAX))
		return SIP_ERR_INVALID;
	return 0;
}

/* The raw bytes of the start line and headers (n bytes, the blank line
 * included when there is one). libosip2 takes a lone CR or LF for a line
 * end and unfolds continuation lines, so a value could hide a second
 * header from a check that reads the parsed message; and it stops at a
 * NUL. All three are refused here, before it sees them: SIP_ERR_INJECTION.
 * Other control bytes: SIP_ERR_INVALID. Not UTF-8: SIP_ERR_ENCODING. */
static int check_header_bytes(const char *p, size_t n)
{
	int control = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\0' || c == '\n')
			return SIP_ERR_INJECTION;
		if (c == '\r') {
			if (i + 1 >= n || p[i + 1] != '\n')
				return SIP_ERR_INJECTION;
			i++;
			/* A line folded onto the next (obsolete LWS). */
			if (i + 1 < n && (p[i + 1] == ' ' || p[i + 1] == '\t'))
				return SIP_ERR_INJECTION;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			control = 1;
	}
	if (control)
		return SIP_ERR_INVALID;
	if (!sip_utf8_valid(p, n))
		return SIP_ERR_ENCODING;
	return 0;
}

/* Every header line (after the start line, before the blank line) is a
 * token name, optional blanks, a colon. Only called once the bytes passed
 * check_header_bytes, so lines end with CRLF. */
static int check_header_names(const char *p, size_t n)
{
	const char *end = p + n;
	const char *line = sip_crlf(p, end);
	if (!line)
		return SIP_ERR_INVALID;
	for (line += 2; line < end;) {
		const char *eol = sip_crlf(line, end);
		if (!eol)
			return SIP_ERR_INVALID;
		if (eol == line)
			break; /* the blank line */
		const char *q = line;
		while (q < eol && *q != ':' && *q != ' ' && *q != '\t') {
			char c = *q;
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || (c && strchr("-.!%*_+`'~", c))))
				return SIP_ERR_INVALID;
			q++;
		}
		if (q == line)
			return SIP_ERR_INVALID;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q == eol || *q != ':')
			return SIP_ERR_INVALID;
		line = eol + 2;
	}
	return 0;
}

static int display_name_ok(const char *name)
{
	return !name || sip_utf8_valid(name, strlen(name));
}

/* Enough to answer: a request whose answer (Via, From, To, Call-ID and
 * CSeq copied) is itself a message sip_parse accepts. A message that
 * failed a check may hold bad bytes in those headers, or libosip2 may have
 * read them leniently; the answer must still be SIP. Only errors pay for
 * this. */
static int answerable(const osip_message_t *m)
{
	osip_message_t *r = NULL, *back = NULL;
	char *text = NULL;
	size_t len = 0;
	if (!m->sip_method || !m->req_uri)
		return 0;
	int ok = sip_response_make(m, 400, NULL, &r) == 0 && sip_to_string(r, &text, &len) == 0 &&
		 sip_parse(text, len, &back) == 0;
	osip_message_free(back);
	free(text);
	osip_message_free(r);
	return ok;
}

/* A URI as libosip2 will write it is one token of URI characters: its
 * reader takes some things in a name-addr ("Contact: en: 0") that it then
 * writes as "<en: 0>", which it refuses to read back. */
static int uri_ok(const osip_uri_t *u)
{
	char *text = NULL;
	if (!u || !u->scheme || osip_uri_to_str(u, &text) != 0 || !text) {
		osip_free(text);
		return 0;
	}
	int ok = *text && !strpbrk(text, " \t<>\"") && sip_uri_grammar_ok(u);
	osip_free(text);
	return ok;
}

/* Every name-addr of a list (Contact, Route, Record-Route) has a sound
 * URI and a UTF-8 display name; a Contact may also be "*". */
static int check_addresses(const osip_list_t *list, int star_ok)
{
	for (int i = 0; !osip_list_eol(list, i); i++) {
		const osip_from_t *a = osip_list_get(list, i);
		if (!a)
			return SIP_ERR_INVALID;
		if (!a->url) {
			if (!star_ok || !a->displayname || strcmp(a->displayname, "*") != 0)
				return SIP_ERR_INVALID;
		} else if (!uri_ok(a->url) || !sip_address_params_ok(a)) {
			return SIP_ERR_INVALID;
		}
		if (!display_name_ok(a->displayname))
			return SIP_ERR_ENCODING;
	}
	return 0;
}

/* The start line, the mandatory headers and CSeq of what libosip2 read. */
static int check_essentials(const osip_message_t *m)
{
	if (m->sip_method) {
		const osip_uri_t *u = m->req_uri;
		if (!u || !u->scheme || !u->host || !*u->host || !uri_ok(u))
			return SIP_ERR_INVALID;
		if (osip_strcasecmp(u->scheme, "sip") != 0 &&
		    osip_strcasecmp(u->scheme, "sips") != 0)
			return SIP_ERR_INVALID;
	} else if (m->status_code < 100 || m->status_code > 699) {
		return SIP_ERR_INVALID;
	}
	if (osip_list_eol(&m->vias, 0) || !m->from || !m->to || !m->call_id ||
	    !m->call_id->number || !m->cseq || !m->cseq->number || !m->cseq->method)
		return SIP_ERR_MISSING;
	if (!uri_ok(m->from->url) || !uri_ok(m->to->url) || !sip_address_params_ok(m->from) ||
	    !sip_address_params_ok(m->to) || !sip_call_id_grammar_ok(m->call_id))
		return SIP_ERR_INVALID;
	for (int i = 0; !osip_list_eol(&m->vias, i); i++)
		if (!sip_via_grammar_ok(osip_list_get(&m->vias, i)))
			return SIP_ERR_INVALID;
	if (!display_name_ok(m->from->displayname) || !display_name_ok(m->to->displayname))
		return SIP_ERR_ENCODING;
	unsigned long long seq;
	if (!sip_digits_value(m->cseq->number, 10, &seq) || seq > CSEQ_MAX ||
	    !sip_token_valid(m->cseq->method, METHOD_MAX))
		return SIP_ERR_INVALID;
	if (m->sip_method && strcmp(m->sip_method, m->cseq->method) != 0)
		return SIP_ERR_INVALID;
	return 0;
}

/* Header name (one libosip2 keeps as text) is absent, or there once with
 * a decimal value. RFC 3261 §7.3: only list headers may repeat; a second
 * one is kept as text too, and a proxy might read either. (The position
 * libosip2's lookup takes is an index into all headers.) */
static int single_number(const osip_message_t *m, const char *name)
{
	osip_header_t *h = NULL;
	int at = osip_message_header_get_byname(m, name, 0, &h);
	if (at < 0 || !h)
		return 1;
	if (!sip_digits_value(h->hvalue, 10, NULL))
		return 0;
	h = NULL;
	return osip_message_header_get_byname(m, name, at + 1, &h) < 0 || !h;
}

/* Checks of what libosip2 parsed. */
static int check_message(const osip_message_t *m, size_t body_len)
{
	int rc = check_essentials(m);
	if (rc == 0)
		rc = check_addresses(&m->contacts, 1);
	if (rc == 0)
		rc = check_addresses(&m->routes, 0);
	if (rc == 0)
		rc = check_addresses(&m->record_routes, 0);
	if (rc != 0)
		return rc;
	/* Max-Forwards may be missing (some softphones leave it out), but when
	 * present it is a number; so is Expires (delta-seconds). */
	if (!single_number(m, "max-forwards") || !single_number(m, "expires"))
		return SIP_ERR_INVALID;
	if (m->content_type && !sip_content_type_grammar_ok(m->content_type))
		return SIP_ERR_INVALID;
	/* RFC 3261 §20.15: a body needs its type (libosip2 drops an untyped
	 * body silently). */
	if (body_len > 0 && !m->content_type)
		return SIP_ERR_INVALID;
	return 0;
}

static int parse(const char *buf, size_t len, osip_message_t **out, int round_trip);

/* What is accepted must be sendable: written out by libosip2, it must read
 * back. Its reader and writer disagree on some input (a Via with odd
 * spacing comes out as one it refuses), and a message forwarded should not
 * fail at the next hop for our rewriting. When the writer gives back the
 * very bytes that were read (as for what our own nodes wrote), they read
 * back as they just did: no second parse. */
static int check_round_trip(const osip_message_t *m, const char *in, size_t in_len)
{
	char *text = NULL;
	size_t len = 0;
	osip_message_t *back = NULL;
	int rc = sip_to_string(m, &text, &len);
	if (rc == 0 && !(len == in_len && memcmp(text, in, len) == 0))
		rc = parse(text, len, &back, 0);
	/* The writer spells some headers longer (one Allow line per method). */
	if (rc != 0 && rc != SIP_ERR_TOO_LARGE && rc != -ENOMEM)
		rc = SIP_ERR_INVALID;
	osip_message_free(back);
	free(text);
	return rc;
}

/* Hands m out when the caller can answer it, else frees it. */
static int finish(osip_message_t *m, int err, osip_message_t **out)
{
	if (err == 0 || (err != -ENOMEM && answerable(m)))
		*out = m;
	else
		osip_message_free(m);
	return err;
}

/* Whether a Content-Type line of the headers (hdr bytes) names a
 * multipart body. libosip2 5.3.0 parses those parts itself and leaks
 * memory on some malformed ones (a part with two Content-Types); nothing
 * here needs them, so they are refused before it sees them. Any mention
 * counts, so that no spelling libosip2 reads as multipart gets past. */
static int multipart(const char *p, size_t hdr)
{
	const char *end = p + hdr;
	const char *line = sip_crlf(p, end);
	while (line && line + 2 < end) {
		line += 2;
		const char *eol = sip_crlf(line, end), *v;
		if (!eol)
			eol = end;
		if (sip_header_line_is(line, eol, "content-type", 'c', &v))
			for (; v + 9 <= eol; v++)
				if (strncasecmp(v, "multipart", 9) == 0)
					return 1;
		line = eol;
	}
	return 0;
}

/* Parses only the headers (hdr bytes, already checked to be clean CRLF
 * lines), without the Content-Type and Content-Length lines so that
 * libosip2 does not look for a body, for an answer to a message whose body
 * is not parsed: returns err, with *out set when it can be answered. */
static int parse_headers_only(const char *p, size_t hdr, int err, osip_message_t **out)
{
	char *copy = malloc(hdr);
	if (!copy)
		return -ENOMEM;
	const char *end = p + hdr;
	const char *line = sip_crlf(p, end) + 2;
	size_t n = (size_t)(line - p);
	memcpy(copy, p, n);
	while (line < end) {
		const char *eol = sip_crlf(line, end) + 2;
		const char *v;
		if (!sip_header_line_is(line, eol, "content-length", 'l', &v) &&
		    !sip_header_line_is(line, eol, "content-type", 'c', &v)) {
			memcpy(copy + n, line, (size_t)(eol - line));
			n += (size_t)(eol - line);
		}
		line = eol;
	}
	osip_message_t *m = NULL;
	if (osip_message_init(&m) != 0) {
		free(copy);
		return -ENOMEM;
	}
	int rc = osip_message_parse(m, copy, n);
	free(copy);
	if (rc == OSIP_NOMEM) {
		osip_message_free(m);
		return -ENOMEM;
	}
	return finish(m, err, out);
}

/* A message over SIP_MESSAGE_MAX: its headers are parsed for an answer
 * when they fit and are clean. */
static int parse_too_large(const char *p, size_t hdr, int shape_ok, osip_message_t **out)
{
	if (hdr == 0 || !shape_ok || check_header_bytes(p, hdr) != 0 ||
	    check_header_names(p, hdr) != 0)
		return SIP_ERR_TOO_LARGE;
	return parse_headers_only(p, hdr, SIP_ERR_TOO_LARGE, out);
}

int sip_parse(const char *buf, size_t len, osip_message_t **out)
{
	if (!out)
		return SIP_ERR_PARSE;
	return parse(buf, len, out, 1);
}

static int parse(const char *buf, size_t len, osip_message_t **out, int round_trip)
{
	*out = NULL;
	if (!buf)
		return SIP_ERR_PARSE;
	sip_init();

	/* RFC 3261 §7.5: CRLFs before the start line are ignored. */
	size_t skip = 0;
	while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	const char *p = buf + skip;
	size_t n = len - skip;
	if (n == 0)
		return SIP_ERR_PARSE;

	size_t scan = n < SIP_MESSAGE_MAX ? n : SIP_MESSAGE_MAX;
	size_t line_len = 0;
	while (line_len < scan && p[line_len] != '\r' && p[line_len] != '\n' && p[line_len] != '\0')
		line_len++;
	int shape_ok;
	int start = check_start_line(p, line_len, &shape_ok);
	if (start == SIP_ERR_PARSE)
		return SIP_ERR_PARSE;
	size_t hdr = sip_header_end(p, scan);
	if (len > SIP_MESSAGE_MAX)
		return parse_too_large(p, hdr, shape_ok, out);
	if (hdr == 0) {
		/* No blank line: the headers never end. */
		int raw = check_header_bytes(p, n);
		return raw ? raw : SIP_ERR_INVALID;
	}

	int err = 0;
	keep(&err, check_header_bytes(p, hdr));
	keep(&err, start);
	if (err == 0)
		keep(&err, check_header_names(p, hdr));
	size_t cl = 0, body_len = n - hdr;
	int rc = sip_scan_content_length(p, hdr, &cl);
	if (rc == SIP_ERR_TOO_LARGE || (rc == 1 && cl != body_len) || (rc == 0 && body_len > 0))
		keep(&err, SIP_ERR_LENGTH);
	else
		keep(&err, rc);
	if (!shape_ok)
		return err;
	if (multipart(p, hdr)) {
		keep(&err, SIP_ERR_INVALID);
		if (check_header_bytes(p, hdr) != 0 || check_header_names(p, hdr) != 0)
			return err;
		return parse_headers_only(p, hdr, err, out);
	}

	osip_message_t *m = NULL;
	if (osip_message_init(&m) != 0)
		return -ENOMEM;
	/* libosip2 copies the bytes and NUL-terminates its copy; a failed
	 * parse leaves the headers it read before the failure. */
	rc = osip_message_parse(m, p, n);
	if (rc == OSIP_NOMEM) {
		osip_message_free(m);
		return -ENOMEM;
	}
	if (rc != 0)
		keep(&err, SIP_ERR_INVALID);
	else
		keep(&err, check_message(m, body_len));
	/* Last, so that the errors above keep their codes: what libosip2
	 * read away, on the raw text (grammar_raw.c). */
	if (err == 0)
		keep(&err, sip_raw_grammar_check(p, hdr));
	if (err == 0 && round_trip)
		keep(&err, check_round_trip(m, p, n));
	return finish(m, err, out);
}
