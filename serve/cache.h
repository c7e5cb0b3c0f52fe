/*
 * cache.h: a bounded LRU map from byte-string keys to opaque values, used by
 * cp-serve to keep the finished answers of proven candle windows. Not
 * thread-safe: cp-serve keeps one per pool thread. The cache owns a stored
 * value and hands it to the drop function when it is evicted, replaced or
 * freed.
 */
#ifndef CP_SERVE_CACHE_H
#define CP_SERVE_CACHE_H

#include <stddef.h>

struct cache;

typedef void (*cache_drop_fn)(void *val);

/* A cache of at most max_entries values whose sizes add up to at most
 * max_bytes; NULL when out of memory or a bound is 0. */
struct cache *cache_new(size_t max_entries, size_t max_bytes, cache_drop_fn drop);
/* The value of key (now the most recently used), or NULL. */
void *cache_get(struct cache *c, const void *key, size_t klen);
/* Stores val (of size bytes) under key, replacing an older value and
 * evicting the least recently used ones until both bounds hold. 0: the
 * cache owns val; -1 (out of memory, or size alone passes max_bytes): it
 * does not, and nothing changed. */
int cache_put(struct cache *c, const void *key, size_t klen, void *val, size_t size);
size_t cache_count(const struct cache *c);
size_t cache_bytes(const struct cache *c);
/* Drops every value and frees c (NULL is fine). */
void cache_free(struct cache *c);

#endif
