// outbox.h - says and msgs on their way until the broker acks them: in order, at most
// OUTBOX_WINDOW unacked, paced after a rate_limited, sent again after a reconnect with the same
// ids (zchat-protocol(7) RETRIES). Pure: it hands each request's JSON to a send callback and
// is told the time; no sockets, no clock.
#ifndef OUTBOX_H_INCLUDED
#define OUTBOX_H_INCLUDED

#include "zchat_prelude.h"
#include "zchat_msg.h"

typedef struct outbox outbox_t;

#define OUTBOX_WINDOW   64   // say/msg sent at once; the rest wait until all these are answered
#define OUTBOX_PAUSE_MS 100  // after a refusal for the moment, before the next one goes

// Send one request (JSON). Returns 0, or -1 if it cannot go now (offline, the socket is full):
// it goes at a later pump.
typedef int outbox_send_fn(void *arg, const char *json);

// Create an empty outbox; send gets arg.
outbox_t *outbox_new(outbox_send_fn *send, void *arg);

// Destroy the outbox and what it still holds, null *self_p; safe on NULL.
void outbox_destroy(outbox_t **self_p);

// Queue a say or msg request, which has its id, and send it at once if nothing is on its way;
// else it goes with the next window, once every request on its way is answered. Takes
// ownership of *request_p.
void outbox_add(outbox_t *self, zchat_msg_t **request_p, int64_t now);

// True if the request with this id waits for its ack here.
bool outbox_has(const outbox_t *self, const char *id);

// The broker acked the request of ack's id: forget it, and let the next one go. Returns the ack
// for the front end, with "request" (say or msg) and "room" or "to" added (a new message), or
// NULL if the id is none of ours.
zchat_msg_t *outbox_ack(outbox_t *self, const zchat_msg_t *ack, int64_t now);

// The broker refused the request of this id for the moment (rate_limited, server_full): it waits in
// its place and goes again after OUTBOX_PAUSE_MS, and until all are acked one goes at a time, so
// that the lines keep their order and pace themselves to the broker's limit. False if the id is
// none of ours.
bool outbox_retry(outbox_t *self, const char *id, int64_t now);

// The broker refused the request of this id for good: forget it, and let the next one go. False
// if the id is none of ours.
bool outbox_drop(outbox_t *self, const char *id, int64_t now);

// Send what waits, oldest first, while fewer than the window are on their way.
void outbox_pump(outbox_t *self, int64_t now);

// A new connection: what was on its way went with the old one, and goes again.
void outbox_resend(outbox_t *self, int64_t now);

// If the oldest request on its way has waited for its ack longer than timeout_ms (the ack was
// dropped, or the connection came back by itself), send everything again.
void outbox_check(outbox_t *self, int64_t now, int64_t timeout_ms);

// A new broker run knows no retry ids: send nothing until outbox_release or until this time,
// so that what the old run stored shows in the history first (outbox_recognise).
void outbox_hold(outbox_t *self, int64_t until);

// End the hold if settled (every room has read what it missed) or its time is up, then pump.
void outbox_release(outbox_t *self, bool settled, int64_t now);

bool outbox_is_holding(const outbox_t *self);

// While holding: a message event of ours (from is me) found in history, whose id waits here,
// was stored by the old run though never acked. It counts as acked: returns the ack for the
// front end (a new message, as outbox_ack's), or NULL.
zchat_msg_t *outbox_recognise(outbox_t *self, const zchat_msg_t *event, const char *me);

// When outbox_pump or outbox_release next has something to do (a pause or a hold ends);
// INT64_MAX if nothing waits for a time.
int64_t outbox_wake(const outbox_t *self, int64_t now);

// Requests held, and of those on their way.
size_t outbox_size(const outbox_t *self);
size_t outbox_in_flight(const outbox_t *self);

void outbox_test(bool verbose);

#endif
