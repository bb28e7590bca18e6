/* sip: SIP messages as the ua and the lighthouse handle them (DESIGN.md §5)
 * — bounded parsing and validation, serialising, building responses, the
 * privacy scrubber (RFC 3323) and digest authentication (RFC 7616 / 8760).
 *
 * Parsing is libosip2's (Debian libosip2-dev): a well-kept SIP grammar, so
 * we do not write our own. What we add is the bounding and checking it does
 * not do: a size limit before it sees the bytes, the mandatory headers,
 * Content-Length against the body, CR/LF injection and UTF-8 in display
 * names. The digest `Authorization` header is read by libosip2 as well.
 *
 * Messages are libosip2's osip_message_t: free with osip_message_free().
 * Strings this part hands out are malloc'd (free with free()). Functions
 * return 0 or a negative value from enum sip_error (or -ENOMEM). No I/O,
 * no logging. Not thread-safe: sip_init() once per process first. */
#ifndef ANOSIP_SIP_H
#define ANOSIP_SIP_H

#include <osipparser2/osip_parser.h>
#include <stddef.h>
#include <stdint.h>

/* The largest SIP message we accept (headers and body); a larger one gets
 * 513 Message Too Large. Below the circuit's CIRC_DATA_MAX with room for
 * the certificate and signature that travel with it. */
#define SIP_MESSAGE_MAX 8192
/* The host part every scrubbed URI carries. */
#define SIP_ANON_HOST "anosip.invalid"
#define SIP_NICKNAME_MAX 63

enum sip_error {
	SIP_ERR_PARSE = -3000,	   /* not SIP at all (no start line): drop */
	SIP_ERR_TOO_LARGE = -3001, /* over SIP_MESSAGE_MAX: 513 */
	SIP_ERR_INVALID = -3002,   /* bad start line, URI or header: 400 */
	SIP_ERR_MISSING = -3003,   /* a mandatory header is missing: 400 */
	SIP_ERR_LENGTH = -3004,	   /* Content-Length disagrees with the body: 400 */
	SIP_ERR_ENCODING = -3005,  /* a display name or header is not UTF-8: 400 */
	SIP_ERR_INJECTION = -3006, /* CR, LF or NUL inside a header value: 400 */
	SIP_ERR_STALE = -3007,	   /* digest nonce expired: 401 with stale=true */
	SIP_ERR_AUTH = -3008,	   /* digest missing, malformed, forged or wrong: 401/403 */
};
const char *sip_strerror(int err);
/* The SIP status a request that failed with err should get (400, 513, ...),
 * 0 when it should be dropped silently (SIP_ERR_PARSE, unknown codes);
 * -ENOMEM gets 500. */
int sip_error_status(int err);

/* Initialises libosip2's parser (and keeps its trace off: by default
 * libosip2 prints parse errors to stdout). Idempotent; the functions below
 * that need it call it too. */
void sip_init(void);

/* --- parsing and serialising --- */

/* Parses and validates one message of len bytes (no trailing data: a
 * stream reader frames it first with sip_frame_length()). On success *out is
 * the message. On a validation error (SIP_ERR_INVALID, _MISSING, _LENGTH,
 * _ENCODING, _INJECTION, _TOO_LARGE) *out is still set when enough of a
 * request was readable to answer it (Via, From, To, Call-ID, CSeq, and the
 * answer made of them is itself valid SIP), so the caller can send
 * sip_response_make(*out, sip_error_status(rc), ...); else *out is NULL
 * (always for responses). For a too-large message only the headers are
 * parsed, when they fit.
 *
 * Refused besides what libosip2 refuses: a start line other than
 * "METHOD sip(s):URI SIP/2.0" or "SIP/2.0 100..699 phrase"; bare CR or LF,
 * folded (continuation) lines and NUL in the headers (_INJECTION); other
 * control bytes, header names that are not tokens (_INVALID); headers that
 * are not UTF-8 (_ENCODING); a missing Via, From, To, Call-ID or CSeq
 * (_MISSING; Max-Forwards may be missing, but must be a number); a CSeq
 * method other than the request's or a number of 2**31 or more; a
 * Content-Length that is repeated, not a number or not the body's length,
 * or a body without it (_LENGTH); a body without Content-Type; multipart
 * bodies; URIs libosip2 would write unreadably; URIs, addresses, Vias,
 * Content-Type and Accept values that do not follow RFC 3261 §25.1 as
 * written (bad %HH escapes, an empty user before '@', empty parameters or
 * list elements, a Via protocol other than SIP/2.0/transport, a received
 * that is not an IP address, an empty Contact, a "*" Contact outside
 * REGISTER); and anything whose serialised form (sip_to_string) does not
 * parse again. */
int sip_parse(const char *buf, size_t len, osip_message_t **out);

/* For a stream (TCP): how long the first message in buf is (headers, blank
 * line and Content-Length bytes of body). 0 when more bytes are needed,
 * SIP_ERR_TOO_LARGE when the message cannot fit SIP_MESSAGE_MAX,
 * SIP_ERR_LENGTH / SIP_ERR_INVALID for a missing or bad Content-Length
 * (RFC 3261 §18.3: mandatory on streams). Leading CRLF keep-alives count
 * as a message of their length with no content (*keepalive set). */
long sip_frame_length(const char *buf, size_t len, int *keepalive);

/* Serialises m (in libosip2's canonical form: its header order, one Allow
 * per line, Content-Length recomputed). *out is malloc'd and
 * NUL-terminated, *len excludes the NUL (a body may hold NULs); the caller
 * frees it. SIP_ERR_INVALID when libosip2 cannot write m. */
int sip_to_string(const osip_message_t *m, char **out, size_t *len);

/* --- accessors --- */

int sip_is_request(const osip_message_t *m);
/* The method (of the request, or of a response's CSeq), never NULL. */
const char *sip_method(const osip_message_t *m);
int sip_status(const osip_message_t *m); /* 0 for a request */
/* The top Via's branch parameter or NULL. */
const char *sip_branch(const osip_message_t *m);
/* Copies the user part of uri into nick when it is a valid nickname
 * (1..63 of [a-z0-9._-]); SIP_ERR_INVALID otherwise. */
int sip_uri_nickname(const osip_uri_t *uri, char nick[SIP_NICKNAME_MAX + 1]);
/* Header value by name (case-insensitive, compact forms too) or NULL. Only
 * for the headers libosip2 keeps as text (Expires, Max-Forwards, Subject,
 * User-Agent, Supported, X-..., ...) and Content-Length; the ones it parses
 * into fields (Via, From, To, Call-ID, CSeq, Contact, Content-Type, Allow,
 * Authorization, WWW-Authenticate, Route, ...) give NULL: read m's fields. */
const char *sip_header(const osip_message_t *m, const char *name);
/* The Expires that applies to a REGISTER's first contact: the contact's
 * expires parameter, else the Expires header, else def. */
unsigned sip_register_expires(const osip_message_t *m, unsigned def);

/* --- responses --- */

/* Builds a response to request: Via list, From, To (a fresh random tag of
 * 16 hex digits is added for status > 100 when the request's To has none),
 * Call-ID, CSeq, Content-Length 0; no Server header. reason NULL means the
 * standard phrase; a given one must be short UTF-8 text without control
 * bytes. SIP_ERR_INVALID for a response, a status outside 100..699 or a bad
 * reason, SIP_ERR_MISSING when request lacks one of those headers. *out is
 * the caller's. */
int sip_response_make(const osip_message_t *request, int status, const char *reason,
		      osip_message_t **out);
/* sip_response_make, plus extra headers (name, value pairs ending with a
 * NULL name; headers may be NULL), as text: *out is malloc'd and
 * NUL-terminated, *len excludes the NUL; the caller frees it. */
int sip_response_text(const osip_message_t *request, int status, const char *reason,
		      const char *const *headers, char **out, size_t *len);
/* The standard reason phrase of a status ("Not Found"), or "Unknown". */
const char *sip_reason_phrase(int status);

/* --- scrubbing (DESIGN.md §5.4, RFC 3323) ---
 *
 * What enters the circuit is rebuilt from a whitelist: Request-URI as
 * sip:USER@domain without parameters; one Via "SIP/2.0/UDP
 * anosip.invalid;branch=BRANCH"; From/To as <sip:USER@domain>;tag=T with no
 * display name unless it equals the user, tags replaced by keyed hashes;
 * Call-ID replaced by a keyed hash "HEX@anosip.invalid"; CSeq, Max-Forwards,
 * Expires kept; Contact replaced by <sip:NICK@anosip.invalid>
 * (its expires parameter kept; "*" kept); Authorization kept for REGISTER
 * (its digest fields); in responses WWW-Authenticate (without domain),
 * Min-Expires, Retry-After kept, and the reason phrase replaced by the
 * standard one. Numbers are kept as numbers only (no comments or
 * parameters). Users of the Request-URI,
 * From and To must be nicknames (SIP_ERR_INVALID otherwise, m unchanged).
 * Hashing is not idempotent: a tag or Call-ID that crossed one scrubber
 * comes out of a second one hashed again. Every other
 * header (User-Agent, Server, Organization, Subject, Call-Info, Warning,
 * Reply-To, In-Reply-To, Record-Route, Route, Allow, Supported, X-*, ...)
 * is dropped. Bodies (and so Content-Type) are dropped: the tunnelled legs
 * (REGISTER, INVITE -> 302) need no SDP, so none reaches the network. */
struct sip_scrub {
	const char *nickname; /* the ua's nickname: Contact user, allowed display name */
	const char *domain;   /* host of Request-URI, From, To: the ANOSIP domain */
	const char *branch;   /* the Via branch to put (z9hG4bK...) */
	uint8_t hash_key[32]; /* keys the Call-ID and tag hashes */
};
/* Scrubs a request (REGISTER, INVITE, CANCEL, ...) in place: on success m
 * holds the rebuilt message, on an error m is unchanged. */
int sip_scrub_request(osip_message_t *m, const struct sip_scrub *s);
/* Scrubs a response in place (same rules; the Via is replaced by one with
 * s->branch). */
int sip_scrub_response(osip_message_t *m, const struct sip_scrub *s);
/* The keyed hash the scrubber puts in place of a Call-ID or tag value:
 * 32 hex characters (+ "@anosip.invalid" for a Call-ID). out >= 64 bytes. */
void sip_scrub_hash(const uint8_t key[32], const char *value, int is_call_id, char *out,
		    size_t out_len);

/* --- digest authentication (RFC 7616, RFC 8760) --- */

enum sip_digest_algorithm { SIP_DIGEST_MD5 = 0, SIP_DIGEST_SHA256 = 1 };
#define SIP_HA1_MD5_LEN 16
#define SIP_HA1_SHA256_LEN 32
/* Nonces older than this are answered with stale=true. */
#define SIP_NONCE_LIFETIME_S 300

/* HA1 = H(username ":" realm ":" password), raw bytes (16 or 32). */
void sip_digest_ha1(enum sip_digest_algorithm alg, const char *username, const char *realm,
		    const char *password, uint8_t *out);

/* A nonce the server can check without storing it: base64url of
 * (issued time, random, HMAC-SHA256(key, time||random||realm)).
 * out >= 96 bytes. */
void sip_nonce_make(const uint8_t key[32], const char *realm, uint64_t now_unix, char *out,
		    size_t out_len);
/* 0 when key made it for realm and it is at most SIP_NONCE_LIFETIME_S old,
 * SIP_ERR_STALE when older (or issued more than 30 s in the future),
 * SIP_ERR_AUTH when forged or malformed. */
int sip_nonce_check(const uint8_t key[32], const char *realm, const char *nonce, uint64_t now_unix);

/* The value of one WWW-Authenticate header (malloc'd): Digest realm,
 * nonce, algorithm (MD5 or SHA-256), qop="auth", opaque-free, stale=true
 * when stale. SIP_ERR_INVALID when realm or nonce is empty or holds a
 * quote, backslash or control byte. */
int sip_digest_challenge(enum sip_digest_algorithm alg, const char *realm, const char *nonce,
			 int stale, char **out);

/* The credentials of an Authorization header, unquoted (malloc'd strings,
 * freed with sip_credentials_free). */
struct sip_credentials {
	enum sip_digest_algorithm algorithm;
	char *username, *realm, *nonce, *uri, *response, *qop, *nc, *cnonce;
};
/* Reads the first Authorization header of m (Digest only; username,
 * realm, nonce, uri, response and cnonce present and not empty; qop must
 * be "auth", nc 8 hex digits, algorithm MD5 (also when absent) or
 * SHA-256, response 32 or 64 hex digits). SIP_ERR_AUTH when missing or
 * malformed, with c all NULL. */
int sip_credentials_parse(const osip_message_t *m, struct sip_credentials *c);
void sip_credentials_free(struct sip_credentials *c);
/* Checks c->response for method against ha1 (of c->algorithm's length), in
 * constant time: 0 or SIP_ERR_AUTH. */
int sip_digest_verify(const struct sip_credentials *c, const char *method, const uint8_t *ha1);

#endif
