// test_requests.c - e2e: every request type of zchat-protocol(7) REQUESTS and its success reply
// (REPLIES)
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

// Check one entry of a rooms reply.
static void
s_check_room(const cJSON *entry, const char *name, int64_t members, int64_t seq)
{
    jcheck_str(entry, "name", name);
    jcheck_int(entry, "members", members);
    jcheck_int(entry, "seq", seq);
}

// Check one entry of a users reply; note NULL means "no note field".
static void
s_check_user(const cJSON *entry, const char *name, const char *status, const char *note)
{
    CHECK(entry, "the users list is too short, expected %s", name);
    jcheck_str(entry, "name", name);
    jcheck_str(entry, "status", status);
    if (note)
        jcheck_str(entry, "note", note);
    else
        jcheck_absent(entry, "note");
}

void
test_req_hello_welcome(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", "1500", NULL);
    hclient_t *alice = hclient_new(broker);
    hclient_send(alice, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"id\":\"h1\","
                        "\"client\":\"e2e/0.1\",\"future-field\":{\"x\":[1,2]}}");
    cJSON *welcome = hclient_expect(alice, "welcome");
    jcheck_str(welcome, "user", "alice");
    jcheck_str(welcome, "id", "h1");
    CHECK(*jstr(welcome, "session"), "empty session token");
    jcheck_str(welcome, "feed", hbroker_feed(broker));
    CHECK(*jstr(welcome, "epoch"), "empty epoch");
    jcheck_int(welcome, "heartbeat_ms", 1500);
    jcheck_strings(welcome, "rooms", "lobby", NULL);

    // password is type-checked but, without accounts, a string is accepted.
    hclient_t *bob = hclient_new(broker);
    hclient_send(bob, "{\"type\":\"hello\",\"user\":\"bob\",\"proto\":1,\"password\":\"secret\"}");
    cJSON *second = hclient_expect(bob, "welcome");
    jcheck_absent(second, "id");
    CHECK(!streq(jstr(second, "session"), jstr(welcome, "session")), "two sessions, one token");
    jcheck_str(second, "epoch", jstr(welcome, "epoch"));
}

void
test_req_join_leave(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_send(alice, "{\"type\":\"join\",\"room\":\"py\",\"id\":\"j1\"}");
    cJSON *joined = hclient_expect(alice, "joined");
    jcheck_str(joined, "room", "py");
    jcheck_str(joined, "id", "j1");
    jcheck_int(joined, "seq", 1);
    jcheck_strings(joined, "members", "alice", NULL);

    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"py\",\"id\":\"l1\"}");
    cJSON *left = hclient_expect(alice, "left");
    jcheck_str(left, "room", "py");
    jcheck_str(left, "id", "l1");

    // lobby may be left like any room; a session in no room still works and can msg.
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"lobby\"}");
    left = hclient_expect(alice, "left");
    jcheck_str(left, "room", "lobby");
    jcheck_absent(left, "id");
    cJSON *pong = hclient_ping(alice);
    CHECK(jobj(pong, "seqs")->child == NULL, "pong.seqs of a session in no room: %s",
          harness_json_text(pong));

    hclient_t *bob = hclient_login(broker, "bob");
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"still here\"}");
    cJSON *private = hclient_expect(bob, "private");
    jcheck_str(private, "from", "alice");
    jcheck_str(private, "text", "still here");

    // Rejoining works, and the room's seq went on: join 1, leave 2, join 3.
    joined = hclient_join(alice, "py");
    jcheck_int(joined, "seq", 3);
}

void
test_req_rooms(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(alice, "py");
    hclient_join(bob, "python");
    hclient_say(alice, "py", "hello");

    hclient_send(alice, "{\"type\":\"rooms\",\"id\":\"r1\"}");
    cJSON *reply = hclient_expect(alice, "rooms");
    jcheck_str(reply, "id", "r1");
    cJSON *rooms = jarr(reply, "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 3, "expected lobby, py, python: %s",
          harness_json_text(reply));
    s_check_room(cJSON_GetArrayItem(rooms, 0), "lobby", 2, 2);
    s_check_room(cJSON_GetArrayItem(rooms, 1), "py", 1, 2);
    s_check_room(cJSON_GetArrayItem(rooms, 2), "python", 1, 1);

    // A room nobody is in is still listed while it has history.
    hclient_send(bob, "{\"type\":\"leave\",\"room\":\"python\"}");
    hclient_expect(bob, "left");
    hclient_send(bob, "{\"type\":\"rooms\"}");
    reply = hclient_expect(bob, "rooms");
    jcheck_absent(reply, "id");
    rooms = jarr(reply, "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 3, "expected lobby, py, python: %s",
          harness_json_text(reply));
    s_check_room(cJSON_GetArrayItem(rooms, 2), "python", 0, 2);
    // ...and exists: its users are nobody, its history is there.
    hclient_send(bob, "{\"type\":\"users\",\"room\":\"python\"}");
    reply = hclient_expect(bob, "users");
    jcheck_str(reply, "room", "python");
    CHECK(cJSON_GetArraySize(jarr(reply, "users")) == 0, "users of an empty room: %s",
          harness_json_text(reply));
    hclient_send(bob, "{\"type\":\"history\",\"room\":\"python\"}");
    CHECK(cJSON_GetArraySize(jarr(hclient_expect(bob, "history"), "events")) == 2,
          "history of an empty room");
}

void
test_req_users(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_t *carol = hclient_login(broker, "carol");
    hclient_observer(broker, "ghost");
    hclient_send(alice, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"lunch\"}");
    hclient_expect(alice, "ok");
    hclient_join(alice, "py");
    hclient_join(carol, "py");

    hclient_send(bob, "{\"type\":\"users\",\"id\":\"u1\"}");
    cJSON *reply = hclient_expect(bob, "users");
    jcheck_str(reply, "id", "u1");
    jcheck_absent(reply, "room");
    cJSON *users = jarr(reply, "users");
    CHECK(cJSON_GetArraySize(users) == 3, "expected alice, Bob, carol (no observer): %s",
          harness_json_text(reply));
    s_check_user(cJSON_GetArrayItem(users, 0), "alice", "away", "lunch");
    s_check_user(cJSON_GetArrayItem(users, 1), "Bob", "online", NULL);
    s_check_user(cJSON_GetArrayItem(users, 2), "carol", "online", NULL);

    hclient_send(bob, "{\"type\":\"users\",\"room\":\"#PY\"}");
    reply = hclient_expect(bob, "users");
    jcheck_str(reply, "room", "py");
    users = jarr(reply, "users");
    CHECK(cJSON_GetArraySize(users) == 2, "expected alice, carol: %s", harness_json_text(reply));
    s_check_user(cJSON_GetArrayItem(users, 0), "alice", "away", "lunch");
    s_check_user(cJSON_GetArrayItem(users, 1), "carol", "online", NULL);
}

void
test_req_say_ack(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *watcher = hclient_watcher(broker, "room/lobby/", alice, "lobby");
    cJSON *pong = hclient_ping(alice);
    int64_t last = jint(jobj(pong, "seqs"), "lobby");

    // Without an id: no ack (the pong is the next thing to arrive), but delivered.
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"no id\"}");
    hclient_ping(alice);
    cJSON *event = hclient_expect_message(watcher, "lobby", "alice", "no id");
    jcheck_int(event, "seq", last + 1);
    jcheck_absent(event, "id");

    // With an id: an ack carrying the id and the seq the message got.
    int64_t before = harness_now_ms();
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"with id\",\"id\":\"s1\"}");
    cJSON *ack = hclient_expect(alice, "ack");
    jcheck_str(ack, "id", "s1");
    jcheck_int(ack, "seq", last + 2);
    event = hclient_expect_message(watcher, "lobby", "alice", "with id");
    jcheck_int(event, "seq", last + 2);
    jcheck_str(event, "id", "s1");  // extension: the stored event knows its say (after a crash)
    int64_t ts = jint(event, "ts");
    int64_t after = harness_now_ms();
    CHECK(ts >= before - 1000 && ts <= after + 1000,
          "ts %" PRId64 " is not milliseconds since the epoch (now %" PRId64 ")", ts, after);
}

void
test_req_msg_private(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    int64_t before = harness_now_ms();
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"hi bob\",\"id\":\"m1\"}");
    cJSON *ack = hclient_expect(alice, "ack");
    jcheck_str(ack, "id", "m1");
    cJSON *private = hclient_expect(bob, "private");
    jcheck_str(private, "from", "alice");
    jcheck_str(private, "to", "bob");
    jcheck_str(private, "text", "hi bob");
    jcheck_str(private, "id", "m1");  // the recipient drops one it has seen (a retry)
    int64_t ts = jint(private, "ts");
    CHECK(ts >= before - 1000 && ts <= harness_now_ms() + 1000, "ts %" PRId64, ts);

    // Without an id: no ack, still delivered.
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"again\"}");
    hclient_ping(alice);
    private = hclient_expect(bob, "private");
    jcheck_str(private, "text", "again");
    jcheck_absent(private, "id");

    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"hi alice\"}");
    private = hclient_expect(alice, "private");
    jcheck_str(private, "from", "bob");
    jcheck_str(private, "to", "alice");
    hclient_expect_nothing(bob, 100);
}

void
test_req_status_ok(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_send(alice,
                 "{\"type\":\"status\",\"status\":\"away\",\"note\":\"brb\",\"id\":\"st1\"}");
    jcheck_str(hclient_expect(alice, "ok"), "id", "st1");
    hclient_send(alice, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(alice, "users"), "users");
    s_check_user(cJSON_GetArrayItem(users, 0), "alice", "away", "brb");

    hclient_send(alice, "{\"type\":\"status\",\"status\":\"online\"}");
    jcheck_absent(hclient_expect(alice, "ok"), "id");
    hclient_send(alice, "{\"type\":\"users\"}");
    users = jarr(hclient_expect(alice, "users"), "users");
    s_check_user(cJSON_GetArrayItem(users, 0), "alice", "online", NULL);

    // An empty note is no note.
    hclient_send(alice, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"\"}");
    hclient_expect(alice, "ok");
    hclient_send(alice, "{\"type\":\"users\"}");
    users = jarr(hclient_expect(alice, "users"), "users");
    s_check_user(cJSON_GetArrayItem(users, 0), "alice", "away", NULL);
}

void
test_req_ping_pong(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    // ping is allowed before hello.
    hclient_t *alice = hclient_new(broker);
    hclient_send(alice, "{\"type\":\"ping\",\"id\":\"p0\"}");
    cJSON *pong = hclient_expect(alice, "pong");
    jcheck_str(pong, "id", "p0");
    cJSON *seqs = jget(pong, "seqs");
    CHECK(!seqs || (cJSON_IsObject(seqs) && !seqs->child),
          "pong before hello: seqs must be an empty object if present: %s",
          harness_json_text(pong));
    // It says whether the connection has a session, and which broker run answers.
    CHECK(!jbool(pong, "logged_in"), "logged in before hello: %s", harness_json_text(pong));
    char epoch[64];
    snprintf(epoch, sizeof epoch, "%s", jstr(pong, "epoch"));
    CHECK(*epoch, "empty epoch");

    hclient_sendf(alice, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    jcheck_str(hclient_expect(alice, "welcome"), "epoch", epoch);
    hclient_join(alice, "py");
    hclient_say(alice, "py", "one");
    hclient_say(alice, "py", "two");
    pong = hclient_ping(alice);
    jcheck_absent(pong, "id");
    CHECK(jbool(pong, "logged_in"), "not logged in after hello: %s", harness_json_text(pong));
    jcheck_str(pong, "epoch", epoch);
    seqs = jobj(pong, "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 2, "pong.seqs: expected lobby and py: %s",
          harness_json_text(pong));
    jcheck_int(seqs, "lobby", 1);
    jcheck_int(seqs, "py", 3);
}

void
test_req_quit_bye(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(alice, "py");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");

    hclient_send(alice, "{\"type\":\"quit\",\"reason\":\"gone fishing\",\"id\":\"q1\"}");
    jcheck_str(hclient_expect(alice, "bye"), "id", "q1");
    // A leave with reason quit and the note in each of her rooms, in any order.
    bool lobby = false, py = false;
    for (int i = 0; i < 2; i++) {
        cJSON *event = hclient_event(watcher, H_REPLY_MS);
        CHECK(event, "expected 2 presence leaves for alice, got %d", i);
        const char *room = jstr(event, "room");
        jcheck_str(event, "type", "presence");
        jcheck_str(event, "user", "alice");
        jcheck_str(event, "event", "leave");
        jcheck_str(event, "reason", "quit");
        jcheck_str(event, "note", "gone fishing");
        lobby |= streq(room, "lobby");
        py |= streq(room, "py");
    }
    CHECK(lobby && py, "leaves in lobby and py expected");

    // The session is over: the same connection is not logged in, and the name is free.
    hclient_send(alice, "{\"type\":\"rooms\",\"id\":\"r1\"}");
    hclient_expect_error_id(alice, "not_logged_in", "rooms", "r1");
    hclient_send(bob, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(bob, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 1, "alice still listed after quit");
    hclient_send(alice, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(alice, "welcome");
    hclient_expect_presence(watcher, "lobby", "alice", "join", NULL);

    // Without a reason: no note.
    hclient_send(alice, "{\"type\":\"quit\"}");
    jcheck_absent(hclient_expect(alice, "bye"), "id");
    cJSON *event = hclient_expect_presence(watcher, "lobby", "alice", "leave", "quit");
    jcheck_absent(event, "note");
}
