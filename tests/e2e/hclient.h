// hclient.h - e2e harness: a client that writes JSON as literal strings on a DEALER with a
// random identity on the commands endpoint, and reads replies, and feed events on a SUB, with
// deadlines. Included by harness.h.
#ifndef HCLIENT_H_INCLUDED
#define HCLIENT_H_INCLUDED

#include "zchat_prelude.h"
#include "hbroker.h"
#include <cJSON.h>

typedef struct hclient hclient_t;

// A connected DEALER, not logged in. The harness owns it (destroyed at the end of the test).
hclient_t *hclient_new(hbroker_t *broker);

// Like hclient_new, with the given routing id; it does not reconnect once its connection is
// dropped (so that another client can take the routing id over for good).
hclient_t *hclient_new_as(hbroker_t *broker, const char *identity);

// Like hclient_new, but a slow reader: receive high-water mark 1 and a small TCP receive
// buffer, so that the broker's queue for it fills quickly when it reads nothing.
hclient_t *hclient_new_slow(hbroker_t *broker);

// A client logged in as user (hello, proto 1); the welcome is in hclient_welcome().
hclient_t *hclient_login_at(const char *file, int line, hbroker_t *broker, const char *user);
#define hclient_login(b, user) hclient_login_at(__FILE__, __LINE__, b, user)

// An observer session (user may be NULL).
hclient_t *hclient_observer_at(const char *file, int line, hbroker_t *broker, const char *user);
#define hclient_observer(b, user) hclient_observer_at(__FILE__, __LINE__, b, user)

// The welcome this client got at login; NULL if none. Borrowed.
cJSON *hclient_welcome(const hclient_t *self);

// Destroy both sockets now (an abrupt disconnect: no quit). Safe to call twice.
void hclient_close(hclient_t *self);

// Send one frame holding exactly this text (no NUL).
void hclient_send(hclient_t *self, const char *json);

// Send one frame built with printf.
void hclient_sendf(hclient_t *self, const char *format, ...) __attribute__((format(printf, 2, 3)));

// Send one frame of raw bytes.
void hclient_send_raw(hclient_t *self, const void *data, size_t size);

// Send one frame of raw bytes without blocking and without tracing. Returns false if it could
// not be queued now (high-water mark).
bool hclient_try_send(hclient_t *self, const void *data, size_t size);

// Send count frames as one multi-frame message.
void hclient_send_frames(hclient_t *self, int count, const char *const frames[]);

// The next message from the broker on the commands socket, parsed; NULL if nothing arrives
// within timeout_ms. Fails if the message is not one frame holding a JSON object with a
// string "type". The tree belongs to the harness (freed at the end of the test).
cJSON *hclient_recv_at(const char *file, int line, hclient_t *self, int timeout_ms);
#define hclient_recv(c, ms) hclient_recv_at(__FILE__, __LINE__, c, ms)

// The raw text of the last message hclient_recv returned, NUL-terminated. Borrowed until the
// next receive.
const char *hclient_last_raw(const hclient_t *self);

// The next message must arrive within H_REPLY_MS and have this type.
cJSON *hclient_expect_at(const char *file, int line, hclient_t *self, const char *type);
#define hclient_expect(c, type) hclient_expect_at(__FILE__, __LINE__, c, type)

// The next message must be an error with this code, a non-empty message, and no id unless
// hclient_expect_error_id is used. Returns it.
cJSON *hclient_expect_error_at(const char *file, int line, hclient_t *self, const char *code,
                               const char *request, const char *id);
// request: the expected "request" field, or NULL for "must be absent"
#define hclient_expect_error(c, code, request)                                                     \
    hclient_expect_error_at(__FILE__, __LINE__, c, code, request, NULL)
#define hclient_expect_error_id(c, code, request, id)                                              \
    hclient_expect_error_at(__FILE__, __LINE__, c, code, request, id)

// Nothing may arrive on the commands socket for ms.
void hclient_expect_nothing_at(const char *file, int line, hclient_t *self, int ms);
#define hclient_expect_nothing(c, ms) hclient_expect_nothing_at(__FILE__, __LINE__, c, ms)

// Send a ping and expect the pong (a round trip: every earlier reply has arrived). Returns it.
cJSON *hclient_ping_at(const char *file, int line, hclient_t *self);
#define hclient_ping(c) hclient_ping_at(__FILE__, __LINE__, c)

// Join a room and expect joined. Returns the joined reply.
cJSON *hclient_join_at(const char *file, int line, hclient_t *self, const char *room);
#define hclient_join(c, room) hclient_join_at(__FILE__, __LINE__, c, room)

// Say text in room with an id, expect the ack; returns the seq the message got.
int64_t hclient_say_at(const char *file, int line, hclient_t *self, const char *room,
                       const char *text);
#define hclient_say(c, room, text) hclient_say_at(__FILE__, __LINE__, c, room, text)

// Subscribe this client's SUB (created and connected to the feed on first use) to topic.
void hclient_subscribe(hclient_t *self, const char *topic);

// Make sure every subscription of sub is active (slow joiner): talker, a member of room,
// says "sync" in room until sub sees an event of room, then says once more with an id and
// drains sub up to that message. Returns the seq of that last message. sub must be
// subscribed to room's topic (or a prefix of it) last.
int64_t hclient_sync_feed_at(const char *file, int line, hclient_t *sub, hclient_t *talker,
                             const char *room);
#define hclient_sync_feed(sub, talker, room)                                                       \
    hclient_sync_feed_at(__FILE__, __LINE__, sub, talker, room)

// A client with no session whose SUB is subscribed to topic, synced by talker in room
// (hclient_sync_feed). Returns it.
hclient_t *hclient_watcher_at(const char *file, int line, hbroker_t *broker, const char *topic,
                              hclient_t *talker, const char *room);
#define hclient_watcher(b, topic, talker, room)                                                    \
    hclient_watcher_at(__FILE__, __LINE__, b, topic, talker, room)

// The next feed event, parsed; NULL if none within timeout_ms. Fails unless it is two frames
// [topic][json object] with topic == "room/<room>/" and integer seq and ts.
cJSON *hclient_event_at(const char *file, int line, hclient_t *self, int timeout_ms);
#define hclient_event(c, ms) hclient_event_at(__FILE__, __LINE__, c, ms)

// The next feed event must arrive within H_REPLY_MS, be of room and type ("message" or
// "presence"). Returns it.
cJSON *hclient_expect_event_at(const char *file, int line, hclient_t *self, const char *room,
                               const char *type);
#define hclient_expect_event(c, room, type)                                                        \
    hclient_expect_event_at(__FILE__, __LINE__, c, room, type)

// The next feed event must be a presence event of user in room with event (join/leave/status)
// and, for a leave, reason (or NULL not to check). Returns it.
cJSON *hclient_expect_presence_at(const char *file, int line, hclient_t *self, const char *room,
                                  const char *user, const char *event, const char *reason);
#define hclient_expect_presence(c, room, user, event, reason)                                      \
    hclient_expect_presence_at(__FILE__, __LINE__, c, room, user, event, reason)

// The next feed event must be a message from user in room with text. Returns it.
cJSON *hclient_expect_message_at(const char *file, int line, hclient_t *self, const char *room,
                                 const char *from, const char *text);
#define hclient_expect_message(c, room, from, text)                                                \
    hclient_expect_message_at(__FILE__, __LINE__, c, room, from, text)

// No feed event may arrive for ms.
void hclient_expect_no_event_at(const char *file, int line, hclient_t *self, int ms);
#define hclient_expect_no_event(c, ms) hclient_expect_no_event_at(__FILE__, __LINE__, c, ms)

// ---------------------------------------------------------------------------------------------
// CURVE

// Like hclient_new, with CURVE on the DEALER and on the SUB (made by hclient_subscribe):
// server_key (Z85) is the key the broker must prove; cert (copied) is ours, NULL for a new one.
hclient_t *hclient_new_curve(hbroker_t *broker, const char *server_key, zcert_t *cert);

// hclient_login over CURVE with the broker's own key.
hclient_t *hclient_login_curve_at(const char *file, int line, hbroker_t *broker, const char *user);
#define hclient_login_curve(b, user) hclient_login_curve_at(__FILE__, __LINE__, b, user)

#endif
