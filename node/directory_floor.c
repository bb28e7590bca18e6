/* The directory floor (node.h): the highest directory serial this node has
 * run on, in a one-row SQLite file of its own next to its key. An old
 * directory stays validly signed forever and may still list keys the
 * authority has since replaced, so a node never goes back to one. */
#include "node/node.h"

#include "db/db.h"

#include <errno.h>
#include <stdint.h>

/* "ANDF": marks the file as a node's directory floor (docs/storage.md). */
#define APPLICATION_ID 0x414e4446

static const struct db_migration steps[] = {
    {"CREATE TABLE directory_floor ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " serial INTEGER NOT NULL)"},
};

enum { ST_GET, ST_SET, ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_GET] = "SELECT serial FROM directory_floor WHERE id = 1",
    [ST_SET] = "INSERT OR REPLACE INTO directory_floor (id, serial) VALUES (1, ?1)",
};

int node_directory_floor(const char *path, uint64_t serial, char *err, size_t err_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st[ST_COUNT] = {0};
	char why[256] = "";
	int rc = db_open(path, APPLICATION_ID, "directory floor", steps,
			 (int)(sizeof(steps) / sizeof(steps[0])), &db, why, sizeof(why));
	if (rc == 0)
		rc = db_prepare(db, sql, ST_COUNT, st, why, sizeof(why));
	if (rc < 0) {
		db_set_err(err, err_len, "%s: %s", path, why);
		goto out;
	}
	uint64_t floor = 0;
	rc = db_step_row(st[ST_GET]);
	int have_floor = rc == 1;
	if (have_floor)
		floor = db_column_u64(st[ST_GET], 0);
	db_finish(st[ST_GET]);
	if (rc < 0) {
		db_set_err(err, err_len, "%s: cannot read the directory floor", path);
		goto out;
	}
	if (have_floor && serial < floor) {
		db_set_err(err, err_len,
			   "directory serial %llu is older than serial %llu this node already "
			   "ran on (%s): refusing an old directory",
			   (unsigned long long)serial, (unsigned long long)floor, path);
		rc = -ESTALE;
		goto out;
	}
	rc = 0;
	if (!have_floor || serial > floor) {
		rc = db_change(st[ST_SET], db_bind_u64(st[ST_SET], 1, serial));
		if (rc < 0)
			db_set_err(err, err_len, "%s: cannot write the directory floor", path);
		else
			rc = 0;
	}
out:
	db_close(db, st, ST_COUNT);
	return rc;
}
