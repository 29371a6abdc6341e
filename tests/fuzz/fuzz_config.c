/* tests/fuzz/fuzz_config.c: arbitrary bytes as a config file: never crash; a refusal
 * always says where (name:line:col). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/config.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char err[1024] = "";
    kr_config_t *c = kr_config_parse("/fuzz/k.yaml", (const char *)data, size, err, sizeof err);
    if (!c) {
        if (strncmp(err, "/fuzz/k.yaml", 12) != 0 && strstr(err, "environment variable") == NULL &&
            strstr(err, "secret file") == NULL) {
            fprintf(stderr, "error without a location: %s\n", err);
            abort();
        }
        return 0;
    }
    kr_config_free(c);
    return 0;
}
