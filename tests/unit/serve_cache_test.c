/* serve_cache_test: cp-serve's bounded LRU answer cache (serve/cache.c):
 * get and put, replacing a key, both bounds (entries and bytes) with the
 * least recently used evicted first, a get refreshing an entry, a value
 * larger than the whole budget refused, keys that collide in a bucket kept
 * apart, and every value dropped exactly once (evicted, replaced, freed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"

/* values are small integers cast to pointers; dropped[v] counts drops */
static int dropped[64];

static void
drop(void *val)
{
	dropped[(intptr_t)val]++;
}

static void *
V(intptr_t v)
{
	return (void *)v;
}

static int
put(struct cache *c, const char *key, intptr_t v, size_t size)
{
	return cache_put(c, key, strlen(key), V(v), size);
}

static void *
get(struct cache *c, const char *key)
{
	return cache_get(c, key, strlen(key));
}

static int
setup(void **state)
{
	(void)state;
	memset(dropped, 0, sizeof(dropped));
	return 0;
}

static void
test_get_put_replace(void **state)
{
	struct cache *c = cache_new(8, 1000, drop);

	(void)state;
	assert_non_null(c);
	assert_null(get(c, "a"));
	assert_int_equal(put(c, "a", 1, 10), 0);
	assert_int_equal(put(c, "b", 2, 20), 0);
	assert_ptr_equal(get(c, "a"), V(1));
	assert_ptr_equal(get(c, "b"), V(2));
	assert_null(get(c, "ab"));
	assert_int_equal(cache_count(c), 2);
	assert_int_equal(cache_bytes(c), 30);
	/* a key shorter or longer by one byte is another key */
	assert_int_equal(cache_put(c, "a", 2, V(3), 5), 0); /* "a\0" */
	assert_ptr_equal(get(c, "a"), V(1));
	assert_ptr_equal(cache_get(c, "a", 2), V(3));
	/* replacing drops the old value at once */
	assert_int_equal(put(c, "a", 4, 15), 0);
	assert_int_equal(dropped[1], 1);
	assert_ptr_equal(get(c, "a"), V(4));
	assert_int_equal(cache_count(c), 3);
	assert_int_equal(cache_bytes(c), 40);
	cache_free(c);
	assert_int_equal(dropped[2], 1);
	assert_int_equal(dropped[3], 1);
	assert_int_equal(dropped[4], 1);
	assert_int_equal(dropped[1], 1);
}

static void
test_entry_bound_lru(void **state)
{
	struct cache *c = cache_new(3, 1000, drop);

	(void)state;
	assert_int_equal(put(c, "1", 1, 1), 0);
	assert_int_equal(put(c, "2", 2, 1), 0);
	assert_int_equal(put(c, "3", 3, 1), 0);
	/* "1" used last: "2" is now the least recently used */
	assert_ptr_equal(get(c, "1"), V(1));
	assert_int_equal(put(c, "4", 4, 1), 0);
	assert_int_equal(cache_count(c), 3);
	assert_null(get(c, "2"));
	assert_int_equal(dropped[2], 1);
	assert_ptr_equal(get(c, "1"), V(1));
	assert_ptr_equal(get(c, "3"), V(3));
	assert_ptr_equal(get(c, "4"), V(4));
	/* now "1" is the oldest */
	assert_int_equal(put(c, "5", 5, 1), 0);
	assert_null(get(c, "1"));
	assert_int_equal(dropped[1], 1);
	assert_int_equal(dropped[3] + dropped[4] + dropped[5], 0);
	cache_free(c);
}

static void
test_byte_bound(void **state)
{
	struct cache *c = cache_new(100, 100, drop);

	(void)state;
	assert_int_equal(put(c, "a", 1, 40), 0);
	assert_int_equal(put(c, "b", 2, 40), 0);
	assert_int_equal(put(c, "c", 3, 20), 0); /* exactly 100 */
	assert_int_equal(cache_bytes(c), 100);
	assert_int_equal(cache_count(c), 3);
	/* 30 more: "a" (40) goes, the oldest */
	assert_int_equal(put(c, "d", 4, 30), 0);
	assert_int_equal(dropped[1], 1);
	assert_int_equal(cache_bytes(c), 90);
	/* one that needs two evictions */
	assert_int_equal(put(c, "e", 5, 70), 0);
	assert_int_equal(dropped[2], 1);
	assert_int_equal(dropped[3], 1);
	assert_int_equal(cache_bytes(c), 100);
	assert_ptr_equal(get(c, "d"), V(4));
	assert_ptr_equal(get(c, "e"), V(5));
	/* larger than the whole budget: refused, nothing changed or dropped */
	assert_int_equal(put(c, "f", 6, 101), -1);
	assert_int_equal(dropped[6], 0);
	assert_int_equal(cache_count(c), 2);
	assert_int_equal(cache_bytes(c), 100);
	/* a replacement that grows: its own old size is given back first */
	assert_int_equal(put(c, "e", 7, 100), 0);
	assert_int_equal(dropped[5], 1);
	assert_int_equal(dropped[4], 1);
	assert_int_equal(cache_count(c), 1);
	assert_int_equal(cache_bytes(c), 100);
	cache_free(c);
	assert_int_equal(dropped[7], 1);
}

/* Many keys in a table of 16 buckets: chains of colliding keys stay apart,
 * and evicting from the middle of a chain keeps the rest reachable. */
static void
test_many_keys_collide(void **state)
{
	struct cache *c = cache_new(8, 1 << 20, drop);
	char key[16];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(put(c, key, i, 1), 0);
		assert_ptr_equal(get(c, key), V(i));
	}
	assert_int_equal(cache_count(c), 8);
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (i < 32) {
			assert_null(get(c, key));
			assert_int_equal(dropped[i], 1);
		} else {
			assert_ptr_equal(get(c, key), V(i));
			assert_int_equal(dropped[i], 0);
		}
	}
	cache_free(c);
	for (int i = 0; i < 40; i++)
		assert_int_equal(dropped[i], 1);
}

static void
test_bounds_zero(void **state)
{
	(void)state;
	assert_null(cache_new(0, 10, drop));
	assert_null(cache_new(10, 0, drop));
	cache_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_get_put_replace, setup),
		cmocka_unit_test_setup(test_entry_bound_lru, setup),
		cmocka_unit_test_setup(test_byte_bound, setup),
		cmocka_unit_test_setup(test_many_keys_collide, setup),
		cmocka_unit_test_setup(test_bounds_zero, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
