// chat.c - the requests that carry chat: say, msg, history; and ping, which reports the seqs
#include "zchat_prelude.h"
#include "broker_impl.h"
#include "zchat_name.h"
#include "zchat_text.h"

#define CHAT_HISTORY_BYTES 262144  // of events in one history reply: a queued reply is bounded

zchat_err_t
chat_handle_say(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    const char *text;
    if (!err)
        err = request_text(req, "text", true, 1, ZCHAT_TEXT_MAX, &text);
    if (err)
        return err;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room)
        return request_fail(req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", name);
    if (!session_in_room(session, room))
        return request_fail(req, ZCHAT_ERR_NOT_IN_ROOM, "You are not in #%s: join it first.", name);

    broker_event_open(self, room, "message");
    zchat_json_string(&self->out, "from", session_user(session));
    zchat_json_string(&self->out, "text", text);
    // zchat-protocol(7) ROOM EVENTS: the say's id, stored with it, so that a client whose ack was
    // lost with a broker that died after the commit finds its message in history instead of sending
    // it again to the next run (which remembers no ids)
    if (req->id)
        zchat_json_string(&self->out, "id", req->id);
    broker_publish(self, room);
    if (req->id)
        request_ack_remember(req, (int64_t)room_last_seq(room));
    return ZCHAT_OK;
}

// NO_SUCH_USER, naming the user as asked for (cut, made printable).
static zchat_err_t
s_no_such_user(request_t *req, const char *to)
{
    char *safe_to = zchat_text_safe(to);
    zchat_text_cut(safe_to, 64);  // whole characters: the reply must stay valid UTF-8
    request_fail(req, ZCHAT_ERR_NO_SUCH_USER, "No such user: %s.", safe_to);
    free(safe_to);
    return ZCHAT_ERR_NO_SUCH_USER;
}

zchat_err_t
chat_handle_msg(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    const char *to = zchat_req_string(req->msg, "to");
    if (!to)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: to.");
    const char *text;
    zchat_err_t err = request_text(req, "text", true, 1, ZCHAT_TEXT_MAX, &text);
    if (err)
        return err;
    char fold[ZCHAT_NAME_MAX + 1];
    session_t *peer = NULL;
    if (zchat_name_is_user(to) && zchat_name_fold(to, fold, sizeof fold) == 0)
        peer = zhashx_lookup(self->by_name, fold);
    if (!peer)
        return s_no_such_user(req, to);

    // Private messages travel over ROUTER only, and now: a peer that cannot take it is an error.
    // Written into out like a reply, but sent at once, not queued
    zchat_json_t *private = &self->out;
    zchat_json_open(private, "private");
    zchat_json_string(private, "from", session_user(session));
    zchat_json_string(private, "to", session_user(peer));
    zchat_json_string(private, "text", text);
    zchat_json_int(private, "ts", self->now);
    // zchat-protocol(7) RETRIES: the msg's id, so that the recipient drops a private it was sent
    // twice (a msg retried after a broker restart, which remembers no ids)
    if (req->id)
        zchat_json_string(private, "id", req->id);
    size_t json_size;
    size_t offset = zchat_json_close(private, &json_size);
    size_t size;
    const byte *identity = session_identity(peer, &size);
    if (broker_send_to(self, identity, size, private->data + offset, json_size) == -1)
        return s_no_such_user(req, to);
    if (req->id)
        request_ack_remember(req, -1);
    return ZCHAT_OK;
}

// A history reply being built, event by event, by store_history's callback.
typedef struct {
    zchat_json_t *reply;  // the history reply, open in out
    uint64_t last;        // seq of the last event in the reply
    size_t bytes;         // of the events in the reply
    bool full;            // CHAT_HISTORY_BYTES reached: the client pages on (complete is false)
} s_history_t;

static void
s_add_event(void *arg, uint64_t seq, const char *json)
{
    s_history_t *history = arg;
    size_t size = strlen(json);
    if (history->full || (history->bytes > 0 && history->bytes + size > CHAT_HISTORY_BYTES)) {
        history->full = true;
        return;
    }
    zchat_json_raw(history->reply, NULL, json);
    history->bytes += size;
    history->last = seq;
}

zchat_err_t
chat_handle_history(broker_t *self, request_t *req)
{
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    if (err)
        return err;
    int64_t since = 0, limit = ZCHAT_HISTORY_DEFAULT;
    zchat_req_opt_int(req->msg, "since", &since);
    zchat_req_opt_int(req->msg, "limit", &limit);
    if (since < 0)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "since must be 0 or more.");
    if (limit < 1)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "limit must be 1 or more.");
    if (limit > ZCHAT_HISTORY_MAX)
        limit = ZCHAT_HISTORY_MAX;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room)
        return request_fail(req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", name);

    s_history_t history = {request_reply_open(req, "history"), 0, 0, false};
    zchat_json_string(history.reply, "room", name);
    // zchat-protocol(7) SEQ, HISTORY AND EXACTLY-ONCE DISPLAY: the room's last seq as of this
    // reply, so that a client declares lost only what is missing at or below it
    zchat_json_int(history.reply, "seq", (int64_t)room_last_seq(room));
    zchat_json_array(history.reply, "events");
    int count =
        store_history(self->store, name, (uint64_t)since, (size_t)limit, s_add_event, &history);
    if (count < 0) {
        zchat_json_cancel(history.reply);  // the error reply takes its place in out
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The history cannot be read now: try again.");
    }
    bool complete = !history.full && (count < limit || history.last >= room_last_seq(room));
    zchat_json_end(history.reply);
    zchat_json_bool(history.reply, "complete", complete);
    request_reply(req);
    return ZCHAT_OK;
}

zchat_err_t
chat_handle_ping(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    zchat_json_t *reply = request_reply_open(req, "pong");
    // zchat-protocol(7) REPLIES: a ping is allowed before hello, so say whether this connection has
    // a session (and which broker run answers): a client taken over, expired or restarted away
    // learns it
    zchat_json_bool(reply, "logged_in", session != NULL);
    zchat_json_string(reply, "epoch", self->epoch);
    zchat_json_object(reply, "seqs");
    for (size_t i = 0; session && i < session_rooms(session); i++) {
        room_t *room = session_room(session, i);
        zchat_json_int(reply, room_name(room), (int64_t)room_last_seq(room));
    }
    zchat_json_end(reply);
    request_reply(req);
    return ZCHAT_OK;
}
