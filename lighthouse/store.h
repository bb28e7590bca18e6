/* lighthouse store: the lighthouse's persistent state in one SQLite file
 * (docs/storage.md) — accounts, nickname certificates and the binding table
 * nickname → circuit handle. It holds *who*, never *where*: no address or
 * port of a user is ever written here.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none logs. Functions that take a nickname refuse one that is not
 * 1..63 of [a-z0-9._-] with -EINVAL. Times are Unix seconds and must be at
 * most INT64_MAX (-ERANGE otherwise); circuit handles and epochs are opaque
 * and round-trip bit for bit. Output pointers may be NULL when the caller
 * does not want that value. Not thread-safe: one thread per store. */
#ifndef ANOSIP_LIGHTHOUSE_STORE_H
#define ANOSIP_LIGHTHOUSE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The schema version this code writes; files with a newer one are refused. */
#define LH_STORE_SCHEMA_VERSION 1
/* The largest encoded certificate the store accepts. */
#define LH_STORE_CERTIFICATE_MAX 65536

struct lh_store;

/* Opens (creating with mode 0600, or tightening to 0600) the database at
 * path, switches it to WAL and brings its schema up to date. On failure err
 * holds one line saying why (without the path): -EINVAL for a file that is
 * not an SQLite database or not a lighthouse database, -ENOTSUP for a schema
 * version newer than this code, else the errno of the failing call. *out is
 * the store, closed with lh_store_close(). */
int lh_store_open(const char *path, struct lh_store **out, char *err, size_t err_len);

/* Closes and frees the store; NULL is fine. */
void lh_store_close(struct lh_store *s);

/* --- accounts: nickname → its Ed25519 public key --- */

/* 0 and the account's key and creation time, or -ENOENT. */
int lh_store_account_get(struct lh_store *s, const char *nickname, uint8_t sign_public[32],
			 uint64_t *created_unix);

/* 0, or -EEXIST if the nickname already has an account. */
int lh_store_account_add(struct lh_store *s, const char *nickname, const uint8_t sign_public[32],
			 uint64_t created_unix);

/* Deletes the account with its certificate and binding, all or nothing:
 * 0, or -ENOENT if there is no such account. */
int lh_store_account_delete(struct lh_store *s, const char *nickname);

int lh_store_account_count(struct lh_store *s, uint64_t *count);

/* --- nickname certificates (encoded SignedCertificate), one per account --- */

/* Stores or replaces the certificate: 0, -ENOENT without an account,
 * -EINVAL for an empty one, -EMSGSIZE above LH_STORE_CERTIFICATE_MAX. */
int lh_store_certificate_put(struct lh_store *s, const char *nickname, const uint8_t *cert,
			     size_t len, uint64_t expires_unix);

/* 0 or -ENOENT. On success *cert is a malloc'd copy of len bytes: the
 * caller frees it. Pass cert NULL to ask only for len and expiry. */
int lh_store_certificate_get(struct lh_store *s, const char *nickname, uint8_t **cert, size_t *len,
			     uint64_t *expires_unix);

/* --- bindings: nickname → circuit handle, one per account --- */

/* Inserts or replaces the nickname's binding, live: 0, or -ENOENT without
 * an account. epoch names the lighthouse process run that made it. */
int lh_store_binding_set(struct lh_store *s, const char *nickname, uint64_t circuit, uint64_t epoch,
			 uint64_t expires_unix);

/* 0 or -ENOENT; *live is 1 for live, 0 for stale. */
int lh_store_binding_get(struct lh_store *s, const char *nickname, uint64_t *circuit,
			 uint64_t *epoch, uint64_t *expires_unix, int *live);

/* The circuit died: its live binding(s) become stale. Returns how many. */
int lh_store_binding_mark_stale_circuit(struct lh_store *s, uint64_t circuit);

/* At start-up: every live binding made by another epoch (another process
 * run, whose circuits died with it) becomes stale. Returns how many. */
int lh_store_bindings_mark_stale_except_epoch(struct lh_store *s, uint64_t epoch);

/* Pushes the expiry of every live binding of this epoch to expires_unix
 * (live circuits keep their bindings fresh) in one statement. Returns how
 * many. */
int lh_store_bindings_refresh_epoch(struct lh_store *s, uint64_t epoch, uint64_t expires_unix);

/* Deletes bindings with expires_unix <= now_unix. Returns how many. */
int lh_store_bindings_expire(struct lh_store *s, uint64_t now_unix);

/* Calls fn for every binding in nickname order. Stops at the first non-zero
 * value fn returns and returns it; 0 after the last binding. The strings
 * live only during the call. fn must not call any lh_store function on s. */
typedef int (*lh_store_binding_fn)(void *ctx, const char *nickname, uint64_t circuit,
				   uint64_t epoch, uint64_t expires_unix, int live);
int lh_store_bindings_foreach(struct lh_store *s, lh_store_binding_fn fn, void *ctx);

int lh_store_binding_count(struct lh_store *s, uint64_t *live, uint64_t *stale);

#endif
