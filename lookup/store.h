/* lookup store: the lookup service's one table in SQLite (docs/storage.md)
 * — which lighthouse each nickname is homed on, and nothing else.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none logs. Nicknames are 1..63 of [a-z0-9._-], lighthouse ids
 * are node ids (1..UTIL_ID_MAX of [a-z0-9._-]); anything else is -EINVAL.
 * Times are Unix seconds, at most INT64_MAX (-ERANGE otherwise). Output
 * buffers may be NULL when the caller does not want them. Not thread-safe:
 * one thread per store; several processes may share the file. */
#ifndef ANOSIP_LOOKUP_STORE_H
#define ANOSIP_LOOKUP_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The schema version this code writes; files with a newer one are refused. */
#define LOOKUP_STORE_SCHEMA_VERSION 1
/* Room for a lighthouse id and its NUL (UTIL_ID_MAX + 1). */
#define LOOKUP_STORE_ID_LEN 32

struct lookup_store;

/* Opens (creating with mode 0600, or tightening to 0600) the database at
 * path, switches it to WAL and brings its schema up to date. On failure err
 * holds one line saying why (without the path): -EINVAL for a file that is
 * not an SQLite database or not a lookup database, -ENOTSUP for a schema
 * version newer than this code, else the errno of the failing call. *out is
 * the store, closed with lookup_store_close(). */
int lookup_store_open(const char *path, struct lookup_store **out, char *err, size_t err_len);

/* Closes and frees the store; NULL is fine. */
void lookup_store_close(struct lookup_store *s);

/* Homes the nickname on `lighthouse` unless another lighthouse holds it,
 * atomically (two claimants racing for a free nickname: exactly one wins,
 * even from two processes). 0 if it is now, or already was, homed there
 * (updated_unix becomes now_unix); -EEXIST if another lighthouse holds it,
 * whose id is then written to holder. */
int lookup_store_claim(struct lookup_store *s, const char *nickname, const char *lighthouse,
		       uint64_t now_unix, char holder[LOOKUP_STORE_ID_LEN]);

/* 0 and the nickname's lighthouse, or -ENOENT. */
int lookup_store_get(struct lookup_store *s, const char *nickname,
		     char lighthouse[LOOKUP_STORE_ID_LEN]);

/* Un-homes the nickname: 0, -ENOENT if it is not homed, -EPERM if it is
 * homed on another lighthouse (which keeps it). */
int lookup_store_release(struct lookup_store *s, const char *nickname, const char *lighthouse);

int lookup_store_count(struct lookup_store *s, uint64_t *count);

/* Calls fn for every home in nickname order. Stops at the first non-zero
 * value fn returns and returns it; 0 after the last home. The strings live
 * only during the call. fn must not call any lookup_store function on s. */
typedef int (*lookup_store_home_fn)(void *ctx, const char *nickname, const char *lighthouse,
				    uint64_t updated_unix);
int lookup_store_foreach(struct lookup_store *s, lookup_store_home_fn fn, void *ctx);

#endif
