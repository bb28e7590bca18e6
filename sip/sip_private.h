/* sip: helpers the files of this part share (not for other parts). */
#ifndef ANOSIP_SIP_PRIVATE_H
#define ANOSIP_SIP_PRIVATE_H

#include "sip/sip.h"

#include <stddef.h>

/* Whether the len bytes at s are well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
int sip_utf8_valid(const char *s, size_t len);

/* Whether s is a non-empty RFC 3261 token (alphanumerics and -.!%*_+`'~)
 * of at most max characters. */
int sip_token_valid(const char *s, size_t max);

/* Whether s is 1..max decimal digits; *value is then its value (which
 * saturates at UINT64_MAX). */
int sip_digits_value(const char *s, size_t max, unsigned long long *value);

/* Looks for the Content-Length header (or its compact form "l") in the
 * header lines of hdr (the start line, the headers and the blank line:
 * hdr_len bytes). Returns 1 and sets *value when there is exactly one with
 * a decimal value, 0 when there is none, SIP_ERR_INVALID when it is
 * repeated or not a number, SIP_ERR_TOO_LARGE when its value is over
 * SIP_MESSAGE_MAX. Reads nothing past hdr_len. */
int sip_scan_content_length(const char *hdr, size_t hdr_len, size_t *value);

/* Whether the header line [line, end) is named name (lower case) or its
 * one-letter compact form (case-insensitive, blanks allowed before the
 * colon); *value then points just past the colon. */
int sip_header_line_is(const char *line, const char *end, const char *name, char compact,
		       const char **value);

/* The first CRLF in [p, end), or NULL. (memmem does the same, with more
 * set-up per call than these short lines are worth.) */
const char *sip_crlf(const char *p, const char *end);

/* The offset just past the first CRLFCRLF in the first len bytes of buf,
 * or 0 when there is none. */
size_t sip_header_end(const char *buf, size_t len);

/* 0 when libosip2 can write each of m's single headers (it writes a
 * broken line, and reports nothing, for one it cannot; see message.c),
 * else SIP_ERR_INVALID (or -ENOMEM). */
int sip_check_serialises(const osip_message_t *m);

/* RFC 3261 §25.1 checks of fields libosip2 parsed leniently (grammar.c):
 * 1 when the field is well-formed, else 0. A sip/sips URI: user and
 * password characters and escapes, host, port, parameter and header names
 * and values; other schemes pass. */
int sip_uri_grammar_ok(const osip_uri_t *u);
/* The generic parameters of a From, To, Contact or Route (tag, expires,
 * ...): token names, token, host or quoted-string values. */
int sip_address_params_ok(const osip_from_t *a);
/* A Via: version 2.0, a token transport, host, port, parameters (ttl,
 * rport, received and maddr with the values they must have). */
int sip_via_grammar_ok(const osip_via_t *v);
/* A Call-ID: word ["@" word], printable ASCII. */
int sip_call_id_grammar_ok(const osip_call_id_t *c);
/* A Content-Type: token type and subtype, generic parameters. */
int sip_content_type_grammar_ok(const osip_content_type_t *ct);

/* The same grammar on the raw text, for what libosip2 reads away (escapes,
 * empty users, parameters and list elements, a Via's "SIP", an empty
 * Contact): the Request-URI of the start line and the From, To, Contact,
 * Route, Record-Route, Via, Content-Type and Accept lines of the hdr bytes
 * at p (start line, headers, blank line; lines already checked to end in
 * CRLF, with no NUL). 0 or SIP_ERR_INVALID. */
int sip_raw_grammar_check(const char *p, size_t hdr);

#endif
