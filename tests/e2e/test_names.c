// test_names.c - e2e: user and room names (zchat-protocol(7) NAMES AND LIMITS): case-insensitive
// uniqueness, the display spelling, '#' stripping and lower-casing of rooms, non-ASCII rooms
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

void
test_names_case_insensitive(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "Alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");

    // Uniqueness ignores case; the display spelling is the one given at hello.
    hclient_t *other = hclient_new(broker);
    hclient_send(other, "{\"type\":\"hello\",\"user\":\"aLiCe\",\"proto\":1}");
    hclient_expect_error(other, "name_taken", "hello");

    // The recipient of a msg is matched case-insensitively; from/to use display spellings.
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"ALICE\",\"text\":\"hi\"}");
    cJSON *private = hclient_expect(alice, "private");
    jcheck_str(private, "from", "bob");
    jcheck_str(private, "to", "Alice");
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"BoB\",\"text\":\"hey\"}");
    private = hclient_expect(bob, "private");
    jcheck_str(private, "from", "Alice");
    jcheck_str(private, "to", "bob");

    // Events, members and users all show "Alice".
    cJSON *joined = hclient_join(alice, "py");
    jcheck_strings(joined, "members", "Alice", NULL);
    hclient_expect_presence(watcher, "py", "Alice", "join", NULL);
    hclient_say(alice, "py", "hello");
    hclient_expect_message(watcher, "py", "Alice", "hello");
    joined = hclient_join(bob, "py");
    jcheck_strings(joined, "members", "Alice", "bob", NULL);
    hclient_expect_presence(watcher, "py", "bob", "join", NULL);
    hclient_send(bob, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(bob, "users"), "users");
    jcheck_str(cJSON_GetArrayItem(users, 0), "name", "Alice");
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"py\"}");
    hclient_expect(alice, "left");
    hclient_expect_presence(watcher, "py", "Alice", "leave", "leave");
    hclient_send(alice, "{\"type\":\"status\",\"status\":\"away\"}");
    hclient_expect(alice, "ok");
    hclient_expect_presence(watcher, "lobby", "Alice", "status", NULL);
}

void
test_names_room_canonical(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/py/");

    // One leading '#' is stripped and the name lower-cased.
    cJSON *joined = hclient_join(alice, "#Py");
    jcheck_str(joined, "room", "py");
    jcheck_int(joined, "seq", 1);
    hclient_sync_feed(watcher, alice, "py");
    int64_t last = jint(jobj(hclient_ping(alice), "seqs"), "py");

    // Every spelling names the same room: joining again is no new membership.
    joined = hclient_join(alice, "PY");
    jcheck_str(joined, "room", "py");
    jcheck_int(joined, "seq", last);
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"#pY\",\"text\":\"one\",\"id\":\"s\"}");
    jcheck_int(hclient_expect(alice, "ack"), "seq", last + 1);
    hclient_expect_message(watcher, "py", "alice", "one");  // and no presence event before it

    hclient_send(alice, "{\"type\":\"history\",\"room\":\"#PY\",\"since\":1}");
    cJSON *history = hclient_expect(alice, "history");
    jcheck_str(history, "room", "py");
    hclient_send(alice, "{\"type\":\"users\",\"room\":\"Py\"}");
    jcheck_str(hclient_expect(alice, "users"), "room", "py");
    hclient_send(alice, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(alice, "rooms"), "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 2, "expected lobby and py only: %s",
          harness_json_text(rooms));
    jcheck_str(cJSON_GetArrayItem(rooms, 1), "name", "py");
    cJSON *seqs = jobj(hclient_ping(alice), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 2, "pong.seqs: %s", harness_json_text(seqs));
    jcheck_int(seqs, "py", last + 1);

    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"#PY\"}");
    jcheck_str(hclient_expect(alice, "left"), "room", "py");
    hclient_expect_presence(watcher, "py", "alice", "leave", "leave");
    jcheck_str(hclient_join(alice, "#LOBBY"), "room", "lobby");
}

void
test_names_room_non_ascii(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    static const char *const names[] = {
        "caf\xc3\xa9",      // café
        "#caf\xc3\xa9",     //
        "\\u00e9t\\u00e9",  // été, escaped
        "\xef\xbc\xb0y",    // fullwidth P
        "\xe2\x84\xaa",     // KELVIN SIGN, lower-cases to "k" in Unicode
        "\xc3\x89",         // É
        "stra\xc3\x9f"
        "e",           // straße
        "py\\u0130",   // dotted capital I
        "\xc2\xa0py",  // no-break space
        "#\xd0\xb0",   // Cyrillic a
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        hclient_sendf(alice, "{\"type\":\"join\",\"room\":\"%s\"}", names[i]);
        hclient_expect_error(alice, "invalid_name", "join");
        hclient_sendf(alice, "{\"type\":\"history\",\"room\":\"%s\"}", names[i]);
        hclient_expect_error(alice, "invalid_name", "history");
    }
    hclient_send(alice, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(alice, "rooms"), "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 1, "a non-ASCII name created a room: %s",
          harness_json_text(rooms));
}
