// htmux.c - e2e harness: a program in a real terminal, driven through tmux commands run with
// hproc: keys typed, screens captured, the exit code read from a file the session's shell writes
#include "zchat_prelude.h"
#include "harness.h"
#include "hfile.h"
#include "hproc.h"
#include "htmux.h"

#include <limits.h>
#include <signal.h>

#define S_TMUX_MAX 4  // terminals in one test

struct htmux {
    pid_t server;  // the tmux server (not our child: tmux forks it off); 0 once gone
    char socket[PATH_MAX];
    char exit_path[PATH_MAX];  // the shell writes the program's exit code here
    char err_path[PATH_MAX];   // the program's stderr
    char *err_text;            // the last htmux_stderr, owned
};

static htmux_t *s_terminals[S_TMUX_MAX];
static int s_count;

// The servers ignore SIGTERM while a session lives, and their sockets may be gone with the temp
// dir: SIGKILL, which hangs up the terminal of whatever runs in them
static void
s_cleanup(void)
{
    for (int i = 0; i < s_count; i++) {
        htmux_t *self = s_terminals[i];
        if (self->server > 0)
            kill(self->server, SIGKILL);
        free(self->err_text);
        free(self);
        s_terminals[i] = NULL;
    }
    s_count = 0;
}

// Run tmux with args on this terminal's server; its stdout into out (may be NULL). Fails unless
// it exits 0.
static void
s_tmux_at(const char *file, int line, htmux_t *self, char *out, size_t size,
          const char *const args[])
{
    const char *argv[32] = {"-S", self->socket, "-f", "/dev/null"};
    int argc = 4;
    for (int i = 0; args[i]; i++) {
        if (argc == 31)
            harness_fail(file, line, "too many arguments for tmux");
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    char ignored[64], err[1024];
    if (!out) {
        out = ignored;
        size = sizeof ignored;
    }
    int code =
        hproc_run_at(file, line, "tmux", NULL, HTMUX_WAIT_MS, out, size, err, sizeof err, argv);
    if (code != 0)
        harness_fail(file, line, "tmux %s failed (exit %d): %s", args[0], code, err);
}
// (at the caller's file and line: every caller has them)
#define s_tmux(self, out, size, ...)                                                               \
    s_tmux_at(file, line, self, out, size, (const char *const[]){__VA_ARGS__})

// true if process pid runs (a zombie that nobody reaps does not count)
static bool
s_is_running(pid_t pid)
{
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    if (!fgets(stat, sizeof stat, file))
        stat[0] = 0;
    fclose(file);
    const char *paren = strrchr(stat, ')');  // "pid (name) state ..."
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

htmux_t *
htmux_start_at(const char *file, int line, const char *name, const char *args)
{
    if (s_count == 0)
        harness_on_end(NULL, NULL, s_cleanup);
    if (s_count == S_TMUX_MAX)
        harness_fail(file, line, "more than %d terminals in one test", S_TMUX_MAX);
    htmux_t *self = zmalloc(sizeof(htmux_t));
    s_terminals[s_count++] = self;
    char base[32];
    snprintf(base, sizeof base, "tmux-%d.sock", s_count);
    harness_path(self->socket, sizeof self->socket, base);
    snprintf(base, sizeof base, "tmux-%d.exit", s_count);
    harness_path(self->exit_path, sizeof self->exit_path, base);
    snprintf(base, sizeof base, "tmux-%d.stderr", s_count);
    harness_path(self->err_path, sizeof self->err_path, base);
    const char *program = hproc_program(name);
    if (!program)
        harness_fail(file, line, "%s is not in PATH", name);
    char command[3 * PATH_MAX + 512];
    snprintf(command, sizeof command, "env -u NO_COLOR '%s' %s 2>'%s'; echo $? >'%s'", program,
             args, self->err_path, self->exit_path);
    s_tmux(self, NULL, 0, "new-session", "-d", "-s", "main", "-x", "120", "-y", "30", command,
           NULL);
    char out[64];
    s_tmux(self, out, sizeof out, "display-message", "-p", "-t", "main", "#{pid}", NULL);
    self->server = (pid_t)atoi(out);
    if (self->server <= 0)
        harness_fail(file, line, "no tmux server pid: %s", out);
    return self;
}

void
htmux_type_at(const char *file, int line, htmux_t *self, const char *text)
{
    harness_note("tmux< %s", text);
    s_tmux(self, NULL, 0, "send-keys", "-t", "main", "-l", text, NULL);
}

void
htmux_key_at(const char *file, int line, htmux_t *self, const char *key)
{
    harness_note("tmux< [%s]", key);
    s_tmux(self, NULL, 0, "send-keys", "-t", "main", key, NULL);
}

void
htmux_paste_at(const char *file, int line, htmux_t *self, const char *text)
{
    harness_note("tmux< [paste of %zu bytes]", strlen(text));
    // Through a file: a paste of hundreds of lines is no command-line argument
    char path[PATH_MAX];
    harness_path(path, sizeof path, "tmux-paste.txt");
    FILE *out = fopen(path, "w");
    if (!out || fputs(text, out) == EOF || fclose(out) == EOF)
        harness_fail(file, line, "cannot write %s: %s", path, strerror(errno));
    s_tmux(self, NULL, 0, "load-buffer", "-b", "paste", path, NULL);
    s_tmux(self, NULL, 0, "paste-buffer", "-p", "-d", "-b", "paste", "-t", "main", NULL);
}

void
htmux_screen_at(const char *file, int line, htmux_t *self, char *screen, size_t size, bool escapes)
{
    if (escapes)
        s_tmux(self, screen, size, "capture-pane", "-p", "-e", "-t", "main", NULL);
    else
        s_tmux(self, screen, size, "capture-pane", "-p", "-t", "main", NULL);
}

void
htmux_wait_screen_at(const char *file, int line, htmux_t *self, char *screen, size_t size,
                     const char *what, bool (*check)(const char *screen, const void *arg),
                     const void *arg)
{
    int64_t deadline = zclock_mono() + HTMUX_WAIT_MS;
    while (true) {
        htmux_screen_at(file, line, self, screen, size, false);
        if (check(screen, arg))
            return;
        if (zclock_mono() > deadline)
            harness_fail(file, line, "the screen never showed %s:\n%s", what, screen);
        zclock_sleep(50);
    }
}

void
htmux_last_line(const char *screen, char *line, size_t size)
{
    const char *end = screen + strlen(screen);
    while (end > screen && end[-1] == '\n')
        end--;
    const char *start = end;
    while (start > screen && start[-1] != '\n')
        start--;
    snprintf(line, size, "%.*s", (int)(end - start), start);
}

int
htmux_cursor_x_at(const char *file, int line, htmux_t *self)
{
    char out[64];
    s_tmux(self, out, sizeof out, "display-message", "-p", "-t", "main", "#{cursor_x}", NULL);
    return atoi(out);
}

int
htmux_wait_exit_at(const char *file, int line, htmux_t *self)
{
    char code[16] = "";
    int64_t deadline = zclock_mono() + HTMUX_WAIT_MS;
    while (!*code) {
        hfile_read(self->exit_path, code, sizeof code);
        if (!*code && zclock_mono() > deadline)
            harness_fail(file, line, "the program in the terminal did not exit; stderr: %s",
                         htmux_stderr(self));
        if (!*code)
            zclock_sleep(20);
    }
    // The session ended with the program, so the tmux server goes too
    deadline = zclock_mono() + HTMUX_WAIT_MS;
    while (s_is_running(self->server) && zclock_mono() < deadline)
        zclock_sleep(20);
    if (s_is_running(self->server))
        harness_fail(file, line, "the tmux server outlived its session");
    self->server = 0;
    harness_note("the program in the terminal exited %d", atoi(code));
    return atoi(code);
}

const char *
htmux_stderr(htmux_t *self)
{
    free(self->err_text);
    self->err_text = hfile_slurp(self->err_path, NULL);
    if (!self->err_text)
        self->err_text = strdup("");
    assert(self->err_text);
    return self->err_text;
}
