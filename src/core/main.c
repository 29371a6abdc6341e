/* core/main.c: bin/kresponder's entry point: a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "kr/cli.h"
#include "kr/version.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} kr_command_t;

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kresponder %s\n", KR_VERSION);
    return 0;
}

static const kr_command_t commands[] = {
    { "run", kr_cmd_run, "run -c FILE                 run the daemon" },
    { "check", kr_cmd_check, "check -c FILE               validate a config file (and its rules)" },
    { "sns-verify", kr_cmd_sns_verify, "sns-verify --cert-dir DIR [--max-age D] FILE|-  verify an SNS message offline" },
    { "decode", kr_cmd_decode, "decode [--format F] FILE|-   print the normalized events of a webhook payload" },
    { "check-rules", kr_cmd_check_rules, "check-rules DIR|FILE        validate rule files (every error as file:line:col)" },
    { "match", kr_cmd_match, "match -r DIR|FILE EVENT|-   show which rules match an event and what they would do" },
    { "plan", kr_cmd_plan, "plan evacuate|drain ...     plan a replica reassignment (JSON on stdout)" },
    { "journal", kr_cmd_journal, "journal dump DIR            print the journal's records as JSON lines" },
    { "streams-reset", kr_cmd_streams_reset, "streams-reset --bootstrap-servers H --application-id ID ...  reset a stopped Streams app (dry run by default)" },
    { "version", cmd_version, "version                     print the version" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: kresponder COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kresponder: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
