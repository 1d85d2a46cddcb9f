// test_history.c - e2e: history paging (zchat-protocol(7) REQUESTS), retention (--history),
// and seq and history across broker restarts on the same database
// (zchat-protocol(7) SEQ, HISTORY AND EXACTLY-ONCE DISPLAY: seq survives, is never reused)
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

#include <signal.h>

// Ask for history; returns the reply.
static cJSON *
s_history(hclient_t *client, const char *room, int64_t since, int64_t limit)
{
    if (limit > 0)
        hclient_sendf(client,
                      "{\"type\":\"history\",\"room\":\"%s\",\"since\":%" PRId64
                      ",\"limit\":%" PRId64 "}",
                      room, since, limit);
    else
        hclient_sendf(client, "{\"type\":\"history\",\"room\":\"%s\",\"since\":%" PRId64 "}", room,
                      since);
    cJSON *reply = hclient_expect(client, "history");
    jcheck_str(reply, "room", room);
    return reply;
}

// Check the reply's events are exactly seqs first..last, ascending, of room; and complete.
static void
s_check_events(const char *file, int line, const cJSON *reply, int64_t first, int64_t last,
               bool complete)
{
    const cJSON *events = jarr_at(file, line, reply, "events");
    int64_t expected = first;
    const cJSON *event;
    cJSON_ArrayForEach(event, events)
    {
        if (expected > last)
            harness_fail(file, line, "history: more events than seqs %" PRId64 "..%" PRId64, first,
                         last);
        jcheck_int_at(file, line, event, "seq", expected);
        jcheck_str_at(file, line, event, "room", jstr_at(file, line, reply, "room"));
        jint_at(file, line, event, "ts");
        jstr_at(file, line, event, "type");
        expected++;
    }
    if (expected != last + 1)
        harness_fail(file, line,
                     "history: expected seqs %" PRId64 "..%" PRId64 ", got %d events: %s", first,
                     last, cJSON_GetArraySize(events), harness_json_text(reply));
    if (jbool_at(file, line, reply, "complete") != complete)
        harness_fail(file, line, "history: expected complete %s: %s", complete ? "true" : "false",
                     harness_json_text(reply));
}
#define S_CHECK_EVENTS(reply, first, last, complete)                                               \
    s_check_events(__FILE__, __LINE__, reply, first, last, complete)

void
test_history_since_limit(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "h");  // seq 1
    char text[16];
    for (int i = 2; i <= 11; i++) {
        snprintf(text, sizeof text, "m%d", i);
        CHECK(hclient_say(alice, "h", text) == i, "seq of message %d", i);
    }
    // Defaults: since 0, limit 100.
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"h\",\"id\":\"h1\"}");
    cJSON *reply = hclient_expect(alice, "history");
    jcheck_str(reply, "id", "h1");
    S_CHECK_EVENTS(reply, 1, 11, true);
    cJSON *events = jarr(reply, "events");
    cJSON *first = cJSON_GetArrayItem(events, 0);
    jcheck_str(first, "type", "presence");
    jcheck_str(first, "user", "alice");
    jcheck_str(first, "event", "join");
    cJSON *second = cJSON_GetArrayItem(events, 1);
    jcheck_str(second, "type", "message");
    jcheck_str(second, "from", "alice");
    jcheck_str(second, "text", "m2");

    S_CHECK_EVENTS(s_history(alice, "h", 5, 3), 6, 8, false);
    S_CHECK_EVENTS(s_history(alice, "h", 8, 3), 9, 11, true);
    S_CHECK_EVENTS(s_history(alice, "h", 0, 1), 1, 1, false);
    S_CHECK_EVENTS(s_history(alice, "h", 10, 0), 11, 11, true);
    S_CHECK_EVENTS(s_history(alice, "h", 11, 0), 1, 0, true);   // nothing after the last
    S_CHECK_EVENTS(s_history(alice, "h", 500, 0), 1, 0, true);  // nor after the future

    // Every reply carries the room's last seq: complete or not, empty or not.
    jcheck_int(reply, "seq", 11);
    jcheck_int(s_history(alice, "h", 5, 3), "seq", 11);
    jcheck_int(s_history(alice, "h", 11, 0), "seq", 11);
    jcheck_int(s_history(alice, "h", 500, 0), "seq", 11);

    // Paging with since = the last seq received gets every event exactly once.
    int64_t since = 0, pages = 0;
    while (true) {
        reply = s_history(alice, "h", since, 4);
        cJSON *event;
        cJSON_ArrayForEach(event, jarr(reply, "events"))
        {
            jcheck_int(event, "seq", since + 1);
            since++;
        }
        CHECK(++pages <= 3, "paging by 4 through 11 events took more than 3 pages");
        if (jbool(reply, "complete"))
            break;
    }
    CHECK(since == 11 && pages == 3, "paging ended at %" PRId64 " after %" PRId64 " pages", since,
          pages);

    // The seq moves on with the room, for a page of old events too.
    hclient_say(alice, "h", "m12");
    jcheck_int(s_history(alice, "h", 0, 1), "seq", 12);

    // limit < 1 and since < 0 are bad requests.
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"h\",\"limit\":0}");
    hclient_expect_error(alice, "bad_request", "history");
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"h\",\"since\":-1}");
    hclient_expect_error(alice, "bad_request", "history");
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"nowhere\"}");
    hclient_expect_error(alice, "no_such_room", "history");
}

void
test_history_limit_cap(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "big");  // seq 1
    // 1005 messages, no ids (no replies): seqs 2..1006.
    int64_t deadline = zclock_mono() + 30000;
    for (int i = 2; i <= 1006; i++) {
        hclient_sendf(alice, "{\"type\":\"say\",\"room\":\"big\",\"text\":\"n%d\"}", i);
        CHECK(zclock_mono() < deadline, "sending 1005 messages took over 30 s");
    }
    cJSON *pong = hclient_ping(alice);  // every say before it has been handled
    jcheck_int(jobj(pong, "seqs"), "big", 1006);

    // Over 1000 counts as 1000; the default is 100.
    S_CHECK_EVENTS(s_history(alice, "big", 0, 5000), 1, 1000, false);
    S_CHECK_EVENTS(s_history(alice, "big", 0, 1001), 1, 1000, false);
    S_CHECK_EVENTS(s_history(alice, "big", 0, 1000), 1, 1000, false);
    S_CHECK_EVENTS(s_history(alice, "big", 0, 0), 1, 100, false);
    S_CHECK_EVENTS(s_history(alice, "big", 1000, 5000), 1001, 1006, true);
    cJSON *reply = s_history(alice, "big", 1005, 0);
    jcheck_str(cJSON_GetArrayItem(jarr(reply, "events"), 0), "text", "n1006");
}

void
test_history_retention(void)
{
    hbroker_t *broker = hbroker_start("--history", "5", "--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "r");  // seq 1
    char text[16];
    for (int i = 2; i <= 12; i++) {
        snprintf(text, sizeof text, "m%d", i);
        hclient_say(alice, "r", text);
    }
    // Only the newest 5 events are kept; seq goes on regardless.
    cJSON *reply = s_history(alice, "r", 0, 0);
    S_CHECK_EVENTS(reply, 8, 12, true);
    jcheck_str(cJSON_GetArrayItem(jarr(reply, "events"), 4), "text", "m12");
    CHECK(hclient_say(alice, "r", "m13") == 13, "seq after pruning");
    S_CHECK_EVENTS(s_history(alice, "r", 0, 0), 9, 13, true);
    S_CHECK_EVENTS(s_history(alice, "r", 10, 0), 11, 13, true);
}

// Read feed events until count presence leaves with reason shutdown arrived; returns the
// largest seq per room in *lobby_seq and *room_seq.
static void
s_collect_shutdown(hclient_t *watcher, int count, const char *room, int64_t *lobby_seq,
                   int64_t *room_seq)
{
    for (int i = 0; i < count; i++) {
        cJSON *event = hclient_event(watcher, H_REPLY_MS);
        CHECK(event, "expected %d shutdown leaves, got %d", count, i);
        jcheck_str(event, "type", "presence");
        jcheck_str(event, "event", "leave");
        jcheck_str(event, "reason", "shutdown");
        int64_t seq = jint(event, "seq");
        if (streq(jstr(event, "room"), "lobby"))
            *lobby_seq = seq > *lobby_seq ? seq : *lobby_seq;
        else {
            jcheck_str(event, "room", room);
            *room_seq = seq > *room_seq ? seq : *room_seq;
        }
    }
}

void
test_history_restart_sigterm(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "bob");
    const char *epoch = jstr(hclient_welcome(alice), "epoch");
    hclient_join(alice, "py");                        // 1
    CHECK(hclient_say(alice, "py", "one") == 2, "");  // 2
    CHECK(hclient_say(alice, "py", "two") == 3, "");  // 3
    hclient_join(bob, "py");                          // 4
    hclient_t *watcher = hclient_watcher(broker, "room/", bob, "lobby");
    int64_t lobby = jint(jobj(hclient_ping(bob), "seqs"), "lobby");

    hbroker_stop(broker);
    int64_t lobby_last = lobby, py_last = 4;
    s_collect_shutdown(watcher, 4, "py", &lobby_last, &py_last);
    CHECK(lobby_last == lobby + 2 && py_last == 6,
          "shutdown leaves: lobby up to %" PRId64 " (expected %" PRId64 "), py up to %" PRId64
          " (expected 6)",
          lobby_last, lobby + 2, py_last);

    // The same database: history intact, seq goes on, a new epoch.
    hbroker_t *again = hbroker_start(NULL);
    hclient_t *carol = hclient_login(again, "carol");
    CHECK(!streq(jstr(hclient_welcome(carol), "epoch"), epoch), "epoch unchanged by restart");
    cJSON *reply = s_history(carol, "py", 0, 0);
    S_CHECK_EVENTS(reply, 1, 6, true);
    cJSON *events = jarr(reply, "events");
    jcheck_str(cJSON_GetArrayItem(events, 0), "user", "alice");
    jcheck_str(cJSON_GetArrayItem(events, 1), "text", "one");
    jcheck_str(cJSON_GetArrayItem(events, 2), "text", "two");
    jcheck_str(cJSON_GetArrayItem(events, 3), "user", "bob");
    jcheck_str(cJSON_GetArrayItem(events, 4), "reason", "shutdown");
    jcheck_str(cJSON_GetArrayItem(events, 5), "reason", "shutdown");
    jcheck_int(hclient_join(carol, "py"), "seq", 7);
    // carol's hello joined lobby after the shutdown leaves.
    jcheck_int(jobj(hclient_ping(carol), "seqs"), "lobby", lobby_last + 1);
    hclient_send(carol, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(carol, "rooms"), "rooms");
    CHECK(cJSON_GetArraySize(rooms) == 2, "rooms after restart: %s", harness_json_text(rooms));
    jcheck_int(cJSON_GetArrayItem(rooms, 1), "seq", 7);
    // Old tokens are harmless: a hello with one is a plain login.
    hclient_t *alice2 = hclient_new(again);
    hclient_sendf(alice2, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}",
                  jstr(hclient_welcome(alice), "session"));
    jcheck_strings(hclient_expect(alice2, "welcome"), "rooms", "lobby", NULL);
}

void
test_history_restart_sigkill(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "k");
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/k/");
    hclient_sync_feed(watcher, alice, "k");

    // Everything the feed showed before the crash, by seq.
    enum { SEEN_MAX = 200 };
    char *seen[SEEN_MAX] = {0};
    int64_t max_seen = 0;
    char text[32];
    int64_t last = 0;
    for (int i = 0; i < 30; i++) {
        snprintf(text, sizeof text, "before crash %d", i);
        last = hclient_say(alice, "k", text);
    }
    while (max_seen < last) {
        cJSON *event = hclient_event(watcher, H_REPLY_MS);
        CHECK(event, "message %" PRId64 " never reached the feed", last);
        int64_t seq = jint(event, "seq");
        CHECK(seq > 0 && seq < SEEN_MAX, "seq %" PRId64, seq);
        const char *body = jget(event, "text") ? jstr(event, "text") : jstr(event, "type");
        seen[seq] = strdup(body);
        max_seen = seq > max_seen ? seq : max_seen;
    }
    hbroker_kill(broker);

    hbroker_t *again = hbroker_start("--rate", "0", NULL);
    hclient_t *bob = hclient_login(again, "bob");
    // Whatever history kept is what the feed showed under the same seq.
    cJSON *reply = s_history(bob, "k", 0, 1000);
    int64_t previous = 0;
    cJSON *event;
    int kept = 0;
    cJSON_ArrayForEach(event, jarr(reply, "events"))
    {
        int64_t seq = jint(event, "seq");
        CHECK(seq > previous, "history seqs not ascending: %s", harness_json_text(reply));
        previous = seq;
        if (seq < SEEN_MAX && seen[seq]) {
            const char *body = jget(event, "text") ? jstr(event, "text") : jstr(event, "type");
            CHECK(streq(body, seen[seq]), "seq %" PRId64 " was \"%s\" on the feed, \"%s\" now", seq,
                  seen[seq], body);
            kept++;
        }
    }
    harness_note("history kept %d of the %" PRId64 " events seen before SIGKILL", kept, max_seen);
    // A new event never reuses a seq the feed already showed.
    cJSON *joined = hclient_join(bob, "k");
    int64_t seq = jint(joined, "seq");
    CHECK(seq > max_seen,
          "seq %" PRId64 " reused after SIGKILL (the feed showed up to %" PRId64 ")", seq,
          max_seen);
    CHECK(hclient_say(bob, "k", "after crash") == seq + 1, "seq after the join");
    for (int i = 0; i < SEEN_MAX; i++)
        free(seen[i]);
}

void
test_history_matches_feed(void)
{
    // History holds the very events the feed carried, text escapes and non-ASCII included:
    // clients merge the two by seq (zchat-protocol(7) SEQ, HISTORY AND EXACTLY-ONCE DISPLAY).
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(alice, "mix");
    hclient_t *watcher = hclient_new(broker);
    hclient_subscribe(watcher, "room/mix/");
    int64_t synced = hclient_sync_feed(watcher, alice, "mix");

    hclient_join(bob, "mix");
    hclient_say(bob, "mix",
                "h\\u00e9llo \\\"quoted\\\" \\\\ / \\u2603 \\ud83d\\ude00 \\u2028 tab\\t");
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"caf\\u00e9\"}");
    hclient_expect(bob, "ok");
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"mix\"}");
    hclient_expect(alice, "left");
    hclient_send(bob, "{\"type\":\"quit\",\"reason\":\"\\u00e0 bient\\u00f4t\"}");
    hclient_expect(bob, "bye");
    enum { EVENTS = 5 };
    cJSON *feed[EVENTS];
    for (int i = 0; i < EVENTS; i++) {
        feed[i] = hclient_event(watcher, H_REPLY_MS);
        CHECK(feed[i], "only %d of %d events on the feed", i, EVENTS);
        jcheck_int(feed[i], "seq", synced + 1 + i);
    }
    jcheck_str(feed[1], "text",
               "h\xc3\xa9llo \"quoted\" \\ / \xe2\x98\x83 \xf0\x9f\x98\x80 \xe2\x80\xa8 tab\t");
    jcheck_str(feed[2], "note", "caf\xc3\xa9");
    jcheck_str(feed[4], "note", "\xc3\xa0 bient\xc3\xb4t");

    hclient_sendf(alice, "{\"type\":\"history\",\"room\":\"mix\",\"since\":%" PRId64 "}", synced);
    cJSON *events = jarr(hclient_expect(alice, "history"), "events");
    CHECK(cJSON_GetArraySize(events) == EVENTS, "history has %d events, the feed had %d",
          cJSON_GetArraySize(events), EVENTS);
    for (int i = 0; i < EVENTS; i++) {
        cJSON *stored = cJSON_GetArrayItem(events, i);
        if (!cJSON_Compare(stored, feed[i], true)) {
            char feed_text[1024];
            snprintf(feed_text, sizeof feed_text, "%s", harness_json_text(feed[i]));
            FAIL("history differs from the feed:\n  feed:    %s\n  history: %s", feed_text,
                 harness_json_text(stored));
        }
    }
}

// A history reply is bounded in bytes: long events come in pages (complete false), and paging
// with since = the last seq received gets every one of them
void
test_history_reply_bounded(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "big");  // seq 1
    char text[8193];             // 4096 TABs, written as JSON escapes: 8 KiB of JSON per event
    for (int i = 0; i < 4096; i++)
        memcpy(text + 2 * i, "\\t", 2);
    text[8192] = 0;
    for (int i = 2; i <= 41; i++)
        hclient_say(alice, "big", text);
    int64_t since = 0, pages = 0;
    bool complete = false;
    while (!complete) {
        cJSON *reply = s_history(alice, "big", since, 1000);
        size_t size = strlen(hclient_last_raw(alice));
        CHECK(size < 300000, "a history reply of %zu bytes", size);
        cJSON *events = jarr(reply, "events");
        int n = cJSON_GetArraySize(events);
        CHECK(n > 0 || jbool(reply, "complete"), "an empty page that is not complete");
        for (int i = 0; i < n; i++) {
            int64_t seq = jint(cJSON_GetArrayItem(events, i), "seq");
            CHECK(seq == since + 1, "seq %" PRId64 " after %" PRId64, seq, since);
            since = seq;
        }
        complete = jbool(reply, "complete");
        CHECK(++pages < 20, "too many pages");
    }
    CHECK(since == 41 && pages > 1, "%" PRId64 " events in %" PRId64 " pages", since, pages);
}
