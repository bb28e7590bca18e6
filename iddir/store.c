/* The ID Directory's SQLite store (docs/storage.md, "The ID Directory").
 * One connection; every statement is prepared once at open and reset after
 * each use, so none keeps a read snapshot (and the WAL) pinned between
 * calls. */
#include "iddir/store.h"

#include "db/db.h"
#include "util/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "ANID": tells an ID Directory database from any other SQLite file. */
#define APPLICATION_ID 0x414e4944
#define KIND "iddir"

/* Step i takes a file from schema version i to i + 1. To change the schema,
 * append a step and raise IDDIR_STORE_SCHEMA_VERSION; never edit a step
 * that has shipped, files in the field were made by it. */
static const struct db_migration migrations[] = {
    /* 0 -> 1. The tuples, who may read each, and every read for the
     * owner. A reader is a nickname: never an address or a circuit. The
     * real ID's limit is in bytes (a BLOB's length), as in the code. */
    {"CREATE TABLE tuples ("
     " nickname TEXT PRIMARY KEY NOT NULL,"
     " real_id TEXT NOT NULL CHECK (length(CAST(real_id AS BLOB)) BETWEEN 1 AND 200),"
     " policy INTEGER NOT NULL CHECK (policy IN (0, 1, 2)),"
     " updated_unix INTEGER NOT NULL,"
     " by_operator INTEGER NOT NULL CHECK (by_operator IN (0, 1)));"
     "CREATE TABLE readers ("
     " nickname TEXT NOT NULL REFERENCES tuples (nickname) ON DELETE CASCADE,"
     " reader TEXT NOT NULL,"
     " PRIMARY KEY (nickname, reader));"
     "CREATE TABLE access_log ("
     " id INTEGER PRIMARY KEY,"
     " nickname TEXT NOT NULL REFERENCES tuples (nickname) ON DELETE CASCADE,"
     " reader TEXT NOT NULL,"
     " at_unix INTEGER NOT NULL,"
     " granted INTEGER NOT NULL CHECK (granted IN (0, 1)));"
     "CREATE INDEX access_log_by_nickname ON access_log (nickname, id);"},
    /* 1 -> 2. The owner's nickname key, pinned by its first signed
     * query, so that only that key speaks for the tuple afterwards. */
    {"CREATE TABLE owner_keys ("
     " nickname TEXT PRIMARY KEY NOT NULL REFERENCES tuples (nickname) ON DELETE CASCADE,"
     " sign_public BLOB NOT NULL CHECK (length(sign_public) = 32));"},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == IDDIR_STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

enum statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_PUT,
	ST_READERS_CLEAR,
	ST_READER_ADD,
	ST_GET,
	ST_MAY_READ,
	ST_DELETE,
	ST_LOG_ADD,
	ST_LOG_NEWEST,
	ST_ALL,
	ST_LOG_PURGE,
	ST_COUNTS,
	ST_BY_OPERATOR,
	ST_OWNER_GET,
	ST_OWNER_SET,
	ST_LOG_TRIM,
	ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* An upsert, not INSERT OR REPLACE: replacing the row would delete it
     * first, and the cascade would take the owner's access log with it. */
    [ST_PUT] = "INSERT INTO tuples (nickname, real_id, policy, updated_unix, by_operator)"
	       " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (nickname) DO UPDATE SET"
	       " real_id = excluded.real_id, policy = excluded.policy,"
	       " updated_unix = excluded.updated_unix, by_operator = excluded.by_operator",
    [ST_READERS_CLEAR] = "DELETE FROM readers WHERE nickname = ?1",
    /* A reader named twice is one reader. */
    [ST_READER_ADD] = "INSERT OR IGNORE INTO readers (nickname, reader) VALUES (?1, ?2)",
    [ST_GET] = "SELECT real_id, policy FROM tuples WHERE nickname = ?1",
    [ST_MAY_READ] = "SELECT policy, EXISTS (SELECT 1 FROM readers"
		    " WHERE nickname = ?1 AND reader = ?2) FROM tuples WHERE nickname = ?1",
    [ST_DELETE] = "DELETE FROM tuples WHERE nickname = ?1",
    [ST_LOG_ADD] = "INSERT INTO access_log (nickname, reader, at_unix, granted)"
		   " VALUES (?1, ?2, ?3, ?4)",
    /* The newest ?2 entries, handed out oldest first. */
    [ST_LOG_NEWEST] = "SELECT reader, at_unix, granted FROM (SELECT id, reader, at_unix, granted"
		      " FROM access_log WHERE nickname = ?1 ORDER BY id DESC LIMIT ?2)"
		      " ORDER BY id",
    [ST_ALL] = "SELECT t.nickname, t.real_id, t.policy,"
	       " (SELECT count(*) FROM readers AS r WHERE r.nickname = t.nickname),"
	       " t.updated_unix, t.by_operator FROM tuples AS t ORDER BY t.nickname",
    [ST_LOG_PURGE] = "DELETE FROM access_log WHERE at_unix < ?1",
    [ST_COUNTS] = "SELECT (SELECT count(*) FROM tuples), (SELECT count(*) FROM access_log)",
    [ST_BY_OPERATOR] = "SELECT by_operator FROM tuples WHERE nickname = ?1",
    [ST_OWNER_GET] = "SELECT sign_public FROM owner_keys WHERE nickname = ?1",
    [ST_OWNER_SET] = "INSERT OR IGNORE INTO owner_keys (nickname, sign_public) VALUES (?1, ?2)",
    /* Everything older than the newest ?2 reads of one tuple (the row at
     * offset ?2, newest first, is the first to go). */
    [ST_LOG_TRIM] = "DELETE FROM access_log WHERE nickname = ?1 AND id <= (SELECT id FROM"
		    " access_log WHERE nickname = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
};

struct iddir_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
};

/* --- checks --- */

/* 1..IDDIR_REAL_ID_MAX bytes of well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) without C0, DEL or C1 controls: the
 * real ID is shown to operators and readers, and must not carry a line
 * break or a terminal escape to them. */
static int real_id_valid(const char *real_id)
{
	if (!real_id)
		return 0;
	size_t n = strnlen(real_id, IDDIR_REAL_ID_MAX + 1);
	if (n == 0 || n > IDDIR_REAL_ID_MAX)
		return 0;
	const unsigned char *p = (const unsigned char *)real_id, *end = p + n;
	while (p < end) {
		uint32_t c = *p;
		size_t len;
		if (c < 0x80)
			len = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			len = 2, c &= 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, c &= 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, c &= 0x07;
		else
			return 0;
		if ((size_t)(end - p) < len)
			return 0;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i] & 0x3f);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
		    (c >= 0xd800 && c <= 0xdfff))
			return 0;
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			return 0;
		p += len;
	}
	return 1;
}

static int policy_valid(enum iddir_policy policy)
{
	return policy == IDDIR_NOBODY || policy == IDDIR_ANYONE || policy == IDDIR_LIST;
}

/* --- the store --- */

int iddir_store_open(const char *path, struct iddir_store **out, char *err, size_t err_len)
{
	struct iddir_store *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	*out = NULL;
	if (!s) {
		db_set_err(err, err_len, "out of memory");
		goto fail;
	}
	rc = db_open(path, APPLICATION_ID, KIND, migrations, IDDIR_STORE_SCHEMA_VERSION, &s->db,
		     err, err_len);
	if (rc == 0)
		rc = db_prepare(s->db, statement_sql, ST_COUNT, s->stmt, err, err_len);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	iddir_store_close(s);
	return rc;
}

void iddir_store_close(struct iddir_store *s)
{
	if (!s)
		return;
	db_close(s->db, s->stmt, ST_COUNT);
	free(s);
}

/* The tuple row and its reader list, inside the caller's transaction. */
static int put_rows(struct iddir_store *s, const char *nickname, const char *real_id,
		    enum iddir_policy policy, const char *const *readers, size_t n_readers,
		    uint64_t now_unix, int by_operator)
{
	sqlite3_stmt *st = s->stmt[ST_PUT];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_text(st, 2, real_id);
	if (rc == 0)
		rc = db_bind_u64(st, 3, (uint64_t)policy);
	if (rc == 0)
		rc = db_bind_time(st, 4, now_unix);
	if (rc == 0)
		rc = db_bind_u64(st, 5, by_operator ? 1 : 0);
	rc = db_change(st, rc);
	if (rc < 0)
		return rc;
	st = s->stmt[ST_READERS_CLEAR];
	rc = db_change(st, db_bind_text(st, 1, nickname));
	for (size_t i = 0; rc >= 0 && policy == IDDIR_LIST && i < n_readers; i++) {
		st = s->stmt[ST_READER_ADD];
		rc = db_bind_text(st, 1, nickname);
		if (rc == 0)
			rc = db_bind_text(st, 2, readers[i]);
		rc = db_change(st, rc);
	}
	return rc < 0 ? rc : 0;
}

int iddir_store_put(struct iddir_store *s, const char *nickname, const char *real_id,
		    enum iddir_policy policy, const char *const *readers, size_t n_readers,
		    uint64_t now_unix, int by_operator)
{
	if (!s || !util_nickname_valid(nickname) || !real_id_valid(real_id) ||
	    !policy_valid(policy))
		return -EINVAL;
	/* Readers only matter for a list; with another policy they are
	 * ignored, as the header says, and not even looked at. */
	if (policy == IDDIR_LIST) {
		if (n_readers > IDDIR_READERS_MAX || (n_readers > 0 && !readers))
			return -EINVAL;
		for (size_t i = 0; i < n_readers; i++)
			if (!util_nickname_valid(readers[i]))
				return -EINVAL;
	}
	if (now_unix > INT64_MAX)
		return -ERANGE;
	/* One transaction: a reader of the tuple sees the old list or the
	 * new, never a tuple with half of either. */
	int rc = db_run(s->stmt[ST_BEGIN]);
	if (rc < 0)
		return rc;
	rc = put_rows(s, nickname, real_id, policy, readers, n_readers, now_unix, by_operator);
	if (rc == 0)
		rc = db_run(s->stmt[ST_COMMIT]);
	if (rc < 0)
		db_rollback(s->stmt[ST_ROLLBACK]);
	return rc;
}

int iddir_store_get(struct iddir_store *s, const char *nickname, char *real_id, size_t real_id_len,
		    enum iddir_policy *policy)
{
	if (!s || !util_nickname_valid(nickname) ||
	    (real_id && real_id_len < IDDIR_REAL_ID_MAX + 1))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		int64_t p = sqlite3_column_int64(st, 1);
		if (!text)
			rc = -ENOMEM;
		else if (!real_id_valid(text) || !policy_valid((enum iddir_policy)p))
			rc = -EIO; /* a file edited by hand */
		else {
			if (real_id)
				snprintf(real_id, real_id_len, "%s", text);
			if (policy)
				*policy = (enum iddir_policy)p;
			rc = 0;
		}
	}
	db_finish(st);
	return rc;
}

int iddir_store_may_read(struct iddir_store *s, const char *nickname, const char *reader)
{
	if (!s || !util_nickname_valid(nickname) || !util_nickname_valid(reader))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_MAY_READ];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_text(st, 2, reader);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1) {
		int64_t policy = sqlite3_column_int64(st, 0);
		int listed = sqlite3_column_int(st, 1);
		/* The owner may always read its own tuple, even under NOBODY. */
		rc = strcmp(nickname, reader) == 0 || policy == IDDIR_ANYONE ||
		     (policy == IDDIR_LIST && listed);
	}
	db_finish(st);
	return rc;
}

int iddir_store_delete(struct iddir_store *s, const char *nickname)
{
	if (!s || !util_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_DELETE];
	int rc = db_change(st, db_bind_text(st, 1, nickname));
	if (rc == 0)
		rc = -ENOENT;
	return rc < 0 ? rc : 0;
}

int iddir_store_log_add(struct iddir_store *s, const char *nickname, const char *reader,
			uint64_t at_unix, int granted)
{
	if (!s || !util_nickname_valid(nickname) || !util_nickname_valid(reader))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_LOG_ADD];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_text(st, 2, reader);
	if (rc == 0)
		rc = db_bind_time(st, 3, at_unix);
	if (rc == 0)
		rc = db_bind_u64(st, 4, granted ? 1 : 0);
	/* Without the tuple the foreign key fails: -ENOENT (db_errno). */
	rc = db_change(st, rc);
	if (rc < 0)
		return rc;
	/* A reader who keeps asking cannot grow the file, nor push what
	 * others read out of sight beyond the newest IDDIR_LOG_KEEP. */
	st = s->stmt[ST_LOG_TRIM];
	rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_u64(st, 2, IDDIR_LOG_KEEP);
	rc = db_change(st, rc);
	return rc < 0 ? rc : 0;
}

int iddir_store_log_foreach(struct iddir_store *s, const char *nickname, size_t limit,
			    iddir_store_log_fn fn, void *ctx)
{
	if (!s || !util_nickname_valid(nickname) || !fn)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_LOG_NEWEST];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_u64(st, 2, limit > INT64_MAX ? INT64_MAX : (uint64_t)limit);
	while (rc == 0 && (rc = db_step_row(st)) == 1) {
		const char *reader = (const char *)sqlite3_column_text(st, 0);
		if (!reader) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(ctx, reader, db_column_u64(st, 1), sqlite3_column_int(st, 2));
	}
	db_finish(st);
	return rc;
}

int iddir_store_foreach(struct iddir_store *s, iddir_store_tuple_fn fn, void *ctx)
{
	if (!s || !fn)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_ALL];
	int rc;
	while ((rc = db_step_row(st)) == 1) {
		const char *nickname = (const char *)sqlite3_column_text(st, 0);
		const char *real_id = (const char *)sqlite3_column_text(st, 1);
		if (!nickname || !real_id) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(ctx, nickname, real_id, (enum iddir_policy)sqlite3_column_int(st, 2),
			(size_t)db_column_u64(st, 3), db_column_u64(st, 4),
			sqlite3_column_int(st, 5));
		if (rc != 0)
			break;
	}
	db_finish(st);
	return rc;
}

int iddir_store_log_purge(struct iddir_store *s, uint64_t before_unix)
{
	if (!s)
		return -EINVAL;
	/* Every time is at most INT64_MAX, so a later bound purges all. */
	if (before_unix > INT64_MAX)
		before_unix = INT64_MAX;
	sqlite3_stmt *st = s->stmt[ST_LOG_PURGE];
	return db_change(st, db_bind_time(st, 1, before_unix));
}

int iddir_store_count(struct iddir_store *s, uint64_t *tuples, uint64_t *log_entries)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_COUNTS];
	int rc = db_step_row(st);
	if (rc == 0)
		rc = -EIO;
	if (rc == 1) {
		if (tuples)
			*tuples = db_column_u64(st, 0);
		if (log_entries)
			*log_entries = db_column_u64(st, 1);
		rc = 0;
	}
	db_finish(st);
	return rc;
}

int iddir_store_by_operator(struct iddir_store *s, const char *nickname)
{
	if (!s || !util_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BY_OPERATOR];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	else if (rc == 1)
		rc = sqlite3_column_int(st, 0) != 0;
	db_finish(st);
	return rc;
}

int iddir_store_owner_key(struct iddir_store *s, const char *nickname, const uint8_t key[32])
{
	if (!s || !util_nickname_valid(nickname) || !key)
		return -EINVAL;
	int rc = db_key_pinned(s->stmt[ST_OWNER_GET], nickname, key);
	if (rc != -ENOENT)
		return rc;
	/* None yet: this key becomes the owner's, if the tuple exists. */
	sqlite3_stmt *st = s->stmt[ST_OWNER_SET];
	rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_errno(sqlite3_bind_blob(st, 2, key, 32, SQLITE_STATIC));
	rc = db_change(st, rc);
	return rc == -ENOENT ? 0 : rc < 0 ? rc : 0;
}
