// track.c - one room's seq tracker: every room event once, in seq order
//
// The tracker holds the last seq delivered. A feed event with the next seq is delivered at once;
// one further ahead waits while `history` (since the last seq) fills the gap; one at or below the
// last seq is a duplicate. What the broker tells of its newest seq reveals a lost last event.
// History is the authority: what it no longer holds is reported lost, never skipped silently,
// but not while the feed, behind and catching up, may still bring it: a PUB delivers in order and
// drops only at its high-water mark, so what it has not yet reached may be in its queue.
#include "zchat_prelude.h"
#include "track.h"

struct track {
    char *room;
    track_sink_t sink;
    void *arg;
    int64_t last;          // seq delivered up to; -1: unknown until joined
    uint64_t known;        // newest seq the broker has told of
    bool own_join;         // deliver the join event of our own pending join
    bool rebasing;         // a new broker run: hold events until joined says where seq stands
    uint64_t fetch;        // the token of the history request in flight; 0: none
    uint64_t horizon;      // every seq up to here existed when that request was sent
    zlistx_t *waiting;     // zchat_msg_t *, events beyond a gap, sorted by seq (owned)
    uint64_t dropped;      // newest seq let go from waiting before joined: known after joined
    uint64_t feed_seq;     // newest seq the feed brought
    uint64_t feed_moves;   // events the feed brought, duplicates too: it moves
    uint64_t fetch_moves;  // feed_moves when the fetch in flight was sent
    uint64_t hold_to;      // history lacks up to here, the feed may bring it: no fetch; 0: none
    uint64_t hold_moves;   // feed_moves at the last poll while holding
};

static int64_t
s_seq(const zchat_msg_t *event)
{
    int64_t seq = -1;
    zchat_msg_opt_int(event, "seq", &seq);
    return seq;
}

static int
s_compare_seq(const void *a, const void *b)
{
    int64_t sa = s_seq(a), sb = s_seq(b);
    return sa < sb ? -1 : sa > sb;
}

static void
s_event_destroy(void **item)
{
    zchat_msg_destroy((zchat_msg_t **)item);
}

track_t *
track_new(const char *room, int64_t last, const track_sink_t *sink, void *arg)
{
    assert(room && sink);
    track_t *self = zmalloc(sizeof(track_t));
    self->room = strdup(room);
    assert(self->room);
    self->sink = *sink;
    self->arg = arg;
    self->last = last;
    self->waiting = zlistx_new();
    zlistx_set_comparator(self->waiting, s_compare_seq);
    zlistx_set_destructor(self->waiting, s_event_destroy);
    return self;
}

void
track_destroy(track_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        track_t *self = *self_p;
        zlistx_destroy(&self->waiting);
        free(self->room);
        free(self);
        *self_p = NULL;
    }
}

static void
s_fetch(track_t *self)
{
    if (self->fetch || self->last < 0 || self->rebasing || self->hold_to || !self->sink.fetch)
        return;
    // Told of or seen on the feed before the request leaves: the broker holds these when it
    // answers, unless they are gone. Newer ones may be missing from a complete reply.
    zchat_msg_t *newest = zlistx_last(self->waiting);
    self->horizon = self->known;
    if (newest && (uint64_t)s_seq(newest) > self->horizon)
        self->horizon = (uint64_t)s_seq(newest);
    self->fetch_moves = self->feed_moves;
    self->fetch = self->sink.fetch(self->arg, self, (uint64_t)self->last);
}

static void
s_deliver(track_t *self, const zchat_msg_t *event)
{
    self->last = s_seq(event);
    if ((uint64_t)self->last > self->known)
        self->known = (uint64_t)self->last;
    if (self->hold_to && (uint64_t)self->last >= self->hold_to)
        self->hold_to = 0;  // the feed brought what history lacks
    if (self->sink.on_event)
        self->sink.on_event(self->arg, self, event);
}

// History lacks first..last. The feed may still bring them if it has not reached them yet and
// moved while the fetch was in flight (it is catching up): then hold, fetch no more until it has
// brought them or stops short (track_told), and return true.
static bool
s_hold(track_t *self, uint64_t first, uint64_t last)
{
    if (self->feed_seq >= first || self->feed_moves == self->fetch_moves)
        return false;  // it passed them (so it dropped them), or it stands still
    self->hold_to = last;
    self->hold_moves = self->feed_moves;
    return true;
}

static void
s_lost(track_t *self, uint64_t first, uint64_t last)
{
    if (self->sink.on_lost)
        self->sink.on_lost(self->arg, self, first, last);
    self->last = (int64_t)last;
}

// Deliver the waiting events that now follow on; fetch history if a gap remains.
static void
s_drain(track_t *self)
{
    zchat_msg_t *event;
    while ((event = zlistx_first(self->waiting))) {
        int64_t seq = s_seq(event);
        if (seq > self->last + 1)
            break;
        if (seq == self->last + 1)
            s_deliver(self, event);
        zlistx_delete(self->waiting, zlistx_cursor(self->waiting));
    }
    if (zlistx_size(self->waiting) || self->known > (uint64_t)self->last)
        s_fetch(self);
}

void
track_take(track_t *self, zchat_msg_t **event_p)
{
    assert(self && event_p && *event_p);
    int64_t seq = s_seq(*event_p);
    self->feed_moves++;
    if (seq > 0 && (uint64_t)seq > self->feed_seq)
        self->feed_seq = (uint64_t)seq;
    if (self->hold_to && self->last >= 0 && seq > self->last + 1)
        self->hold_to = 0;  // it went past what history lacks: it dropped that, history decides
    // While rebasing, the broker's seq may have gone back below ours (it lost its database):
    // nothing is a duplicate until joined says where seq stands
    bool settled = self->last >= 0 && !self->rebasing;
    if (seq < 1 || (settled && seq <= self->last)) {
        zchat_msg_destroy(event_p);  // duplicate (or no seq at all)
        return;
    }
    if (settled && seq == self->last + 1) {
        s_deliver(self, *event_p);
        zchat_msg_destroy(event_p);
        if (zlistx_size(self->waiting))
            s_drain(self);  // it may have filled a gap
        return;
    }
    zchat_msg_t *newest = zlistx_last(self->waiting);
    if (!newest || s_seq(newest) < seq) {
        zlistx_add_end(self->waiting, *event_p);  // the usual case: after all that waits
        *event_p = NULL;
    } else {
        for (zchat_msg_t *e = zlistx_first(self->waiting); e; e = zlistx_next(self->waiting))
            if (s_seq(e) == seq) {
                zchat_msg_destroy(event_p);
                return;
            }
        zlistx_insert(self->waiting, *event_p, true);
        *event_p = NULL;
    }
    if (zlistx_size(self->waiting) > TRACK_WAITING_MAX) {
        // A long gap under a flood: the newest event waits in the broker's history instead of
        // here, and known makes sure it is fetched
        newest = zlistx_last(self->waiting);
        uint64_t newest_seq = (uint64_t)s_seq(newest);
        if (newest_seq > self->known)
            self->known = newest_seq;
        if (!settled && newest_seq > self->dropped)
            self->dropped = newest_seq;  // joined resets known: it takes this again
        zlistx_delete(self->waiting, zlistx_cursor(self->waiting));
    }
    if (settled)
        s_drain(self);
}

void
track_expect_join(track_t *self)
{
    assert(self);
    self->own_join = true;
}

void
track_joined(track_t *self, uint64_t seq)
{
    assert(self);
    if (self->last < 0 || (int64_t)seq < self->last) {
        // New here, or the broker lost its history: its numbering starts again, and what we
        // knew of the old one means nothing now
        self->last = self->own_join && seq > 0 ? (int64_t)seq - 1 : (int64_t)seq;
        self->known = (uint64_t)self->last;
        zchat_msg_t *newest = zlistx_last(self->waiting);
        self->feed_seq = newest ? (uint64_t)s_seq(newest) : 0;  // the old numbering's is void
        self->hold_to = 0;
    }
    if (self->dropped > self->known)
        self->known = self->dropped;  // held back by TRACK_WAITING_MAX: history owes them
    self->dropped = 0;
    self->own_join = false;
    self->rebasing = false;
    if (seq > self->known)
        self->known = seq;
    s_drain(self);
}

void
track_history(track_t *self, const zchat_msg_t *reply, uint64_t token)
{
    assert(self && reply);
    if (!self->fetch || token != self->fetch || self->last < 0)
        return;
    self->fetch = 0;
    bool complete = false;
    zchat_msg_opt_bool(reply, "complete", &complete);
    for (size_t i = 0; i < zchat_msg_array_size(reply, "events"); i++) {
        zchat_msg_t *event = zchat_msg_array_object(reply, "events", i);
        int64_t seq = event ? s_seq(event) : -1;
        if (seq <= self->last)
            continue;
        if (seq > self->last + 1) {  // the broker no longer holds these
            if (s_hold(self, (uint64_t)self->last + 1, (uint64_t)seq - 1))
                return;  // what follows is fetched again once the feed has brought them
            s_lost(self, (uint64_t)self->last + 1, (uint64_t)seq - 1);
        }
        s_deliver(self, event);
    }
    if (!complete) {
        s_fetch(self);
        return;
    }
    // Complete: what is still missing before the waiting events (or up to known) is gone for
    // good if it existed when the reply was built: up to its seq, the room's last seq then; from
    // a broker that sends no seq, up to what we knew of when asking. Newer ones come with the
    // next fetch.
    uint64_t existed = self->horizon;
    int64_t room_seq = -1;
    if (zchat_msg_opt_int(reply, "seq", &room_seq) == 0 && room_seq >= 0) {
        existed = (uint64_t)room_seq;
        if (existed > self->known)
            self->known = existed;
    }
    zchat_msg_t *first = zlistx_first(self->waiting);
    uint64_t gone_to = first ? (uint64_t)s_seq(first) - 1 : self->known;
    if (gone_to > existed)
        gone_to = existed;
    if (gone_to > (uint64_t)self->last) {
        if (s_hold(self, (uint64_t)self->last + 1, gone_to))
            return;
        s_lost(self, (uint64_t)self->last + 1, gone_to);
    }
    s_drain(self);
}

void
track_told(track_t *self, uint64_t seq)
{
    assert(self);
    if (seq > self->known)
        self->known = seq;
    if (self->hold_to) {
        if (self->feed_moves != self->hold_moves) {
            self->hold_moves = self->feed_moves;
            return;  // the feed is still catching up
        }
        self->hold_to = 0;  // it stopped short: history decides
    }
    if (self->last >= 0 && seq > (uint64_t)self->last)
        s_fetch(self);
}

void
track_fetch_failed(track_t *self, uint64_t token, bool again)
{
    assert(self);
    if (token && token != self->fetch)
        return;
    self->fetch = 0;
    if (again)
        s_fetch(self);
}

void
track_fill(track_t *self)
{
    assert(self);
    s_fetch(self);
}

void
track_rebase(track_t *self)
{
    assert(self);
    self->rebasing = true;
}

bool
track_is_settled(const track_t *self)
{
    assert(self);
    return self->last >= 0 && !self->rebasing && !self->fetch && zlistx_size(self->waiting) == 0 &&
           self->known <= (uint64_t)self->last;
}

const char *
track_room(const track_t *self)
{
    assert(self);
    return self->room;
}

int64_t
track_last(const track_t *self)
{
    assert(self);
    return self->last;
}

uint64_t
track_known(const track_t *self)
{
    assert(self);
    return self->known;
}

size_t
track_waiting(const track_t *self)
{
    assert(self);
    return zlistx_size(self->waiting);
}

// --- Self-test: literal events in, what the tracker does out ---

typedef struct {
    char seen[256];    // seqs delivered
    char lost[64];     // ranges lost
    char fetched[64];  // the since of each history request sent
    bool offline;      // fetches cannot go
    uint64_t tokens;   // the last token handed out
} s_log_t;

static void
s_append(char *buffer, size_t size, const char *text)
{
    size_t len = strlen(buffer);
    snprintf(buffer + len, size - len, "%s", text);
}

static void
s_test_event(void *arg, track_t *track, const zchat_msg_t *event)
{
    (void)track;
    s_log_t *log = arg;
    char text[24];
    snprintf(text, sizeof text, "%" PRId64 " ", s_seq(event));
    s_append(log->seen, sizeof log->seen, text);
}

static void
s_test_lost(void *arg, track_t *track, uint64_t first, uint64_t last)
{
    (void)track;
    s_log_t *log = arg;
    char text[48];
    snprintf(text, sizeof text, "%" PRIu64 "-%" PRIu64 " ", first, last);
    s_append(log->lost, sizeof log->lost, text);
}

static uint64_t
s_test_fetch(void *arg, track_t *track, uint64_t since)
{
    (void)track;
    s_log_t *log = arg;
    if (log->offline)
        return 0;
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64 " ", since);
    s_append(log->fetched, sizeof log->fetched, text);
    return ++log->tokens;
}

static void
s_test_reset(s_log_t *log)
{
    log->seen[0] = log->lost[0] = log->fetched[0] = 0;
}

static void
s_test_feed(track_t *track, int64_t seq)
{
    char json[96];
    snprintf(json, sizeof json, "{\"type\":\"message\",\"room\":\"r\",\"seq\":%" PRId64 "}", seq);
    zchat_msg_t *event = zchat_msg_decode(json, strlen(json), NULL);
    assert(event);
    track_take(track, &event);
    assert(event == NULL);
}

// A history reply with the events of these seqs (ending at 0), complete or not; room_seq < 0:
// without seq, as from a broker of before it was added.
static void
s_test_history(track_t *track, uint64_t token, bool complete, int64_t room_seq, const int *seqs)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"type\":\"history\",\"room\":\"r\",\"complete\":%s,",
             complete ? "true" : "false");
    if (room_seq >= 0)
        snprintf(json + strlen(json), sizeof json - strlen(json), "\"seq\":%" PRId64 ",", room_seq);
    s_append(json, sizeof json, "\"events\":[");
    for (int i = 0; seqs[i]; i++)
        snprintf(json + strlen(json), sizeof json - strlen(json),
                 "%s{\"type\":\"message\",\"room\":\"r\",\"seq\":%d}", i ? "," : "", seqs[i]);
    s_append(json, sizeof json, "]}");
    zchat_msg_t *reply = zchat_msg_decode(json, strlen(json), NULL);
    assert(reply);
    track_history(track, reply, token);
    zchat_msg_destroy(&reply);
}

void
track_test(bool verbose)
{
    (void)verbose;
    s_log_t log = {.offline = false};
    track_sink_t sink = {.on_event = s_test_event, .on_lost = s_test_lost, .fetch = s_test_fetch};

    // Before the baseline events wait; joined says where seq stands
    track_t *track = track_new("r", -1, &sink, &log);
    assert(streq(track_room(track), "r") && track_last(track) == -1);
    s_test_feed(track, 5);
    assert(streq(log.seen, "") && track_waiting(track) == 1);
    track_joined(track, 4);
    assert(streq(log.seen, "5 ") && track_is_settled(track));
    // A duplicate is dropped; a gap waits for history, which is asked for once
    s_test_feed(track, 5);
    s_test_feed(track, 8);
    s_test_feed(track, 7);
    s_test_feed(track, 8);
    assert(streq(log.seen, "5 ") && track_waiting(track) == 2 && streq(log.fetched, "5 "));
    assert(!track_is_settled(track));
    s_test_feed(track, 6);  // fills the gap: the waiting ones follow
    assert(streq(log.seen, "5 6 7 8 ") && track_waiting(track) == 0);
    // The reply to that fetch, now of no use, still delivers nothing twice
    s_test_history(track, log.tokens, true, 8, (int[]){6, 7, 8, 0});
    assert(streq(log.seen, "5 6 7 8 ") && track_is_settled(track));

    // Retention: history no longer holds 9, reported and never skipped silently; a reply to
    // another token than the one in flight is ignored
    s_test_reset(&log);
    s_test_feed(track, 11);
    assert(streq(log.fetched, "8 "));
    s_test_history(track, log.tokens + 7, true, 11, (int[]){10, 0});
    assert(streq(log.seen, ""));
    s_test_history(track, log.tokens, true, 11, (int[]){10, 0});
    assert(streq(log.seen, "10 11 ") && streq(log.lost, "9-9 "));

    // An incomplete reply delivers what it has and asks for the rest
    s_test_reset(&log);
    track_told(track, 14);
    assert(streq(log.fetched, "11 "));
    s_test_history(track, log.tokens, false, 14, (int[]){12, 0});
    assert(streq(log.seen, "12 ") && streq(log.fetched, "11 12 "));
    s_test_history(track, log.tokens, true, 14, (int[]){13, 14, 0});
    assert(streq(log.seen, "12 13 14 ") && track_is_settled(track));

    // The waiting cap: at most TRACK_WAITING_MAX events wait, the rest come from history
    s_test_reset(&log);
    for (int seq = 16; seq < 16 + TRACK_WAITING_MAX + 100; seq++)
        s_test_feed(track, seq);
    assert(track_waiting(track) == TRACK_WAITING_MAX);
    assert(track_known(track) == 15 + TRACK_WAITING_MAX + 100);
    s_test_feed(track, 15);  // the gap filled: the waiting ones follow, and the rest are due
    assert(track_waiting(track) == 0 && track_last(track) == 15 + TRACK_WAITING_MAX);
    assert(!track_is_settled(track) && streq(log.lost, ""));
    track_fetch_failed(track, log.tokens + 1, true);  // not the one in flight: nothing
    assert(!track_is_settled(track));
    track_fetch_failed(track, 0, false);  // the connection went: no fetch in flight
    track_destroy(&track);
    track_destroy(&track);
    assert(track == NULL);

    // The cap before joined too: what it let go is fetched once joined says where seq stands
    s_test_reset(&log);
    track = track_new("r", -1, &sink, &log);
    for (int seq = 2; seq < 2 + TRACK_WAITING_MAX + 100; seq++)
        s_test_feed(track, seq);
    track_joined(track, 1);
    assert(track_last(track) == 1 + TRACK_WAITING_MAX);
    assert(track_known(track) == 1 + TRACK_WAITING_MAX + 100);
    track_destroy(&track);

    // Our own join: its event is delivered, from history if the feed does not bring it first
    s_test_reset(&log);
    track = track_new("r", -1, &sink, &log);
    track_expect_join(track);
    track_joined(track, 3);
    assert(track_last(track) == 2 && streq(log.fetched, "2 "));
    s_test_history(track, log.tokens, true, 3, (int[]){3, 0});
    s_test_feed(track, 3);
    assert(streq(log.seen, "3 ") && track_is_settled(track));
    // Offline, a gap waits, and is fetched once back
    log.offline = true;
    s_test_feed(track, 5);
    assert(streq(log.fetched, "2 ") && !track_is_settled(track));
    log.offline = false;
    track_fill(track);
    assert(streq(log.fetched, "2 3 "));
    track_fetch_failed(track, log.tokens, false);  // refused: asked again at the next event
    s_test_feed(track, 6);
    assert(streq(log.fetched, "2 3 3 "));
    track_destroy(&track);

    // Without seq in the reply, the horizon rule: a complete reply misses only what existed when
    // it was asked for, so a newer event the feed lost is fetched again, not reported gone
    s_test_reset(&log);
    track = track_new("r", 3, &sink, &log);
    track_fill(track);  // asked before 6 came: horizon 3
    s_test_feed(track, 6);
    s_test_history(track, log.tokens, true, -1, (int[]){4, 0});
    assert(track_last(track) == 4 && streq(log.lost, "") && streq(log.fetched, "3 4 "));
    s_test_history(track, log.tokens, true, -1, (int[]){0});  // asked after 6: 5 existed
    assert(track_last(track) == 6 && streq(log.lost, "5-5 "));
    track_destroy(&track);

    // With seq, the reply says how far it saw: the same first reply, built when the room was
    // at 6, tells that 5 is gone at once...
    s_test_reset(&log);
    track = track_new("r", 3, &sink, &log);
    track_fill(track);
    s_test_feed(track, 6);
    s_test_history(track, log.tokens, true, 6, (int[]){4, 0});
    assert(track_last(track) == 6 && streq(log.lost, "5-5 ") && streq(log.seen, "4 6 "));
    // ... and one built before 9 existed declares nothing past it lost, however much we knew
    // of when asking (the horizon would have said 8 and 9 are gone): they are fetched again
    s_test_reset(&log);
    s_test_feed(track, 10);
    track_told(track, 10);
    s_test_history(track, log.tokens, true, 7, (int[]){7, 0});
    assert(streq(log.seen, "7 ") && streq(log.lost, "") && streq(log.fetched, "6 7 "));
    s_test_history(track, log.tokens, true, 10, (int[]){8, 0});
    assert(streq(log.seen, "7 8 10 ") && streq(log.lost, "9-9 ") && track_is_settled(track));
    // A complete reply whose seq is past the last event: the rest is gone
    track_told(track, 12);
    s_test_history(track, log.tokens, true, 12, (int[]){11, 0});
    assert(streq(log.lost, "9-9 12-12 ") && track_is_settled(track));
    track_destroy(&track);

    // A feed behind, catching up: history no longer holds what it has not reached yet, but it
    // may still bring it (a PUB drops only new events at its high-water mark). No loss: the feed
    // is awaited, and nothing fetched, until it has brought them.
    s_test_reset(&log);
    track = track_new("r", 3, &sink, &log);
    track_told(track, 40);
    s_test_feed(track, 4);
    s_test_feed(track, 5);  // meanwhile the feed moves
    s_test_history(track, log.tokens, false, 40, (int[]){9, 10, 0});
    assert(streq(log.seen, "4 5 ") && streq(log.lost, "") && streq(log.fetched, "3 "));
    s_test_feed(track, 6);
    track_told(track, 40);  // the feed moved since: still awaited
    s_test_feed(track, 7);
    assert(streq(log.seen, "4 5 6 7 ") && streq(log.fetched, "3 "));
    s_test_feed(track, 8);  // it brought them: history again for what follows
    track_told(track, 40);
    assert(streq(log.seen, "4 5 6 7 8 ") && streq(log.fetched, "3 8 "));
    s_test_history(track, log.tokens, true, 40, (int[]){9, 10, 0});
    assert(track_last(track) == 40 && streq(log.lost, "11-40 "));  // the feed stood still
    // It stops short: at the poll after it last moved, history decides, and says they are lost
    s_test_reset(&log);
    track_told(track, 50);
    s_test_feed(track, 41);
    s_test_history(track, log.tokens, true, 50, (int[]){45, 0});
    assert(streq(log.lost, "") && streq(log.seen, "41 "));
    track_told(track, 50);  // the feed has not moved since
    assert(streq(log.fetched, "40 41 "));
    s_test_history(track, log.tokens, true, 50, (int[]){45, 0});
    assert(streq(log.lost, "42-44 46-50 ") && track_is_settled(track));
    // A feed that passed the gap dropped it: lost at once
    s_test_reset(&log);
    s_test_feed(track, 53);
    s_test_history(track, log.tokens, true, 53, (int[]){52, 0});
    assert(streq(log.lost, "51-51 ") && streq(log.seen, "52 53 ") && track_is_settled(track));
    // ... and when it passes it while awaited, the wait ends there
    s_test_reset(&log);
    track_told(track, 60);
    s_test_feed(track, 54);
    s_test_history(track, log.tokens, true, 60, (int[]){58, 0});
    assert(streq(log.seen, "54 ") && streq(log.fetched, "53 "));
    s_test_feed(track, 59);
    assert(streq(log.fetched, "53 54 "));
    s_test_history(track, log.tokens, true, 60, (int[]){58, 59, 60, 0});
    assert(streq(log.lost, "55-57 ") && streq(log.seen, "54 58 59 60 "));
    track_destroy(&track);

    // A new broker run that lost its database: its seq went back. Nothing is a duplicate and
    // nothing is fetched until joined gives the new baseline; then the numbering starts again
    s_test_reset(&log);
    track = track_new("r", 40, &sink, &log);
    track_rebase(track);
    s_test_feed(track, 3);
    s_test_feed(track, 2);
    track_told(track, 3);
    assert(streq(log.seen, "") && streq(log.fetched, "") && !track_is_settled(track));
    track_joined(track, 1);
    assert(streq(log.seen, "2 3 ") && track_last(track) == 3 && track_is_settled(track));
    // A new run that kept it: joined at or past ours keeps what we hold
    track_rebase(track);
    s_test_feed(track, 3);
    track_joined(track, 5);
    assert(streq(log.seen, "2 3 ") && streq(log.fetched, "3 ") && !track_is_settled(track));
    track_destroy(&track);
}
