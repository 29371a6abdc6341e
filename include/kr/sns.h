/* kr/sns.h: Amazon SNS HTTP(S) message verification: the string-to-sign of each message
 * type, SigningCertURL rules, SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA), and
 * a store of signing certificates (memory + a cert directory). The store is thread-safe:
 * kr_sns_verify runs on the intake workers while the loop adds fetched certificates.
 *
 * Fetching is the caller's job: kr_sns_verify answers KR_EAGAIN with the URL to fetch when
 * a certificate is in neither memory nor the directory; the daemon fetches it (libcurl)
 * and hands it to kr_sns_certs_add_pem, then verifies again. Trust comes from that fetch
 * (HTTPS with peer verification, from a URL kr_sns_check_cert_url accepted) and from the
 * cert directory's permissions: certificates are not chain-verified here, as in AWS's own
 * SNS message validators. */
#ifndef KR_SNS_H
#define KR_SNS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kr_sns_certs kr_sns_certs_t; /* URL → parsed X509 + public key */

/* cert_dir may be NULL (memory only). Returns a new store or NULL (out of memory). The
 * directory is read lazily, one file per certificate, named by the URL's file name
 * (e.g. SimpleNotificationService-0123abcd.pem). */
kr_sns_certs_t *kr_sns_certs_new(const char *cert_dir);
void kr_sns_certs_free(kr_sns_certs_t *c);

/* Adds a PEM certificate fetched for `url` (which must pass kr_sns_check_cert_url);
 * checks it parses as X.509 with a public key; replaces any certificate cached for that
 * URL; writes it to the cert dir under the URL's file name (temp file + fsync + rename).
 * Returns 0, KR_EINVAL (bad URL, not a PEM certificate) or KR_EIO (the directory write
 * failed: the certificate is still cached in memory and usable). */
int kr_sns_certs_add_pem(kr_sns_certs_t *c, const char *url, const char *pem, size_t len,
                         char *err, size_t errlen);

/* Checks a SigningCertURL: https, host sns.<region>.amazonaws.com or
 * sns.<region>.amazonaws.com.cn, no userinfo, no port, no query or fragment, and a path
 * of plain segments ([A-Za-z0-9._-]) whose last one ends in ".pem". Pure. Returns 0 or
 * KR_EAUTH with err. */
int kr_sns_check_cert_url(const char *url, char *err, size_t errlen);

/* The canonical string-to-sign of a message: "Key\nValue\n" for, in this order,
 *   Notification:                 Message, MessageId, Subject (if present and not null),
 *                                 Timestamp, TopicArn, Type
 *   SubscriptionConfirmation,
 *   UnsubscribeConfirmation:      Message, MessageId, SubscribeURL, Timestamp, Token,
 *                                 TopicArn, Type
 * Pure. Returns 0 with a new malloc'd string in *out (caller frees), or KR_EINVAL (not
 * an object, unknown Type, a key missing or not a string, a value holding NUL). */
int kr_sns_string_to_sign(const json_t *msg, char **out, char *err, size_t errlen);

/* Verifies a parsed SNS message. now_s = current time (seconds since the epoch);
 * max_age_s > 0 rejects a message whose Timestamp is more than max_age_s away from now_s
 * (in either direction: a message from the future is as suspect as a replayed one);
 * 0 disables the age check. Returns
 *   0           valid;
 *   KR_EINVAL   malformed: not an object, missing keys, wrong types, unknown Type, bad
 *               Timestamp;
 *   KR_EAUTH    bad signature (or not base64), bad cert URL, unsupported
 *               SignatureVersion, certificate not valid at Timestamp or not RSA, too old;
 *   KR_EAGAIN   the certificate for a valid-looking URL is neither in memory nor usable in
 *               the directory (missing, unreadable or not a PEM certificate; err says
 *               which, e.g. "certificate NAME not found in DIR"): *need_url (if non-NULL)
 *               then points at the URL inside msg (borrowed) for the caller to fetch, add
 *               with kr_sns_certs_add_pem (which overwrites a bad file), and verify again.
 * A certificate read from the directory stays parsed in memory: repeated verifications
 * with one certificate touch no file and parse no PEM. */
int kr_sns_verify(const json_t *msg, kr_sns_certs_t *certs, int64_t now_s, int64_t max_age_s,
                  const char **need_url, char *err, size_t errlen);

/* Message fields under both the SNS HTTP spelling and the one of messages relayed by AWS
 * Lambda. Borrowed strings inside msg, or NULL when absent or not a string. */
const char *kr_sns_cert_url(const json_t *msg);      /* SigningCertURL or SigningCertUrl */
const char *kr_sns_subscribe_url(const json_t *msg); /* SubscribeURL or SubscribeUrl */
const char *kr_sns_unsubscribe_url(const json_t *msg); /* UnsubscribeURL or UnsubscribeUrl */

#endif
