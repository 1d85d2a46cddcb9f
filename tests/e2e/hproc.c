// hproc.c - child processes over pipes, files or a pseudo-terminal, for the e2e harness and the
// benchmarks: started, typed to, read, signalled, waited for, and killed at the end
#define _XOPEN_SOURCE 700  // posix_openpt, grantpt, unlockpt, ptsname
#include "zchat_prelude.h"
#include "hproc.h"
#include "hfile.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_PROCS_MAX    128  // children at once: the bench's 64 scale workers and a server
#define S_ARGS_MAX     64
#define S_ENV_MAX      1024  // variables a child's environment may hold
#define S_REPORT_LINES 80    // lines of stderr shown for an HPROC_REPORT child of a failed test
#define S_SHOWN_MAX    4000  // bytes of stderr or output put in a failure message

extern char **environ;

struct hproc {
    pid_t pid;     // 0 once reaped
    int status;    // wait status once reaped; -1 if waitpid failed
    int flags;     // HPROC_*
    int slot;      // in s_procs
    int in_fd;     // its stdin pipe; -1 once closed, or without one
    int out_fd;    // its stdout pipe or the master side of its terminal; -1 if none
    char *output;  // what hproc_read took, NUL-terminated, owned
    size_t output_size;
    size_t line_at;  // hproc_read_line took the output up to here
    char *err_text;  // the last hproc_stderr, owned
    char *label;     // for messages, owned
    char out_path[PATH_MAX];
    char err_path[PATH_MAX];
    char command[2048];
};

// Every child not destroyed: destroyed at exit. Their pids apart, for hproc_signal_all.
static hproc_t *s_procs[S_PROCS_MAX];
static volatile pid_t s_pids[S_PROCS_MAX];
static int s_started;  // children started: numbers their files
static hproc_host_t s_host;
static char s_message[16384];  // the failure being reported

static void s_fail(const char *file, int line, const char *format, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

static void
s_fail(const char *file, int line, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(s_message, sizeof s_message, format, args);
    va_end(args);
    if (s_host.fail)
        s_host.fail(file, line, s_message);
    fprintf(stderr, "%s:%d: %s\n", file, line, s_message);
    exit(1);
}

#define S_CHECK(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            s_fail(__FILE__, __LINE__, __VA_ARGS__);                                               \
    } while (0)

static void s_note(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void
s_note(const char *format, ...)
{
    if (!s_host.note)
        return;
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    s_host.note(text);
}

static const char *
s_dir(void)
{
    if (s_host.dir)
        return s_host.dir();
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

// A pipe whose ends the children do not inherit
static void
s_pipe(int fds[2])
{
    S_CHECK(pipe(fds) == 0, "pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
}

// The end of what it showed, for failure messages
static const char *
s_output_tail(const hproc_t *self)
{
    return self->output_size > S_SHOWN_MAX ? self->output + self->output_size - S_SHOWN_MAX
                                           : self->output;
}

// The environment for a child: this process's, changed by env. The strings stay borrowed.
static void
s_environment(const char **envp, const char *const env[], bool pty)
{
    const char *changes[S_ENV_MAX];
    int count = 0;
    if (pty)
        changes[count++] = "TERM=dumb";  // readline: no escape sequences to wade through
    for (int i = 0; env && env[i]; i++) {
        S_CHECK(count < S_ENV_MAX, "too many environment changes");
        changes[count++] = env[i];
    }
    int used = 0;
    for (char **var = environ; *var; var++) {
        bool changed = false;
        for (int i = 0; i < count && !changed; i++) {
            size_t length = strcspn(changes[i], "=");
            changed = strncmp(*var, changes[i], length) == 0 && (*var)[length] == '=';
        }
        if (!changed) {
            S_CHECK(used < S_ENV_MAX - 1, "too many environment variables");
            envp[used++] = *var;
        }
    }
    for (int i = 0; i < count; i++)
        if (strchr(changes[i], '=')) {
            S_CHECK(used < S_ENV_MAX - 1, "too many environment variables");
            envp[used++] = changes[i];
        }
    envp[used] = NULL;
}

static void s_not_found(const char *file, int line, const char *name) __attribute__((noreturn));

static void
s_not_found(const char *file, int line, const char *name)
{
    s_fail(file, line,
           "%s is not in PATH: is it installed? (scripts/install-deps.sh installs what "
           "the tests need)",
           name);
}

// Its stdout and stderr files: named after its label ("broker 1": broker-1.stderr), or proc-N
// without one; N is added to a name a file already has.
static void
s_name_files(hproc_t *self, const char *label, int number)
{
    char stem[64];
    snprintf(stem, sizeof stem, "%s", label ? label : "proc");
    for (char *c = stem; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-')
            *c = '-';
    const char *dir = s_dir();
    snprintf(self->err_path, sizeof self->err_path, "%s/%s.stderr", dir, stem);
    snprintf(self->out_path, sizeof self->out_path, "%s/%s.stdout", dir, stem);
    if (!label || access(self->err_path, F_OK) == 0 || access(self->out_path, F_OK) == 0) {
        snprintf(self->err_path, sizeof self->err_path, "%s/%s-%d.stderr", dir, stem, number);
        snprintf(self->out_path, sizeof self->out_path, "%s/%s-%d.stdout", dir, stem, number);
    }
}

void
hproc_set_host(const hproc_host_t *host)
{
    assert(host);
    s_host = *host;
}

const char *
hproc_program(const char *name)
{
    static char path[PATH_MAX];
    if (strchr(name, '/'))
        return name;
    const char *env = streq(name, "zchat")          ? getenv("ZCHAT_CLIENT")
                      : streq(name, "zchat-logger") ? getenv("ZCHAT_LOGGER")
                                                    : NULL;
    if (env && *env)
        return env;
    if (strncmp(name, "zchat", 5) == 0) {
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
    const char *dirs = getenv("PATH");
    for (const char *dir = dirs ? dirs : "/usr/bin:/bin"; *dir;) {
        size_t length = strcspn(dir, ":");
        snprintf(path, sizeof path, "%.*s/%s", (int)length, length ? dir : ".", name);
        if (access(path, X_OK) == 0)
            return path;
        dir += length + (dir[length] == ':');
    }
    return NULL;
}

hproc_t *
hproc_start_env(const char *name, const char *label, int flags, const char *const env[],
                const char *const args[])
{
    int slot = 0;
    while (slot < S_PROCS_MAX && s_procs[slot])
        slot++;
    S_CHECK(slot < S_PROCS_MAX, "more than %d child processes at once", S_PROCS_MAX);
    static bool registered;
    if (!registered) {
        atexit(hproc_destroy_all);
        // A write to a child that is gone fails with EPIPE, reported, instead of killing us
        signal(SIGPIPE, SIG_IGN);
        registered = true;
    }
    const char *program = hproc_program(name);
    if (!program)
        s_not_found(__FILE__, __LINE__, name);
    hproc_t *self = zmalloc(sizeof(hproc_t));
    self->flags = flags;
    self->slot = slot;
    self->in_fd = self->out_fd = -1;
    self->output = zmalloc(1);
    s_name_files(self, label, ++s_started);

    const char *argv[S_ARGS_MAX];
    int argc = 0;
    argv[argc++] = program;
    for (int i = 0; args[i]; i++) {
        if (argc == S_ARGS_MAX - 1) {
            free(self->output);
            free(self);
            s_fail(__FILE__, __LINE__, "too many arguments for %s", name);
        }
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(self->command);
        snprintf(self->command + used, sizeof self->command - used, "%s%s", i ? " " : "", argv[i]);
    }
    self->label = strdup(label ? label : self->command);
    assert(self->label);
    s_procs[slot] = self;
    s_note("start %s%s", self->command, flags & HPROC_PTY ? " (on a terminal)" : "");

    bool pty = flags & HPROC_PTY;
    static const char *envp[S_ENV_MAX];
    s_environment(envp, env, pty);
    char failed[PATH_MAX + 64];  // made here: the child may only make async-signal-safe calls
    snprintf(failed, sizeof failed, "hproc: cannot run %s\n", argv[0]);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    char slave[PATH_MAX] = "";
    if (pty) {
        self->out_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        S_CHECK(self->out_fd >= 0 && grantpt(self->out_fd) == 0 && unlockpt(self->out_fd) == 0,
                "posix_openpt: %s", strerror(errno));
        snprintf(slave, sizeof slave, "%s", ptsname(self->out_fd));
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
    int err_fd = pty || (flags & HPROC_ERR_INHERIT)
                     ? -1
                     : open(self->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    S_CHECK(pty || (null_fd >= 0 && out_fd >= 0 && (err_fd >= 0 || (flags & HPROC_ERR_INHERIT))),
            "open in %s: %s", s_dir(), strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    S_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls here: the parent has threads. If the parent dies without
        // its cleanup (a sanitizer abort, a timeout), the child dies with it.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
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
            if (err_fd >= 0)
                dup2(err_fd, 2);
        }
        execve(argv[0], (char *const *)argv, (char *const *)envp);
        ssize_t rc = write(2, failed, strlen(failed));
        (void)rc;
        _exit(127);
    }
    s_pids[slot] = pid;
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

hproc_t *
hproc_start_argv(const char *name, const char *label, int flags, const char *const args[])
{
    return hproc_start_env(name, label, flags, NULL, args);
}

void
hproc_destroy(hproc_t **self_p)
{
    assert(self_p);
    hproc_t *self = *self_p;
    if (!self)
        return;
    if (self->pid > 0) {
        kill(self->pid, SIGKILL);
        waitpid(self->pid, NULL, 0);
    }
    if (self->in_fd >= 0)
        close(self->in_fd);
    if (self->out_fd >= 0)
        close(self->out_fd);
    s_pids[self->slot] = 0;
    s_procs[self->slot] = NULL;
    free(self->output);
    free(self->err_text);
    free(self->label);
    free(self);
    *self_p = NULL;
}

void
hproc_type(hproc_t *self, const char *text)
{
    assert(self);
    int fd = self->flags & HPROC_PTY ? self->out_fd : self->in_fd;
    S_CHECK(fd >= 0, "stdin of %s is closed", self->label);
    size_t length = strlen(text);
    S_CHECK(write(fd, text, length) == (ssize_t)length, "write to %s: %s", self->label,
            strerror(errno));
}

void
hproc_type_line(hproc_t *self, const char *line)
{
    assert(self);
    s_note("%s< %s", self->label, line);
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

// Take the next complete line of the output (or, with rest, what is left of it) into buf
static bool
s_take_line(hproc_t *self, char *buf, size_t size, bool rest)
{
    const char *start = self->output + self->line_at;
    size_t left = self->output_size - self->line_at;
    const char *newline = memchr(start, '\n', left);
    if (!newline && (!rest || left == 0))
        return false;
    size_t length = newline ? (size_t)(newline - start) : left;
    snprintf(buf, size, "%.*s", (int)length, start);
    self->line_at += length + (newline ? 1 : 0);
    return true;
}

bool
hproc_read_line(hproc_t *self, char *buf, size_t size, int timeout_ms)
{
    assert(self && size > 0);
    *buf = 0;
    int64_t deadline = zclock_mono() + timeout_ms;
    bool tried = false;
    while (!s_take_line(self, buf, size, false)) {
        int64_t left = deadline - zclock_mono();
        if (tried && left <= 0)
            return false;
        if (!hproc_read(self, left > 0 ? (int)left : 0))
            return s_take_line(self, buf, size, true);  // the end of its output
        tried = true;
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
            s_pids[self->slot] = 0;
            self->status = rc == -1 ? -1 : status;
            break;
        }
        if (zclock_mono() >= deadline)
            return -1;
        if (!hproc_read(self, 10))
            zclock_sleep(2);
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
        s_fail(file, line, "%s did not exit within %d ms; stderr: %.*s; its output:\n%s",
               self->label, timeout_ms, S_SHOWN_MAX, hproc_stderr(self), s_output_tail(self));
    if (!WIFEXITED(status))
        s_fail(file, line, "%s died of signal %d; stderr: %.*s", self->label, WTERMSIG(status),
               S_SHOWN_MAX, hproc_stderr(self));
    s_note("%s exited %d", self->label, WEXITSTATUS(status));
    return WEXITSTATUS(status);
}

void
hproc_kill(hproc_t *self)
{
    assert(self);
    if (self->pid > 0) {
        s_note("SIGKILL to %s", self->label);
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

pid_t
hproc_pid(const hproc_t *self)
{
    assert(self);
    return self->pid;
}

const char *
hproc_stderr(hproc_t *self)
{
    assert(self);
    free(self->err_text);
    self->err_text =
        self->flags & (HPROC_PTY | HPROC_ERR_INHERIT) ? NULL : hfile_slurp(self->err_path, NULL);
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
    if (!hproc_program(name))
        s_not_found(file, line, name);
    hproc_t *self = hproc_start_argv(name, NULL, 0, args);
    if (input)
        hproc_type(self, input);
    hproc_close_stdin(self);
    int code = hproc_wait_exit_at(file, line, self, timeout_ms);
    hfile_read(self->out_path, out, out_size);
    hfile_read(self->err_path, err, err_size);
    hproc_destroy(&self);
    return code;
}

void
hproc_report(void)
{
    for (int i = 0; i < S_PROCS_MAX; i++) {
        hproc_t *self = s_procs[i];
        if (self && (self->flags & HPROC_REPORT)) {
            fprintf(stderr, "--- %s stderr (%s) ---\n", self->label, self->command);
            hfile_print_tail(self->err_path, S_REPORT_LINES, "");
        }
    }
}

void
hproc_destroy_all(void)
{
    for (int i = 0; i < S_PROCS_MAX; i++)
        hproc_destroy(&s_procs[i]);
}

void
hproc_signal_all(int signum)
{
    for (int i = 0; i < S_PROCS_MAX; i++)
        if (s_pids[i] > 0)
            kill(s_pids[i], signum);
}
