/* tests/fuzz/fuzz_decode.c: libFuzzer target for the payload decoders: any bytes go
 * through kr_decode_buf with format detection; every event produced must carry the five
 * required string fields, and the count returned must match what was appended. Seeds are
 * the golden payloads (tests/fuzz/seeds/fuzz_decode/). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kr/decode.h"
#include "kr/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const required[] = { "id", "source", "type", "state", "time" };
    static const kr_format_t forced[] = { KR_FMT_AUTO, KR_FMT_SNS, KR_FMT_EVENTBRIDGE,
                                          KR_FMT_ALERTMANAGER, KR_FMT_EVENT };
    char err[512];
    json_t *out = json_array(), *ev;
    size_t i;
    int n;

    if (!out)
        return 0;
    /* The first byte picks a forced format now and then, so that each decoder also sees
     * payloads of the other shapes. */
    kr_format_t fmt = size && data[0] < 16 ? forced[data[0] % 5] : KR_FMT_AUTO;
    n = kr_decode_buf(fmt, (const char *)data, size, out, err, sizeof err);
    if (n < 0) {
        if (json_array_size(out) != 0 || strlen(err) == 0 || strchr(err, '\n'))
            abort(); /* a failure appends nothing and says why in one line */
    } else {
        if ((size_t)n != json_array_size(out))
            abort();
        json_array_foreach(out, i, ev)
            for (size_t r = 0; r < sizeof required / sizeof required[0]; r++)
                if (!kr_event_str(ev, required[r]))
                    abort();
    }
    json_decref(out);
    return 0;
}
