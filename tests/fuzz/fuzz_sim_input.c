/* Fuzzes anosip-sim's readers of operator input: the population file
 * (sim_population_load, INI through inih) against a fixed 2x3 world, and
 * the option parsers (shape, role place, spread, class counts and
 * probabilities, timing, policy) on the input's first line. A shape that
 * parses and stays small (at most 500 nodes: a bigger tree runs the same
 * code, only longer) is built, so shape building runs too. The file is an
 * in-memory file (memfd) made once and rewritten per input, read through
 * its /proc/self/fd path: a file created and removed per input on disk
 * cost more than the parsing it served. */
#include "tests/fuzz/harness.h"

#include "sim/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct topo *world_topo;
static int population_fd = -1;
static char population_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_fixtures();
	struct sim_shape shape = {.portals = {.kind = SIM_PLACE_LEAVES},
				  .lighthouses = {.kind = SIM_PLACE_DEPTH, .depth = 1}};
	char err[256];
	if (sim_shape_parse("2x3", &shape) < 0 ||
	    sim_shape_build(&shape, &world_topo, err, sizeof(err)) < 0)
		abort();
	population_fd = memfd_create("anosip-fuzz-sim", MFD_CLOEXEC);
	if (population_fd < 0)
		abort();
	snprintf(population_path, sizeof(population_path), "/proc/self/fd/%d", population_fd);
	/* The loader opens the file by that path: without /proc every input
	 * would stop before the parser, and the target would run blind. */
	int fd = -1;
	if (pwrite(population_fd, "#", 1, 0) != 1 || (fd = open(population_path, O_RDONLY)) < 0)
		fuzz_fail("fuzz_sim_input: the in-memory population file cannot be opened by path");
	close(fd);
	return 0;
}

/* The input becomes the whole content of the in-memory file. */
static int write_population(const uint8_t *data, size_t size)
{
	if (ftruncate(population_fd, 0) < 0)
		return -1;
	size_t done = 0;
	while (done < size) {
		ssize_t w = pwrite(population_fd, data + done, size - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static void parse_options(const uint8_t *data, size_t size)
{
	char line[256];
	size_t n = 0;
	while (n < size && n < sizeof(line) - 1 && data[n] != '\n')
		n++;
	memcpy(line, data, n);
	line[n] = 0;
	struct sim_shape shape = {.portals = {.kind = SIM_PLACE_LEAVES},
				  .lighthouses = {.kind = SIM_PLACE_DEPTH, .depth = 1}};
	if (sim_shape_parse(line, &shape) == 0) {
		long nodes = 1, level = 1;
		for (int d = 0; d < shape.depth && nodes <= 500; d++) {
			level *= shape.fanout[d];
			nodes += level;
		}
		struct topo *t = NULL;
		char err[256];
		if (nodes <= 500 && sim_shape_build(&shape, &t, err, sizeof(err)) == 0)
			topo_free(t);
	}
	struct sim_role_place place;
	struct sim_spread spread;
	enum sim_class c;
	enum sim_timing timing;
	enum sim_policy policy;
	int m;
	double p;
	(void)sim_role_place_parse(line, &place);
	(void)sim_spread_parse(line, &spread);
	(void)sim_class_count_parse(line, &m, &c);
	(void)sim_class_probability_parse(line, &p, &c);
	(void)sim_timing_parse(line, &timing);
	(void)sim_policy_parse(line, &policy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_options(data, size);

	if (write_population(data, size) < 0)
		fuzz_fail("fuzz_sim_input: writing the in-memory population file failed");
	struct sim_world *w = NULL;
	char err[256];
	if (sim_world_new(world_topo, SIM_POLICY_TREE, &w, err, sizeof(err)) == 0) {
		/* A cap, so "n1 = 40000000" is a refusal, not a slow fill. */
		if (sim_population_load(w, population_path, 100000, err, sizeof(err)) == 0) {
			uint8_t none[16] = {0};
			struct sim_target r;
			if (sim_target_entropy(w, none, SIM_TIMING_NONE, 0, &r) < 0 ||
			    r.entropy < 0)
				abort();
		}
		sim_world_free(w);
	}
	return 0;
}
