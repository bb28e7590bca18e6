/* The unit-test runner: every suite in turn, then one summary line
 * ("N passed, M failed") that scripts can read. Exits non-zero on failure. */
#include "tests/unit/suites.h"

#include <stdio.h>

struct suite {
	const char *name;
	int (*run)(void);
	int (*count)(void);
};

static const struct suite suites[] = {
    {"topo", test_topo_suite, test_topo_count},
    {"directory", test_directory_suite, test_directory_count},
    {"keys", test_keys_suite, test_keys_count},
    {"link", test_link_suite, test_link_count},
    {"store", test_store_suite, test_store_count},
    {"iddir_store", test_iddir_store_suite, test_iddir_store_count},
    {"circuit", test_circuit_suite, test_circuit_count},
    {"circuit_table", test_circuit_table_suite, test_circuit_table_count},
    {"circuit_iddir", test_circuit_iddir_suite, test_circuit_iddir_count},
    {"replay", test_replay_suite, test_replay_count},
    {"sip", test_sip_suite, test_sip_count},
    {"ua_transport", test_ua_transport_suite, test_ua_transport_count},
    {"ua_state", test_ua_state_suite, test_ua_state_count},
    {"sim", test_sim_suite, test_sim_count},
};

int main(void)
{
	int passed = 0, failed = 0;
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		int total = suites[i].count();
		int bad = suites[i].run();
		/* cmocka returns failures plus errors; never count more than ran. */
		if (bad < 0 || bad > total)
			bad = total;
		passed += total - bad;
		failed += bad;
	}
	fflush(stderr);
	printf("%d passed, %d failed\n", passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}
