/* circuit: the end-to-end cryptography of a Mist circuit between a user
 * agent and its lighthouse (docs/protocol.md §4) — the CREATE request, the
 * ntor-like key agreement, DATA sealing with replay protection, and the
 * nickname certificates lighthouses sign. No I/O: ua/ and lighthouse/ move
 * the bytes. Every function that fills a malloc'd buffer says so. */
#ifndef ANOSIP_CIRCUIT_H
#define ANOSIP_CIRCUIT_H

#include "circuit.pb-c.h"
#include "iddir.pb-c.h"
#include "keys/keys.h"

#include <stddef.h>
#include <stdint.h>

#define CIRC_VERSION 1
/* A CREATE older or newer than this (by the lighthouse's clock) is refused. */
#define CIRC_CREATE_MAX_AGE_MS 60000
/* Largest plaintext one DATA cell carries. */
#define CIRC_DATA_MAX (16 * 1024)
#define CIRC_NICKNAME_MAX 63

enum circ_error {
	CIRC_ERR_SEALED = -2000,    /* does not open: not for us, or corrupted */
	CIRC_ERR_DECODE = -2001,    /* opened but malformed */
	CIRC_ERR_VERSION = -2002,   /* another circuit protocol version */
	CIRC_ERR_PROOF = -2003,	    /* the nickname proof does not verify */
	CIRC_ERR_STALE = -2004,	    /* timestamp outside the window */
	CIRC_ERR_AUTH = -2005,	    /* the lighthouse's answer does not authenticate */
	CIRC_ERR_REPLAY = -2006,    /* a DATA cell seen before, or older than the newest */
	CIRC_ERR_TOO_LARGE = -2007, /* over CIRC_DATA_MAX */
	CIRC_ERR_NICKNAME = -2008,  /* not 1..63 of [a-z0-9._-] */
};
const char *circ_strerror(int err);

int circ_nickname_valid(const char *nickname);

/* The two directions' keys and counters, once a circuit is built. */
struct circ_keys {
	uint8_t forward[32];  /* ua -> lighthouse */
	uint8_t backward[32]; /* lighthouse -> ua */
	uint64_t sent;	      /* last counter we used (ours) */
	uint64_t received;    /* highest counter we accepted (theirs) */
	int is_lighthouse;
};
void circ_keys_wipe(struct circ_keys *k);

/* --- the ua's side --- */

struct circ_client {
	uint8_t eph_secret[32], eph_public[32];
	char lighthouse_id[32];
	uint8_t lighthouse_kx[32];
};

/* Builds the sealed CreateRequest for Create.sealed. *sealed is malloc'd,
 * the caller frees it. */
int circ_client_create(struct circ_client *cc, const struct keys_pair *nickname_keys,
		       const char *nickname, const char *lighthouse_id,
		       const uint8_t lighthouse_kx[32], int sign_up, uint8_t **sealed,
		       size_t *sealed_len);

/* Checks the lighthouse's Created, derives the keys and opens the confirm.
 * *confirm is a decoded CreateConfirm the caller frees with
 * anosip__v1__create_confirm__free_unpacked. Wipes cc. */
int circ_client_finish(struct circ_client *cc, const Anosip__V1__Created *created,
		       struct circ_keys *keys, Anosip__V1__CreateConfirm **confirm);

/* --- the lighthouse's side --- */

/* Opens and checks a CREATE's sealed request: version, key lengths,
 * nickname syntax, the proof by the nickname key, the time window. *req is
 * the caller's to free with anosip__v1__create_request__free_unpacked. */
int circ_server_open(const struct keys_pair *lighthouse_keys, const char *lighthouse_id,
		     const uint8_t *sealed, size_t sealed_len, uint64_t now_unix_ms,
		     Anosip__V1__CreateRequest **req);

/* The answer: fills created (server_public, auth, sealed confirm; the
 * buffers are malloc'd and freed by circ_created_free) and the keys. */
int circ_server_accept(const struct keys_pair *lighthouse_keys, const char *lighthouse_id,
		       const Anosip__V1__CreateRequest *req,
		       const Anosip__V1__CreateConfirm *confirm, Anosip__V1__Created *created,
		       struct circ_keys *keys);
void circ_created_free(Anosip__V1__Created *created);

/* --- DATA --- */

/* Seals plaintext in our direction. *sealed is malloc'd (caller frees). */
int circ_data_seal(struct circ_keys *k, const uint8_t *plain, size_t len, uint8_t **sealed,
		   size_t *sealed_len);
/* Opens a DATA cell from the other side; refuses replays and anything older
 * than the newest accepted. *plain is malloc'd (caller frees). */
int circ_data_open(struct circ_keys *k, const uint8_t *sealed, size_t sealed_len, uint8_t **plain,
		   size_t *plain_len);

/* --- nickname certificates --- */

/* Signs (nickname, its key, lighthouse, validity). *out is a malloc'd
 * encoded SignedCertificate (caller frees). */
int circ_certificate_sign(const struct keys_pair *lighthouse_keys, const char *lighthouse_id,
			  const char *nickname, const uint8_t nickname_public[32],
			  uint64_t issued_unix, uint64_t expires_unix, uint8_t **out,
			  size_t *out_len);
/* Verifies an encoded SignedCertificate with the lighthouse's key and the
 * time; *cert is the caller's (anosip__v1__certificate__free_unpacked). */
int circ_certificate_verify(const uint8_t *signed_cert, size_t len,
			    const uint8_t lighthouse_sign[32], uint64_t now_unix,
			    Anosip__V1__Certificate **cert);

/* Which key a lighthouse signs certificates with: 0 and the key, or < 0
 * for a lighthouse we do not know. */
typedef int (*circ_lighthouse_key_fn)(void *ctx, const char *lighthouse_id,
				      uint8_t sign_public[32]);
/* circ_certificate_verify with the key of the lighthouse the certificate
 * names, as fn finds it (CIRC_ERR_PROOF for an unknown lighthouse). */
int circ_certificate_verify_any(const uint8_t *signed_cert, size_t len, circ_lighthouse_key_fn fn,
				void *ctx, uint64_t now_unix, Anosip__V1__Certificate **cert);

/* --- SIP response identity (docs/protocol.md §6) --- */

/* The longest direct contact a 302 carries. */
#define CIRC_CONTACT_MAX 512

/* The callee's signed answer to an INVITE: an encoded SignedSipResponse
 * with its certificate, contact (NULL for none, e.g. a decline) sealed to
 * the caller's nickname key, and an Ed25519 signature by the callee's
 * nickname key over the message bytes, the certificate and the sealed
 * contact. *out is malloc'd (caller frees). */
int circ_sip_response_sign(const struct keys_pair *callee, const uint8_t *callee_cert,
			   size_t callee_cert_len, const uint8_t caller_sign_public[32],
			   const uint8_t *message, size_t message_len, const char *contact,
			   uint8_t **out, size_t *out_len);

/* The caller's side: checks the certificate (fn finds its lighthouse's
 * key), the signature over exactly these message bytes, and opens the
 * contact with the caller's nickname key. callee gets the certificate's
 * nickname, callee_public its key (NULL: not wanted); *contact is malloc'd (caller frees) or NULL
 * when none was sealed. */
int circ_sip_response_open(const uint8_t *signed_response, size_t len, const uint8_t *message,
			   size_t message_len, const struct keys_pair *caller,
			   circ_lighthouse_key_fn fn, void *ctx, uint64_t now_unix,
			   char callee[CIRC_NICKNAME_MAX + 1], uint8_t callee_public[32],
			   char **contact);

/* --- ID Directory queries (docs/protocol.md §8) --- */

/* A query older or newer than this (by the directory's clock) is refused. */
#define CIRC_IDDIR_MAX_AGE_MS 60000
#define CIRC_IDDIR_REAL_ID_MAX 200
#define CIRC_IDDIR_READERS_MAX 64

/* The ua's side: signs q (asker must be the certificate's nickname; a zero
 * sent_unix_ms or an empty nonce is filled in here: the wall clock, 16
 * random bytes), then seals the SignedIdDirQuery to the directory's X25519
 * key. query_hash gets SHA-256 of the encoded query, to match the answer.
 * *out is malloc'd (caller frees). q keeps the sent_unix_ms filled in; a
 * nonce made here is not kept (q->nonce is left empty). -EINVAL when the
 * certificate does not name q->asker with asker's key; -EMSGSIZE when the
 * sealed query would pass 64 KiB, which the directory refuses. */
int circ_iddir_query_seal(const struct keys_pair *asker, const uint8_t *certificate,
			  size_t certificate_len, Anosip__V1__IdDirQuery *q,
			  const uint8_t directory_kx[32], uint8_t **out, size_t *out_len,
			  uint8_t query_hash[32]);

/* The directory's side: opens with its keys; checks the certificate (fn
 * finds its lighthouse's key), that asker is the certificate's nickname,
 * the signature by that nickname's key, that q->directory is directory_id,
 * the time window, the fields' syntax (nicknames, real ID, readers). The
 * (asker, nonce) replay check is the caller's. *q and *cert are the
 * caller's (free_unpacked); query_hash as above. CIRC_ERR_SEALED (does
 * not open), _DECODE (malformed, a bad field, over 64 KiB sealed), _PROOF
 * (certificate, signature, asker or directory id), _STALE (the time window
 * or an expired certificate), _NICKNAME (a READ nickname or a reader) on
 * failure, which leaves *q and *cert NULL and query_hash zero. */
int circ_iddir_query_open(const struct keys_pair *directory, const char *directory_id,
			  const uint8_t *sealed, size_t len, circ_lighthouse_key_fn fn, void *ctx,
			  uint64_t now_unix_ms, Anosip__V1__IdDirQuery **q,
			  Anosip__V1__Certificate **cert, uint8_t query_hash[32]);

/* The directory's answer: signs r with the directory's key and seals it to
 * the asker's nickname key (its Ed25519 key, as X25519). *out malloc'd.
 * -EMSGSIZE past 1 MiB sealed (the ua refuses more): keep logs in bound. */
int circ_iddir_result_seal(const struct keys_pair *directory, const uint8_t asker_sign_public[32],
			   const Anosip__V1__IdDirResult *r, uint8_t **out, size_t *out_len);

/* The ua's side: opens with its nickname key, checks the directory's
 * signature and that the result answers query_hash. *r is the caller's
 * (anosip__v1__id_dir_result__free_unpacked). CIRC_ERR_SEALED (not for
 * us), _DECODE, _PROOF (another signer, or an answer to another query) on
 * failure, which leaves *r NULL. */
int circ_iddir_result_open(const struct keys_pair *asker, const uint8_t directory_sign[32],
			   const uint8_t *sealed, size_t len, const uint8_t query_hash[32],
			   Anosip__V1__IdDirResult **r);

#endif
