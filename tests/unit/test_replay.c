/* util_replay: the replay memory routed messages and CREATEs share. */
#include "tests/unit/suites.h"
#include "util/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_new_then_seen(void **state)
{
	struct util_replay r;
	assert_int_equal(util_replay_init(&r, 64, 1000, 0), 0);
	uint64_t id = 42;
	assert_int_equal(util_replay_check(&r, &id, sizeof(id), 1), 0);
	assert_int_equal(util_replay_check(&r, &id, sizeof(id), 2), 1);
	id = 43;
	assert_int_equal(util_replay_check(&r, &id, sizeof(id), 3), 0);
	util_replay_free(&r);
}

static void test_remembered_for_at_least_one_generation(void **state)
{
	struct util_replay r;
	assert_int_equal(util_replay_init(&r, 64, 1000, 0), 0);
	uint64_t id = 7;
	assert_int_equal(util_replay_check(&r, &id, sizeof(id), 999), 0);
	/* One turnover later it is still there (previous generation)... */
	assert_int_equal(util_replay_check(&r, &id, sizeof(id), 1500), 1);
	/* ...and after a second turnover it is gone. */
	assert_int_equal(util_replay_check(&r, &id, sizeof(id), 2600), 0);
	util_replay_free(&r);
}

static void test_fails_closed_when_half_full(void **state)
{
	struct util_replay r;
	assert_int_equal(util_replay_init(&r, 16, 1000000, 0), 0);
	for (uint64_t i = 1; i <= 8; i++)
		assert_int_equal(util_replay_check(&r, &i, sizeof(i), 1), 0);
	uint64_t more = 100;
	assert_int_equal(util_replay_check(&r, &more, sizeof(more), 1), 1);
	assert_int_equal(r.refused_full, 1);
	/* Old ids are not forgotten to make room. */
	uint64_t first = 1;
	assert_int_equal(util_replay_check(&r, &first, sizeof(first), 2), 1);
	util_replay_free(&r);
}

static void test_refuses_bad_sizes(void **state)
{
	struct util_replay r;
	assert_int_equal(util_replay_init(&r, 100, 1000, 0), -EINVAL);
	assert_int_equal(util_replay_init(&r, 1, 1000, 0), -EINVAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_new_then_seen),
    cmocka_unit_test(test_remembered_for_at_least_one_generation),
    cmocka_unit_test(test_fails_closed_when_half_full),
    cmocka_unit_test(test_refuses_bad_sizes),
};

int test_replay_suite(void)
{
	return cmocka_run_group_tests_name("replay", tests, NULL, NULL);
}

int test_replay_count(void)
{
	return (int)(sizeof(tests) / sizeof(tests[0]));
}
