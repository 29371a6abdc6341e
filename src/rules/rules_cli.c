/* rules/rules_cli.c: the rule tools: `kresponder check-rules DIR|FILE` (validate like
 * amtool check-config) and `kresponder match -r DIR|FILE EVENT_FILE|-` (which rules match
 * an event and which actions would run, like amtool config routes test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/cli.h"
#include "kr/decode.h"
#include "kr/rules.h"

#define ERRBUF (1 << 20)

int kr_cmd_check_rules(int argc, char **argv)
{
    char *err = NULL;
    kr_ruleset_t *rs = NULL;
    int rc = 1;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: kresponder check-rules DIR|FILE\n");
        return 2;
    }
    if (!(err = calloc(1, ERRBUF))) {
        fprintf(stderr, "kresponder: out of memory\n");
        return 1;
    }
    if (!(rs = kr_ruleset_load(argv[1], err, ERRBUF))) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    size_t n = kr_ruleset_count(rs), m = kr_ruleset_nfiles(rs);
    printf("%zu rule%s in %zu file%s\n", n, n == 1 ? "" : "s", m, m == 1 ? "" : "s");
    rc = 0;
done:
    kr_ruleset_decref(rs);
    free(err);
    return rc;
}

/* Reads a whole file, or stdin for "-". Returns a malloc'd buffer or NULL. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

static int print_explain(const kr_ruleset_t *rs, const json_t *event)
{
    json_t *out = kr_ruleset_explain(rs, event);
    if (!out)
        return 1;
    json_dumpf(out, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(out);
    return 0;
}

int kr_cmd_match(int argc, char **argv)
{
    const char *rules = NULL, *event_path = NULL;
    char *err = NULL, *buf = NULL;
    kr_ruleset_t *rs = NULL;
    json_t *doc = NULL, *events = NULL;
    json_error_t jerr;
    size_t len = 0;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-r") == 0 || strcmp(argv[i], "--rules") == 0) && i + 1 < argc)
            rules = argv[++i];
        else if (!event_path && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
            event_path = argv[i];
        else
            goto usage;
    }
    if (!rules || !event_path)
        goto usage;
    if (!(err = calloc(1, ERRBUF))) {
        fprintf(stderr, "kresponder: out of memory\n");
        return 1;
    }
    if (!(rs = kr_ruleset_load(rules, err, ERRBUF))) {
        fprintf(stderr, "%s\n", err);
        goto done;
    }
    if (!(buf = read_all(event_path, &len))) {
        fprintf(stderr, "%s: cannot read the event\n", event_path);
        goto done;
    }
    const char *name = strcmp(event_path, "-") == 0 ? "<stdin>" : event_path;
    if (!(doc = json_loadb(buf, len, 0, &jerr))) {
        fprintf(stderr, "%s:%d:%d: %s; expected a webhook payload (SNS, EventBridge, Alertmanager) or normalized events\n",
                name, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    if (!(events = json_array()))
        goto done;
    /* A payload in any format decode takes is decoded; anything else (a normalized event,
     * even a hand-written partial one) is matched as written. A list holds several. */
    for (size_t i = 0; i < (json_is_array(doc) ? json_array_size(doc) : 1); i++) {
        json_t *item = json_is_array(doc) ? json_array_get(doc, i) : doc;
        kr_format_t fmt = kr_decode_detect(item);
        if (!json_is_object(item)) {
            fprintf(stderr, "%s: %s is not an event or payload (a JSON object)\n", name,
                    json_is_array(doc) ? "a list item" : "the input");
            goto done;
        }
        if (fmt == KR_FMT_SNS || fmt == KR_FMT_EVENTBRIDGE || fmt == KR_FMT_ALERTMANAGER) {
            if (kr_decode(fmt, item, events, err, ERRBUF) < 0) {
                fprintf(stderr, "%s: %s payload: %s\n", name, kr_format_name(fmt), err);
                goto done;
            }
        } else {
            json_array_append(events, item);
        }
    }
    rc = 0;
    for (size_t i = 0; i < json_array_size(events) && !rc; i++)
        rc = print_explain(rs, json_array_get(events, i));
done:
    json_decref(events);
    json_decref(doc);
    free(buf);
    kr_ruleset_decref(rs);
    free(err);
    return rc;
usage:
    fprintf(stderr, "usage: kresponder match -r DIR|FILE EVENT_FILE|-\n");
    return 2;
}
