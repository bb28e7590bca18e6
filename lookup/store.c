/* The lookup service's SQLite store (docs/storage.md). One connection;
 * every statement is prepared once at open and reset after each use, so
 * none keeps a read snapshot (and the WAL) pinned between calls. */
#include "lookup/store.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* "ANLK": tells a lookup database from any other SQLite file. */
#define APPLICATION_ID 0x414e4c4b
#define KIND "lookup"

_Static_assert(LOOKUP_STORE_ID_LEN == UTIL_ID_MAX + 1, "a lighthouse id and its NUL");

/* Step i takes a file from schema version i to i + 1. To change the schema,
 * append a step and raise LOOKUP_STORE_SCHEMA_VERSION; never edit a step
 * that has shipped, files in the field were made by it. */
static const char *const migrations[] = {
    /* 0 -> 1. Nickname -> lighthouse id and when it was last claimed;
     * nothing about the user. */
    "CREATE TABLE homes ("
    " nickname TEXT PRIMARY KEY NOT NULL,"
    " lighthouse TEXT NOT NULL CHECK (length(lighthouse) BETWEEN 1 AND 31),"
    " updated_unix INTEGER NOT NULL);",
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

/* --- SQLite plumbing (lighthouse/store.c has the same; keep them alike) --- */

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* An SQLite result code (extended codes are on) as 0 or a negative errno. */
static int errno_of(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	}
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_TOOBIG:
		return -EMSGSIZE;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_NOTADB:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Creates a missing file ourselves, so that it is 0600 whatever the umask
 * (SQLite gives its -wal and -shm files the database's mode). *loose says
 * whether an existing file is open to group or others: it is tightened
 * once it proves to be ours. */
static int prepare_file(const char *path, int *loose, char *err, size_t err_len)
{
	int created = 1;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		created = 0;
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0) {
		int rc = -errno;
		set_err(err, err_len, "cannot open: %s", strerror(errno));
		return rc;
	}
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		set_err(err, err_len, "cannot stat: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		set_err(err, err_len, "not a regular file");
	} else if (created && fchmod(fd, 0600) < 0) {
		rc = -errno;
		set_err(err, err_len, "cannot make it mode 0600: %s", strerror(errno));
	}
	*loose = !created && (st.st_mode & 0077) != 0;
	close(fd);
	return rc;
}

/* Runs a one-value query such as "PRAGMA user_version". */
static int query_int(sqlite3 *db, const char *sql, int64_t *out, char *err, size_t err_len)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if ((rc & 0xff) == SQLITE_NOTADB) {
		set_err(err, err_len, "not an SQLite database");
		rc = -EINVAL;
	} else {
		set_err(err, err_len, "cannot read the database: %s", sqlite3_errmsg(db));
		rc = rc == SQLITE_DONE ? -EIO : errno_of(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t err_len)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		set_err(err, err_len, "cannot update the database: %s", sqlite3_errmsg(db));
		return errno_of(rc);
	}
	return 0;
}

/* Refuses what this code cannot safely use: a schema from a newer version,
 * another program's database. */
static int check_version(sqlite3 *db, int64_t version, char *err, size_t err_len)
{
	int64_t application_id = 0, tables = 0;
	if (version > LOOKUP_STORE_SCHEMA_VERSION) {
		set_err(err, err_len,
			"schema version %lld is newer than this anosip knows (%d): "
			"run a newer anosip",
			(long long)version, LOOKUP_STORE_SCHEMA_VERSION);
		return -ENOTSUP;
	}
	if (version < 0) {
		set_err(err, err_len, "schema version %lld is not an anosip one",
			(long long)version);
		return -EINVAL;
	}
	int rc = query_int(db, "PRAGMA application_id", &application_id, err, err_len);
	if (rc == 0 && version == 0)
		rc = query_int(db, "SELECT count(*) FROM sqlite_master", &tables, err, err_len);
	if (rc < 0)
		return rc;
	if ((version > 0 && application_id != APPLICATION_ID) ||
	    (version == 0 && (application_id != 0 || tables != 0))) {
		set_err(err, err_len, "not a " KIND " database (application_id %#llx, %lld tables)",
			(unsigned long long)application_id, (long long)tables);
		return -EINVAL;
	}
	return 0;
}

/* Brings the schema to the current version in one transaction: a failed
 * step leaves the file as it was. The version is read again under the
 * write lock, in case another process migrated it meanwhile. */
static int migrate(sqlite3 *db, char *err, size_t err_len)
{
	int64_t version = 0;
	char sql[64];
	int rc = exec(db, "BEGIN IMMEDIATE", err, err_len);
	if (rc < 0)
		return rc;
	rc = query_int(db, "PRAGMA user_version", &version, err, err_len);
	if (rc == 0)
		rc = check_version(db, version, err, err_len);
	if (rc == 0 && version == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", APPLICATION_ID);
		rc = exec(db, sql, err, err_len);
	}
	for (int64_t v = version; rc == 0 && v < LOOKUP_STORE_SCHEMA_VERSION; v++)
		rc = exec(db, migrations[v], err, err_len);
	if (rc == 0 && version < LOOKUP_STORE_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", LOOKUP_STORE_SCHEMA_VERSION);
		rc = exec(db, sql, err, err_len);
	}
	if (rc == 0)
		rc = exec(db, "COMMIT", err, err_len);
	if (rc < 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Connection settings, checks and migration, in the order that leaves a
 * refused file untouched: nothing is written before its version is known. */
static int open_database(const char *path, int loose, sqlite3 **out, char *err, size_t err_len)
{
	int64_t version = 0;
	int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE, NULL);
	sqlite3 *db = *out;
	if (rc != SQLITE_OK) {
		set_err(err, err_len, "cannot open: %s",
			db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return errno_of(rc);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* A crafted file must not be able to run code or corrupt itself. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	rc = query_int(db, "PRAGMA user_version", &version, err, err_len);
	if (rc == 0)
		rc = check_version(db, version, err, err_len);
	if (rc < 0)
		return rc;
	if (loose && chmod(path, 0600) < 0) {
		rc = -errno;
		set_err(err, err_len, "cannot make it mode 0600: %s", strerror(errno));
		return rc;
	}
	/* journal_mode answers with the mode it ended in; anything but WAL
	 * means the file cannot do WAL (e.g. its folder is not writable). */
	sqlite3_stmt *st = NULL;
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);
		if (mode && sqlite3_stricmp(mode, "wal") == 0)
			rc = 0;
		else
			set_err(err, err_len, "cannot switch to WAL: journal mode stays %s",
				mode ? mode : "unknown");
	} else {
		set_err(err, err_len, "cannot switch to WAL: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc == SQLITE_ROW ? -EIO : errno_of(rc);
	/* secure_delete: released nicknames do not linger in free pages. */
	rc = exec(db,
		  "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
		  " PRAGMA secure_delete = ON",
		  err, err_len);
	if (rc == 0)
		rc = migrate(db, err, err_len);
	return rc;
}

static int64_t to_sql(uint64_t v)
{
	int64_t s;
	memcpy(&s, &v, sizeof(s));
	return s;
}

static uint64_t column_u64(sqlite3_stmt *st, int column)
{
	int64_t s = sqlite3_column_int64(st, column);
	uint64_t v;
	memcpy(&v, &s, sizeof(v));
	return v;
}

static int bind_text(sqlite3_stmt *st, int index, const char *text)
{
	return errno_of(sqlite3_bind_text(st, index, text, -1, SQLITE_STATIC));
}

static int bind_u64(sqlite3_stmt *st, int index, uint64_t v)
{
	return errno_of(sqlite3_bind_int64(st, index, to_sql(v)));
}

/* Times are compared in SQL as signed integers, so they must stay below
 * 2^63 to keep their order. */
static int bind_time(sqlite3_stmt *st, int index, uint64_t unix_s)
{
	return unix_s > INT64_MAX ? -ERANGE : bind_u64(st, index, unix_s);
}

/* Steps a statement that returns no rows: rows changed, or a negative errno. */
static int step_done(struct lookup_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_ROW ? -EIO : errno_of(rc);
	return sqlite3_changes(s->db);
}

/* 1 with a row, 0 at the end, or a negative errno. */
static int step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : errno_of(rc);
}

/* Every use of a statement ends here, whatever happened. */
static void finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Ends a use of a statement that changes rows: steps it if binding its
 * parameters went well (bind_rc 0), then resets it. Returns the rows
 * changed or a negative errno. */
static int change(struct lookup_store *s, sqlite3_stmt *st, int bind_rc)
{
	int rc = bind_rc == 0 ? step_done(s, st) : bind_rc;
	finish(st);
	return rc;
}

/* Transaction control: 0 or a negative errno. */
static int run(struct lookup_store *s, enum statement which)
{
	int rc = change(s, s->stmt[which], 0);
	return rc < 0 ? rc : 0;
}

/* Some errors roll the transaction back by themselves; only roll back one
 * that is still open. */
static void rollback(struct lookup_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		run(s, ST_ROLLBACK);
}

/* --- the store --- */

int lookup_store_open(const char *path, struct lookup_store **out, char *err, size_t err_len)
{
	struct lookup_store *s = NULL;
	int rc, loose = 0;
	set_err(err, err_len, "%s", "");
	*out = NULL;
	if (!path || !*path) {
		set_err(err, err_len, "no database path");
		rc = -EINVAL;
		goto fail;
	}
	rc = prepare_file(path, &loose, err, err_len);
	if (rc < 0)
		goto fail;
	s = calloc(1, sizeof(*s));
	if (!s) {
		set_err(err, err_len, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	rc = open_database(path, loose, &s->db, err, err_len);
	if (rc < 0)
		goto fail;
	for (int i = 0; i < ST_COUNT; i++) {
		int prc = sqlite3_prepare_v3(s->db, statement_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					     &s->stmt[i], NULL);
		if (prc != SQLITE_OK) {
			set_err(err, err_len, "cannot prepare \"%s\": %s", statement_sql[i],
				sqlite3_errmsg(s->db));
			rc = errno_of(prc);
			goto fail;
		}
	}
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
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* The last connection to close checkpoints the WAL and removes it. */
	sqlite3_close(s->db);
	free(s);
}

/* The rule the lighthouse and the circuit code apply too: 1..63 of
 * [a-z0-9._-]. Kept here because the lookup service links neither. */
static int lighthouse_valid(const char *lighthouse)
{
	return lighthouse && util_id_valid(lighthouse);
}

/* The nickname's lighthouse into out (when not NULL): 0 or -ENOENT. */
static int get_home(struct lookup_store *s, const char *nickname, char *out)
{
	sqlite3_stmt *st = s->stmt[ST_GET];
	int rc = bind_text(st, 1, nickname);
	if (rc == 0)
		rc = step_row(st);
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
	finish(st);
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
	int rc = run(s, ST_BEGIN);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = s->stmt[ST_CLAIM];
	rc = bind_text(st, 1, nickname);
	if (rc == 0)
		rc = bind_text(st, 2, lighthouse);
	if (rc == 0)
		rc = bind_time(st, 3, now_unix);
	rc = change(s, st, rc);
	if (rc == 0) {
		rc = get_home(s, nickname, holder);
		if (rc == 0)
			rc = -EEXIST;
	}
	if (rc >= 0 || rc == -EEXIST) {
		int commit = run(s, ST_COMMIT);
		if (commit < 0)
			rc = commit;
	}
	if (rc < 0)
		rollback(s);
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
	int rc = run(s, ST_BEGIN);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = s->stmt[ST_RELEASE];
	rc = bind_text(st, 1, nickname);
	if (rc == 0)
		rc = bind_text(st, 2, lighthouse);
	rc = change(s, st, rc);
	/* Nothing deleted: either nobody holds it or somebody else does. */
	if (rc == 0) {
		rc = get_home(s, nickname, NULL);
		if (rc == 0)
			rc = -EPERM;
	}
	if (rc > 0)
		rc = run(s, ST_COMMIT);
	if (rc < 0)
		rollback(s);
	return rc;
}

int lookup_store_count(struct lookup_store *s, uint64_t *count)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_COUNT_HOMES];
	int rc = step_row(st);
	if (rc == 0)
		rc = -EIO;
	if (rc == 1) {
		if (count)
			*count = column_u64(st, 0);
		rc = 0;
	}
	finish(st);
	return rc;
}

int lookup_store_foreach(struct lookup_store *s, lookup_store_home_fn fn, void *ctx)
{
	if (!s || !fn)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_ALL];
	int rc;
	while ((rc = step_row(st)) == 1) {
		const char *nickname = (const char *)sqlite3_column_text(st, 0);
		const char *lighthouse = (const char *)sqlite3_column_text(st, 1);
		if (!nickname || !lighthouse) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(ctx, nickname, lighthouse, column_u64(st, 2));
		if (rc != 0)
			break;
	}
	finish(st);
	return rc;
}
