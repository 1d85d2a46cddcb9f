// outbox.c - says and msgs on their way until the broker acks them
//
// A burst (a paste, a script) sent at once would fill the DEALER, whose sends never block and so
// fail, losing the request, and the broker's reply queue, which drops the acks past it
// (zchat-protocol(7) SLOW CONSUMERS): so at most OUTBOX_WINDOW go unacked. What is not acked
// goes again, with the same id, on the next connection: the broker drops repeats.
#include "zchat_prelude.h"
#include "outbox.h"

typedef struct {
    char id[ZCHAT_ID_MAX + 1];
    char *json;       // the request, for its send and a resend after reconnect
    char kind[8];     // "say" / "msg"
    char *target;     // room or user
    bool sent;        // on its way on this connection
    int64_t sent_at;  // when
} s_entry_t;

struct outbox {
    outbox_send_fn *send;
    void *arg;
    zlistx_t *entries;   // s_entry_t *, owned: not acked yet, oldest first
    size_t in_flight;    // ... of which on their way
    size_t window;       // OUTBOX_WINDOW; 1 after a refusal for the moment, until all are acked
    int64_t pump_at;     // nothing is sent before (a pause after a refusal)
    int64_t hold_until;  // a new broker run: nothing is sent before its history is read (or this
                         // time passes); 0: not holding
};

static void
s_entry_destroy(s_entry_t **self_p)
{
    if (*self_p) {
        free((*self_p)->json);
        free((*self_p)->target);
        free(*self_p);
        *self_p = NULL;
    }
}

outbox_t *
outbox_new(outbox_send_fn *send, void *arg)
{
    assert(send);
    outbox_t *self = zmalloc(sizeof(outbox_t));
    self->send = send;
    self->arg = arg;
    self->window = OUTBOX_WINDOW;
    self->entries = zlistx_new();
    zlistx_set_destructor(self->entries, (zlistx_destructor_fn *)s_entry_destroy);
    return self;
}

void
outbox_destroy(outbox_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        outbox_t *self = *self_p;
        zlistx_destroy(&self->entries);
        free(self);
        *self_p = NULL;
    }
}

void
outbox_add(outbox_t *self, zchat_msg_t **request_p, int64_t now)
{
    assert(self && request_p && *request_p);
    const char *kind = zchat_msg_type(*request_p);
    const char *id = zchat_msg_string(*request_p, "id");
    assert(kind && (streq(kind, "say") || streq(kind, "msg")) && id);
    const char *target = zchat_msg_string(*request_p, streq(kind, "say") ? "room" : "to");
    assert(target);
    s_entry_t *entry = zmalloc(sizeof(s_entry_t));
    snprintf(entry->id, sizeof entry->id, "%s", id);
    snprintf(entry->kind, sizeof entry->kind, "%s", kind);
    entry->target = strdup(target);
    assert(entry->target);
    entry->json = zchat_msg_encode(*request_p);
    zchat_msg_destroy(request_p);
    zlistx_add_end(self->entries, entry);
    outbox_pump(self, now);
}

// The entry of this id, with the list's cursor on it; NULL if none.
static s_entry_t *
s_find(const outbox_t *self, const char *id)
{
    for (s_entry_t *e = zlistx_first(self->entries); id && e; e = zlistx_next(self->entries))
        if (streq(e->id, id))
            return e;
    return NULL;
}

bool
outbox_has(const outbox_t *self, const char *id)
{
    assert(self);
    return s_find(self, id) != NULL;
}

// Take the entry of this id out of the list; NULL if none.
static s_entry_t *
s_take(outbox_t *self, const char *id)
{
    s_entry_t *entry = s_find(self, id);
    if (entry) {
        zlistx_detach_cur(self->entries);
        if (entry->sent)
            self->in_flight--;
    }
    return entry;
}

// The ack the front end gets: which request it was, and to where.
static zchat_msg_t *
s_ack_new(const s_entry_t *entry, int64_t seq)
{
    zchat_msg_t *ack = zchat_msg_new("ack");
    if (seq >= 0)
        zchat_msg_set_int(ack, "seq", seq);
    zchat_msg_set_string(ack, "id", entry->id);
    zchat_msg_set_string(ack, "request", entry->kind);
    zchat_msg_set_string(ack, streq(entry->kind, "msg") ? "to" : "room", entry->target);
    return ack;
}

zchat_msg_t *
outbox_ack(outbox_t *self, const zchat_msg_t *ack, int64_t now)
{
    assert(self && ack);
    s_entry_t *entry = s_take(self, zchat_msg_string(ack, "id"));
    if (!entry)
        return NULL;
    int64_t seq = -1;
    zchat_msg_opt_int(ack, "seq", &seq);
    zchat_msg_t *reply = s_ack_new(entry, seq);
    s_entry_destroy(&entry);
    outbox_pump(self, now);  // a place in the window
    return reply;
}

bool
outbox_retry(outbox_t *self, const char *id, int64_t now)
{
    assert(self);
    s_entry_t *entry = s_find(self, id);
    if (!entry)
        return false;
    if (entry->sent)
        self->in_flight--;
    entry->sent = false;
    self->window = 1;
    self->pump_at = now + OUTBOX_PAUSE_MS;
    return true;
}

bool
outbox_drop(outbox_t *self, const char *id, int64_t now)
{
    assert(self);
    s_entry_t *entry = s_take(self, id);
    if (!entry)
        return false;
    s_entry_destroy(&entry);
    outbox_pump(self, now);  // a place in the window
    return true;
}

void
outbox_pump(outbox_t *self, int64_t now)
{
    assert(self);
    if (zlistx_size(self->entries) == 0)
        self->window = OUTBOX_WINDOW;
    // A window goes whole, and the next only once every request of this one is answered: a say
    // sent while an earlier one may still be refused as rate_limited could be stored before it
    // (the broker's bucket fills again meanwhile), and a paste would lose its order
    if (self->hold_until || now < self->pump_at || self->in_flight > 0)
        return;
    for (s_entry_t *e = zlistx_first(self->entries); e && self->in_flight < self->window;
         e = zlistx_next(self->entries)) {
        if (e->sent)
            continue;
        if (self->send(self->arg, e->json) == -1)
            break;  // offline, or the socket is full: the next pump
        e->sent = true;
        e->sent_at = now;
        self->in_flight++;
    }
}

void
outbox_resend(outbox_t *self, int64_t now)
{
    assert(self);
    for (s_entry_t *e = zlistx_first(self->entries); e; e = zlistx_next(self->entries))
        e->sent = false;
    self->in_flight = 0;
    outbox_pump(self, now);
}

void
outbox_check(outbox_t *self, int64_t now, int64_t timeout_ms)
{
    assert(self);
    s_entry_t *oldest = zlistx_first(self->entries);
    if (oldest && oldest->sent && now - oldest->sent_at > timeout_ms)
        outbox_resend(self, now);
}

void
outbox_hold(outbox_t *self, int64_t until)
{
    assert(self);
    if (zlistx_size(self->entries))
        self->hold_until = until;
}

void
outbox_release(outbox_t *self, bool settled, int64_t now)
{
    assert(self);
    if (self->hold_until && (settled || now >= self->hold_until)) {
        self->hold_until = 0;
        outbox_pump(self, now);
    }
}

bool
outbox_is_holding(const outbox_t *self)
{
    assert(self);
    return self->hold_until != 0;
}

zchat_msg_t *
outbox_recognise(outbox_t *self, const zchat_msg_t *event, const char *me)
{
    assert(self && event);
    const char *type = zchat_msg_type(event);
    const char *from = zchat_msg_string(event, "from");
    if (!self->hold_until || !type || !streq(type, "message") || !from || !me || !streq(from, me))
        return NULL;
    s_entry_t *entry = s_take(self, zchat_msg_string(event, "id"));
    if (!entry)
        return NULL;
    int64_t seq = -1;
    zchat_msg_opt_int(event, "seq", &seq);
    zchat_msg_t *ack = s_ack_new(entry, seq);
    s_entry_destroy(&entry);
    return ack;
}

int64_t
outbox_wake(const outbox_t *self, int64_t now)
{
    assert(self);
    int64_t wake = INT64_MAX;
    if (self->pump_at > now && zlistx_size(self->entries) > self->in_flight)
        wake = self->pump_at;  // the pause after a refusal ends
    if (self->hold_until && self->hold_until < wake)
        wake = self->hold_until;  // the hold after a new broker run ends at the latest
    return wake;
}

size_t
outbox_size(const outbox_t *self)
{
    assert(self);
    return zlistx_size(self->entries);
}

size_t
outbox_in_flight(const outbox_t *self)
{
    assert(self);
    return self->in_flight;
}

// --- Self-test: a send callback that records, literal acks and refusals ---

typedef struct {
    char ids[512];  // the id of each request sent, in order
    int sent;
    bool full;  // sends fail
} s_wire_t;

static int
s_test_send(void *arg, const char *json)
{
    s_wire_t *wire = arg;
    if (wire->full)
        return -1;
    zchat_msg_t *request = zchat_msg_decode(json, strlen(json), NULL);
    assert(request && zchat_msg_string(request, "id"));
    size_t len = strlen(wire->ids);
    snprintf(wire->ids + len, sizeof wire->ids - len, "%s ", zchat_msg_string(request, "id"));
    zchat_msg_destroy(&request);
    wire->sent++;
    return 0;
}

static void
s_test_add(outbox_t *outbox, const char *kind, int id, int64_t now)
{
    zchat_msg_t *request = zchat_msg_new(kind);
    zchat_msg_set_string(request, streq(kind, "say") ? "room" : "to", "r");
    zchat_msg_set_string(request, "text", "a line of a paste");
    char name[16];
    snprintf(name, sizeof name, "s%d", id);
    zchat_msg_set_string(request, "id", name);
    outbox_add(outbox, &request, now);
    assert(request == NULL);
}

// The broker acks the request of this id; returns whether it was ours.
static bool
s_test_ack(outbox_t *outbox, const char *id, int64_t now)
{
    char json[96];
    snprintf(json, sizeof json, "{\"type\":\"ack\",\"seq\":7,\"id\":\"%s\"}", id);
    zchat_msg_t *ack = zchat_msg_decode(json, strlen(json), NULL);
    zchat_msg_t *reply = outbox_ack(outbox, ack, now);
    zchat_msg_destroy(&ack);
    bool ours = reply != NULL;
    if (reply) {
        assert(streq(zchat_msg_string(reply, "id"), id));
        assert(zchat_msg_string(reply, "request"));
        int64_t seq = 0;
        assert(zchat_msg_opt_int(reply, "seq", &seq) == 0 && seq == 7);
    }
    zchat_msg_destroy(&reply);
    return ours;
}

void
outbox_test(bool verbose)
{
    (void)verbose;
    s_wire_t wire = {"", 0, false};
    outbox_t *outbox = outbox_new(s_test_send, &wire);
    int64_t now = 1000;

    // The window: of a paste of 100 lines the first goes at once; the others wait for its
    // answer, then go OUTBOX_WINDOW at a time, in order, each window once the one before is
    // answered whole
    for (int i = 1; i <= 100; i++)
        s_test_add(outbox, "say", i, now);
    assert(wire.sent == 1 && outbox_in_flight(outbox) == 1 && streq(wire.ids, "s1 "));
    assert(outbox_size(outbox) == 100);
    assert(outbox_has(outbox, "s100") && !outbox_has(outbox, "s101") && !outbox_has(outbox, NULL));
    assert(s_test_ack(outbox, "s1", now));
    assert(!s_test_ack(outbox, "s1", now) && !s_test_ack(outbox, "x", now));
    assert(wire.sent == 1 + OUTBOX_WINDOW && outbox_in_flight(outbox) == OUTBOX_WINDOW);
    assert(strncmp(wire.ids, "s1 s2 s3 ", 9) == 0 && strstr(wire.ids, " s65 "));
    assert(s_test_ack(outbox, "s2", now));  // one ack: the rest of the window is not answered
    assert(wire.sent == 1 + OUTBOX_WINDOW && !strstr(wire.ids, " s66 "));

    // An ack lost: past the timeout, everything on its way goes again, with the same ids
    wire.ids[0] = 0;
    outbox_check(outbox, now + 500, 1000);
    assert(wire.sent == 1 + OUTBOX_WINDOW);
    outbox_check(outbox, now + 1001, 1000);
    assert(wire.sent == 1 + 2 * OUTBOX_WINDOW && strncmp(wire.ids, "s3 s4 ", 6) == 0);
    assert(strstr(wire.ids, " s66 ") && !strstr(wire.ids, " s67 "));

    // Refused for the moment: s3 waits in its place and goes first after the pause, then one at
    // a time until all are acked
    now += 2000;
    assert(outbox_retry(outbox, "s3", now) && !outbox_retry(outbox, "x", now));
    assert(outbox_in_flight(outbox) == OUTBOX_WINDOW - 1);
    assert(outbox_wake(outbox, now) == now + OUTBOX_PAUSE_MS);
    wire.ids[0] = 0;
    outbox_pump(outbox, now + OUTBOX_PAUSE_MS - 1);
    assert(streq(wire.ids, ""));
    for (int i = 4; i <= 66; i++) {  // the rest of the window is acked: nothing goes meanwhile
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        assert(s_test_ack(outbox, id, now));
    }
    outbox_resend(outbox, now);  // a new connection: still paused
    assert(streq(wire.ids, "") && outbox_in_flight(outbox) == 0);
    now += OUTBOX_PAUSE_MS;
    outbox_pump(outbox, now);
    assert(streq(wire.ids, "s3 ") && outbox_in_flight(outbox) == 1);
    assert(s_test_ack(outbox, "s3", now));
    assert(streq(wire.ids, "s3 s67 "));  // one at a time
    // Refused for good: forgotten, the next goes
    assert(outbox_drop(outbox, "s67", now) && !outbox_drop(outbox, "s67", now));
    assert(streq(wire.ids, "s3 s67 s68 ") && outbox_size(outbox) == 33);
    outbox_destroy(&outbox);
    outbox_destroy(&outbox);
    assert(outbox == NULL);

    // A full socket: what did not go goes at the next pump; offline the same
    memset(&wire, 0, sizeof wire);
    outbox = outbox_new(s_test_send, &wire);
    wire.full = true;
    s_test_add(outbox, "msg", 1, now);
    assert(wire.sent == 0 && outbox_in_flight(outbox) == 0 &&
           outbox_wake(outbox, now) == INT64_MAX);
    wire.full = false;
    outbox_pump(outbox, now);
    assert(streq(wire.ids, "s1 "));
    char json[] = "{\"type\":\"ack\",\"id\":\"s1\"}";  // a msg's ack has no seq
    zchat_msg_t *ack = zchat_msg_decode(json, strlen(json), NULL);
    zchat_msg_t *reply = outbox_ack(outbox, ack, now);
    assert(reply && streq(zchat_msg_string(reply, "request"), "msg"));
    assert(streq(zchat_msg_string(reply, "to"), "r") && !zchat_msg_has(reply, "seq"));
    zchat_msg_destroy(&reply);
    zchat_msg_destroy(&ack);

    // A new broker run: nothing goes while holding. A say of ours that the old run stored but
    // never acked is found in the history: it counts as acked and is not sent again. Only ours:
    // the same id from someone else is theirs.
    outbox_hold(outbox, now + 100);  // nothing waits: no hold
    assert(!outbox_is_holding(outbox));
    wire.full = true;
    s_test_add(outbox, "say", 2, now);
    s_test_add(outbox, "say", 3, now);
    wire.full = false;
    outbox_hold(outbox, now + 100);
    assert(outbox_is_holding(outbox) && outbox_wake(outbox, now) == now + 100);
    outbox_resend(outbox, now);
    assert(streq(wire.ids, "s1 "));
    const char *mine = "{\"type\":\"message\",\"room\":\"r\",\"seq\":4,\"from\":\"alice\","
                       "\"text\":\"x\",\"id\":\"s2\"}";
    const char *theirs = "{\"type\":\"message\",\"room\":\"r\",\"seq\":5,\"from\":\"bob\","
                         "\"text\":\"y\",\"id\":\"s3\"}";
    zchat_msg_t *event = zchat_msg_decode(theirs, strlen(theirs), NULL);
    assert(outbox_recognise(outbox, event, "alice") == NULL);
    zchat_msg_destroy(&event);
    event = zchat_msg_decode(mine, strlen(mine), NULL);
    reply = outbox_recognise(outbox, event, "alice");
    assert(reply && streq(zchat_msg_string(reply, "id"), "s2"));
    assert(streq(zchat_msg_string(reply, "room"), "r"));
    zchat_msg_destroy(&reply);
    assert(outbox_size(outbox) == 1 && outbox_has(outbox, "s3"));
    outbox_release(outbox, false, now + 99);  // not settled, time not up
    assert(streq(wire.ids, "s1 "));
    outbox_release(outbox, true, now + 99);  // every room has read its history
    assert(!outbox_is_holding(outbox) && streq(wire.ids, "s1 s3 "));
    reply = outbox_recognise(outbox, event, "alice");  // no longer holding
    assert(reply == NULL);
    zchat_msg_destroy(&event);
    // The time is up
    s_test_add(outbox, "say", 4, now);
    outbox_hold(outbox, now + 100);
    outbox_resend(outbox, now);
    outbox_release(outbox, false, now + 100);
    assert(streq(wire.ids, "s1 s3 s3 s4 "));  // s4 waited for s3's answer
    outbox_destroy(&outbox);
}
