/* The registrar's part of the lighthouse's store (store.h): SIP digest
 * passwords (the accounts' ha1 columns), registrations, failed
 * authentications, and the account listing that shows them together. The
 * schema and the statements' SQL are in store.c. */
#include "lighthouse/store_private.h"

#include "circuit/circuit.h"
#include "db/db.h"

#include <errno.h>
#include <string.h>

/* --- SIP digest passwords --- */

int lh_store_password_set(struct lh_store *s, const char *nickname, const uint8_t ha1_md5[16],
			  const uint8_t ha1_sha256[32], int only_if_unset)
{
	if (!s || !nickname || !circ_nickname_valid(nickname) || (!ha1_md5 && !ha1_sha256))
		return -EINVAL;
	/* One transaction, so that "no row changed" can be told apart (no
	 * account, or a password already there) without a race. */
	int rc = db_run(s->stmt[ST_BEGIN]);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = s->stmt[ST_PASSWORD_SET];
	rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_errno(ha1_md5 ? sqlite3_bind_blob(st, 2, ha1_md5, 16, SQLITE_STATIC)
				      : sqlite3_bind_null(st, 2));
	if (rc == 0)
		rc = db_errno(ha1_sha256 ? sqlite3_bind_blob(st, 3, ha1_sha256, 32, SQLITE_STATIC)
					 : sqlite3_bind_null(st, 3));
	if (rc == 0)
		rc = db_errno(sqlite3_bind_int(st, 4, only_if_unset != 0));
	rc = db_change(st, rc);
	if (rc == 0) {
		rc = lh_store_account_get(s, nickname, NULL, NULL);
		if (rc == 0)
			rc = -EEXIST;
	}
	if (rc > 0)
		rc = db_run(s->stmt[ST_COMMIT]);
	if (rc < 0)
		db_rollback(s->stmt[ST_ROLLBACK]);
	return rc < 0 ? rc : 0;
}

int lh_store_password_get(struct lh_store *s, const char *nickname, uint8_t ha1_md5[16],
			  int *has_md5, uint8_t ha1_sha256[32], int *has_sha256)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_PASSWORD_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	int md5 = rc == 1 && sqlite3_column_type(st, 0) != SQLITE_NULL;
	int sha256 = rc == 1 && sqlite3_column_type(st, 1) != SQLITE_NULL;
	/* The columns' CHECKs hold the lengths; a file edited by hand might
	 * not, and a short HA1 must never be read past its end. */
	if ((md5 && sqlite3_column_bytes(st, 0) != 16) ||
	    (sha256 && sqlite3_column_bytes(st, 1) != 32))
		rc = -EIO;
	if (rc == 1) {
		if (ha1_md5 && md5)
			memcpy(ha1_md5, sqlite3_column_blob(st, 0), 16);
		if (ha1_sha256 && sha256)
			memcpy(ha1_sha256, sqlite3_column_blob(st, 1), 32);
		if (has_md5)
			*has_md5 = md5;
		if (has_sha256)
			*has_sha256 = sha256;
		rc = 0;
	}
	db_finish(st);
	return rc;
}

/* --- registrations --- */

int lh_store_registration_set(struct lh_store *s, const char *nickname, uint64_t expires_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_REGISTRATION_SET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_time(st, 2, expires_unix);
	rc = db_change(st, rc);
	return rc < 0 ? rc : 0;
}

int lh_store_registration_get(struct lh_store *s, const char *nickname, uint64_t *expires_unix)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_REGISTRATION_GET];
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc == 1) {
		if (expires_unix)
			*expires_unix = db_column_u64(st, 0);
		rc = 0;
	}
	db_finish(st);
	return rc;
}

int lh_store_registration_delete(struct lh_store *s, const char *nickname)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	int rc = store_delete_by_nickname(s, ST_REGISTRATION_DELETE, nickname);
	if (rc == 0)
		rc = -ENOENT;
	return rc < 0 ? rc : 0;
}

int lh_store_registrations_expire(struct lh_store *s, uint64_t now_unix)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_REGISTRATIONS_EXPIRE];
	return db_change(st, db_bind_time(st, 1, now_unix));
}

int lh_store_registration_count(struct lh_store *s, uint64_t *count)
{
	if (!s)
		return -EINVAL;
	return store_counts(s, ST_REGISTRATION_COUNT, count, NULL);
}

/* --- failed authentications --- */

/* Binds nickname, now and the window, the parameters both auth queries
 * share. */
static int bind_auth(sqlite3_stmt *st, const char *nickname, uint64_t now_unix)
{
	int rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_bind_time(st, 2, now_unix);
	if (rc == 0)
		rc = db_bind_u64(st, 3, LH_STORE_AUTH_WINDOW_S);
	return rc;
}

int lh_store_auth_failure(struct lh_store *s, const char *nickname, uint64_t now_unix,
			  unsigned *failures_in_window)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_AUTH_FAILURE];
	int rc = bind_auth(st, nickname, now_unix);
	if (rc == 0)
		rc = db_step_row(st);
	/* Without an account the foreign key fails the insert: -ENOENT. */
	if (rc == 0)
		rc = -EIO;
	if (rc == 1) {
		uint64_t failures = db_column_u64(st, 0);
		/* Stepping to the end, not only resetting, is what reports a
		 * failed write (RETURNING hands the row out before). */
		rc = db_step_row(st);
		if (rc == 0 && failures_in_window)
			*failures_in_window = (unsigned)failures;
		if (rc == 1)
			rc = -EIO;
	}
	db_finish(st);
	return rc;
}

int lh_store_auth_failures(struct lh_store *s, const char *nickname, uint64_t now_unix,
			   unsigned *count)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_AUTH_FAILURES];
	int rc = bind_auth(st, nickname, now_unix);
	if (rc == 0)
		rc = db_step_row(st);
	if (rc == 1) {
		if (count)
			*count = (unsigned)db_column_u64(st, 0);
		rc = 0;
	} else if (rc == 0) {
		/* No row: no failure on record, if the account exists. */
		db_finish(st);
		rc = lh_store_account_get(s, nickname, NULL, NULL);
		if (rc == 0 && count)
			*count = 0;
		return rc;
	}
	db_finish(st);
	return rc;
}

int lh_store_auth_reset(struct lh_store *s, const char *nickname)
{
	if (!s || !nickname || !circ_nickname_valid(nickname))
		return -EINVAL;
	int rc = store_delete_by_nickname(s, ST_AUTH_RESET, nickname);
	if (rc == 0)
		rc = lh_store_account_get(s, nickname, NULL, NULL);
	return rc < 0 ? rc : 0;
}

/* --- listing --- */

int lh_store_accounts_foreach(struct lh_store *s, lh_store_account_fn fn, void *ctx)
{
	if (!s || !fn)
		return -EINVAL;
	sqlite3_stmt *st = s->stmt[ST_ACCOUNTS_ALL];
	int rc;
	while ((rc = db_step_row(st)) == 1) {
		const char *nickname = (const char *)sqlite3_column_text(st, 0);
		if (!nickname) {
			rc = -ENOMEM;
			break;
		}
		rc = fn(ctx, nickname, db_column_u64(st, 1), sqlite3_column_int(st, 2) != 0,
			db_column_u64(st, 3));
		if (rc != 0)
			break;
	}
	db_finish(st);
	return rc;
}
