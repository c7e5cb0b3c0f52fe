/* control_test: the control protocol's envelope (planner/control.c): a
 * request of this version is taken, another version or a message that is
 * not a map with "v" is refused with a text naming both versions, and the
 * field readers accept only their own types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"

static msgpack_sbuffer sb;
static msgpack_packer pk;
static msgpack_unpacked u;

static int
setup(void **state)
{
	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_unpacked_init(&u);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}

static const msgpack_object *
unpack(void)
{
	size_t off = 0;

	assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	return &u.data;
}

static void
this_version_is_taken(void **state)
{
	char err[128], op[16];
	int64_t v;

	(void)state;
	msgpack_pack_map(&pk, 2);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION);
	ctl_pack_kv_str(&pk, "op", "status");
	assert_int_equal(ctl_check_version(unpack(), err, sizeof(err)), 0);
	assert_int_equal(ctl_get_str(&u.data, "op", op, sizeof(op)), 0);
	assert_string_equal(op, "status");
	assert_int_equal(ctl_get_i64(&u.data, "v", &v), 0);
	assert_int_equal(v, CTL_VERSION);
	/* wrong types and missing keys are refused, not guessed */
	assert_int_equal(ctl_get_i64(&u.data, "op", &v), -1);
	assert_int_equal(ctl_get_str(&u.data, "v", op, sizeof(op)), -1);
	assert_null(ctl_get(&u.data, "job"));
	assert_int_equal(ctl_get_str(&u.data, "op", op, 3), -1); /* too long for the buffer */
}

static void
another_version_is_refused_by_name(void **state)
{
	char err[128];

	(void)state;
	msgpack_pack_map(&pk, 2);
	ctl_pack_kv_i64(&pk, "v", CTL_VERSION + 1);
	ctl_pack_kv_str(&pk, "op", "status");
	assert_int_equal(ctl_check_version(unpack(), err, sizeof(err)), -1);
	assert_string_equal(err, "this daemon speaks control protocol 1, the request 2");
}

static void
not_a_versioned_map_is_refused(void **state)
{
	char err[128];

	(void)state;
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, CTL_VERSION);
	msgpack_pack_int(&pk, 3);
	assert_int_equal(ctl_check_version(unpack(), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a control message"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(this_version_is_taken),
		T(another_version_is_refused_by_name),
		T(not_a_versioned_map_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
