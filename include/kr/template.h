/* kr/template.h: `{{path}}` templates in action parameters ("Broker {{broker.id}} on
 * {{instance.id}}"), compiled once and rendered against a JSON context: the normalized
 * event plus `incident` ({id, key, rule, started}). Numbers render as numbers without
 * quotes, strings raw, objects and arrays as compact JSON, null and missing paths as "".
 * A path's root must be a key of the normalized event (or `incident`, whose keys are
 * known too): that is checked at compile time; deeper segments are not knowable and
 * render "" when absent. A numeric segment indexes an array ({{raw.Records.0.Sns}}).
 * There is no escape for a literal "{{". Pure functions, any thread. */
#ifndef KR_TEMPLATE_H
#define KR_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "kr/doc.h"

typedef struct kr_template kr_template_t;

/* The roots a path may start with, joined by ", " (for error messages). Static string. */
const char *kr_template_roots(void);
/* 1 if `root` (length len) is a key of the normalized event (not counting `incident`). */
int kr_template_is_event_root(const char *root, size_t len);

/* Compiles `src`. Returns a new template, or NULL with err set to a sentence without a
 * position (callers add file:line:col), e.g. `unknown field "brokr" in {{brokr.id}}; ...`. */
kr_template_t *kr_template_compile(const char *src, char *err, size_t errlen);
void kr_template_free(kr_template_t *t);
/* 1 if the template has at least one {{path}}. */
int kr_template_has_paths(const kr_template_t *t);

/* Renders against ctx (borrowed). Returns a new malloc'd string (caller frees), or NULL
 * when out of memory. */
char *kr_template_render(const kr_template_t *t, const json_t *ctx);

/* Looks up a dotted path in ctx. Returns a borrowed value or NULL when absent. */
const json_t *kr_template_lookup(const json_t *ctx, const char *path);
/* Formats one value the way templates render it into buf (truncating). Returns the length
 * it needed (like snprintf). */
size_t kr_template_format(const json_t *v, char *buf, size_t len);

/* Compiles every string inside `params` (borrowed from `doc`) as a template; the first
 * bad one gives KR_EINVAL with err = "file:line:col: bad template ...". */
int kr_template_check_params(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen);
/* Returns a new reference: a deep copy of params with every string rendered against ctx;
 * a string that is exactly one {{path}} whose value is a number (or boolean) keeps that
 * JSON type. NULL params give NULL. */
json_t *kr_template_render_params(const json_t *params, const json_t *ctx);

#endif
