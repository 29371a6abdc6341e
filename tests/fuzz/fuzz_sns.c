/* tests/fuzz/fuzz_sns.c: arbitrary bytes as an SNS message against a store holding one test
 * certificate (the seeds are signed with its key, so mutations start from valid messages),
 * as a SigningCertURL, and as a fetched PEM. Invariants: only documented return codes; a
 * valid message has an accepted cert URL and a string-to-sign; an accepted URL is an
 * https SNS URL naming a .pem with no query, fragment, userinfo or port.
 * Seeds: tests/fuzz/seeds/fuzz_sns (signed with tests/tools/snssign and the throwaway key
 * of the certificate below, which is not kept). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kr/err.h"
#include "kr/sns.h"

#define FUZZ_URL "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem"
#define FUZZ_NOW 1795565100LL /* 2026-11-25T00:05:00Z: inside the certificate's validity */

static const char fuzz_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDGTCCAgGgAwIBAgIUPW50toidZuXPYcJDN18F5shqUjgwDQYJKoZIhvcNAQEL\n"
    "BQAwHDEaMBgGA1UEAwwRc25zLmFtYXpvbmF3cy5jb20wHhcNMjYxMTI0MTkyMjU3\n"
    "WhcNMzYxMTIxMTkyMjU3WjAcMRowGAYDVQQDDBFzbnMuYW1hem9uYXdzLmNvbTCC\n"
    "ASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALoP3xfheL/e6JiVczIDQT2U\n"
    "gxlVgNWtao+McPD6i1i32z1lFzTwTDCNSvELpj4D3ee/fguxIUaFjvd14aAY6xCg\n"
    "MU1AEUrMhbLWwpOPdSH7eFleHF/amJ0EbPuBSXvkB5+8Yemr9z8yVpTR35cawYuB\n"
    "g1SsG9W2PvFpL0ECfe6qQZareRycnvWQASYyr/uKnF7sH6zFz5drIQvXDs5xixI4\n"
    "tbdwDmF3TRI7ZqWQUaFshNrFgRuu3Ifp68lbIpnutRD+LLUg0ns0xrA+duNLzqOL\n"
    "I5rAGxIm0UE28+SrMvPL2CF9xJvr0wugTJTpMXQxVN+3o5BdFDOO3ErLoKcirN8C\n"
    "AwEAAaNTMFEwHQYDVR0OBBYEFCFsEv8NyrLE75wyOd5Zc0EtbleQMB8GA1UdIwQY\n"
    "MBaAFCFsEv8NyrLE75wyOd5Zc0EtbleQMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZI\n"
    "hvcNAQELBQADggEBAClF1vNk15GbVfZl8PC2k1OWvYHowda/NxaQLOpm8xuGdhGo\n"
    "XJh3iSvsC0ByRP5IMmcAlRcv0m46JOLpvRDDMQmHWUWhFse97jcujny9dNTtnTy6\n"
    "qKoQEVLIrhnwTjqeOlrfBJBQ5Qt0XGW8136daWF/+vx74SXpoeRTBvqhYNEbDxE5\n"
    "kaPtdr/3VziNQx+hK7zV7Nuy3CIjq1u7qYU7PHVl0HF1aiZqv/Ik6ixYPgxXBZPL\n"
    "YGSfOvw2G2izL7TwJ/62/MBOax75AzIPB1Rl25Wmqv1TfCgmYpGhzgynEBL5dNSG\n"
    "wD3EKCSxzzfVhO9L4nTD8Z1jD9CBwtJy0gdJ+s8=\n"
    "-----END CERTIFICATE-----\n"
    ;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url_invariants(const char *s)
{
    size_t n = strlen(s);
    if (strncasecmp(s, "https://sns.", 12) != 0 || n < 5 || strcmp(s + n - 4, ".pem") != 0 ||
        strpbrk(s, "?#@ \\%") || strchr(s + 8, ':'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static kr_sns_certs_t *certs, *scratch;
    char err[256], *s = NULL;
    const char *need = NULL;

    if (!certs) {
        certs = kr_sns_certs_new(NULL);
        scratch = kr_sns_certs_new(NULL);
        if (!certs || !scratch ||
            kr_sns_certs_add_pem(certs, FUZZ_URL, fuzz_cert, sizeof fuzz_cert - 1, err, sizeof err))
            abort();
    }

    char *str = malloc(size + 1);
    memcpy(str, data, size);
    str[size] = '\0';
    if (kr_sns_check_cert_url(str, err, sizeof err) == 0)
        check_url_invariants(str);
    int rc = kr_sns_certs_add_pem(scratch, FUZZ_URL, str, size, err, sizeof err);
    if (rc != 0 && rc != KR_EINVAL)
        abort();
    free(str);

    json_t *msg = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!msg)
        return 0;
    int st = kr_sns_string_to_sign(msg, &s, err, sizeof err);
    if ((st == 0) != (s != NULL) || (st != 0 && st != KR_EINVAL))
        abort();
    free(s);
    for (int age = 0; age <= 1; age++) {
        rc = kr_sns_verify(msg, certs, FUZZ_NOW, age ? 900 : 0, &need, err, sizeof err);
        if (rc != 0 && rc != KR_EINVAL && rc != KR_EAUTH && rc != KR_EAGAIN)
            abort();
        if (rc == 0) {
            const char *url = kr_sns_cert_url(msg);
            if (st != 0 || !url || kr_sns_check_cert_url(url, err, sizeof err) != 0)
                abort();
            check_url_invariants(url);
        }
        if ((rc == KR_EAGAIN) != (need != NULL) || (need && need != kr_sns_cert_url(msg)))
            abort();
    }
    json_decref(msg);
    return 0;
}
