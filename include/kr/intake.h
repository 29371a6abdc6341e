/* kr/intake.h: the webhook endpoints: POST /hooks/sns, /hooks/eventbridge,
 * /hooks/alertmanager. Each validates, authenticates (SNS signature, EventBridge header
 * secret, Alertmanager bearer token), decodes, hands the events to kr_daemon_accept and
 * replies 202 {"id": ...} once they are durable. Loop thread; SNS parsing, verification
 * and decoding run on the intake workers (http.workers). */
#ifndef KR_INTAKE_H
#define KR_INTAKE_H

#include <stddef.h>

#include "kr/daemon.h"

/* Registers the hook routes; sets up the SNS certificate store and the HTTP client used
 * to fetch certificates and confirm subscriptions. Returns a new context or NULL. */
kr_intake_t *kr_intake_new(kr_daemon_t *d, char *err, size_t errlen);
void kr_intake_free(kr_intake_t *in);
/* SNS requests queued for or being worked by the intake workers now (0 without intake). */
unsigned long kr_intake_worker_jobs(kr_intake_t *in);

#endif
