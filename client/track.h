// track.h - one room's seq tracker: every room event once, in seq order, gaps filled from
// history, what history no longer holds reported as lost (zchat-protocol(7) SEQ, HISTORY AND
// EXACTLY-ONCE DISPLAY). Pure: events and replies go in, deliveries, losses and history
// requests come out through the sink; no sockets, no clock.
#ifndef TRACK_H_INCLUDED
#define TRACK_H_INCLUDED

#include "zchat_prelude.h"
#include "zchat_msg.h"

typedef struct track track_t;

#define TRACK_WAITING_MAX 4096  // events held beyond a gap; the newest go past it to history

typedef struct {
    // The next event of the room, exactly once, in seq order. Borrowed for the call.
    void (*on_event)(void *arg, track_t *track, const zchat_msg_t *event);
    // Events first..last are gone from the broker's history: they cannot be delivered.
    void (*on_lost)(void *arg, track_t *track, uint64_t first, uint64_t last);
    // Send `history` of the room since seq. Returns a nonzero token that the reply brings back
    // to track_history, or 0 if it cannot go now (offline): a later event or poll asks again.
    uint64_t (*fetch)(void *arg, track_t *track, uint64_t since);
} track_sink_t;

// Create a tracker for room (canonical name) that has delivered up to seq last; -1: unknown
// until track_joined gives the baseline. The sink's callbacks get arg.
track_t *track_new(const char *room, int64_t last, const track_sink_t *sink, void *arg);

// Destroy the tracker and the events it holds, null *self_p; safe on NULL.
void track_destroy(track_t **self_p);

// A room event from the feed. Takes ownership of *event_p: delivered now if it is next, held
// beyond a gap (which is fetched), dropped if a duplicate.
void track_take(track_t *self, zchat_msg_t **event_p);

// Our own join is in flight: its joined reply's seq is our join event, which is delivered.
void track_expect_join(track_t *self);

// A joined reply: seq is where the room stands. It sets the baseline, or a new one when the
// broker's numbering went back (it lost its history), and ends a rebase.
void track_joined(track_t *self, uint64_t seq);

// A history reply to the fetch with this token; a reply to any other (an older one asked again,
// one from before a leave) is ignored, as it would rewind what we hold. What it lacks is lost:
// a complete reply's end only up to what existed when it was built (its seq, the room's last seq
// then; from a broker that sends none, what we knew of when asking). But while the feed, behind
// and moving, has not reached what history lacks, it may still bring it: no loss yet.
void track_history(track_t *self, const zchat_msg_t *reply, uint64_t token);

// A poll (pong.seqs, a rooms list, once a heartbeat) tells the room's newest seq: fetch what we
// lack. A feed that was awaited and has not moved since the last poll stopped short: history
// decides again.
void track_told(track_t *self, uint64_t seq);

// The fetch with this token got no reply (dropped, refused, or on an old connection): forget it,
// and with again, ask anew if still needed. A token of 0 forgets whatever is in flight.
void track_fetch_failed(track_t *self, uint64_t token, bool again);

// Fetch what is missing, if anything (after a resume or a follow).
void track_fill(track_t *self);

// A new broker run: its seq may not continue ours. Nothing is a duplicate, and nothing is
// fetched, until track_joined says where seq stands.
void track_rebase(track_t *self);

// True if nothing is missing, waiting, or in flight.
bool track_is_settled(const track_t *self);

// The room's canonical name; borrowed.
const char *track_room(const track_t *self);

// The seq delivered up to; -1 if the baseline is unknown yet.
int64_t track_last(const track_t *self);

// For tests: the newest seq known to exist, and how many events wait beyond a gap.
uint64_t track_known(const track_t *self);
size_t track_waiting(const track_t *self);

void track_test(bool verbose);

#endif
