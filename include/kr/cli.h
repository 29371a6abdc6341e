/* kr/cli.h: the subcommands of bin/kresponder. Each takes the arguments after its own
 * name (argv[0] is the subcommand name) and returns the process exit code. Only main
 * exits. Each is implemented by the module it belongs to. */
#ifndef KR_CLI_H
#define KR_CLI_H

int kr_cmd_run(int argc, char **argv);          /* core/daemon.c */
int kr_cmd_check(int argc, char **argv);        /* core/config.c */
int kr_cmd_journal(int argc, char **argv);      /* core/journal.c */
int kr_cmd_sns_verify(int argc, char **argv);   /* intake/sns.c */
int kr_cmd_decode(int argc, char **argv);       /* intake/decode_cli.c */
int kr_cmd_check_rules(int argc, char **argv);  /* rules/rules_cli.c */
int kr_cmd_match(int argc, char **argv);        /* rules/rules_cli.c */
int kr_cmd_plan(int argc, char **argv);         /* actions/planner_cli.c */
int kr_cmd_streams_reset(int argc, char **argv); /* actions/streams_run.c */

#endif
