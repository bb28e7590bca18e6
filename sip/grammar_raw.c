/* RFC 3261 §25.1 grammar checks on the raw text (sip_raw_grammar_check);
 * grammar.c checks the fields libosip2 parsed.
 *
 * Why a hand-written checker at all: libosip2 loses the information the
 * field checks would need. It unescapes a user part and URI parameters
 * while reading them ("%zz", a lone "%" and "%4" come out as plain text
 * that it escapes again when writing), drops an empty user, empty URI
 * parameters (";;", ";=x", a trailing ";"), a "transport=" with no value,
 * a lone "?", empty Via list elements (",,"), what follows "[::1]", the
 * "SIP" of a Via's protocol, a trailing ";" of a Content-Type, and keeps
 * nothing of an empty Contact. So the start line and the raw values of
 * the headers that carry addresses (From, To, Contact, Route,
 * Record-Route), Via, Content-Type and Accept are read once more, here,
 * against RFC 3261 §25.1: a small scanner over [p, end) for just those
 * pieces, each step checking it stays below end. It only refuses; what
 * the message means is still libosip2's reading. It runs on bytes that
 * passed parse.c's raw checks: CRLF line ends, no NUL, no folding. */
#include "sip/sip_private.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

static int is_token(unsigned char c)
{
	return is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}

static const char *token_end(const char *p, const char *end)
{
	while (p < end && is_token((unsigned char)*p))
		p++;
	return p;
}

/* The end of a run of unreserved characters, escapes (%HH) and extra
 * ones from p; NULL when a '%' is not followed by two hex digits. */
static const char *escaped_end(const char *p, const char *end, const char *extra)
{
	while (p < end) {
		unsigned char c = (unsigned char)*p;
		if (c == '%') {
			if (end - p < 3 || !is_hex((unsigned char)p[1]) ||
			    !is_hex((unsigned char)p[2]))
				return NULL;
			/* libosip2 decodes escapes into C strings: %00 would cut
			 * the field short unseen, and no control byte belongs
			 * in a URI once decoded. */
			if (p[1] < '2' || ((p[1] == '7') && (p[2] == 'f' || p[2] == 'F')))
				return NULL;
			p += 3;
		} else if (is_alnum(c) || (c && (strchr("-_.!~*'()", c) || strchr(extra, c)))) {
			p++;
		} else {
			break;
		}
	}
	return p;
}

/* Just past the quoted-string at p (which is '"'), or NULL when it does
 * not end before end. */
static const char *quoted_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (end - p < 2)
				return NULL;
			p++;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Whether [p, end) is an IPv4 address (family AF_INET) or an IPv6 one
 * (AF_INET6), as inet_pton reads them: dotted decimal, RFC 4291 text. */
static int address_ok(int family, const char *p, const char *end)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t n = (size_t)(end - p);
	if (n == 0 || n >= sizeof(text))
		return 0;
	memcpy(text, p, n);
	text[n] = '\0';
	return inet_pton(family, text, bin) == 1;
}

/* host [":" port] at p: a host name, an IPv4 address or "[" IPv6 "]"
 * (RFC 3261 hostport). Returns just past it, or NULL. */
static const char *hostport_end(const char *p, const char *end)
{
	if (p < end && *p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close || !address_ok(AF_INET6, p + 1, close))
			return NULL;
		p = close + 1;
	} else {
		const char *h = p;
		while (p < end && (is_alnum((unsigned char)*p) || *p == '-' || *p == '.'))
			p++;
		if (p == h)
			return NULL;
	}
	if (p < end && *p == ':') {
		const char *digits = ++p;
		unsigned long port = 0;
		while (p < end && *p >= '0' && *p <= '9' && p - digits < 5)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (p == digits || port > 65535)
			return NULL;
	}
	return p;
}

/* Whether [p, end) is a URI whose sip: or sips: form follows RFC 3261
 * §25.1: userinfo (a user of at least one character when there is an
 * '@'), hostport, parameters with a name and, after '=', a value, and
 * headers "?" hname "=" hvalue *("&" ...); %HH escapes throughout. Of
 * other schemes (tel:, urn:) only the scheme's name: the rest is
 * libosip2's and uri_ok()'s to judge. */
static int raw_uri_ok(const char *p, const char *end)
{
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	const char *colon = p;
	while (colon < end &&
	       (is_alnum((unsigned char)*colon) || *colon == '+' || *colon == '-' || *colon == '.'))
		colon++;
	if (colon == end || *colon != ':' || colon == p || (*p >= '0' && *p <= '9') ||
	    strchr("+-.", *p))
		return 0;
	size_t scheme = (size_t)(colon - p);
	if (!((scheme == 3 && strncasecmp(p, "sip", 3) == 0) ||
	      (scheme == 4 && strncasecmp(p, "sips", 4) == 0)))
		return 1;
	p = colon + 1;
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *pw = memchr(p, ':', (size_t)(at - p));
		const char *user_end = pw ? pw : at;
		if (user_end == p || escaped_end(p, user_end, "&=+$,;?/") != user_end)
			return 0;
		if (pw && escaped_end(pw + 1, at, "&=+$,") != at)
			return 0;
		p = at + 1;
	}
	p = hostport_end(p, end);
	while (p && p < end && *p == ';') {
		const char *name = p + 1;
		p = escaped_end(name, end, "[]/:&+$");
		if (p == name)
			return 0;
		if (p && p < end && *p == '=') {
			const char *value = p + 1;
			p = escaped_end(value, end, "[]/:&+$");
			if (p == value)
				return 0;
		}
	}
	if (p && p < end && *p == '?') {
		do {
			const char *name = p + 1;
			p = escaped_end(name, end, "[]/?:+$");
			if (!p || p == name || p == end || *p != '=')
				return 0;
			p = escaped_end(p + 1, end, "[]/?:+$");
		} while (p && p < end && *p == '&');
	}
	return p == end;
}

/* How params_end reads parameters. */
enum {
	NEED_VALUE = 1, /* Content-Type's m-parameter: name "=" value */
	VIA_PARAMS = 2, /* received holds an IP address (RFC 3261 §20.42) */
};

/* *( SEMI generic-param ) at p: a token name, and after '=' a token, a
 * host or a quoted string. Returns just past them and the blanks after,
 * or NULL. */
static const char *params_end(const char *p, const char *end, int flags)
{
	for (p = skip_ws(p, end); p < end && *p == ';'; p = skip_ws(p, end)) {
		const char *name = skip_ws(p + 1, end);
		p = token_end(name, end);
		if (p == name)
			return NULL;
		size_t name_len = (size_t)(p - name);
		p = skip_ws(p, end);
		if (p == end || *p != '=') {
			if (flags & NEED_VALUE)
				return NULL;
			continue;
		}
		const char *value = skip_ws(p + 1, end);
		int received =
		    (flags & VIA_PARAMS) && name_len == 8 && strncasecmp(name, "received", 8) == 0;
		if (value < end && *value == '"') {
			p = received ? NULL : quoted_end(value, end);
			if (!p)
				return NULL;
			continue;
		}
		for (p = value; p < end && (is_token((unsigned char)*p) || *p == '[' || *p == ']' ||
					    *p == ':');)
			p++;
		if (p == value)
			return NULL;
		/* RFC 3261 writes an IPv6 received bare; RFC 5118 §4.5 says to
		 * take the bracketed form too. */
		if (received && !address_ok(AF_INET, value, p) && !address_ok(AF_INET6, value, p) &&
		    !(p - value > 2 && *value == '[' && p[-1] == ']' &&
		      address_ok(AF_INET6, value + 1, p - 1)))
			return NULL;
	}
	return p;
}

/* One name-addr or addr-spec with its parameters at p (From, To, one
 * element of a Contact or Route list): [display-name] "<" URI ">" or a
 * bare URI, which ends at ';', ',' or a blank (RFC 3261 §20.10: a URI
 * holding those must be bracketed). Returns just past its parameters, or
 * NULL. */
static const char *address_end(const char *p, const char *end, int need_brackets)
{
	p = skip_ws(p, end);
	if (p < end && *p == '"') {
		p = quoted_end(p, end);
		if (!p)
			return NULL;
		p = skip_ws(p, end);
		if (p == end || *p != '<')
			return NULL;
	} else {
		/* Display-name tokens up to '<', or else the URI itself. */
		const char *q = p;
		while (q < end && !strchr("<;,\"", *q))
			q++;
		if (q < end && *q == '<')
			p = q;
	}
	const char *uri = p, *uri_end;
	if (p < end && *p == '<') {
		uri = p + 1;
		uri_end = memchr(uri, '>', (size_t)(end - uri));
		if (!uri_end)
			return NULL;
		p = uri_end + 1;
	} else {
		if (need_brackets)
			return NULL;
		while (p < end && *p != ';' && *p != ',' && !is_ws(*p))
			p++;
		uri_end = p;
	}
	if (!raw_uri_ok(uri, uri_end))
		return NULL;
	return params_end(p, end, 0);
}

/* After one element of a comma list, at *p (NULL: the element was bad):
 * 1 when the list ends well there, 0 when it is malformed, -1 with *p
 * past the comma, at the next element. */
static int list_next(const char **p, const char *end)
{
	if (!*p)
		return 0;
	if (*p == end)
		return 1;
	if (**p != ',')
		return 0;
	(*p)++;
	return -1;
}

/* A comma-separated list of addresses with no empty element. */
static int address_list_ok(const char *p, const char *end, int need_brackets)
{
	for (;;) {
		p = address_end(p, end, need_brackets);
		int done = list_next(&p, end);
		if (done >= 0)
			return done;
	}
}

/* A Contact value: "*" alone (only in a REGISTER, RFC 3261 §10.2.2) or
 * a list of addresses; never empty. */
static int contact_ok(const char *p, const char *end, int is_register)
{
	p = skip_ws(p, end);
	const char *q = p;
	if (q < end && *q == '*') {
		q = skip_ws(q + 1, end);
		if (q == end)
			return is_register;
	}
	return p < end && address_list_ok(p, end, 0);
}

/* A Via list: each element "SIP" / "2.0" / transport token (blanks
 * allowed around the slashes), a blank, host[:port], parameters;
 * no empty element. */
static int via_ok(const char *p, const char *end)
{
	static const char *const parts[] = {"SIP", "2.0", NULL};
	for (;;) {
		p = skip_ws(p, end);
		for (int i = 0; i < 3; i++) {
			const char *t = token_end(p, end);
			size_t n = (size_t)(t - p);
			if (n == 0 || (parts[i] &&
				       (n != strlen(parts[i]) || strncasecmp(p, parts[i], n) != 0)))
				return 0;
			p = skip_ws(t, end);
			if (i < 2) {
				if (p == end || *p != '/')
					return 0;
				p = skip_ws(p + 1, end);
			}
		}
		p = hostport_end(p, end);
		if (p)
			p = params_end(p, end, VIA_PARAMS);
		int done = list_next(&p, end);
		if (done >= 0)
			return done;
	}
}

/* type "/" subtype (tokens, blanks allowed around the slash) and
 * parameters. Returns just past them, or NULL. */
static const char *media_end(const char *p, const char *end, int flags)
{
	p = skip_ws(p, end);
	const char *t = token_end(p, end);
	if (t == p)
		return NULL;
	p = skip_ws(t, end);
	if (p == end || *p != '/')
		return NULL;
	p = skip_ws(p + 1, end);
	t = token_end(p, end);
	if (t == p)
		return NULL;
	return params_end(t, end, flags);
}

/* Accept: empty, or media ranges with parameters (accept-param is a
 * generic-param: a value is optional), comma-separated. */
static int accept_ok(const char *p, const char *end)
{
	if (skip_ws(p, end) == end)
		return 1;
	for (;;) {
		p = media_end(p, end, 0);
		int done = list_next(&p, end);
		if (done >= 0)
			return done;
	}
}

/* The value of one header line [v, end), by the header's name. */
static int header_value_ok(const char *line, const char *v, const char *end, int is_register)
{
	const char *x;
	if (sip_header_line_is(line, end, "from", 'f', &x) ||
	    sip_header_line_is(line, end, "to", 't', &x))
		return address_end(v, end, 0) == end;
	if (sip_header_line_is(line, end, "contact", 'm', &x))
		return contact_ok(v, end, is_register);
	if (sip_header_line_is(line, end, "route", 0, &x) ||
	    sip_header_line_is(line, end, "record-route", 0, &x))
		return address_list_ok(v, end, 1);
	if (sip_header_line_is(line, end, "via", 'v', &x))
		return via_ok(v, end);
	if (sip_header_line_is(line, end, "content-type", 'c', &x))
		return media_end(v, end, NEED_VALUE) == end;
	if (sip_header_line_is(line, end, "accept", 0, &x))
		return accept_ok(v, end);
	return 1;
}

int sip_raw_grammar_check(const char *p, size_t hdr)
{
	const char *end = p + hdr;
	const char *eol = sip_crlf(p, end);
	if (!eol)
		return SIP_ERR_INVALID;
	int is_register = 0;
	if (!(eol - p >= 4 && memcmp(p, "SIP/", 4) == 0)) {
		/* Method SP Request-URI SP SIP-Version, as check_start_line
		 * in parse.c has already seen. */
		const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
		const char *sp2 = sp1 ? memrchr(p, ' ', (size_t)(eol - p)) : NULL;
		if (!sp1 || sp2 <= sp1 || !raw_uri_ok(sp1 + 1, sp2))
			return SIP_ERR_INVALID;
		is_register = sp1 - p == 8 && memcmp(p, "REGISTER", 8) == 0;
	}
	for (const char *line = eol + 2; line < end; line = eol + 2) {
		eol = sip_crlf(line, end);
		if (!eol || eol == line)
			break; /* the blank line */
		/* check_header_names in parse.c saw the colon. */
		const char *v = memchr(line, ':', (size_t)(eol - line));
		if (!v)
			return SIP_ERR_INVALID;
		if (!header_value_ok(line, v + 1, eol, is_register))
			return SIP_ERR_INVALID;
	}
	return 0;
}
