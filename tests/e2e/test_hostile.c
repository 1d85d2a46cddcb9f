// test_hostile.c - e2e: hostile input: NUL in names, deep nesting, the frame size limit, abrupt
// disconnects, floods. After each, the broker serves a good client.
// (zchat-protocol(7) SOCKETS AND FRAMES; NAMES AND LIMITS; SLOW CONSUMERS)
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

#include <strings.h>

#define S_NEST 10000  // brackets in the deep-nesting cases

// A well-behaved client can still log in, say, and get its ack.
static void
s_still_serving(hbroker_t *broker, const char *user)
{
    hclient_t *client = hclient_login(broker, user);
    hclient_say(client, "lobby", "still here");
    hclient_ping(client);
}

void
test_hostile_nul_in_name(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");
    hclient_t *client = hclient_new(broker);
    // An escaped NUL must not cut the name short: "alice\u0000x" is not "alice".
    const char *users[] = {"alice\\u0000x", "alice\\u0000", "\\u0000alice", "bob\\u0000"};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        hclient_sendf(client, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", users[i]);
        hclient_expect_error(client, "invalid_name", "hello");
    }
    hclient_say(bob, "lobby", "marker");
    hclient_expect_message(watcher, "lobby", "bob", "marker");  // no join of "alice"
    hclient_t *alice = hclient_login(broker, "alice");          // the prefix is free

    hclient_send(bob, "{\"type\":\"join\",\"room\":\"py\\u0000x\"}");
    hclient_expect_error(bob, "invalid_name", "join");
    hclient_send(bob, "{\"type\":\"join\",\"room\":\"#lobby\\u0000\"}");
    hclient_expect_error(bob, "invalid_name", "join");
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\\u0000x\",\"text\":\"hi\"}");
    hclient_expect_error(bob, "no_such_user", "msg");
    hclient_send(bob, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"a\\u0000b\"}");
    hclient_expect_error(bob, "bad_text", "say");
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"x\\u0000\"}");
    hclient_expect_error(bob, "bad_text", "status");
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"away\\u0000\"}");
    hclient_expect_error(bob, "bad_request", "status");
    hclient_expect_nothing(alice, 50);
    s_still_serving(broker, "carol");
}

// RFC 8259 lets a parser limit nesting: a deeply nested unknown field may be refused as
// bad_json or ignored (pong), but must get exactly one of those.
static void
s_expect_pong_or_bad_json(hclient_t *client)
{
    cJSON *reply = hclient_recv(client, H_REPLY_MS);
    CHECK(reply, "no reply to a deeply nested object");
    const cJSON *code = jget(reply, "code");
    CHECK(streq(jstr(reply, "type"), "pong") ||
              (cJSON_IsString(code) && streq(code->valuestring, "bad_json")),
          "expected pong or bad_json: %s", harness_json_text(reply));
}

void
test_hostile_deep_nesting(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    static char frame[6 * S_NEST + 64];

    // 10000 '[' unclosed, then closed: not an object either way.
    memset(frame, '[', S_NEST);
    hclient_send_raw(client, frame, S_NEST);
    hclient_expect_error(client, "bad_json", NULL);
    memset(frame + S_NEST, ']', S_NEST);
    hclient_send_raw(client, frame, 2 * S_NEST);
    hclient_expect_error(client, "bad_json", NULL);
    memset(frame, '{', S_NEST);
    hclient_send_raw(client, frame, S_NEST);
    hclient_expect_error(client, "bad_json", NULL);

    // Deep inside an object: a parser may refuse it (bad_json) or ignore the unknown field.
    size_t size = (size_t)snprintf(frame, sizeof frame, "{\"type\":\"ping\",\"x\":");
    memset(frame + size, '[', S_NEST);
    memset(frame + size + S_NEST, ']', S_NEST);
    size += 2 * S_NEST;
    frame[size++] = '}';
    hclient_send_raw(client, frame, size);
    s_expect_pong_or_bad_json(client);
    size = (size_t)snprintf(frame, sizeof frame, "{\"type\":\"ping\",\"x\":");
    for (int i = 0; i < S_NEST; i++) {
        memcpy(frame + size, "{\"a\":", 5);
        size += 5;
    }
    frame[size++] = '1';
    memset(frame + size, '}', S_NEST + 1);
    size += S_NEST + 1;
    hclient_send_raw(client, frame, size);
    s_expect_pong_or_bad_json(client);
    hclient_ping(client);
    s_still_serving(broker, "alice");
}

// Fill buf with {"type":T,...,"pad":"xxx"} of exactly size bytes; returns buf.
static char *
s_padded(char *buf, size_t size, const char *head)
{
    size_t used = (size_t)snprintf(buf, size + 1, "%s,\"pad\":\"", head);
    assert(used + 2 <= size);
    memset(buf + used, 'x', size - used - 2);
    buf[size - 2] = '"';
    buf[size - 1] = '}';
    return buf;
}

void
test_hostile_frame_limit(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    static char frame[ZCHAT_FRAME_MAX + 2];

    // 65536 bytes exactly: processed.
    hclient_t *client = hclient_new(broker);
    s_padded(frame, ZCHAT_FRAME_MAX, "{\"type\":\"ping\",\"id\":\"big\"");
    hclient_send_raw(client, frame, ZCHAT_FRAME_MAX);
    jcheck_str(hclient_expect(client, "pong"), "id", "big");
    hclient_t *alice = hclient_login(broker, "alice");
    s_padded(frame, ZCHAT_FRAME_MAX,
             "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"just fits\",\"id\":\"s1\"");
    hclient_send_raw(alice, frame, ZCHAT_FRAME_MAX);
    jcheck_str(hclient_expect(alice, "ack"), "id", "s1");

    // 65537 bytes: never processed, that connection is dropped.
    hclient_t *mallory = hclient_login(broker, "mallory");
    s_padded(frame, ZCHAT_FRAME_MAX + 1,
             "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"too big\",\"id\":\"s2\"");
    hclient_send_raw(mallory, frame, ZCHAT_FRAME_MAX + 1);
    hclient_expect_nothing(mallory, 300);
    hclient_t *other = hclient_new(broker);
    s_padded(frame, ZCHAT_FRAME_MAX + 1, "{\"type\":\"ping\",\"id\":\"big\"");
    hclient_send_raw(other, frame, ZCHAT_FRAME_MAX + 1);
    hclient_expect_nothing(other, 300);

    // The broker is fine, and the big say was not delivered.
    hclient_ping(alice);
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"lobby\"}");
    cJSON *events = jarr(hclient_expect(alice, "history"), "events");
    cJSON *event;
    cJSON_ArrayForEach(event, events)
    {
        const cJSON *text = jget(event, "text");
        CHECK(!text || !streq(text->valuestring, "too big"), "a 65537-byte say was delivered");
    }
    s_still_serving(broker, "bob");
}

void
test_hostile_disconnect(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", "200", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");

    // Sockets destroyed mid-session, with requests in flight, and before any reply is read.
    for (int i = 0; i < 3; i++)
        hclient_sendf(alice, "{\"type\":\"say\",\"room\":\"py\",\"text\":\"bye %d\"}", i);
    hclient_close(alice);
    for (int i = 0; i < 10; i++) {
        hclient_t *ghost = hclient_new(broker);
        hclient_sendf(ghost, "{\"type\":\"hello\",\"user\":\"ghost%d\",\"proto\":1}", i);
        hclient_send(ghost, "{\"type\":\"join\",\"room\":\"py\"}");
        hclient_send(ghost, "{\"type\":\"history\",\"room\":\"py\"}");
        hclient_close(ghost);
    }
    // A msg to alice now is delivered to nobody or refused; either way bob gets an answer.
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"there?\",\"id\":\"m\"}");
    cJSON *reply = hclient_recv(bob, H_REPLY_MS);
    CHECK(reply, "no answer to a msg to a vanished user");
    CHECK(streq(jstr(reply, "type"), "ack") || streq(jstr(reply, "code"), "no_such_user"),
          "msg to a vanished user: %s", harness_json_text(reply));

    // Every vanished session expires; alice's leaves say timeout.
    int64_t deadline = zclock_mono() + 4 * 200 + 3000;
    int alice_leaves = 0;
    while (alice_leaves < 2) {
        CHECK(zclock_mono() < deadline, "alice's sessions did not time out");
        hclient_ping(bob);
        cJSON *event = hclient_event(watcher, 100);
        if (event && streq(jstr(event, "type"), "presence") &&
            streq(jstr(event, "user"), "alice")) {
            jcheck_str(event, "event", "leave");
            jcheck_str(event, "reason", "timeout");
            alice_leaves++;
        }
    }
    while (true) {
        hclient_send(bob, "{\"type\":\"users\"}");
        cJSON *users = jarr(hclient_expect(bob, "users"), "users");
        if (cJSON_GetArraySize(users) == 1)
            break;
        CHECK(zclock_mono() < deadline, "vanished users still listed: %s",
              harness_json_text(users));
        hclient_expect_nothing(bob, 100);
    }
    s_still_serving(broker, "alice");
}

void
test_hostile_vanished_peer(void)
{
    // zchat-protocol(7) SOCKETS AND FRAMES: ROUTER_MANDATORY; a msg to a user whose connection is
    // gone cannot be delivered now, so it is no_such_user (long before the session expires).
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_close(alice);
    int64_t start = zclock_mono();
    for (int i = 0;; i++) {
        CHECK(zclock_mono() - start < 3000,
              "msgs to a closed connection still acknowledged after 3 s (%d acks)", i);
        char id[16];
        snprintf(id, sizeof id, "v%d", i);  // a new id each time: a repeated one is not resent
        hclient_sendf(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"hello?\",\"id\":\"%s\"}",
                      id);
        cJSON *reply = hclient_recv(bob, H_REPLY_MS);
        CHECK(reply, "no reply to msg %d", i);
        jcheck_str(reply, "id", id);
        if (streq(jstr(reply, "type"), "error")) {
            jcheck_str(reply, "code", "no_such_user");
            harness_note("no_such_user after %d acks, %" PRId64 " ms", i, zclock_mono() - start);
            break;
        }
        jcheck_str(reply, "type", "ack");  // before the broker noticed the disconnect
        hclient_expect_nothing(bob, 20);
    }
    s_still_serving(broker, "carol");
}

void
test_load_sessions(void)
{
    // Many sessions at once: every event once and in order, sorted lists, a clean stop.
    enum { SESSIONS = 50 };
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *first = hclient_login(broker, "u00");
    hclient_join(first, "crowd");
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/crowd/");
    int64_t seq = hclient_sync_feed(watcher, first, "crowd");
    hclient_t *clients[SESSIONS] = {first};
    char name[16];
    for (int i = 1; i < SESSIONS; i++) {
        // Descending, mixed-case names: the broker must sort them.
        snprintf(name, sizeof name, "%c%02d", i % 2 ? 'U' : 'u', SESSIONS - i);
        clients[i] = hclient_login(broker, name);
        hclient_join(clients[i], "crowd");
        jcheck_int(hclient_expect_presence(watcher, "crowd", name, "join", NULL), "seq", ++seq);
    }
    for (int i = 0; i < SESSIONS; i++)
        hclient_sendf(clients[i], "{\"type\":\"say\",\"room\":\"crowd\",\"text\":\"m%d\"}", i);
    bool seen[SESSIONS] = {false};
    for (int i = 0; i < SESSIONS; i++) {
        cJSON *event = hclient_expect_event(watcher, "crowd", "message");
        jcheck_int(event, "seq", ++seq);
        int n = atoi(jstr(event, "text") + 1);
        CHECK(n >= 0 && n < SESSIONS && !seen[n], "message %s twice or unknown",
              jstr(event, "text"));
        seen[n] = true;
    }
    hclient_send(first, "{\"type\":\"users\",\"room\":\"crowd\"}");
    cJSON *users = jarr(hclient_expect(first, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == SESSIONS, "%d users", cJSON_GetArraySize(users));
    for (int i = 0; i < SESSIONS; i++) {
        snprintf(name, sizeof name, "u%02d", i);
        CHECK(strcasecmp(jstr(cJSON_GetArrayItem(users, i), "name"), name) == 0,
              "users[%d] is %s, expected %s (sorted by lower-cased name)", i,
              jstr(cJSON_GetArrayItem(users, i), "name"), name);
    }
}

void
test_hostile_flood(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    // A client that floods and never reads its replies, mixing garbage and requests.
    hclient_t *flooder = hclient_new(broker);
    hclient_t *spammer = hclient_login(broker, "spammer");
    const char *frames[] = {"garbage",
                            "{\"type\":\"ping\"}",
                            "{}",
                            "{\"type\":\"rooms\"}",
                            "{\"type\":\"hello\",\"user\":\"x\",\"proto\":2}",
                            ""};
    int64_t deadline = zclock_mono() + 3000;
    int sent = 0;
    for (int i = 0; i < 5000 && zclock_mono() < deadline; i++) {
        const char *frame = frames[i % 6];
        if (hclient_try_send(flooder, frame, strlen(frame)))
            sent++;
        char say[96];
        snprintf(say, sizeof say, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"spam %d\"}", i);
        hclient_try_send(spammer, say, strlen(say));
        if (i % 1000 == 0)
            hclient_ping(alice);  // answered promptly in the middle of the flood
    }
    harness_note("flooder queued %d frames", sent);
    hclient_say(alice, "lobby", "through the flood");
    hclient_close(flooder);
    hclient_close(spammer);
    hclient_ping(alice);
    s_still_serving(broker, "bob");
}
