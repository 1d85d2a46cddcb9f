// harness.h - e2e harness: a zchat-broker child process, a temp dir per test, and a client
// that writes JSON as literal strings and reads replies and feed events with deadlines
#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include "zchat_prelude.h"
#include <cJSON.h>

#define H_REPLY_MS 3000   // how long a reply or an event may take
#define H_QUIET_MS 250    // how long "nothing arrives" is watched for
#define H_STOP_MS  2000   // zchat-protocol(7) DURABILITY: exit 0 within 2 s of SIGTERM
#define H_START_MS 10000  // how long the broker may take to print its ready line

typedef struct hbroker hbroker_t;
typedef struct hclient hclient_t;

// ---------------------------------------------------------------------------------------------
// The test: failure, cleanup, temp dir

// Start a test: remember its name. Called by main.
void harness_begin(const char *name);

// End a test that returned: stop every broker still running (SIGTERM, exit 0 expected), destroy
// every client and JSON tree, remove the temp dir. Returns 0; a broker that does not stop
// cleanly fails the test instead (exit 1).
int harness_end(void);

// Fail the running test: print the reason, the broker logs, clean up and exit 1.
void harness_fail(const char *file, int line, const char *format, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            harness_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed: " __VA_ARGS__);             \
    } while (0)

// Run report when a test fails, after the broker logs and before the temp dir goes: more for
// the failure report. At most 4 of them.
void harness_on_fail(void (*report)(void));

// Read the start of a file into buf (NUL-terminated, truncated); "" if it cannot be read.
void harness_read_file(const char *path, char *buf, size_t size);

// The whole file, NUL-terminated (*size, if size is not NULL, without the NUL); NULL if it
// cannot be read. Caller frees.
char *harness_slurp(const char *path, size_t *size);

// The test's temp dir (created on first use, removed at the end). Borrowed.
const char *harness_tmpdir(void);

// Write path into buf as <tmpdir>/name. Returns buf.
char *harness_path(char *buf, size_t size, const char *name);

// Add a progress note to the trace shown when the test fails (and print it on stderr when
// ZCHAT_E2E_VERBOSE is set).
void harness_note(const char *format, ...) __attribute__((format(printf, 1, 2)));

// Milliseconds since the Unix epoch.
int64_t harness_now_ms(void);

// ---------------------------------------------------------------------------------------------
// The broker process

// Start ZCHAT_BROKER with --port 0, --db <tmpdir>/zchat.db (unless args has --db) and the
// NULL-terminated extra args; wait for its ready line and parse both endpoints from it.
// The harness owns the result; it stays valid until the end of the test.
// hbroker_start(NULL), hbroker_start("--heartbeat", "200", NULL).
hbroker_t *hbroker_start_argv(const char *const args[]);
#define hbroker_start(...) hbroker_start_argv((const char *const[]){__VA_ARGS__})

// Send SIGTERM and require exit 0 within 2 s (and no "dangling" socket report on stderr).
void hbroker_stop_at(const char *file, int line, hbroker_t *self);
#define hbroker_stop(b) hbroker_stop_at(__FILE__, __LINE__, b)

// Send a signal without waiting (SIGKILL for crash tests, SIGINT...).
void hbroker_signal(hbroker_t *self, int signum);

// Wait up to timeout_ms for the broker to exit. Returns the raw wait status, or -1 on timeout.
int hbroker_wait(hbroker_t *self, int timeout_ms);

// SIGKILL and reap.
void hbroker_kill(hbroker_t *self);

// true while the process has not been reaped.
bool hbroker_is_running(hbroker_t *self);

// Borrowed strings parsed from the ready line.
const char *hbroker_commands(const hbroker_t *self);
const char *hbroker_feed(const hbroker_t *self);
const char *hbroker_ready_line(const hbroker_t *self);
const char *hbroker_db(const hbroker_t *self);

// Run ZCHAT_BROKER with exactly argv (argv[0] is ignored and replaced; NULL-terminated) and
// wait for its exit, up to timeout_ms. Captures stdout and stderr into the given buffers
// (NUL-terminated, truncated). Returns the exit code, or fails the test if it did not exit
// normally in time.
int harness_run_broker(const char *const argv[], int timeout_ms, char *out, size_t out_size,
                       char *err, size_t err_size);

// ---------------------------------------------------------------------------------------------
// The client: a DEALER with a random identity on the commands endpoint, and a SUB on the feed

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
// Security

// Read the broker's next stdout line (without its newline) into buf, waiting up to timeout_ms.
// Returns false if none came. (hbroker_start reads the server key line of --curve itself.)
bool hbroker_read_line(hbroker_t *self, char *buf, size_t size, int timeout_ms);

// With --curve: the server key the broker printed on its second line; "" otherwise. Borrowed.
const char *hbroker_server_key(const hbroker_t *self);

// The file holding the broker's stderr (its log). Borrowed.
const char *hbroker_log(const hbroker_t *self);

// Like hclient_new, with CURVE on the DEALER and on the SUB (made by hclient_subscribe):
// server_key (Z85) is the key the broker must prove; cert (copied) is ours, NULL for a new one.
hclient_t *hclient_new_curve(hbroker_t *broker, const char *server_key, zcert_t *cert);

// hclient_login over CURVE with the broker's own key.
hclient_t *hclient_login_curve_at(const char *file, int line, hbroker_t *broker, const char *user);
#define hclient_login_curve(b, user) hclient_login_curve_at(__FILE__, __LINE__, b, user)

// ---------------------------------------------------------------------------------------------
// JSON: every accessor fails the test (showing the tree) when the field is missing or of
// another type

// Parse text (not NUL-terminated); NULL if it is not JSON. The harness owns the tree.
cJSON *harness_json(const char *text, size_t size);

// The tree as one line; borrowed until the next call.
const char *harness_json_text(const cJSON *json);

const char *jstr_at(const char *file, int line, const cJSON *json, const char *key);
int64_t jint_at(const char *file, int line, const cJSON *json, const char *key);
bool jbool_at(const char *file, int line, const cJSON *json, const char *key);
cJSON *jarr_at(const char *file, int line, const cJSON *json, const char *key);
cJSON *jobj_at(const char *file, int line, const cJSON *json, const char *key);
#define jstr(j, key)  jstr_at(__FILE__, __LINE__, j, key)
#define jint(j, key)  jint_at(__FILE__, __LINE__, j, key)
#define jbool(j, key) jbool_at(__FILE__, __LINE__, j, key)
#define jarr(j, key)  jarr_at(__FILE__, __LINE__, j, key)
#define jobj(j, key)  jobj_at(__FILE__, __LINE__, j, key)

// The field, case-sensitively, or NULL.
cJSON *jget(const cJSON *json, const char *key);

// true if the number is an integer that fits int64 (JSON "1", not "1.5").
bool jis_int(const cJSON *item);

// Check field key is the string expected.
void jcheck_str_at(const char *file, int line, const cJSON *json, const char *key,
                   const char *expected);
#define jcheck_str(j, key, expected) jcheck_str_at(__FILE__, __LINE__, j, key, expected)

// Check field key is the integer expected.
void jcheck_int_at(const char *file, int line, const cJSON *json, const char *key,
                   int64_t expected);
#define jcheck_int(j, key, expected) jcheck_int_at(__FILE__, __LINE__, j, key, expected)

// Check field key is absent.
void jcheck_absent_at(const char *file, int line, const cJSON *json, const char *key);
#define jcheck_absent(j, key) jcheck_absent_at(__FILE__, __LINE__, j, key)

// Check array field key holds exactly these strings, in order: jcheck_strings(j, "rooms",
// "lobby", "py", NULL); jcheck_strings(j, "rooms", NULL) for an empty array.
void jcheck_strings_at(const char *file, int line, const cJSON *json, const char *key,
                       const char *const expected[]);
#define jcheck_strings(j, key, ...)                                                                \
    jcheck_strings_at(__FILE__, __LINE__, j, key, (const char *const[]){__VA_ARGS__})

#endif
