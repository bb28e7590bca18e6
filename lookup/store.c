/* The lookup service's SQLite store (docs/storage.md). One connection;
 * every statement is prepared once at open and reset after each use, so
 * none keeps a read snapshot (and the WAL) pinned between calls. */
#include "lookup/store.h"

#include "db/db.h"
#include "util/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* "ANLK": tells a lookup database from any other SQLite file. */
#define APPLICATION_ID 0x414e4c4b
#define KIND "lookup"

_Static_assert(LOOKUP_STORE_ID_LEN == UTIL_ID_MAX + 1, "a lighthouse id and its NUL");

/* Step i takes a file from schema version i to i + 1. To change the schema,
 * append a step and raise LOOKUP_STORE_SCHEMA_VERSION; never edit a step
 * that has shipped, files in the field were made by it. */
static const struct db_migration migrations[] = {
    /* 0 -> 1. Nickname -> lighthouse id and when it was last claimed;
     * nothing about the user. */
    {"CREATE TABLE homes ("
     " nickname TEXT PRIMARY KEY NOT NULL,"
     " lighthouse TEXT NOT NULL CHECK (length(lighthouse) BETWEEN 1 AND 31),"
     " updated_unix INTEGER NOT NULL);"},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == LOOKUP_STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

enum statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_CLAIM,
	ST_GET,
	ST_RELEASE,
	ST_COUNT_HOMES,
	ST_ALL,
	ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* The decision is this one statement: a free nickname is inserted, one
     * held by the same lighthouse refreshed, one held by another left as it
     * is (no row changed). */
    [ST_CLAIM] = "INSERT INTO homes (nickname, lighthouse, updated_unix) VALUES (?1, ?2, ?3)"
		 " ON CONFLICT (nickname) DO UPDATE SET updated_unix = excluded.updated_unix"
		 " WHERE homes.lighthouse = excluded.lighthouse",
    [ST_GET] = "SELECT lighthouse FROM homes WHERE nickname = ?1",
    [ST_RELEASE] = "DELETE FROM homes WHERE nickname = ?1 AND lighthouse = ?2",
    [ST_COUNT_HOMES] = "SELECT count(*) FROM homes",
    [ST_ALL] = "SELECT nickname, lighthouse, updated_unix FROM homes ORDER BY nickname",
};

struct lookup_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
};

/* --- the store --- */

int lookup_store_open(const char *path, struct lookup_store **out, char *err, size_t err_len)
{
	struct lookup_store *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	*out = NULL;
	if (!s) {
		db_set_err(err, err_len, "out of memory");
		goto fail;
	}
	rc = db_open(path, APPLICATION_ID, KIND, migrations, LOOKUP_STORE_SCHEMA_VERSION, &s->db,
		     err, err_len);
	if (rc == 0)
		rc = db_prepare(s->db, statement_sql, ST_COUNT, s->stmt, err, err_len);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	lookup_store_close(s);
	return rc;
}

void lookup_store_close(struct lookup_store *s)
{
	if (!s)
		return;
	db_close(s->db, s->stmt, ST_COUNT);
	free(s);
}

/* A lighthouse is named by its directory id (1..31 of [a-z0-9._-]). */
static int lighthouse_valid(const char *lighthouse)
{
	return lighthouse && util_id_valid(lighthouse);
}

/* The nickname's lighthouse into out (when not NULL): 0 or -ENOENT. */
static int get_home(struct lookup_store *s, const char *nickname, char *out)
{
	sqlite3_stmt *st = s->stmt[ST_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1) {
		const char *lighthouse = (const char *)sqlite3_column_text(st, 0);
		if (!lighthouse) {
			rc = -ENOMEM;
		} else {
			if (out)
				snprintf(out, LOOKUP_STORE_ID_LEN, "%s", lighthouse);
			rc = 0;
		}
	}
	db_finish(st);
	return rc;
}

int lookup_store_claim(struct lookup_store *s, const char *nickname, const char *lighthouse,
		       uint64_t now_unix, char holder[LOOKUP_STORE_ID_LEN])
{
	if (!s || !util_nickname_valid(nickname) || !lighthouse_valid(lighthouse))
		return -EINVAL;
	if (now_unix > INT64_MAX)
		return -ERANGE;
	/* The upsert alone settles a race; the transaction only makes the
	 * holder we report the one that beat us. */
	int rc = db_run(s->stmt[ST_BEGIN]);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = s->stmt[ST_CLAIM];
	rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_text(st, 2, lighthouse);
	if (rc == 0)
		rc = db_bind_time(st, 3, now_unix);
	rc = db_change(st, rc);
	if (rc == 0) {
		rc = get_home(s, nickname, holder);
		if (rc == 0)
			rc = -EEXIST;
	}
	if (rc >= 0 || rc == -EEXIST) {
		int commit = db_run(s->stmt[ST_COMMIT]);
		if (commit < 0)
			rc = commit;
	}
	if (rc < 0)
		db_rollback(s->stmt[ST_ROLLBACK]);
	return rc < 0 ? rc : 0;
}

int lookup_store_get(struct lookup_store *s, const char *nickname,
		     char lighthouse[LOOKUP_STORE_ID_LEN])
{
	if (!s || !util_nickname_valid(nickname))
		return -EINVAL;
	return get_home(s, nickname, lighthouse);
}

int lookup_store_release(struct lookup_store *s, const char *nickname, const char *lighthouse)
{
	if (!s || !util_nickname_valid(nickname) || !lighthouse_valid(lighthouse))
		return -EINVAL;
	int rc = db_run(s->stmt[ST_BEGIN]);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = s->stmt[ST_RELEASE];
	rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_text(st, 2, lighthouse);
	rc = db_change(st, rc);
	/* Nothing deleted: either nobody holds it or somebody else does. */
	if (rc == 0) {
		rc = get_home(s, nickname, NULL);
		if (rc == 0)
			rc = -EPERM;
	}
	if (rc > 0)
		rc = db_run(s->stmt[ST_COMMIT]);
	if (rc < 0)
		db_rollback(s->stmt[ST_ROLLBACK]);
	return rc;
}

int lookup_store_count(struct lookup_store *s, uint64_t *count)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_COUNT_HOMES];
	int rc = db_step_row(st);
	if (rc == 0)
		rc = -EIO;
	if (rc == 1) {
		if (count)
			*count = db_column_u64(st, 0);
		rc = 0;
	}
	db_finish(st);
	return rc;
}

int lookup_store_foreach(struct lookup_store *s, lookup_store_home_fn fn, void *ctx)
{
	if (!s || !fn)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_ALL];
	int rc;
	while ((rc = db_step_row(st)) == 1) {
		const char *nickname = (const char *)sqlite3_column_text(st, 0);
		const char *lighthouse = (const char *)sqlite3_column_text(st, 1);
		if (!nickname || !lighthouse) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(ctx, nickname, lighthouse, db_column_u64(st, 2));
		if (rc != 0)
			break;
	}
	db_finish(st);
	return rc;
}
