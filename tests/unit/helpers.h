/* Small helpers shared by the unit suites: scratch directories and files. */
#ifndef ANOSIP_TESTS_UNIT_HELPERS_H
#define ANOSIP_TESTS_UNIT_HELPERS_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); dir must hold 64 bytes.
 * Returns 0 on success. */
int helper_tmpdir(char *dir, size_t len);

/* Removes a directory made by helper_tmpdir and the plain files in it. */
void helper_rmdir(const char *dir);

/* Writes len bytes to dir/name with the given mode; returns 0 on success
 * and puts the full path in path (of path_len bytes) when path is not NULL. */
int helper_write(const char *dir, const char *name, const void *data, size_t len, unsigned mode,
		 char *path, size_t path_len);

/* dir/name into out. */
void helper_path(const char *dir, const char *name, char *out, size_t len);

#endif
