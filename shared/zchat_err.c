// zchat_err.c - the zchat-protocol(7) ERRORS codes and their default sentences
#include "zchat_prelude.h"

bool zchat_verbose = false;

static const struct {
    const char *code;
    const char *message;
} s_errors[ZCHAT_ERR_COUNT] = {
    [ZCHAT_OK] = {"ok", "Success."},
    [ZCHAT_ERR_BAD_FRAME] = {"bad_frame", "A request must be exactly one frame."},
    [ZCHAT_ERR_BAD_JSON] = {"bad_json", "The frame is not one valid UTF-8 JSON object."},
    [ZCHAT_ERR_BAD_REQUEST] = {"bad_request", "A field is missing or has the wrong type."},
    [ZCHAT_ERR_UNKNOWN_TYPE] = {"unknown_type", "Unknown request type."},
    [ZCHAT_ERR_PROTO_MISMATCH] = {"proto_mismatch", "This broker speaks ZCHAT/1 (proto 1)."},
    [ZCHAT_ERR_NOT_LOGGED_IN] = {"not_logged_in", "Send hello first."},
    [ZCHAT_ERR_ALREADY_LOGGED_IN] = {"already_logged_in", "This connection is logged in."},
    [ZCHAT_ERR_FORBIDDEN] = {"forbidden", "Observer sessions may not do that."},
    [ZCHAT_ERR_INVALID_NAME] = {"invalid_name", "Invalid name."},
    [ZCHAT_ERR_NAME_TAKEN] = {"name_taken", "That name is in use."},
    [ZCHAT_ERR_AUTH_FAILED] = {"auth_failed", "Wrong user name or password."},
    [ZCHAT_ERR_NO_SUCH_USER] = {"no_such_user", "No such user online."},
    [ZCHAT_ERR_NO_SUCH_ROOM] = {"no_such_room", "No such room."},
    [ZCHAT_ERR_NOT_IN_ROOM] = {"not_in_room", "You are not in that room."},
    [ZCHAT_ERR_BAD_TEXT] = {"bad_text", "Text must be valid UTF-8 without control characters."},
    [ZCHAT_ERR_TOO_MANY_ROOMS] = {"too_many_rooms", "You are in too many rooms (64 at most)."},
    [ZCHAT_ERR_RATE_LIMITED] = {"rate_limited", "Too many requests: slow down."},
    [ZCHAT_ERR_SERVER_FULL] =
        {"server_full", "The server holds all the rooms or sessions it may: try again later."},
    [ZCHAT_ERR_INTERNAL] = {"internal", "Internal broker error."},
};

const char *
zchat_err_code(zchat_err_t err)
{
    if (err < 0 || err >= ZCHAT_ERR_COUNT)
        err = ZCHAT_ERR_INTERNAL;
    return s_errors[err].code;
}

const char *
zchat_err_message(zchat_err_t err)
{
    if (err < 0 || err >= ZCHAT_ERR_COUNT)
        err = ZCHAT_ERR_INTERNAL;
    return s_errors[err].message;
}

zchat_err_t
zchat_err_from_code(const char *code)
{
    assert(code);
    for (int err = ZCHAT_ERR_BAD_FRAME; err < ZCHAT_ERR_COUNT; err++)
        if (streq(code, s_errors[err].code))
            return (zchat_err_t)err;
    return ZCHAT_ERR_COUNT;
}

void
zchat_err_test(bool verbose)
{
    (void)verbose;
    for (int err = 0; err < ZCHAT_ERR_COUNT; err++) {
        assert(s_errors[err].code && s_errors[err].message);
        if (err != ZCHAT_OK)
            assert(zchat_err_from_code(zchat_err_code((zchat_err_t)err)) == (zchat_err_t)err);
    }
    assert(streq(zchat_err_code(ZCHAT_ERR_BAD_JSON), "bad_json"));
    assert(streq(zchat_err_code(ZCHAT_ERR_COUNT), "internal"));
    assert(zchat_err_from_code("nope") == ZCHAT_ERR_COUNT);
    assert(zchat_err_from_code("ok") == ZCHAT_ERR_COUNT);
}
