/* The ua's state file (ua_sip.h, docs/storage.md "ua state file"): the
 * softphone's registration, so that a restarted ua can still reach the
 * softphone before it registers again. One table, at most one row. */
#include "ua/ua_sip.h"

#include "db/db.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "ANUA": marks the file as a ua state file (docs/storage.md). */
#define APPLICATION_ID 0x414e5541
#define CONTACT_MAX 511
/* "[" IPv6 "]:" port, with room to spare. */
#define SOURCE_MAX 63

static const struct db_migration steps[] = {
    {"CREATE TABLE registration ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " contact TEXT NOT NULL CHECK (length(CAST(contact AS BLOB)) BETWEEN 1 AND 511),"
     " tcp INTEGER NOT NULL CHECK (tcp IN (0, 1)),"
     " source TEXT NOT NULL,"
     " expires_unix INTEGER NOT NULL)"},
    /* 1 -> 2: the nickname keys of the peers we have talked to (trust on
     * first use: a lighthouse cannot later swap in a key of its own). */
    {"CREATE TABLE peer_keys ("
     " nickname TEXT PRIMARY KEY NOT NULL,"
     " sign_public BLOB NOT NULL CHECK (length(sign_public) = 32),"
     " first_seen_unix INTEGER NOT NULL)"},
};

enum { ST_SET, ST_GET, ST_CLEAR, ST_KEY_GET, ST_KEY_ADD, ST_COUNT };

static const char *const sql[ST_COUNT] = {
    [ST_SET] = "INSERT OR REPLACE INTO registration (id, contact, tcp, source, expires_unix)"
	       " VALUES (1, ?1, ?2, ?3, ?4)",
    [ST_GET] = "SELECT contact, tcp, source, expires_unix FROM registration WHERE id = 1",
    [ST_CLEAR] = "DELETE FROM registration",
    [ST_KEY_GET] = "SELECT sign_public FROM peer_keys WHERE nickname = ?1",
    [ST_KEY_ADD] = "INSERT INTO peer_keys (nickname, sign_public, first_seen_unix)"
		   " VALUES (?1, ?2, ?3)",
};

struct ua_state {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	/* The row as we last wrote it: a softphone refreshing its
	 * registration many times a second rewrites the same row, and an
	 * identical row is not written again. */
	int written;
	char contact[CONTACT_MAX + 1], source[SOURCE_MAX + 1];
	int tcp;
	uint64_t expires_unix;
};

int ua_state_open(const char *path, struct ua_state **out, char *err, size_t err_len)
{
	*out = NULL;
	struct ua_state *s = calloc(1, sizeof(*s));
	if (!s) {
		db_set_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	int rc = db_open(path, APPLICATION_ID, "ua state", steps,
			 (int)(sizeof(steps) / sizeof(steps[0])), &s->db, err, err_len);
	if (rc == 0)
		rc = db_prepare(s->db, sql, ST_COUNT, s->st, err, err_len);
	if (rc < 0) {
		ua_state_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ua_state_close(struct ua_state *s)
{
	if (!s)
		return;
	db_close(s->db, s->st, ST_COUNT);
	free(s);
}

/* Printable text of 1..max bytes: no control characters, which could
 * split a header or a log line when the value is used again. Bytes of
 * 0x80 and above pass (UTF-8 in a display name). */
static int text_ok(const char *text, size_t max)
{
	if (!text)
		return 0;
	size_t n = strnlen(text, max + 1);
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch < 0x20 || ch == 0x7f)
			return 0;
	}
	return 1;
}

/* The source must be an address: "IP:PORT" or "[IPv6]:PORT". */
static int source_ok(const char *source)
{
	struct sockaddr_storage addr;
	return text_ok(source, SOURCE_MAX) && util_parse_address(source, &addr) == 0;
}

int ua_state_contact_set(struct ua_state *s, const char *contact, int tcp, const char *source,
			 uint64_t expires_unix)
{
	if (!s || !text_ok(contact, CONTACT_MAX) || (tcp != 0 && tcp != 1) || !source_ok(source))
		return -EINVAL;
	if (s->written && s->tcp == tcp && s->expires_unix == expires_unix &&
	    strcmp(s->contact, contact) == 0 && strcmp(s->source, source) == 0)
		return 0;
	s->written = 0;
	sqlite3_stmt *st = s->st[ST_SET];
	int rc = db_bind_text(st, 1, contact);
	if (rc == 0)
		rc = db_bind_u64(st, 2, (uint64_t)tcp);
	if (rc == 0)
		rc = db_bind_text(st, 3, source);
	if (rc == 0)
		rc = db_bind_time(st, 4, expires_unix);
	rc = db_change(st, rc);
	if (rc < 0)
		return rc;
	/* Both fit: text_ok and source_ok checked the lengths. */
	snprintf(s->contact, sizeof(s->contact), "%s", contact);
	snprintf(s->source, sizeof(s->source), "%s", source);
	s->tcp = tcp;
	s->expires_unix = expires_unix;
	s->written = 1;
	return 0;
}

static int copy_out(const char *value, char *out, size_t out_len)
{
	if (!out)
		return 0;
	size_t n = strlen(value);
	if (n >= out_len)
		return -ENOSPC;
	memcpy(out, value, n + 1);
	return 0;
}

int ua_state_contact_get(struct ua_state *s, uint64_t now_unix, char *contact, size_t contact_len,
			 int *tcp, char *source, size_t source_len, uint64_t *expires_unix)
{
	if (!s)
		return -EINVAL;
	sqlite3_stmt *st = s->st[ST_GET];
	int rc = db_step_row(st);
	if (rc == 0)
		rc = -ENOENT;
	if (rc < 0)
		goto done;
	const char *c = (const char *)sqlite3_column_text(st, 0);
	const char *src = (const char *)sqlite3_column_text(st, 2);
	int64_t is_tcp = sqlite3_column_int64(st, 1);
	uint64_t expires = db_column_u64(st, 3);
	/* The file is only ours to trust so far: what we would never have
	 * written is refused, not handed on. */
	if (!text_ok(c, CONTACT_MAX) || !source_ok(src) || (is_tcp != 0 && is_tcp != 1) ||
	    expires > INT64_MAX) {
		rc = -EINVAL;
		goto done;
	}
	if (expires <= now_unix) {
		rc = -ENOENT;
		goto done;
	}
	rc = copy_out(c, contact, contact_len);
	if (rc == 0)
		rc = copy_out(src, source, source_len);
	if (rc < 0)
		goto done;
	if (tcp)
		*tcp = (int)is_tcp;
	if (expires_unix)
		*expires_unix = expires;
done:
	db_finish(st);
	return rc;
}

int ua_state_contact_clear(struct ua_state *s)
{
	if (!s)
		return -EINVAL;
	s->written = 0;
	int rc = db_change(s->st[ST_CLEAR], 0);
	return rc < 0 ? rc : 0;
}

int ua_state_peer_key(struct ua_state *s, const char *nickname, const uint8_t key[32],
		      uint64_t now_unix)
{
	if (!s || !util_nickname_valid(nickname) || !key)
		return -EINVAL;
	int rc = db_key_pinned(s->st[ST_KEY_GET], nickname, key);
	if (rc != -ENOENT)
		return rc;
	sqlite3_stmt *st = s->st[ST_KEY_ADD];
	rc = db_bind_text(st, 1, nickname);
	if (rc == 0)
		rc = db_errno(sqlite3_bind_blob(st, 2, key, 32, SQLITE_STATIC));
	if (rc == 0)
		rc = db_bind_time(st, 3, now_unix);
	rc = db_change(st, rc);
	return rc < 0 ? rc : 0;
}
