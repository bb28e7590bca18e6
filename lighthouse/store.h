/* lighthouse store: the lighthouse's persistent state in one SQLite file
 * (docs/storage.md) — accounts with their SIP digest HA1s, nickname
 * certificates, the binding table nickname → circuit handle, SIP
 * registrations (nickname → until when) and failed-authentication counts.
 * It holds *who*, never *where*: no address or port of a user, and no SIP
 * Contact, is ever written here; no plain password either.
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
#define LH_STORE_SCHEMA_VERSION 2
/* The window over which failed authentications are counted (15 min). */
#define LH_STORE_AUTH_WINDOW_S 900
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

/* Groups the calls that follow into one transaction (BEGIN IMMEDIATE):
 * a REGISTER's reads and writes then take the file's lock once and commit
 * once. Between the two, no function that runs a transaction of its own
 * (password_set, account_delete, the binding and certificate writes that
 * say so) may be called. 0, or -EBUSY when another process holds the
 * write lock past the busy timeout (the calls then run one by one). */
int lh_store_begin(struct lh_store *s);

/* Commits what lh_store_begin began: 0, or a negative errno after
 * rolling it back. */
int lh_store_commit(struct lh_store *s);

/* --- accounts: nickname → its Ed25519 public key --- */

/* 0 and the account's key and creation time, or -ENOENT. */
int lh_store_account_get(struct lh_store *s, const char *nickname, uint8_t sign_public[32],
			 uint64_t *created_unix);

/* 0, or -EEXIST if the nickname already has an account. */
int lh_store_account_add(struct lh_store *s, const char *nickname, const uint8_t sign_public[32],
			 uint64_t created_unix);

/* Deletes the account with its certificate, binding, registration and
 * failure count, all or nothing:
 * 0, or -ENOENT if there is no such account. */
int lh_store_account_delete(struct lh_store *s, const char *nickname);

int lh_store_account_count(struct lh_store *s, uint64_t *count);

/* Calls fn for every account in nickname order with its creation time,
 * whether it has a password (either HA1), and the expiry of its
 * registration as stored (0 when there is none; one that has passed stays
 * until lh_store_registrations_expire). Stops at the first non-zero value
 * fn returns and returns it; 0 after the last account. The strings live
 * only during the call. fn must not call any lh_store function on s. */
typedef int (*lh_store_account_fn)(void *ctx, const char *nickname, uint64_t created_unix,
				   int has_password, uint64_t registered_until);
int lh_store_accounts_foreach(struct lh_store *s, lh_store_account_fn fn, void *ctx);

/* --- SIP digest passwords: HA1 = H(nickname:realm:password), never the
 * password itself. Either HA1 is password-equivalent for its realm. --- */

/* Stores the account's HA1s, replacing both: ha1_md5 NULL stores none for
 * MD5 (MD5 digest off); ha1_sha256 NULL likewise; not both (-EINVAL).
 * 0, -ENOENT without an account, or, with only_if_unset, -EEXIST when the
 * account already has either HA1 (nothing changes). */
int lh_store_password_set(struct lh_store *s, const char *nickname, const uint8_t ha1_md5[16],
			  const uint8_t ha1_sha256[32], int only_if_unset);

/* 0 or -ENOENT without an account. *has_md5 / *has_sha256 say whether each
 * HA1 is set; an HA1 that is set is copied to its buffer (NULL to skip),
 * one that is not leaves its buffer alone. The caller wipes them. */
int lh_store_password_get(struct lh_store *s, const char *nickname, uint8_t ha1_md5[16],
			  int *has_md5, uint8_t ha1_sha256[32], int *has_sha256);

/* --- registrations: a softphone REGISTERed through its circuit. Only
 * nickname → expiry, one per account: the Contact is never stored. --- */

/* Inserts or replaces the nickname's registration: 0, or -ENOENT without
 * an account. */
int lh_store_registration_set(struct lh_store *s, const char *nickname, uint64_t expires_unix);

/* 0 or -ENOENT (no account or no registration). The expiry is as stored:
 * the caller compares it with the time. */
int lh_store_registration_get(struct lh_store *s, const char *nickname, uint64_t *expires_unix);

/* 0, or -ENOENT when there was none to delete. */
int lh_store_registration_delete(struct lh_store *s, const char *nickname);

/* Deletes registrations with expires_unix <= now_unix. Returns how many. */
int lh_store_registrations_expire(struct lh_store *s, uint64_t now_unix);

int lh_store_registration_count(struct lh_store *s, uint64_t *count);

/* --- failed digest authentications, counted per account so that the
 * throttle survives a restart. One window of LH_STORE_AUTH_WINDOW_S per
 * account opens at a failure when none is open and counts every failure
 * until it closes; a clock set back moves the window's start back too.
 * Unknown nicknames are not tracked: -ENOENT without an account. --- */

/* Records one failure at now_unix: 0 and *failures_in_window, the count
 * in the window including this one. */
int lh_store_auth_failure(struct lh_store *s, const char *nickname, uint64_t now_unix,
			  unsigned *failures_in_window);

/* Reads the count in the window open at now_unix (0 if none), changing
 * nothing. */
int lh_store_auth_failures(struct lh_store *s, const char *nickname, uint64_t now_unix,
			   unsigned *count);

/* Forgets the account's failures (after a successful authentication). */
int lh_store_auth_reset(struct lh_store *s, const char *nickname);

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
