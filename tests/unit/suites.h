/* The unit-test suites linked into the one runner (main.c). Each suite runs
 * its cmocka group and returns the number of tests that failed; its _count
 * says how many tests it has, so the runner can total the passes. */
#ifndef ANOSIP_TESTS_UNIT_SUITES_H
#define ANOSIP_TESTS_UNIT_SUITES_H

int test_sim_suite(void);
int test_sim_count(void);
int test_topo_suite(void);
int test_topo_count(void);
int test_directory_suite(void);
int test_directory_count(void);
int test_keys_suite(void);
int test_keys_count(void);
int test_link_suite(void);
int test_link_count(void);
int test_store_suite(void);
int test_store_count(void);
int test_iddir_store_suite(void);
int test_iddir_store_count(void);
int test_circuit_suite(void);
int test_circuit_count(void);
int test_circuit_table_suite(void);
int test_circuit_table_count(void);
int test_circuit_iddir_suite(void);
int test_circuit_iddir_count(void);
int test_replay_suite(void);
int test_replay_count(void);
int test_sip_suite(void);
int test_sip_count(void);
int test_ua_transport_suite(void);
int test_ua_transport_count(void);
int test_ua_state_suite(void);
int test_ua_state_count(void);

#endif
