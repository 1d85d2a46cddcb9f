// room.c - a chat room: its members and its event sequence
#include "zchat_prelude.h"
#include "room.h"

struct room {
    char *name;         // canonical: lower-case, no '#'
    char *topic;        // "room/<name>/"
    zlistx_t *members;  // session_t *, borrowed: the broker owns sessions
    uint64_t last_seq;  // seq of the newest room event, 0 if none
};

room_t *
room_new(const char *name, uint64_t last_seq)
{
    assert(name);
    room_t *self = zmalloc(sizeof(room_t));
    self->name = strdup(name);
    assert(self->name);
    self->topic = zsys_sprintf("room/%s/", name);
    assert(self->topic);
    self->members = zlistx_new();
    self->last_seq = last_seq;
    return self;
}

void
room_destroy(room_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        room_t *self = *self_p;
        zlistx_destroy(&self->members);
        zstr_free(&self->topic);
        free(self->name);
        free(self);
        *self_p = NULL;
    }
}

const char *
room_name(const room_t *self)
{
    assert(self);
    return self->name;
}

const char *
room_topic(const room_t *self)
{
    assert(self);
    return self->topic;
}

uint64_t
room_last_seq(const room_t *self)
{
    assert(self);
    return self->last_seq;
}

uint64_t
room_next_seq(room_t *self)
{
    assert(self);
    return ++self->last_seq;
}

void *
room_join(room_t *self, session_t *session)
{
    assert(self && session);
    void *handle = zlistx_add_end(self->members, session);
    assert(handle);
    return handle;
}

void
room_leave(room_t *self, void *handle)
{
    assert(self && handle);
    zlistx_delete(self->members, handle);
}

size_t
room_size(const room_t *self)
{
    assert(self);
    return zlistx_size(self->members);
}

session_t *
room_first(room_t *self)
{
    assert(self);
    return zlistx_first(self->members);
}

session_t *
room_next(room_t *self)
{
    assert(self);
    return zlistx_next(self->members);
}

void
room_test(bool verbose)
{
    (void)verbose;
    room_t *room = room_new("lobby", 0);
    assert(streq(room_name(room), "lobby"));
    assert(streq(room_topic(room), "room/lobby/"));
    assert(room_last_seq(room) == 0);
    assert(room_next_seq(room) == 1);
    assert(room_next_seq(room) == 2);
    int a, b;  // stand-ins: the room only borrows members
    void *ha = room_join(room, (session_t *)&a);
    void *hb = room_join(room, (session_t *)&b);
    assert(room_size(room) == 2);
    assert(room_first(room) == (session_t *)&a);
    assert(room_next(room) == (session_t *)&b);
    assert(room_next(room) == NULL);
    room_leave(room, ha);
    assert(room_size(room) == 1 && room_first(room) == (session_t *)&b);
    room_leave(room, hb);
    assert(room_size(room) == 0);
    room_destroy(&room);
    room_destroy(&room);
    assert(room == NULL);

    room = room_new("py", 41);
    assert(room_next_seq(room) == 42);  // continues after a restart
    room_destroy(&room);
}
