/* kr/params.h: helpers for checking action parameters at rule-compile time, with
 * file:line:col errors through the rule file's doc. Pure; any thread. */
#ifndef KR_PARAMS_H
#define KR_PARAMS_H

#include <jansson.h>
#include <stddef.h>

#include "kr/doc.h"

/* Checks that params is a map whose keys are all in `allowed` (NULL-terminated) and that
 * every key in `required` (NULL-terminated, may be NULL) is present. `kind` names the
 * action in messages. Returns 0 or KR_EINVAL. */
int kr_params_keys(const char *kind, const json_t *params, const kr_doc_t *doc,
                   const char *const *allowed, const char *const *required, char *err,
                   size_t errlen);
/* Type checks of one member (absent members pass). */
int kr_params_string(const char *kind, const json_t *params, const char *key,
                     const kr_doc_t *doc, char *err, size_t errlen);
int kr_params_bool(const char *kind, const json_t *params, const char *key,
                   const kr_doc_t *doc, char *err, size_t errlen);
int kr_params_int(const char *kind, const json_t *params, const char *key, long long min,
                  long long max, const kr_doc_t *doc, char *err, size_t errlen);
/* A string, or a non-empty list of strings. */
int kr_params_strings(const char *kind, const json_t *params, const char *key,
                      const kr_doc_t *doc, char *err, size_t errlen);
/* A non-empty list of broker ids: integers, or strings that are templates ({{...}}) or
 * decimal numbers. */
int kr_params_broker_list(const char *kind, const json_t *params, const char *key,
                          const kr_doc_t *doc, char *err, size_t errlen);
/* A string parsed by kr_duration_parse / kr_size_parse. */
int kr_params_duration(const char *kind, const json_t *params, const char *key,
                       const kr_doc_t *doc, char *err, size_t errlen);
int kr_params_size(const char *kind, const json_t *params, const char *key,
                   const kr_doc_t *doc, char *err, size_t errlen);
/* One of the given words (NULL-terminated). */
int kr_params_enum(const char *kind, const json_t *params, const char *key,
                   const char *const *words, const kr_doc_t *doc, char *err, size_t errlen);

#endif
