/* bench/sns_verify.c: kr_sns_verify calls per second with one cached certificate, for
 * SignatureVersion 1 and 2 (RSA 2048), next to bare OpenSSL RSA verification of the same
 * bytes, so the figure shows what the JSON, URL and store work add. Exits 1 if any
 * verification fails. Env SNS_BENCH_SECONDS (default 1) per measurement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kr/sns.h"
#include "kr/units.h"

#define URL "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"

static char *cert_pem(EVP_PKEY *key, size_t *len)
{
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400L * 365 * 10);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365 * 10);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"sns.amazonaws.com", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    if (X509_sign(x, key, EVP_sha256()) > 0 && PEM_write_bio_X509(bio, x)) {
        long n = BIO_get_mem_data(bio, &data);
        out = strndup(data, (size_t)n);
        *len = (size_t)n;
    }
    BIO_free(bio);
    X509_free(x);
    return out;
}

/* A realistic CloudWatch alarm notification (~1 KB Message), signed. */
static json_t *signed_message(EVP_PKEY *key, int version, unsigned char *sig, size_t *siglen,
                              char **tosign)
{
    char ts[32], b64[1024];
    json_t *m = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "Notification", "MessageId",
        "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn",
        "arn:aws:sns:ap-northeast-2:123456789012:kafka-alarms", "Subject",
        "ALARM: \"broker-1003-status-check\" in Asia Pacific (Seoul)", "Timestamp",
        kr_time_format(kr_now_ms(), ts, sizeof ts), "Message",
        "{\"AlarmName\":\"broker-1003-status-check\",\"AlarmDescription\":\"EC2 status check of "
        "broker 1003\",\"AWSAccountId\":\"123456789012\",\"AlarmConfigurationUpdatedTimestamp\":"
        "\"2026-11-20T10:00:00.000+0000\",\"NewStateValue\":\"ALARM\",\"NewStateReason\":"
        "\"Threshold Crossed: 1 out of the last 1 datapoints [1.0 (24/11/26 19:01:00)] was greater "
        "than or equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).\","
        "\"StateChangeTime\":\"2026-11-24T19:02:24.123+0000\",\"Region\":\"Asia Pacific (Seoul)\","
        "\"AlarmArn\":\"arn:aws:cloudwatch:ap-northeast-2:123456789012:alarm:broker-1003-status-"
        "check\",\"OldStateValue\":\"OK\",\"Trigger\":{\"MetricName\":\"StatusCheckFailed_System\","
        "\"Namespace\":\"AWS/EC2\",\"StatisticType\":\"Statistic\",\"Statistic\":\"MAXIMUM\","
        "\"Unit\":null,\"Dimensions\":[{\"value\":\"i-0abc123def4567890\",\"name\":\"InstanceId\"}],"
        "\"Period\":60,\"EvaluationPeriods\":1,\"ComparisonOperator\":"
        "\"GreaterThanOrEqualToThreshold\",\"Threshold\":1.0,\"TreatMissingData\":\"missing\"}}");
    char err[256];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    kr_sns_string_to_sign(m, tosign, err, sizeof err);
    EVP_DigestSignInit(ctx, NULL, version == 1 ? EVP_sha1() : EVP_sha256(), NULL, key);
    EVP_DigestSign(ctx, sig, siglen, (unsigned char *)*tosign, strlen(*tosign));
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)*siglen);
    json_object_set_new(m, "SignatureVersion", json_string(version == 1 ? "1" : "2"));
    json_object_set_new(m, "SigningCertURL", json_string(URL));
    json_object_set_new(m, "Signature", json_string(b64));
    return m;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    double secs = getenv("SNS_BENCH_SECONDS") ? atof(getenv("SNS_BENCH_SECONDS")) : 1.0;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    size_t len = 0;
    char *pem = cert_pem(key, &len), err[256] = "";
    kr_sns_certs_t *c = kr_sns_certs_new(NULL);
    int failed = 0;

    if (!pem || !c || kr_sns_certs_add_pem(c, URL, pem, len, err, sizeof err) != 0) {
        fprintf(stderr, "sns_verify: setup failed: %s\n", err);
        return 1;
    }
    printf("sns_verify: RSA 2048, one cached certificate, %.1fs per figure\n", secs);
    for (int v = 1; v <= 2; v++) {
        unsigned char sig[512];
        size_t siglen = sizeof sig;
        char *tosign = NULL;
        json_t *m = signed_message(key, v, sig, &siglen, &tosign);
        int64_t now = kr_now_ms() / 1000;
        long n = 0;
        double t0 = now_s(), t;
        do {
            for (int i = 0; i < 100; i++, n++)
                if (kr_sns_verify(m, c, now, 900, NULL, err, sizeof err) != 0) {
                    fprintf(stderr, "sns_verify: v%d failed: %s\n", v, err);
                    failed = 1;
                    goto next;
                }
        } while ((t = now_s() - t0) < secs);
        double kr_rate = (double)n / t;

        /* Bare OpenSSL: the same signature over the same string, no JSON or store. */
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = v == 1 ? EVP_sha1() : EVP_sha256();
        n = 0;
        t0 = now_s();
        do {
            for (int i = 0; i < 100; i++, n++) {
                EVP_MD_CTX_reset(ctx);
                if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1 ||
                    EVP_DigestVerify(ctx, sig, siglen, (unsigned char *)tosign, strlen(tosign)) != 1)
                    failed = 1;
            }
        } while ((t = now_s() - t0) < secs);
        double raw_rate = (double)n / t;
        EVP_MD_CTX_free(ctx);
        printf("sns_verify: SignatureVersion %d (%s): %.0f verify calls/s (%.1f us each); "
               "bare OpenSSL verify %.0f/s\n", v, v == 1 ? "SHA1withRSA" : "SHA256withRSA",
               kr_rate, 1e6 / kr_rate, raw_rate);
    next:
        json_decref(m);
        free(tosign);
    }
    kr_sns_certs_free(c);
    EVP_PKEY_free(key);
    free(pem);
    return failed;
}
