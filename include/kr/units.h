/* kr/units.h: durations ("30s", "5m", "1h30m", "1d", "250ms"), sizes ("256KiB", "50MB")
 * and RFC 3339 timestamps, as operators write them in config and rules. Pure functions,
 * any thread. */
#ifndef KR_UNITS_H
#define KR_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a duration into milliseconds. Accepts a sequence of <number><unit> with units
 * ms, s, m, h, d, w (e.g. "1h30m"), or a bare "0". Returns 0 or KR_EINVAL with err set. */
int kr_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen);
/* Formats milliseconds compactly ("3m", "1h30m", "250ms", "0s") into buf. Returns buf. */
char *kr_duration_format(int64_t ms, char *buf, size_t len);

/* Parses a byte size: a number with optional unit B, KB, MB, GB, TB (powers of 1000) or
 * KiB, MiB, GiB, TiB (powers of 1024); an optional "/s" suffix is accepted and ignored
 * (throttle rates). Returns 0 or KR_EINVAL. */
int kr_size_parse(const char *s, int64_t *bytes, char *err, size_t errlen);

/* Current wall-clock time in milliseconds since the epoch. */
int64_t kr_now_ms(void);
/* Monotonic clock in milliseconds (for timers and latencies). */
int64_t kr_mono_ms(void);
/* Parses RFC 3339 / ISO 8601 ("2026-11-24T19:02:24Z", "...T19:02:24.123+09:00",
 * "2026-11-24T19:02:24.123456789Z"; also the "+0000" offset form that CloudWatch writes).
 * A time without an offset is UTC. Returns 0 or KR_EINVAL. */
int kr_time_parse(const char *s, int64_t *ms);
/* Formats ms as "2026-11-24T19:02:24.123Z" (always UTC, milliseconds). Returns buf;
 * buf must hold 32 bytes. */
char *kr_time_format(int64_t ms, char *buf, size_t len);

#endif
