/* sip: set-up, errors, the byte-level helpers every check shares, stream
 * framing and serialising. */
#include "sip/sip_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int initialised;

/* libosip2 prints its trace to stdout when no logger was set up (its first
 * trace call initialises one), which would put parser complaints about
 * network input into our output. A sink that drops everything, with every
 * level off, keeps it quiet. */
static void trace_nothing(const char *fi, int li, osip_trace_level_t level, const char *chfr,
			  va_list ap)
{
}

void sip_init(void)
{
	if (initialised)
		return;
	osip_trace_initialize_func(TRACE_LEVEL0, trace_nothing);
	for (int i = TRACE_LEVEL0; i < END_TRACE_LEVEL; i++)
		osip_trace_disable_level((osip_trace_level_t)i);
	/* parser_init only fills static tables; it has no failure to act on. */
	(void)parser_init();
	initialised = 1;
}

const char *sip_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case SIP_ERR_PARSE:
		return "not a SIP message";
	case SIP_ERR_TOO_LARGE:
		return "SIP message too large";
	case SIP_ERR_INVALID:
		return "invalid SIP start line, URI or header";
	case SIP_ERR_MISSING:
		return "mandatory SIP header missing";
	case SIP_ERR_LENGTH:
		return "Content-Length disagrees with the body";
	case SIP_ERR_ENCODING:
		return "SIP header is not UTF-8";
	case SIP_ERR_INJECTION:
		return "CR, LF or NUL inside a SIP header";
	case SIP_ERR_STALE:
		return "digest nonce expired";
	case SIP_ERR_AUTH:
		return "digest authentication failed";
	case -ENOMEM:
		return "out of memory";
	}
	return "unknown SIP error";
}

int sip_error_status(int err)
{
	switch (err) {
	case SIP_ERR_TOO_LARGE:
		return 513;
	case SIP_ERR_INVALID:
	case SIP_ERR_MISSING:
	case SIP_ERR_LENGTH:
	case SIP_ERR_ENCODING:
	case SIP_ERR_INJECTION:
		return 400;
	case SIP_ERR_STALE:
	case SIP_ERR_AUTH:
		return 401;
	case -ENOMEM:
		return 500;
	}
	/* SIP_ERR_PARSE and anything unknown: not SIP, nobody to answer. */
	return 0;
}

/* --- byte-level helpers --- */

int sip_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		unsigned c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned long cp, min;
		if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

static int is_token_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("-.!%*_+`'~", c) != NULL;
}

int sip_token_valid(const char *s, size_t max)
{
	if (!s || !*s)
		return 0;
	size_t n = 0;
	for (; s[n]; n++)
		if (n >= max || !is_token_char((unsigned char)s[n]))
			return 0;
	return 1;
}

int sip_digits_value(const char *s, size_t max, unsigned long long *value)
{
	unsigned long long v = 0;
	size_t n = 0;
	if (!s)
		return 0;
	for (; s[n]; n++) {
		if (n >= max || s[n] < '0' || s[n] > '9')
			return 0;
		unsigned d = (unsigned)(s[n] - '0');
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	if (n == 0)
		return 0;
	if (value)
		*value = v;
	return 1;
}

const char *sip_crlf(const char *p, const char *end)
{
	while (p < end) {
		const char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr || cr + 1 >= end)
			return NULL;
		if (cr[1] == '\n')
			return cr;
		p = cr + 1;
	}
	return NULL;
}

size_t sip_header_end(const char *buf, size_t len)
{
	const char *p = memmem(buf, len, "\r\n\r\n", 4);
	return p ? (size_t)(p - buf) + 4 : 0;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

int sip_header_line_is(const char *line, const char *end, const char *name, char compact,
		       const char **value)
{
	const char *colon = memchr(line, ':', (size_t)(end - line));
	if (!colon)
		return 0;
	const char *e = colon;
	while (e > line && is_ws(e[-1]))
		e--;
	size_t n = (size_t)(e - line);
	int match = (n == strlen(name) && strncasecmp(line, name, n) == 0) ||
		    (n == 1 && (line[0] | 0x20) == compact);
	if (match)
		*value = colon + 1;
	return match;
}

int sip_scan_content_length(const char *hdr, size_t hdr_len, size_t *value)
{
	const char *end = hdr + hdr_len;
	const char *line = sip_crlf(hdr, end);
	int found = 0, too_large = 0;
	size_t v = 0;
	if (!line)
		return 0;
	line += 2; /* past the start line */
	while (line < end) {
		const char *eol = sip_crlf(line, end);
		if (!eol)
			eol = end;
		const char *p;
		if (eol > line && sip_header_line_is(line, eol, "content-length", 'l', &p)) {
			/* Two lengths make framing ambiguous (request smuggling). */
			if (found)
				return SIP_ERR_INVALID;
			found = 1;
			while (p < eol && is_ws(*p))
				p++;
			if (p == eol || *p < '0' || *p > '9')
				return SIP_ERR_INVALID;
			for (; p < eol && *p >= '0' && *p <= '9'; p++) {
				if (v > SIP_MESSAGE_MAX)
					too_large = 1;
				else
					v = v * 10 + (size_t)(*p - '0');
			}
			while (p < eol && is_ws(*p))
				p++;
			if (p != eol)
				return SIP_ERR_INVALID;
			if (v > SIP_MESSAGE_MAX)
				too_large = 1;
		}
		line = eol + 2;
	}
	if (!found)
		return 0;
	if (too_large)
		return SIP_ERR_TOO_LARGE;
	*value = v;
	return 1;
}

/* --- framing and serialising --- */

long sip_frame_length(const char *buf, size_t len, int *keepalive)
{
	if (keepalive)
		*keepalive = 0;
	if (!buf || len == 0)
		return 0;
	if (buf[0] == '\r' || buf[0] == '\n') {
		size_t n = 0;
		while (n < len && n < SIP_MESSAGE_MAX && (buf[n] == '\r' || buf[n] == '\n'))
			n++;
		if (keepalive)
			*keepalive = 1;
		return (long)n;
	}
	size_t scan = len < SIP_MESSAGE_MAX ? len : SIP_MESSAGE_MAX;
	size_t hdr = sip_header_end(buf, scan);
	if (hdr == 0)
		return len >= SIP_MESSAGE_MAX ? SIP_ERR_TOO_LARGE : 0;
	size_t cl = 0;
	int rc = sip_scan_content_length(buf, hdr, &cl);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return SIP_ERR_LENGTH; /* RFC 3261 §18.3: mandatory on streams */
	if (hdr + cl > SIP_MESSAGE_MAX)
		return SIP_ERR_TOO_LARGE;
	if (hdr + cl > len)
		return 0;
	return (long)(hdr + cl);
}

/* The message must serialise. libosip2 5.3.0 ignores a failure to write
 * one of its single headers (From, To, Call-ID, CSeq, Content-Type,
 * MIME-Version): the line is left as "Content-Type: " with no value and no
 * line end, so the next header runs into it. That happens, for one, with a
 * Content-Type parameter that has no value. So each is written once here
 * first; a failure in the lists it does report. */
int sip_check_serialises(const osip_message_t *m)
{
	int rc = 0;
	char *text = NULL;
	if (m->from)
		rc = osip_from_to_str(m->from, &text);
	osip_free(text);
	text = NULL;
	if (rc == 0 && m->to)
		rc = osip_to_to_str(m->to, &text);
	osip_free(text);
	text = NULL;
	if (rc == 0 && m->call_id)
		rc = osip_call_id_to_str(m->call_id, &text);
	osip_free(text);
	text = NULL;
	if (rc == 0 && m->cseq)
		rc = osip_cseq_to_str(m->cseq, &text);
	osip_free(text);
	text = NULL;
	if (rc == 0 && m->content_type)
		rc = osip_content_type_to_str(m->content_type, &text);
	osip_free(text);
	text = NULL;
	if (rc == 0 && m->mime_version)
		rc = osip_content_length_to_str(m->mime_version, &text);
	osip_free(text);
	return rc == OSIP_NOMEM ? -ENOMEM : rc != 0 ? SIP_ERR_INVALID : 0;
}

int sip_to_string(const osip_message_t *m, char **out, size_t *len)
{
	*out = NULL;
	if (len)
		*len = 0;
	if (!m)
		return SIP_ERR_INVALID;
	/* libosip2 caches the serialised form inside the message and reuses it
	 * unless told otherwise; a message changed through its fields (as the
	 * scrubber and callers do) would come out stale. So: always rebuild.
	 * This writes the cache, hence the cast. */
	osip_message_t *mm = (osip_message_t *)m;
	osip_message_force_update(mm);
	char *s = NULL;
	size_t n = 0;
	int rc = sip_check_serialises(m);
	if (rc != 0)
		return rc;
	rc = osip_message_to_str(mm, &s, &n);
	if (rc != 0 || !s) {
		osip_free(s);
		return rc == OSIP_NOMEM ? -ENOMEM : SIP_ERR_INVALID;
	}
	char *copy = malloc(n + 1);
	if (!copy) {
		osip_free(s);
		return -ENOMEM;
	}
	memcpy(copy, s, n);
	copy[n] = '\0';
	osip_free(s);
	*out = copy;
	if (len)
		*len = n;
	return 0;
}
