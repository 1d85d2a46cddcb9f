// test_errors.c - e2e: every error code of zchat-protocol(7) ERRORS reachable without accounts, the
// id echo, the request field, and the order in which faults are reported
// (zchat-protocol(7) CHECK ORDER)
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

// One request and the error it must get.
typedef struct {
    const char *json;     // sent as one frame
    const char *code;     // expected error code
    const char *request;  // expected "request" field; NULL: must be absent
    const char *id;       // expected "id"; NULL: must be absent
} s_case_t;

#define S_COUNT(array) (sizeof(array) / sizeof((array)[0]))

// Send every case and check its error, then check the connection still gets a pong.
static void
s_run_cases(const char *file, int line, hclient_t *client, const s_case_t *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        harness_note("case %zu: %s", i, cases[i].json);
        hclient_send(client, cases[i].json);
        hclient_expect_error_at(file, line, client, cases[i].code, cases[i].request, cases[i].id);
    }
    hclient_ping_at(file, line, client);
}
#define S_RUN_CASES(client, cases) s_run_cases(__FILE__, __LINE__, client, cases, S_COUNT(cases))

// The number of events in the room's history.
static int
s_history_size(hclient_t *client, const char *room)
{
    hclient_sendf(client, "{\"type\":\"history\",\"room\":\"%s\"}", room);
    cJSON *history = hclient_expect(client, "history");
    return cJSON_GetArraySize(jarr(history, "events"));
}

void
test_err_bad_frame(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    const char *ping = "{\"type\":\"ping\"}";
    hclient_send_frames(client, 2, (const char *const[]){ping, ping});
    hclient_expect_error(client, "bad_frame", NULL);
    hclient_send_frames(client, 3, (const char *const[]){ping, ping, ping});
    hclient_expect_error(client, "bad_frame", NULL);
    // The frame fault comes before the JSON one.
    hclient_send_frames(client, 2, (const char *const[]){"garbage", "{"});
    hclient_expect_error(client, "bad_frame", NULL);
    hclient_send_frames(client, 2, (const char *const[]){"", ping});
    hclient_expect_error(client, "bad_frame", NULL);
    hclient_ping(client);

    // Logged in: a say split over two frames has no effect.
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(client, "welcome");
    const char *say = "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"hi\",\"id\":\"x\"}";
    hclient_send_frames(client, 2, (const char *const[]){say, say});
    hclient_expect_error(client, "bad_frame", NULL);
    CHECK(s_history_size(client, "lobby") == 1, "a two-frame say was delivered");
}

void
test_err_bad_json(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    static const s_case_t cases[] = {
        {"", "bad_json", NULL, NULL},
        {"   ", "bad_json", NULL, NULL},
        {"{", "bad_json", NULL, NULL},
        {"not json", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\"} x", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\"}{}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\"} // comment", "bad_json", NULL, NULL},
        {"/* comment */ {\"type\":\"ping\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":NaN}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":Infinity}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":-Infinity}", "bad_json", NULL, NULL},
        {"{'type':'ping'}", "bad_json", NULL, NULL},
        {"{\"type\":'ping'}", "bad_json", NULL, NULL},
        {"{type:\"ping\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":[1,2,]}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":01}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":.5}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":+1}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":0x10}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"\\x\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"\\u12\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"a\tb\"}", "bad_json", NULL, NULL},  // raw control
        {"{\"type\":\"ping\",\"x\":\"a\nb\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":tru}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"type\":\"ping\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":1,\"x\":1}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":{\"a\":1,\"a\":2}}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"id\":\"a\",\"id\":\"b\"}", "bad_json", NULL, NULL},
        {"[]", "bad_json", NULL, NULL},
        {"[{\"type\":\"ping\"}]", "bad_json", NULL, NULL},
        {"\"ping\"", "bad_json", NULL, NULL},
        {"1", "bad_json", NULL, NULL},
        {"null", "bad_json", NULL, NULL},
        {"true", "bad_json", NULL, NULL},
        // invalid UTF-8: a stray byte, overlong, a surrogate, truncated, past U+10FFFF
        {"{\"type\":\"ping\",\"x\":\"\xff\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"\xc0\xaf\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"\xed\xa0\x80\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"\xe2\x82\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"x\":\"\xf4\x90\x80\x80\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\",\"\x80\":1}", "bad_json", NULL, NULL},
        {"{\"type\":\"ping\"}\xff", "bad_json", NULL, NULL},
        // duplicates are found after escapes are decoded
        {"{\"type\":\"ping\",\"t\\u0079pe\":\"ping\"}", "bad_json", NULL, NULL},
        // JSON comes before type, login and fields
        {"{\"type\":\"nope\",\"id\":\"j1\",}", "bad_json", NULL, NULL},
        {"{\"type\":\"join\",\"room\":\"py\",\"id\":\"j2\"", "bad_json", NULL, NULL},
    };
    S_RUN_CASES(client, cases);

    // A NUL byte after the object is trailing garbage too.
    static const char nul[] = "{\"type\":\"ping\"}\0";
    hclient_send_raw(client, nul, sizeof nul - 1);
    hclient_expect_error(client, "bad_json", NULL);

    // Escapes are decoded: these are a ping.
    hclient_send(client, "{\"t\\u0079pe\":\"p\\u0069ng\",\"id\":\"\\u0065\"}");
    jcheck_str(hclient_expect(client, "pong"), "id", "e");

    // Whitespace around the object is fine.
    hclient_send(client, " \t\r\n{\"type\":\"ping\",\"id\":\"ws\"} \r\n\t");
    jcheck_str(hclient_expect(client, "pong"), "id", "ws");

    // The same when logged in; the session survives.
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(client, "welcome");
    static const s_case_t logged_in[] = {
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"x\",}", "bad_json", NULL, NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"\xfe\"}", "bad_json", NULL, NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"a\",\"text\":\"b\"}", "bad_json", NULL,
         NULL},
    };
    S_RUN_CASES(client, logged_in);
    CHECK(s_history_size(client, "lobby") == 1, "a malformed say was delivered");
}

void
test_err_bad_request(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    static const s_case_t before_hello[] = {
        {"{}", "bad_request", NULL, NULL},
        {"{\"type\":1}", "bad_request", NULL, NULL},
        {"{\"type\":null}", "bad_request", NULL, NULL},
        {"{\"type\":[\"ping\"]}", "bad_request", NULL, NULL},
        {"{\"type\":{\"ping\":1}}", "bad_request", NULL, NULL},
        {"{\"user\":\"alice\",\"proto\":1}", "bad_request", NULL, NULL},
        {"{\"type\":\"hello\",\"proto\":1}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\"}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":5,\"proto\":1}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":null,\"proto\":1}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":\"1\"}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1.0}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1e0}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1.5}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":null}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":true}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"password\":5}", "bad_request",
         "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"password\":null}", "bad_request",
         "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":5}", "bad_request", "hello",
         NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"client\":[]}", "bad_request",
         "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"observer\":\"yes\"}", "bad_request",
         "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"observer\":1}", "bad_request",
         "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"observer\":null}", "bad_request",
         "hello", NULL},
        {"{\"type\":\"hello\",\"proto\":1,\"observer\":false}", "bad_request", "hello", NULL},
        {"{\"type\":\"hello\",\"proto\":1,\"observer\":true,\"user\":7}", "bad_request", "hello",
         NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"id\":5}", "bad_request", "hello",
         NULL},
        {"{\"type\":\"ping\",\"id\":5}", "bad_request", "ping", NULL},
        {"{\"type\":\"ping\",\"id\":\"\"}", "bad_request", "ping", NULL},
        {"{\"type\":\"ping\",\"id\":null}", "bad_request", "ping", NULL},
    };
    S_RUN_CASES(client, before_hello);

    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(client, "welcome");
    hclient_t *bob = hclient_login(broker, "bob");
    (void)bob;
    static const s_case_t logged_in[] = {
        {"{\"type\":\"join\"}", "bad_request", "join", NULL},
        {"{\"type\":\"join\",\"room\":5}", "bad_request", "join", NULL},
        {"{\"type\":\"join\",\"room\":null}", "bad_request", "join", NULL},
        {"{\"type\":\"join\",\"room\":[\"py\"]}", "bad_request", "join", NULL},
        {"{\"type\":\"leave\"}", "bad_request", "leave", NULL},
        {"{\"type\":\"leave\",\"room\":false}", "bad_request", "leave", NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\"}", "bad_request", "say", NULL},
        {"{\"type\":\"say\",\"text\":\"x\"}", "bad_request", "say", NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":5}", "bad_request", "say", NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":null}", "bad_request", "say", NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"x\",\"id\":5}", "bad_request", "say",
         NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"x\",\"id\":null}", "bad_request", "say",
         NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"x\",\"id\":\"\"}", "bad_request", "say",
         NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"x\",\"id\":"
         "\"12345678901234567890123456789012345678901234567890123456789012345\"}",
         "bad_request", "say", NULL},
        {"{\"type\":\"msg\",\"text\":\"x\"}", "bad_request", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":\"bob\"}", "bad_request", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":5,\"text\":\"x\"}", "bad_request", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":\"bob\",\"text\":{}}", "bad_request", "msg", NULL},
        {"{\"type\":\"users\",\"room\":5}", "bad_request", "users", NULL},
        {"{\"type\":\"users\",\"room\":null}", "bad_request", "users", NULL},
        {"{\"type\":\"history\"}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":1}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"since\":\"0\"}", "bad_request", "history",
         NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"since\":1.0}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"since\":null}", "bad_request", "history",
         NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"since\":-1}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":0}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":-5}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":1.5}", "bad_request", "history", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":10.0}", "bad_request", "history",
         NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":\"10\"}", "bad_request", "history",
         NULL},
        {"{\"type\":\"status\"}", "bad_request", "status", NULL},
        {"{\"type\":\"status\",\"status\":\"busy\"}", "bad_request", "status", NULL},
        {"{\"type\":\"status\",\"status\":\"Away\"}", "bad_request", "status", NULL},
        {"{\"type\":\"status\",\"status\":5}", "bad_request", "status", NULL},
        {"{\"type\":\"status\",\"status\":\"away\",\"note\":5}", "bad_request", "status", NULL},
        {"{\"type\":\"status\",\"status\":\"away\",\"note\":null}", "bad_request", "status", NULL},
        {"{\"type\":\"quit\",\"reason\":5}", "bad_request", "quit", NULL},
        {"{\"type\":\"quit\",\"reason\":null}", "bad_request", "quit", NULL},
        {"{\"type\":\"rooms\",\"id\":[]}", "bad_request", "rooms", NULL},
    };
    S_RUN_CASES(client, logged_in);

    // After all that, the session is as it was: logged in, only in lobby, status online, and
    // nothing was said (the lobby has the two joins only).
    cJSON *seqs = jobj(hclient_ping(client), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == 1, "rooms changed: %s", harness_json_text(seqs));
    jcheck_int(seqs, "lobby", 2);
    hclient_send(client, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(client, "users"), "users");
    jcheck_str(cJSON_GetArrayItem(users, 0), "status", "online");
    hclient_expect_nothing(bob, 50);
}

void
test_err_unknown_type(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    static const s_case_t cases[] = {
        {"{\"type\":\"PING\"}", "unknown_type", NULL, NULL},
        {"{\"type\":\"Hello\",\"user\":\"alice\",\"proto\":1}", "unknown_type", NULL, NULL},
        {"{\"type\":\"frobnicate\",\"id\":\"u1\"}", "unknown_type", NULL, "u1"},
        {"{\"type\":\"\"}", "unknown_type", NULL, NULL},
        {"{\"type\":\"ping \"}", "unknown_type", NULL, NULL},
        {"{\"type\":\"error\"}", "unknown_type", NULL, NULL},
        {"{\"type\":\"welcome\"}", "unknown_type", NULL, NULL},
    };
    S_RUN_CASES(client, cases);
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(client, "welcome");
    S_RUN_CASES(client, cases);
}

void
test_err_proto_mismatch(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *client = hclient_new(broker);
    static const s_case_t cases[] = {
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":2,\"id\":\"v2\"}", "proto_mismatch",
         "hello", "v2"},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":0}", "proto_mismatch", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":-1}", "proto_mismatch", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1000000}", "proto_mismatch", "hello",
         NULL},
    };
    S_RUN_CASES(client, cases);
    // A failed hello left nothing behind: the same connection logs in normally.
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(client, "welcome");
}

void
test_err_not_logged_in(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(bob, "py");
    hclient_t *client = hclient_new(broker);
    static const s_case_t cases[] = {
        {"{\"type\":\"join\",\"room\":\"py\",\"id\":\"n1\"}", "not_logged_in", "join", "n1"},
        {"{\"type\":\"leave\",\"room\":\"lobby\",\"id\":\"n2\"}", "not_logged_in", "leave", "n2"},
        {"{\"type\":\"rooms\",\"id\":\"n3\"}", "not_logged_in", "rooms", "n3"},
        {"{\"type\":\"users\",\"id\":\"n4\"}", "not_logged_in", "users", "n4"},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"hi\",\"id\":\"n5\"}", "not_logged_in",
         "say", "n5"},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"hi\"}", "not_logged_in", "say", NULL},
        {"{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"hi\",\"id\":\"n6\"}", "not_logged_in", "msg",
         "n6"},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"id\":\"n7\"}", "not_logged_in", "history",
         "n7"},
        {"{\"type\":\"status\",\"status\":\"away\",\"id\":\"n8\"}", "not_logged_in", "status",
         "n8"},
        {"{\"type\":\"quit\",\"id\":\"n9\"}", "not_logged_in", "quit", "n9"},
    };
    S_RUN_CASES(client, cases);
    hclient_expect_nothing(bob, 50);  // no private message reached bob
    hclient_send(bob, "{\"type\":\"history\",\"room\":\"lobby\"}");
    cJSON *events = jarr(hclient_expect(bob, "history"), "events");
    CHECK(cJSON_GetArraySize(events) == 1, "a say before hello was delivered: %s",
          harness_json_text(events));
}

void
test_err_already_logged_in(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    static const s_case_t cases[] = {
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"id\":\"a1\"}", "already_logged_in",
         "hello", "a1"},
        {"{\"type\":\"hello\",\"user\":\"other\",\"proto\":1}", "already_logged_in", "hello", NULL},
        {"{\"type\":\"hello\",\"proto\":1,\"observer\":true}", "already_logged_in", "hello", NULL},
    };
    S_RUN_CASES(alice, cases);
    hclient_send(alice, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(alice, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 1, "a second hello changed the users: %s",
          harness_json_text(users));
    jcheck_str(cJSON_GetArrayItem(users, 0), "name", "alice");

    // Observers too.
    hclient_t *observer = hclient_observer(broker, NULL);
    static const s_case_t observer_cases[] = {
        {"{\"type\":\"hello\",\"proto\":1,\"observer\":true}", "already_logged_in", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"bob\",\"proto\":1}", "already_logged_in", "hello", NULL},
    };
    S_RUN_CASES(observer, observer_cases);
}

void
test_err_forbidden(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *observer = hclient_observer(broker, "logger");
    static const s_case_t cases[] = {
        {"{\"type\":\"join\",\"room\":\"py\",\"id\":\"f1\"}", "forbidden", "join", "f1"},
        {"{\"type\":\"leave\",\"room\":\"lobby\"}", "forbidden", "leave", NULL},
        {"{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"hi\"}", "forbidden", "say", NULL},
        {"{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"hi\"}", "forbidden", "msg", NULL},
        {"{\"type\":\"status\",\"status\":\"away\"}", "forbidden", "status", NULL},
    };
    S_RUN_CASES(observer, cases);
    hclient_expect_nothing(alice, 50);
    hclient_send(alice, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(alice, "rooms"), "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 1, "an observer created a room: %s",
          harness_json_text(rooms));
    jcheck_int(cJSON_GetArrayItem(rooms, 0), "seq", 1);  // alice's join only
}

void
test_err_invalid_name(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    static const s_case_t users[] = {
        {"{\"type\":\"hello\",\"user\":\"\",\"proto\":1,\"id\":\"i1\"}", "invalid_name", "hello",
         "i1"},
        {"{\"type\":\"hello\",\"user\":\"1alice\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"_alice\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"-alice\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"al ice\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alice \",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"al.ice\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"al!ce\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"#alice\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"alic\xc3\xa9\",\"proto\":1}", "invalid_name", "hello",
         NULL},
        {"{\"type\":\"hello\",\"user\":\"\\u00e9mile\",\"proto\":1}", "invalid_name", "hello",
         NULL},
        {"{\"type\":\"hello\",\"user\":\"alice\\n\",\"proto\":1}", "invalid_name", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"abcdefghijabcdefghijabcdefghijabc\",\"proto\":1}",
         "invalid_name", "hello", NULL},
    };
    S_RUN_CASES(client, users);

    // 32 characters is the longest name.
    hclient_login(broker, "abcdefghijABCDEFGHIJabcdefghij-_");
    hclient_login(broker, "Z");
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"A-b_9\",\"proto\":1}");
    jcheck_str(hclient_expect(client, "welcome"), "user", "A-b_9");

    static const s_case_t rooms[] = {
        {"{\"type\":\"join\",\"room\":\"\",\"id\":\"i2\"}", "invalid_name", "join", "i2"},
        {"{\"type\":\"join\",\"room\":\"#\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"##py\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"-py\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"_py\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"py room\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"py.\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"py/x\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"py/\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\" py\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"py#\"}", "invalid_name", "join", NULL},
        {"{\"type\":\"join\",\"room\":\"abcdefghijabcdefghijabcdefghijabc\"}", "invalid_name",
         "join", NULL},
        {"{\"type\":\"join\",\"room\":\"#abcdefghijabcdefghijabcdefghijabc\"}", "invalid_name",
         "join", NULL},
        {"{\"type\":\"say\",\"room\":\"py room\",\"text\":\"x\"}", "invalid_name", "say", NULL},
        {"{\"type\":\"leave\",\"room\":\"py/\"}", "invalid_name", "leave", NULL},
        {"{\"type\":\"users\",\"room\":\"##\"}", "invalid_name", "users", NULL},
        {"{\"type\":\"history\",\"room\":\"a b\"}", "invalid_name", "history", NULL},
    };
    S_RUN_CASES(client, rooms);

    // 32 characters, after the '#', is the longest room name; digits may lead.
    jcheck_str(hclient_join(client, "#abcdefghijabcdefghijabcdefghij-_"), "room",
               "abcdefghijabcdefghijabcdefghij-_");
    jcheck_str(hclient_join(client, "9lives"), "room", "9lives");
}

void
test_err_name_taken(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "Alice");
    hclient_t *client = hclient_new(broker);
    static const s_case_t cases[] = {
        {"{\"type\":\"hello\",\"user\":\"Alice\",\"proto\":1,\"id\":\"t1\"}", "name_taken", "hello",
         "t1"},
        {"{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}", "name_taken", "hello", NULL},
        {"{\"type\":\"hello\",\"user\":\"ALICE\",\"proto\":1}", "name_taken", "hello", NULL},
    };
    S_RUN_CASES(client, cases);
    hclient_send(alice, "{\"type\":\"quit\"}");
    hclient_expect(alice, "bye");
    // Free again, in another spelling.
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"ALICE\",\"proto\":1}");
    jcheck_str(hclient_expect(client, "welcome"), "user", "ALICE");
}

void
test_err_no_such_user(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_observer(broker, "ghost");
    hclient_send(bob, "{\"type\":\"quit\"}");
    hclient_expect(bob, "bye");
    static const s_case_t cases[] = {
        {"{\"type\":\"msg\",\"to\":\"nobody\",\"text\":\"hi\",\"id\":\"m1\"}", "no_such_user",
         "msg", "m1"},
        {"{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"hi\"}", "no_such_user", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":\"ghost\",\"text\":\"hi\"}", "no_such_user", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":\"1 not a name\",\"text\":\"hi\"}", "no_such_user", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":\"\",\"text\":\"hi\"}", "no_such_user", "msg", NULL},
    };
    S_RUN_CASES(alice, cases);
}

void
test_err_no_such_room(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    static const s_case_t cases[] = {
        {"{\"type\":\"say\",\"room\":\"nowhere\",\"text\":\"hi\",\"id\":\"r1\"}", "no_such_room",
         "say", "r1"},
        {"{\"type\":\"users\",\"room\":\"nowhere\"}", "no_such_room", "users", NULL},
        {"{\"type\":\"history\",\"room\":\"#Nowhere\"}", "no_such_room", "history", NULL},
    };
    S_RUN_CASES(alice, cases);
    // None of that created the room.
    hclient_send(alice, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(alice, "rooms"), "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 1, "only lobby expected: %s", harness_json_text(rooms));
}

void
test_err_not_in_room(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(bob, "py");
    static const s_case_t cases[] = {
        {"{\"type\":\"leave\",\"room\":\"py\",\"id\":\"x1\"}", "not_in_room", "leave", "x1"},
        {"{\"type\":\"leave\",\"room\":\"nowhere\"}", "not_in_room", "leave", NULL},
        {"{\"type\":\"say\",\"room\":\"py\",\"text\":\"hi\",\"id\":\"x2\"}", "not_in_room", "say",
         "x2"},
        {"{\"type\":\"say\",\"room\":\"#PY\",\"text\":\"hi\"}", "not_in_room", "say", NULL},
    };
    S_RUN_CASES(alice, cases);
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"lobby\"}");
    hclient_expect(alice, "left");
    hclient_send(alice, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"hi\"}");
    hclient_expect_error(alice, "not_in_room", "say");
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"lobby\"}");
    hclient_expect_error(alice, "not_in_room", "leave");
    // Not-in-room rooms can still be read: rooms are public.
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"py\"}");
    hclient_expect(alice, "history");
    hclient_send(alice, "{\"type\":\"users\",\"room\":\"py\"}");
    hclient_expect(alice, "users");
}

// A say of text, as a JSON string literal body, must fail with bad_text and leave no trace.
static void
s_expect_bad_text(hclient_t *client, const char *text)
{
    hclient_sendf(client, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"%s\",\"id\":\"bt\"}",
                  text);
    hclient_expect_error_id(client, "bad_text", "say", "bt");
}

static void
s_expect_ack(hclient_t *client, const char *text)
{
    hclient_sendf(client, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"%s\",\"id\":\"ok\"}",
                  text);
    jcheck_str(hclient_expect(client, "ack"), "id", "ok");
}

void
test_err_bad_text(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    int64_t base = jint(jobj(hclient_ping(alice), "seqs"), "lobby");

    char big[2 * ZCHAT_TEXT_MAX + 8];
    memset(big, 'a', ZCHAT_TEXT_MAX + 1);
    big[ZCHAT_TEXT_MAX + 1] = 0;
    s_expect_bad_text(alice, "");
    s_expect_bad_text(alice, big);  // 4097 bytes
    s_expect_bad_text(alice, "\\u0000");
    s_expect_bad_text(alice, "a\\u0001b");
    s_expect_bad_text(alice, "line\\nbreak");
    s_expect_bad_text(alice, "cr\\r");
    s_expect_bad_text(alice, "\\u001b[31mred");
    s_expect_bad_text(alice, "\\u001f");
    s_expect_bad_text(alice, "del\\u007f");
    s_expect_bad_text(alice, "c1\\u0080");
    s_expect_bad_text(alice, "c1\\u0085");
    s_expect_bad_text(alice, "c1\xc2\x9b"
                             "31m");  // raw CSI
    s_expect_bad_text(alice, "c1\\u009f");
    // 4096 bytes of two-byte characters plus one byte is too long.
    big[0] = 0;
    for (int i = 0; i < ZCHAT_TEXT_MAX / 2; i++)
        strcat(big, "\xc3\xa9");
    strcat(big, "a");
    s_expect_bad_text(alice, big);
    CHECK(jint(jobj(hclient_ping(alice), "seqs"), "lobby") == base,
          "a bad_text say changed the lobby seq");

    // The limits themselves are fine.
    big[strlen(big) - 1] = 0;  // 4096 bytes of é
    s_expect_ack(alice, big);
    memset(big, 'a', ZCHAT_TEXT_MAX);
    big[ZCHAT_TEXT_MAX] = 0;
    s_expect_ack(alice, big);
    s_expect_ack(alice, "tab\\tok");
    s_expect_ack(alice, "nbsp\\u00a0 \xc2\xa0 ok");
    s_expect_ack(alice, "\\ud83d\\ude00 \xf0\x9f\x98\x80");
    s_expect_ack(alice, "a");

    // msg follows the same rules.
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"\"}");
    hclient_expect_error(alice, "bad_text", "msg");
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"\\u0007bell\"}");
    hclient_expect_error(alice, "bad_text", "msg");
    hclient_expect_nothing(bob, 50);

    // note and reason: 0 to 256 bytes, same characters.
    char note[ZCHAT_NOTE_MAX + 2];
    memset(note, 'n', ZCHAT_NOTE_MAX + 1);
    note[ZCHAT_NOTE_MAX + 1] = 0;
    hclient_sendf(alice, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"%s\"}", note);
    hclient_expect_error(alice, "bad_text", "status");
    hclient_send(alice, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"a\\nb\"}");
    hclient_expect_error(alice, "bad_text", "status");
    hclient_sendf(alice, "{\"type\":\"quit\",\"reason\":\"%s\"}", note);
    hclient_expect_error(alice, "bad_text", "quit");
    hclient_send(alice, "{\"type\":\"quit\",\"reason\":\"\\u001b]0;pwned\\u0007\"}");
    hclient_expect_error(alice, "bad_text", "quit");
    note[ZCHAT_NOTE_MAX] = 0;
    hclient_sendf(alice, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"%s\"}", note);
    hclient_expect(alice, "ok");
    // The failed quits left the session alive.
    hclient_send(alice, "{\"type\":\"users\"}");
    cJSON *users = jarr(hclient_expect(alice, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 2, "alice or bob gone: %s", harness_json_text(users));
}

void
test_err_too_many_rooms(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    char room[16];
    for (int i = 1; i < ZCHAT_ROOMS_MAX; i++) {  // lobby + 63
        snprintf(room, sizeof room, "r%d", i);
        hclient_join(alice, room);
    }
    hclient_send(alice, "{\"type\":\"join\",\"room\":\"one-too-many\",\"id\":\"m\"}");
    hclient_expect_error_id(alice, "too_many_rooms", "join", "m");
    // Joining a room already joined is not a new room.
    hclient_join(alice, "r1");
    hclient_join(alice, "lobby");
    cJSON *seqs = jobj(hclient_ping(alice), "seqs");
    CHECK(cJSON_GetArraySize(seqs) == ZCHAT_ROOMS_MAX, "expected %d rooms: %d", ZCHAT_ROOMS_MAX,
          cJSON_GetArraySize(seqs));
    jcheck_absent(seqs, "one-too-many");
    // Leave one, and there is room for another.
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"r1\"}");
    hclient_expect(alice, "left");
    hclient_join(alice, "one-too-many");
}

// Send request (its id "x") and expect the error code of a full server, whose message says
// so and names the cap.
static void
s_expect_full(hclient_t *client, const char *request, const char *code, const char *type,
              const char *cap)
{
    hclient_send(client, request);
    const char *message = jstr(hclient_expect_error_id(client, code, type, "x"), "message");
    CHECK(strstr(message, "server") && strstr(message, cap), "message: %s", message);
}

// Send a listing request and expect its reply (of type field) to list count items in field.
static void
s_expect_count(hclient_t *client, const char *request, const char *field, int count)
{
    hclient_send(client, request);
    cJSON *list = jarr(hclient_expect(client, field), field);
    CHECK(cJSON_GetArraySize(list) == count, "%s: %s", field, harness_json_text(list));
}

// --max-rooms: a join that would make one room more is refused and changes nothing; rooms that
// exist, and lobby, stay open to everyone.
void
test_err_max_rooms(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", "--max-rooms", "3", NULL);
    hclient_t *alice = hclient_login(broker, "alice");  // lobby: 1
    hclient_join(alice, "a");
    hclient_join(alice, "b");
    s_expect_full(alice, "{\"type\":\"join\",\"room\":\"c\",\"id\":\"x\"}", "server_full", "join",
                  "3");
    s_expect_count(alice, "{\"type\":\"rooms\"}", "rooms", 3);
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(bob, "b");
    hclient_send(bob, "{\"type\":\"join\",\"room\":\"d\"}");
    hclient_expect_error(bob, "server_full", "join");
    hclient_send(bob, "{\"type\":\"say\",\"room\":\"b\",\"text\":\"still here\",\"id\":\"s\"}");
    hclient_expect(bob, "ack");
}

// --max-sessions: a login past the cap is refused (server_full, which clients retry later) and
// makes nothing; a resume takes no new session; a quit frees a place.
void
test_err_max_sessions(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", "--max-sessions", "2", NULL);
    hclient_t *alice = hclient_new(broker);
    hclient_send(alice, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    char token[128];
    snprintf(token, sizeof token, "%s", jstr(hclient_expect(alice, "welcome"), "session"));
    hclient_t *bob = hclient_login(broker, "bob");

    hclient_t *carol = hclient_new(broker);
    s_expect_full(carol, "{\"type\":\"hello\",\"user\":\"carol\",\"proto\":1,\"id\":\"x\"}",
                  "server_full", "hello", "2");
    s_expect_count(bob, "{\"type\":\"users\",\"room\":\"lobby\"}", "users", 2);

    char hello[256];
    snprintf(hello, sizeof hello,
             "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}", token);
    hclient_t *alice_again = hclient_new(broker);
    hclient_send(alice_again, hello);
    CHECK(streq(jstr(hclient_expect(alice_again, "welcome"), "session"), token), "resumed");

    hclient_send(bob, "{\"type\":\"quit\"}");
    hclient_expect(bob, "bye");
    hclient_send(carol, "{\"type\":\"hello\",\"user\":\"carol\",\"proto\":1}");
    hclient_expect(carol, "welcome");
}

// Send request 4 times at once (the limit lets 1 through, and 1 a second): each must get code
// or rate_limited, and one at least rate_limited.
static void
s_expect_limited(hclient_t *client, const char *request, const char *code, const char *type)
{
    for (int i = 0; i < 4; i++)
        hclient_send(client, request);
    int limited = 0;
    for (int i = 0; i < 4; i++) {
        cJSON *error = hclient_expect(client, "error");
        jcheck_str(error, "request", type);
        if (streq(jstr(error, "code"), "rate_limited"))
            limited++;
        else
            jcheck_str(error, "code", code);
    }
    CHECK(limited > 0, "%s: never rate_limited", request);
}

void
test_err_ordering(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    // frame before JSON
    hclient_send_frames(client, 2, (const char *const[]){"{", "{\"type\":\"nope\"}"});
    hclient_expect_error(client, "bad_frame", NULL);
    static const s_case_t before_hello[] = {
        // JSON before type
        {"{\"type\":\"nope\",\"type\":\"ping\"}", "bad_json", NULL, NULL},
        // type before login state
        {"{\"type\":\"nope\",\"room\":5}", "unknown_type", NULL, NULL},
        {"{\"room\":\"py\"}", "bad_request", NULL, NULL},
        // login state before fields
        {"{\"type\":\"join\",\"room\":5}", "not_logged_in", "join", NULL},
        {"{\"type\":\"say\"}", "not_logged_in", "say", NULL},
        {"{\"type\":\"history\",\"room\":\"lobby\",\"limit\":0,\"id\":\"o1\"}", "not_logged_in",
         "history", "o1"},
        {"{\"type\":\"join\",\"room\":\"x\",\"id\":5}", "not_logged_in", "join", NULL},
    };
    S_RUN_CASES(client, before_hello);

    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(client, "welcome");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_join(bob, "py");
    static const s_case_t logged_in[] = {
        // login state (already logged in) before fields
        {"{\"type\":\"hello\",\"user\":5}", "already_logged_in", "hello", NULL},
        // fields before state: bad text / bad name / bad id before membership and existence
        {"{\"type\":\"say\",\"room\":\"nowhere\",\"text\":\"\",\"id\":\"o2\"}", "bad_text", "say",
         "o2"},
        {"{\"type\":\"say\",\"room\":\"py\",\"text\":\"\"}", "bad_text", "say", NULL},
        {"{\"type\":\"say\",\"room\":\"no where\",\"text\":\"x\"}", "invalid_name", "say", NULL},
        {"{\"type\":\"say\",\"room\":\"nowhere\",\"text\":\"x\",\"id\":\"\"}", "bad_request", "say",
         NULL},
        {"{\"type\":\"say\",\"room\":\"py\",\"text\":7}", "bad_request", "say", NULL},
        {"{\"type\":\"leave\",\"room\":\"no where\"}", "invalid_name", "leave", NULL},
        {"{\"type\":\"history\",\"room\":\"nowhere\",\"limit\":0}", "bad_request", "history", NULL},
        {"{\"type\":\"users\",\"room\":\"no where\"}", "invalid_name", "users", NULL},
        {"{\"type\":\"msg\",\"to\":\"nobody\",\"text\":\"\"}", "bad_text", "msg", NULL},
        {"{\"type\":\"msg\",\"to\":\"nobody\",\"text\":\"x\",\"id\":7}", "bad_request", "msg",
         NULL},
        {"{\"type\":\"status\",\"status\":\"away\",\"note\":\"\\u0001\"}", "bad_text", "status",
         NULL},
    };
    S_RUN_CASES(client, logged_in);

    // forbidden (the login state) before fields
    hclient_t *observer = hclient_observer(broker, NULL);
    static const s_case_t observed[] = {
        {"{\"type\":\"say\",\"room\":5,\"id\":\"o3\"}", "forbidden", "say", "o3"},
        {"{\"type\":\"join\",\"room\":\"x\",\"id\":7}", "forbidden", "join", NULL},
        {"{\"type\":\"msg\"}", "forbidden", "msg", NULL},
    };
    S_RUN_CASES(observer, observed);

    // The rate limit before the login state, forbidden included: over its limit, a request
    // that would get either gets rate_limited.
    char db[PATH_MAX];
    harness_path(db, sizeof db, "tight.db");  // the first broker holds the default one
    hbroker_t *tight = hbroker_start("--rate", "1", "--burst", "1", "--db", db, NULL);
    hclient_t *guest = hclient_new(tight);
    s_expect_limited(guest, "{\"type\":\"join\",\"room\":5}", "not_logged_in", "join");
    hclient_t *watcher = hclient_observer(tight, NULL);  // its session has a bucket of its own
    s_expect_limited(watcher, "{\"type\":\"say\",\"room\":5}", "forbidden", "say");
}

void
test_err_id_echo(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *client = hclient_new(broker);
    const char *id64 = "id-4567890123456789012345678901234567890123456789012345678901234";
    assert(strlen(id64) == ZCHAT_ID_MAX);
    // The longest id is echoed as sent, in a reply and in an error.
    hclient_sendf(client, "{\"type\":\"ping\",\"id\":\"%s\"}", id64);
    jcheck_str(hclient_expect(client, "pong"), "id", id64);
    hclient_sendf(client, "{\"type\":\"rooms\",\"id\":\"%s\"}", id64);
    hclient_expect_error_id(client, "not_logged_in", "rooms", id64);
    // One byte more is a bad_request, not echoed.
    hclient_sendf(client, "{\"type\":\"ping\",\"id\":\"%sx\"}", id64);
    hclient_expect_error(client, "bad_request", "ping");
    // Non-ASCII ids are bytes: 2 bytes each, 32 of them is 64 bytes.
    char wide[ZCHAT_ID_MAX + 4] = "";
    for (int i = 0; i < ZCHAT_ID_MAX / 2; i++)
        strcat(wide, "\xc3\xa9");
    hclient_sendf(client, "{\"type\":\"ping\",\"id\":\"%s\"}", wide);
    jcheck_str(hclient_expect(client, "pong"), "id", wide);
    hclient_sendf(client, "{\"type\":\"ping\",\"id\":\"%sx\"}", wide);
    hclient_expect_error(client, "bad_request", "ping");
    // An id that is not a string is not echoed, even when other fields are wrong too.
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"id\":{}}");
    hclient_expect_error(client, "bad_request", "hello");
    // Errors of every kind carry the id.
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"1x\",\"proto\":1,\"id\":\"e1\"}");
    hclient_expect_error_id(client, "invalid_name", "hello", "e1");
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"id\":\"e2\"}");
    jcheck_str(hclient_expect(client, "welcome"), "id", "e2");
    hclient_send(client, "{\"type\":\"say\",\"room\":\"x\",\"text\":\"hi\",\"id\":\"e3\"}");
    hclient_expect_error_id(client, "no_such_room", "say", "e3");
    hclient_send(client, "{\"type\":\"leave\",\"room\":\"x\",\"id\":\"e4\"}");
    hclient_expect_error_id(client, "not_in_room", "leave", "e4");
    hclient_send(client, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"hi\",\"id\":\"e5\"}");
    hclient_expect_error_id(client, "no_such_user", "msg", "e5");
    hclient_send(client, "{\"type\":\"history\",\"room\":\"lobby\",\"limit\":0,\"id\":\"e6\"}");
    hclient_expect_error_id(client, "bad_request", "history", "e6");
    hclient_send(client, "{\"type\":\"history\",\"room\":\"lobby\",\"id\":\"e7\"}");
    jcheck_str(hclient_expect(client, "history"), "id", "e7");
    hclient_send(client, "{\"type\":\"users\",\"room\":\"lobby\",\"id\":\"e8\"}");
    jcheck_str(hclient_expect(client, "users"), "id", "e8");
}

void
test_err_id_nul_echo(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *client = hclient_new(broker);
    // The same id means the same string, an escaped NUL included (JSON can only write it
    // as \u0000).
    hclient_send(client, "{\"type\":\"ping\",\"id\":\"a\\u0000b\"}");
    hclient_expect(client, "pong");
    CHECK(strstr(hclient_last_raw(client), "\"a\\u0000b\""),
          "id \"a\\u0000b\" not echoed as sent: %s", hclient_last_raw(client));
    hclient_send(client, "{\"type\":\"rooms\",\"id\":\"\\u0000\"}");
    hclient_expect_error_id(client, "not_logged_in", "rooms", "");
    CHECK(strstr(hclient_last_raw(client), "\"\\u0000\""), "id \"\\u0000\" not echoed as sent: %s",
          hclient_last_raw(client));
}
