/* Fuzzes the INI readers: topo_description_load (topo/directory.c) and
 * keys_load_public (keys/keys.c). Both read a path, so the input is written
 * to a fresh temporary file under /tmp, which is removed afterwards.
 *
 * A description that loads is built with topo_build; one that builds is
 * signed with the authority key and must parse back to the same nodes, as
 * it does when the authority publishes it (sign -> parse round trip).
 *
 * Note: a description's "keys = PATH" makes the loader read another file,
 * relative to the description's folder (/tmp here). That is operator input,
 * not network input; the fuzzer could in principle name a file that never
 * ends (say /dev/zero), which would show up as a timeout. */
#include "tests/fuzz/harness.h"

#include "topo/topo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures();
	return 0;
}

static int write_temp(const uint8_t *data, size_t size, char path[64])
{
	strcpy(path, "/tmp/anosip-fuzz-desc-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < size) {
		ssize_t w = write(fd, data + done, size - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(path);
			return -1;
		}
		done += (size_t)w;
	}
	close(fd);
	return 0;
}

static void same_nodes(const struct topo *a, const struct topo *b)
{
	if (a->n != b->n || a->serial != b->serial || a->root != b->root)
		fuzz_fail("signed directory parses back with other size, serial or root");
	for (int i = 0; i < a->n; i++) {
		const struct topo_node *x = &a->nodes[i], *y = &b->nodes[i];
		if (strcmp(x->id, y->id) != 0 || strcmp(x->address, y->address) != 0 ||
		    x->parent != y->parent || x->roles != y->roles ||
		    memcmp(&x->keys, &y->keys, sizeof(x->keys)) != 0)
			fuzz_fail("signed directory parses back with another node");
	}
}

static void build_and_sign(const struct topo_entry *entries, int n, uint64_t serial)
{
	const struct fuzz_fixtures *f = fuzz_fixtures();
	struct topo *t = NULL, *back = NULL;
	uint8_t *file = NULL;
	size_t file_len = 0;
	char err[256] = "";
	if (topo_build(entries, n, serial, &t, err, sizeof(err)) != 0) {
		if (t)
			fuzz_fail("topo_build failed but handed out a topology");
		if (err[0] == 0)
			fuzz_fail("topo_build failed without saying why");
		return;
	}
	if (topo_directory_sign(entries, n, serial, &f->authority, &file, &file_len) != 0)
		goto out;
	if (topo_directory_parse(file, file_len, f->authority.pub.sign, &back, err, sizeof(err)) !=
	    0)
		fuzz_fail("a directory that builds does not parse back once signed");
	same_nodes(t, back);
out:
	free(file);
	topo_free(back);
	topo_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	if (write_temp(data, size, path) < 0)
		return 0;

	struct topo_entry *entries = NULL;
	int n = 0;
	uint64_t serial = 0;
	char err[256] = "";
	if (topo_description_load(path, &entries, &n, &serial, err, sizeof(err)) == 0) {
		if (n < 0 || (n > 0 && !entries))
			fuzz_fail("topo_description_load succeeded with no entries");
		build_and_sign(entries, n, serial);
		free(entries);
	} else if (err[0] == 0) {
		fuzz_fail("topo_description_load failed without saying why");
	}

	struct keys_public pub;
	keys_load_public(path, &pub);
	unlink(path);
	return 0;
}
