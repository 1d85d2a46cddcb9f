// test_feed.c - e2e: the PUB feed (zchat-protocol(7) SOCKETS AND FRAMES; ROOM EVENTS): topics,
// presence events, seq, and what never travels on it; joined, rooms, users and pong bookkeeping
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

void
test_feed_topic_isolation(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    hclient_join(alice, "python");
    hclient_join(alice, "p");
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/py/");
    hclient_sync_feed(watcher, alice, "py");

    hclient_say(alice, "python", "snake");
    hclient_say(alice, "p", "letter");
    hclient_say(alice, "lobby", "hall");
    hclient_say(alice, "py", "marker");
    hclient_expect_message(watcher, "py", "alice", "marker");
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"python\"}");
    hclient_expect(alice, "left");
    hclient_say(alice, "py", "marker 2");
    hclient_expect_message(watcher, "py", "alice", "marker 2");

    // A subscription to room/ receives every room.
    hclient_t *all = hclient_new(broker);
    hclient_subscribe(all, "room/");
    hclient_sync_feed(all, alice, "lobby");
    hclient_say(alice, "p", "to p");
    hclient_expect_message(all, "p", "alice", "to p");
    hclient_say(alice, "py", "to py");
    hclient_expect_message(all, "py", "alice", "to py");
}

void
test_feed_private_not_on_pub(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    // One SUB on everything the PUB sends, one on room/.
    hclient_t *everything = hclient_new(broker);
    hclient_subscribe(everything, "");
    hclient_sync_feed(everything, alice, "lobby");
    hclient_t *rooms = hclient_watcher(broker, "room/", alice, "lobby");
    // The first SUB saw the second one's sync traffic: skip it.
    int64_t synced = jint(jobj(hclient_ping(alice), "seqs"), "lobby");
    while (jint(hclient_expect_event(everything, "lobby", "message"), "seq") < synced)
        ;

    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"secret\",\"id\":\"m1\"}");
    hclient_expect(alice, "ack");
    cJSON *private = hclient_expect(bob, "private");
    jcheck_str(private, "text", "secret");
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"secret too\"}");
    hclient_expect(alice, "private");

    // The feed is ordered: had the msgs been published, they would come before the marker.
    hclient_say(alice, "lobby", "marker");
    hclient_expect_message(everything, "lobby", "alice", "marker");
    hclient_expect_message(rooms, "lobby", "alice", "marker");
    hclient_expect_no_event(everything, 100);
}

void
test_feed_presence_events(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *watcher = hclient_watcher(broker, "room/", alice, "lobby");
    int64_t lobby = jint(jobj(hclient_ping(alice), "seqs"), "lobby");

    // hello: a join in lobby
    hclient_t *bob = hclient_login(broker, "bob");
    cJSON *event = hclient_expect_presence(watcher, "lobby", "bob", "join", NULL);
    jcheck_int(event, "seq", ++lobby);
    jcheck_absent(event, "reason");
    // join
    hclient_join(bob, "py");
    event = hclient_expect_presence(watcher, "py", "bob", "join", NULL);
    jcheck_int(event, "seq", 1);
    // status with a note: one event in each of bob's rooms
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"lunch\"}");
    hclient_expect(bob, "ok");
    bool in_lobby = false, in_py = false;
    for (int i = 0; i < 2; i++) {
        event = hclient_event(watcher, H_REPLY_MS);
        CHECK(event, "expected 2 status events, got %d", i);
        jcheck_str(event, "type", "presence");
        const char *room = jstr(event, "room");
        jcheck_str(event, "user", "bob");
        jcheck_str(event, "event", "status");
        jcheck_str(event, "status", "away");
        jcheck_str(event, "note", "lunch");
        if (streq(room, "lobby")) {
            in_lobby = true;
            jcheck_int(event, "seq", ++lobby);
        } else {
            in_py = true;
            jcheck_int(event, "seq", 2);
        }
    }
    CHECK(in_lobby && in_py, "a status event in lobby and in py expected");
    // status without a note: no note field
    hclient_send(bob, "{\"type\":\"leave\",\"room\":\"py\"}");
    hclient_expect(bob, "left");
    event = hclient_expect_presence(watcher, "py", "bob", "leave", "leave");
    jcheck_int(event, "seq", 3);
    jcheck_absent(event, "note");
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"online\"}");
    hclient_expect(bob, "ok");
    event = hclient_expect_presence(watcher, "lobby", "bob", "status", NULL);
    jcheck_str(event, "status", "online");
    jcheck_absent(event, "note");
    jcheck_int(event, "seq", ++lobby);
    // quit with a reason: a leave with reason quit and the note
    hclient_send(bob, "{\"type\":\"quit\",\"reason\":\"bye all\"}");
    hclient_expect(bob, "bye");
    event = hclient_expect_presence(watcher, "lobby", "bob", "leave", "quit");
    jcheck_str(event, "note", "bye all");
    jcheck_int(event, "seq", ++lobby);
    hclient_expect_no_event(watcher, 100);
}

void
test_feed_seq(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/fresh/");
    hclient_subscribe(watcher, "room/lobby/");
    int64_t lobby = hclient_sync_feed(watcher, alice, "lobby");

    // A new room starts at 1 and every room event adds exactly 1.
    cJSON *joined = hclient_join(alice, "fresh");
    jcheck_int(joined, "seq", 1);
    jcheck_int(hclient_expect_presence(watcher, "fresh", "alice", "join", NULL), "seq", 1);
    CHECK(hclient_say(alice, "fresh", "a") == 2, "second event of fresh is not seq 2");
    jcheck_int(hclient_expect_message(watcher, "fresh", "alice", "a"), "seq", 2);
    jcheck_int(hclient_join(bob, "fresh"), "seq", 3);
    jcheck_int(hclient_expect_presence(watcher, "fresh", "bob", "join", NULL), "seq", 3);
    // Events of other rooms do not touch this room's seq.
    CHECK(hclient_say(alice, "lobby", "elsewhere") == lobby + 1, "lobby seq");
    jcheck_int(hclient_expect_message(watcher, "lobby", "alice", "elsewhere"), "seq", lobby + 1);
    // One session's says get increasing seqs in the order sent.
    for (int i = 0; i < 5; i++)
        hclient_sendf(bob, "{\"type\":\"say\",\"room\":\"fresh\",\"text\":\"n%d\",\"id\":\"%d\"}",
                      i, i);
    for (int i = 0; i < 5; i++) {
        cJSON *ack = hclient_expect(bob, "ack");
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        jcheck_str(ack, "id", id);
        jcheck_int(ack, "seq", 4 + i);
        char text[16];
        snprintf(text, sizeof text, "n%d", i);
        jcheck_int(hclient_expect_message(watcher, "fresh", "bob", text), "seq", 4 + i);
    }
    hclient_send(bob, "{\"type\":\"leave\",\"room\":\"fresh\"}");
    hclient_expect(bob, "left");
    jcheck_int(hclient_expect_presence(watcher, "fresh", "bob", "leave", "leave"), "seq", 9);
}

void
test_feed_joined_seq_members(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *alice = hclient_login(broker, "Alice");
    hclient_t *carol = hclient_login(broker, "carol");
    hclient_t *dave = hclient_login(broker, "Dave");
    cJSON *joined = hclient_join(bob, "team");
    jcheck_int(joined, "seq", 1);
    jcheck_strings(joined, "members", "bob", NULL);
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/team/");
    hclient_sync_feed(watcher, bob, "team");

    // joined.seq is the seq of this join's presence event; members sorted by lower-cased name.
    joined = hclient_join(dave, "team");
    jcheck_int(hclient_expect_presence(watcher, "team", "Dave", "join", NULL), "seq",
               jint(joined, "seq"));
    jcheck_strings(joined, "members", "bob", "Dave", NULL);
    joined = hclient_join(alice, "team");
    jcheck_int(hclient_expect_presence(watcher, "team", "Alice", "join", NULL), "seq",
               jint(joined, "seq"));
    jcheck_strings(joined, "members", "Alice", "bob", "Dave", NULL);
    joined = hclient_join(carol, "team");
    int64_t last = jint(joined, "seq");
    jcheck_int(hclient_expect_presence(watcher, "team", "carol", "join", NULL), "seq", last);
    jcheck_strings(joined, "members", "Alice", "bob", "carol", "Dave", NULL);

    // Already a member: joined again with the room's last seq, and no event.
    joined = hclient_join(alice, "team");
    jcheck_int(joined, "seq", last);
    jcheck_strings(joined, "members", "Alice", "bob", "carol", "Dave", NULL);
    hclient_say(bob, "team", "marker");
    jcheck_int(hclient_expect_message(watcher, "team", "bob", "marker"), "seq", last + 1);
    joined = hclient_join(dave, "#TEAM");
    jcheck_int(joined, "seq", last + 1);
}

void
test_feed_pong_seqs(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    cJSON *seqs = jobj(hclient_ping(alice), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 1, "pong.seqs: %s", harness_json_text(seqs));
    jcheck_int(seqs, "lobby", 2);
    hclient_join(alice, "py");
    hclient_join(bob, "py");
    hclient_say(bob, "py", "x");
    hclient_join(bob, "other");
    // Others' events count; rooms alice is not in do not appear.
    seqs = jobj(hclient_ping(alice), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 2, "pong.seqs: %s", harness_json_text(seqs));
    jcheck_int(seqs, "lobby", 2);
    jcheck_int(seqs, "py", 3);
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"lobby\"}");
    hclient_expect(alice, "left");
    seqs = jobj(hclient_ping(alice), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 1, "pong.seqs after leaving lobby: %s",
          harness_json_text(seqs));
    jcheck_int(seqs, "py", 3);
    // An observer's pong has an empty seqs.
    hclient_t *observer = hclient_observer(broker, NULL);
    seqs = jobj(hclient_ping(observer), "seqs");
    CHECK(!seqs->child, "observer pong.seqs not empty: %s", harness_json_text(seqs));
}

void
test_feed_rooms_users_sorted(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    // Byte order would be Alice, Carol, bob, dave; the protocol wants lower-cased order.
    hclient_t *dave = hclient_login(broker, "dave");
    hclient_t *carol = hclient_login(broker, "Carol");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *alice = hclient_login(broker, "Alice");
    hclient_join(dave, "zeta");
    hclient_join(carol, "alpha");
    hclient_join(bob, "mid");
    hclient_join(alice, "alpha");
    hclient_join(dave, "alpha");
    hclient_join(bob, "alpha");

    hclient_send(alice, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(alice, "users"), "users");
    const char *expected[] = {"Alice", "bob", "Carol", "dave"};
    CHECK(cJSON_GetArraySize(users) == 4, "users: %s", harness_json_text(users));
    for (int i = 0; i < 4; i++)
        jcheck_str(cJSON_GetArrayItem(users, i), "name", expected[i]);
    hclient_send(alice, "{\"type\":\"users\",\"room\":\"alpha\"}");
    users = jarr(hclient_expect(alice, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 4, "users of alpha: %s", harness_json_text(users));
    for (int i = 0; i < 4; i++)
        jcheck_str(cJSON_GetArrayItem(users, i), "name", expected[i]);

    hclient_send(alice, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(alice, "rooms"), "rooms");
    const char *names[] = {"alpha", "lobby", "mid", "zeta"};
    const int members[] = {4, 4, 1, 1};
    CHECK(cJSON_GetArraySize(rooms) == 4, "rooms: %s", harness_json_text(rooms));
    for (int i = 0; i < 4; i++) {
        jcheck_str(cJSON_GetArrayItem(rooms, i), "name", names[i]);
        jcheck_int(cJSON_GetArrayItem(rooms, i), "members", members[i]);
    }
    cJSON *joined = hclient_join(carol, "alpha");
    jcheck_strings(joined, "members", "Alice", "bob", "Carol", "dave", NULL);
}
