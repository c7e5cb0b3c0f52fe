/* fsm_test: the lifecycle table helper (common/fsm.c): the cell lookup, a
 * state or event outside the table, and the one log line and count of an
 * impossible event (the state is the caller's to keep). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "fsm.h"

/* a door: CLOSED --open--> OPEN --close--> CLOSED */
static const signed char door_table[2][2] = {
	{ 1, FSM_IMPOSSIBLE },
	{ FSM_IMPOSSIBLE, 0 },
};
static const char *const door_states[2] = { "CLOSED", "OPEN" };
static const char *const door_events[2] = { "open", "close" };
static const struct fsm door = { "door", 2, 2, door_states, door_events, &door_table[0][0] };

static void
test_cells_and_bounds(void **state)
{
	(void)state;
	assert_int_equal(fsm_next(&door, 0, 0), 1);
	assert_int_equal(fsm_next(&door, 1, 1), 0);
	assert_int_equal(fsm_next(&door, 0, 1), FSM_IMPOSSIBLE);
	assert_int_equal(fsm_next(&door, 2, 0), FSM_IMPOSSIBLE);
	assert_int_equal(fsm_next(&door, -1, 0), FSM_IMPOSSIBLE);
	assert_int_equal(fsm_next(&door, 0, 2), FSM_IMPOSSIBLE);
	assert_string_equal(fsm_state_name(&door, 1), "OPEN");
	assert_string_equal(fsm_state_name(&door, 5), "?");
	assert_string_equal(fsm_event_name(&door, -1), "?");
}

static void
test_an_impossible_event_is_logged_and_counted(void **state)
{
	uint64_t n = 0;
	(void)state;
	cap_begin();
	assert_int_equal(fsm_step(&door, 0, 0, &n), 1); /* possible: silent */
	cap_end(NULL);
	assert_int_equal(cap_len, 0);
	assert_int_equal(n, 0);
	cap_begin();
	assert_int_equal(fsm_step(&door, 1, 0, &n), FSM_IMPOSSIBLE);
	assert_int_equal(fsm_step(&door, 7, 0, &n), FSM_IMPOSSIBLE);
	cap_end(NULL);
	assert_int_equal(n, 2);
	assert_logged(cap_text, "door: event open impossible in state OPEN");
	assert_logged(cap_text, "door: event open impossible in state ? ");
	assert_logged(cap_text, "2 so far");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells_and_bounds),
		cmocka_unit_test(test_an_impossible_event_is_logged_and_counted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
