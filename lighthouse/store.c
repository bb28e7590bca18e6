/* The lighthouse's SQLite store (docs/storage.md): the schema and its
 * migrations, every statement's SQL, opening and closing, and the tables
 * of accounts, certificates and circuit bindings. The registrar's tables
 * (passwords, registrations, failed authentications) are in store_sip.c.
 * One connection; every statement is prepared once at open and reset after
 * each use, so none keeps a read snapshot (and the WAL) pinned between
 * calls. */
#include "lighthouse/store_private.h"

#include "circuit/circuit.h"
#include "db/db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "ANLH": tells a lighthouse database from any other SQLite file. */
#define APPLICATION_ID 0x414e4c48
#define KIND "lighthouse"

/* Step i takes a file from schema version i to i + 1. To change the schema,
 * append a step and raise LH_STORE_SCHEMA_VERSION; never edit a step that
 * has shipped, files in the field were made by it. */
static const struct db_migration migrations[] = {
    /* 0 -> 1. The ha1 columns wait for SIP digest passwords (issue 4):
     * H(nickname:realm:password), never the password itself. */
    {"CREATE TABLE accounts ("
     " nickname TEXT PRIMARY KEY NOT NULL,"
     " sign_public BLOB NOT NULL CHECK (typeof(sign_public) = 'blob' AND length(sign_public) = 32),"
     " created_unix INTEGER NOT NULL,"
     " ha1_md5 BLOB CHECK (ha1_md5 IS NULL OR length(ha1_md5) = 16),"
     " ha1_sha256 BLOB CHECK (ha1_sha256 IS NULL OR length(ha1_sha256) = 32));"
     "CREATE TABLE certificates ("
     " nickname TEXT PRIMARY KEY NOT NULL REFERENCES accounts (nickname) ON DELETE CASCADE,"
     " certificate BLOB NOT NULL CHECK (typeof(certificate) = 'blob'),"
     " expires_unix INTEGER NOT NULL);"
     "CREATE TABLE bindings ("
     " nickname TEXT PRIMARY KEY NOT NULL REFERENCES accounts (nickname) ON DELETE CASCADE,"
     " circuit INTEGER NOT NULL,"
     " epoch INTEGER NOT NULL,"
     " expires_unix INTEGER NOT NULL,"
     " live INTEGER NOT NULL CHECK (live IN (0, 1)));"
     "CREATE INDEX bindings_by_circuit ON bindings (circuit);"
     "CREATE INDEX bindings_by_expiry ON bindings (expires_unix);"},
    /* 1 -> 2. SIP registrations and failed-authentication counts. A
     * registration keeps only until when it holds: the Contact it came with
     * would say where the user is, which the lighthouse must not know. */
    {"CREATE TABLE registrations ("
     " nickname TEXT PRIMARY KEY NOT NULL REFERENCES accounts (nickname) ON DELETE CASCADE,"
     " expires_unix INTEGER NOT NULL);"
     "CREATE INDEX registrations_by_expiry ON registrations (expires_unix);"
     "CREATE TABLE auth_failures ("
     " nickname TEXT PRIMARY KEY NOT NULL REFERENCES accounts (nickname) ON DELETE CASCADE,"
     " window_start_unix INTEGER NOT NULL,"
     " failures INTEGER NOT NULL CHECK (failures > 0));"},
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == LH_STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

/* --- the statements --- */

static const char *const statement_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_ACCOUNT_GET] = "SELECT sign_public, created_unix FROM accounts WHERE nickname = ?1",
    [ST_ACCOUNT_ADD] = "INSERT INTO accounts (nickname, sign_public, created_unix)"
		       " VALUES (?1, ?2, ?3)",
    [ST_ACCOUNT_DELETE] = "DELETE FROM accounts WHERE nickname = ?1",
    [ST_ACCOUNT_COUNT] = "SELECT count(*) FROM accounts",
    [ST_CERTIFICATE_PUT] = "INSERT INTO certificates (nickname, certificate, expires_unix)"
			   " VALUES (?1, ?2, ?3) ON CONFLICT (nickname) DO UPDATE SET"
			   " certificate = excluded.certificate,"
			   " expires_unix = excluded.expires_unix",
    [ST_CERTIFICATE_GET] = "SELECT certificate, expires_unix FROM certificates"
			   " WHERE nickname = ?1",
    [ST_CERTIFICATE_DELETE] = "DELETE FROM certificates WHERE nickname = ?1",
    [ST_BINDING_SET] = "INSERT INTO bindings (nickname, circuit, epoch, expires_unix, live)"
		       " VALUES (?1, ?2, ?3, ?4, 1) ON CONFLICT (nickname) DO UPDATE SET"
		       " circuit = excluded.circuit, epoch = excluded.epoch,"
		       " expires_unix = excluded.expires_unix, live = 1",
    [ST_BINDING_GET] = "SELECT circuit, epoch, expires_unix, live FROM bindings"
		       " WHERE nickname = ?1",
    [ST_BINDING_DELETE] = "DELETE FROM bindings WHERE nickname = ?1",
    [ST_BINDING_STALE_CIRCUIT] = "UPDATE bindings SET live = 0 WHERE circuit = ?1 AND live = 1",
    [ST_BINDINGS_STALE_EXCEPT_EPOCH] = "UPDATE bindings SET live = 0"
				       " WHERE epoch <> ?1 AND live = 1",
    [ST_BINDINGS_REFRESH_EPOCH] = "UPDATE bindings SET expires_unix = ?2"
				  " WHERE epoch = ?1 AND live = 1",
    [ST_BINDINGS_EXPIRE] = "DELETE FROM bindings WHERE expires_unix <= ?1",
    [ST_BINDINGS_ALL] = "SELECT nickname, circuit, epoch, expires_unix, live FROM bindings"
			" ORDER BY nickname",
    [ST_BINDING_COUNT] = "SELECT coalesce(sum(live = 1), 0), coalesce(sum(live = 0), 0)"
			 " FROM bindings",
    /* ?4: only when the account has no password yet. */
    [ST_PASSWORD_SET] = "UPDATE accounts SET ha1_md5 = ?2, ha1_sha256 = ?3 WHERE nickname = ?1"
			" AND (?4 = 0 OR (ha1_md5 IS NULL AND ha1_sha256 IS NULL))",
    [ST_PASSWORD_GET] = "SELECT ha1_md5, ha1_sha256 FROM accounts WHERE nickname = ?1",
    [ST_REGISTRATION_SET] = "INSERT INTO registrations (nickname, expires_unix) VALUES (?1, ?2)"
			    " ON CONFLICT (nickname) DO UPDATE SET"
			    " expires_unix = excluded.expires_unix",
    [ST_REGISTRATION_GET] = "SELECT expires_unix FROM registrations WHERE nickname = ?1",
    [ST_REGISTRATION_DELETE] = "DELETE FROM registrations WHERE nickname = ?1",
    [ST_REGISTRATIONS_EXPIRE] = "DELETE FROM registrations WHERE expires_unix <= ?1",
    [ST_REGISTRATION_COUNT] = "SELECT count(*) FROM registrations",
    /* One row per nickname: a window opens at the first failure and lasts
     * ?3 seconds; a failure after it opens a new one. A clock set back
     * moves the start back with it, so the window ends ?3 seconds after
     * the latest failure at the latest, never years later. The values on
     * the right of SET are the row's old ones. */
    [ST_AUTH_FAILURE] = "INSERT INTO auth_failures (nickname, window_start_unix, failures)"
			" VALUES (?1, ?2, 1) ON CONFLICT (nickname) DO UPDATE SET"
			" failures = CASE WHEN ?2 - window_start_unix >= ?3 THEN 1"
			" ELSE min(failures + 1, 1000000000) END,"
			" window_start_unix = CASE WHEN ?2 - window_start_unix >= ?3 THEN ?2"
			" ELSE min(window_start_unix, ?2) END"
			" RETURNING failures",
    [ST_AUTH_FAILURES] = "SELECT CASE WHEN ?2 - window_start_unix >= ?3 THEN 0"
			 " ELSE failures END FROM auth_failures WHERE nickname = ?1",
    [ST_AUTH_RESET] = "DELETE FROM auth_failures WHERE nickname = ?1",
    [ST_ACCOUNTS_ALL] = "SELECT a.nickname, a.created_unix,"
			" a.ha1_md5 IS NOT NULL OR a.ha1_sha256 IS NOT NULL,"
			" coalesce(r.expires_unix, 0)"
			" FROM accounts AS a LEFT JOIN registrations AS r USING (nickname)"
			" ORDER BY a.nickname",
};

/* --- the store --- */

int lh_store_open(const char *path, struct lh_store **out, char *err, size_t err_len)
{
	struct lh_store *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	*out = NULL;
	if (!s) {
		db_set_err(err, err_len, "out of memory");
		goto fail;
	}
	rc = db_open(path, APPLICATION_ID, KIND, migrations, LH_STORE_SCHEMA_VERSION, &s->db, err,
		     err_len);
	if (rc == 0)
		rc = db_prepare(s->db, statement_sql, ST_COUNT, s->stmt, err, err_len);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	lh_store_close(s);
	return rc;
}

void lh_store_close(struct lh_store *s)
{
	if (!s)
		return;
	db_close(s->db, s->stmt, ST_COUNT);
	free(s);
}

int lh_store_account_get(struct lh_store *s, const char *nickname, uint8_t sign_public[32],
			 uint64_t *created_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_ACCOUNT_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1 && sqlite3_column_bytes(st, 0) != 32)
		rc = -EIO;
	if (rc == 1) {
		if (sign_public)
			memcpy(sign_public, sqlite3_column_blob(st, 0), 32);
		if (created_unix)
			*created_unix = db_column_u64(st, 1);
		rc = 0;
	}
	db_finish(st);
	return rc;
}

int lh_store_account_add(struct lh_store *s, const char *nickname, const uint8_t sign_public[32],
			 uint64_t created_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname) || !sign_public)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_ACCOUNT_ADD];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_errno(sqlite3_bind_blob(st, 2, sign_public, 32, SQLITE_STATIC));
	if (rc == 0)
		rc = db_bind_time(st, 3, created_unix);
	rc = db_change(st, rc);
	return rc < 0 ? rc : 0;
}

int lh_store_begin(struct lh_store *s)
{
	if (!s)
		return -EINVAL;
	return db_run(s->stmt[ST_BEGIN]);
}

int lh_store_commit(struct lh_store *s)
{
	if (!s)
		return -EINVAL;
	int rc = db_run(s->stmt[ST_COMMIT]);
	if (rc < 0)
		db_rollback(s->stmt[ST_ROLLBACK]);
	return rc;
}

int store_delete_by_nickname(struct lh_store *s, enum statement which, const char *nickname)
{
	sqlite3_stmt *st = s->stmt[which];
	return db_change(st, db_bind_text(st, 1, nickname));
}

int lh_store_account_delete(struct lh_store *s, const char *nickname)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	/* The foreign keys cascade too; deleting explicitly keeps this right
	 * even on a connection where they are off. */
	int rc = db_run(s->stmt[ST_BEGIN]);
	if (rc < 0)
		return rc;
	rc = store_delete_by_nickname(s, ST_BINDING_DELETE, nickname);
	if (rc >= 0)
		rc = store_delete_by_nickname(s, ST_REGISTRATION_DELETE, nickname);
	if (rc >= 0)
		rc = store_delete_by_nickname(s, ST_AUTH_RESET, nickname);
	if (rc >= 0)
		rc = store_delete_by_nickname(s, ST_CERTIFICATE_DELETE, nickname);
	if (rc >= 0)
		rc = store_delete_by_nickname(s, ST_ACCOUNT_DELETE, nickname);
	if (rc == 0)
		rc = -ENOENT;
	if (rc > 0)
		rc = db_run(s->stmt[ST_COMMIT]);
	if (rc < 0)
		db_rollback(s->stmt[ST_ROLLBACK]);
	return rc < 0 ? rc : 0;
}

int store_counts(struct lh_store *s, enum statement which, uint64_t *first, uint64_t *second)
{
	sqlite3_stmt *st = s->stmt[which];
	int rc = db_step_row(st);
	if (rc == 0)
		rc = -EIO;
	if (rc == 1) {
		if (first)
			*first = db_column_u64(st, 0);
		if (second)
			*second = db_column_u64(st, 1);
		rc = 0;
	}
	db_finish(st);
	return rc;
}

int lh_store_account_count(struct lh_store *s, uint64_t *count)
{
	if (!s)
		return -EINVAL;
	return store_counts(s, ST_ACCOUNT_COUNT, count, NULL);
}

int lh_store_certificate_put(struct lh_store *s, const char *nickname, const uint8_t *cert,
			     size_t len, uint64_t expires_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname) || !cert || len == 0)
		return -EINVAL;
	if (len > LH_STORE_CERTIFICATE_MAX)
		return -EMSGSIZE;
	sqlite3_stmt *st = s->stmt[ST_CERTIFICATE_PUT];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_errno(sqlite3_bind_blob(st, 2, cert, (int)len, SQLITE_STATIC));
	if (rc == 0)
		rc = db_bind_time(st, 3, expires_unix);
	rc = db_change(st, rc);
	return rc < 0 ? rc : 0;
}

int lh_store_certificate_get(struct lh_store *s, const char *nickname, uint8_t **cert, size_t *len,
			     uint64_t *expires_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_CERTIFICATE_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1) {
		const void *blob = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		uint8_t *copy = NULL;
		if (cert && (copy = malloc(n ? n : 1)) == NULL) {
			rc = -ENOMEM;
		} else {
			if (copy) {
				if (n)
					memcpy(copy, blob, n);
				*cert = copy;
			}
			if (len)
				*len = n;
			if (expires_unix)
				*expires_unix = db_column_u64(st, 1);
			rc = 0;
		}
	}
	db_finish(st);
	return rc;
}

int lh_store_binding_set(struct lh_store *s, const char *nickname, uint64_t circuit, uint64_t epoch,
			 uint64_t expires_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDING_SET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_u64(st, 2, circuit);
	if (rc == 0)
		rc = db_bind_u64(st, 3, epoch);
	if (rc == 0)
		rc = db_bind_time(st, 4, expires_unix);
	rc = db_change(st, rc);
	return rc < 0 ? rc : 0;
}

int lh_store_binding_get(struct lh_store *s, const char *nickname, uint64_t *circuit,
			 uint64_t *epoch, uint64_t *expires_unix, int *live)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDING_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1) {
		if (circuit)
			*circuit = db_column_u64(st, 0);
		if (epoch)
			*epoch = db_column_u64(st, 1);
		if (expires_unix)
			*expires_unix = db_column_u64(st, 2);
		if (live)
			*live = sqlite3_column_int(st, 3) != 0;
		rc = 0;
	}
	db_finish(st);
	return rc;
}

int lh_store_binding_mark_stale_circuit(struct lh_store *s, uint64_t circuit)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDING_STALE_CIRCUIT];
	return db_change(st, db_bind_u64(st, 1, circuit));
}

int lh_store_bindings_mark_stale_except_epoch(struct lh_store *s, uint64_t epoch)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDINGS_STALE_EXCEPT_EPOCH];
	return db_change(st, db_bind_u64(st, 1, epoch));
}

int lh_store_bindings_refresh_epoch(struct lh_store *s, uint64_t epoch, uint64_t expires_unix)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDINGS_REFRESH_EPOCH];
	int rc = db_bind_u64(st, 1, epoch);
	if (rc == 0)
		rc = db_bind_time(st, 2, expires_unix);
	return db_change(st, rc);
}

int lh_store_bindings_expire(struct lh_store *s, uint64_t now_unix)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDINGS_EXPIRE];
	return db_change(st, db_bind_time(st, 1, now_unix));
}

int lh_store_bindings_foreach(struct lh_store *s, lh_store_binding_fn fn, void *ctx)
{
	if (!s || !fn)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_BINDINGS_ALL];
	int rc;
	while ((rc = db_step_row(st)) == 1) {
		const char *nickname = (const char *)sqlite3_column_text(st, 0);
		if (!nickname) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(ctx, nickname, db_column_u64(st, 1), db_column_u64(st, 2),
			db_column_u64(st, 3), sqlite3_column_int(st, 4) != 0);
		if (rc != 0)
			break;
	}
	db_finish(st);
	return rc;
}

int lh_store_binding_count(struct lh_store *s, uint64_t *live, uint64_t *stale)
{
	if (!s)
		return -EINVAL;
	return store_counts(s, ST_BINDING_COUNT, live, stale);
}
