/* The SQLite plumbing of the stores (db/db.h): opening, checking and
 * migrating a file, and the statement helpers. */
#include "db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000

/* What db_open() was asked for, handed down to its steps. */
struct schema {
	/* As SQLite keeps it (and PRAGMA application_id reads it back): a
	 * signed 32-bit integer. */
	int64_t application_id;
	const char *what;
	const struct db_migration *steps;
	int version; /* the current one: the number of steps */
};

void db_set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

int db_errno(int rc)
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

/* --- opening --- */

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
		db_set_err(err, err_len, "cannot open: %s", strerror(errno));
		return rc;
	}
	int rc = 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		db_set_err(err, err_len, "cannot stat: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		db_set_err(err, err_len, "not a regular file");
	} else if (created && fchmod(fd, 0600) < 0) {
		rc = -errno;
		db_set_err(err, err_len, "cannot make it mode 0600: %s", strerror(errno));
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
		db_set_err(err, err_len, "not an SQLite database");
		rc = -EINVAL;
	} else {
		db_set_err(err, err_len, "cannot read the database: %s", sqlite3_errmsg(db));
		rc = rc == SQLITE_DONE ? -EIO : db_errno(rc);
	}
	sqlite3_finalize(st);
	return rc;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t err_len)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		db_set_err(err, err_len, "cannot update the database: %s", sqlite3_errmsg(db));
		return db_errno(rc);
	}
	return 0;
}

/* Refuses what this code cannot safely use: a schema from a newer version,
 * another program's database. */
static int check_version(sqlite3 *db, const struct schema *schema, int64_t version, char *err,
			 size_t err_len)
{
	int64_t application_id = 0, tables = 0;
	if (version > schema->version) {
		db_set_err(err, err_len,
			   "schema version %lld is newer than this anosip knows (%d): "
			   "run a newer anosip",
			   (long long)version, schema->version);
		return -ENOTSUP;
	}
	if (version < 0) {
		db_set_err(err, err_len, "schema version %lld is not an anosip one",
			   (long long)version);
		return -EINVAL;
	}
	int rc = query_int(db, "PRAGMA application_id", &application_id, err, err_len);
	if (rc == 0 && version == 0)
		rc = query_int(db, "SELECT count(*) FROM sqlite_master", &tables, err, err_len);
	if (rc < 0)
		return rc;
	if ((version > 0 && application_id != schema->application_id) ||
	    (version == 0 && (application_id != 0 || tables != 0))) {
		db_set_err(err, err_len, "not a %s database (application_id %#llx, %lld tables)",
			   schema->what, (unsigned long long)application_id, (long long)tables);
		return -EINVAL;
	}
	return 0;
}

/* Brings the schema to the current version in one transaction: a failed
 * step leaves the file as it was. The version is read again under the
 * write lock, in case another process migrated it meanwhile. */
static int migrate(sqlite3 *db, const struct schema *schema, char *err, size_t err_len)
{
	int64_t version = 0;
	char sql[64];
	int rc = exec(db, "BEGIN IMMEDIATE", err, err_len);
	if (rc < 0)
		return rc;
	rc = query_int(db, "PRAGMA user_version", &version, err, err_len);
	if (rc == 0)
		rc = check_version(db, schema, version, err, err_len);
	if (rc == 0 && version == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA application_id = %lld",
			 (long long)schema->application_id);
		rc = exec(db, sql, err, err_len);
	}
	for (int64_t v = version; rc == 0 && v < schema->version; v++)
		rc = exec(db, schema->steps[v].sql, err, err_len);
	if (rc == 0 && version < schema->version) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", schema->version);
		rc = exec(db, sql, err, err_len);
	}
	if (rc == 0)
		rc = exec(db, "COMMIT", err, err_len);
	if (rc < 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* Connection settings, checks and migration, in the order that leaves a
 * refused file untouched: nothing is written before its version is known.
 * *out is set even on failure when SQLite made a handle; the caller closes
 * it. */
static int open_database(const char *path, int loose, const struct schema *schema, sqlite3 **out,
			 char *err, size_t err_len)
{
	int64_t version = 0;
	int rc = sqlite3_open_v2(path, out, SQLITE_OPEN_READWRITE, NULL);
	sqlite3 *db = *out;
	if (rc != SQLITE_OK) {
		db_set_err(err, err_len, "cannot open: %s",
			   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		return db_errno(rc);
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* A crafted file must not be able to run code or corrupt itself. */
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	rc = query_int(db, "PRAGMA user_version", &version, err, err_len);
	if (rc == 0)
		rc = check_version(db, schema, version, err, err_len);
	if (rc < 0)
		return rc;
	if (loose && chmod(path, 0600) < 0) {
		rc = -errno;
		db_set_err(err, err_len, "cannot make it mode 0600: %s", strerror(errno));
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
			db_set_err(err, err_len, "cannot switch to WAL: journal mode stays %s",
				   mode ? mode : "unknown");
	} else {
		db_set_err(err, err_len, "cannot switch to WAL: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	if (rc != 0)
		return rc == SQLITE_ROW ? -EIO : db_errno(rc);
	/* secure_delete: deleted rows (a deleted account, a released
	 * nickname) do not linger in free pages. */
	rc = exec(db,
		  "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
		  " PRAGMA secure_delete = ON",
		  err, err_len);
	if (rc == 0)
		rc = migrate(db, schema, err, err_len);
	return rc;
}

int db_open(const char *path, uint32_t application_id, const char *what,
	    const struct db_migration *steps, int n_steps, sqlite3 **out, char *err, size_t err_len)
{
	const struct schema schema = {
	    .application_id = application_id <= INT32_MAX
				  ? (int64_t)application_id
				  : (int64_t)application_id - ((int64_t)1 << 32),
	    .what = what,
	    .steps = steps,
	    .version = n_steps,
	};
	sqlite3 *db = NULL;
	int rc, loose = 0;
	db_set_err(err, err_len, "%s", "");
	*out = NULL;
	if (!path || !*path) {
		db_set_err(err, err_len, "no database path");
		rc = -EINVAL;
		goto fail;
	}
	if (!what || n_steps < 0 || (n_steps > 0 && !steps)) {
		db_set_err(err, err_len, "no schema to check the database against");
		rc = -EINVAL;
		goto fail;
	}
	rc = prepare_file(path, &loose, err, err_len);
	if (rc < 0)
		goto fail;
	rc = open_database(path, loose, &schema, &db, err, err_len);
	if (rc < 0)
		goto fail;
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return rc;
}

int db_prepare(sqlite3 *db, const char *const *sql, int n, sqlite3_stmt **stmt, char *err,
	       size_t err_len)
{
	for (int i = 0; i < n; i++) {
		int rc =
		    sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmt[i], NULL);
		if (rc != SQLITE_OK) {
			db_set_err(err, err_len, "cannot prepare \"%s\": %s", sql[i],
				   sqlite3_errmsg(db));
			return db_errno(rc);
		}
	}
	return 0;
}

void db_close(sqlite3 *db, sqlite3_stmt **stmt, int n)
{
	for (int i = 0; stmt && i < n; i++)
		sqlite3_finalize(stmt[i]);
	sqlite3_close(db);
}

/* --- statements --- */

int db_bind_text(sqlite3_stmt *st, int index, const char *text)
{
	return db_errno(sqlite3_bind_text(st, index, text, -1, SQLITE_STATIC));
}

int db_key_pinned(sqlite3_stmt *get, const char *name, const uint8_t key[32])
{
	int rc = db_bind_text(get, 1, name);
	if (rc == 0)
		rc = db_step_row(get);
	if (rc == 1) {
		const void *known = sqlite3_column_blob(get, 0);
		rc = known && sqlite3_column_bytes(get, 0) == 32 && memcmp(known, key, 32) == 0
			 ? 0
			 : -EKEYREJECTED;
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	db_finish(get);
	return rc;
}

int db_bind_u64(sqlite3_stmt *st, int index, uint64_t v)
{
	int64_t s;
	memcpy(&s, &v, sizeof(s));
	return db_errno(sqlite3_bind_int64(st, index, s));
}

int db_bind_time(sqlite3_stmt *st, int index, uint64_t unix_s)
{
	return unix_s > INT64_MAX ? -ERANGE : db_bind_u64(st, index, unix_s);
}

uint64_t db_column_u64(sqlite3_stmt *st, int column)
{
	int64_t s = sqlite3_column_int64(st, column);
	uint64_t v;
	memcpy(&v, &s, sizeof(v));
	return v;
}

int db_step_row(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

void db_finish(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no rows: rows changed, or a negative errno. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_ROW ? -EIO : db_errno(rc);
	return sqlite3_changes(sqlite3_db_handle(st));
}

int db_change(sqlite3_stmt *st, int bind_rc)
{
	int rc = bind_rc == 0 ? step_done(st) : bind_rc;
	db_finish(st);
	return rc;
}

int db_run(sqlite3_stmt *st)
{
	int rc = db_change(st, 0);
	return rc < 0 ? rc : 0;
}

void db_rollback(sqlite3_stmt *rollback)
{
	if (!sqlite3_get_autocommit(sqlite3_db_handle(rollback)))
		db_run(rollback);
}
