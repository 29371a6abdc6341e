/* tests/unit/test_sns.c: SNS verification. The test makes its own RSA key and self-signed
 * certificates with OpenSSL and signs messages with its own string-to-sign (written from
 * AWS's documentation, independently of kr_sns_string_to_sign). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kr/err.h"
#include "kr/sns.h"
#include "kr/units.h"
#include "kr_test.h"

#define URL1 "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
#define URL2 "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1111111111111111111111.pem"
#define T_2020 1577836800LL /* 2020-01-01T00:00:00Z */
#define T_2030 1893456000LL /* 2030-01-01T00:00:00Z */

static EVP_PKEY *test_key(void)
{
    static EVP_PKEY *key;
    if (!key)
        key = EVP_RSA_gen(2048);
    return key;
}

/* A self-signed certificate for key, valid [not_before, not_after] (epoch seconds), PEM. */
static char *make_cert_pem(EVP_PKEY *key, int64_t not_before, int64_t not_after, size_t *len)
{
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL, *data;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sns.amazonaws.com",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, key, EVP_sha256()) > 0 && PEM_write_bio_X509(bio, x)) {
        long n = BIO_get_mem_data(bio, &data);
        out = malloc((size_t)n + 1);
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(bio);
    X509_free(x);
    return out;
}

static kr_sns_certs_t *store_with(const char *dir, const char *url, int64_t nb, int64_t na)
{
    size_t len = 0;
    char err[256] = "";
    kr_sns_certs_t *c = kr_sns_certs_new(dir);
    char *pem = make_cert_pem(test_key(), nb, na, &len);
    int rc = kr_sns_certs_add_pem(c, url, pem, len, err, sizeof err);
    CHECKF(rc == 0, "add_pem: %s", err);
    free(pem);
    return c;
}

static kr_sns_certs_t *default_store(void)
{
    return store_with(NULL, URL1, T_2020 - 86400 * 365 * 10, T_2030 + 86400 * 365 * 10);
}

/* The documented string-to-sign, built by this test on its own. */
static char *ref_string_to_sign(const json_t *msg)
{
    static const char *notif[] = { "Message", "MessageId", "Subject", "Timestamp", "TopicArn",
                                   "Type", NULL };
    static const char *conf[] = { "Message", "MessageId", "SubscribeURL", "Timestamp", "Token",
                                  "TopicArn", "Type", NULL };
    const char *type = json_string_value(json_object_get(msg, "Type"));
    const char **keys = type && strcmp(type, "Notification") == 0 ? notif : conf;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(msg, keys[i]);
        if (!v && strcmp(keys[i], "SubscribeURL") == 0)
            v = json_object_get(msg, "SubscribeUrl");
        if (!json_is_string(v))
            continue;
        fprintf(f, "%s\n%s\n", keys[i], json_string_value(v));
    }
    fclose(f);
    return buf;
}

/* Signs msg in place like SNS: SignatureVersion, SigningCertURL (or the Lambda spelling
 * SigningCertUrl), Signature over the documented string-to-sign. */
static void sign_msg(json_t *msg, EVP_PKEY *key, int version, const char *url, int lambda)
{
    char *tosign = ref_string_to_sign(msg);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512], b64[1024];
    size_t siglen = sizeof sig;
    int ok = EVP_DigestSignInit(ctx, NULL, version == 1 ? EVP_sha1() : EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)tosign, strlen(tosign)) == 1;
    CHECK(ok);
    EVP_EncodeBlock(b64, sig, (int)siglen);
    json_object_set_new(msg, "SignatureVersion", json_string(version == 1 ? "1" : "2"));
    json_object_set_new(msg, lambda ? "SigningCertUrl" : "SigningCertURL", json_string(url));
    json_object_set_new(msg, "Signature", json_string((char *)b64));
    EVP_MD_CTX_free(ctx);
    free(tosign);
}

static json_t *notification(int with_subject)
{
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
        "Type", "Notification",
        "MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn", "arn:aws:sns:us-east-1:123456789012:kafka-alarms",
        "Message", "{\"AlarmName\":\"broker-1003-status\",\"NewStateValue\":\"ALARM\"}\nline 2 \"q\" \xc3\xbc",
        "Timestamp", "2026-11-24T19:02:24.123Z",
        "UnsubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x");
    if (with_subject)
        json_object_set_new(m, "Subject", json_string("ALARM: \"broker-1003-status\" in US East"));
    return m;
}

static json_t *confirmation(const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
        "Type", type,
        "MessageId", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token", "2336412f37fb687f5d51e6e2425c464de12884c4ca1da3c5b6cc1c2d65df77d2",
        "TopicArn", "arn:aws:sns:us-east-1:123456789012:kafka-alarms",
        "Message", "You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:kafka-alarms.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:kafka-alarms&Token=2336412f37",
        "Timestamp", "2026-11-24T19:02:24.123Z");
}

static int verify(const json_t *m, kr_sns_certs_t *c, char *err, size_t errlen)
{
    const char *need = NULL;
    return kr_sns_verify(m, c, T_2030, 0, &need, err, errlen);
}

/* ---- string-to-sign ---------------------------------------------------------------- */

KR_TEST(string_to_sign_matches_aws_documented_examples)
{
    static const char *names[] = { "notification", "subscription-confirmation",
                                   "lambda-notification" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256], err[256] = "", *got = NULL;
        snprintf(path, sizeof path, "tests/golden/sns/%s.json", names[i]);
        json_error_t jerr;
        json_t *m = json_load_file(kr_test_path(path), 0, &jerr);
        CHECKF(m != NULL, "%s: %s", path, jerr.text);
        snprintf(path, sizeof path, "tests/golden/sns/%s.tosign", names[i]);
        char *want = kr_test_read(kr_test_path(path), NULL);
        CHECKF(want != NULL, "%s", path);
        CHECK_INT(kr_sns_string_to_sign(m, &got, err, sizeof err), 0);
        CHECK_STR(got, want);
        free(got);
        free(want);
        json_decref(m);
    }
}

KR_TEST(string_to_sign_per_type_and_subject)
{
    char err[256] = "", *s = NULL;
    json_t *m = notification(0);
    CHECK_INT(kr_sns_string_to_sign(m, &s, err, sizeof err), 0);
    CHECK(s && strstr(s, "Subject") == NULL);
    CHECK(s && strncmp(s, "Message\n{\"AlarmName\"", 20) == 0);
    free(s);
    json_object_set_new(m, "Subject", json_null());
    CHECK_INT(kr_sns_string_to_sign(m, &s, err, sizeof err), 0);
    CHECK(s && strstr(s, "Subject") == NULL);
    free(s);
    json_object_set_new(m, "Subject", json_string(""));
    CHECK_INT(kr_sns_string_to_sign(m, &s, err, sizeof err), 0);
    CHECK(s && strstr(s, "\nSubject\n\nTimestamp\n") != NULL);
    free(s);
    /* Token and SubscribeURL are not signed in a Notification even if present. */
    json_object_set_new(m, "Token", json_string("tok"));
    CHECK_INT(kr_sns_string_to_sign(m, &s, err, sizeof err), 0);
    CHECK(s && strstr(s, "Token") == NULL);
    free(s);
    json_decref(m);

    m = confirmation("UnsubscribeConfirmation");
    json_object_set_new(m, "Subject", json_string("not signed in confirmations"));
    CHECK_INT(kr_sns_string_to_sign(m, &s, err, sizeof err), 0);
    char *want = ref_string_to_sign(m);
    CHECK_STR(s, want);
    CHECK(s && strstr(s, "Subject") == NULL);
    CHECK(s && strstr(s, "\nToken\n2336412f37") != NULL);
    free(want);
    free(s);
    json_decref(m);
}

KR_TEST(string_to_sign_rejects_malformed)
{
    static const struct { const char *json; const char *want_err; } cases[] = {
        { "[]", "not a JSON object" },
        { "{\"MessageId\":\"a\"}", "no \"Type\"" },
        { "{\"Type\":\"Notice\"}", "Type \"Notice\" is not" },
        { "{\"Type\":7}", "\"Type\" must be a string" },
        { "{\"Type\":\"Notification\",\"MessageId\":\"a\",\"Timestamp\":\"t\",\"TopicArn\":\"t\"}",
          "no \"Message\"" },
        { "{\"Type\":\"Notification\",\"Message\":\"m\",\"MessageId\":\"a\",\"Timestamp\":\"t\","
          "\"TopicArn\":\"t\",\"Subject\":5}", "\"Subject\" must be a string" },
        { "{\"Type\":\"Notification\",\"Message\":\"m\",\"MessageId\":null,\"Timestamp\":\"t\","
          "\"TopicArn\":\"t\"}", "no \"MessageId\"" },
        { "{\"Type\":\"SubscriptionConfirmation\",\"Message\":\"m\",\"MessageId\":\"a\","
          "\"Timestamp\":\"t\",\"TopicArn\":\"t\",\"SubscribeURL\":\"u\"}", "no \"Token\"" },
        { "{\"Type\":\"UnsubscribeConfirmation\",\"Message\":\"m\",\"MessageId\":\"a\","
          "\"Timestamp\":\"t\",\"TopicArn\":\"t\",\"Token\":\"k\"}", "no \"SubscribeURL\"" },
        { "{\"Type\":\"Notification\",\"Message\":\"a\\u0000b\",\"MessageId\":\"a\","
          "\"Timestamp\":\"t\",\"TopicArn\":\"t\"}", "NUL" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "", *s = (char *)"sentinel";
        json_t *m = json_loads(cases[i].json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        CHECKF(m != NULL, "case %zu", i);
        CHECK_INT(kr_sns_string_to_sign(m, &s, err, sizeof err), KR_EINVAL);
        CHECK(s == NULL);
        CHECKF(strstr(err, cases[i].want_err) != NULL, "case %zu: err \"%s\" lacks \"%s\"", i,
               err, cases[i].want_err);
        json_decref(m);
    }
}

/* ---- cert URL ---------------------------------------------------------------------- */

KR_TEST(cert_url_rules)
{
    static const struct { const char *url; int ok; const char *why; } cases[] = {
        { URL1, 1, NULL },
        { "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem", 1, NULL },
        { "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", 1, NULL },
        { "HTTPS://sns.eu-west-1.amazonaws.com/a/b/SimpleNotificationService-x_y.pem", 1, NULL },
        { "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", 0, "https" },
        { "ftp://sns.us-east-1.amazonaws.com/x.pem", 0, "https" },
        { "//sns.us-east-1.amazonaws.com/x.pem", 0, "https" },
        { "", 0, "no SigningCertURL" },
        { "https://sns.us-east-1.amazonaws.com.evil.com/x.pem", 0, "not an SNS host" },
        { "https://evilsns.us-east-1.amazonaws.com/x.pem", 0, "not an SNS host" },
        { "https://sns.us-east-1.amazonaws.com.cn.evil.com/x.pem", 0, "not an SNS host" },
        { "https://sns.evil.com/sns.us-east-1.amazonaws.com/x.pem", 0, "not an SNS host" },
        { "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/x.pem", 0, "not an SNS host" },
        { "https://sns.us-east-1.amazonaws.com./x.pem", 0, "not an SNS host" },
        { "https://sns.x.amazonaws.com/x.pem", 0, "not an SNS host" },
        { "https://sns.us.east.amazonaws.com/x.pem", 0, "not an SNS host" },
        { "https://sns.amazonaws.com/x.pem", 0, "not an SNS host" },
        { "https://SNS.us-east-1.AMAZONAWS.com/x.pem", 0, "not an SNS host" },
        { "https://sns.us-east-1.amazonaws.com@evil.com/x.pem", 0, "user name" },
        { "https://user:pw@sns.us-east-1.amazonaws.com/x.pem", 0, "user name" },
        { "https://sns.us-east-1.amazonaws.com:443/x.pem", 0, "port" },
        { "https://sns.us-east-1.amazonaws.com:8443/x.pem", 0, "port" },
        { "https://[::1]/x.pem", 0, "port" },
        { "https://sns.us-east-1.amazonaws.com/x.txt", 0, ".pem" },
        { "https://sns.us-east-1.amazonaws.com/x.pem.txt", 0, ".pem" },
        { "https://sns.us-east-1.amazonaws.com/.pem", 0, ".pem" },
        { "https://sns.us-east-1.amazonaws.com/x.pem/", 0, "empty" },
        { "https://sns.us-east-1.amazonaws.com", 0, "no path" },
        { "https://sns.us-east-1.amazonaws.com/", 0, "no path" },
        { "https://sns.us-east-1.amazonaws.com/?x=cert.pem", 0, "query" },
        { "https://sns.us-east-1.amazonaws.com/redirect?to=https://evil.com/x.pem", 0, "query" },
        { "https://evil.com/x?sns.us-east-1.amazonaws.com/x.pem", 0, "query" },
        { "https://evil.com#@sns.us-east-1.amazonaws.com/x.pem", 0, "fragment" },
        { "https://sns.us-east-1.amazonaws.com/x.pem#frag", 0, "fragment" },
        { "https://sns.us-east-1.amazonaws.com/../x.pem", 0, "\"..\"" },
        { "https://sns.us-east-1.amazonaws.com//x.pem", 0, "empty" },
        { "https://sns.us-east-1.amazonaws.com/%2e%2e/x.pem", 0, "percent" },
        { "https://sns.us-east-1.amazonaws.com/a\\b.pem", 0, "path character" },
        { "https://sns.us-east-1.amazonaws.com/a b.pem", 0, "space" },
        { "https://sns.us-east-1.amazonaws.com/a\nb.pem", 0, "control" },
        { "https://sns.us-east-1.amazonaws.com\t/x.pem", 0, "control" },
        { "https://sns.us-east-1.amazonaws.com/\xc3\xa9.pem", 0, "non-ASCII" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        int rc = kr_sns_check_cert_url(cases[i].url, err, sizeof err);
        CHECKF(rc == (cases[i].ok ? 0 : KR_EAUTH), "case %zu \"%s\": rc %d err %s", i,
               cases[i].url, rc, err);
        if (!cases[i].ok)
            CHECKF(strstr(err, cases[i].why) != NULL, "case %zu: err \"%s\" lacks \"%s\"", i, err,
                   cases[i].why);
    }
    char err[256] = "";
    CHECK_INT(kr_sns_check_cert_url(NULL, err, sizeof err), KR_EAUTH);
    char *long_url = malloc(2100);
    strcpy(long_url, "https://sns.us-east-1.amazonaws.com/");
    memset(long_url + strlen(long_url), 'a', 2000);
    strcpy(long_url + 2036, ".pem");
    CHECK_INT(kr_sns_check_cert_url(long_url, err, sizeof err), KR_EAUTH);
    CHECK(strstr(err, "longer") != NULL);
    free(long_url);
}

KR_TEST(accessors_understand_lambda_spellings)
{
    json_t *m = json_pack("{s:s, s:s, s:s}", "SigningCertUrl", "a", "SubscribeUrl", "b",
                          "UnsubscribeUrl", "c");
    CHECK_STR(kr_sns_cert_url(m), "a");
    CHECK_STR(kr_sns_subscribe_url(m), "b");
    CHECK_STR(kr_sns_unsubscribe_url(m), "c");
    json_object_set_new(m, "SigningCertURL", json_string("A"));
    json_object_set_new(m, "SubscribeURL", json_string("B"));
    json_object_set_new(m, "UnsubscribeURL", json_string("C"));
    CHECK_STR(kr_sns_cert_url(m), "A");
    CHECK_STR(kr_sns_subscribe_url(m), "B");
    CHECK_STR(kr_sns_unsubscribe_url(m), "C");
    json_decref(m);
    m = json_pack("{s:i}", "SigningCertURL", 1);
    CHECK(kr_sns_cert_url(m) == NULL);
    CHECK(kr_sns_subscribe_url(m) == NULL);
    json_decref(m);
}

/* ---- signatures -------------------------------------------------------------------- */

KR_TEST(valid_messages_of_every_type_and_version)
{
    kr_sns_certs_t *c = default_store();
    const char *types[] = { "Notification", "Notification+Subject", "SubscriptionConfirmation",
                            "UnsubscribeConfirmation" };
    for (size_t t = 0; t < 4; t++)
        for (int v = 1; v <= 2; v++)
            for (int lambda = 0; lambda <= 1; lambda++) {
                char err[256] = "";
                json_t *m = t < 2 ? notification((int)t) : confirmation(types[t]);
                sign_msg(m, test_key(), v, URL1, lambda);
                CHECKF(verify(m, c, err, sizeof err) == 0, "%s v%d lambda=%d: %s", types[t], v,
                       lambda, err);
                json_decref(m);
            }
    kr_sns_certs_free(c);
}

KR_TEST(tampering_any_signed_field_fails)
{
    kr_sns_certs_t *c = default_store();
    static const struct { const char *type; const char *field; } cases[] = {
        { "Notification", "Message" },  { "Notification", "MessageId" },
        { "Notification", "Subject" },  { "Notification", "Timestamp" },
        { "Notification", "TopicArn" }, { "Notification", "Type" },
        { "SubscriptionConfirmation", "Message" },  { "SubscriptionConfirmation", "MessageId" },
        { "SubscriptionConfirmation", "SubscribeURL" }, { "SubscriptionConfirmation", "Token" },
        { "SubscriptionConfirmation", "Timestamp" }, { "SubscriptionConfirmation", "TopicArn" },
        { "SubscriptionConfirmation", "Type" },
        { "UnsubscribeConfirmation", "Token" }, { "UnsubscribeConfirmation", "SubscribeURL" },
        { "UnsubscribeConfirmation", "Type" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int v = 1; v <= 2; v++) {
            char err[256] = "";
            int notif = strcmp(cases[i].type, "Notification") == 0;
            json_t *m = notif ? notification(1) : confirmation(cases[i].type);
            if (notif && strcmp(cases[i].field, "Type") == 0) {
                /* Unsigned in a Notification; there so the retyped message is well formed. */
                json_object_set_new(m, "Token", json_string("t"));
                json_object_set_new(m, "SubscribeURL", json_string("https://x/"));
            }
            sign_msg(m, test_key(), v, URL1, 0);
            CHECK_INT(verify(m, c, err, sizeof err), 0);
            const char *old = json_string_value(json_object_get(m, cases[i].field));
            char *val = NULL;
            if (strcmp(cases[i].field, "Type") == 0)
                val = strdup(notif ? "SubscriptionConfirmation" : (strcmp(cases[i].type,
                             "UnsubscribeConfirmation") == 0 ? "SubscriptionConfirmation"
                                                             : "UnsubscribeConfirmation"));
            else if (strcmp(cases[i].field, "Timestamp") == 0)
                val = strdup("2026-11-24T19:02:24.124Z");
            else if (asprintf(&val, "%sX", old) < 0)
                val = NULL;
            json_object_set_new(m, cases[i].field, json_string(val));
            int rc = verify(m, c, err, sizeof err);
            CHECKF(rc == KR_EAUTH, "%s.%s v%d: rc %d (%s)", cases[i].type, cases[i].field, v, rc,
                   err);
            CHECKF(strstr(err, "signature does not match") != NULL, "%s", err);
            free(val);
            json_decref(m);
        }
    kr_sns_certs_free(c);
}

KR_TEST(unsigned_fields_may_change)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    json_t *m = notification(1);
    sign_msg(m, test_key(), 2, URL1, 0);
    json_object_set_new(m, "UnsubscribeURL", json_string("https://example.com/"));
    json_object_set_new(m, "MessageAttributes", json_object());
    json_object_set_new(m, "Token", json_string("not signed in a Notification"));
    CHECKF(verify(m, c, err, sizeof err) == 0, "%s", err);
    json_decref(m);
    kr_sns_certs_free(c);
}

KR_TEST(adding_or_removing_subject_fails_and_null_subject_is_absent)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    for (int v = 1; v <= 2; v++) {
        json_t *m = notification(1);
        sign_msg(m, test_key(), v, URL1, 0);
        json_object_del(m, "Subject");
        CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
        json_decref(m);

        m = notification(0);
        sign_msg(m, test_key(), v, URL1, 0);
        json_object_set_new(m, "Subject", json_string("added"));
        CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
        json_object_set_new(m, "Subject", json_string(""));
        CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
        json_object_set_new(m, "Subject", json_null()); /* signed without, delivered as null */
        CHECKF(verify(m, c, err, sizeof err) == 0, "%s", err);
        json_decref(m);
    }
    kr_sns_certs_free(c);
}

KR_TEST(signature_version_and_signature_encoding)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    json_t *m = notification(1);
    sign_msg(m, test_key(), 1, URL1, 0);
    json_t *sig1 = json_deep_copy(json_object_get(m, "Signature"));

    /* A v1 signature claimed as v2 (and the reverse) does not verify. */
    json_object_set_new(m, "SignatureVersion", json_string("2"));
    CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
    CHECK(strstr(err, "SHA256withRSA") != NULL);
    static const char *bad_versions[] = { "3", "x", "", "01", "1 " };
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
        json_object_set_new(m, "SignatureVersion", json_string(bad_versions[i]));
        CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
        CHECKF(strstr(err, "is not supported") != NULL, "%s", err);
    }
    json_object_set_new(m, "SignatureVersion", json_integer(1));
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    json_object_del(m, "SignatureVersion");
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    CHECK(strstr(err, "SignatureVersion") != NULL);
    json_object_set_new(m, "SignatureVersion", json_string("1"));
    CHECKF(verify(m, c, err, sizeof err) == 0, "%s", err);

    /* Signature encodings. */
    const char *good = json_string_value(sig1);
    char *mangled = strdup(good);
    mangled[10] = mangled[10] == 'A' ? 'B' : 'A';
    static const char *bad_sigs[] = { "", "!!!!", "QUJD=", "QUJDRA===", "QU JD", "QUJDRA=x" };
    for (size_t i = 0; i < sizeof bad_sigs / sizeof bad_sigs[0]; i++) {
        json_object_set_new(m, "Signature", json_string(bad_sigs[i]));
        CHECKF(verify(m, c, err, sizeof err) == KR_EAUTH, "sig \"%s\"", bad_sigs[i]);
    }
    json_object_set_new(m, "Signature", json_string(mangled));
    CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
    CHECK(strstr(err, "signature does not match") != NULL);
    /* Without its padding the signature still decodes to the same bytes. */
    char *unpadded = strdup(good);
    while (unpadded[0] && unpadded[strlen(unpadded) - 1] == '=')
        unpadded[strlen(unpadded) - 1] = '\0';
    json_object_set_new(m, "Signature", json_string(unpadded));
    CHECKF(verify(m, c, err, sizeof err) == 0, "%s", err);
    json_object_set_new(m, "Signature", json_integer(5));
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    json_object_del(m, "Signature");
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    free(unpadded);
    free(mangled);
    json_decref(sig1);
    json_decref(m);
    kr_sns_certs_free(c);
}

KR_TEST(other_key_fails)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    EVP_PKEY *other = EVP_RSA_gen(2048);
    json_t *m = notification(1);
    sign_msg(m, other, 2, URL1, 0);
    CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
    json_decref(m);
    EVP_PKEY_free(other);
    kr_sns_certs_free(c);
}

KR_TEST(bad_cert_url_in_message_is_refused_before_lookup)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    const char *need = "sentinel";
    json_t *m = notification(1);
    sign_msg(m, test_key(), 2, "https://sns.us-east-1.amazonaws.com.evil.com/x.pem", 0);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), KR_EAUTH);
    CHECK(need == NULL);
    CHECK(strstr(err, "not an SNS host") != NULL);
    json_object_del(m, "SigningCertURL");
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), KR_EINVAL);
    json_decref(m);
    kr_sns_certs_free(c);
}

KR_TEST(malformed_messages_are_einval)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    json_t *m = notification(1);
    sign_msg(m, test_key(), 2, URL1, 0);
    json_object_set_new(m, "Timestamp", json_string("yesterday"));
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    CHECK(strstr(err, "Timestamp") != NULL);
    json_object_set_new(m, "Type", json_string("Alert"));
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    json_decref(m);
    m = json_string("x");
    CHECK_INT(verify(m, c, err, sizeof err), KR_EINVAL);
    json_decref(m);
    CHECK_INT(verify(NULL, c, err, sizeof err), KR_EINVAL);
    kr_sns_certs_free(c);
}

/* ---- certificate validity and message age ------------------------------------------ */

KR_TEST(certificate_must_be_valid_at_timestamp)
{
    /* Valid 2020-01-01 .. 2030-01-01 exactly. */
    kr_sns_certs_t *c = store_with(NULL, URL1, T_2020, T_2030);
    static const struct { const char *ts; int rc; } cases[] = {
        { "2019-12-31T23:59:59.999Z", KR_EAUTH },
        { "2020-01-01T00:00:00.000Z", 0 },
        { "2026-11-24T19:02:24.123Z", 0 },
        { "2030-01-01T00:00:00.000Z", 0 },
        { "2030-01-01T00:00:00.001Z", KR_EAUTH },
        { "2031-05-01T00:00:00Z", KR_EAUTH },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        json_t *m = notification(1);
        json_object_set_new(m, "Timestamp", json_string(cases[i].ts));
        sign_msg(m, test_key(), 2, URL1, 0);
        int rc = verify(m, c, err, sizeof err);
        CHECKF(rc == cases[i].rc, "%s: rc %d (%s)", cases[i].ts, rc, err);
        if (cases[i].rc)
            CHECKF(strstr(err, "is not valid at the message's Timestamp") != NULL, "%s", err);
        json_decref(m);
    }
    kr_sns_certs_free(c);
}

KR_TEST(max_age)
{
    kr_sns_certs_t *c = default_store();
    char err[256] = "";
    int64_t ts_ms;
    json_t *m = notification(1);
    sign_msg(m, test_key(), 1, URL1, 0);
    CHECK_INT(kr_time_parse("2026-11-24T19:02:24.123Z", &ts_ms), 0);
    int64_t ts = ts_ms / 1000;
    CHECK_INT(kr_sns_verify(m, c, ts + 3600, 0, NULL, err, sizeof err), 0);  /* disabled */
    CHECK_INT(kr_sns_verify(m, c, ts + 900, 900, NULL, err, sizeof err), 0);
    CHECK_INT(kr_sns_verify(m, c, ts + 901, 900, NULL, err, sizeof err), KR_EAUTH);
    CHECKF(strstr(err, "maximum age of 900s") != NULL, "%s", err);
    CHECK_INT(kr_sns_verify(m, c, ts + 86400 * 365, 900, NULL, err, sizeof err), KR_EAUTH);
    CHECK_INT(kr_sns_verify(m, c, ts - 60, 900, NULL, err, sizeof err), 0);   /* clock skew */
    CHECK_INT(kr_sns_verify(m, c, ts - 3600, 900, NULL, err, sizeof err), KR_EAUTH);
    CHECKF(strstr(err, "after now") != NULL, "%s", err);
    CHECK_INT(kr_sns_verify(m, c, ts + 3600, INT64_MAX, NULL, err, sizeof err), 0);
    json_decref(m);
    kr_sns_certs_free(c);
}

/* ---- the certificate store --------------------------------------------------------- */

KR_TEST(eagain_then_add_pem_then_valid)
{
    kr_sns_certs_t *c = kr_sns_certs_new(NULL);
    char err[256] = "";
    const char *need = NULL;
    json_t *m = confirmation("SubscriptionConfirmation");
    sign_msg(m, test_key(), 2, URL2, 0);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), KR_EAGAIN);
    CHECK(need == json_string_value(json_object_get(m, "SigningCertURL"))); /* borrowed */
    CHECK_STR(need, URL2);
    CHECK(strstr(err, "SimpleNotificationService-1111111111111111111111.pem") != NULL);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, NULL, err, sizeof err), KR_EAGAIN);

    /* A different URL's certificate does not serve this message. */
    size_t len = 0;
    char *pem = make_cert_pem(test_key(), T_2020, T_2030 + 86400, &len);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, pem, len, err, sizeof err), 0);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), KR_EAGAIN);
    CHECK_INT(kr_sns_certs_add_pem(c, need, pem, len, err, sizeof err), 0);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), 0);
    CHECK(need == NULL);

    /* Replacing the certificate with another key's makes the message fail. */
    EVP_PKEY *other = EVP_RSA_gen(2048);
    char *pem2 = make_cert_pem(other, T_2020, T_2030 + 86400, &len);
    CHECK_INT(kr_sns_certs_add_pem(c, URL2, pem2, len, err, sizeof err), 0);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), KR_EAUTH);
    EVP_PKEY_free(other);
    free(pem2);
    free(pem);
    json_decref(m);
    kr_sns_certs_free(c);
}

KR_TEST(add_pem_rejects_bad_input)
{
    kr_sns_certs_t *c = kr_sns_certs_new(NULL);
    char err[256] = "";
    size_t len = 0;
    char *pem = make_cert_pem(test_key(), T_2020, T_2030, &len);
    CHECK_INT(kr_sns_certs_add_pem(c, "http://sns.us-east-1.amazonaws.com/x.pem", pem, len, err,
                                   sizeof err), KR_EINVAL);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, "hello", 5, err, sizeof err), KR_EINVAL);
    CHECK(strstr(err, "not a PEM X.509 certificate") != NULL);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, pem, len / 2, err, sizeof err), KR_EINVAL);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, "", 0, err, sizeof err), KR_EINVAL);
    /* A private key is not a certificate. */
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    PEM_write_bio_PrivateKey(bio, test_key(), NULL, NULL, 0, NULL, NULL);
    long n = BIO_get_mem_data(bio, &data);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, data, (size_t)n, err, sizeof err), KR_EINVAL);
    BIO_free(bio);
    free(pem);
    kr_sns_certs_free(c);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/kr-sns-test.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

KR_TEST(cert_dir_survives_restart)
{
    char *dir = make_tmpdir(), err[256] = "";
    CHECK(dir != NULL);
    if (!dir)
        return;
    json_t *m = notification(1);
    sign_msg(m, test_key(), 2, URL1, 0);

    kr_sns_certs_t *c = kr_sns_certs_new(dir);
    CHECK_INT(verify(m, c, err, sizeof err), KR_EAGAIN);
    char want[512];
    snprintf(want, sizeof want, "certificate SimpleNotificationService-0000000000000000000000.pem "
             "not found in %s", dir);
    CHECK_STR(err, want);
    kr_sns_certs_free(c);

    c = store_with(dir, URL1, T_2020, T_2030 + 86400);
    CHECK_INT(verify(m, c, err, sizeof err), 0);
    kr_sns_certs_free(c);
    char path[512];
    snprintf(path, sizeof path, "%s/SimpleNotificationService-0000000000000000000000.pem", dir);
    char *file = kr_test_read(path, NULL);
    CHECK(file && strncmp(file, "-----BEGIN CERTIFICATE-----", 27) == 0);
    free(file);
    CHECK_INT(count_files(dir), 1); /* no temp file left behind */

    /* A new store on the same directory finds it without a fetch, and keeps it parsed:
     * after the first verification the file is not needed any more. */
    c = kr_sns_certs_new(dir);
    const char *need = NULL;
    CHECKF(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err) == 0, "%s", err);
    CHECK(need == NULL);
    CHECK_INT(unlink(path), 0);
    CHECKF(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err) == 0, "%s", err);
    kr_sns_certs_free(c);

    /* A corrupt file is treated as missing, so the daemon re-fetches and overwrites it. */
    FILE *f = fopen(path, "w");
    fputs("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    c = kr_sns_certs_new(dir);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), KR_EAGAIN);
    CHECK_STR(need, URL1);
    CHECK(strstr(err, "is not a PEM X.509 certificate") != NULL);
    size_t len = 0;
    char *pem = make_cert_pem(test_key(), T_2020, T_2030 + 86400, &len);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, pem, len, err, sizeof err), 0);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), 0);
    kr_sns_certs_free(c);
    c = kr_sns_certs_new(dir);
    CHECK_INT(kr_sns_verify(m, c, T_2030, 0, &need, err, sizeof err), 0);
    kr_sns_certs_free(c);
    free(pem);
    json_decref(m);
    rm_tree(dir);
    free(dir);
}

KR_TEST(unwritable_cert_dir_is_eio_but_cert_is_kept_in_memory)
{
    char err[256] = "";
    kr_sns_certs_t *c = kr_sns_certs_new("/nonexistent/kr-sns-certs");
    size_t len = 0;
    char *pem = make_cert_pem(test_key(), T_2020, T_2030 + 86400, &len);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, pem, len, err, sizeof err), KR_EIO);
    CHECK(strstr(err, "/nonexistent/kr-sns-certs") != NULL);
    json_t *m = notification(1);
    sign_msg(m, test_key(), 1, URL1, 0);
    CHECKF(verify(m, c, err, sizeof err) == 0, "%s", err);
    json_decref(m);
    free(pem);
    kr_sns_certs_free(c);
}

KR_TEST(many_certificates_in_one_store)
{
    kr_sns_certs_t *c = kr_sns_certs_new(NULL);
    char err[256] = "", url[128];
    size_t len = 0;
    char *pem = make_cert_pem(test_key(), T_2020, T_2030 + 86400, &len);
    for (int i = 0; i < 100; i++) {
        snprintf(url, sizeof url, "https://sns.region-%d.amazonaws.com/SimpleNotificationService-%d.pem", i, i);
        CHECK_INT(kr_sns_certs_add_pem(c, url, pem, len, err, sizeof err), 0);
    }
    for (int i = 0; i < 100; i += 7) {
        snprintf(url, sizeof url, "https://sns.region-%d.amazonaws.com/SimpleNotificationService-%d.pem", i, i);
        json_t *m = notification(0);
        sign_msg(m, test_key(), 2, url, 0);
        CHECKF(verify(m, c, err, sizeof err) == 0, "%s: %s", url, err);
        json_decref(m);
    }
    free(pem);
    kr_sns_certs_free(c);
}

KR_TEST(non_rsa_certificate_and_missing_store_are_refused)
{
    char err[256] = "";
    size_t len = 0;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *pem = make_cert_pem(ec, T_2020, T_2030 + 86400, &len);
    kr_sns_certs_t *c = kr_sns_certs_new(NULL);
    CHECK_INT(kr_sns_certs_add_pem(c, URL1, pem, len, err, sizeof err), 0);
    json_t *m = notification(1);
    sign_msg(m, test_key(), 2, URL1, 0);
    CHECK_INT(verify(m, c, err, sizeof err), KR_EAUTH);
    CHECKF(strstr(err, "does not hold an RSA key") != NULL, "%s", err);
    CHECK_INT(kr_sns_verify(m, NULL, T_2030, 0, NULL, err, sizeof err), KR_EINVAL);
    json_decref(m);
    kr_sns_certs_free(c);
    free(pem);
    EVP_PKEY_free(ec);
}
