// hproc.h - e2e harness: the programs a test runs as child processes besides its brokers
// (zchat, zchat-logger, the broker's subcommands): start, type, signal, wait, read their output.
// Every child still running when the test ends or fails is killed with SIGKILL and reaped.
#ifndef HPROC_H_INCLUDED
#define HPROC_H_INCLUDED

#include "zchat_prelude.h"
#include "harness.h"

typedef struct hproc hproc_t;

// How hproc_start connects the child's standard streams; stderr goes to a file unless HPROC_PTY
#define HPROC_OUT_PIPE 1  // stdout a pipe read by hproc_read, else a file (hproc_out_path)
#define HPROC_IN_NULL  2  // stdin /dev/null, else a pipe (hproc_type, hproc_close_stdin)
#define HPROC_PTY      4  // stdin, stdout and stderr on a new pseudo-terminal (TERM=dumb)
#define HPROC_REPORT   8  // if the test fails, show the end of its stderr in the report

// The path of program name: ZCHAT_BROKER (default build/test/zchat-broker) for "zchat-broker",
// else the file of that name beside it; ZCHAT_CLIENT for "zchat" and ZCHAT_LOGGER for
// "zchat-logger" win when set. Borrowed until the next call.
const char *hproc_program(const char *name);

// The port of the broker's commands endpoint.
int hproc_port(hbroker_t *broker);

// Start program name (hproc_program) with the NULL-terminated args and the streams of flags;
// label names it in messages (NULL: its command line). The harness owns the result; it stays
// valid until the end of the test.
hproc_t *hproc_start_argv(const char *name, const char *label, int flags, const char *const args[]);
#define hproc_start(name, label, flags, ...)                                                       \
    hproc_start_argv(name, label, flags, (const char *const[]){__VA_ARGS__})

// Write text, as it is, to its stdin pipe or its terminal.
void hproc_type(hproc_t *self, const char *text);

// Write line and a newline to its stdin pipe or its terminal, with a note in the trace.
void hproc_type_line(hproc_t *self, const char *line);

// Close its stdin pipe (end of input). Safe to call twice.
void hproc_close_stdin(hproc_t *self);

// Send a signal without waiting. Nothing happens once it has been reaped.
void hproc_signal(hproc_t *self, int signum);

// Take what it wrote on its stdout pipe or its terminal, waiting up to timeout_ms for some.
// Returns false at the end of its output (or without a pipe or terminal to read).
bool hproc_read(hproc_t *self, int timeout_ms);

// Everything hproc_read took so far, NUL-terminated. Borrowed until the next read.
const char *hproc_output(const hproc_t *self);
size_t hproc_output_size(const hproc_t *self);

// Wait up to timeout_ms for it to exit, reading its output meanwhile. Returns the raw wait
// status, or -1 on timeout.
int hproc_wait(hproc_t *self, int timeout_ms);

// Wait up to timeout_ms for it to exit and return its exit code; fails the test (at file:line,
// with its stderr) if it did not exit in time or died of a signal.
int hproc_wait_exit_at(const char *file, int line, hproc_t *self, int timeout_ms);
#define hproc_wait_exit(p, ms) hproc_wait_exit_at(__FILE__, __LINE__, p, ms)

// SIGKILL and reap.
void hproc_kill(hproc_t *self);

// true while it has not been reaped.
bool hproc_is_running(const hproc_t *self);

// Its stderr so far, the whole file ("" with a terminal). Borrowed until the next call.
const char *hproc_stderr(hproc_t *self);

// The files holding its stdout (unless HPROC_OUT_PIPE or HPROC_PTY) and its stderr. Borrowed.
const char *hproc_out_path(const hproc_t *self);
const char *hproc_err_path(const hproc_t *self);

// Its label, or its command line. Borrowed.
const char *hproc_label(const hproc_t *self);

// Its command line. Borrowed.
const char *hproc_command(const hproc_t *self);

// Run program name to its exit with input (NULL: none) on its stdin, its stdout and stderr
// into out and err (NUL-terminated, truncated). Returns its exit code; fails the test if it
// does not exit within timeout_ms or dies of a signal.
int hproc_run_at(const char *file, int line, const char *name, const char *input, int timeout_ms,
                 char *out, size_t out_size, char *err, size_t err_size, const char *const args[]);

#endif
