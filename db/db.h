/* db: the SQLite plumbing every anosip store shares (docs/storage.md), so
 * that the lighthouse and lookup stores open, check, migrate and use their
 * files the same way and only hold their own schema and statements.
 *
 * db_open() makes or opens one database file: mode 0600 whatever the umask
 * (its -wal and -shm files follow), tagged with the store's application_id
 * so one store never takes another's file (or another program's), refused
 * when its user_version is newer than the code, brought up to date by the
 * store's migration steps, and set up as WAL, synchronous=NORMAL, a busy
 * timeout, foreign keys on and secure_delete on, on a connection that a
 * crafted file cannot turn against us (defensive, untrusted schema).
 *
 * The rest are the small helpers for statements prepared once and reset
 * after each use. Functions that return int return 0 (or a count) on
 * success and a negative errno on failure; none logs. Messages go to
 * err/err_len (NULL or 0 is fine), one line without the path. Not
 * thread-safe: one thread per connection. */
#ifndef ANOSIP_DB_H
#define ANOSIP_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* One schema step: steps[i] takes a file from user_version i to i + 1, so
 * a store's current schema version is its number of steps. Append a step
 * to change a schema; never edit one that has shipped, files in the field
 * were made by it. */
struct db_migration {
	const char *sql;
};

/* Opens the database at path (creating it) as described above. All the
 * missing steps and the new user_version run in one BEGIN IMMEDIATE, so a
 * failed step leaves the file as it was; nothing is written to a file that
 * is refused. `what` names the store in messages ("not a lighthouse
 * database"). -EINVAL for a file that is not an SQLite database or not
 * this store's, -ENOTSUP for a schema version newer than n_steps, else the
 * errno of the failing call. On success *out is a connection the caller
 * owns and closes with db_close(); on failure *out is NULL. */
int db_open(const char *path, uint32_t application_id, const char *what,
	    const struct db_migration *steps, int n_steps, sqlite3 **out, char *err,
	    size_t err_len);

/* Prepares sql[0..n) into stmt[0..n), each persistent. The statements are
 * the caller's, finalized by db_close() — on failure too, where those not
 * prepared are NULL. */
int db_prepare(sqlite3 *db, const char *const *sql, int n, sqlite3_stmt **stmt, char *err,
	       size_t err_len);

/* Finalizes stmt[0..n) and closes db; NULLs are fine. The last connection
 * to close checkpoints the WAL and removes it. */
void db_close(sqlite3 *db, sqlite3_stmt **stmt, int n);

/* Writes a message to err as the functions here do (a NUL-terminated line,
 * cut to err_len); does nothing for NULL or 0. */
void db_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An SQLite result code (db_open turns extended codes on) as 0 or a
 * negative errno: a duplicate key is -EEXIST, a missing foreign key
 * -ENOENT, busy or locked -EBUSY. */
int db_errno(int rc);

/* Binding: 0 or a negative errno. The text is not copied: it must stay
 * valid until db_finish(). A uint64 is stored bit for bit as an int64 and
 * read back by db_column_u64(). Times (Unix seconds) are compared in SQL
 * as signed integers, so db_bind_time() refuses one above INT64_MAX with
 * -ERANGE. */
int db_bind_text(sqlite3_stmt *st, int index, const char *text);
int db_bind_u64(sqlite3_stmt *st, int index, uint64_t v);
int db_bind_time(sqlite3_stmt *st, int index, uint64_t unix_s);
uint64_t db_column_u64(sqlite3_stmt *st, int column);

/* Trust on first use: get is a prepared "SELECT <32-byte blob> ... WHERE
 * <name> = ?1". 0 when name's stored key is key, -EKEYREJECTED when it is
 * another (or not 32 bytes), -ENOENT when none is stored yet (the caller
 * then stores key), else a negative errno. */
int db_key_pinned(sqlite3_stmt *get, const char *name, const uint8_t key[32]);

/* Steps a query: 1 with a row, 0 at the end, or a negative errno. */
int db_step_row(sqlite3_stmt *st);

/* Every use of a statement ends here, whatever happened: resets it and
 * clears its bindings, so no read snapshot stays pinned. */
void db_finish(sqlite3_stmt *st);

/* Ends a use of a statement that changes rows: steps it if binding its
 * parameters went well (bind_rc 0), then finishes it. Returns the rows
 * changed or a negative errno (bind_rc when that is one). */
int db_change(sqlite3_stmt *st, int bind_rc);

/* Runs a prepared transaction statement (BEGIN, COMMIT, ...): 0 or a
 * negative errno. */
int db_run(sqlite3_stmt *st);

/* Runs the prepared ROLLBACK if its connection still has a transaction
 * open (some errors roll it back by themselves). */
void db_rollback(sqlite3_stmt *rollback);

#endif
