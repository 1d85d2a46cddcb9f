// options.h - zchat-broker's command line
#ifndef OPTIONS_H_INCLUDED
#define OPTIONS_H_INCLUDED

#include "zchat_prelude.h"

// Password accounts (--accounts)
typedef enum {
    OPTIONS_ACCOUNTS_OFF,       // any valid name may log in; a password is ignored
    OPTIONS_ACCOUNTS_OPTIONAL,  // a registered name needs its password; other names are free
    OPTIONS_ACCOUNTS_REQUIRED,  // only registered names, with their password
} options_accounts_t;

// What zchat-broker is asked to do: run, or one of the subcommands
typedef enum {
    OPTIONS_RUN,
    OPTIONS_KEYGEN,       // keygen: print a new CURVE key pair
    OPTIONS_USER_ADD,     // user add NAME
    OPTIONS_USER_DEL,     // user del NAME
    OPTIONS_USER_LIST,    // user list
    OPTIONS_USER_PASSWD,  // user passwd NAME
} options_command_t;

// Rooms are never forgotten while the broker runs, and each one takes memory and a row: the
// cap keeps a client that joins name after name from growing the broker without bound. The
// limit stays under the store's (2^22 - 1 room ids).
#define OPTIONS_MAX_ROOMS_DEFAULT 100000
#define OPTIONS_MAX_ROOMS_LIMIT   4000000

// Sessions, live or expired but resumable (60 s), each take memory (about 2 KiB, up to 27 KiB
// with its retry ids): the cap keeps a client that logs in name after name on new connections
// from growing the broker without bound.
#define OPTIONS_MAX_SESSIONS_DEFAULT 50000
#define OPTIONS_MAX_SESSIONS_LIMIT   1000000

typedef struct {
    char host[256];           // bind address
    int port;                 // commands (ROUTER); 0: any free port
    int feed_port;            // feed (PUB); -1: port + 1 (or any free one when port is 0)
    char feed_endpoint[300];  // advertised in welcome.feed; "": derived from host and port
    char db[4096];            // SQLite path, or ":memory:"
    int heartbeat_ms;
    double rate;  // requests/s per session; 0: no limit
    double burst;
    long history;       // events kept per room
    long max_rooms;     // rooms held at most (lobby always exists)
    long max_sessions;  // sessions held at most, live or resumable
    bool verbose;
    bool curve;                     // --curve: both sockets use CURVE
    char keys[4096];                // --keys: the broker's certificate (with --curve; defaulted)
    char clients[4096];             // --clients: allowed client certificates; "": any client
    options_accounts_t accounts;    // --accounts
    bool open_registration;         // --open-registration: the register request is allowed
    options_command_t command;      // OPTIONS_RUN, or a subcommand
    char user[ZCHAT_NAME_MAX + 1];  // the NAME of user add, del and passwd
} options_t;

// Parse argv into options. Returns -1 to go on and run (or do options->command); otherwise
// the exit code, after printing --help or --version (0) or a one-line error on stderr (2).
// With --curve and no --keys, keys is the directory zchat-keys beside the database.
int options_parse(options_t *self, int argc, char **argv);

void options_test(bool verbose);

#endif
