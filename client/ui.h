// ui.h - the zchat command line on top of conn: commands, the display of every line, and line
// editing with GNU readline when stdin is a terminal (plain lines when it is not)
#ifndef UI_H_INCLUDED
#define UI_H_INCLUDED

#include "zchat_prelude.h"

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
// refuses the login, or if messages typed were left without an ack at the end (the reason is
// printed on stderr).
int ui_run(ui_t *self);

void ui_test(bool verbose);

#endif
