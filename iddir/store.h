/* iddir store: the ID Directory's state in one SQLite file
 * (docs/storage.md): tuples <nickname, real ID> with who may read each, and
 * the access log of every read for the tuple's owner. Never an address.
 *
 * Functions return 0 (or a count) or a negative errno; none logs.
 * Nicknames are 1..63 of [a-z0-9._-] (-EINVAL otherwise); a real ID is
 * 1..200 bytes of UTF-8 without control characters (-EINVAL). Times are
 * Unix seconds, at most INT64_MAX (-ERANGE otherwise). Not thread-safe. */
#ifndef ANOSIP_IDDIR_STORE_H
#define ANOSIP_IDDIR_STORE_H

#include <stddef.h>
#include <stdint.h>

#define IDDIR_STORE_SCHEMA_VERSION 2
#define IDDIR_REAL_ID_MAX 200
#define IDDIR_READERS_MAX 64
/* Reads kept per tuple in its access log (the newest). */
#define IDDIR_LOG_KEEP 1000

/* Who may read a tuple (the values of proto IdDirPolicy). */
enum iddir_policy { IDDIR_NOBODY = 0, IDDIR_ANYONE = 1, IDDIR_LIST = 2 };

struct iddir_store;

/* Opens or creates (0600) the database; err gets one line on failure. */
int iddir_store_open(const char *path, struct iddir_store **out, char *err, size_t err_len);
void iddir_store_close(struct iddir_store *s);

/* Creates or replaces a tuple (readers used with IDDIR_LIST, else ignored;
 * at most IDDIR_READERS_MAX valid nicknames, else -EINVAL; a repeated one
 * counts once). The old readers go, the access log stays. by_operator
 * records who entered it. */
int iddir_store_put(struct iddir_store *s, const char *nickname, const char *real_id,
		    enum iddir_policy policy, const char *const *readers, size_t n_readers,
		    uint64_t now_unix, int by_operator);

/* 0 and the real ID (copied into real_id, real_id_len >= 201) and policy,
 * or -ENOENT. real_id and policy may be NULL. */
int iddir_store_get(struct iddir_store *s, const char *nickname, char *real_id, size_t real_id_len,
		    enum iddir_policy *policy);

/* 1 when reader may read nickname's tuple (ANYONE; LIST naming reader;
 * the owner always), 0 when not, -ENOENT without the tuple. */
int iddir_store_may_read(struct iddir_store *s, const char *nickname, const char *reader);

/* 1 when the operator entered nickname's tuple (a checked real ID), 0
 * when its owner published it, -ENOENT without one. */
int iddir_store_by_operator(struct iddir_store *s, const char *nickname);

/* The owner's nickname key, pinned at its first use for the tuple: 0
 * when key is the pinned one, or none was pinned (key pinned now, when the
 * tuple exists); -EKEYREJECTED when another key is. */
int iddir_store_owner_key(struct iddir_store *s, const char *nickname, const uint8_t key[32]);

/* Deletes the tuple, its readers and its access log: 0 or -ENOENT. */
int iddir_store_delete(struct iddir_store *s, const char *nickname);

/* Appends a read to nickname's access log (kept for tuples that exist;
 * -ENOENT otherwise); only the newest IDDIR_LOG_KEEP stay. */
int iddir_store_log_add(struct iddir_store *s, const char *nickname, const char *reader,
			uint64_t at_unix, int granted);

/* Calls fn for each logged read of nickname's tuple, oldest first, at most
 * the newest `limit` ones (SIZE_MAX: all); stops at fn's first non-zero
 * value and returns it, else 0 (also without the tuple). The strings live
 * only during the call; fn must not use s. */
typedef int (*iddir_store_log_fn)(void *ctx, const char *reader, uint64_t at_unix, int granted);
int iddir_store_log_foreach(struct iddir_store *s, const char *nickname, size_t limit,
			    iddir_store_log_fn fn, void *ctx);

/* Every tuple in nickname order (for the operator). */
typedef int (*iddir_store_tuple_fn)(void *ctx, const char *nickname, const char *real_id,
				    enum iddir_policy policy, size_t n_readers,
				    uint64_t updated_unix, int by_operator);
int iddir_store_foreach(struct iddir_store *s, iddir_store_tuple_fn fn, void *ctx);

/* Deletes log entries older than before_unix (all tuples); returns how many. */
int iddir_store_log_purge(struct iddir_store *s, uint64_t before_unix);

int iddir_store_count(struct iddir_store *s, uint64_t *tuples, uint64_t *log_entries);

#endif
