/* kr/pattern.h: Amazon EventBridge event patterns over a jansson event: compile once
 * (every error names file:line:col), then match with no allocation and no I/O.
 *
 * Semantics (AWS "Amazon EventBridge event patterns" and "content filtering"):
 *  - A pattern is a map. Each key is a path: nested maps, or dotted keys as shorthand
 *    (`broker.id: [3]` is `broker: {id: [3]}`). All keys must match (AND).
 *  - A value is a list of alternatives (OR). Extension: a scalar or a single operator map
 *    is NOT a list in AWS; here a scalar is shorthand for a one-element list. An operator
 *    map outside a list is refused with a hint, because `{exists: true}` could also be a
 *    nested path.
 *  - Arrays in the event match if any element matches; arrays of objects match a nested
 *    pattern only if one element matches all of it (array-consistent, like Event Ruler's
 *    rulesForJSONEvent).
 *  - Exact values are type-exact: "3" is not 3; numbers compare numerically (3 == 3.0);
 *    null matches JSON null only (not a missing field); "" matches "" only.
 *  - Operators: prefix, suffix (string or {equals-ignore-case: S}), equals-ignore-case,
 *    wildcard (`*` any run, `\*` a star, `\\` a backslash, no consecutive `*`),
 *    anything-but (scalar, list of strings or of numbers, or {prefix|suffix|
 *    equals-ignore-case|wildcard: S or [S...]}; a missing field never matches; the
 *    string forms match only strings), numeric ([">", 0, "<=", 5]: one or two bounds,
 *    or ["=", x]; only JSON numbers match), exists (true: a leaf value is present, null
 *    included; false: no leaf value, e.g. missing or an object), cidr (IPv4 or IPv6
 *    "addr/bits"; only strings holding an address of that family match), and $or (a list
 *    of at least two patterns, at any level, paths relative to where it stands).
 *  - Case folding for equals-ignore-case is ASCII; numeric bounds are doubles without
 *    AWS's +-1e9 range limit.
 * Pure functions; a compiled pattern is immutable and may be shared by threads. */
#ifndef KR_PATTERN_H
#define KR_PATTERN_H

#include <jansson.h>
#include <stddef.h>

#include "kr/doc.h"

typedef struct kr_pattern kr_pattern_t;

/* Compiles `pat` (borrowed; positions looked up in `doc`, which may be NULL for
 * "<input>:1:1"). Returns a new pattern, or NULL with err = "file:line:col: message"
 * saying what was expected. The pattern keeps no reference to `pat` or `doc`. */
kr_pattern_t *kr_pattern_compile(const json_t *pat, const kr_doc_t *doc, char *err,
                                 size_t errlen);
/* 1 if `event` (borrowed) matches, 0 if not. No allocation, no I/O. */
int kr_pattern_match(const kr_pattern_t *p, const json_t *event);
void kr_pattern_free(kr_pattern_t *p);

/* For indexing: if the pattern's top level requires the one-segment key `key` to equal
 * one of a set of literal strings (and nothing else), returns that set (borrowed from the
 * pattern) and its size in *n; otherwise NULL. */
const char *const *kr_pattern_literal_strings(const kr_pattern_t *p, const char *key, size_t *n);

#endif
