// hproc.h - child processes: the only way the e2e tests and the benchmarks start one (the broker,
// zchat, zchat-logger, tmux, a bench server or worker): start, type, signal, wait, read their
// output. Every child still running when the test or program ends is killed with SIGKILL and
// reaped. Needs no test state: a failure goes to the host's fail hook (hproc_set_host).
#ifndef HPROC_H_INCLUDED
#define HPROC_H_INCLUDED

#include "zchat_prelude.h"

typedef struct hproc hproc_t;

// How hproc_start connects the child's standard streams; stderr goes to a file unless HPROC_PTY
// or HPROC_ERR_INHERIT
#define HPROC_OUT_PIPE    1   // stdout a pipe read by hproc_read, else a file (hproc_out_path)
#define HPROC_IN_NULL     2   // stdin /dev/null, else a pipe (hproc_type, hproc_close_stdin)
#define HPROC_PTY         4   // stdin, stdout and stderr on a new pseudo-terminal (TERM=dumb)
#define HPROC_REPORT      8   // if the test fails, show the end of its stderr in the report
#define HPROC_ERR_INHERIT 16  // stderr is this process's own

// What hproc does when something fails, where it puts the children's files and where its notes
// go. The e2e harness sets these for every test; a program that sets none gets the defaults.
typedef struct {
    // Fail with message (file:line is where the caller asked); must not return. Default: print
    // it on stderr and exit 1.
    void (*fail)(const char *file, int line, const char *message);
    // A progress note ("start ...", "... exited 0"). Default: none.
    void (*note)(const char *text);
    // The directory for the children's stdout and stderr files. Default: $TMPDIR, or /tmp.
    const char *(*dir)(void);
} hproc_host_t;

// Use host's hooks from now on (copied; a NULL hook keeps its default).
void hproc_set_host(const hproc_host_t *host);

// The path of program name. A name with a slash is a path already. zchat-broker is
// ZCHAT_BROKER (default build/test/zchat-broker); another zchat program is the file of that
// name beside it, though ZCHAT_CLIENT for "zchat" and ZCHAT_LOGGER for "zchat-logger" win when
// set; any other name is looked up in PATH. NULL if not found there. Borrowed until the next
// call.
const char *hproc_program(const char *name);

// Start program name (hproc_program) with the NULL-terminated args and the streams of flags;
// label names it in messages (NULL: its command line) and its files ("broker 1":
// broker-1.stderr; proc-N without a label, -N added to a name in use). The child gets this
// process's environment changed by env (NULL-terminated, may be NULL): "NAME=value" sets,
// "NAME" removes. hproc owns the result; it stays valid until hproc_destroy or the end of the
// test.
hproc_t *hproc_start_env(const char *name, const char *label, int flags, const char *const env[],
                         const char *const args[]);

// hproc_start_env with the environment as it is.
hproc_t *hproc_start_argv(const char *name, const char *label, int flags, const char *const args[]);
#define hproc_start(name, label, flags, ...)                                                       \
    hproc_start_argv(name, label, flags, (const char *const[]){__VA_ARGS__})

// Kill it (SIGKILL) if it runs, reap it, close its pipes and free it; null *self_p. Its files
// stay. Safe on NULL.
void hproc_destroy(hproc_t **self_p);

// Write text, as it is, to its stdin pipe or its terminal; fails if it cannot (the child gone:
// hproc ignores SIGPIPE in this process, and restores it in the children).
void hproc_type(hproc_t *self, const char *text);

// Write line and a newline to its stdin pipe or its terminal, with a note.
void hproc_type_line(hproc_t *self, const char *line);

// Close its stdin pipe (end of input). Safe to call twice.
void hproc_close_stdin(hproc_t *self);

// Send a signal without waiting. Nothing happens once it has been reaped.
void hproc_signal(hproc_t *self, int signum);

// Take what it wrote on its stdout pipe or its terminal, waiting up to timeout_ms for some.
// Returns false at the end of its output (or without a pipe or terminal to read).
bool hproc_read(hproc_t *self, int timeout_ms);

// The next line of its output that no hproc_read_line took yet, without its newline, into buf
// (NUL-terminated, truncated), waiting up to timeout_ms for it (reading as hproc_read does).
// At the end of its output, a last line without a newline counts. Returns false if none came.
bool hproc_read_line(hproc_t *self, char *buf, size_t size, int timeout_ms);

// Everything hproc_read took so far, NUL-terminated. Borrowed until the next read.
const char *hproc_output(const hproc_t *self);
size_t hproc_output_size(const hproc_t *self);

// Wait up to timeout_ms for it to exit, reading its output meanwhile. Returns the raw wait
// status, or -1 on timeout.
int hproc_wait(hproc_t *self, int timeout_ms);

// Wait up to timeout_ms for it to exit and return its exit code; fails (at file:line, with its
// stderr) if it did not exit in time or died of a signal.
int hproc_wait_exit_at(const char *file, int line, hproc_t *self, int timeout_ms);
#define hproc_wait_exit(p, ms) hproc_wait_exit_at(__FILE__, __LINE__, p, ms)

// SIGKILL and reap.
void hproc_kill(hproc_t *self);

// true while it has not been reaped.
bool hproc_is_running(const hproc_t *self);

// Its process id; 0 once reaped.
pid_t hproc_pid(const hproc_t *self);

// Its stderr so far, the whole file ("" with a terminal or an inherited stderr). Borrowed
// until the next call.
const char *hproc_stderr(hproc_t *self);

// The files holding its stdout (unless HPROC_OUT_PIPE or HPROC_PTY) and its stderr. Borrowed.
const char *hproc_out_path(const hproc_t *self);
const char *hproc_err_path(const hproc_t *self);

// Its label, or its command line. Borrowed.
const char *hproc_label(const hproc_t *self);

// Its command line. Borrowed.
const char *hproc_command(const hproc_t *self);

// Run program name to its exit with input (NULL: none) on its stdin, its stdout and stderr
// into out and err (NUL-terminated, truncated). Returns its exit code; fails if it does not
// exit within timeout_ms or dies of a signal.
int hproc_run_at(const char *file, int line, const char *name, const char *input, int timeout_ms,
                 char *out, size_t out_size, char *err, size_t err_size, const char *const args[]);

// For a failure report: the end of the stderr of every child started with HPROC_REPORT.
void hproc_report(void);

// hproc_destroy every child (registered with atexit as well).
void hproc_destroy_all(void);

// Send signum to every child that has not been reaped; async-signal-safe, for a signal
// handler.
void hproc_signal_all(int signum);

#endif
