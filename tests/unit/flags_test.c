/* flags_test: the planner's feature flags and their guard (planner/flags.c):
 * every spelling of on and off, bad names, values and files, and the guard's
 * A/B epochs keeping a helpful flag and switching off a harmful one, and
 * every cell of the guard's [phase][event] table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "capture.h"
#include "flags.h"
#include "fsm_walk.h"

static void
test_spellings(void **state)
{
	static const char *on[] = { "split=on", "split=TRUE", "split=1", "split=yes" };
	static const char *off[] = { "split=off", "split=False", "split=0", "split=NO" };
	(void)state;
	features_init();
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(features_set(off[i]), 0);
		assert_false(feature_on(FEAT_SPLIT));
		assert_int_equal(features_set(on[i]), 0);
		assert_true(feature_on(FEAT_SPLIT));
	}
	assert_int_equal(features_set("split=maybe"), -1);
	assert_int_equal(features_set("warp=on"), -1);
	assert_int_equal(features_set("split"), -1);
	assert_true(feature_on(FEAT_SPLIT)); /* refused values change nothing */
}

static void
test_files(void **state)
{
	char path[] = "/tmp/flags_test.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	(void)state;
	assert_non_null(f);
	fputs("# optimisations\n\n  hedge = off   # raced requests\nlookahead\t=\toff\n", f);
	fclose(f);
	features_init();
	assert_int_equal(features_load(path), 0);
	assert_false(feature_on(FEAT_HEDGE));
	assert_false(feature_on(FEAT_LOOKAHEAD));
	assert_true(feature_on(FEAT_SPLIT));
	f = fopen(path, "w");
	fputs("split = sometimes\nhedge = on\n", f);
	fclose(f);
	assert_int_equal(features_load(path), -1); /* the bad line; the rest applies */
	assert_true(feature_on(FEAT_HEDGE));
	unlink(path);
	assert_int_equal(features_load(path), -1); /* missing */
}

static void
test_guard(void **state)
{
	(void)state;
	features_init();
	guard_init(1, 1000, 0);
	guard_tick(100, 0);    /* nothing proven yet: no fair measurement */
	guard_tick(200, 10);   /* split on from here */
	guard_tick(700, 50);   /* epoch not over */
	guard_tick(1200, 110); /* 100 slots/s with split: now off */
	assert_false(feature_on(FEAT_SPLIT));
	guard_tick(2200, 160); /* 50 slots/s without: split stays on */
	assert_true(feature_on(FEAT_SPLIT));
	guard_tick(3200, 260); /* 100 slots/s with hedge: now off */
	assert_false(feature_on(FEAT_HEDGE));
	guard_tick(4200, 560); /* 300 slots/s without: hedge is switched off */
	assert_false(feature_on(FEAT_HEDGE));
	guard_tick(5200, 600); /* lookahead on: 40 slots/s, then off */
	guard_tick(6200, 640); /* the same without: kept on (not 20% worse) */
	assert_true(feature_on(FEAT_LOOKAHEAD));
	guard_tick(9000, 0); /* done: changes nothing any more */
	assert_true(feature_on(FEAT_SPLIT));
	assert_false(feature_on(FEAT_HEDGE));
}

static void
test_guard_idle(void **state)
{
	(void)state;
	/* with every flag off, or the guard disabled, nothing ever changes */
	features_init();
	features_set("split=off");
	features_set("hedge=off");
	features_set("lookahead=off");
	guard_init(1, 1000, 0);
	guard_tick(100, 10);
	guard_tick(5000, 10);
	assert_false(feature_on(FEAT_SPLIT));
	features_init();
	guard_init(0, 1000, 0);
	guard_tick(100, 10);
	guard_tick(5000, 10);
	assert_true(feature_on(FEAT_SPLIT));
}

static void
test_guard_judges_nothing_without_slots(void **state)
{
	(void)state;
	features_init();
	guard_init(1, 1000, 0);
	guard_tick(100, 10);  /* split on from here */
	guard_tick(1100, 10); /* nothing proven with it: now off */
	assert_false(feature_on(FEAT_SPLIT));
	guard_tick(2100, 10); /* nor without: not judged, restored */
	assert_true(feature_on(FEAT_SPLIT));
	guard_tick(3100, 10); /* still nothing: nothing is measured */
	assert_true(feature_on(FEAT_SPLIT) && feature_on(FEAT_HEDGE));
	/* too little to judge either: 0.4 slots/s against 0.5 */
	guard_tick(3200, 11);
	guard_tick(8200, 13);
	guard_tick(13200, 16);
	assert_true(feature_on(FEAT_SPLIT));
	/* slots again: split is measured again and judged */
	guard_tick(13300, 20);
	guard_tick(14300, 120);
	assert_false(feature_on(FEAT_SPLIT));
	guard_tick(15300, 170);
	assert_true(feature_on(FEAT_SPLIT));
	guard_tick(16300, 270); /* hedge is next: its "off" epoch */
	assert_false(feature_on(FEAT_HEDGE));
	/* stopped (follow mode): the flag under test is restored */
	guard_stop();
	assert_true(feature_on(FEAT_HEDGE));
	guard_tick(99000, 100000);
	assert_true(feature_on(FEAT_HEDGE));
}

/* The guard's table, cell by cell, through fsm_step (what guard_step
 * calls) on a phase of the test's own: the guard's phase is its own. */
static int walk_phase;
static uint64_t walk_count;

static void
walk_set(int phase)
{
	walk_phase = phase;
}

static int
walk_step(int ev)
{
	int next = fsm_step(&guard_fsm, walk_phase, ev, &walk_count);

	if (next == FSM_IMPOSSIBLE)
		return -1;
	walk_phase = next;
	return 0;
}

static int
walk_get(void)
{
	return walk_phase;
}

static uint64_t
walk_impossible(void)
{
	return walk_count;
}

static void
test_every_cell_of_the_guard_table(void **state)
{
	/* slots epoch_end unjudged judged judged_last stop */
	static const char *const want[GUARD_NPHASES * GUARD_NEVENTS] = {
		"ON", "-",   "-",    "-",  "-",    "DONE", /* IDLE */
		"-",  "OFF", "-",    "-",  "-",    "DONE", /* ON */
		"-",  "-",   "IDLE", "ON", "DONE", "DONE", /* OFF */
		"-",  "-",   "-",    "-",  "-",    "DONE", /* DONE */
	};
	const struct fsm_walk w = { &guard_fsm,      want, walk_set, walk_step, walk_get,
		                    walk_impossible, NULL };
	(void)state;
	assert_int_equal(fsm_walk(&w), GUARD_NPHASES * GUARD_NEVENTS);
}

/* The phases the guard goes through, and a stop of a stopped guard (follow
 * mode stops it once more at the end) is no impossible event. */
static void
test_guard_phases(void **state)
{
	uint64_t before = guard_impossible();
	(void)state;
	features_init();
	guard_init(1, 1000, 0);
	assert_int_equal(guard_phase(), GUARD_IDLE);
	guard_tick(100, 10);
	assert_int_equal(guard_phase(), GUARD_ON);
	guard_tick(1100, 100);
	assert_int_equal(guard_phase(), GUARD_OFF);
	guard_tick(2100, 102); /* 2 slots without, 90 with: judged, hedge next */
	assert_int_equal(guard_phase(), GUARD_ON);
	guard_stop();
	assert_int_equal(guard_phase(), GUARD_DONE);
	guard_stop();
	assert_int_equal(guard_phase(), GUARD_DONE);
	guard_init(0, 1000, 0); /* disabled: nothing to test */
	assert_int_equal(guard_phase(), GUARD_DONE);
	assert_int_equal(guard_impossible(), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_guard),
		cmocka_unit_test(test_guard_idle),
		cmocka_unit_test(test_guard_judges_nothing_without_slots),
		cmocka_unit_test(test_every_cell_of_the_guard_table),
		cmocka_unit_test(test_guard_phases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
