/* actions/exec.c: the `exec` action: run a program with templated argv (no shell), the
 * event JSON on stdin, a timeout, output captured in the journal.
 *
 * DESIGN. Every step runs on the libevent loop thread and none blocks it. start spawns
 * the program with posix_spawn (glibc reports a failed exec as its return value, so a
 * missing program fails the run at once), in its own process group, with default signal
 * dispositions, an empty signal mask and a minimal environment; our descriptors are
 * O_CLOEXEC and the spawn closes every descriptor from 3 up (a library's descriptor
 * without O_CLOEXEC included), so the child inherits only its three pipes. The loop
 * then watches: stdin's write end (the event JSON is written as the pipe takes it; a
 * child that never reads simply leaves it unwritten), stdout and stderr (read into
 * bounded buffers; beyond the bound bytes are counted and dropped, so a chatty program
 * never blocks on a full pipe), the child's exit (a pidfd, Linux >= 5.3, or a short
 * waitpid(WNOHANG) poll where pidfd_open is refused), and one timer: the timeout, then
 * the SIGKILL grace after SIGTERM. On exit the pipes are drained once more, the output
 * becomes the run's progress detail (journaled) and the run finishes.
 *
 * stdin: the run's event as compact JSON and one newline. Detail: {exit (null when killed),
 * signal (when killed), timed_out, stdout, stdout_bytes, stderr, stderr_bytes,
 * duration_ms}; output is made valid UTF-8 (bad bytes and NUL become U+FFFD) and beyond
 * 64 KiB ends with a "[kresponder: stdout truncated: N more bytes not kept]" note.
 * A dry run does not spawn (an arbitrary program may change anything): it says what it
 * would run. The program runs in kresponder's working directory. No resume hook: a run
 * interrupted by a restart is failed by the runs module and never run again, since a
 * program's side effects cannot be known; a daemon that stops mid-run kills the program. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "kr/action.h"
#include "kr/daemon.h"
#include "kr/err.h"
#include "kr/log.h"
#include "kr/params.h"
#include "kr/runs.h"
#include "kr/template.h"
#include "kr/units.h"

#define EXEC_OUTPUT_MAX (64 * 1024)        /* bytes of stdout (and of stderr) kept */
#define EXEC_DRAIN_MAX (1024 * 1024)       /* bytes read after exit before giving up */
#define EXEC_KILL_GRACE_MS 2000            /* SIGTERM, then SIGKILL after this */
#define EXEC_POLL_MS 20                    /* waitpid poll period without a pidfd */
#define EXEC_DEFAULT_TIMEOUT_MS 30000
#define EXEC_MAX_TIMEOUT_MS (24LL * 3600 * 1000)

extern char **environ;

typedef enum { EXEC_STOP_NONE = 0, EXEC_STOP_TIMEOUT, EXEC_STOP_CANCEL } exec_stop_t;

typedef struct exec_output {
    const char *name;      /* "stdout" or "stderr" */
    int fd;                /* our read end, -1 once at EOF */
    struct event *ev;
    char *buf;             /* the first EXEC_OUTPUT_MAX bytes */
    size_t len;
    uint64_t total;        /* every byte the program wrote */
} exec_output_t;

typedef struct exec_proc {
    kr_run_t *run;         /* borrowed: the run owns this struct */
    struct event_base *base;
    char *program;
    pid_t pid;             /* -1 once reaped */
    int pidfd;             /* -1 when polling */
    struct event *exit_ev; /* pidfd readable, or the poll timer */
    struct event *timer;   /* the timeout, then the SIGKILL grace */
    int stdin_fd;          /* our write end, -1 once closed */
    struct event *stdin_ev;
    char *input;           /* the event JSON and a newline */
    size_t input_len, input_off;
    exec_output_t out[2];
    int64_t started_mono, timeout_ms;
    exec_stop_t stop;      /* why we are stopping it, if we are */
    int last_signal;       /* 0, SIGTERM or SIGKILL: what we sent last */
    int status;            /* waitpid status once reaped */
    int finished;
} exec_proc_t;

/* ---- validation (rule compile time) ---- */

static int exec_validate(const json_t *params, const kr_doc_t *doc, char *err, size_t errlen)
{
    static const char *const allowed[] = { "argv", "timeout", NULL };
    static const char *const required[] = { "argv", NULL };
    json_t *argv;
    const char *timeout;
    int64_t ms;
    if (kr_params_keys("exec", params, doc, allowed, required, err, errlen) ||
        kr_params_duration("exec", params, "timeout", doc, err, errlen))
        return KR_EINVAL;
    argv = json_object_get(params, "argv");
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        return kr_doc_member_errf(doc, params, "argv", err, errlen,
                                  "exec: argv must be a non-empty list (program first; no shell is used)");
    if (kr_params_strings("exec", params, "argv", doc, err, errlen))
        return KR_EINVAL;
    if (json_string_value(json_array_get(argv, 0))[0] != '/')
        return kr_doc_item_errf(doc, argv, 0, err, errlen,
                                "exec: the program must be an absolute path (no PATH lookup)");
    timeout = json_string_value(json_object_get(params, "timeout"));
    if (timeout && kr_duration_parse(timeout, &ms, NULL, 0) == KR_OK &&
        (ms <= 0 || ms > EXEC_MAX_TIMEOUT_MS))
        return kr_doc_member_errf(doc, params, "timeout", err, errlen,
                                  "exec: timeout must be more than 0 and at most 24h (a program "
                                  "always runs under a timeout)");
    return KR_OK;
}

/* ---- helpers ---- */

/* Writes without letting SIGPIPE kill the process when the child closed its stdin: the
 * signal is blocked in this thread around the write and a pending one consumed, so the
 * executor does not depend on the process ignoring SIGPIPE. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_set, old;
    ssize_t n;
    int saved;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    n = write(fd, buf, len);
    saved = errno;
    if (n < 0 && saved == EPIPE && !sigismember(&old, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return n;
}

/* Moves a descriptor to 3 or above (keeping O_CLOEXEC), so dup2 onto 0-2 in the child
 * always creates a new inheritable descriptor. Returns the fd, or -1 (fd closed). */
static int fd_above_stdio(int fd)
{
    if (fd > 2)
        return fd;
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return nfd;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void free_event(struct event **ev)
{
    if (*ev)
        event_free(*ev);
    *ev = NULL;
}

/* Appends one code point (U+FFFD) for a byte that cannot be shown as UTF-8 text. */
static size_t put_replacement(char *o)
{
    o[0] = (char)0xEF;
    o[1] = (char)0xBF;
    o[2] = (char)0xBD;
    return 3;
}

/* Program output as a JSON string: valid UTF-8 is kept; invalid bytes and NUL (which the
 * journal's reader refuses) become U+FFFD; a truncated stream ends with a note. Returns a
 * new reference, or NULL when out of memory. */
static json_t *output_json(const exec_output_t *o)
{
    const unsigned char *s = (const unsigned char *)o->buf;
    size_t n = o->len, i = 0, w = 0;
    char *t = malloc(n * 3 + 96);
    json_t *j;
    if (!t)
        return NULL;
    while (i < n) {
        unsigned c = s[i];
        size_t need = 0;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0x01 && c < 0x80) {
            t[w++] = (char)c;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        }
        size_t k = 1;
        for (; need && k <= need && i + k < n; k++) {
            unsigned b = s[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
                break;
        }
        if (need && k == need + 1) {
            memcpy(t + w, s + i, need + 1);
            w += need + 1;
            i += need + 1;
        } else {
            w += put_replacement(t + w);
            i++;
        }
    }
    if (o->total > o->len)
        w += (size_t)snprintf(t + w, 96, "\n[kresponder: %s truncated: %llu more bytes not kept]",
                              o->name, (unsigned long long)(o->total - o->len));
    j = json_stringn(t, w);
    free(t);
    return j;
}

/* Reads what the pipe holds now (at most `limit` bytes); closes it at EOF or on error. */
static void output_read(exec_proc_t *p, exec_output_t *o, size_t limit)
{
    char chunk[16384];
    size_t got = 0;
    while (o->fd >= 0 && got < limit) {
        ssize_t n = read(o->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (n < 0)
                KR_WARN("exec", "msg=\"cannot read program output\" run=%s stream=%s error=\"%s\"",
                        kr_run_id(p->run), o->name, strerror(errno));
            free_event(&o->ev);
            close_fd(&o->fd);
            return;
        }
        got += (size_t)n;
        o->total += (uint64_t)n;
        if (o->len < EXEC_OUTPUT_MAX) {
            size_t keep = (size_t)n;
            if (keep > EXEC_OUTPUT_MAX - o->len)
                keep = EXEC_OUTPUT_MAX - o->len;
            memcpy(o->buf + o->len, chunk, keep);
            o->len += keep;
        }
    }
}

static void close_stdin(exec_proc_t *p)
{
    free_event(&p->stdin_ev);
    close_fd(&p->stdin_fd);
}

/* Signals the program's process group (and the program itself, in case it left the
 * group). Only while it is not reaped, so the pid cannot name another process. */
static void send_signal(exec_proc_t *p, int sig)
{
    if (p->pid <= 0)
        return;
    if (kill(-p->pid, sig) != 0 && errno != ESRCH)
        KR_WARN("exec", "msg=\"cannot signal the program's group\" run=%s pid=%d signal=%d error=\"%s\"",
                kr_run_id(p->run), (int)p->pid, sig, strerror(errno));
    kill(p->pid, sig);
    p->last_signal = sig;
}

static void arm_timer(exec_proc_t *p, int64_t ms)
{
    struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
    evtimer_add(p->timer, &tv);
}

/* Releases every descriptor and event; the struct itself stays with the run. */
static void release(exec_proc_t *p)
{
    close_stdin(p);
    for (int i = 0; i < 2; i++) {
        free_event(&p->out[i].ev);
        close_fd(&p->out[i].fd);
    }
    free_event(&p->exit_ev);
    free_event(&p->timer);
    close_fd(&p->pidfd);
}

/* The run's final report: the progress detail and the finish. */
static void finish(exec_proc_t *p)
{
    char msg[256], tbuf[32];
    int rc;
    int64_t duration = kr_mono_ms() - p->started_mono;
    json_t *detail;

    p->finished = 1;
    for (int i = 0; i < 2; i++)
        output_read(p, &p->out[i], EXEC_DRAIN_MAX);
    kr_duration_format(p->timeout_ms, tbuf, sizeof tbuf);
    detail = json_object();
    if (WIFEXITED(p->status)) {
        int code = WEXITSTATUS(p->status);
        json_object_set_new(detail, "exit", json_integer(code));
        if (p->stop == EXEC_STOP_CANCEL) {
            rc = KR_ESTATE;
            snprintf(msg, sizeof msg, "cancelled: the program exited %d after SIGTERM", code);
        } else if (p->stop == EXEC_STOP_TIMEOUT) {
            rc = KR_ETIMEDOUT;
            snprintf(msg, sizeof msg, "exit %d after timeout %s (SIGTERM sent)", code, tbuf);
        } else {
            rc = code == 0 ? KR_OK : KR_EIO;
            snprintf(msg, sizeof msg, "exit %d", code);
        }
    } else {
        int sig = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
        json_object_set_new(detail, "exit", json_null());
        json_object_set_new(detail, "signal", json_integer(sig));
        if (p->stop == EXEC_STOP_CANCEL) {
            rc = KR_ESTATE;
            snprintf(msg, sizeof msg, "cancelled: killed by signal %d", sig);
        } else if (p->stop == EXEC_STOP_TIMEOUT) {
            rc = KR_ETIMEDOUT;
            snprintf(msg, sizeof msg, "killed by signal %d after timeout %s", sig, tbuf);
        } else {
            rc = KR_EIO;
            snprintf(msg, sizeof msg, "killed by signal %d", sig);
        }
    }
    json_object_set_new(detail, "timed_out", json_boolean(p->stop == EXEC_STOP_TIMEOUT));
    for (int i = 0; i < 2; i++) {
        char key[32];
        json_t *text = output_json(&p->out[i]);
        json_object_set_new(detail, p->out[i].name, text ? text : json_string(""));
        snprintf(key, sizeof key, "%s_bytes", p->out[i].name);
        json_object_set_new(detail, key, json_integer((json_int_t)p->out[i].total));
    }
    json_object_set_new(detail, "duration_ms", json_integer(duration));
    release(p);
    KR_INFO("exec", "msg=\"program ended\" run=%s program=%s result=\"%s\" stdout_bytes=%llu "
            "stderr_bytes=%llu duration_ms=%lld", kr_run_id(p->run), p->program, msg,
            (unsigned long long)p->out[0].total, (unsigned long long)p->out[1].total,
            (long long)duration);
    kr_run_progress(p->run, detail, "%s", msg);
    kr_run_finish(p->run, rc, "%s", msg);
}

/* ---- loop callbacks ---- */

static void stdin_cb(evutil_socket_t fd, short what, void *arg)
{
    exec_proc_t *p = arg;
    (void)fd;
    (void)what;
    while (p->stdin_fd >= 0 && p->input_off < p->input_len) {
        ssize_t n = write_nosigpipe(p->stdin_fd, p->input + p->input_off, p->input_len - p->input_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0) { /* EPIPE: the program closed its stdin; it did not want the event */
            KR_DEBUG("exec", "msg=\"stdin closed by the program\" run=%s written=%zu of=%zu",
                     kr_run_id(p->run), p->input_off, p->input_len);
            break;
        }
        p->input_off += (size_t)n;
    }
    close_stdin(p); /* all written (EOF tells the program), or refused */
}

static void output_cb(evutil_socket_t fd, short what, void *arg)
{
    exec_proc_t *p = arg;
    (void)what;
    for (int i = 0; i < 2; i++)
        if (p->out[i].fd == fd)
            output_read(p, &p->out[i], 256 * 1024); /* then let other events run */
}

static void exit_cb(evutil_socket_t fd, short what, void *arg)
{
    exec_proc_t *p = arg;
    int status = 0;
    pid_t r;
    (void)fd;
    (void)what;
    if (p->finished)
        return;
    do
        r = waitpid(p->pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return; /* still running (the poll timer) */
    if (r < 0) {
        /* ECHILD: someone else reaped it (SIGCHLD ignored?): the outcome is unknown. */
        int e = errno;
        p->pid = -1;
        p->finished = 1;
        release(p);
        kr_run_finish(p->run, KR_EIO, "lost track of the program: waitpid: %s", strerror(e));
        return;
    }
    p->pid = -1;
    p->status = status;
    finish(p);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    exec_proc_t *p = arg;
    char tbuf[32];
    (void)fd;
    (void)what;
    if (p->finished || p->pid <= 0)
        return;
    if (p->last_signal == 0) {
        p->stop = EXEC_STOP_TIMEOUT;
        kr_run_progress(p->run, NULL, "timeout %s: SIGTERM sent",
                        kr_duration_format(p->timeout_ms, tbuf, sizeof tbuf));
        send_signal(p, SIGTERM);
        arm_timer(p, EXEC_KILL_GRACE_MS);
    } else if (p->last_signal == SIGTERM) {
        kr_run_progress(p->run, NULL, "still running %d ms after SIGTERM: SIGKILL sent",
                        EXEC_KILL_GRACE_MS);
        send_signal(p, SIGKILL);
    }
}

/* ---- the kind's hooks ---- */

static void exec_proc_free(void *arg)
{
    exec_proc_t *p = arg;
    if (!p)
        return;
    if (p->pid > 0) {
        /* The run set is going away (shutdown) with the program still running: it must
         * not outlive us unwatched. SIGKILL is prompt, so the wait is short. */
        KR_WARN("exec", "msg=\"killing a program still running at shutdown\" run=%s pid=%d",
                kr_run_id(p->run), (int)p->pid);
        send_signal(p, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->pid = -1;
    }
    release(p);
    free(p->program);
    free(p->input);
    free(p->out[0].buf);
    free(p->out[1].buf);
    free(p);
}

/* argv from the rendered params: strings as they are; a whole-string template that
 * rendered to a number or boolean ({{broker.id}}) is formatted as text. Returns a new
 * NULL-terminated vector (free with free_argv) or NULL with err set. */
static char **build_argv(const json_t *params, char *err, size_t errlen)
{
    const json_t *list = json_object_get(params, "argv");
    size_t n = json_array_size(list);
    char **argv = NULL;
    if (!json_is_array(list) || n == 0) {
        kr_seterr(err, errlen, KR_EINVAL, "exec: argv must be a non-empty list");
        return NULL;
    }
    if (!(argv = calloc(n + 1, sizeof *argv)))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(list, i);
        if (json_is_string(v)) {
            argv[i] = strdup(json_string_value(v));
        } else if (json_is_number(v) || json_is_boolean(v)) {
            char buf[64];
            kr_template_format(v, buf, sizeof buf);
            argv[i] = strdup(buf);
        } else {
            kr_seterr(err, errlen, KR_EINVAL, "exec: argv item %zu is not text after rendering", i + 1);
            goto fail;
        }
        if (!argv[i])
            goto nomem;
    }
    if (argv[0][0] != '/') {
        kr_seterr(err, errlen, KR_EINVAL,
                  "exec: the program must be an absolute path (no PATH lookup); it rendered to \"%s\"",
                  argv[0]);
        goto fail;
    }
    return argv;
nomem:
    kr_seterr(err, errlen, KR_ENOMEM, "exec: out of memory");
fail:
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
    return NULL;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* "/bin/sh -c 'echo hi'" for messages (truncated). */
static void describe_argv(char *const *argv, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    for (size_t i = 0; argv[i] && w + 1 < len; i++) {
        int quote = argv[i][0] == 0 || strpbrk(argv[i], " \t\n'\"\\$") != NULL;
        int n = snprintf(buf + w, len - w, "%s%s%s%s", i ? " " : "", quote ? "'" : "", argv[i],
                         quote ? "'" : "");
        if (n < 0)
            break;
        w += (size_t)n < len - w ? (size_t)n : len - w - 1;
    }
}

static int exec_start(kr_run_t *run, void *ctx, char *err, size_t errlen)
{
    kr_daemon_t *d = ctx;
    const json_t *params = kr_run_params(run);
    const char *timeout = json_string_value(json_object_get(params, "timeout"));
    char **argv = NULL, *envp[5] = { NULL }, what[512], tbuf[32];
    int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int fa_ok = 0, attr_ok = 0, rc = KR_OK;
    exec_proc_t *p = NULL;
    sigset_t all, none;
    pid_t pid = -1;

    if (!d || !d->base)
        return kr_seterr(err, errlen, KR_ESTATE, "exec: no event loop to watch the program on");
    if (!(argv = build_argv(params, err, errlen)))
        return KR_EINVAL;
    describe_argv(argv, what, sizeof what);
    if (!(p = calloc(1, sizeof *p))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "exec: out of memory");
        goto done;
    }
    p->run = run;
    p->base = d->base;
    p->pid = -1;
    p->pidfd = -1;
    p->stdin_fd = -1;
    p->out[0].name = "stdout";
    p->out[1].name = "stderr";
    p->out[0].fd = p->out[1].fd = -1;
    p->timeout_ms = EXEC_DEFAULT_TIMEOUT_MS;
    if (timeout && kr_duration_parse(timeout, &p->timeout_ms, err, errlen) != KR_OK) {
        rc = KR_EINVAL;
        goto done;
    }
    if (p->timeout_ms <= 0 || p->timeout_ms > EXEC_MAX_TIMEOUT_MS) {
        rc = kr_seterr(err, errlen, KR_EINVAL, "exec: timeout must be more than 0 and at most 24h");
        goto done;
    }
    kr_run_set_data(run, p, exec_proc_free); /* from here the run frees p */
    if (kr_run_dry_run(run)) {
        /* An arbitrary program may change anything: a dry run only says what it would do. */
        kr_run_finish(run, KR_OK, "dry run: would have run %s (timeout %s)", what,
                      kr_duration_format(p->timeout_ms, tbuf, sizeof tbuf));
        goto done;
    }

    if (!(p->program = strdup(argv[0])) ||
        !(p->out[0].buf = malloc(EXEC_OUTPUT_MAX)) || !(p->out[1].buf = malloc(EXEC_OUTPUT_MAX)) ||
        !(p->input = json_dumps(kr_run_event(run), JSON_COMPACT | JSON_ENCODE_ANY))) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "exec: out of memory");
        goto done;
    }
    p->input_len = strlen(p->input);
    {
        char *nl = realloc(p->input, p->input_len + 2);
        if (!nl) {
            rc = kr_seterr(err, errlen, KR_ENOMEM, "exec: out of memory");
            goto done;
        }
        p->input = nl;
        p->input[p->input_len++] = '\n';
        p->input[p->input_len] = 0;
    }
    if (asprintf(&envp[0], "PATH=/usr/bin:/bin") < 0 || asprintf(&envp[1], "LANG=C.UTF-8") < 0 ||
        asprintf(&envp[2], "KRESPONDER_INCIDENT=%s", kr_run_incident_id(run)) < 0 ||
        asprintf(&envp[3], "KRESPONDER_RUN=%s", kr_run_id(run)) < 0) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "exec: out of memory");
        goto done;
    }

    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) {
        rc = kr_seterr(err, errlen, KR_EIO, "exec: cannot create pipes: %s", strerror(errno));
        goto done;
    }
    if ((pin[0] = fd_above_stdio(pin[0])) < 0 || (pout[1] = fd_above_stdio(pout[1])) < 0 ||
        (perr[1] = fd_above_stdio(perr[1])) < 0 || set_nonblock(pin[1]) || set_nonblock(pout[0]) ||
        set_nonblock(perr[0])) {
        rc = kr_seterr(err, errlen, KR_EIO, "exec: cannot set up pipes: %s", strerror(errno));
        goto done;
    }
    sigfillset(&all);
    sigemptyset(&none);
    if (posix_spawn_file_actions_init(&fa) == 0)
        fa_ok = 1;
    if (posix_spawnattr_init(&attr) == 0)
        attr_ok = 1;
    if (!fa_ok || !attr_ok || posix_spawn_file_actions_adddup2(&fa, pin[0], 0) ||
        posix_spawn_file_actions_adddup2(&fa, pout[1], 1) ||
        posix_spawn_file_actions_adddup2(&fa, perr[1], 2) ||
        posix_spawn_file_actions_addclosefrom_np(&fa, 3) ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETSIGMASK) ||
        posix_spawnattr_setpgroup(&attr, 0) || posix_spawnattr_setsigdefault(&attr, &all) ||
        posix_spawnattr_setsigmask(&attr, &none)) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "exec: cannot prepare the spawn");
        goto done;
    }
    int e = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
    if (e != 0) {
        rc = kr_seterr(err, errlen, e == ENOENT ? KR_ENOTFOUND : KR_EIO, "exec: cannot run %s: %s",
                       argv[0], strerror(e));
        goto done;
    }
    p->pid = pid;
    p->started_mono = kr_mono_ms();
    close_fd(&pin[0]);
    close_fd(&pout[1]);
    close_fd(&perr[1]);
    p->stdin_fd = pin[1];
    p->out[0].fd = pout[0];
    p->out[1].fd = perr[0];
    pin[1] = pout[0] = perr[0] = -1;

    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* O_CLOEXEC by definition */
    if (p->pidfd >= 0)
        p->exit_ev = event_new(d->base, p->pidfd, EV_READ | EV_PERSIST, exit_cb, p);
    else
        p->exit_ev = event_new(d->base, -1, EV_PERSIST, exit_cb, p);
    p->timer = evtimer_new(d->base, timer_cb, p);
    p->stdin_ev = event_new(d->base, p->stdin_fd, EV_WRITE | EV_PERSIST, stdin_cb, p);
    p->out[0].ev = event_new(d->base, p->out[0].fd, EV_READ | EV_PERSIST, output_cb, p);
    p->out[1].ev = event_new(d->base, p->out[1].fd, EV_READ | EV_PERSIST, output_cb, p);
    if (!p->exit_ev || !p->timer || !p->stdin_ev || !p->out[0].ev || !p->out[1].ev ||
        event_add(p->stdin_ev, NULL) || event_add(p->out[0].ev, NULL) ||
        event_add(p->out[1].ev, NULL)) {
        rc = kr_seterr(err, errlen, KR_ENOMEM, "exec: cannot watch the program (out of memory)");
        goto done; /* exec_proc_free, with the run, kills and reaps it */
    }
    if (p->pidfd >= 0) {
        event_add(p->exit_ev, NULL);
    } else {
        struct timeval poll = { 0, EXEC_POLL_MS * 1000 };
        event_add(p->exit_ev, &poll);
    }
    arm_timer(p, p->timeout_ms);
    KR_INFO("exec", "msg=\"program started\" run=%s pid=%d argv=\"%s\" timeout_ms=%lld exit_watch=%s",
            kr_run_id(run), (int)pid, what, (long long)p->timeout_ms, p->pidfd >= 0 ? "pidfd" : "poll");
    kr_run_progress(run, NULL, "started %s (pid %d, timeout %s)", what, (int)pid,
                    kr_duration_format(p->timeout_ms, tbuf, sizeof tbuf));
done:
    if (rc != KR_OK && p && p->pid > 0) {
        send_signal(p, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->pid = -1;
    }
    if (rc != KR_OK && p) {
        release(p);
        if (kr_run_data(run) != p) /* not yet handed to the run */
            exec_proc_free(p);
    }
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 2; i++) {
        close_fd(&pin[i]);
        close_fd(&pout[i]);
        close_fd(&perr[i]);
    }
    for (int i = 0; i < 4; i++)
        free(envp[i]);
    free_argv(argv);
    return rc;
}

/* Operator cancel: SIGTERM now, SIGKILL after the grace; the run finishes cancelled
 * when the program is reaped. */
static void exec_cancel(kr_run_t *run, void *ctx)
{
    exec_proc_t *p = kr_run_data(run);
    (void)ctx;
    if (!p || p->finished || p->pid <= 0) {
        if (kr_run_state(run) == KR_RUN_RUNNING)
            kr_run_finish(run, KR_ESTATE, "cancelled by operator");
        return;
    }
    p->stop = EXEC_STOP_CANCEL;
    if (p->last_signal == 0) {
        send_signal(p, SIGTERM);
        evtimer_del(p->timer);
        arm_timer(p, EXEC_KILL_GRACE_MS);
    }
}

const kr_action_kind_t kr_action_exec = {
    .name = "exec",
    .validate = exec_validate,
    .kafka_changing = 0,
    .help = "run a program (no shell) with the event JSON on stdin",
    .start = exec_start,
    .cancel = exec_cancel,
    /* no resume: see the DESIGN paragraph */
};
