/* kr/idset.h: a bounded set of strings (event ids) for duplicate detection; when full,
 * the oldest id is forgotten first. Loop thread only. */
#ifndef KR_IDSET_H
#define KR_IDSET_H

#include <stddef.h>

typedef struct kr_idset kr_idset_t;

kr_idset_t *kr_idset_new(size_t capacity);
void kr_idset_free(kr_idset_t *s);
/* Returns 1 if id was added, 0 if it was already present, KR_ENOMEM on failure. */
int kr_idset_add(kr_idset_t *s, const char *id);
int kr_idset_contains(const kr_idset_t *s, const char *id);
/* Forgets an id (e.g. an event whose journal write failed). */
void kr_idset_remove(kr_idset_t *s, const char *id);
size_t kr_idset_size(const kr_idset_t *s);
/* Calls fn for every id, oldest first; stops at fn's first non-zero result (returned). */
int kr_idset_foreach(const kr_idset_t *s, int (*fn)(const char *id, void *arg), void *arg);

#endif
