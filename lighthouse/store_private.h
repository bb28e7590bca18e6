/* What the lighthouse's store shares between its files: the store itself
 * and its prepared statements (store.c, which holds the schema and every
 * statement's SQL) and the registrar's tables (store_sip.c). Private to
 * those two; everyone else goes through store.h. */
#ifndef ANOSIP_LIGHTHOUSE_STORE_PRIVATE_H
#define ANOSIP_LIGHTHOUSE_STORE_PRIVATE_H

#include "lighthouse/store.h"

#include <sqlite3.h>
#include <stdint.h>

/* The prepared statements, by index into lh_store.stmt; their SQL is
 * statement_sql in store.c. */
enum statement {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_ACCOUNT_GET,
	ST_ACCOUNT_ADD,
	ST_ACCOUNT_DELETE,
	ST_ACCOUNT_COUNT,
	ST_CERTIFICATE_PUT,
	ST_CERTIFICATE_GET,
	ST_CERTIFICATE_DELETE,
	ST_BINDING_SET,
	ST_BINDING_GET,
	ST_BINDING_DELETE,
	ST_BINDING_STALE_CIRCUIT,
	ST_BINDINGS_STALE_EXCEPT_EPOCH,
	ST_BINDINGS_REFRESH_EPOCH,
	ST_BINDINGS_EXPIRE,
	ST_BINDINGS_ALL,
	ST_BINDING_COUNT,
	ST_PASSWORD_SET,
	ST_PASSWORD_GET,
	ST_REGISTRATION_SET,
	ST_REGISTRATION_GET,
	ST_REGISTRATION_DELETE,
	ST_REGISTRATIONS_EXPIRE,
	ST_REGISTRATION_COUNT,
	ST_AUTH_FAILURE,
	ST_AUTH_FAILURES,
	ST_AUTH_RESET,
	ST_ACCOUNTS_ALL,
	ST_COUNT
};

/* One connection, and every statement prepared on it at open. */
struct lh_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT];
};

/* Deletes nickname's row with statement `which`: the rows changed (0 or
 * 1), or a negative errno. */
int store_delete_by_nickname(struct lh_store *s, enum statement which, const char *nickname);
/* Runs statement `which`, whose one row holds counts, into first and
 * second (either may be NULL): 0 or a negative errno. */
int store_counts(struct lh_store *s, enum statement which, uint64_t *first, uint64_t *second);

#endif
