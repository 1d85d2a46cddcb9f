// rooms.c - the requests on rooms: join, leave, rooms, users, status; and presence events
#include "zchat_prelude.h"
#include "broker_impl.h"

// Publish a presence event of session in room: what is "join", "leave" or "status".
static void
s_publish_presence(broker_t *self, room_t *room, session_t *session, const char *what,
                   const char *reason, const char *note)
{
    broker_event_open(self, room, "presence");
    zchat_json_string(&self->out, "user", session_user(session));
    zchat_json_string(&self->out, "event", what);
    if (reason)
        zchat_json_string(&self->out, "reason", reason);
    if (streq(what, "status"))
        zchat_json_string(&self->out, "status", session_status(session));
    if (note && *note)
        zchat_json_string(&self->out, "note", note);
    broker_publish(self, room);
}

room_t *
rooms_require(broker_t *self, const char *name)
{
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room) {
        room = room_new(name, 0);
        zhashx_insert(self->rooms, name, room);
    }
    return room;
}

void
rooms_enter(broker_t *self, session_t *session, size_t index)
{
    room_t *room = session_room(session, index);
    session_set_room_handle(session, index, room_join(room, session));
    s_publish_presence(self, room, session, "join", NULL, NULL);
}

void
rooms_exit(broker_t *self, session_t *session, size_t index, const char *reason, const char *note)
{
    room_t *room = session_room(session, index);
    void *handle = session_room_handle(session, index);
    if (!handle)
        return;
    room_leave(room, handle);
    session_set_room_handle(session, index, NULL);
    s_publish_presence(self, room, session, "leave", reason, note);
}

static int
s_compare_fold(const void *a, const void *b)
{
    return strcmp(session_fold(*(session_t *const *)a), session_fold(*(session_t *const *)b));
}

// The members of room (or, with NULL, every live user), sorted by folded name.
// Returns a new array of *size borrowed sessions: free() it.
static session_t **
s_sorted_users(broker_t *self, room_t *room, size_t *size)
{
    size_t max = room ? room_size(room) : zhashx_size(self->by_name);
    session_t **users = zmalloc((max ? max : 1) * sizeof(session_t *));
    size_t n = 0;
    if (room)
        for (session_t *s = room_first(room); s; s = room_next(room))
            users[n++] = s;
    else
        for (session_t *s = zhashx_first(self->by_name); s; s = zhashx_next(self->by_name))
            users[n++] = s;
    qsort(users, n, sizeof(session_t *), s_compare_fold);
    *size = n;
    return users;
}

static void
s_reply_joined(broker_t *self, request_t *req, room_t *room, uint64_t seq)
{
    zchat_json_t *reply = request_reply_open(req, "joined");
    zchat_json_string(reply, "room", room_name(room));
    zchat_json_int(reply, "seq", (int64_t)seq);
    zchat_json_array(reply, "members");
    size_t size;
    session_t **members = s_sorted_users(self, room, &size);
    for (size_t i = 0; i < size; i++)
        zchat_json_string(reply, NULL, session_user(members[i]));
    free(members);
    zchat_json_end(reply);
    request_reply(req);
}

zchat_err_t
rooms_handle_join(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    if (err)
        return err;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (room && session_in_room(session, room)) {
        s_reply_joined(self, req, room, room_last_seq(room));  // already a member: no event
        return ZCHAT_OK;
    }
    if (session_rooms(session) >= ZCHAT_ROOMS_MAX)
        return request_fail(req, ZCHAT_ERR_TOO_MANY_ROOMS,
                            "You are in %d rooms, the most allowed: leave one first.",
                            ZCHAT_ROOMS_MAX);
    // zchat-protocol(7) SERVER LIMITS: --max-rooms (lobby, made at the first hello, is never
    // refused); too_many_rooms is for the session's own limit, above
    if (!room && !streq(name, "lobby") && (long)zhashx_size(self->rooms) >= self->options.max_rooms)
        return request_fail(req, ZCHAT_ERR_SERVER_FULL,
                            "This server holds %ld rooms, its most: join a room that exists.",
                            self->options.max_rooms);
    room = rooms_require(self, name);
    session_add_room(session, room);
    rooms_enter(self, session, session_rooms(session) - 1);
    s_reply_joined(self, req, room, room_last_seq(room));
    return ZCHAT_OK;
}

zchat_err_t
rooms_handle_leave(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    char name[ZCHAT_NAME_MAX + 1];
    zchat_err_t err = request_room(req, "room", name);
    if (err)
        return err;
    room_t *room = zhashx_lookup(self->rooms, name);
    if (!room || !session_in_room(session, room))
        return request_fail(req, ZCHAT_ERR_NOT_IN_ROOM, "You are not in #%s.", name);
    for (size_t i = 0; i < session_rooms(session); i++)
        if (session_room(session, i) == room)
            rooms_exit(self, session, i, "leave", NULL);
    session_remove_room(session, room);
    zchat_json_t *reply = request_reply_open(req, "left");
    zchat_json_string(reply, "room", name);
    request_reply(req);
    return ZCHAT_OK;
}

static int
s_compare_room(const void *a, const void *b)
{
    return strcmp(room_name(*(room_t *const *)a), room_name(*(room_t *const *)b));
}

zchat_err_t
rooms_handle_rooms(broker_t *self, request_t *req)
{
    size_t max = zhashx_size(self->rooms);
    room_t **rooms = zmalloc((max ? max : 1) * sizeof(room_t *));
    size_t n = 0;
    for (room_t *room = zhashx_first(self->rooms); room; room = zhashx_next(self->rooms))
        if (room_size(room) > 0 || room_last_seq(room) > 0)
            rooms[n++] = room;
    qsort(rooms, n, sizeof(room_t *), s_compare_room);
    zchat_json_t *reply = request_reply_open(req, "rooms");
    zchat_json_array(reply, "rooms");
    for (size_t i = 0; i < n; i++) {
        zchat_json_object(reply, NULL);
        zchat_json_string(reply, "name", room_name(rooms[i]));
        zchat_json_int(reply, "members", (int64_t)room_size(rooms[i]));
        zchat_json_int(reply, "seq", (int64_t)room_last_seq(rooms[i]));
        zchat_json_end(reply);
    }
    free(rooms);
    zchat_json_end(reply);
    request_reply(req);
    return ZCHAT_OK;
}

zchat_err_t
rooms_handle_users(broker_t *self, request_t *req)
{
    room_t *room = NULL;
    char name[ZCHAT_NAME_MAX + 1];
    if (zchat_req_has(req->msg, "room")) {
        zchat_err_t err = request_room(req, "room", name);
        if (err)
            return err;
        room = zhashx_lookup(self->rooms, name);
        if (!room)
            return request_fail(req, ZCHAT_ERR_NO_SUCH_ROOM, "No such room: #%s.", name);
    }
    zchat_json_t *reply = request_reply_open(req, "users");
    if (room)
        zchat_json_string(reply, "room", name);
    zchat_json_array(reply, "users");
    size_t size;
    session_t **users = s_sorted_users(self, room, &size);
    for (size_t i = 0; i < size; i++) {
        zchat_json_object(reply, NULL);
        zchat_json_string(reply, "name", session_user(users[i]));
        zchat_json_string(reply, "status", session_status(users[i]));
        if (*session_note(users[i]))
            zchat_json_string(reply, "note", session_note(users[i]));
        zchat_json_end(reply);
    }
    free(users);
    zchat_json_end(reply);
    request_reply(req);
    return ZCHAT_OK;
}

zchat_err_t
rooms_handle_status(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    const char *status = zchat_req_string(req->msg, "status");
    if (!status || !(streq(status, "online") || streq(status, "away")))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "status must be \"online\" or \"away\".");
    const char *note;
    zchat_err_t err = request_text(req, "note", false, 0, ZCHAT_NOTE_MAX, &note);
    if (err)
        return err;
    session_set_status(session, status, note ? note : "");
    for (size_t i = 0; i < session_rooms(session); i++)
        s_publish_presence(self, session_room(session, i), session, "status", NULL,
                           session_note(session));
    request_reply_open(req, "ok");  // after the events: a reply is never begun inside one
    request_reply(req);
    return ZCHAT_OK;
}
