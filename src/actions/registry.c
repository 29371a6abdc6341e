/* actions/registry.c: the table of action kinds. One row per kind; each kind lives in
 * its own file. */
#include <string.h>

#include "kr/action.h"
#include "kr/err.h"

static const kr_action_kind_t *const kinds[] = {
    &kr_action_log,          &kr_action_page,           &kr_action_evacuate,
    &kr_action_drain_stack,  &kr_action_elect_leaders,  &kr_action_mark_streams_reset,
    &kr_action_exec,
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

const kr_action_kind_t *kr_action_kind_find(const char *name)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

const char *kr_action_kind_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        for (size_t i = 0; i < NKINDS; i++) {
            if (i)
                strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
            strncat(buf, kinds[i]->name, sizeof buf - strlen(buf) - 1);
        }
    }
    return buf;
}
