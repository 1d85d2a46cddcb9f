// logger.h - zchat-logger: records every room event exactly once, in seq order, into files
// that survive a crash (SIGKILL), a broker restart and logrotate
#ifndef LOGGER_H_INCLUDED
#define LOGGER_H_INCLUDED

#include "zchat_prelude.h"
#include "client_options.h"

typedef struct logger logger_t;

typedef enum {
    LOGGER_JSONL,  // each event as the broker's JSON object, one per line
    LOGGER_TEXT,   // the lines the CLI client shows: "[10:30:20] alice: hi"
} logger_format_t;

typedef enum {
    LOGGER_FSYNC_BATCH,   // fsync at most once a second, while events arrive (default)
    LOGGER_FSYNC_ALWAYS,  // fsync after each event
    LOGGER_FSYNC_NEVER,   // leave it to the kernel
} logger_fsync_t;

// Exit statuses of logger_run (and of zchat-logger)
#define LOGGER_EXIT_OK    0  // stopped by SIGINT/SIGTERM
#define LOGGER_EXIT_FATAL 1  // the broker refused the login, or another fatal error
#define LOGGER_EXIT_USAGE 2  // a bad option (client_options_parse's, in zchat-logger's main)
#define LOGGER_EXIT_WRITE 3  // a write error (disk full, EIO): what was written is kept

typedef struct {
    const char *host;          // broker commands endpoint host
    int port;                  // and port
    const char *const *rooms;  // rooms to record (canonical names, zchat_name_room)
    size_t room_count;
    bool all;  // also every other room, including rooms created later
    logger_format_t format;
    const char *dir;   // one file per room, DIR/<room>.jsonl or .log (made if missing), or NULL
    const char *file;  // one file for every room, or NULL; neither dir nor file: stdout
    logger_fsync_t fsync;
    int sub_hwm;             // SUB receive high-water mark; 0: libzmq's default
    int connect_ms;          // how long one login attempt waits; 0: 2000
    const char *server_key;  // the broker's public key (Z85): CURVE; NULL: plain
    zcert_t *client_cert;    // with server_key: our certificate; NULL: a new one (copied)
} logger_options_t;

// Create the logger: make the directory, repair and read the existing files (a torn last line
// is cut off; the last seq of each room is recovered, so recording resumes right after it).
// Nothing is connected yet. Strings in options are copied. Returns NULL after logging why (a
// directory or file that cannot be made or read).
logger_t *logger_new(const logger_options_t *options);

// Close the files and the connection, null *self_p; safe on NULL. Call logger_run first to
// flush: destroy does not write what a failed run could not.
void logger_destroy(logger_t **self_p);

// Connect (retrying with backoff while the broker is unreachable, saying so on stderr) and
// record until SIGINT or SIGTERM; SIGHUP reopens the files. Returns LOGGER_EXIT_OK after a
// signal (everything flushed), LOGGER_EXIT_WRITE after a write error, LOGGER_EXIT_FATAL if
// the broker refuses the login or the connection cannot be made secure (a wrong server key).
int logger_run(logger_t *self);

// What SIGHUP does: flush, then close and reopen every file at its path (after logrotate
// moved it, a new file starts there). Returns 0, or -1 after logging a write or open error.
int logger_reopen(logger_t *self);

// The last seq recorded for room (written, or buffered for the next flush); 0 if none.
uint64_t logger_last_seq(const logger_t *self, const char *room);

// zchat-logger's command line: the options it adds to the shared ones, parsed into a
// logger_options_t (the arg of client_options_new); its --help.
extern const client_options_program_t logger_program;

void logger_test(bool verbose);

#endif
