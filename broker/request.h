// request.h - the request being handled: who asked, what, and how to answer it
//
// The dispatcher (broker.c) makes one for each request and hands it to the handler, its whole
// context: the handler reads the fields of req->msg, makes every check, then changes state and
// answers with request_reply_open ... request_reply, or request_ack. When a check fails it returns
// the error, with request_fail saying why; the dispatcher sends the one error reply.
#ifndef REQUEST_H_INCLUDED
#define REQUEST_H_INCLUDED

#include "zchat_prelude.h"
#include "session.h"
#include "zchat_json.h"
#include "zchat_req.h"

typedef struct broker broker_t;

typedef struct {
    broker_t *broker;           // whose turn the replies join
    const byte *identity;       // the routing id it came from; borrowed: the frame's
    size_t identity_size;       // 1 to 255 bytes
    char key[SESSION_KEY_MAX];  // session_identity_key of identity
    session_t *session;         // that connection's session (borrowed); NULL before hello
    const zchat_req_t *msg;     // the decoded request; NULL if the frame was none
    const char *id;             // its valid "id", or NULL; borrowed from msg
    const char *type;           // its type once known to be a request type, else NULL
    char detail[512];           // the error reply's message; "" for the code's own sentence
} request_t;

// Begin a reply of type to req in the turn's out buffer; the caller adds its members with
// zchat_json_*, then request_reply. Never while an event is open: finish the event first.
zchat_json_t *request_reply_open(request_t *req, const char *type);

// End the reply request_reply_open began, with req's id, and queue it for the end of the turn.
void request_reply(request_t *req);

// Queue the ack of a say (seq: its event's) or of a msg (seq -1). Needs an id.
void request_ack(request_t *req, int64_t seq);

// request_ack, and remember the ack in the session, for a retry of the same id.
void request_ack_remember(request_t *req, int64_t seq);

// Say why req fails: format is the error reply's message. Returns err, for
// `return request_fail(req, ZCHAT_ERR_..., "...")`.
zchat_err_t request_fail(request_t *req, zchat_err_t err, const char *format, ...) CHECK_PRINTF(3);

// Queue the error reply for err: code, message (req's detail, or the code's own sentence),
// and the request type when known. For the dispatcher: handlers return their error.
void request_reply_error(request_t *req, zchat_err_t err);

// The room named by field key, canonical, into name[ZCHAT_NAME_MAX + 1]. Fails with
// BAD_REQUEST when it is absent, INVALID_NAME when it is no room name.
zchat_err_t request_room(request_t *req, const char *key, char *name);

// Text field key into *text (NULL if absent and not required): BAD_REQUEST if required and
// absent, BAD_TEXT if not min..max bytes of clean UTF-8.
zchat_err_t request_text(request_t *req, const char *key, bool required, size_t min, size_t max,
                         const char **text);

void request_test(bool verbose);

#endif
