// test_sessions.c - e2e: liveness, resume, observers, retries, the rate limit and graceful
// shutdown (zchat-protocol(7) LIVENESS; SESSIONS AND RESTARTS; DURABILITY)
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

#include <signal.h>

#define S_HEARTBEAT 200  // --heartbeat for the liveness tests

// The next feed event on watcher within timeout_ms, while keeper pings every 100 ms so that it
// stays alive. NULL if none.
static cJSON *
s_event_keepalive(hclient_t *watcher, hclient_t *keeper, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (zclock_mono() < deadline) {
        hclient_ping(keeper);
        cJSON *event = hclient_event(watcher, 100);
        if (event)
            return event;
    }
    return NULL;
}

// The session token of a client's welcome.
static const char *
s_token(hclient_t *client)
{
    return jstr(hclient_welcome(client), "session");
}

// true if the welcome's rooms are exactly these two, in any order.
static bool
s_rooms_are(const cJSON *welcome, const char *one, const char *two)
{
    const cJSON *rooms = jget(welcome, "rooms");
    if (!cJSON_IsArray(rooms) || cJSON_GetArraySize(rooms) != 2)
        return false;
    const char *first = cJSON_GetStringValue(cJSON_GetArrayItem(rooms, 0));
    const char *second = cJSON_GetStringValue(cJSON_GetArrayItem(rooms, 1));
    return first && second &&
           ((streq(first, one) && streq(second, two)) || (streq(first, two) && streq(second, one)));
}

void
test_liveness_timeout(void)
{
    char heartbeat[16];
    snprintf(heartbeat, sizeof heartbeat, "%d", S_HEARTBEAT);
    hbroker_t *broker = hbroker_start("--heartbeat", heartbeat, NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    jcheck_int(hclient_welcome(alice), "heartbeat_ms", S_HEARTBEAT);
    hclient_t *watcher = hclient_watcher(broker, "room/", alice, "lobby");

    // An observer that stays silent expires too, without any presence event.
    hclient_t *observer = hclient_observer(broker, NULL);
    // carol stays alive with failing requests only: every request counts as activity
    // (zchat-protocol(7) ERRORS).
    hclient_t *carol = hclient_login(broker, "carol");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(bob, "py");
    int64_t start = zclock_mono();  // bob's last request was handled before this
    cJSON *event = s_event_keepalive(watcher, alice, 1000);
    CHECK(event, "no join of carol");
    event = s_event_keepalive(watcher, alice, 1000);
    CHECK(event, "no join of bob");
    event = s_event_keepalive(watcher, alice, 1000);
    CHECK(event, "no join of bob in py");
    jcheck_str(event, "room", "py");

    // bob is silent from now: a leave with reason timeout in each of his rooms, after 3 to 4
    // heartbeats (plus scheduling slack).
    for (int i = 0; i < 2; i++) {
        event = NULL;
        int64_t deadline = zclock_mono() + 4 * S_HEARTBEAT + 2000;
        while (!event && zclock_mono() < deadline) {
            hclient_send(carol, "{\"type\":\"join\"}");
            hclient_expect_error(carol, "bad_request", "join");
            event = s_event_keepalive(watcher, alice, 100);
        }
        CHECK(event, "bob did not expire within %d ms", 4 * S_HEARTBEAT + 2000);
        int64_t elapsed = zclock_mono() - start;
        jcheck_str(event, "type", "presence");
        jcheck_str(event, "user", "bob");
        jcheck_str(event, "event", "leave");
        jcheck_str(event, "reason", "timeout");
        CHECK(elapsed >= 3 * S_HEARTBEAT - 50,
              "bob expired %" PRId64 " ms after his last request, before 3 heartbeats", elapsed);
        CHECK(elapsed <= 4 * S_HEARTBEAT + 500,
              "bob expired %" PRId64 " ms after his last request, after 4 heartbeats", elapsed);
    }
    // alice, who kept pinging, is still there; the name bob is free again.
    hclient_send(alice, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(alice, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 2, "users after bob expired (alice and carol): %s",
          harness_json_text(users));
    jcheck_str(cJSON_GetArrayItem(users, 1), "name", "carol");
    hclient_send(bob, "{\"type\":\"rooms\",\"id\":\"late\"}");
    hclient_expect_error_id(bob, "not_logged_in", "rooms", "late");
    hclient_send(observer, "{\"type\":\"rooms\"}");
    hclient_expect_error(observer, "not_logged_in", "rooms");
    hclient_t *bob2 = hclient_login(broker, "bob");
    jcheck_strings(hclient_welcome(bob2), "rooms", "lobby", NULL);
}

void
test_resume_live(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(bob, "py");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");

    // A new DEALER (new identity) takes the live session over, by token and name in any case.
    hclient_t *again = hclient_new(broker);
    hclient_sendf(again,
                  "{\"type\":\"hello\",\"user\":\"ALICE\",\"proto\":1,\"resume\":\"%s\","
                  "\"id\":\"r1\"}",
                  s_token(alice));
    cJSON *welcome = hclient_expect(again, "welcome");
    jcheck_str(welcome, "id", "r1");
    jcheck_str(welcome, "user", "alice");  // the first login's spelling stands
    CHECK(s_rooms_are(welcome, "lobby", "py"), "resumed session lost its rooms: %s",
          harness_json_text(welcome));
    CHECK(*jstr(welcome, "session"), "empty token");

    // No leave or join: the feed's next events are the markers.
    hclient_say(bob, "lobby", "marker");
    hclient_expect_message(watcher, "lobby", "bob", "marker");
    hclient_say(again, "py", "from the new connection");
    hclient_expect_message(watcher, "py", "alice", "from the new connection");
    cJSON *seqs = jobj(hclient_ping(again), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 2, "pong.seqs after resume: %s", harness_json_text(seqs));
    hclient_send(bob, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(bob, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 2, "users after resume: %s", harness_json_text(users));
    jcheck_str(cJSON_GetArrayItem(users, 0), "name", "alice");

    // Private messages go to the new connection.
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"where are you\"}");
    jcheck_str(hclient_expect(again, "private"), "text", "where are you");

    // The old connection gets not_logged_in (perhaps once unasked, then for its request).
    hclient_send(alice, "{\"type\":\"rooms\",\"id\":\"old\"}");
    for (int i = 0;; i++) {
        cJSON *error = hclient_expect(alice, "error");
        jcheck_str(error, "code", "not_logged_in");
        if (jget(error, "id")) {
            jcheck_str(error, "id", "old");
            break;
        }
        CHECK(i == 0, "more than one unasked not_logged_in");
    }
    hclient_expect_nothing(alice, 100);  // the private message did not go there
    hclient_expect_no_event(watcher, 50);
}

void
test_handover_identity(void)
{
    // zchat-protocol(7) SOCKETS AND FRAMES: ZMQ_ROUTER_HANDOVER, a reconnecting client takes its
    // identity back.
    hbroker_t *broker = hbroker_start(NULL);
    char identity[40];
    snprintf(identity, sizeof identity, "e2e-handover-%08lx", (unsigned long)random());
    hclient_t *first = hclient_new_as(broker, identity);
    hclient_send(first, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(first, "welcome");
    hclient_join(first, "py");
    // A second connection with the same routing id, while the first is still connected.
    hclient_t *second = hclient_new_as(broker, identity);
    hclient_send(second, "{\"type\":\"ping\",\"id\":\"h\"}");
    cJSON *pong = hclient_expect(second, "pong");
    jcheck_str(pong, "id", "h");
    CHECK(cJSON_GetArraySize(jobj(pong, "seqs")) == 2, "the identity's session is not there: %s",
          harness_json_text(pong));
    hclient_say(second, "py", "it is still me");
    hclient_expect_nothing(first, 100);
}

// --max-sessions counts expired sessions too, but a login takes the place of the oldest of
// them (its token then resumes nothing); only when every session is live is a login refused.
void
test_resume_full(void)
{
    char heartbeat[16];
    snprintf(heartbeat, sizeof heartbeat, "%d", S_HEARTBEAT);
    hbroker_t *broker = hbroker_start("--heartbeat", heartbeat, "--max-sessions", "2", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");
    cJSON *event = s_event_keepalive(watcher, bob, 4 * S_HEARTBEAT + 2000);  // alice is silent
    CHECK(event, "alice did not expire");
    jcheck_str(event, "user", "alice");
    jcheck_str(event, "reason", "timeout");

    hclient_t *carol = hclient_new(broker);
    hclient_send(carol, "{\"type\":\"hello\",\"user\":\"carol\",\"proto\":1}");
    hclient_expect(carol, "welcome");  // in alice's place
    hclient_t *again = hclient_new(broker);
    hclient_sendf(again, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}",
                  s_token(alice));
    const char *message = jstr(hclient_expect_error(again, "server_full", "hello"), "message");
    CHECK(strstr(message, "live sessions"), "message: %s", message);  // nothing left to resume
    hclient_ping(bob);
    hclient_ping(carol);
}

void
test_resume_expired(void)
{
    char heartbeat[16];
    snprintf(heartbeat, sizeof heartbeat, "%d", S_HEARTBEAT);
    hbroker_t *broker = hbroker_start("--heartbeat", heartbeat, NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");

    // alice goes silent and expires.
    for (int i = 0; i < 2; i++) {
        cJSON *event = s_event_keepalive(watcher, bob, 4 * S_HEARTBEAT + 2000);
        CHECK(event, "alice did not expire");
        jcheck_str(event, "user", "alice");
        jcheck_str(event, "reason", "timeout");
    }
    // While someone else has the name, her token cannot bring the session back.
    hclient_t *other = hclient_login(broker, "ALICE");
    hclient_t *again = hclient_new(broker);
    hclient_sendf(again, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}",
                  s_token(alice));
    hclient_expect_error(again, "name_taken", "hello");
    hclient_send(other, "{\"type\":\"quit\"}");
    hclient_expect(other, "bye");
    hclient_expect_presence(watcher, "lobby", "ALICE", "join", NULL);
    hclient_expect_presence(watcher, "lobby", "ALICE", "leave", "quit");

    // Within 60 s her token brings the session back, rooms included; she joins them again.
    hclient_sendf(again, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}",
                  s_token(alice));
    cJSON *welcome = hclient_expect(again, "welcome");
    CHECK(s_rooms_are(welcome, "lobby", "py"), "resumed session lost its rooms: %s",
          harness_json_text(welcome));
    bool lobby = false, py = false;
    for (int i = 0; i < 2; i++) {
        cJSON *event = s_event_keepalive(watcher, bob, H_REPLY_MS);
        CHECK(event, "expected joins of alice in lobby and py after the resume");
        jcheck_str(event, "type", "presence");
        jcheck_str(event, "user", "alice");
        jcheck_str(event, "event", "join");
        lobby |= streq(jstr(event, "room"), "lobby");
        py |= streq(jstr(event, "room"), "py");
    }
    CHECK(lobby && py, "joins in lobby and py expected");
    hclient_say(again, "py", "back");
    hclient_expect_message(watcher, "py", "alice", "back");
}

void
test_resume_token_rules(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_t *watcher = hclient_watcher(broker, "room/", alice, "lobby");

    // Another user's token is ignored: a plain new login.
    hclient_t *carol = hclient_new(broker);
    hclient_sendf(carol, "{\"type\":\"hello\",\"user\":\"carol\",\"proto\":1,\"resume\":\"%s\"}",
                  s_token(alice));
    cJSON *welcome = hclient_expect(carol, "welcome");
    const char *carol_token = jstr(welcome, "session");
    jcheck_str(welcome, "user", "carol");
    jcheck_strings(welcome, "rooms", "lobby", NULL);
    hclient_expect_presence(watcher, "lobby", "carol", "join", NULL);
    cJSON *seqs = jobj(hclient_ping(alice), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 2, "alice lost her session: %s", harness_json_text(seqs));

    // An unknown token too.
    hclient_t *dave = hclient_new(broker);
    hclient_send(dave, "{\"type\":\"hello\",\"user\":\"dave\",\"proto\":1,"
                       "\"resume\":\"00000000000000000000000000000000\"}");
    jcheck_strings(hclient_expect(dave, "welcome"), "rooms", "lobby", NULL);
    hclient_expect_presence(watcher, "lobby", "dave", "join", NULL);

    // An empty token too.
    hclient_t *erin = hclient_new(broker);
    hclient_send(erin, "{\"type\":\"hello\",\"user\":\"erin\",\"proto\":1,\"resume\":\"\"}");
    jcheck_strings(hclient_expect(erin, "welcome"), "rooms", "lobby", NULL);
    hclient_expect_presence(watcher, "lobby", "erin", "join", NULL);

    // ...so a wrong token for a name in use is name_taken.
    hclient_t *thief = hclient_new(broker);
    hclient_send(thief, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"guess\"}");
    hclient_expect_error(thief, "name_taken", "hello");
    hclient_sendf(thief, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}",
                  carol_token);
    hclient_expect_error(thief, "name_taken", "hello");
    hclient_ping(alice);
}

void
test_observer_session(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_say(alice, "py", "hello");
    hclient_t *watcher = hclient_watcher(broker, "room/", alice, "lobby");

    hclient_t *observer = hclient_new(broker);
    hclient_send(observer, "{\"type\":\"hello\",\"proto\":1,\"observer\":true,\"id\":\"o1\"}");
    cJSON *welcome = hclient_expect(observer, "welcome");
    jcheck_str(welcome, "id", "o1");
    jcheck_str(welcome, "user", "");
    jcheck_strings(welcome, "rooms", NULL);
    jcheck_str(welcome, "feed", hbroker_feed(broker));
    jstr(welcome, "session");
    jstr(welcome, "epoch");
    jint(welcome, "heartbeat_ms");
    // A named observer reserves no name.
    hclient_t *logger = hclient_observer(broker, "carol");
    jcheck_str(hclient_welcome(logger), "user", "carol");
    hclient_t *carol = hclient_login(broker, "carol");

    // No presence for observers: carol's join is the next event.
    hclient_expect_presence(watcher, "lobby", "carol", "join", NULL);

    // What observers may do.
    hclient_send(observer, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(observer, "rooms"), "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 2, "rooms: %s", harness_json_text(rooms));
    hclient_send(observer, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(observer, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 2, "observers listed in users: %s",
          harness_json_text(users));
    jcheck_str(cJSON_GetArrayItem(users, 0), "name", "alice");
    jcheck_str(cJSON_GetArrayItem(users, 1), "name", "carol");
    hclient_send(observer, "{\"type\":\"users\",\"room\":\"py\"}");
    users = jarr(hclient_expect(observer, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 1, "users of py: %s", harness_json_text(users));
    hclient_send(observer, "{\"type\":\"history\",\"room\":\"py\"}");
    cJSON *events = jarr(hclient_expect(observer, "history"), "events");
    CHECK(cJSON_GetArraySize(events) == 2, "history of py: %s", harness_json_text(events));
    jcheck_str(cJSON_GetArrayItem(events, 1), "text", "hello");
    cJSON *seqs = jobj(hclient_ping(observer), "seqs");
    CHECK(!seqs->child, "observer pong.seqs: %s", harness_json_text(seqs));
    // ...and may not.
    hclient_send(observer, "{\"type\":\"say\",\"room\":\"py\",\"text\":\"hi\",\"id\":\"f\"}");
    hclient_expect_error_id(observer, "forbidden", "say", "f");
    hclient_send(carol, "{\"type\":\"msg\",\"to\":\"carol\",\"text\":\"hi\"}");
    hclient_expect(carol, "private");  // to carol the user, not to the observer named carol
    hclient_expect_nothing(logger, 50);

    // Quitting: bye, no event.
    hclient_send(observer, "{\"type\":\"quit\",\"reason\":\"done\"}");
    hclient_expect(observer, "bye");
    hclient_send(logger, "{\"type\":\"quit\"}");
    hclient_expect(logger, "bye");
    hclient_say(alice, "lobby", "marker");
    hclient_expect_message(watcher, "lobby", "alice", "marker");
}

void
test_retry_say_id(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/lobby/", alice, "lobby");

    const char *once = "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"once\",\"id\":\"r1\"}";
    hclient_send(alice, once);
    cJSON *ack = hclient_expect(alice, "ack");
    int64_t seq = jint(ack, "seq");
    hclient_send(alice, once);
    ack = hclient_expect(alice, "ack");
    jcheck_str(ack, "id", "r1");
    jcheck_int(ack, "seq", seq);
    // Even with another text: the id decides.
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"other\",\"id\":\"r1\"}");
    jcheck_int(hclient_expect(alice, "ack"), "seq", seq);
    // ...and say and msg share the list.
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"dup\",\"id\":\"r1\"}");
    jcheck_str(hclient_expect(alice, "ack"), "id", "r1");
    CHECK(hclient_say(alice, "lobby", "next") == seq + 1, "a retry took a seq");
    jcheck_int(hclient_expect_message(watcher, "lobby", "alice", "once"), "seq", seq);
    jcheck_int(hclient_expect_message(watcher, "lobby", "alice", "next"), "seq", seq + 1);
    hclient_expect_nothing(bob, 50);

    // A failed request leaves no id behind.
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"py\",\"text\":\"early\",\"id\":\"f1\"}");
    hclient_expect_error_id(alice, "no_such_room", "say", "f1");
    hclient_join(alice, "py");
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"py\",\"text\":\"early\",\"id\":\"f1\"}");
    jcheck_int(hclient_expect(alice, "ack"), "seq", 2);

    // The last 256 ids are remembered: after 255 more, r1's original ack still comes back.
    for (int i = 0; i < ZCHAT_IDS_REMEMBERED - 3; i++)
        hclient_sendf(alice, "{\"type\":\"say\",\"room\":\"py\",\"text\":\"x\",\"id\":\"n%d\"}", i);
    for (int i = 0; i < ZCHAT_IDS_REMEMBERED - 3; i++)
        hclient_expect(alice, "ack");
    hclient_send(alice, once);
    jcheck_int(hclient_expect(alice, "ack"), "seq", seq);
    hclient_say(alice, "lobby", "marker");
    hclient_expect_message(watcher, "lobby", "alice", "marker");
}

void
test_retry_msg_id(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    const char *msg = "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"only once\",\"id\":\"m1\"}";
    hclient_send(alice, msg);
    jcheck_str(hclient_expect(alice, "ack"), "id", "m1");
    hclient_send(alice, msg);
    jcheck_str(hclient_expect(alice, "ack"), "id", "m1");
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"marker\",\"id\":\"m2\"}");
    jcheck_str(hclient_expect(alice, "ack"), "id", "m2");
    jcheck_str(hclient_expect(bob, "private"), "text", "only once");
    jcheck_str(hclient_expect(bob, "private"), "text", "marker");
    hclient_expect_nothing(bob, 100);
    // Ids are per session: bob may use m1 too.
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"mine\",\"id\":\"m1\"}");
    hclient_expect(bob, "ack");
    jcheck_str(hclient_expect(alice, "private"), "text", "mine");
}

// Send json until a reply of type arrives (rate_limited errors in between), for up to 5 s.
static cJSON *
s_until(hclient_t *client, const char *json, const char *type)
{
    int64_t deadline = zclock_mono() + 5000;
    while (true) {
        hclient_send(client, json);
        cJSON *reply = hclient_recv(client, H_REPLY_MS);
        CHECK(reply, "no reply to %s", json);
        if (streq(jstr(reply, "type"), type))
            return reply;
        jcheck_str(reply, "code", "rate_limited");
        CHECK(zclock_mono() < deadline, "still rate_limited after 5 s");
        hclient_expect_nothing(client, 100);  // waits 100 ms for the bucket to refill
    }
}

void
test_rate_limit(void)
{
    hbroker_t *broker = hbroker_start("--rate", "5", "--burst", "5", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    enum { BURST = 20 };
    int64_t start = zclock_mono();
    for (int i = 0; i < BURST; i++)
        hclient_sendf(alice, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"s%d\",\"id\":\"%d\"}",
                      i, i);
    // One reply each, in order: an ack while tokens last, then rate_limited.
    bool acked[BURST] = {false};
    int acks = 0;
    for (int i = 0; i < BURST; i++) {
        cJSON *reply = hclient_recv(alice, H_REPLY_MS);
        CHECK(reply, "%d replies to %d says", i, BURST);
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        jcheck_str(reply, "id", id);
        if (streq(jstr(reply, "type"), "ack")) {
            acked[i] = true;
            acks++;
        } else {
            jcheck_str(reply, "type", "error");
            jcheck_str(reply, "code", "rate_limited");
            jcheck_str(reply, "request", "say");
        }
    }
    // The burst, plus what refilled meanwhile at 5/s (the hello may have taken a token).
    int64_t elapsed = zclock_mono() - start;
    int most = 5 + 1 + (int)(5 * elapsed / 1000);
    CHECK(acks >= 4 && acks <= most,
          "%d of %d says in %" PRId64 " ms went through with --burst 5 --rate 5", acks, BURST,
          elapsed);

    // Before hello the bucket is per connection: one connection's burst does not stop another.
    hclient_t *stranger = hclient_new(broker);
    for (int i = 0; i < BURST; i++)
        hclient_send(stranger, "{\"type\":\"rooms\"}");
    for (int i = 0; i < BURST; i++) {
        cJSON *error = hclient_expect(stranger, "error");
        const char *code = jstr(error, "code");
        CHECK(streq(code, "not_logged_in") || streq(code, "rate_limited"), "got %s", code);
    }
    hclient_login(broker, "carol");

    // ping takes no token.
    for (int i = 0; i < 30; i++)
        hclient_send(alice, "{\"type\":\"ping\"}");
    for (int i = 0; i < 30; i++)
        hclient_expect(alice, "pong");
    // The bucket is per session.
    hclient_say(bob, "lobby", "my own bucket");
    // It refills at 5/s.
    s_until(alice, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"after\",\"id\":\"a\"}", "ack");

    // Rate-limited requests had no effect: history holds the acknowledged says only.
    cJSON *history =
        s_until(alice, "{\"type\":\"history\",\"room\":\"lobby\",\"limit\":1000}", "history");
    int found[BURST] = {0}, after = 0;
    cJSON *event;
    cJSON_ArrayForEach(event, jarr(history, "events"))
    {
        if (!streq(jstr(event, "type"), "message") || !streq(jstr(event, "from"), "alice"))
            continue;
        const char *text = jstr(event, "text");
        if (streq(text, "after"))
            after++;
        else {
            int i = atoi(text + 1);
            CHECK(text[0] == 's' && i >= 0 && i < BURST, "unexpected message %s", text);
            found[i]++;
        }
    }
    for (int i = 0; i < BURST; i++)
        CHECK(found[i] == (acked[i] ? 1 : 0), "say %d: %s but found %d times in history", i,
              acked[i] ? "acked" : "rate_limited", found[i]);
    CHECK(after == 1, "\"after\" found %d times", after);
}

void
test_shutdown_presence(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_login(broker, "bob");
    hclient_observer(broker, NULL);
    hclient_t *watcher = hclient_watcher(broker, "room/", alice, "lobby");
    int64_t lobby = jint(jobj(hclient_ping(alice), "seqs"), "lobby");

    hbroker_stop(broker);  // SIGTERM, exit 0 within 2 s
    // One leave with reason shutdown per session per room, nothing for the observer.
    bool alice_lobby = false, alice_py = false, bob_lobby = false;
    for (int i = 0; i < 3; i++) {
        cJSON *event = hclient_event(watcher, H_REPLY_MS);
        CHECK(event, "expected 3 shutdown leaves, got %d", i);
        jcheck_str(event, "type", "presence");
        jcheck_str(event, "event", "leave");
        jcheck_str(event, "reason", "shutdown");
        const char *user = jstr(event, "user");
        const char *room = jstr(event, "room");
        int64_t seq = jint(event, "seq");
        if (streq(room, "lobby"))
            CHECK(seq == lobby + 1 || seq == lobby + 2, "lobby seq %" PRId64, seq);
        else
            CHECK(seq == 2, "py seq %" PRId64, seq);
        alice_lobby |= streq(user, "alice") && streq(room, "lobby");
        alice_py |= streq(user, "alice") && streq(room, "py");
        bob_lobby |= streq(user, "bob") && streq(room, "lobby");
    }
    CHECK(alice_lobby && alice_py && bob_lobby, "leaves of alice in lobby and py, bob in lobby");
    hclient_expect_no_event(watcher, 100);
}

void
test_slow_consumer(void)
{
    char heartbeat[16];
    snprintf(heartbeat, sizeof heartbeat, "%d", S_HEARTBEAT);
    hbroker_t *broker = hbroker_start("--heartbeat", heartbeat, "--rate", "0", NULL);
    // alice reads her welcome, then nothing more, while she keeps sending pings.
    hclient_t *alice = hclient_new_slow(broker);
    hclient_send(alice, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(alice, "welcome");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");

    // bob sends her big private messages until the broker says she cannot take any now.
    static char msg[ZCHAT_TEXT_MAX + 128];
    size_t used =
        (size_t)snprintf(msg, sizeof msg, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"");
    memset(msg + used, 'x', ZCHAT_TEXT_MAX);
    snprintf(msg + used + ZCHAT_TEXT_MAX, sizeof msg - used - ZCHAT_TEXT_MAX, "\"}");
    const char *ping = "{\"type\":\"ping\"}";
    int64_t deadline = zclock_mono() + 15000;
    int sent = 0;
    bool refused = false;
    while (!refused) {
        CHECK(zclock_mono() < deadline && sent < 20000,
              "%d private messages to a client that reads nothing, none refused (zchat-protocol(7) "
              "SLOW CONSUMERS)",
              sent);
        hclient_try_send(bob, msg, strlen(msg));
        sent++;
        if (sent % 50 == 0) {
            hclient_try_send(alice, ping, strlen(ping));
            hclient_send(bob, ping);
            while (true) {
                cJSON *reply = hclient_recv(bob, H_REPLY_MS);
                CHECK(reply, "bob got no pong");
                if (streq(jstr(reply, "type"), "pong"))
                    break;
                jcheck_str(reply, "type", "error");
                jcheck_str(reply, "code", "no_such_user");
                refused = true;
            }
        }
    }
    harness_note("the broker refused a msg to alice after %d", sent);

    // Her queue stays full: she expires like a silent session, pings or not.
    int64_t start = zclock_mono();
    cJSON *event = NULL;
    while (!event) {
        CHECK(zclock_mono() - start < 4 * S_HEARTBEAT + 3000,
              "a session with a full queue did not expire (zchat-protocol(7) SLOW CONSUMERS)");
        hclient_try_send(alice, ping, strlen(ping));
        event = s_event_keepalive(watcher, bob, 50);
        if (event && !streq(jstr(event, "type"), "presence"))
            event = NULL;
    }
    jcheck_str(event, "user", "alice");
    jcheck_str(event, "event", "leave");
    jcheck_str(event, "reason", "timeout");
    harness_note("alice expired %" PRId64 " ms after the first refusal", zclock_mono() - start);
    // The broker is fine.
    hclient_ping(bob);
    hclient_login(broker, "carol");
}

void
test_shutdown_under_load(void)
{
    // SIGTERM while clients flood requests and a subscriber reads nothing: exit 0 within 2 s.
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *deaf = hclient_new_slow(broker);
    hclient_subscribe(deaf, "room/");
    hclient_sync_feed(deaf, alice, "lobby");
    const char *ping = "{\"type\":\"ping\"}";
    const char *say = "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"load load load load\"}";
    int64_t deadline = zclock_mono() + 500;
    for (int i = 0; i < 20000 && zclock_mono() < deadline; i++) {
        hclient_try_send(alice, say, strlen(say));
        hclient_try_send(bob, ping, strlen(ping));
    }
    hbroker_stop(broker);  // while the broker still works through the flood
}
