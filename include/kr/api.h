/* kr/api.h: the daemon's own HTTP endpoints: health, readiness, metrics, recent events,
 * and the operator controls. Loop thread. */
#ifndef KR_API_H
#define KR_API_H

#include <stddef.h>

#include "kr/daemon.h"

/* Registers /healthz, /readyz, /metrics, /v1/events (and the operator endpoints). */
int kr_api_register(kr_daemon_t *d, char *err, size_t errlen);
/* Reloads what can be reloaded (rules): builds aside, swaps only if valid. Returns 0 or
 * an error (the old state stays). */
int kr_api_reload(kr_daemon_t *d);

#endif
