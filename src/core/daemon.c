/* core/daemon.c: the daemon: one libevent loop that owns all state. */
#include <stdio.h>

#include "kr/cli.h"

int kr_cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "kresponder run: the daemon is being built in this commit series\n");
    return 2;
}
