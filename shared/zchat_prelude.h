// zchat_prelude.h - included first by every zchat source file: CZMQ and the ZCHAT/1 limits
#ifndef ZCHAT_PRELUDE_H_INCLUDED
#define ZCHAT_PRELUDE_H_INCLUDED

#ifdef NDEBUG
#error "zchat keeps its asserts on: do not build with NDEBUG"
#endif

#include <czmq.h>
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#define ZCHAT_VERSION "0.1.0"

// zchat-protocol(7) NAMES AND LIMITS, and the other limits it states
#define ZCHAT_PROTO           1
#define ZCHAT_FRAME_MAX       65536  // bytes of one request frame
#define ZCHAT_NAME_MAX        32     // bytes of a user or room name
#define ZCHAT_TEXT_MAX        4096   // bytes of say/msg text
#define ZCHAT_NOTE_MAX        256    // bytes of a status note or quit reason
#define ZCHAT_ID_MAX          64     // bytes of a request id
#define ZCHAT_ROOMS_MAX       64     // rooms one session may be in
#define ZCHAT_HISTORY_DEFAULT 100    // history limit when none is given
#define ZCHAT_HISTORY_MAX     1000   // history limit ceiling
#define ZCHAT_IDS_REMEMBERED  256    // say/msg ids remembered per session
#define ZCHAT_RESUME_GRACE_MS 60000  // an expired session stays resumable this long
#define ZCHAT_JSON_DEPTH_MAX  32     // nesting of arrays/objects in a request
#define ZCHAT_TOKEN_LEN       32     // hex characters of a session token

#define ZCHAT_DEFAULT_HOST      "127.0.0.1"
#define ZCHAT_DEFAULT_PORT      12345
#define ZCHAT_DEFAULT_HEARTBEAT 5000

// Logging: zsys_error/warning/notice/info to stderr; debug lines only with -v.
extern bool zchat_verbose;
#define zchat_debug(...)                                                                           \
    do {                                                                                           \
        if (zchat_verbose)                                                                         \
            zsys_debug(__VA_ARGS__);                                                               \
    } while (0)

// One value per zchat-protocol(7) ERRORS code; ZCHAT_OK is success.
typedef enum {
    ZCHAT_OK = 0,
    ZCHAT_ERR_BAD_FRAME,
    ZCHAT_ERR_BAD_JSON,
    ZCHAT_ERR_BAD_REQUEST,
    ZCHAT_ERR_UNKNOWN_TYPE,
    ZCHAT_ERR_PROTO_MISMATCH,
    ZCHAT_ERR_NOT_LOGGED_IN,
    ZCHAT_ERR_ALREADY_LOGGED_IN,
    ZCHAT_ERR_FORBIDDEN,
    ZCHAT_ERR_INVALID_NAME,
    ZCHAT_ERR_NAME_TAKEN,
    ZCHAT_ERR_AUTH_FAILED,
    ZCHAT_ERR_NO_SUCH_USER,
    ZCHAT_ERR_NO_SUCH_ROOM,
    ZCHAT_ERR_NOT_IN_ROOM,
    ZCHAT_ERR_BAD_TEXT,
    ZCHAT_ERR_TOO_MANY_ROOMS,
    ZCHAT_ERR_RATE_LIMITED,
    ZCHAT_ERR_SERVER_FULL,
    ZCHAT_ERR_INTERNAL,
    ZCHAT_ERR_COUNT
} zchat_err_t;

// The wire code of err ("bad_json"); "internal" for an unknown value.
const char *zchat_err_code(zchat_err_t err);

// A default human sentence for err.
const char *zchat_err_message(zchat_err_t err);

// The error for a wire code, or ZCHAT_ERR_COUNT if code is not one.
zchat_err_t zchat_err_from_code(const char *code);

void zchat_err_test(bool verbose);

#endif
