// ui.h - the zchat command line on top of conn: commands, the display of every line, and line
// editing with GNU readline when stdin is a terminal (plain lines when it is not)
#ifndef UI_H_INCLUDED
#define UI_H_INCLUDED

#include "zchat_prelude.h"
#include "client_options.h"

typedef struct ui ui_t;

typedef struct {
    const char *host;        // broker host (commands endpoint)
    int port;                // broker commands port
    const char *user;        // the name to log in with
    const char *room;        // a room to join at start and make current; NULL: stay in lobby
    bool no_color;           // --no-color; colors are also off with NO_COLOR or a stdout not a tty
    const char *server_key;  // the broker's public key (Z85): CURVE; NULL: plain
    zcert_t *client_cert;    // with server_key: our certificate; NULL: a new one (copied)
    const char *password;    // --password-file's; NULL: asked on a terminal when needed
} ui_options_t;

// Create the CLI; nothing is connected yet. Strings in options are copied.
ui_t *ui_new(const ui_options_t *options);

// Leave (quit with the /quit reason, if any), restore the terminal, null *self_p; safe on NULL.
void ui_destroy(ui_t **self_p);

// Connect, then show events and run what is typed until /quit, Ctrl-D, end of input, SIGINT
// or SIGTERM. Returns the exit status: 0 for those, 1 if the broker cannot be reached or
// refuses the login, or if messages typed were left without an ack at the end (ui_error says
// which).
int ui_run(ui_t *self);

// Why ui_run returned 1: a sentence for the user; NULL if it did not. Borrowed.
const char *ui_error(const ui_t *self);

// Call first in main, before anything starts CZMQ (it catches SIGINT and SIGTERM): SIGHUP and
// SIGQUIT then end the session like those, a signal ignored on purpose stays ignored, and a
// closed stdout (SIGPIPE) does not kill us before we say quit.
void ui_signals(void);

// zchat's command line: the options it adds to the shared ones, parsed into a ui_options_t
// (the arg of client_options_new); its --help.
extern const client_options_program_t ui_program;

void ui_test(bool verbose);

#endif
