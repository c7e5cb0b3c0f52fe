/* lease_test: the fetcher's lease table (fetcher/lease.c): every cell of
 * the lease lifecycle's [state][event] table, what entering FREE means (the
 * held result is gone), and the table's questions: a free slot, the oldest
 * held result, the next rate token, whether anything is busy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "fsm_walk.h"
#include "lease.h"

static struct lease *walked;

static void
walk_set(int st)
{
	walked->state = (enum lease_state)st;
	walked->out.len = 7; /* as if a result were held */
}

static int
walk_step(int ev)
{
	return lease_step(walked, (enum lease_event)ev);
}

static int
walk_get(void)
{
	return (int)walked->state;
}

static void
walk_check(int from, int to)
{
	(void)from;
	/* a FREE lease holds no result; any other keeps what it has */
	assert_int_equal(walked->out.len, to == LEASE_FREE ? 0 : 7);
}

static void
test_every_cell_of_the_lease_table(void **state)
{
	/* take start drop answered failed sent expired */
	static const char *const want[LEASE_NSTATES * LEASE_NEVENTS] = {
		"WAITING", "-",       "-",    "-",    "-",    "-",    "-",    /* FREE */
		"-",       "RUNNING", "FREE", "-",    "-",    "-",    "-",    /* WAITING */
		"-",       "-",       "-",    "HELD", "FREE", "-",    "-",    /* RUNNING */
		"-",       "-",       "-",    "-",    "-",    "FREE", "FREE", /* HELD */
	};
	const struct fsm_walk w = { &lease_fsm,       want,      walk_set, walk_step, walk_get,
		                    lease_impossible, walk_check };
	(void)state;
	assert_int_equal(lease_table_init(2), 0);
	walked = lease_at(1);
	assert_int_equal(fsm_walk(&w), LEASE_NSTATES * LEASE_NEVENTS);
	assert_int_equal(lease_impossible(), 21);
	lease_table_free();
}

/* A lease's way through the table as the fetcher drives it, and the table's
 * answers on the way. */
static void
test_the_table_answers(void **state)
{
	struct lease *a, *b;
	uint64_t before = lease_impossible();
	(void)state;
	assert_int_equal(lease_table_init(2), 0);
	assert_int_equal(lease_slots(), 2);
	assert_int_equal(lease_in_use(), 0);
	assert_false(lease_busy());
	assert_null(lease_oldest_held());
	assert_true(lease_next_due_us() == INT64_MAX);
	a = lease_find(LEASE_FREE);
	assert_ptr_equal(a, lease_at(0));
	a->due_us = 500;
	assert_int_equal(lease_step(a, LEASE_EV_TAKE), 0);
	b = lease_find(LEASE_FREE);
	assert_ptr_equal(b, lease_at(1));
	b->due_us = 300;
	assert_int_equal(lease_step(b, LEASE_EV_TAKE), 0);
	assert_null(lease_find(LEASE_FREE)); /* full: the next LEASE is dropped */
	assert_int_equal(lease_in_use(), 2);
	assert_false(lease_busy()); /* waiting for tokens is not busy */
	assert_true(lease_next_due_us() == 300);
	assert_int_equal(lease_step(b, LEASE_EV_START), 0);
	assert_true(lease_next_due_us() == 500);
	assert_true(lease_busy());
	assert_int_equal(lease_step(a, LEASE_EV_START), 0);
	a->held_since_us = 20;
	b->held_since_us = 10;
	assert_int_equal(lease_step(a, LEASE_EV_ANSWERED), 0);
	assert_ptr_equal(lease_oldest_held(), a);
	assert_int_equal(lease_step(b, LEASE_EV_ANSWERED), 0);
	assert_ptr_equal(lease_oldest_held(), b); /* held longest goes first */
	assert_int_equal(lease_step(b, LEASE_EV_SENT), 0);
	assert_int_equal(lease_step(a, LEASE_EV_EXPIRED), 0);
	assert_int_equal(lease_in_use(), 0);
	assert_false(lease_busy());
	assert_int_equal(lease_impossible(), before);
	lease_table_free();
	assert_int_equal(lease_slots(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_cell_of_the_lease_table),
		cmocka_unit_test(test_the_table_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
