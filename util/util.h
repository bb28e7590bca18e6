/* util: logging, hex, file and address helpers shared by every part. */
#ifndef ANOSIP_UTIL_H
#define ANOSIP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Where log lines go and which are shown; the default is stderr at INFO.
 * Every line carries a timestamp and the program's tag (e.g. the node id). */
void log_setup(const char *tag, enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when messages of this level are written (to skip costly formatting). */
int log_enabled(enum log_level level);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* A limiter so a flood of bad input cannot flood the log: at most `burst`
 * lines per second pass; log_ratelimit_ok() says whether this one may. */
struct log_ratelimit {
	uint64_t window_start_ms;
	unsigned count;
	unsigned burst;
	unsigned suppressed;
};
int log_ratelimit_ok(struct log_ratelimit *rl);

/* Hex encoding; util_hex_decode returns 0 only if `hex` is exactly
 * 2*out_len hex digits. */
void util_hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
int util_hex_decode(const char *hex, uint8_t *out, size_t out_len);

/* Reads a whole file of at most max_len bytes. On success *out is a
 * malloc'd buffer the caller frees (a NUL follows the data, not counted). */
int util_read_file(const char *path, size_t max_len, uint8_t **out, size_t *out_len);

/* Writes a file atomically (temporary file + rename) with the given mode. */
int util_write_file(const char *path, const void *data, size_t len, unsigned mode);

/* What a signature covers: a context string (so a signature made for one
 * purpose never verifies for another), then the bytes. Returns a malloc'd
 * buffer the caller frees (NULL when out of memory). data may be NULL when
 * len is 0 (an empty protobuf field). */
uint8_t *util_with_context(const char *context, const uint8_t *data, size_t len, size_t *out_len);

/* A path from a config file: value itself when absolute, else base_dir/value.
 * Returns 0, -EINVAL for an empty value, -ENAMETOOLONG. */
int util_path_join(const char *base_dir, const char *value, char *out, size_t len);

/* Parses "a.b.c.d:port" or "[v6]:port" into a sockaddr_storage. */
int util_parse_address(const char *text, struct sockaddr_storage *out);
/* The reverse: "a.b.c.d:port" or "[v6]:port". 0, or -EINVAL for another
 * address family or a short buffer. */
int util_format_address(const struct sockaddr_storage *addr, char *out, size_t len);

/* Runs argv (argv[0] a path, or a name found in PATH) with no stdin or
 * stdout and our stderr, killed after timeout_ms (*killed set then, when
 * not NULL). Returns its exit status (128 + signal when it died of one),
 * or a negative libuv error when it could not start (run.c). */
int util_run(char *const argv[], int timeout_ms, int *killed);

/* Monotonic clock in milliseconds and nanoseconds; wall clock in ms. */
uint64_t util_now_ms(void);
uint64_t util_now_ns(void);
uint64_t util_wall_ms(void);

/* Node ids: 1..31 of [a-z0-9._-]. Used for directory ids everywhere. */
#define UTIL_ID_MAX 31
int util_id_valid(const char *id);

/* Nicknames: 1..63 of the same alphabet (NULL is not one). */
#define UTIL_NICKNAME_MAX 63
int util_nickname_valid(const char *nickname);

/* Replay memory (replay.c): remembers message ids for at least one
 * generation; each generation grows as it fills, up to max_slots (half of
 * which can hold ids), then fails closed (refuses). */
struct util_replay {
	uint64_t *current, *previous; /* 0 = empty */
	size_t slots, previous_slots, max_slots, count;
	uint64_t generation_ms, generation_start_ms;
	uint64_t refused_full;
	uint8_t hash_key[16];
};
/* max_slots: a power of two. Free with util_replay_free. */
int util_replay_init(struct util_replay *r, size_t max_slots, uint64_t generation_ms,
		     uint64_t now_ms);
void util_replay_free(struct util_replay *r);
/* 0: new, now remembered. 1: seen before, or the memory is full. */
int util_replay_check(struct util_replay *r, const void *id, size_t id_len, uint64_t now_ms);

#endif
