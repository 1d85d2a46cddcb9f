// harness.c - e2e harness: the test. Its name, its temp dir, the trace of what it did, and its
// end: stopped and cleaned up when it returns, or reported, cleaned up and exit 1 when it fails
#include "zchat_prelude.h"
#include "harness.h"
#include "hfile.h"
#include "hproc.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/time.h>
#include <unistd.h>

#define TRACE_LINES 40   // messages remembered for the failure report
#define TRACE_WIDTH 400  // bytes of each
#define HOOKS_MAX   8    // harness_on_end registrations

extern char **environ;

typedef struct {
    void (*stop)(void);
    void (*report)(void);
    void (*cleanup)(void);
} s_hooks_t;

static struct {
    const char *name;            // the running test
    char tmpdir[PATH_MAX];       // "" until first use
    bool keep;                   // ZCHAT_E2E_KEEP: leave the temp dir
    bool failing;                // harness_fail is running: no recursion
    s_hooks_t hooks[HOOKS_MAX];  // harness_on_end
    int hook_count;
    char trace[TRACE_LINES][TRACE_WIDTH];
    int trace_next;  // next slot of the ring
} s_test;

// A timeout (SIGTERM from timeout(1)) or Ctrl-C: kill the children, and become a shell that
// removes the temp dir and exits as a process killed by the signal would. exec is
// async-signal-safe, where reading a directory is not.
static void
s_on_signal(int signum)
{
    hproc_signal_all(SIGKILL);
    static const char msg[] = "\ne2e: killed by a signal (timeout?): its children killed\n";
    ssize_t rc = write(2, msg, sizeof msg - 1);
    (void)rc;
    char code[4] = {(char)('0' + (128 + signum) / 100), (char)('0' + (128 + signum) / 10 % 10),
                    (char)('0' + (128 + signum) % 10), 0};
    char *const argv[] = {"sh", "-c", "rm -rf -- \"$1\"; exit \"$2\"", "sh", s_test.tmpdir,
                          code, NULL};
    if (*s_test.tmpdir && !s_test.keep)
        execve("/bin/sh", argv, environ);
    _exit(128 + signum);
}

// hproc's hooks: its failures fail the test, its notes go to the trace, its files to the
// temp dir
static void
s_proc_fail(const char *file, int line, const char *message)
{
    harness_fail(file, line, "%s", message);
}

static void
s_proc_note(const char *text)
{
    harness_note("%s", text);
}

void
harness_begin(const char *name)
{
    s_test.name = name;
    s_test.keep = getenv("ZCHAT_E2E_KEEP") != NULL;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    srandom((unsigned)(tv.tv_sec ^ tv.tv_usec ^ (getpid() << 16)));
    // CZMQ would catch SIGINT/SIGTERM and let the test run on: stop, and take the children along.
    zsys_handler_set(NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    hproc_set_host(&(hproc_host_t){s_proc_fail, s_proc_note, harness_tmpdir});
}

// Every module's cleanup, the children killed, the temp dir removed
static void
s_cleanup(void)
{
    for (int i = 0; i < s_test.hook_count; i++)
        if (s_test.hooks[i].cleanup)
            s_test.hooks[i].cleanup();
    s_test.hook_count = 0;
    hproc_destroy_all();
    if (*s_test.tmpdir && !s_test.keep)
        hfile_remove_tree(s_test.tmpdir);
}

int
harness_end(void)
{
    // A passing test leaves every broker to be stopped the graceful way.
    for (int i = 0; i < s_test.hook_count; i++)
        if (s_test.hooks[i].stop)
            s_test.hooks[i].stop();
    s_cleanup();
    return 0;
}

void
harness_fail(const char *file, int line, const char *format, ...)
{
    if (s_test.failing)
        _exit(1);
    s_test.failing = true;
    fprintf(stderr, "\nFAIL %s: %s:%d: ", s_test.name ? s_test.name : "?", file, line);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n\n--- last messages (ms clock, > sent, < received, = event) ---\n");
    for (int i = 0; i < TRACE_LINES; i++) {
        const char *slot = s_test.trace[(s_test.trace_next + i) % TRACE_LINES];
        if (*slot)
            fprintf(stderr, "%s\n", slot);
    }
    for (int i = 0; i < s_test.hook_count; i++)
        if (s_test.hooks[i].report)
            s_test.hooks[i].report();
    hproc_report();
    fprintf(stderr, "--- end of report: FAIL %s ---\n", s_test.name ? s_test.name : "?");
    s_cleanup();
    exit(1);
}

void
harness_on_end(void (*stop)(void), void (*report)(void), void (*cleanup)(void))
{
    assert(s_test.hook_count < HOOKS_MAX);
    s_test.hooks[s_test.hook_count++] = (s_hooks_t){stop, report, cleanup};
}

void
harness_on_fail(void (*report)(void))
{
    harness_on_end(NULL, report, NULL);
}

void
harness_read_file(const char *path, char *buf, size_t size)
{
    hfile_read(path, buf, size);
}

char *
harness_slurp(const char *path, size_t *size)
{
    return hfile_slurp(path, size);
}

const char *
harness_tmpdir(void)
{
    if (!*s_test.tmpdir) {
        const char *base = getenv("TMPDIR");
        snprintf(s_test.tmpdir, sizeof s_test.tmpdir, "%s/zchat-e2e-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(s_test.tmpdir)) {
            *s_test.tmpdir = 0;
            FAIL("mkdtemp: %s", strerror(errno));
        }
    }
    return s_test.tmpdir;
}

char *
harness_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", harness_tmpdir(), name);
    return buf;
}

void
harness_note(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char text[512];
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (getenv("ZCHAT_E2E_VERBOSE"))
        fprintf(stderr, "note: %s\n", text);
    harness_trace("note: %s", text);
}

int64_t
harness_now_ms(void)
{
    return zclock_time();
}

void
harness_trace(const char *format, ...)
{
    char *slot = s_test.trace[s_test.trace_next];
    int64_t now = zclock_mono() % 100000;
    int used = snprintf(slot, TRACE_WIDTH, "%05" PRId64 " ", now);
    va_list args;
    va_start(args, format);
    vsnprintf(slot + used, TRACE_WIDTH - (size_t)used, format, args);
    va_end(args);
    s_test.trace_next = (s_test.trace_next + 1) % TRACE_LINES;
}
