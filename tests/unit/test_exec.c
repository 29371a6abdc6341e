/* tests/unit/test_exec.c: the `exec` action's executor driven on a private event loop
 * through the runs module: exact stdout (the event JSON via /bin/cat), environment and
 * inherited descriptors, exit codes, timeout with SIGTERM then SIGKILL, bounded output,
 * a program that never reads a large stdin, cancel, spawn failures, dry run, and the
 * waitpid poll used when pidfd_open is refused (seccomp). */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kr/action.h"
#include "kr/daemon.h"
#include "kr/doc.h"
#include "kr/err.h"
#include "kr/runs.h"
#include "kr/units.h"
#include "kr_test.h"

typedef struct {
    kr_daemon_t d; /* only `base` is set: all the exec kind uses */
    kr_runs_t *runs;
    int n;         /* runs started (for unique incident ids) */
} fx_t;

static void fx_init(fx_t *f)
{
    memset(f, 0, sizeof *f);
    f->d.base = event_base_new();
    f->runs = kr_runs_new(NULL, &f->d);
}

static void fx_deinit(fx_t *f)
{
    kr_runs_free(f->runs);
    event_base_free(f->d.base);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int is_final(const kr_run_t *r)
{
    return r && kr_run_state(r) >= KR_RUN_DONE;
}

/* Runs the loop until every run in `rs` is final or `ms` passed. Returns elapsed ms. */
static int64_t pump(fx_t *f, kr_run_t **rs, size_t n, int64_t ms)
{
    int64_t t0 = kr_mono_ms(), deadline = t0 + (int64_t)(ms * kr_test_tmout_mult());
    struct event *tick = event_new(f->d.base, -1, EV_PERSIST, tick_cb, NULL);
    struct timeval tv = { 0, 50000 };
    event_add(tick, &tv);
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += is_final(rs[i]);
        if (done == n || kr_mono_ms() >= deadline)
            break;
        event_base_loop(f->d.base, EVLOOP_ONCE);
    }
    event_free(tick);
    return kr_mono_ms() - t0;
}

/* Starts an exec run with params given as JSON text. */
static kr_run_t *start(fx_t *f, const char *params_json, const json_t *event, int dry_run)
{
    char inc[32];
    json_error_t je;
    json_t *params = json_loads(params_json, 0, &je);
    json_t *ev = event ? json_incref((json_t *)event) : json_pack("{s:s}", "id", "ev-1");
    CHECKF(params != NULL, "params: %s", je.text);
    snprintf(inc, sizeof inc, "inc-%d", ++f->n);
    kr_run_t *r = kr_runs_start(f->runs, inc, 0, "exec", params, ev, dry_run, NULL);
    json_decref(params);
    json_decref(ev);
    return r;
}

/* Starts, runs to the end (bounded), returns the run. */
static kr_run_t *run1(fx_t *f, const char *params_json, const json_t *event, int64_t ms,
                      int64_t *elapsed)
{
    kr_run_t *r = start(f, params_json, event, 0);
    int64_t e = pump(f, &r, 1, ms);
    if (elapsed)
        *elapsed = e;
    CHECKF(is_final(r), "run ended within %lld ms (state %s)", (long long)ms,
           r ? kr_run_state_name(kr_run_state(r)) : "null");
    return r;
}

/* The run's detail object (borrowed), through the same JSON the API serves. */
static json_t *detail_of(fx_t *f, kr_run_t *r, json_t **keep)
{
    json_t *arr = kr_runs_incident_json(f->runs, kr_run_incident_id(r));
    *keep = arr;
    return json_object_get(json_array_get(arr, 0), "detail");
}

static const char *dstr(const json_t *d, const char *k)
{
    return json_string_value(json_object_get(d, k));
}

static long long dint(const json_t *d, const char *k)
{
    return (long long)json_integer_value(json_object_get(d, k));
}

KR_TEST(cat_echoes_the_event_json_exactly)
{
    fx_t f;
    json_t *keep = NULL;
    fx_init(&f);
    json_t *ev = json_pack("{s:s,s:s,s:{s:i,s:s},s:s}", "id", "am:5c8a:2026", "type", "alert",
                           "broker", "id", 3, "rack", "apne2-az1", "note", "é \"q\" \\ \n");
    kr_run_t *r = run1(&f, "{\"argv\": [\"/bin/cat\"], \"timeout\": \"5s\"}", ev, 5000, NULL);
    char *want = json_dumps(ev, JSON_COMPACT);
    size_t wlen = strlen(want);
    char *wantnl = malloc(wlen + 2);
    memcpy(wantnl, want, wlen);
    strcpy(wantnl + wlen, "\n");
    CHECK_INT(kr_run_state(r), KR_RUN_DONE);
    CHECK_STR(kr_run_message(r), "exit 0");
    json_t *d = detail_of(&f, r, &keep);
    CHECK_STR(dstr(d, "stdout"), wantnl);
    CHECK_STR(dstr(d, "stderr"), "");
    CHECK_INT(dint(d, "exit"), 0);
    CHECK_INT(dint(d, "stdout_bytes"), wlen + 1);
    CHECK_INT(dint(d, "stderr_bytes"), 0);
    CHECK(json_is_false(json_object_get(d, "timed_out")));
    CHECK(json_integer_value(json_object_get(d, "duration_ms")) >= 0);
    free(want);
    free(wantnl);
    json_decref(keep);
    json_decref(ev);
    fx_deinit(&f);
}

KR_TEST(minimal_environment_and_only_three_pipes)
{
    fx_t f;
    json_t *keep = NULL;
    fx_init(&f);
    setenv("KR_TEST_SECRET", "must-not-leak", 1);
    /* a descriptor without O_CLOEXEC, as a careless library might leave one */
    int stray = open("/dev/null", O_RDONLY);
    CHECK(stray > 2);
    kr_run_t *r = run1(&f, "{\"argv\": [\"/usr/bin/env\"]}", NULL, 5000, NULL);
    CHECK_STR(kr_run_message(r), "exit 0");
    CHECK_STR(dstr(detail_of(&f, r, &keep), "stdout"),
              "PATH=/usr/bin:/bin\nLANG=C.UTF-8\nKRESPONDER_INCIDENT=inc-1\nKRESPONDER_RUN=inc-1/0\n");
    json_decref(keep);
    r = run1(&f,
             "{\"argv\": [\"/bin/sh\", \"-c\", \"n=3; while [ $n -lt 256 ]; do "
             "[ -e /proc/$$/fd/$n ] && echo open $n; n=$((n+1)); done; "
             "[ -p /proc/$$/fd/0 ] && [ -p /proc/$$/fd/1 ] && [ -p /proc/$$/fd/2 ] && echo pipes\"]}",
             NULL, 5000, NULL);
    CHECK_STR(kr_run_message(r), "exit 0");
    CHECK_STR(dstr(detail_of(&f, r, &keep), "stdout"), "pipes\n");
    json_decref(keep);
    close(stray);
    unsetenv("KR_TEST_SECRET");
    fx_deinit(&f);
}

KR_TEST(nonzero_exit_fails_with_stderr_kept)
{
    fx_t f;
    json_t *keep = NULL;
    fx_init(&f);
    kr_run_t *r = run1(&f, "{\"argv\": [\"/bin/sh\", \"-c\", \"echo oops >&2; echo partial; exit 3\"]}",
                       NULL, 5000, NULL);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r), "exit 3");
    json_t *d = detail_of(&f, r, &keep);
    CHECK_INT(dint(d, "exit"), 3);
    CHECK_STR(dstr(d, "stdout"), "partial\n");
    CHECK_STR(dstr(d, "stderr"), "oops\n");
    json_decref(keep);

    r = run1(&f, "{\"argv\": [\"/bin/sh\", \"-c\", \"kill -9 $$\"]}", NULL, 5000, NULL);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r), "killed by signal 9");
    d = detail_of(&f, r, &keep);
    CHECK(json_is_null(json_object_get(d, "exit")));
    CHECK_INT(dint(d, "signal"), 9);
    CHECK(json_is_false(json_object_get(d, "timed_out")));
    json_decref(keep);
    fx_deinit(&f);
}

KR_TEST(rendered_numbers_and_booleans_become_arguments)
{
    fx_t f;
    json_t *keep = NULL;
    fx_init(&f);
    /* "{{broker.id}}" alone renders as a JSON number: it is still an argument */
    kr_run_t *r = run1(&f, "{\"argv\": [\"/bin/echo\", 3, true, 1.5, \"a b\"]}", NULL, 5000, NULL);
    CHECK_STR(kr_run_message(r), "exit 0");
    CHECK_STR(dstr(detail_of(&f, r, &keep), "stdout"), "3 true 1.5 a b\n");
    json_decref(keep);
    r = start(&f, "{\"argv\": [\"/bin/echo\", {\"a\": 1}]}", NULL, 0);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r), "exec: argv item 2 is not text after rendering");
    r = start(&f, "{\"argv\": [\"bin/echo\"]}", NULL, 0);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r),
              "exec: the program must be an absolute path (no PATH lookup); it rendered to \"bin/echo\"");
    fx_deinit(&f);
}

KR_TEST(timeout_sends_sigterm)
{
    fx_t f;
    json_t *keep = NULL;
    int64_t elapsed = 0;
    fx_init(&f);
    kr_run_t *r = run1(&f, "{\"argv\": [\"/bin/sleep\", \"60\"], \"timeout\": \"200ms\"}", NULL, 5000,
                       &elapsed);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r), "killed by signal 15 after timeout 200ms");
    CHECKF(elapsed >= 190 && elapsed < 1500, "ended %lld ms after start", (long long)elapsed);
    json_t *d = detail_of(&f, r, &keep);
    CHECK_INT(dint(d, "signal"), 15);
    CHECK(json_is_true(json_object_get(d, "timed_out")));
    json_decref(keep);
    fx_deinit(&f);
}

KR_TEST(timeout_escalates_to_sigkill_for_the_whole_group)
{
    fx_t f;
    json_t *keep = NULL;
    int64_t elapsed = 0;
    fx_init(&f);
    /* The shell and its child sleep both ignore SIGTERM; the grandchild writes its pid so
     * we can check the group kill reached it. */
    char pidfile[] = "/tmp/kr-exec-pid.XXXXXX";
    int fd = mkstemp(pidfile);
    CHECK(fd >= 0);
    close(fd);
    char params[512];
    snprintf(params, sizeof params,
             "{\"argv\": [\"/bin/sh\", \"-c\", \"trap '' TERM; /bin/sleep 60 & echo $! > %s; wait\"],"
             " \"timeout\": \"200ms\"}", pidfile);
    kr_run_t *r = run1(&f, params, NULL, 6000, &elapsed);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r), "killed by signal 9 after timeout 200ms");
    CHECKF(elapsed >= 2150 && elapsed < 4000, "SIGKILL 2 s after SIGTERM: ended after %lld ms",
           (long long)elapsed);
    json_t *d = detail_of(&f, r, &keep);
    CHECK_INT(dint(d, "signal"), 9);
    json_decref(keep);
    char *txt = kr_test_read(pidfile, NULL);
    int gpid = txt ? atoi(txt) : 0;
    CHECK(gpid > 0);
    /* the grandchild got SIGKILL too (it is reparented, so poll until it is gone) */
    int gone = 0;
    for (int i = 0; i < 100 && gpid > 0 && !gone; i++) {
        char path[64], *st;
        snprintf(path, sizeof path, "/proc/%d/stat", gpid);
        st = kr_test_read(path, NULL);
        gone = !st || strstr(st, ") Z ") != NULL;
        free(st);
        if (!gone)
            usleep(20000);
    }
    CHECKF(gone, "the grandchild sleep (pid %d) was killed with its group", gpid);
    if (!gone && gpid > 0)
        kill(gpid, SIGKILL);
    free(txt);
    unlink(pidfile);
    fx_deinit(&f);
}

KR_TEST(megabytes_of_output_are_truncated_without_a_hang)
{
    fx_t f;
    json_t *keep = NULL;
    int64_t elapsed = 0;
    fx_init(&f);
    kr_run_t *r = run1(&f,
                       "{\"argv\": [\"/bin/sh\", \"-c\", \"head -c 1048576 /dev/zero | tr '\\\\0' a; "
                       "head -c 200000 /dev/zero | tr '\\\\0' b >&2\"], \"timeout\": \"10s\"}",
                       NULL, 10000, &elapsed);
    CHECK_STR(kr_run_message(r), "exit 0");
    json_t *d = detail_of(&f, r, &keep);
    CHECK_INT(dint(d, "stdout_bytes"), 1048576);
    CHECK_INT(dint(d, "stderr_bytes"), 200000);
    const char *out = dstr(d, "stdout"), *errs = dstr(d, "stderr");
    const char *note = "\n[kresponder: stdout truncated: 983040 more bytes not kept]";
    CHECK(out && strlen(out) == 65536 + strlen(note));
    CHECK(out && strspn(out, "a") == 65536);
    CHECK_STR(out ? out + 65536 : NULL, note);
    CHECK(errs && strspn(errs, "b") == 65536);
    CHECK_STR(errs ? errs + 65536 : NULL, "\n[kresponder: stderr truncated: 134464 more bytes not kept]");
    CHECKF(elapsed < 5000, "took %lld ms", (long long)elapsed);
    json_decref(keep);
    fx_deinit(&f);
}

static json_t *big_event(size_t n)
{
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = 0;
    json_t *ev = json_pack("{s:s,s:s}", "id", "big", "blob", s);
    free(s);
    return ev;
}

KR_TEST(a_program_that_never_reads_stdin_does_not_hang_us)
{
    fx_t f;
    json_t *keep = NULL;
    int64_t elapsed = 0;
    fx_init(&f);
    json_t *ev = big_event(4 * 1024 * 1024);
    kr_run_t *r = run1(&f, "{\"argv\": [\"/bin/sh\", \"-c\", \"echo ignored stdin\"], \"timeout\": \"10s\"}",
                       ev, 10000, &elapsed);
    CHECK_INT(kr_run_state(r), KR_RUN_DONE);
    CHECK_STR(dstr(detail_of(&f, r, &keep), "stdout"), "ignored stdin\n");
    CHECKF(elapsed < 2000, "ended %lld ms after start", (long long)elapsed);
    json_decref(keep);
    /* reads a little, then exits: the rest is refused (EPIPE), nothing is signalled */
    r = run1(&f, "{\"argv\": [\"/usr/bin/head\", \"-c\", \"9\"]}", ev, 10000, &elapsed);
    CHECK_INT(kr_run_state(r), KR_RUN_DONE);
    CHECK_STR(dstr(detail_of(&f, r, &keep), "stdout"), "{\"id\":\"bi");
    json_decref(keep);
    /* and one that reads it all gets every byte */
    r = run1(&f, "{\"argv\": [\"/usr/bin/wc\", \"-c\"]}", ev, 10000, &elapsed);
    char *dump = json_dumps(ev, JSON_COMPACT);
    char want[32];
    snprintf(want, sizeof want, "%zu\n", strlen(dump) + 1);
    CHECK_STR(dstr(detail_of(&f, r, &keep), "stdout"), want);
    free(dump);
    json_decref(keep);
    json_decref(ev);
    fx_deinit(&f);
}

KR_TEST(cancel_stops_a_running_program)
{
    fx_t f;
    fx_init(&f);
    kr_run_t *r = start(&f, "{\"argv\": [\"/bin/sleep\", \"60\"], \"timeout\": \"30s\"}", NULL, 0);
    pump(&f, &r, 1, 200);
    CHECK_INT(kr_run_state(r), KR_RUN_RUNNING);
    int64_t t0 = kr_mono_ms();
    CHECK_INT(kr_runs_cancel_incident(f.runs, "inc-1"), 1);
    pump(&f, &r, 1, 5000);
    CHECK_INT(kr_run_state(r), KR_RUN_CANCELLED);
    CHECK_STR(kr_run_message(r), "cancelled: killed by signal 15");
    CHECKF(kr_mono_ms() - t0 < 1500, "cancelled in %lld ms", (long long)(kr_mono_ms() - t0));
    CHECK_INT(kr_runs_cancel_incident(f.runs, "inc-1"), 0);
    fx_deinit(&f);
}

KR_TEST(spawn_failures_say_why)
{
    fx_t f;
    fx_init(&f);
    kr_run_t *r = start(&f, "{\"argv\": [\"/nonexistent/prog\", \"x\"]}", NULL, 0);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK_STR(kr_run_message(r), "exec: cannot run /nonexistent/prog: No such file or directory");
    /* not executable (even root needs an x bit), and executable but not a program */
    char dir[] = "/tmp/kr-exec-spawn.XXXXXX", file[64], params[160], want[160];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/script", dir);
    FILE *fp = fopen(file, "w");
    CHECK(fp != NULL);
    fputs("echo no shebang line\n", fp);
    fclose(fp);
    chmod(file, 0644);
    snprintf(params, sizeof params, "{\"argv\": [\"%s\"]}", file);
    r = start(&f, params, NULL, 0);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    snprintf(want, sizeof want, "exec: cannot run %s: Permission denied", file);
    CHECK_STR(kr_run_message(r), want);
    chmod(file, 0755);
    r = start(&f, params, NULL, 0);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    snprintf(want, sizeof want, "exec: cannot run %s: Exec format error", file);
    CHECK_STR(kr_run_message(r), want);
    unlink(file);
    rmdir(dir);
    r = start(&f, "{\"argv\": [\"/bin/true\"], \"timeout\": \"soon\"}", NULL, 0);
    CHECK_INT(kr_run_state(r), KR_RUN_FAILED);
    CHECK(strstr(kr_run_message(r), "bad duration \"soon\"") != NULL);
    fx_deinit(&f);
}

KR_TEST(dry_run_says_what_it_would_run)
{
    fx_t f;
    fx_init(&f);
    char marker[] = "/tmp/kr-exec-dry.XXXXXX";
    int fd = mkstemp(marker);
    close(fd);
    unlink(marker);
    char params[256];
    snprintf(params, sizeof params, "{\"argv\": [\"/usr/bin/touch\", \"%s\"], \"timeout\": \"1m\"}", marker);
    kr_run_t *r = start(&f, params, NULL, 1);
    CHECK_INT(kr_run_state(r), KR_RUN_DONE);
    char want[256];
    snprintf(want, sizeof want, "dry run: would have run /usr/bin/touch %s (timeout 1m)", marker);
    CHECK_STR(kr_run_message(r), want);
    pump(&f, &r, 1, 100);
    CHECK(access(marker, F_OK) != 0);
    fx_deinit(&f);
}

KR_TEST(output_is_made_valid_utf8)
{
    fx_t f;
    json_t *keep = NULL;
    fx_init(&f);
    /* an invalid byte, a NUL (which the journal's reader refuses), valid é and 😀 */
    kr_run_t *r = run1(&f, "{\"argv\": [\"/usr/bin/printf\", \"a\\\\377b\\\\000c \\u00e9 \\ud83d\\ude00\\\\355\\\\240\\\\200\"]}",
                       NULL, 5000, NULL);
    CHECK_STR(kr_run_message(r), "exit 0");
    json_t *d = detail_of(&f, r, &keep);
    const char *out = dstr(d, "stdout");
    CHECK_STR(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c \xC3\xA9 \xF0\x9F\x98\x80"
                   "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK_INT(dint(d, "stdout_bytes"), 16);
    json_decref(keep);
    fx_deinit(&f);
}

KR_TEST(many_programs_at_once)
{
    fx_t f;
    fx_init(&f);
    enum { N = 24 };
    kr_run_t *rs[N];
    for (int i = 0; i < N; i++) {
        char params[160];
        snprintf(params, sizeof params,
                 "{\"argv\": [\"/bin/sh\", \"-c\", \"read x; sleep 0.1; exit %d\"]}", i % 4);
        rs[i] = start(&f, params, NULL, 0);
    }
    pump(&f, rs, N, 10000);
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof want, "exit %d", i % 4);
        CHECK_STR(kr_run_message(rs[i]), want);
        CHECK_INT(kr_run_state(rs[i]), i % 4 ? KR_RUN_FAILED : KR_RUN_DONE);
    }
    fx_deinit(&f);
}

/* Without pidfd_open (old kernel, or a seccomp profile that refuses it) the exit is
 * found by polling waitpid. A forked child installs a filter making pidfd_open fail
 * with ENOSYS and runs programs; its exit status says which checks passed. */
static int poll_child(void)
{
    struct sock_filter filt[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { (unsigned short)(sizeof filt / sizeof filt[0]), filt };
    int bad = 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
        return 100;
    if (syscall(SYS_pidfd_open, getpid(), 0) >= 0 || errno != ENOSYS)
        return 101;
    fx_t f;
    fx_init(&f);
    json_t *ev = json_pack("{s:s}", "id", "poll");
    kr_run_t *r = start(&f, "{\"argv\": [\"/bin/cat\"]}", ev, 0);
    pump(&f, &r, 1, 5000);
    json_t *keep = NULL;
    if (!r || strcmp(kr_run_message(r), "exit 0") != 0 ||
        strcmp(dstr(detail_of(&f, r, &keep), "stdout") ?: "", "{\"id\":\"poll\"}\n") != 0)
        bad |= 1;
    json_decref(keep);
    r = start(&f, "{\"argv\": [\"/bin/sleep\", \"60\"], \"timeout\": \"100ms\"}", ev, 0);
    pump(&f, &r, 1, 5000);
    if (!r || strcmp(kr_run_message(r), "killed by signal 15 after timeout 100ms") != 0)
        bad |= 2;
    r = start(&f, "{\"argv\": [\"/bin/sh\", \"-c\", \"exit 7\"]}", ev, 0);
    pump(&f, &r, 1, 5000);
    if (!r || strcmp(kr_run_message(r), "exit 7") != 0)
        bad |= 4;
    json_decref(ev);
    fx_deinit(&f);
    return bad;
}

KR_TEST(exit_found_by_polling_without_pidfd)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(poll_child());
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "poll child status %d (100/101: seccomp "
           "unavailable; bits: 1 cat, 2 timeout, 4 exit code)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* Parses `yaml` as {exec: params} and validates it through the registry. */
static int validate(const char *yaml, char *err, size_t errlen)
{
    kr_doc_t *d = kr_doc_parse("r.yaml", yaml, strlen(yaml), err, errlen);
    if (!d)
        return -100;
    json_t *params = json_object_get(kr_doc_root(d), "exec");
    int rc = kr_action_exec.validate(params, d, err, errlen);
    kr_doc_free(d);
    return rc;
}

KR_TEST(validation_bounds_the_timeout)
{
    static const struct { const char *yaml, *err; } cases[] = {
        { "exec: {argv: [/bin/true], timeout: 5s}", "" },
        { "exec: {argv: [/bin/true], timeout: 24h}", "" },
        { "exec: {argv: [/bin/true], timeout: 0s}",
          "r.yaml:1:36: exec: timeout must be more than 0 and at most 24h (a program always runs under a timeout)" },
        { "exec: {argv: [/bin/true], timeout: 25h}",
          "r.yaml:1:36: exec: timeout must be more than 0 and at most 24h (a program always runs under a timeout)" },
        { "exec: {argv: [/bin/true], env: {A: b}}",
          "r.yaml:1:27: exec: unknown parameter \"env\"; expected one of: argv, timeout" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        int rc = validate(cases[i].yaml, err, sizeof err);
        CHECK_INT(rc, cases[i].err[0] ? KR_EINVAL : KR_OK);
        CHECK_STR(err, cases[i].err);
    }
}

KR_TEST(kind_has_no_resume)
{
    /* a program's side effects cannot be reconciled: after a restart the runs module
     * fails the run instead of running it again */
    CHECK(kr_action_exec.start != NULL);
    CHECK(kr_action_exec.cancel != NULL);
    CHECK(kr_action_exec.resume == NULL);
    CHECK_INT(kr_action_exec.kafka_changing, 0);
}
