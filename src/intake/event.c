/* intake/event.c: the normalized event: construction and dotted-path lookup. */
#include <stdlib.h>
#include <string.h>

#include "kr/event.h"
#include "kr/units.h"

json_t *kr_event_new(const char *id, const char *source, const char *type,
                     const char *state, int64_t time_ms)
{
    char ts[32];
    json_t *ev = NULL;

    if (!id || !source || !type || !state)
        return NULL;
    kr_time_format(time_ms, ts, sizeof ts);
    ev = json_object();
    if (!ev)
        goto err;
    /* json_string() checks UTF-8 and returns NULL on bad input; _new steals even NULL. */
    if (json_object_set_new(ev, "id", json_string(id)) ||
        json_object_set_new(ev, "source", json_string(source)) ||
        json_object_set_new(ev, "type", json_string(type)) ||
        json_object_set_new(ev, "state", json_string(state)) ||
        json_object_set_new(ev, "time", json_string(ts)))
        goto err;
    return ev;
err:
    json_decref(ev);
    return NULL;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 9)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

json_t *kr_event_get(const json_t *ev, const char *path)
{
    const json_t *cur = ev;
    const char *p = path;

    if (!ev || !path || !*path)
        return NULL;
    while (cur) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);

        if (json_is_object(cur))
            cur = json_object_getn(cur, p, n);
        else if (json_is_array(cur) && all_digits(p, n))
            cur = json_array_get(cur, (size_t)strtoul(p, NULL, 10));
        else
            cur = NULL;
        if (!dot)
            break;
        p = dot + 1;
    }
    return (json_t *)cur;
}

const char *kr_event_str(const json_t *ev, const char *path)
{
    return json_string_value(kr_event_get(ev, path));
}
