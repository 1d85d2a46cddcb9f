// htmux.h - e2e harness: a program in a real terminal. Each htmux runs its program in a 120x30
// tmux session on a tmux server of its own (its socket in the test's temp dir), types keys into
// it and reads its screen. The tmux server is killed at the end of the test.
#ifndef HTMUX_H_INCLUDED
#define HTMUX_H_INCLUDED

#include "zchat_prelude.h"

#define HTMUX_WAIT_MS 5000  // how long the screen may take to show something, or tmux to answer

typedef struct htmux htmux_t;

// Start program name (hproc_program) with args, a shell word list ("" for none), in a new
// terminal, NO_COLOR unset there; its stderr goes to a file. The harness owns the result.
htmux_t *htmux_start_at(const char *file, int line, const char *name, const char *args);
#define htmux_start(name, args) htmux_start_at(__FILE__, __LINE__, name, args)

// Type text as it is (tmux send-keys -l).
void htmux_type_at(const char *file, int line, htmux_t *self, const char *text);
#define htmux_type(t, text) htmux_type_at(__FILE__, __LINE__, t, text)

// Press one key by its tmux name: "Enter", "Tab", "Up", "C-u", "C-d".
void htmux_key_at(const char *file, int line, htmux_t *self, const char *key);
#define htmux_key(t, key) htmux_key_at(__FILE__, __LINE__, t, key)

// Paste text as a terminal does, in bracketed paste mode when the program asked for it
// (tmux paste-buffer -p): lines separated by newlines arrive at once.
void htmux_paste_at(const char *file, int line, htmux_t *self, const char *text);
#define htmux_paste(t, text) htmux_paste_at(__FILE__, __LINE__, t, text)

// The screen as text into screen, lines without trailing blanks; with escapes, colors and
// attributes show as escape sequences (tmux capture-pane -e).
void htmux_screen_at(const char *file, int line, htmux_t *self, char *screen, size_t size,
                     bool escapes);
#define htmux_screen(t, screen, size, escapes)                                                     \
    htmux_screen_at(__FILE__, __LINE__, t, screen, size, escapes)

// Wait up to HTMUX_WAIT_MS until check(screen, arg) holds, the screen left in screen; fails,
// showing the screen, with what (what was expected) if it never does.
void htmux_wait_screen_at(const char *file, int line, htmux_t *self, char *screen, size_t size,
                          const char *what, bool (*check)(const char *screen, const void *arg),
                          const void *arg);
#define htmux_wait_screen(t, screen, what, check, arg)                                             \
    htmux_wait_screen_at(__FILE__, __LINE__, t, screen, sizeof screen, what, check, arg)

// The last non-empty line of a screen, into line.
void htmux_last_line(const char *screen, char *line, size_t size);

// The column of the cursor, from 0.
int htmux_cursor_x_at(const char *file, int line, htmux_t *self);
#define htmux_cursor_x(t) htmux_cursor_x_at(__FILE__, __LINE__, t)

// Wait up to HTMUX_WAIT_MS for the program to exit, then for the tmux server to go with its
// session; returns the program's exit code.
int htmux_wait_exit_at(const char *file, int line, htmux_t *self);
#define htmux_wait_exit(t) htmux_wait_exit_at(__FILE__, __LINE__, t)

// What the program wrote on stderr so far. Borrowed until the next call.
const char *htmux_stderr(htmux_t *self);

#endif
