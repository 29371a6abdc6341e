/* intake/sns.c: Amazon SNS message verification: string-to-sign, SigningCertURL rules,
 * SHA1withRSA / SHA256withRSA signatures, and the signing-certificate store (parsed
 * X509 + public key per URL in memory, PEM files in a cert directory). Loop thread only.
 * The formats follow AWS's "Verifying the signatures of Amazon SNS messages" and the
 * AWS SNS message validators (PHP, JavaScript). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kr/cli.h"
#include "kr/err.h"
#include "kr/sns.h"
#include "kr/units.h"

#define SNS_URL_MAX 1024          /* real ones are ~90 bytes */
#define SNS_CERT_FILE_MAX 65536   /* real ones are ~1.8 KB */
#define SNS_SIG_MAX 1024          /* decoded bytes: an 8192-bit RSA signature */

typedef struct sns_cert {
    struct sns_cert *next;        /* hash chain */
    char *url;
    X509 *x509;
    EVP_PKEY *pkey;
    int64_t not_before_ms, not_after_ms;
    int is_rsa;
} sns_cert_t;

struct kr_sns_certs {
    char *dir;                    /* NULL: memory only */
    sns_cert_t **buckets;
    size_t nbuckets, count;
    EVP_MD *sha1, *sha256;        /* fetched once: no provider lookup per verification */
    unsigned tmp_seq;
    /* Verification runs on the intake workers while the loop adds fetched certificates:
     * mu guards the table and the directory; a verification takes its own reference to
     * the key, so a certificate replaced meanwhile stays valid until it is done. */
    pthread_mutex_t mu;
};

enum sns_type { SNS_NOTIFICATION, SNS_SUBSCRIPTION_CONFIRMATION, SNS_UNSUBSCRIBE_CONFIRMATION };

/* ---- message fields ---------------------------------------------------------------- */

static const char *str_member(const json_t *msg, const char *key)
{
    json_t *v = json_object_get(msg, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *str_member2(const json_t *msg, const char *key, const char *alt)
{
    const char *s = str_member(msg, key);
    return s ? s : str_member(msg, alt);
}

const char *kr_sns_cert_url(const json_t *msg)
{
    return str_member2(msg, "SigningCertURL", "SigningCertUrl");
}

const char *kr_sns_subscribe_url(const json_t *msg)
{
    return str_member2(msg, "SubscribeURL", "SubscribeUrl");
}

const char *kr_sns_unsubscribe_url(const json_t *msg)
{
    return str_member2(msg, "UnsubscribeURL", "UnsubscribeUrl");
}

typedef struct {
    const char *key;
    const char *val;
    size_t len;
} sns_pair_t;

/* Fetches a required string member (under `key`, or the Lambda spelling `alt`). A value
 * with an embedded NUL is refused: the string-to-sign is a C string, and SNS never sends
 * one. */
static int need_string(const json_t *msg, const char *key, const char *alt, sns_pair_t *p,
                       char *err, size_t errlen)
{
    json_t *v = json_object_get(msg, key);
    if (!v && alt)
        v = json_object_get(msg, alt);
    if (!v || json_is_null(v))
        return kr_seterr(err, errlen, KR_EINVAL, "SNS message has no \"%s\"", key);
    if (!json_is_string(v))
        return kr_seterr(err, errlen, KR_EINVAL, "SNS message \"%s\" must be a string", key);
    p->key = key;
    p->val = json_string_value(v);
    p->len = json_string_length(v);
    if (strlen(p->val) != p->len)
        return kr_seterr(err, errlen, KR_EINVAL, "SNS message \"%s\" contains a NUL character",
                         key);
    return KR_OK;
}

static int message_type(const json_t *msg, enum sns_type *type, char *err, size_t errlen)
{
    sns_pair_t p;
    int rc = need_string(msg, "Type", NULL, &p, err, errlen);
    if (rc)
        return rc;
    if (strcmp(p.val, "Notification") == 0)
        *type = SNS_NOTIFICATION;
    else if (strcmp(p.val, "SubscriptionConfirmation") == 0)
        *type = SNS_SUBSCRIPTION_CONFIRMATION;
    else if (strcmp(p.val, "UnsubscribeConfirmation") == 0)
        *type = SNS_UNSUBSCRIBE_CONFIRMATION;
    else
        return kr_seterr(err, errlen, KR_EINVAL,
                         "SNS message Type \"%.64s\" is not Notification, SubscriptionConfirmation "
                         "or UnsubscribeConfirmation", p.val);
    return KR_OK;
}

/* Collects the signed pairs in byte order of their keys (the order AWS documents). */
static int signed_pairs(const json_t *msg, sns_pair_t pairs[7], size_t *n, char *err,
                        size_t errlen)
{
    enum sns_type type = SNS_NOTIFICATION;
    size_t k = 0;
    int rc;

    if (!json_is_object(msg))
        return kr_seterr(err, errlen, KR_EINVAL, "SNS message is not a JSON object");
    if ((rc = message_type(msg, &type, err, errlen)))
        return rc;
    if ((rc = need_string(msg, "Message", NULL, &pairs[k++], err, errlen)) ||
        (rc = need_string(msg, "MessageId", NULL, &pairs[k++], err, errlen)))
        return rc;
    if (type == SNS_NOTIFICATION) {
        json_t *subject = json_object_get(msg, "Subject");
        if (subject && !json_is_null(subject) &&
            (rc = need_string(msg, "Subject", NULL, &pairs[k++], err, errlen)))
            return rc;
    } else if ((rc = need_string(msg, "SubscribeURL", "SubscribeUrl", &pairs[k++], err, errlen))) {
        return rc;
    }
    if ((rc = need_string(msg, "Timestamp", NULL, &pairs[k++], err, errlen)))
        return rc;
    if (type != SNS_NOTIFICATION && (rc = need_string(msg, "Token", NULL, &pairs[k++], err, errlen)))
        return rc;
    if ((rc = need_string(msg, "TopicArn", NULL, &pairs[k++], err, errlen)) ||
        (rc = need_string(msg, "Type", NULL, &pairs[k++], err, errlen)))
        return rc;
    *n = k;
    return KR_OK;
}

/* Joins the pairs as "Key\nValue\n"... into a new string. */
static int join_pairs(const sns_pair_t *pairs, size_t n, char **out, char *err, size_t errlen)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(pairs[i].key) + pairs[i].len + 2;
    char *s = malloc(total), *p = s;
    if (!s)
        return kr_seterr(err, errlen, KR_ENOMEM, "out of memory building the string to sign");
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(pairs[i].key);
        memcpy(p, pairs[i].key, kl);
        p += kl;
        *p++ = '\n';
        memcpy(p, pairs[i].val, pairs[i].len);
        p += pairs[i].len;
        *p++ = '\n';
    }
    *p = '\0';
    *out = s;
    return KR_OK;
}

int kr_sns_string_to_sign(const json_t *msg, char **out, char *err, size_t errlen)
{
    sns_pair_t pairs[7];
    size_t n = 0;
    int rc;

    *out = NULL;
    if ((rc = signed_pairs(msg, pairs, &n, err, errlen)))
        return rc;
    return join_pairs(pairs, n, out, err, errlen);
}

/* ---- SigningCertURL ---------------------------------------------------------------- */

static int is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn; <region> is 3 or more of
 * [A-Za-z0-9-] (the AWS validators' pattern), so no look-alike suffix or prefix fits. */
static int sns_host_ok(const char *h, size_t len)
{
    static const char *suffixes[] = { ".amazonaws.com", ".amazonaws.com.cn" };
    if (len < 4 || memcmp(h, "sns.", 4) != 0)
        return 0;
    size_t r = 4;
    while (r < len && (is_alnum(h[r]) || h[r] == '-'))
        r++;
    if (r - 4 < 3)
        return 0;
    for (size_t i = 0; i < 2; i++) {
        size_t sl = strlen(suffixes[i]);
        if (len - r == sl && memcmp(h + r, suffixes[i], sl) == 0)
            return 1;
    }
    return 0;
}

/* Checks url and returns its file name (last path segment) in *name / *name_len. */
static int check_cert_url(const char *url, const char **name, size_t *name_len, char *err,
                          size_t errlen)
{
    if (!url || !*url)
        return kr_seterr(err, errlen, KR_EAUTH, "SNS message has no SigningCertURL");
    size_t len = strlen(url);
    if (len > SNS_URL_MAX)
        return kr_seterr(err, errlen, KR_EAUTH, "SigningCertURL is longer than %d bytes",
                         SNS_URL_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return kr_seterr(err, errlen, KR_EAUTH,
                             "SigningCertURL \"%.200s\" contains a space, control or non-ASCII "
                             "character", url);
    if (strncasecmp(url, "https://", 8) != 0)
        return kr_seterr(err, errlen, KR_EAUTH,
                         "SigningCertURL \"%.200s\" is not an https:// URL; SNS certificates are "
                         "only fetched over HTTPS", url);
    if (strpbrk(url, "?#"))
        return kr_seterr(err, errlen, KR_EAUTH,
                         "SigningCertURL \"%.200s\" has a query string or fragment; an SNS "
                         "certificate URL is a plain path ending in .pem", url);
    const char *host = url + 8, *path = strchr(host, '/');
    size_t host_len = path ? (size_t)(path - host) : strlen(host);
    if (memchr(host, '@', host_len))
        return kr_seterr(err, errlen, KR_EAUTH,
                         "SigningCertURL \"%.200s\" has a user name (\"user@\"); SNS never sends one",
                         url);
    if (memchr(host, ':', host_len))
        return kr_seterr(err, errlen, KR_EAUTH,
                         "SigningCertURL \"%.200s\" names a port; SNS certificates are served on "
                         "the default HTTPS port", url);
    if (!sns_host_ok(host, host_len))
        return kr_seterr(err, errlen, KR_EAUTH,
                         "SigningCertURL host \"%.*s\" is not an SNS host "
                         "(sns.<region>.amazonaws.com or sns.<region>.amazonaws.com.cn)",
                         (int)(host_len > 200 ? 200 : host_len), host);
    if (!path || !path[1])
        return kr_seterr(err, errlen, KR_EAUTH,
                         "SigningCertURL \"%.200s\" has no path to a .pem file", url);
    const char *seg = path + 1;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t sl = end ? (size_t)(end - seg) : strlen(seg);
        if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
            return kr_seterr(err, errlen, KR_EAUTH,
                             "SigningCertURL \"%.200s\" has an empty, \".\" or \"..\" path segment",
                             url);
        for (size_t i = 0; i < sl; i++)
            if (!is_alnum(seg[i]) && seg[i] != '.' && seg[i] != '_' && seg[i] != '-')
                return kr_seterr(err, errlen, KR_EAUTH,
                                 "SigningCertURL \"%.200s\" has a path character other than "
                                 "letters, digits, '.', '_', '-' (percent-escapes are refused)",
                                 url);
        if (!end) {
            if (sl <= 4 || memcmp(seg + sl - 4, ".pem", 4) != 0 || seg[0] == '.')
                return kr_seterr(err, errlen, KR_EAUTH,
                                 "SigningCertURL \"%.200s\" does not name a .pem file", url);
            *name = seg;
            *name_len = sl;
            return KR_OK;
        }
        seg = end + 1;
    }
}

int kr_sns_check_cert_url(const char *url, char *err, size_t errlen)
{
    const char *name;
    size_t name_len;
    return check_cert_url(url, &name, &name_len, err, errlen);
}

/* ---- certificate store ------------------------------------------------------------- */

static uint64_t url_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void cert_free(sns_cert_t *e)
{
    if (!e)
        return;
    EVP_PKEY_free(e->pkey);
    X509_free(e->x509);
    free(e->url);
    free(e);
}

kr_sns_certs_t *kr_sns_certs_new(const char *cert_dir)
{
    kr_sns_certs_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = 16;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    c->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    pthread_mutex_init(&c->mu, NULL);
    if (cert_dir)
        c->dir = strdup(cert_dir);
    if (!c->buckets || !c->sha1 || !c->sha256 || (cert_dir && !c->dir)) {
        kr_sns_certs_free(c);
        return NULL;
    }
    return c;
}

void kr_sns_certs_free(kr_sns_certs_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->buckets && i < c->nbuckets; i++)
        for (sns_cert_t *e = c->buckets[i], *next; e; e = next) {
            next = e->next;
            cert_free(e);
        }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    EVP_MD_free(c->sha1);
    EVP_MD_free(c->sha256);
    free(c->dir);
    free(c);
}

static sns_cert_t *store_find(const kr_sns_certs_t *c, const char *url)
{
    for (sns_cert_t *e = c->buckets[url_hash(url) & (c->nbuckets - 1)]; e; e = e->next)
        if (strcmp(e->url, url) == 0)
            return e;
    return NULL;
}

/* Inserts e, replacing (and freeing) an entry for the same URL. Never fails: growing the
 * table is an optimisation, skipped when memory is short. */
static void store_put(kr_sns_certs_t *c, sns_cert_t *e)
{
    sns_cert_t **pp = &c->buckets[url_hash(e->url) & (c->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->url, e->url) == 0) {
            sns_cert_t *old = *pp;
            e->next = old->next;
            *pp = e;
            cert_free(old);
            return;
        }
    e->next = NULL;
    *pp = e;
    if (++c->count <= c->nbuckets)
        return;
    size_t nb = c->nbuckets * 2;
    sns_cert_t **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < c->nbuckets; i++)
        for (sns_cert_t *x = c->buckets[i], *next; x; x = next) {
            next = x->next;
            size_t j = url_hash(x->url) & (nb - 1);
            x->next = b[j];
            b[j] = x;
        }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = nb;
}

static int asn1_time_ms(const ASN1_TIME *t, int64_t *ms)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

/* Parses a PEM certificate into a new entry for url. `what` names the source in errors. */
static int cert_parse(const char *url, const char *pem, size_t len, const char *what,
                      sns_cert_t **out, char *err, size_t errlen)
{
    sns_cert_t *e = NULL;
    BIO *bio = NULL;
    int rc = KR_EINVAL;

    *out = NULL;
    if (len > SNS_CERT_FILE_MAX) {
        kr_seterr(err, errlen, KR_EINVAL, "%s is larger than %d bytes; not an SNS certificate",
                  what, SNS_CERT_FILE_MAX);
        goto done;
    }
    if (!(e = calloc(1, sizeof *e)) || !(e->url = strdup(url)) ||
        !(bio = BIO_new_mem_buf(pem, (int)len))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory reading %s", what);
        goto done;
    }
    e->x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (!e->x509) {
        kr_seterr(err, errlen, KR_EINVAL, "%s is not a PEM X.509 certificate", what);
        goto done;
    }
    e->pkey = X509_get_pubkey(e->x509);
    if (!e->pkey || asn1_time_ms(X509_get0_notBefore(e->x509), &e->not_before_ms) ||
        asn1_time_ms(X509_get0_notAfter(e->x509), &e->not_after_ms)) {
        kr_seterr(err, errlen, KR_EINVAL, "%s has no usable public key or validity dates", what);
        goto done;
    }
    e->is_rsa = EVP_PKEY_is_a(e->pkey, "RSA");
    *out = e;
    e = NULL;
    rc = KR_OK;
done:
    BIO_free(bio);
    cert_free(e);
    return rc;
}

static char *dir_path(const kr_sns_certs_t *c, const char *name, size_t name_len)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%.*s", c->dir, (int)name_len, name) < 0)
        return NULL;
    return p;
}

/* Writes the PEM under the URL's file name: temp file, fsync, rename, so a reader (or a
 * crash) never sees half a certificate. */
static int dir_write(kr_sns_certs_t *c, const char *name, size_t name_len, const char *pem,
                     size_t len, char *err, size_t errlen)
{
    char *path = dir_path(c, name, name_len), *tmp = NULL;
    int fd = -1, rc = KR_EIO;

    if (!path || asprintf(&tmp, "%s/.%.*s.tmp.%ld.%u", c->dir, (int)name_len, name,
                          (long)getpid(), c->tmp_seq++) < 0) {
        tmp = NULL;
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory writing a certificate");
        goto done;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        kr_seterr(err, errlen, KR_EIO, "cannot create %s: %s; check the cert dir exists and is "
                  "writable", tmp, strerror(errno));
        goto done;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, pem + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            kr_seterr(err, errlen, KR_EIO, "cannot write %s: %s", tmp, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        kr_seterr(err, errlen, KR_EIO, "cannot flush %s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        kr_seterr(err, errlen, KR_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    rc = KR_OK;
done:
    if (fd >= 0)
        close(fd);
    if (tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

int kr_sns_certs_add_pem(kr_sns_certs_t *c, const char *url, const char *pem, size_t len,
                         char *err, size_t errlen)
{
    const char *name;
    size_t name_len;
    sns_cert_t *e = NULL;
    int rc;

    if (!c || !pem)
        return kr_seterr(err, errlen, KR_EINVAL, "no certificate store or PEM given");
    if (check_cert_url(url, &name, &name_len, err, errlen))
        return KR_EINVAL;
    if ((rc = cert_parse(url, pem, len, "the certificate fetched", &e, err, errlen)))
        return rc;
    pthread_mutex_lock(&c->mu);
    store_put(c, e);
    rc = c->dir ? dir_write(c, name, name_len, pem, len, err, errlen) : KR_OK;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Finds the certificate of a checked URL: memory first, then the directory (then cached).
 * KR_EAGAIN when it is in neither or the file is unusable, so the caller fetches it. */
static int store_get(kr_sns_certs_t *c, const char *url, const char *name, size_t name_len,
                     sns_cert_t **out, char *err, size_t errlen)
{
    char *path = NULL, *buf = NULL;
    int fd = -1, rc = KR_EAGAIN;
    struct stat st;

    if ((*out = store_find(c, url)))
        return KR_OK;
    if (!c->dir)
        return kr_seterr(err, errlen, KR_EAGAIN, "certificate %.*s is not cached; fetch %s",
                         (int)name_len, name, url);
    if (!(path = dir_path(c, name, name_len))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            kr_seterr(err, errlen, KR_EAGAIN, "certificate %.*s not found in %s", (int)name_len,
                      name, c->dir);
        else
            kr_seterr(err, errlen, KR_EAGAIN, "cannot read certificate %s: %s", path,
                      strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SNS_CERT_FILE_MAX) {
        kr_seterr(err, errlen, KR_EAGAIN, "certificate %s is not a regular file of at most %d "
                  "bytes", path, SNS_CERT_FILE_MAX);
        goto done;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    size_t len = 0;
    while (len < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (cert_parse(url, buf, len, path, out, err, errlen)) {
        rc = KR_EAGAIN;
        goto done;
    }
    store_put(c, *out);
    rc = KR_OK;
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(path);
    return rc;
}

/* ---- verification ------------------------------------------------------------------ */

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

/* Strict standard base64 (RFC 4648 section 4), padding optional. Returns the decoded
 * length, or -1 for a bad character, bad padding or more than cap bytes. */
static long b64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
    size_t n = 0, bits = 0, pad = 0;
    uint32_t acc = 0;

    while (len && s[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }
    if (pad && (len + pad) % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0) /* a lone sextet or stray low bits */
        return -1;
    return (long)n;
}

int kr_sns_verify(const json_t *msg, kr_sns_certs_t *certs, int64_t now_s, int64_t max_age_s,
                  const char **need_url, char *err, size_t errlen)
{
    sns_pair_t pairs[7], sigv, sig;
    size_t npairs = 0, name_len = 0;
    const char *url, *name = NULL;
    char *tosign = NULL;
    unsigned char rawsig[SNS_SIG_MAX];
    int64_t ts_ms;
    sns_cert_t *cert = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *mdctx = NULL;
    int64_t not_before_ms = 0, not_after_ms = 0;
    int is_rsa = 0;
    const EVP_MD *md;
    int rc;

    if (need_url)
        *need_url = NULL;
    if (!certs)
        return kr_seterr(err, errlen, KR_EINVAL, "no certificate store given");
    /* Malformed first (KR_EINVAL), then what an attacker controls (KR_EAUTH), then the
     * certificate (KR_EAGAIN), so nothing is fetched for a message refused anyway. */
    if ((rc = signed_pairs(msg, pairs, &npairs, err, errlen)) ||
        (rc = need_string(msg, "SignatureVersion", NULL, &sigv, err, errlen)) ||
        (rc = need_string(msg, "Signature", NULL, &sig, err, errlen)))
        goto done;
    url = kr_sns_cert_url(msg);
    if (!url) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "SNS message has no \"SigningCertURL\" string");
        goto done;
    }
    const char *ts = json_string_value(json_object_get(msg, "Timestamp"));
    if (kr_time_parse(ts, &ts_ms) != 0) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "SNS message Timestamp \"%.64s\" is not an RFC 3339 "
                       "time", ts);
        goto done;
    }
    if (strcmp(sigv.val, "1") == 0) {
        md = certs->sha1;
    } else if (strcmp(sigv.val, "2") == 0) {
        md = certs->sha256;
    } else {
        rc = kr_seterr(err, errlen, KR_EAUTH, "SignatureVersion \"%.32s\" is not supported; SNS "
                       "signs with 1 (SHA1withRSA) or 2 (SHA256withRSA)", sigv.val);
        goto done;
    }
    if ((rc = check_cert_url(url, &name, &name_len, err, errlen)))
        goto done;
    if (max_age_s > 0 && max_age_s < INT64_MAX / 1000) {
        int64_t age_ms = now_s * 1000 - ts_ms;
        if (age_ms > max_age_s * 1000 || -age_ms > max_age_s * 1000) {
            rc = kr_seterr(err, errlen, KR_EAUTH,
                           "SNS message Timestamp %s is %llds %s now, more than the maximum age "
                           "of %llds", ts, (long long)((age_ms < 0 ? -age_ms : age_ms) / 1000),
                           age_ms < 0 ? "after" : "before", (long long)max_age_s);
            goto done;
        }
    }
    long siglen = b64_decode(sig.val, sig.len, rawsig, sizeof rawsig);
    if (siglen <= 0) {
        rc = kr_seterr(err, errlen, KR_EAUTH, "SNS message Signature is not base64 of at most %d "
                       "bytes", SNS_SIG_MAX);
        goto done;
    }
    pthread_mutex_lock(&certs->mu);
    if ((rc = store_get(certs, url, name, name_len, &cert, err, errlen)) == KR_OK) {
        pkey = cert->pkey;
        EVP_PKEY_up_ref(pkey);
        not_before_ms = cert->not_before_ms;
        not_after_ms = cert->not_after_ms;
        is_rsa = cert->is_rsa;
    }
    pthread_mutex_unlock(&certs->mu);
    if (rc) {
        if (rc == KR_EAGAIN && need_url)
            *need_url = url;
        goto done;
    }
    if (ts_ms < not_before_ms || ts_ms > not_after_ms) {
        char nb[32], na[32];
        rc = kr_seterr(err, errlen, KR_EAUTH,
                       "certificate %.*s is not valid at the message's Timestamp %s (valid from "
                       "%s to %s)", (int)name_len, name, ts,
                       kr_time_format(not_before_ms, nb, sizeof nb),
                       kr_time_format(not_after_ms, na, sizeof na));
        goto done;
    }
    if (!is_rsa) {
        rc = kr_seterr(err, errlen, KR_EAUTH, "certificate %.*s does not hold an RSA key; SNS "
                       "signs with RSA", (int)name_len, name);
        goto done;
    }
    if ((rc = join_pairs(pairs, npairs, &tosign, err, errlen)))
        goto done;
    if (!(mdctx = EVP_MD_CTX_new())) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "out of memory");
        goto done;
    }
    if (EVP_DigestVerifyInit(mdctx, NULL, md, NULL, pkey) != 1 ||
        EVP_DigestVerify(mdctx, rawsig, (size_t)siglen, (const unsigned char *)tosign,
                         strlen(tosign)) != 1) {
        rc = kr_seterr(err, errlen, KR_EAUTH, "signature does not match the message "
                       "(SignatureVersion %s, %s, certificate %.*s)", sigv.val,
                       md == certs->sha1 ? "SHA1withRSA" : "SHA256withRSA", (int)name_len, name);
        goto done;
    }
    rc = KR_OK;
done:
    ERR_clear_error();
    EVP_MD_CTX_free(mdctx);
    EVP_PKEY_free(pkey);
    free(tosign);
    return rc;
}

/* ---- kresponder sns-verify --------------------------------------------------------- */

#define SNS_CLI_MAX_INPUT (4 << 20) /* SNS messages are at most 256 KiB */

static void sns_verify_usage(FILE *f)
{
    fprintf(f, "usage: kresponder sns-verify --cert-dir DIR [--max-age DURATION] FILE|-\n"
               "Verifies an SNS message (HTTP delivery or Lambda Sns record) offline with the\n"
               "signing certificates in DIR, each named by its URL's file name. Prints \"valid\"\n"
               "(exit 0) or \"invalid: REASON\" (exit 1). The message's age is checked only with\n"
               "--max-age (e.g. 15m).\n");
}

static char *read_input(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0;

    *len = 0;
    if (!f) {
        kr_seterr(err, errlen, KR_EIO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (*len == cap) {
            char *nb = cap >= SNS_CLI_MAX_INPUT ? NULL : realloc(buf, cap ? cap * 2 : 65536);
            if (!nb) {
                kr_seterr(err, errlen, KR_EIO, "%s is larger than %d bytes", path,
                          SNS_CLI_MAX_INPUT);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            if (ferror(f)) {
                kr_seterr(err, errlen, KR_EIO, "cannot read %s: %s", path, strerror(errno));
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    return buf;
}

int kr_cmd_sns_verify(int argc, char **argv)
{
    const char *dir = NULL, *file = NULL, *max_age = NULL;
    int64_t max_age_ms = 0;
    char err[512] = "", *buf = NULL;
    size_t len = 0;
    json_t *msg = NULL;
    kr_sns_certs_t *certs = NULL;
    struct stat st;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sns_verify_usage(stdout);
            return 0;
        } else if (strcmp(a, "--cert-dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strncmp(a, "--cert-dir=", 11) == 0) {
            dir = a + 11;
        } else if (strcmp(a, "--max-age") == 0 && i + 1 < argc) {
            max_age = argv[++i];
        } else if (strncmp(a, "--max-age=", 10) == 0) {
            max_age = a + 10;
        } else if ((a[0] != '-' || strcmp(a, "-") == 0) && !file) {
            file = a;
        } else {
            fprintf(stderr, "kresponder sns-verify: unexpected argument \"%s\"\n", a);
            sns_verify_usage(stderr);
            return 2;
        }
    }
    if (!dir || !file) {
        fprintf(stderr, "kresponder sns-verify: %s\n", !dir ? "--cert-dir DIR is required"
                                                           : "give a message FILE or - for stdin");
        sns_verify_usage(stderr);
        return 2;
    }
    if (max_age && kr_duration_parse(max_age, &max_age_ms, err, sizeof err) != 0) {
        fprintf(stderr, "kresponder sns-verify: --max-age: %s\n", err);
        return 2;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "kresponder sns-verify: cert dir %s is not a directory\n", dir);
        return 2;
    }
    if (!(buf = read_input(file, &len, err, sizeof err))) {
        fprintf(stderr, "kresponder sns-verify: %s\n", err);
        goto done;
    }
    if (!(certs = kr_sns_certs_new(dir))) {
        fprintf(stderr, "kresponder sns-verify: out of memory\n");
        goto done;
    }
    json_error_t jerr;
    msg = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!msg) {
        printf("invalid: %s is not JSON: line %d column %d: %s\n",
               strcmp(file, "-") == 0 ? "stdin" : file, jerr.line, jerr.column, jerr.text);
        rc = 1;
        goto done;
    }
    /* A Lambda event holds the message in Records[0].Sns. */
    const json_t *m = msg;
    json_t *records = json_object_get(msg, "Records");
    if (json_is_array(records) && json_array_size(records) == 1 &&
        json_is_object(json_object_get(json_array_get(records, 0), "Sns")))
        m = json_object_get(json_array_get(records, 0), "Sns");
    /* Duration in ms to seconds, rounding up so "1500ms" never allows less than asked. */
    int64_t max_age_s = max_age_ms > 0 ? (max_age_ms + 999) / 1000 : 0;
    if (kr_sns_verify(m, certs, (int64_t)time(NULL), max_age_s, NULL, err, sizeof err) == 0) {
        printf("valid\n");
        rc = 0;
    } else {
        printf("invalid: %s\n", err);
        rc = 1;
    }
done:
    json_decref(msg);
    kr_sns_certs_free(certs);
    free(buf);
    return rc;
}
