/* kr/doc.h: YAML (and JSON) documents as jansson trees that remember where every node
 * came from, so config and rule errors can say file:line:col. Parsing uses libyaml's
 * document API; plain scalars are typed by the YAML 1.2 core schema (null, true/false,
 * integers, floats), quoted scalars are strings. Any thread; a doc is not shared. */
#ifndef KR_DOC_H
#define KR_DOC_H

#include <jansson.h>
#include <stddef.h>

typedef struct kr_doc kr_doc_t;

/* Parses buf (YAML or JSON) under the display name `name`. Returns a new doc, or NULL
 * with err = "name:line:col: message". An empty document has a null root. */
kr_doc_t *kr_doc_parse(const char *name, const char *buf, size_t len, char *err, size_t errlen);
/* Reads and parses a file; the path is the doc's name. */
kr_doc_t *kr_doc_load(const char *path, char *err, size_t errlen);
void kr_doc_free(kr_doc_t *doc);

json_t *kr_doc_root(const kr_doc_t *doc);      /* borrowed */
const char *kr_doc_name(const kr_doc_t *doc);  /* borrowed */

/* Where a node starts (1-based). Works for objects, arrays, strings and numbers (true,
 * false and null are jansson singletons: use kr_doc_member_pos / kr_doc_item_pos).
 * Returns 0, or KR_ENOTFOUND (line/col set to 0). */
int kr_doc_pos(const kr_doc_t *doc, const json_t *node, int *line, int *col);
/* Where the key `key` of object `obj` starts / where its value starts. */
int kr_doc_key_pos(const kr_doc_t *doc, const json_t *obj, const char *key, int *line, int *col);
int kr_doc_member_pos(const kr_doc_t *doc, const json_t *obj, const char *key, int *line, int *col);
/* Where element `index` of array `arr` starts. */
int kr_doc_item_pos(const kr_doc_t *doc, const json_t *arr, size_t index, int *line, int *col);

/* Format "name:line:col: message" into err for a node / an object's key / its member's
 * value / an array item. Unknown positions fall back to the container's position, then
 * to 1:1. All return KR_EINVAL so callers can `return kr_doc_errf(...)`. */
int kr_doc_errf(const kr_doc_t *doc, const json_t *node, char *err, size_t errlen,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int kr_doc_key_errf(const kr_doc_t *doc, const json_t *obj, const char *key, char *err,
                    size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int kr_doc_member_errf(const kr_doc_t *doc, const json_t *obj, const char *key, char *err,
                       size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int kr_doc_item_errf(const kr_doc_t *doc, const json_t *arr, size_t index, char *err,
                     size_t errlen, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
