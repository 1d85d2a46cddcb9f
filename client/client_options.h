// client_options.h - the command line of the client programs (zchat, zchat-logger): the options
// they share, with one default each and one way to say what is wrong; each program adds its own
// (named client_options, not options: the broker's options.h is on the same include path)
#ifndef CLIENT_OPTIONS_H_INCLUDED
#define CLIENT_OPTIONS_H_INCLUDED

#include "zchat_prelude.h"
#include "zchat_name.h"

#include <getopt.h>

#define CLIENT_OPTIONS_USAGE 2    // the exit status for a bad option
#define CLIENT_OPTIONS_OWN   256  // the val of a program's first own option without a letter

#define CLIENT_OPTIONS_STR(x)  #x
#define CLIENT_OPTIONS_XSTR(x) CLIENT_OPTIONS_STR(x)

// The lines of --help for the shared options, aligned at column 27
#define CLIENT_OPTIONS_HELP_BROKER                                                                 \
    "  -H, --host HOST          broker host (default " ZCHAT_DEFAULT_HOST ")\n"                    \
    "  -p, --port N             broker command port (default " CLIENT_OPTIONS_XSTR(                \
        ZCHAT_DEFAULT_PORT) ")\n"
#define CLIENT_OPTIONS_HELP_USER "  -u, --user NAME          user name: " ZCHAT_NAME_USER_RULE "\n"
#define CLIENT_OPTIONS_HELP_KEYS                                                                   \
    "      --server-key KEY|FILE  encrypt (CurveZMQ) with the broker's public key: the key,\n"     \
    "                           or a file holding it (its certificate, or what zchat-broker\n"     \
    "                           printed)\n"                                                        \
    "      --client-cert FILE   with --server-key: our certificate, made if missing (a broker\n"   \
    "                           with --clients needs FILE); default: a new key for each run\n"
#define CLIENT_OPTIONS_HELP_PASSWORD                                                               \
    "      --password-file FILE the password, on the first line of FILE (default: asked on\n"      \
    "                           the terminal when the broker wants one)\n"
#define CLIENT_OPTIONS_HELP_END                                                                    \
    "      --help               show this help and exit\n"                                         \
    "      --version            show the version and exit\n"

typedef struct client_options client_options_t;

// A program, as the shared parser needs it: its name, its help, its own options
typedef struct {
    const char *name;  // "zchat": starts each message and the --version line
    const char *help;  // what --help prints
    bool login;        // it logs in with a name: -u NAME and --password-file FILE are options
    const struct option *options;  // its own options, ended by a zeroed one; NULL: none. val:
                                   // a letter but H p r u v, or CLIENT_OPTIONS_OWN + i
    const char *letters;           // getopt letters of those with one ("d:o:"); NULL: none
    // One of its own options (its val, and its value or NULL) into arg. Returns -1 to go on,
    // or an exit status after saying what is wrong (zchat_arg_bad, client_options_bad).
    int (*parse)(void *arg, int option, const char *value);
    // After the last option, the rules that take several (the shared ones are in options).
    // Returns -1 to go on, or an exit status after saying why. NULL: none.
    int (*check)(void *arg, const client_options_t *options);
} client_options_program_t;

// What the command line says; the object owns every field (read them, do not change them)
struct client_options {
    char *host;            // -H; ZCHAT_DEFAULT_HOST when not given
    int port;              // -p; ZCHAT_DEFAULT_PORT when not given
    bool server_given;     // -H or -p was given
    char *user;            // -u; NULL if not given
    const char **rooms;    // -r, each one canonical (zchat_name_room), in the order given
    size_t room_count;     //
    char *server_key;      // --server-key: the broker's public key (Z85); NULL: plain
    zcert_t *client_cert;  // --client-cert's certificate, read or made; NULL: none given
    char *password;        // --password-file's first line (wiped when freed); NULL: none
    bool verbose;          // -v
    // The parser's own
    const client_options_program_t *program;  // borrowed
    void *arg;                                // for program's functions
    const char *cert_path;                    // --client-cert's FILE, borrowed from argv
};

// Create the options of program, every one at its default; program's functions get arg.
client_options_t *client_options_new(const client_options_program_t *program, void *arg);

// Wipe the password, free everything, null *self_p; safe on NULL.
void client_options_destroy(client_options_t **self_p);

// Parse argv (argv[0] is the program). Returns -1 to go on and run; otherwise the exit status,
// after printing --help or --version (0) or a line on stderr that says what is wrong
// (CLIENT_OPTIONS_USAGE). A --client-cert FILE that does not exist is made, and stderr says so.
int client_options_parse(client_options_t *self, int argc, char **argv);

// For a program that logs in and got no -u: on a terminal, ask for the user name, and for the
// host and port too when neither -H nor -p was given (Enter takes the default); when stdin is
// not a terminal, say that -u is needed. Returns -1 to go on, 0 if the input ended at a
// question, or CLIENT_OPTIONS_USAGE.
int client_options_ask(client_options_t *self);

// Start CZMQ's log as the program: its name as the ident, on stderr, debug lines with -v.
void client_options_log(const client_options_t *self);

// Say on stderr "PROGRAM: <format...> (see --help)". Returns CLIENT_OPTIONS_USAGE.
int client_options_bad(const char *program, const char *format, ...) CHECK_PRINTF(2);

void client_options_test(bool verbose);

#endif
