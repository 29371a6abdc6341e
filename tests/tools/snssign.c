/* tests/tools/snssign.c: signs an SNS message the way SNS does, for integration tests and
 * the demo: sets SignatureVersion, SigningCertURL (or SigningCertUrl when the message
 * already uses the Lambda spelling) and Signature (base64), and prints the message.
 *   snssign --key KEY.pem --cert-url URL [--sig-version 1|2] [FILE|-] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "kr/sns.h"

static void usage(void)
{
    fprintf(stderr, "usage: snssign --key KEY.pem --cert-url URL [--sig-version 1|2] [FILE|-]\n");
}

int main(int argc, char **argv)
{
    const char *key_path = NULL, *url = NULL, *file = "-", *version = "1";
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *ctx = NULL;
    json_t *msg = NULL;
    json_error_t jerr;
    char err[256], *tosign = NULL;
    unsigned char sig[1024], b64[1400];
    size_t siglen = sizeof sig;
    FILE *f = NULL;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key_path = argv[++i];
        else if (strcmp(argv[i], "--cert-url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--sig-version") == 0 && i + 1 < argc)
            version = argv[++i];
        else if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)
            file = argv[i];
        else {
            usage();
            return 2;
        }
    }
    if (!key_path || !url || (strcmp(version, "1") != 0 && strcmp(version, "2") != 0)) {
        usage();
        return 2;
    }
    if (!(f = fopen(key_path, "r")) || !(key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
        fprintf(stderr, "snssign: cannot read a PEM private key from %s\n", key_path);
        goto done;
    }
    msg = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
    if (!msg) {
        fprintf(stderr, "snssign: %s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    if (kr_sns_string_to_sign(msg, &tosign, err, sizeof err) != 0) {
        fprintf(stderr, "snssign: %s\n", err);
        goto done;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx ||
        EVP_DigestSignInit(ctx, NULL, version[0] == '1' ? EVP_sha1() : EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)tosign, strlen(tosign)) != 1) {
        fprintf(stderr, "snssign: signing failed (is %s an RSA key of at most 8192 bits?)\n",
                key_path);
        goto done;
    }
    EVP_EncodeBlock(b64, sig, (int)siglen);
    json_object_set_new(msg, "SignatureVersion", json_string(version));
    json_object_set_new(msg, json_object_get(msg, "SigningCertUrl") ? "SigningCertUrl"
                                                                    : "SigningCertURL",
                        json_string(url));
    json_object_set_new(msg, "Signature", json_string((const char *)b64));
    if (json_dumpf(msg, stdout, JSON_INDENT(2)) != 0)
        goto done;
    putchar('\n');
    rc = 0;
done:
    if (f)
        fclose(f);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    json_decref(msg);
    free(tosign);
    return rc;
}
