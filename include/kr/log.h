/* kr/log.h: one logging macro, level-checked before arguments are evaluated,
 * printf-checked, with a subsystem tag. Lines are logfmt on stderr:
 *   ts=2026-11-24T19:30:01.123Z level=info sub=http msg="listening" addr=127.0.0.1:8080
 * The message format is itself logfmt: msg="..." then key=value pairs. Thread-safe
 * (one write(2) per line). */
#ifndef KR_LOG_H
#define KR_LOG_H

enum kr_log_level { KR_LOG_DEBUG = 0, KR_LOG_INFO, KR_LOG_WARN, KR_LOG_ERROR, KR_LOG_OFF };

extern int kr_log_level; /* lines below this level are skipped without evaluating args */

void kr_log_write(int level, const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Parses "debug|info|warn|error|off"; returns 0 or KR_EINVAL. */
int kr_log_set_level_name(const char *name);

#define KR_LOG(level, sub, ...) \
    do { if ((level) >= kr_log_level) kr_log_write((level), (sub), __VA_ARGS__); } while (0)
#define KR_DEBUG(sub, ...) KR_LOG(KR_LOG_DEBUG, sub, __VA_ARGS__)
#define KR_INFO(sub, ...)  KR_LOG(KR_LOG_INFO, sub, __VA_ARGS__)
#define KR_WARN(sub, ...)  KR_LOG(KR_LOG_WARN, sub, __VA_ARGS__)
#define KR_ERROR(sub, ...) KR_LOG(KR_LOG_ERROR, sub, __VA_ARGS__)

#endif
