// request.c - the request being handled: its replies, its error, its common fields
#include "zchat_prelude.h"
#include "broker_impl.h"
#include "zchat_name.h"
#include "zchat_text.h"

zchat_json_t *
request_reply_open(request_t *req, const char *type)
{
    assert(req && type);
    zchat_json_open(&req->broker->out, type);
    return &req->broker->out;
}

void
request_reply(request_t *req)
{
    assert(req);
    zchat_json_t *out = &req->broker->out;
    if (req->id)
        zchat_json_string(out, "id", req->id);
    size_t size;
    size_t offset = zchat_json_close(out, &size);
    broker_queue(req->broker, NULL, req->identity, req->identity_size, offset, size);
}

void
request_ack(request_t *req, int64_t seq)
{
    assert(req && req->id);
    zchat_json_t *reply = request_reply_open(req, "ack");
    if (seq >= 0)
        zchat_json_int(reply, "seq", seq);
    request_reply(req);  // with the id: a retried id gets the same bytes again from its seq
}

void
request_ack_remember(request_t *req, int64_t seq)
{
    assert(req && req->session);
    request_ack(req, seq);
    session_remember(req->session, req->id, seq);
}

zchat_err_t
request_fail(request_t *req, zchat_err_t err, const char *format, ...)
{
    assert(req && format);
    va_list args;
    va_start(args, format);
    vsnprintf(req->detail, sizeof req->detail, format, args);
    va_end(args);
    return err;
}

void
request_reply_error(request_t *req, zchat_err_t err)
{
    assert(req && err != ZCHAT_OK);
    zchat_json_t *reply = request_reply_open(req, "error");
    zchat_json_string(reply, "code", zchat_err_code(err));
    zchat_json_string(reply, "message", *req->detail ? req->detail : zchat_err_message(err));
    if (req->type)
        zchat_json_string(reply, "request", req->type);
    request_reply(req);
}

zchat_err_t
request_room(request_t *req, const char *key, char *name)
{
    assert(req && req->msg && key && name);
    const char *input = zchat_req_string(req->msg, key);
    if (!input)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: %s.", key);
    if (zchat_name_room(input, name, ZCHAT_NAME_MAX + 1) == -1)
        return request_fail(req, ZCHAT_ERR_INVALID_NAME,
                            "Invalid room name: " ZCHAT_NAME_ROOM_RULE ".");
    return ZCHAT_OK;
}

zchat_err_t
request_text(request_t *req, const char *key, bool required, size_t min, size_t max,
             const char **text)
{
    assert(req && req->msg && key && text);
    *text = zchat_req_string(req->msg, key);
    if (!*text && required)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: %s.", key);
    if (*text && !zchat_text_is_valid(*text, min, max))
        return request_fail(req, ZCHAT_ERR_BAD_TEXT,
                            "The %s must be %zu to %zu bytes of UTF-8 without control characters.",
                            key, min, max);
    return ZCHAT_OK;
}

// --- Self-test: the checks (replies need a broker: broker_test) ---

// Decode json into a request of its own.
static void
s_decode(request_t *req, zchat_req_t *decoder, const char *json)
{
    assert(zchat_req_decode(decoder, json, strlen(json), NULL) == 0);
    req->msg = decoder;
    req->id = zchat_req_id(decoder);
    req->detail[0] = 0;
}

void
request_test(bool verbose)
{
    (void)verbose;
    zchat_req_t *decoder = zchat_req_new();
    request_t req;
    s_decode(&req, decoder, "{\"type\":\"say\",\"room\":\"#Py\",\"text\":\"hi\",\"id\":\"7\"}");
    assert(streq(req.id, "7"));
    char name[ZCHAT_NAME_MAX + 1];
    assert(request_room(&req, "room", name) == ZCHAT_OK && streq(name, "py"));
    assert(!*req.detail);
    const char *text;
    assert(request_text(&req, "text", true, 1, 10, &text) == ZCHAT_OK && streq(text, "hi"));
    assert(request_text(&req, "text", true, 3, 10, &text) == ZCHAT_ERR_BAD_TEXT);
    assert(strstr(req.detail, "text must be 3 to 10 bytes"));
    assert(request_text(&req, "note", false, 0, 10, &text) == ZCHAT_OK && !text);
    assert(request_text(&req, "note", true, 0, 10, &text) == ZCHAT_ERR_BAD_REQUEST);
    assert(streq(req.detail, "Missing field: note."));
    assert(request_room(&req, "to", name) == ZCHAT_ERR_BAD_REQUEST);

    s_decode(&req, decoder, "{\"type\":\"join\",\"room\":\"no where\"}");
    assert(!req.id);
    assert(request_room(&req, "room", name) == ZCHAT_ERR_INVALID_NAME);
    assert(strstr(req.detail, "Invalid room name: "));
    assert(request_fail(&req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", "x") ==
           ZCHAT_ERR_NO_SUCH_ROOM);
    assert(streq(req.detail, "No such room: #x."));
    zchat_req_destroy(&decoder);
}
