/*
 * cache.c: the bounded LRU map of cache.h. Entries live in a chained hash
 * table (a power of two of at least twice max_entries buckets, FNV-1a of the
 * key) and on one doubly linked list, most recently used first; eviction
 * takes the tail. Both bounds (entries, bytes of the values) hold after
 * every put. What a value means is the caller's: cp-serve stores its
 * finished HTTP responses here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

struct entry {
	struct entry *chain;       /* the next in this bucket */
	struct entry *prev, *next; /* the LRU list */
	uint64_t hash;
	void *val;
	size_t size, klen;
	unsigned char key[];
};

struct bucket {
	struct entry *first;
};

struct cache {
	struct bucket *bucket;
	size_t mask; /* buckets - 1 */
	struct entry *head, *tail;
	size_t count, bytes, max_entries, max_bytes;
	cache_drop_fn drop;
};

static uint64_t
fnv1a(const void *key, size_t n)
{
	const unsigned char *p = key;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct cache *
cache_new(size_t max_entries, size_t max_bytes, cache_drop_fn drop)
{
	struct cache *c;
	size_t n = 16;

	if (max_entries == 0 || max_bytes == 0 || max_entries > SIZE_MAX / 4)
		return NULL;
	while (n < 2 * max_entries)
		n *= 2;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->bucket = calloc(n, sizeof(struct bucket))) == NULL) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	c->max_entries = max_entries;
	c->max_bytes = max_bytes;
	c->drop = drop;
	return c;
}

static void
lru_unlink(struct cache *c, struct entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* The bucket slot that points at key's entry (or at NULL when absent). */
static struct entry **
slot_of(struct cache *c, const void *key, size_t klen, uint64_t h)
{
	struct entry **p = &c->bucket[h & c->mask].first;

	while (*p != NULL &&
	       ((*p)->hash != h || (*p)->klen != klen || memcmp((*p)->key, key, klen) != 0))
		p = &(*p)->chain;
	return p;
}

/* Unlinks the entry *slot points at, drops its value and frees it. */
static void
remove_at(struct cache *c, struct entry **slot)
{
	struct entry *e = *slot;

	if (e == NULL) /* not there: cannot happen for an entry of the list */
		return;
	*slot = e->chain;
	lru_unlink(c, e);
	c->count--;
	c->bytes -= e->size;
	if (c->drop != NULL)
		c->drop(e->val);
	free(e);
}

void *
cache_get(struct cache *c, const void *key, size_t klen)
{
	struct entry *e = *slot_of(c, key, klen, fnv1a(key, klen));

	if (e == NULL)
		return NULL;
	if (c->head != e) {
		lru_unlink(c, e);
		lru_push(c, e);
	}
	return e->val;
}

/* Evicts from the tail until one more entry of size bytes fits. */
static void
make_room(struct cache *c, size_t size)
{
	while (c->tail != NULL &&
	       (c->count + 1 > c->max_entries || c->bytes > c->max_bytes - size)) {
		struct entry *t = c->tail;

		remove_at(c, slot_of(c, t->key, t->klen, t->hash));
	}
}

int
cache_put(struct cache *c, const void *key, size_t klen, void *val, size_t size)
{
	uint64_t h = fnv1a(key, klen);
	struct entry **slot, *e;

	if (size > c->max_bytes || klen > SIZE_MAX - sizeof(*e) ||
	    (e = malloc(sizeof(*e) + klen)) == NULL)
		return -1;
	if (*(slot = slot_of(c, key, klen, h)) != NULL)
		remove_at(c, slot);
	make_room(c, size);
	memcpy(e->key, key, klen);
	e->klen = klen;
	e->hash = h;
	e->val = val;
	e->size = size;
	slot = &c->bucket[h & c->mask].first;
	e->chain = *slot;
	*slot = e;
	lru_push(c, e);
	c->count++;
	c->bytes += size;
	return 0;
}

size_t
cache_count(const struct cache *c)
{
	return c->count;
}

size_t
cache_bytes(const struct cache *c)
{
	return c->bytes;
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	while (c->head != NULL)
		remove_at(c, slot_of(c, c->head->key, c->head->klen, c->head->hash));
	free(c->bucket);
	free(c);
}
