/* tests/tools/snssign.c: signs an SNS message the way SNS does, for integration tests and
 * the demo: sets SignatureVersion, SigningCertURL (or SigningCertUrl when the message
 * already uses the Lambda spelling) and Signature (base64), and prints the message.
 *   snssign --key KEY.pem --cert-url URL [--sig-version 1|2] [--lines] [FILE|-]
 * --lines: the input is JSON lines (one message a line) and so is the output, one signed
 * message a line: the intake benchmark signs thousands of messages in one process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "kr/sns.h"

static void usage(void)
{
    fprintf(stderr, "usage: snssign --key KEY.pem --cert-url URL [--sig-version 1|2] [--lines] [FILE|-]\n");
}

/* Signs msg in place (SignatureVersion, SigningCertURL, Signature). Returns 0 or -1 with err. */
static int sign_message(json_t *msg, EVP_PKEY *key, EVP_MD_CTX *ctx, const char *url,
                        const char *version, char *err, size_t errlen)
{
    char *tosign = NULL;
    unsigned char sig[1024], b64[1400];
    size_t siglen = sizeof sig;
    int rc = -1;

    if (kr_sns_string_to_sign(msg, &tosign, err, errlen) != 0)
        goto done;
    EVP_MD_CTX_reset(ctx);
    if (EVP_DigestSignInit(ctx, NULL, version[0] == '1' ? EVP_sha1() : EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)tosign, strlen(tosign)) != 1) {
        snprintf(err, errlen, "signing failed (is the key an RSA key of at most 8192 bits?)");
        goto done;
    }
    EVP_EncodeBlock(b64, sig, (int)siglen);
    json_object_set_new(msg, "SignatureVersion", json_string(version));
    json_object_set_new(msg, json_object_get(msg, "SigningCertUrl") ? "SigningCertUrl"
                                                                    : "SigningCertURL",
                        json_string(url));
    json_object_set_new(msg, "Signature", json_string((const char *)b64));
    rc = 0;
done:
    free(tosign);
    return rc;
}

/* --lines: one message a line in, one signed compact message a line out. */
static int sign_lines(FILE *in, EVP_PKEY *key, EVP_MD_CTX *ctx, const char *url,
                      const char *version, const char *file)
{
    char *line = NULL, err[256];
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;

    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        json_error_t jerr;
        json_t *msg;
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)n)
            continue;
        if (!(msg = json_loadb(line, (size_t)n, 0, &jerr))) {
            fprintf(stderr, "snssign: %s:%ld:%d: %s\n", file, lineno, jerr.column, jerr.text);
            rc = -1;
        } else if (sign_message(msg, key, ctx, url, version, err, sizeof err) != 0) {
            fprintf(stderr, "snssign: %s:%ld: %s\n", file, lineno, err);
            rc = -1;
        } else if (json_dumpf(msg, stdout, JSON_COMPACT) != 0 || putchar('\n') == EOF) {
            rc = -1;
        }
        json_decref(msg);
    }
    free(line);
    return rc;
}

int main(int argc, char **argv)
{
    const char *key_path = NULL, *url = NULL, *file = "-", *version = "1";
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *ctx = NULL;
    json_t *msg = NULL;
    json_error_t jerr;
    char err[256];
    FILE *f = NULL, *in = NULL;
    int rc = 1, lines = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key_path = argv[++i];
        else if (strcmp(argv[i], "--cert-url") == 0 && i + 1 < argc)
            url = argv[++i];
        else if (strcmp(argv[i], "--sig-version") == 0 && i + 1 < argc)
            version = argv[++i];
        else if (strcmp(argv[i], "--lines") == 0)
            lines = 1;
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
    if (!(ctx = EVP_MD_CTX_new()))
        goto done;
    if (lines) {
        if (!(in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r"))) {
            fprintf(stderr, "snssign: cannot open %s\n", file);
            goto done;
        }
        rc = sign_lines(in, key, ctx, url, version, file) == 0 && fflush(stdout) == 0 ? 0 : 1;
        goto done;
    }
    msg = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
    if (!msg) {
        fprintf(stderr, "snssign: %s:%d:%d: %s\n", file, jerr.line, jerr.column, jerr.text);
        goto done;
    }
    if (sign_message(msg, key, ctx, url, version, err, sizeof err) != 0) {
        fprintf(stderr, "snssign: %s\n", err);
        goto done;
    }
    if (json_dumpf(msg, stdout, JSON_INDENT(2)) != 0)
        goto done;
    putchar('\n');
    rc = 0;
done:
    if (in && in != stdin)
        fclose(in);
    if (f)
        fclose(f);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    json_decref(msg);
    return rc;
}
