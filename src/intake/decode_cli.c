/* intake/decode_cli.c: `kresponder decode [--format F] FILE|-`: prints the normalized
 * events of a payload, one sorted-keys JSON line each. SREs use it to write rules, tests
 * to pin the decoders. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/cli.h"
#include "kr/decode.h"
#include "kr/err.h"

#define DECODE_MAX_INPUT (64u << 20) /* far above any webhook body; a guard, not a limit */

static void usage(FILE *f)
{
    fprintf(f, "usage: kresponder decode [--format sns|eventbridge|alertmanager|event] FILE|-\n"
               "Prints the normalized events of a webhook payload, one JSON line each.\n"
               "The format is detected from the payload unless --format is given.\n");
}

static int parse_format(const char *name, kr_format_t *fmt)
{
    static const kr_format_t all[] = { KR_FMT_AUTO, KR_FMT_SNS, KR_FMT_EVENTBRIDGE,
                                       KR_FMT_ALERTMANAGER, KR_FMT_EVENT };

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, kr_format_name(all[i])) == 0) {
            *fmt = all[i];
            return 0;
        }
    return KR_EINVAL;
}

/* Reads all of f into a new buffer (*len bytes). Returns NULL with errno set on error. */
static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap), *bigger;

    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);

        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                return NULL;
            }
            *len = n;
            return buf;
        }
        if (n == cap) {
            if (cap >= DECODE_MAX_INPUT) {
                free(buf);
                errno = EFBIG;
                return NULL;
            }
            bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    return NULL;
}

int kr_cmd_decode(int argc, char **argv)
{
    kr_format_t fmt = KR_FMT_AUTO;
    const char *path = NULL, *fmt_name = NULL;
    char *buf = NULL, err[512] = "";
    FILE *f = NULL;
    json_t *events = NULL, *ev;
    size_t len = 0, i;
    int rc = 2, n;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[a], "--format") == 0 || strcmp(argv[a], "-f") == 0) {
            if (++a == argc) {
                fprintf(stderr, "decode: %s needs a format\n", argv[a - 1]);
                goto usage;
            }
            fmt_name = argv[a];
        } else if (strncmp(argv[a], "--format=", 9) == 0) {
            fmt_name = argv[a] + 9;
        } else if (argv[a][0] == '-' && argv[a][1] != '\0') {
            fprintf(stderr, "decode: unknown option \"%s\"\n", argv[a]);
            goto usage;
        } else if (path) {
            fprintf(stderr, "decode: one FILE at a time (got \"%s\" and \"%s\")\n", path,
                    argv[a]);
            goto usage;
        } else {
            path = argv[a];
        }
    }
    if (!path) {
        fprintf(stderr, "decode: FILE (or - for stdin) is required\n");
        goto usage;
    }
    if (fmt_name && parse_format(fmt_name, &fmt) != 0) {
        fprintf(stderr, "decode: unknown format \"%s\" (sns, eventbridge, alertmanager, event)\n",
                fmt_name);
        goto usage;
    }

    rc = 1;
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "decode: cannot open %s: %s\n", path, strerror(errno));
        goto done;
    }
    buf = read_all(f, &len);
    if (!buf) {
        fprintf(stderr, "decode: cannot read %s: %s\n", path, strerror(errno));
        goto done;
    }
    events = json_array();
    if (!events) {
        fprintf(stderr, "decode: out of memory\n");
        goto done;
    }
    n = kr_decode_buf(fmt, buf, len, events, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "decode: %s\n", err);
        goto done;
    }
    json_array_foreach(events, i, ev) {
        if (json_dumpf(ev, stdout, JSON_SORT_KEYS | JSON_COMPACT) != 0 || putchar('\n') == EOF)
            goto done;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "decode: cannot write: %s\n", strerror(errno));
        goto done;
    }
    rc = 0;
    goto done;
usage:
    usage(stderr);
    rc = 2;
done:
    json_decref(events);
    free(buf);
    if (f && f != stdin)
        fclose(f);
    return rc;
}
