/* Fuzzes control_split_words (node/control.c), the whole parser of the
 * control socket: a command line of at most 4096 bytes (CONTROL_LINE_MAX)
 * split on blanks into at most 64 words (CONTROL_ARGS).
 *
 * The input, cut to 4096 bytes, is NUL-terminated like the node does with
 * what it reads (an embedded NUL ends the line there). The result must be
 * -1 or 0..64; every word must lie inside the line, be non-empty, hold no
 * blank, and come after the one before it. A plain reference splitter must
 * agree on the count (-1 past 64 words) and on every word. The splitter
 * must not write past argv[max - 1]. */
#include "tests/fuzz/harness.h"

#include "node/node_private.h"

#include <stdlib.h>
#include <string.h>

/* The limits of node/control.c. */
#define LINE_MAX_BYTES 4096
#define ARGS_MAX 64

static const char blanks[] = " \t\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_blank(char c)
{
	return c != 0 && strchr(blanks, c) != NULL;
}

/* The reference: words are maximal runs of non-blanks before the first NUL.
 * Returns the count (which may exceed max) and records up to max starts. */
static int reference_split(const char *line, size_t starts[ARGS_MAX], size_t lens[ARGS_MAX])
{
	int count = 0;
	size_t i = 0;
	while (line[i]) {
		while (is_blank(line[i]))
			i++;
		if (!line[i])
			break;
		size_t start = i;
		while (line[i] && !is_blank(line[i]))
			i++;
		if (count < ARGS_MAX) {
			starts[count] = start;
			lens[count] = i - start;
		}
		count++;
	}
	return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_BYTES + 1], copy[LINE_MAX_BYTES + 1];
	size_t n = size < LINE_MAX_BYTES ? size : LINE_MAX_BYTES;
	memcpy(line, data, n);
	line[n] = 0;
	memcpy(copy, line, n + 1);
	size_t line_len = strlen(line);

	size_t starts[ARGS_MAX], lens[ARGS_MAX];
	int expect = reference_split(copy, starts, lens);

	/* One slot past max, to see that nothing is written there. */
	char *argv[ARGS_MAX + 1];
	char canary = 0;
	for (int i = 0; i <= ARGS_MAX; i++)
		argv[i] = &canary;
	int argc = control_split_words(line, argv, ARGS_MAX);
	if (argv[ARGS_MAX] != &canary)
		fuzz_fail("control_split_words wrote past argv[max - 1]");
	if (argc < -1 || argc > ARGS_MAX)
		fuzz_fail("control_split_words returned a count out of range");
	if (argc != (expect > ARGS_MAX ? -1 : expect))
		fuzz_fail("control_split_words disagrees with the reference on the count");
	const char *prev_end = line;
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];
		if (w < line || w >= line + line_len)
			fuzz_fail("a word does not start inside the line");
		if (w < prev_end)
			fuzz_fail("words overlap or are out of order");
		size_t len = strlen(w);
		if (len == 0)
			fuzz_fail("an empty word");
		if (w + len > line + line_len)
			fuzz_fail("a word runs past the line");
		if (strpbrk(w, blanks))
			fuzz_fail("a word holds a blank");
		if ((size_t)(w - line) != starts[i] || len != lens[i] ||
		    memcmp(w, copy + starts[i], len) != 0)
			fuzz_fail("control_split_words disagrees with the reference on a word");
		prev_end = w + len + 1;
	}
	return 0;
}
