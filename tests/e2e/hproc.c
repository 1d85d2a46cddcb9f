// hproc.c - e2e harness: the programs a test runs as child processes besides its brokers,
// over pipes, files or a pseudo-terminal, killed and reaped when the test ends or fails
#define _XOPEN_SOURCE 700  // posix_openpt, grantpt, unlockpt, ptsname
#include "zchat_prelude.h"
#include "hproc.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_PROCS_MAX   64
#define S_REPORT_TAIL 6000  // bytes of stderr shown for an HPROC_REPORT child of a failed test
#define S_SHOWN_MAX   4000  // bytes of stderr or output put in a failure message

struct hproc {
    pid_t pid;     // 0 once reaped
    int status;    // wait status once reaped; -1 if waitpid failed
    int flags;     // HPROC_*
    int in_fd;     // its stdin pipe; -1 once closed, or without one
    int out_fd;    // its stdout pipe or the master side of its terminal; -1 if none
    char *output;  // what hproc_read took, NUL-terminated, owned
    size_t output_size;
    char *err_text;  // the last hproc_stderr, owned
    char *label;     // for messages, owned
    char out_path[PATH_MAX];
    char err_path[PATH_MAX];
    char command[2048];
};

// Every child of the test: killed and freed at exit (harness_fail exits)
static hproc_t *s_procs[S_PROCS_MAX];
static int s_proc_count;

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// A pipe whose ends the children do not inherit
static void
s_pipe(int fds[2])
{
    CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
}

static void
s_cleanup(void)
{
    for (int i = 0; i < s_proc_count; i++) {
        hproc_t *self = s_procs[i];
        if (self->pid > 0) {
            kill(self->pid, SIGKILL);
            waitpid(self->pid, NULL, 0);
        }
        if (self->in_fd >= 0)
            close(self->in_fd);
        if (self->out_fd >= 0)
            close(self->out_fd);
        free(self->output);
        free(self->err_text);
        free(self->label);
        free(self);
        s_procs[i] = NULL;
    }
    s_proc_count = 0;
}

// Part of a failure report, run before the temp dir with the stderr files goes
static void
s_report(void)
{
    for (int i = 0; i < s_proc_count; i++) {
        hproc_t *self = s_procs[i];
        if (!(self->flags & HPROC_REPORT))
            continue;
        fprintf(stderr, "--- %s stderr (%s) ---\n", self->label, self->command);
        size_t size = 0;
        char *data = harness_slurp(self->err_path, &size);
        if (!data) {
            fprintf(stderr, "(cannot read %s)\n", self->err_path);
            continue;
        }
        bool cut = size > S_REPORT_TAIL;
        fprintf(stderr, "%s%s", cut ? "(...)\n" : "", cut ? data + size - S_REPORT_TAIL : data);
        free(data);
    }
}

// The end of what it showed, for failure messages
static const char *
s_output_tail(const hproc_t *self)
{
    return self->output_size > S_SHOWN_MAX ? self->output + self->output_size - S_SHOWN_MAX
                                           : self->output;
}

const char *
hproc_program(const char *name)
{
    static char path[PATH_MAX];
    const char *env = streq(name, "zchat")          ? getenv("ZCHAT_CLIENT")
                      : streq(name, "zchat-logger") ? getenv("ZCHAT_LOGGER")
                                                    : NULL;
    if (env && *env)
        return env;
    const char *broker = getenv("ZCHAT_BROKER");
    if (!broker || !*broker)
        broker = "build/test/zchat-broker";
    if (streq(name, "zchat-broker"))
        return broker;
    const char *slash = strrchr(broker, '/');
    if (slash)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - broker), broker, name);
    else
        snprintf(path, sizeof path, "./%s", name);
    return path;
}

int
hproc_port(hbroker_t *broker)
{
    const char *colon = strrchr(hbroker_commands(broker), ':');
    CHECK(colon && atoi(colon + 1) > 0, "no port in %s", hbroker_commands(broker));
    return atoi(colon + 1);
}

hproc_t *
hproc_start_argv(const char *name, const char *label, int flags, const char *const args[])
{
    CHECK(s_proc_count < S_PROCS_MAX, "too many child processes in one test");
    static bool registered;
    if (!registered) {
        atexit(s_cleanup);
        harness_on_fail(s_report);
        registered = true;
    }
    int number = s_proc_count + 1;
    hproc_t *self = zmalloc(sizeof(hproc_t));
    s_procs[s_proc_count++] = self;
    self->flags = flags;
    self->in_fd = self->out_fd = -1;
    self->output = zmalloc(1);
    char file[64];
    snprintf(file, sizeof file, "proc-%d.stdout", number);
    harness_path(self->out_path, sizeof self->out_path, file);
    snprintf(file, sizeof file, "proc-%d.stderr", number);
    harness_path(self->err_path, sizeof self->err_path, file);

    const char *argv[64];
    int argc = 0;
    argv[argc++] = hproc_program(name);
    for (int i = 0; args[i]; i++) {
        CHECK(argc < 63, "too many arguments for %s", name);
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(self->command);
        snprintf(self->command + used, sizeof self->command - used, "%s%s", i ? " " : "", argv[i]);
    }
    self->label = strdup(label ? label : self->command);
    assert(self->label);
    harness_note("start %s%s", self->command, flags & HPROC_PTY ? " (on a terminal)" : "");
    char failed[128];  // made here: the child may only make async-signal-safe calls
    snprintf(failed, sizeof failed, "e2e: exec of %s failed (set ZCHAT_BROKER)\n", argv[0]);

    bool pty = flags & HPROC_PTY;
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    char slave[PATH_MAX] = "";
    if (pty) {
        self->out_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        CHECK(self->out_fd >= 0 && grantpt(self->out_fd) == 0 && unlockpt(self->out_fd) == 0,
              "posix_openpt: %s", strerror(errno));
        snprintf(slave, sizeof slave, "%s", ptsname(self->out_fd));
        setenv("TERM", "dumb", 1);  // readline: no escape sequences to wade through
    } else {
        if (!(flags & HPROC_IN_NULL))
            s_pipe(in);
        if (flags & HPROC_OUT_PIPE)
            s_pipe(out);
    }
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out_fd = out[1];
    if (!pty && out_fd < 0)
        out_fd = open(self->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err_fd = pty ? -1 : open(self->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(pty || (null_fd >= 0 && out_fd >= 0 && err_fd >= 0), "open: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls here: the parent has threads. If the test dies without
        // its cleanup (a sanitizer abort, a timeout), the child dies with it.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (pty) {
            setsid();  // a new session: the terminal opened next becomes ours
            int fd = open(slave, O_RDWR);
            if (fd < 0)
                _exit(126);
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        } else {
            dup2(in[0] >= 0 ? in[0] : null_fd, 0);
            dup2(out_fd, 1);
            dup2(err_fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        ssize_t rc = write(2, failed, strlen(failed));
        (void)rc;
        _exit(127);
    }
    if (null_fd >= 0)
        close(null_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (in[0] >= 0)
        close(in[0]);
    self->in_fd = in[1];
    if (out[0] >= 0)
        self->out_fd = out[0];
    self->pid = pid;
    return self;
}

void
hproc_type(hproc_t *self, const char *text)
{
    assert(self);
    int fd = self->flags & HPROC_PTY ? self->out_fd : self->in_fd;
    CHECK(fd >= 0, "stdin of %s is closed", self->label);
    size_t length = strlen(text);
    CHECK(write(fd, text, length) == (ssize_t)length, "write to %s: %s", self->label,
          strerror(errno));
}

void
hproc_type_line(hproc_t *self, const char *line)
{
    assert(self);
    harness_note("%s< %s", self->label, line);
    char *text = zsys_sprintf("%s\n", line);
    assert(text);
    hproc_type(self, text);
    zstr_free(&text);
}

void
hproc_close_stdin(hproc_t *self)
{
    assert(self);
    if (self->in_fd >= 0)
        close(self->in_fd);
    self->in_fd = -1;
}

void
hproc_signal(hproc_t *self, int signum)
{
    assert(self);
    if (self->pid > 0)
        kill(self->pid, signum);
}

bool
hproc_read(hproc_t *self, int timeout_ms)
{
    assert(self);
    if (self->out_fd < 0)
        return false;
    struct pollfd pfd = {self->out_fd, POLLIN, 0};
    while (poll(&pfd, 1, timeout_ms) > 0) {
        char chunk[4096];
        ssize_t got = read(self->out_fd, chunk, sizeof chunk);
        if (got <= 0) {
            if (self->flags & HPROC_PTY)
                return false;  // EIO: the program closed its terminal; typing may still go there
            close(self->out_fd);
            self->out_fd = -1;
            return false;
        }
        self->output = realloc(self->output, self->output_size + (size_t)got + 1);
        assert(self->output);
        memcpy(self->output + self->output_size, chunk, (size_t)got);
        self->output_size += (size_t)got;
        self->output[self->output_size] = 0;
        timeout_ms = 0;
    }
    return true;
}

const char *
hproc_output(const hproc_t *self)
{
    assert(self);
    return self->output;
}

size_t
hproc_output_size(const hproc_t *self)
{
    assert(self);
    return self->output_size;
}

int
hproc_wait(hproc_t *self, int timeout_ms)
{
    assert(self);
    int64_t deadline = zclock_mono() + timeout_ms;
    while (self->pid > 0) {
        int status;
        pid_t rc = waitpid(self->pid, &status, WNOHANG);
        if (rc == self->pid || (rc == -1 && errno != EINTR)) {
            self->pid = 0;
            self->status = rc == -1 ? -1 : status;
            break;
        }
        if (zclock_mono() >= deadline)
            return -1;
        if (!hproc_read(self, 10))
            s_sleep_ms(2);
    }
    hproc_read(self, 0);  // what is left in the pipe
    return self->status;
}

int
hproc_wait_exit_at(const char *file, int line, hproc_t *self, int timeout_ms)
{
    assert(self);
    int status = hproc_wait(self, timeout_ms);
    if (self->pid > 0)
        harness_fail(file, line, "%s did not exit within %d ms; stderr: %.*s; its output:\n%s",
                     self->label, timeout_ms, S_SHOWN_MAX, hproc_stderr(self), s_output_tail(self));
    if (!WIFEXITED(status))
        harness_fail(file, line, "%s died of signal %d; stderr: %.*s", self->label,
                     WTERMSIG(status), S_SHOWN_MAX, hproc_stderr(self));
    harness_note("%s exited %d", self->label, WEXITSTATUS(status));
    return WEXITSTATUS(status);
}

void
hproc_kill(hproc_t *self)
{
    assert(self);
    if (self->pid > 0) {
        harness_note("SIGKILL to %s", self->label);
        kill(self->pid, SIGKILL);
        hproc_wait(self, 5000);
    }
}

bool
hproc_is_running(const hproc_t *self)
{
    assert(self);
    return self->pid > 0;
}

const char *
hproc_stderr(hproc_t *self)
{
    assert(self);
    free(self->err_text);
    self->err_text = self->flags & HPROC_PTY ? NULL : harness_slurp(self->err_path, NULL);
    if (!self->err_text)
        self->err_text = strdup("");
    assert(self->err_text);
    return self->err_text;
}

const char *
hproc_out_path(const hproc_t *self)
{
    assert(self);
    return self->out_path;
}

const char *
hproc_err_path(const hproc_t *self)
{
    assert(self);
    return self->err_path;
}

const char *
hproc_label(const hproc_t *self)
{
    assert(self);
    return self->label;
}

const char *
hproc_command(const hproc_t *self)
{
    assert(self);
    return self->command;
}

int
hproc_run_at(const char *file, int line, const char *name, const char *input, int timeout_ms,
             char *out, size_t out_size, char *err, size_t err_size, const char *const args[])
{
    hproc_t *self = hproc_start_argv(name, NULL, 0, args);
    if (input)
        hproc_type(self, input);
    hproc_close_stdin(self);
    int code = hproc_wait_exit_at(file, line, self, timeout_ms);
    harness_read_file(self->out_path, out, out_size);
    harness_read_file(self->err_path, err, err_size);
    return code;
}
