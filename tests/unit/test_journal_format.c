/* tests/unit/test_journal_format.c: the journal's record encoder writes exactly the bytes of
 * json_dumps(record, JSON_COMPACT | JSON_ENSURE_ASCII), for every golden decoder output and
 * for the corners of JSON (escapes, non-ASCII, surrogate pairs, embedded NUL, reals, integer
 * limits, deep nesting); what jansson cannot encode is refused as before; and every record
 * written is read back by replay (a string with a NUL byte included). */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "kr/err.h"
#include "kr/journal.h"
#include "kr_test.h"

typedef struct {
    char dir[64];
    struct event_base *base;
    kr_journal_t *j;
    json_t *expect; /* the records appended, as json_dumps printed them */
} fixture_t;

static int open_fixture(fixture_t *f)
{
    char err[256] = "";
    snprintf(f->dir, sizeof f->dir, "/tmp/kr-jfmt-XXXXXX");
    evthread_use_pthreads();
    f->expect = json_array();
    if (!mkdtemp(f->dir) || !(f->base = event_base_new()) ||
        !(f->j = kr_journal_open(f->base, f->dir, err, sizeof err))) {
        CHECKF(0, "journal opens: %s", err);
        return -1;
    }
    return 0;
}

/* Appends a record (stolen) and remembers what json_dumps makes of it after the append
 * added "seq" and "t". */
static void append(fixture_t *f, json_t *rec)
{
    int rc = kr_journal_append(f->j, rec, NULL, NULL, NULL);
    CHECK_INT(rc, KR_OK);
    char *s = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
    CHECK(s != NULL);
    if (rc == KR_OK && s)
        json_array_append_new(f->expect, json_string(s));
    free(s);
    json_decref(rec);
}

/* Closes the journal and compares the segment file with the expected lines, byte for byte,
 * checksums included; then replays it. */
static void verify_and_close(fixture_t *f)
{
    char path[128], want_prefix[16];
    size_t len = 0, i = 0;
    kr_journal_close(f->j);
    snprintf(path, sizeof path, "%s/journal-00000001.log", f->dir);
    char *text = kr_test_read(path, &len);
    CHECK(text != NULL);
    char *p = text;
    for (; text && i < json_array_size(f->expect); i++) {
        const char *want = json_string_value(json_array_get(f->expect, i));
        size_t wl = strlen(want);
        char *nl = memchr(p, '\n', len - (size_t)(p - text));
        if (!CHECKF(nl != NULL, "line %zu present", i + 1))
            break;
        snprintf(want_prefix, sizeof want_prefix, "%08x ", kr_crc32c(want, wl));
        CHECKF((size_t)(nl - p) == wl + 9 && memcmp(p, want_prefix, 9) == 0 && memcmp(p + 9, want, wl) == 0,
               "line %zu is json_dumps' bytes with their CRC:\n  want %s%s\n  got  %.*s", i + 1, want_prefix,
               want, (int)(nl - p), p);
        p = nl + 1;
    }
    CHECKF(text && p == text + len, "no bytes after the %zu expected lines", i);
    uint64_t last = 0;
    char err[256] = "";
    CHECKF(kr_journal_replay(f->dir, NULL, NULL, &last, NULL, err, sizeof err) == KR_OK, "replay: %s", err);
    CHECK_INT((long long)last, (long long)json_array_size(f->expect));
    free(text);
    unlink(path);
    rmdir(f->dir);
    event_base_free(f->base);
    json_decref(f->expect);
}

KR_TEST(golden_decoder_outputs_encode_like_jansson)
{
    fixture_t f;
    if (open_fixture(&f))
        return;
    const char *dir = kr_test_path("tests/golden/decode");
    DIR *d = opendir(dir);
    struct dirent *de;
    int files = 0;
    CHECK(d != NULL);
    while (d && (de = readdir(d))) {
        char path[1024];
        size_t n = strlen(de->d_name);
        if (n < 15 || strcmp(de->d_name + n - 15, ".expected.jsonl") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *text = kr_test_read(path, NULL);
        for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
            json_t *ev = json_loads(line, JSON_DECODE_ANY, NULL);
            if (ev)
                append(&f, json_pack("{s:s,s:o}", "kind", "event", "event", ev));
        }
        free(text);
        files++;
    }
    if (d)
        closedir(d);
    CHECKF(files >= 10 && json_array_size(f.expect) >= 10, "golden outputs found (%d files, %zu events)", files,
           json_array_size(f.expect));
    verify_and_close(&f);
}

KR_TEST(json_corners_encode_like_jansson)
{
    fixture_t f;
    if (open_fixture(&f))
        return;
    char controls[40];
    for (int c = 0; c < 32; c++)
        controls[c] = (char)c;
    memcpy(controls + 32, "\"\\/\x7f", 4);
    append(&f, json_pack("{s:s%}", "controls", controls, (size_t)36));
    append(&f, json_pack("{s:s,s:s,s:s,s:s}", "latin", "caf\xc3\xa9", "euro", "\xe2\x82\xac 5",
                         "astral", "\xf0\x9f\x98\x80 smile \xf4\x8f\xbf\xbf", "bom", "\xef\xbb\xbfx"));
    append(&f, json_pack("{s:s%}", "nul", "a\0b", (size_t)3));
    json_t *keys = json_object();
    json_object_set_new(keys, "k\xc3\xa9y \"q\"\n", json_true());
    json_object_set_new(keys, "\xe2\x82\xac\x01", json_false());
    /* (a key with a NUL byte is left out: jansson writes it, but its parser refuses it) */
    json_object_set_new(keys, "", json_null());
    append(&f, keys);
    static const double reals[] = { 1.0, 0.1, -0.0, 0.0, 1.5, -2.25, 1e300, -1e-300, 5e-324, 1e21, 1e20,
                                    123456789012345678.0, 3.141592653589793, 1.7976931348623157e308,
                                    2.2250738585072014e-308, 100.0, 1e-5, 0.000123 };
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++)
        json_array_append_new(arr, json_real(reals[i]));
    append(&f, json_pack("{s:o}", "reals", arr));
    append(&f, json_pack("{s:I,s:I,s:I,s:I,s:[],s:{},s:[[],{},[[]]]}", "max", (json_int_t)INT64_MAX, "min",
                         (json_int_t)INT64_MIN, "zero", (json_int_t)0, "neg", (json_int_t)-42, "ea", "eo",
                         "nested"));
    json_t *deep = json_integer(7); /* deeper than the encoder recurses: jansson encodes it */
    for (int i = 0; i < 700; i++)
        deep = i % 2 ? json_pack("[o]", deep) : json_pack("{s:o}", "d", deep);
    append(&f, json_pack("{s:o}", "deep", deep));
    verify_and_close(&f);
}

KR_TEST(what_jansson_cannot_encode_is_refused)
{
    fixture_t f;
    if (open_fixture(&f))
        return;
    append(&f, json_pack("{s:s}", "before", "ok"));
    json_t *bad = json_object(); /* invalid UTF-8 can only get in through the _nocheck API */
    json_object_set_new(bad, "s", json_stringn_nocheck("ab\xff", 3));
    CHECK_INT(kr_journal_append(f.j, bad, NULL, NULL, NULL), KR_ENOMEM);
    json_decref(bad);
    bad = json_object();
    json_object_set_new(bad, "overlong", json_stringn_nocheck("\xc0\xaf", 2));
    CHECK_INT(kr_journal_append(f.j, bad, NULL, NULL, NULL), KR_ENOMEM);
    json_decref(bad);
    append(&f, json_pack("{s:s}", "after", "ok"));
    verify_and_close(&f);
}

/* Snapshot records: kr_journal_snapshot_add (the appends' encoder) and the id lists of
 * kr_journal_snapshot_add_strings (no jansson tree) write json_dumps' bytes with their
 * CRC, escapes and non-ASCII included. */
typedef struct {
    json_t *expect;
} snapfill_t;

static const char *const SNAP_IDS[] = { "am:0123456789abcdef:2026-11-24T19:00:00.000Z", "sns:\"quoted\"\\back",
                                        "eb:caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x94\xa5", "ctl:\x01\t\n", "" };

static int snap_fill(kr_journal_snapshot_t *snap, void *arg)
{
    snapfill_t *sf = arg;
    json_t *rec = json_pack("{s:s,s:{s:s,s:i}}", "kind", "event", "event", "id", "x\xc3\xa9", "n", 7);
    int rc = kr_journal_snapshot_add(snap, rec);
    char *s = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_array_append_new(sf->expect, json_string(s));
    free(s);
    json_decref(rec);
    if (rc)
        return rc;
    size_t n = sizeof SNAP_IDS / sizeof SNAP_IDS[0];
    rc = kr_journal_snapshot_add_strings(snap, "seen", "ids", SNAP_IDS, n);
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_string(SNAP_IDS[i]));
    /* seq and t as the snapshot wrote them: read back below */
    json_array_append_new(sf->expect, ids);
    return rc;
}

static int snap_replay_cb(json_t *rec, void *arg)
{
    json_array_append(arg, rec);
    return 0;
}

KR_TEST(snapshot_records_encode_like_jansson)
{
    fixture_t f;
    char err[256] = "";
    if (open_fixture(&f))
        return;
    snapfill_t sf = { json_array() };
    CHECKF(kr_journal_compact(f.j, snap_fill, &sf, err, sizeof err) == KR_OK, "compact: %s", err);
    kr_journal_close(f.j);
    json_t *recs = json_array();
    CHECKF(kr_journal_replay(f.dir, snap_replay_cb, recs, NULL, NULL, err, sizeof err) == KR_OK, "replay: %s", err);
    /* snapshot.begin, the event, the ids, snapshot.end */
    CHECK_INT(json_array_size(recs), 4);
    json_t *seen = json_array_get(recs, 2);
    CHECK_JSON(json_object_get(seen, "ids"), json_array_get(sf.expect, 1));
    CHECK_STR(json_string_value(json_object_get(seen, "kind")), "seen");
    /* byte for byte: the file's lines are json_dumps of the replayed records */
    char path[128];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/journal-00000002.log", f.dir);
    char *text = kr_test_read(path, &len);
    CHECK(text != NULL);
    char *p = text;
    for (size_t i = 0; text && i < json_array_size(recs); i++) {
        char *want = json_dumps(json_array_get(recs, i), JSON_COMPACT | JSON_ENSURE_ASCII);
        char prefix[16];
        size_t wl = strlen(want);
        char *nl = memchr(p, '\n', len - (size_t)(p - text));
        snprintf(prefix, sizeof prefix, "%08x ", kr_crc32c(want, wl));
        CHECKF(nl && (size_t)(nl - p) == wl + 9 && memcmp(p, prefix, 9) == 0 && memcmp(p + 9, want, wl) == 0,
               "snapshot line %zu is json_dumps' bytes:\n  want %s%s\n  got  %.*s", i + 1, prefix, want,
               nl ? (int)(nl - p) : 0, p);
        if (i == 1)
            CHECKF(nl && memcmp(p + 9, json_string_value(json_array_get(sf.expect, 0)),
                                strlen(json_string_value(json_array_get(sf.expect, 0)))) == 0,
                   "the event record as written");
        free(want);
        if (!nl)
            break;
        p = nl + 1;
    }
    CHECK(text && p == text + len);
    free(text);
    unlink(path);
    snprintf(path, sizeof path, "%s/journal-00000001.log", f.dir);
    unlink(path);
    rmdir(f.dir);
    json_decref(recs);
    json_decref(sf.expect);
    json_decref(f.expect); /* the fixture's, unused here */
    event_base_free(f.base);
}
