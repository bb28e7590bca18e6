#include "tests/unit/helpers.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int helper_tmpdir(char *dir, size_t len)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(dir, len, "%s/anosip-unit-XXXXXX", base) >= (int)len)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

void helper_path(const char *dir, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, name);
}

void helper_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		char path[4096];
		helper_path(dir, ent->d_name, path, sizeof(path));
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int helper_write(const char *dir, const char *name, const void *data, size_t len, unsigned mode,
		 char *path, size_t path_len)
{
	char full[4096];
	helper_path(dir, name, full, sizeof(full));
	if (path)
		snprintf(path, path_len, "%s", full);
	int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = 0;
	if (fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len)
		rc = -1;
	close(fd);
	return rc;
}
