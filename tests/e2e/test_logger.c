// test_logger.c - e2e: zchat-logger against the real broker: every event exactly once, in order,
// across SIGKILL, broker restarts, PUB drops, logrotate; the text format; lost markers
#include "zchat_prelude.h"
#include "harness.h"
#include "hproc.h"
#include "tests_logger.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_LOGGERS_MAX 16
#define S_TALKERS_MAX 8
#define S_STOP_MS     2000   // a logger exits 0 within this of SIGTERM/SIGINT
#define S_WAIT_MS     30000  // how long the files may take to catch up
#define S_PING_MS     100    // keep the talkers' sessions alive (short heartbeats)

static struct {
    hproc_t *loggers[S_LOGGERS_MAX];  // "logger 1", "logger 2"... within the test
    int count;
    hclient_t *talkers[S_TALKERS_MAX];
    int talker_count;
    int64_t pinged_at;
} s_run;

// ---------------------------------------------------------------------------------------------
// Helpers: files

static bool
s_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

// ---------------------------------------------------------------------------------------------
// Helpers: logger processes

// Start zchat-logger with the NULL-terminated args; its stdout and stderr go to files, shown if
// the test fails.
static hproc_t *
s_logger_start_argv(const char *const args[])
{
    if (s_run.count == S_LOGGERS_MAX)
        FAIL("too many loggers in one test");
    char label[32];
    snprintf(label, sizeof label, "logger %d", s_run.count + 1);
    hproc_t *logger = hproc_start_argv("zchat-logger", label, HPROC_IN_NULL | HPROC_REPORT, args);
    s_run.loggers[s_run.count++] = logger;
    return logger;
}
#define s_logger_start(...) s_logger_start_argv((const char *const[]){__VA_ARGS__, NULL})

// Send signum (SIGTERM or SIGINT) and require exit 0 within S_STOP_MS, no dangling sockets.
static void
s_logger_stop_at(const char *file, int line, hproc_t *logger, int signum)
{
    if (!hproc_is_running(logger))
        harness_fail(file, line, "%s had already exited (status 0x%x)", hproc_label(logger),
                     (unsigned)hproc_wait(logger, 0));
    int64_t start = zclock_mono();
    hproc_signal(logger, signum);
    int status = hproc_wait(logger, S_STOP_MS);
    if (status == -1)
        harness_fail(file, line, "%s did not exit within %d ms of signal %d", hproc_label(logger),
                     S_STOP_MS, signum);
    harness_note("%s stopped in %" PRId64 " ms", hproc_label(logger), zclock_mono() - start);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        harness_fail(file, line, "%s: after signal %d, %s %d, not exit 0", hproc_label(logger),
                     signum, WIFEXITED(status) ? "exit" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    if (strstr(hproc_stderr(logger), "dangling"))
        harness_fail(file, line, "%s reported dangling sockets", hproc_label(logger));
}
#define s_logger_stop(l)        s_logger_stop_at(__FILE__, __LINE__, l, SIGTERM)
#define s_logger_stop_sig(l, s) s_logger_stop_at(__FILE__, __LINE__, l, s)

// The end of a test that passed: every logger still running stops with SIGTERM, exit 0.
static void
s_finish(void)
{
    for (int i = 0; i < s_run.count; i++)
        if (hproc_is_running(s_run.loggers[i]))
            s_logger_stop(s_run.loggers[i]);
}

// ---------------------------------------------------------------------------------------------
// Helpers: the broker and the talkers

// Two free ports, port and port + 1, for a broker that must restart on the same ones
// (hbroker_free_port: picked at random, so another test's broker is unlikely to take them).
static void
s_free_ports(char *port, char *feed_port, size_t size)
{
    int first = hbroker_free_port();
    snprintf(port, size, "%d", first);
    snprintf(feed_port, size, "%d", first + 1);
}

// Talkers are pinged while the test waits, so short heartbeats do not expire them.
static void
s_talker(hclient_t *client)
{
    if (s_run.talker_count == S_TALKERS_MAX)
        FAIL("too many talkers");
    s_run.talkers[s_run.talker_count++] = client;
}

static void
s_talkers_forget(void)
{
    s_run.talker_count = 0;
}

// One slice of a wait: keep the talkers alive, then sleep a little.
static void
s_tick(void)
{
    if (zclock_mono() - s_run.pinged_at >= S_PING_MS) {
        for (int i = 0; i < s_run.talker_count; i++)
            hclient_ping(s_run.talkers[i]);
        s_run.pinged_at = zclock_mono();
    }
    poll(NULL, 0, 10);
}

static hclient_t *
s_talker_in(hbroker_t *broker, const char *user, const char *room)
{
    hclient_t *client = hclient_login(broker, user);
    hclient_join(client, room);
    s_talker(client);
    return client;
}

// The broker's last seq of room, asked with a rooms request.
static int64_t
s_room_seq(hclient_t *client, const char *room)
{
    hclient_send(client, "{\"type\":\"rooms\"}");
    cJSON *rooms = jarr(hclient_expect(client, "rooms"), "rooms");
    cJSON *entry;
    cJSON_ArrayForEach(entry, rooms)
    {
        if (streq(jstr(entry, "name"), room))
            return jint(entry, "seq");
    }
    FAIL("room %s not in the rooms list", room);
}

// Every event of room the broker holds (at most 1000), oldest first.
static cJSON *
s_history(hclient_t *client, const char *room)
{
    hclient_sendf(client, "{\"type\":\"history\",\"room\":\"%s\",\"limit\":1000}", room);
    cJSON *reply = hclient_expect(client, "history");
    CHECK(jbool(reply, "complete"), "history of %s not complete in one page", room);
    return jarr(reply, "events");
}

// count messages to each room, round robin, without ids (no replies): the steady stream.
static void
s_stream(hclient_t *const clients[], const char *const rooms[], int n, int count, const char *tag)
{
    for (int i = 0; i < count; i++)
        for (int r = 0; r < n; r++)
            hclient_sendf(clients[r], "{\"type\":\"say\",\"room\":\"%s\",\"text\":\"%s %d\"}",
                          rooms[r], tag, i);
    s_run.pinged_at = 0;  // a round trip each, so every say has been handled
    s_tick();
}

// ---------------------------------------------------------------------------------------------
// Helpers: reading the logs

typedef struct {
    int64_t last;        // seq reached (a lost marker's "last" counts)
    int lines;           // complete lines
    int lost;            // lost markers
    int64_t lost_first;  // of the first marker
    int64_t lost_last;
    bool torn;        // the file ends without a newline
    char error[600];  // the first line that breaks "every seq once, in order"
} s_scan_t;

// Read a jsonl log of room (one room per file, or room lines only when others is true):
// every complete line must be a JSON object of the room, seq following on from the line before
// (from seq first), or a lost marker standing for the seqs that follow on. False if there is
// no file.
static bool
s_scan_from(const char *path, const char *room, bool others, int64_t first, s_scan_t *scan)
{
    memset(scan, 0, sizeof *scan);
    scan->last = first - 1;
    size_t size = 0;
    char *data = harness_slurp(path, &size);
    if (!data)
        return false;
    char *line = data;
    int number = 0;
    while (!*scan->error) {
        char *newline = memchr(line, '\n', size - (size_t)(line - data));
        if (!newline) {
            scan->torn = line < data + size;
            break;
        }
        number++;
        cJSON *json = cJSON_ParseWithLength(line, (size_t)(newline - line));
        const cJSON *jroom = json ? cJSON_GetObjectItemCaseSensitive(json, "room") : NULL;
        const cJSON *type = json ? cJSON_GetObjectItemCaseSensitive(json, "type") : NULL;
        bool lost = cJSON_IsString(type) && streq(type->valuestring, "lost");
        const cJSON *seq =
            json ? cJSON_GetObjectItemCaseSensitive(json, lost ? "first" : "seq") : NULL;
        const cJSON *last = json ? cJSON_GetObjectItemCaseSensitive(json, "last") : NULL;
        const cJSON *ts = json ? cJSON_GetObjectItemCaseSensitive(json, "ts") : NULL;
        if (!cJSON_IsObject(json) || !cJSON_IsString(type) || !cJSON_IsString(jroom) ||
            !jis_int(seq) || !jis_int(ts) || (lost && !jis_int(last)))
            snprintf(scan->error, sizeof scan->error, "%s line %d is not a room event: %.*s", path,
                     number, (int)(newline - line), line);
        else if (!streq(jroom->valuestring, room) && !others)
            snprintf(scan->error, sizeof scan->error, "%s line %d is of room %s, not %s", path,
                     number, jroom->valuestring, room);
        else if (streq(jroom->valuestring, room)) {
            scan->lines++;
            int64_t value = (int64_t)seq->valuedouble;
            if (value != scan->last + 1)
                snprintf(scan->error, sizeof scan->error,
                         "%s line %d: seq %" PRId64 " after %" PRId64 " (%s): %.*s", path, number,
                         value, scan->last, value <= scan->last ? "a duplicate" : "a gap",
                         (int)(newline - line), line);
            else if (lost) {
                if (!scan->lost++) {
                    scan->lost_first = value;
                    scan->lost_last = (int64_t)last->valuedouble;
                }
                scan->last = (int64_t)last->valuedouble;
            } else {
                scan->last = value;
            }
        }
        cJSON_Delete(json);
        line = newline + 1;
    }
    free(data);
    return true;
}

static bool
s_scan_jsonl(const char *path, const char *room, s_scan_t *scan)
{
    return s_scan_from(path, room, false, 1, scan);
}

// Wait until the jsonl log of room reaches seq last; fails at once on a duplicate or a gap.
static s_scan_t
s_wait_jsonl_at(const char *file, int line, const char *path, const char *room, int64_t last)
{
    s_scan_t scan;
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (true) {
        bool exists = s_scan_jsonl(path, room, &scan);
        if (*scan.error)
            harness_fail(file, line, "%s", scan.error);
        if (exists && scan.last >= last)
            break;
        if (zclock_mono() > deadline)
            harness_fail(file, line,
                         "%s reached seq %" PRId64 " of #%s within %d ms, not %" PRId64 "%s", path,
                         scan.last, room, S_WAIT_MS, last, exists ? "" : " (no file)");
        s_tick();
    }
    if (scan.last != last)
        harness_fail(file, line, "%s went past seq %" PRId64 " of #%s: %" PRId64, path, last, room,
                     scan.last);
    return scan;
}
#define s_wait_jsonl(path, room, last) s_wait_jsonl_at(__FILE__, __LINE__, path, room, last)

// The complete lines of a text log, day lines ("--- 2024-05-01 ---") left out.
static zlist_t *
s_text_lines(const char *path)
{
    zlist_t *lines = zlist_new();
    zlist_autofree(lines);
    char *data = harness_slurp(path, NULL);
    if (!data)
        return lines;
    char *line = data;
    char *newline;
    while ((newline = strchr(line, '\n'))) {
        *newline = 0;
        if (strncmp(line, "--- ", 4) != 0)
            zlist_append(lines, line);
        line = newline + 1;
    }
    free(data);
    return lines;
}

// Wait until the text log has count lines (not counting day lines); returns them.
static zlist_t *
s_wait_text_at(const char *file, int line, const char *path, size_t count)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (true) {
        zlist_t *lines = s_text_lines(path);
        if (zlist_size(lines) >= count)
            return lines;
        size_t got = zlist_size(lines);
        zlist_destroy(&lines);
        if (zclock_mono() > deadline)
            harness_fail(file, line, "%s has %zu lines within %d ms, not %zu", path, got, S_WAIT_MS,
                         count);
        s_tick();
    }
}
#define s_wait_text(path, count) s_wait_text_at(__FILE__, __LINE__, path, count)

// Wait until the logger's stderr holds text.
static void
s_wait_stderr_at(const char *file, int line, hproc_t *logger, const char *text)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (true) {
        if (strstr(hproc_stderr(logger), text))
            return;
        if (zclock_mono() > deadline)
            harness_fail(file, line, "%s never said \"%s\" on stderr", hproc_label(logger), text);
        s_tick();
    }
}
#define s_wait_stderr(logger, text) s_wait_stderr_at(__FILE__, __LINE__, logger, text)

// The line the CLI client shows for a room event (client/ui.c), written here on its own (not
// logger.c's); tag: "" or "#room " (one file for every room: the tag the client puts on a
// message of a room that is not the current one).
static void
s_client_line(const cJSON *event, const char *tag, char *buf, size_t size)
{
    time_t seconds = (time_t)(jint(event, "ts") / 1000);
    struct tm tm;
    localtime_r(&seconds, &tm);
    int used = snprintf(buf, size, "[%02d:%02d:%02d] %s", tm.tm_hour, tm.tm_min, tm.tm_sec, tag);
    char *at = buf + used;
    size -= (size_t)used;
    const char *type = jstr(event, "type");
    CHECK(streq(type, "message") || streq(type, "presence"), "unexpected event type %s", type);
    const char *user = "", *kind = "";
    if (streq(type, "presence"))
        user = jstr(event, "user"), kind = jstr(event, "event");
    const cJSON *note = jget(event, "note");
    if (streq(type, "message"))
        snprintf(at, size, "%s: %s", jstr(event, "from"), jstr(event, "text"));
    else if (streq(kind, "join"))
        snprintf(at, size, "*** %s joined %s ***", user, jstr(event, "room"));
    else if (streq(kind, "leave") && streq(jstr(event, "reason"), "leave"))
        snprintf(at, size, "*** %s left %s ***", user, jstr(event, "room"));
    else if (streq(kind, "leave") && note)
        snprintf(at, size, "*** %s left %s (%s: %s) ***", user, jstr(event, "room"),
                 jstr(event, "reason"), note->valuestring);
    else if (streq(kind, "leave"))
        snprintf(at, size, "*** %s left %s (%s) ***", user, jstr(event, "room"),
                 jstr(event, "reason"));
    else if (streq(jstr(event, "status"), "online"))
        snprintf(at, size, "*** %s is back ***", user);
    else if (note)
        snprintf(at, size, "*** %s is away: %s ***", user, note->valuestring);
    else
        snprintf(at, size, "*** %s is away ***", user);
    // A bidi override from the wire is shown as U+FFFD
    char *override;
    while ((override = strstr(buf, "\xe2\x80\xae")))
        memcpy(override, "\xef\xbf\xbd", 3);
}

// Check a text log against the broker's history of room, line by line.
static void
s_check_text_at(const char *file, int line, zlist_t *lines, const cJSON *events, const char *prefix)
{
    int count = cJSON_GetArraySize(events);
    if ((int)zlist_size(lines) != count)
        harness_fail(file, line, "the text log has %zu lines for %d events", zlist_size(lines),
                     count);
    const char *got = zlist_first(lines);
    const cJSON *event;
    cJSON_ArrayForEach(event, events)
    {
        char expected[8192];
        s_client_line(event, prefix, expected, sizeof expected);
        if (!streq(got, expected))
            harness_fail(file, line,
                         "text line of seq %" PRId64 ":\n  got      \"%s\"\n  "
                         "expected \"%s\"",
                         jint(event, "seq"), got, expected);
        got = zlist_next(lines);
    }
}
#define s_check_text(lines, events, prefix)                                                        \
    s_check_text_at(__FILE__, __LINE__, lines, events, prefix)

// ---------------------------------------------------------------------------------------------
// The scenarios

// A steady stream into 3 rooms while the logger is killed with SIGKILL and restarted, and while
// the broker restarts (SIGTERM, then again on the same port and database): every seq of every
// room in its file exactly once, in order, each line the broker's event unchanged.
void
test_logger_stream_restarts(void)
{
    char port[16], feed_port[16];
    s_free_ports(port, feed_port, sizeof port);
    hbroker_t *broker = hbroker_start("--rate", "0", "--heartbeat", "300", "--port", port,
                                      "--feed-port", feed_port, NULL);
    const char *rooms[] = {"r1", "r2", "r3"};
    hclient_t *talkers[3] = {s_talker_in(broker, "alice", "r1"), s_talker_in(broker, "bob", "r2"),
                             s_talker_in(broker, "carol", "r3")};
    char dir[PATH_MAX], paths[3][PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    for (int r = 0; r < 3; r++) {
        char name[32];
        snprintf(name, sizeof name, "logs/%s.jsonl", rooms[r]);
        harness_path(paths[r], sizeof paths[r], name);
    }

    hproc_t *logger =
        s_logger_start("-p", port, "-r", "r1", "-r", "#R2", "--room", "r3", "-d", dir);
    s_stream(talkers, rooms, 3, 100, "first");
    s_scan_t scan;
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (!s_scan_jsonl(paths[0], "r1", &scan) || scan.lines < 20) {
        CHECK(zclock_mono() < deadline, "the logger wrote nothing to %s", paths[0]);
        s_tick();
    }
    hproc_kill(logger);  // in the middle of the stream, maybe in the middle of a line
    s_stream(talkers, rooms, 3, 50, "while dead");
    logger = s_logger_start("-p", port, "-r", "r1", "-r", "r2", "-r", "r3", "-d", dir);
    s_stream(talkers, rooms, 3, 50, "after restart");

    // The broker restarts on the same port and database; the logger reconnects and resumes
    hbroker_stop(broker);
    s_talkers_forget();
    broker = hbroker_start("--rate", "0", "--heartbeat", "300", "--port", port, "--feed-port",
                           feed_port, NULL);
    talkers[0] = s_talker_in(broker, "alice", "r1");
    talkers[1] = s_talker_in(broker, "bob", "r2");
    talkers[2] = s_talker_in(broker, "carol", "r3");
    s_stream(talkers, rooms, 3, 50, "new broker");
    hproc_kill(logger);  // once more, now against the new broker
    logger = s_logger_start("-p", port, "--all", "-d", dir);
    s_stream(talkers, rooms, 3, 50, "last");

    for (int r = 0; r < 3; r++) {
        int64_t last = s_room_seq(talkers[r], rooms[r]);
        CHECK(last >= 300, "#%s at seq %" PRId64, rooms[r], last);
        scan = s_wait_jsonl(paths[r], rooms[r], last);
        CHECK(scan.lost == 0 && scan.lines == last && !scan.torn,
              "%s: %d lines, %d lost markers for %" PRId64 " events", paths[r], scan.lines,
              scan.lost, last);
        // Each line is the broker's event, unchanged
        zlist_t *lines = s_text_lines(paths[r]);
        const cJSON *event;
        cJSON_ArrayForEach(event, s_history(talkers[r], rooms[r]))
        {
            const char *text = zlist_first(lines) ? zlist_pop(lines) : NULL;
            CHECK(text, "%s: no line for seq %" PRId64, paths[r], jint(event, "seq"));
            cJSON *json = cJSON_Parse(text);
            CHECK(cJSON_Compare(json, event, true), "%s: line %s, the broker has %s", paths[r],
                  text, harness_json_text(event));
            cJSON_Delete(json);
            free((void *)text);
        }
        zlist_destroy(&lines);
    }
    s_finish();
}

// A SUB high-water mark of 1 message and a logger that cannot keep up (stopped with SIGSTOP
// while a burst goes by): the broker's PUB drops what overflows its queue for the logger, and
// the files are still complete, filled from history. (A tiny SUB high-water mark alone drops
// nothing: libzmq then holds back TCP, and the broker's PUB queues up to 10000 messages per
// subscriber; the burst goes past that.) The broker keeps its history in memory: copying these
// 48 MB from its WAL into a database file at its stop takes seconds on a busy machine, and the
// stop is not what this tests.
void
test_logger_tiny_hwm(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", "--db", ":memory:", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    const char *rooms[] = {"h1", "h2", "h3"};
    hclient_t *talkers[3] = {s_talker_in(broker, "alice", "h1"), s_talker_in(broker, "bob", "h2"),
                             s_talker_in(broker, "carol", "h3")};
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    hproc_t *logger =
        s_logger_start("-p", port, "-r", "h1", "-r", "h2", "-r", "h3", "-d", dir, "--sub-hwm", "1");
    harness_path(path, sizeof path, "logs/h1.jsonl");
    s_wait_jsonl(path, "h1", 1);

    // A watcher with the same tiny high-water mark, not reading during the burst either, shows
    // that PUB drops happen
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_rcvhwm(sub, 1);
    zsock_set_subscribe(sub, "room/");
    int rc = zsock_connect(sub, "%s", hbroker_feed(broker));
    CHECK(rc == 0, "connect to the feed");
    int64_t deadline = zclock_mono() + H_REPLY_MS;
    zmq_pollitem_t item = {zsock_resolve(sub), 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&item, 1, 20) <= 0) {  // until the watcher's subscription is active
        CHECK(zclock_mono() < deadline, "the watcher never saw the feed");
        hclient_sendf(talkers[0], "{\"type\":\"say\",\"room\":\"h1\",\"text\":\"sync\"}");
    }
    while (zmq_poll(&item, 1, 100) > 0) {
        zmsg_t *msg = zmsg_recv(sub);
        zmsg_destroy(&msg);
    }

    hproc_signal(logger, SIGSTOP);
    char big[4001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const int rounds = 4000;
    int64_t started = zclock_mono();
    for (int i = 0; i < rounds; i++) {
        for (int r = 0; r < 3; r++)
            hclient_sendf(talkers[r], "{\"type\":\"say\",\"room\":\"%s\",\"text\":\"%d %s\"}",
                          rooms[r], i, big);
        if (i % 50 == 49) {  // a round trip now and then: the broker keeps up with the burst
            s_run.pinged_at = 0;
            s_tick();
        }
    }
    s_run.pinged_at = 0;
    s_tick();  // every say handled
    int received = 0;
    while (zmq_poll(&item, 1, 300) > 0) {
        zmsg_t *msg = zmsg_recv(sub);
        zmsg_destroy(&msg);
        received++;
    }
    zsock_destroy(&sub);
    harness_note("burst of %d events in %" PRId64 " ms; a SUB with rcvhwm 1 got %d of them",
                 3 * rounds, zclock_mono() - started, received);
    CHECK(received < 3 * rounds, "PUB dropped nothing: the scenario needs a bigger burst");
    hproc_signal(logger, SIGCONT);

    for (int r = 0; r < 3; r++) {
        int64_t last = s_room_seq(talkers[r], rooms[r]);
        char name[32];
        snprintf(name, sizeof name, "logs/%s.jsonl", rooms[r]);
        harness_path(path, sizeof path, name);
        s_scan_t scan = s_wait_jsonl(path, rooms[r], last);
        CHECK(scan.lost == 0 && scan.lines == last, "%s: %d lines for %" PRId64, path, scan.lines,
              last);
    }
    s_finish();
}

// --all records every room, including one created after the logger started; SIGINT stops it.
void
test_logger_all_new_room(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");  // lobby, seq 1
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "all");
    hproc_t *logger = s_logger_start("-p", port, "--all", "-d", dir);
    harness_path(path, sizeof path, "all/lobby.jsonl");
    s_wait_jsonl(path, "lobby", 1);
    // A second logger on the same directory would write every event twice: it refuses
    hproc_t *second = s_logger_start("-p", port, "--all", "-d", dir);
    int status = hproc_wait(second, 10000);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
          "a second logger on %s: status 0x%x, not exit 1", dir, (unsigned)status);
    const char *err = hproc_stderr(second);
    CHECK(strstr(err, "in use by another zchat-logger"), "stderr: %s", err);

    hclient_join(alice, "later");  // created now: seq 1
    for (int i = 0; i < 5; i++)
        hclient_say(alice, "later", "hello later");
    harness_path(path, sizeof path, "all/later.jsonl");
    s_scan_t scan = s_wait_jsonl(path, "later", 6);
    CHECK(scan.lines == 6, "%d lines", scan.lines);
    hclient_t *bob = hclient_login(broker, "bob");  // lobby, seq 2
    (void)bob;
    harness_path(path, sizeof path, "all/lobby.jsonl");
    s_wait_jsonl(path, "lobby", 2);
    s_logger_stop_sig(logger, SIGINT);
    s_finish();
}

// SIGHUP after the file was moved (logrotate): a new file starts at the path, the old one keeps
// its lines; a restart reads the new file and goes on without a repeat.
void
test_logger_sighup(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "rot");  // seq 1
    char path[PATH_MAX], moved[PATH_MAX];
    harness_path(path, sizeof path, "rot.jsonl");
    harness_path(moved, sizeof moved, "rot.jsonl.1");
    hproc_t *logger = s_logger_start("-p", port, "-r", "rot", "-o", path);
    for (int i = 0; i < 5; i++)
        hclient_say(alice, "rot", "before rotation");  // 2..6
    s_wait_jsonl(path, "rot", 6);

    CHECK(rename(path, moved) == 0, "rename: %s", strerror(errno));
    hproc_signal(logger, SIGHUP);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (!s_exists(path)) {  // reopened: a new, empty file at the path
        CHECK(zclock_mono() < deadline, "no new file at %s after SIGHUP", path);
        s_tick();
    }
    for (int i = 0; i < 5; i++)
        hclient_say(alice, "rot", "after rotation");  // 7..11
    int64_t wait_until = zclock_mono() + S_WAIT_MS;
    s_scan_t scan;
    while (!s_scan_from(path, "rot", false, 7, &scan) || scan.lines < 5) {
        CHECK(!*scan.error, "%s", scan.error);
        CHECK(zclock_mono() < wait_until, "the new file got %d lines", scan.lines);
        s_tick();
    }
    // The old file: seqs 1..6, untouched; the new one: 7..11
    s_scan_jsonl(moved, "rot", &scan);
    CHECK(!*scan.error && scan.last == 6 && scan.lines == 6, "old file: %s, last %" PRId64,
          scan.error, scan.last);
    char *data = harness_slurp(path, NULL);
    CHECK(data && strncmp(data, "{\"type\":\"message\",\"room\":\"rot\",\"seq\":7,", 38) == 0,
          "the new file starts with seq 7: %s", data ? data : "");
    free(data);
    const char *err = hproc_stderr(logger);
    CHECK(strstr(err, "reopened 1 file"), "no reopen notice on stderr: %s", err);

    // Stopped and restarted: it resumes after seq 11, read from the new file
    s_logger_stop(logger);
    for (int i = 0; i < 3; i++)
        hclient_say(alice, "rot", "while stopped");  // 12..14
    logger = s_logger_start("-p", port, "-r", "rot", "-o", path);
    hclient_say(alice, "rot", "after restart");  // 15
    data = harness_slurp(path, NULL);
    int64_t until = zclock_mono() + S_WAIT_MS;
    while (!strstr(data, "\"seq\":15,")) {
        CHECK(zclock_mono() < until, "seq 15 never reached %s", path);
        free(data);
        s_tick();
        data = harness_slurp(path, NULL);
    }
    free(data);
    // 7..15 once each
    char *lines = harness_slurp(path, NULL);
    int64_t expect = 7;
    for (char *line = lines; *line; line = strchr(line, '\n') + 1) {
        char needle[32];
        snprintf(needle, sizeof needle, "\"seq\":%" PRId64 ",", expect);
        char *end = strchr(line, '\n');
        CHECK(end, "torn line in %s", path);
        *end = 0;
        CHECK(strstr(line, needle), "expected seq %" PRId64 ": %s", expect, line);
        *end = '\n';
        expect++;
    }
    CHECK(expect == 16, "the new file ends at seq %" PRId64, expect - 1);
    free(lines);
    s_finish();
}

// The text format: the client's lines, local time, made safe; one file per room, and
// standard output with the room in front. A restart after SIGKILL repeats no line.
void
test_logger_text_format(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(alice, "python");       // 1
    hclient_say(alice, "python", "hi");  // 2
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "text");
    harness_path(path, sizeof path, "text/python.log");
    hproc_t *logger = s_logger_start("-p", port, "-r", "python", "--format", "text", "-d", dir,
                                     "--fsync", "always");
    hproc_t *stdout_logger = s_logger_start("-p", port, "-r", "python", "--format", "text");
    zlist_t *lines = s_wait_text(path, 2);
    zlist_destroy(&lines);

    hclient_join(bob, "python");  // 3
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"lunch\"}");
    hclient_expect(bob, "ok");  // 4
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"online\"}");
    hclient_expect(bob, "ok");                             // 5
    hclient_say(bob, "python", "tab\\there \\u202e rtl");  // 6
    hproc_kill(logger);
    hclient_say(alice, "python", "while the logger is down");  // 7
    logger = s_logger_start("-p", port, "-r", "python", "--format", "text", "-d", dir);
    hclient_send(bob, "{\"type\":\"quit\",\"reason\":\"bye all\"}");
    hclient_expect(bob, "bye");  // 8
    hclient_send(alice, "{\"type\":\"leave\",\"room\":\"python\"}");
    hclient_expect(alice, "left");  // 9

    hclient_t *reader = hclient_login(broker, "reader");
    const cJSON *events = s_history(reader, "python");
    CHECK(cJSON_GetArraySize(events) == 9, "%d events", cJSON_GetArraySize(events));
    lines = s_wait_text(path, 9);
    s_check_text(lines, events, "");
    zlist_destroy(&lines);
    lines = s_wait_text(hproc_out_path(stdout_logger), 9);
    s_check_text(lines, events, "#python ");  // the room after the clock
    zlist_destroy(&lines);
    // A day line comes first: the client shows the time only
    char *data = harness_slurp(path, NULL);
    CHECK(data && strncmp(data, "--- ", 4) == 0 && strlen(data) > 18 && data[14] == ' ' &&
              strncmp(data + 15, "---\n", 4) == 0,
          "no day line first: %s", data ? data : "");
    free(data);
    s_finish();
}

// History no longer holds what the logger missed while stopped: a lost marker names the
// range (and stderr says so), then recording goes on.
void
test_logger_lost_marker(void)
{
    hbroker_t *broker = hbroker_start("--history", "5", "--rate", "0", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "r");  // 1
    for (int i = 0; i < 3; i++)
        hclient_say(alice, "r", "kept");  // 2..4
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    harness_path(path, sizeof path, "logs/r.jsonl");
    hproc_t *logger = s_logger_start("-p", port, "-r", "r", "-d", dir);
    s_wait_jsonl(path, "r", 4);
    s_logger_stop(logger);
    for (int i = 0; i < 20; i++)
        hclient_say(alice, "r", "while stopped");  // 5..24: history keeps 20..24
    logger = s_logger_start("-p", port, "-r", "r", "-d", dir);
    s_scan_t scan = s_wait_jsonl(path, "r", 24);
    CHECK(scan.lost == 1 && scan.lost_first == 5 && scan.lost_last == 19,
          "expected one lost marker for 5-19: %d markers, first %" PRId64 "-%" PRId64, scan.lost,
          scan.lost_first, scan.lost_last);
    CHECK(scan.lines == 4 + 1 + 5, "%d lines", scan.lines);
    s_wait_stderr(logger, "events 5-19 of #r are lost");
    s_finish();
}

// A torn last line (a crash in the middle of a write) is cut off on start, with a warning, and
// its event comes again from history.
void
test_logger_torn_line(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "t");  // 1
    hclient_say(alice, "t", "one");
    hclient_say(alice, "t", "two");  // 3
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    harness_path(path, sizeof path, "logs/t.jsonl");
    hproc_t *logger = s_logger_start("-p", port, "-r", "t", "-d", dir);
    s_wait_jsonl(path, "t", 3);
    hproc_kill(logger);
    // Cut the last line in half, as a crash in the middle of write() would
    size_t size = 0;
    char *data = harness_slurp(path, &size);
    CHECK(data && size > 20, "short file");
    CHECK(truncate(path, (off_t)(size - 20)) == 0, "truncate: %s", strerror(errno));
    free(data);
    s_scan_t scan;
    s_scan_jsonl(path, "t", &scan);
    CHECK(scan.torn && scan.last == 2, "the file should now end in a torn line");

    hclient_say(alice, "t", "three");  // 4
    logger = s_logger_start("-p", port, "-r", "t", "-d", dir);
    scan = s_wait_jsonl(path, "t", 4);
    CHECK(scan.lines == 4 && !scan.torn, "%d lines", scan.lines);
    s_wait_stderr(logger, "the last line was torn");
    s_finish();
}

// The broker is not there at start: the logger says so and keeps retrying; once the broker
// runs, it records.
void
test_logger_unreachable(void)
{
    char port[16], feed_port[16];
    s_free_ports(port, feed_port, sizeof port);
    hbroker_t *broker = hbroker_start("--port", port, "--feed-port", feed_port, NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "u");  // 1
    hbroker_stop(broker);      // the room has history; the port is free again

    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    harness_path(path, sizeof path, "logs/u.jsonl");
    // SIGTERM while it waits for the broker: exit 0 too
    harness_path(path, sizeof path, "other");
    hproc_t *waiting = s_logger_start("-p", port, "-r", "u", "-d", path);
    s_wait_stderr(waiting, "retrying in");
    s_logger_stop(waiting);

    harness_path(path, sizeof path, "logs/u.jsonl");
    hproc_t *logger = s_logger_start("-p", port, "-r", "u", "-d", dir);
    s_wait_stderr(logger, "cannot reach the broker");
    s_wait_stderr(logger, "retrying in");
    CHECK(hproc_wait(logger, 0) == -1, "the logger exited while the broker was away");

    broker = hbroker_start("--port", port, "--feed-port", feed_port, NULL);
    alice = hclient_login(broker, "alice");
    hclient_join(alice, "u");  // 3 (2: the shutdown leave)
    hclient_say(alice, "u", "finally");
    s_wait_jsonl(path, "u", 4);
    s_finish();
}

// A write error (a full disk: /dev/full): a clear message, exit 3.
void
test_logger_write_error(void)
{
    if (!s_exists("/dev/full")) {
        harness_note("no /dev/full here: skipped");
        s_finish();
        return;
    }
    hbroker_t *broker = hbroker_start(NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "full");
    hclient_say(alice, "full", "no room for this");
    hproc_t *logger = s_logger_start("-p", port, "-r", "full", "-o", "/dev/full");
    int status = hproc_wait(logger, S_WAIT_MS);
    CHECK(status != -1, "the logger kept running after a write error");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3, "exit status 0x%x, not exit 3",
          (unsigned)status);
    const char *err = hproc_stderr(logger);
    CHECK(strstr(err, "cannot write /dev/full: No space left on device"), "stderr: %s", err);
    CHECK(!strstr(err, "dangling"), "dangling sockets: %s", err);
    s_finish();
}

// Options: --help, --version, and exit 2 for what cannot work.
void
test_logger_options(void)
{
    const struct {
        const char *args[6];
        int status;
        const char *output;  // on stdout for 0, on stderr otherwise
    } cases[] = {
        {{"--help"}, 0, "Usage: zchat-logger"},
        {{"--version"}, 0, "zchat-logger " ZCHAT_VERSION},
        {{"-d", "x"}, 2, "give -r ROOM or --all"},
        {{"--all", "-d", "x", "-o", "y"}, 2, "-d and -o exclude each other"},
        {{"--all", "--format", "xml"}, 2, "invalid --format 'xml'"},
        {{"--all", "--fsync", "sometimes"}, 2, "invalid --fsync 'sometimes'"},
        {{"-r", "bad room!"}, 2, "invalid --room 'bad room!'"},
        {{"--all", "-p", "0"}, 2, "invalid --port '0'"},
        {{"--all", "--bogus"}, 2, "unknown option '--bogus'"},
        {{"--all", "-r"}, 2, "needs a value"},
        {{"--all", "extra"}, 2, "unexpected argument 'extra'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hproc_t *logger = s_logger_start_argv(cases[i].args);
        int status = hproc_wait(logger, 10000);
        CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == cases[i].status,
              "%s: status 0x%x, expected exit %d", hproc_command(logger), (unsigned)status,
              cases[i].status);
        char *text =
            harness_slurp(cases[i].status ? hproc_err_path(logger) : hproc_out_path(logger), NULL);
        CHECK(text && strstr(text, cases[i].output), "%s: expected \"%s\" in \"%s\"",
              hproc_command(logger), cases[i].output, text ? text : "");
        free(text);
    }
    s_finish();
}

// A room given with -r that does not exist yet when the logger starts (its first history
// request gets no_such_room), then a burst the feed drops: the gap must be filled from history
// like any other room's (conn must not stay stuck on the refused request). The broker keeps the
// whole burst: how far behind the stopped logger falls depends on the machine, and events older
// than the history would be reported lost, rightly. History in memory, as in tiny_hwm.
void
test_logger_room_created_later(void)
{
    hbroker_t *broker =
        hbroker_start("--rate", "0", "--history", "20000", "--db", ":memory:", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    harness_path(path, sizeof path, "logs/soon.jsonl");
    hproc_t *logger = s_logger_start("-p", port, "-r", "soon", "-d", dir, "--sub-hwm", "1");
    s_wait_stderr(logger, "recording from");
    hclient_t *alice = s_talker_in(broker, "alice", "soon");  // 1
    hclient_say(alice, "soon", "first");                      // 2
    s_wait_jsonl(path, "soon", 2);

    hproc_signal(logger, SIGSTOP);
    char big[4001];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 12000; i++) {
        hclient_sendf(alice, "{\"type\":\"say\",\"room\":\"soon\",\"text\":\"%d %s\"}", i, big);
        if (i % 150 == 149) {  // a round trip now and then: the broker keeps up with the burst
            s_run.pinged_at = 0;
            s_tick();
        }
    }
    s_run.pinged_at = 0;
    s_tick();  // every say handled
    hproc_signal(logger, SIGCONT);
    int64_t last = s_room_seq(alice, "soon");
    s_scan_t scan = s_wait_jsonl(path, "soon", last);
    CHECK(scan.lost == 0 && scan.lines == last, "%d lines for %" PRId64, scan.lines, last);
    s_finish();
}

// The broker goes away and its command port is taken by a PUB socket (another broker's feed):
// the logger's DEALER fails the handshake there, libzmq drops its pipe for good, and a
// blocking send would wait forever. The logger must still see the broker is gone, and stop
// on SIGTERM.
void
test_logger_port_taken(void)
{
    char port[16], feed_port[16], other[16], unused[16];
    s_free_ports(port, feed_port, sizeof port);
    // A heartbeat of 1 s: the logger polls again before it could call the broker silent
    hbroker_t *broker =
        hbroker_start("--heartbeat", "1000", "--port", port, "--feed-port", feed_port, NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "r");
    char dir[PATH_MAX], path[PATH_MAX];
    harness_path(dir, sizeof dir, "logs");
    harness_path(path, sizeof path, "logs/r.jsonl");
    hproc_t *logger = s_logger_start("-p", port, "-r", "r", "-d", dir);
    s_wait_jsonl(path, "r", 1);
    hbroker_stop(broker);
    s_free_ports(other, unused, sizeof other);
    hbroker_start("--heartbeat", "1000", "--port", other, "--feed-port", port, NULL);
    s_wait_stderr(logger, "lost the broker");
    s_finish();
}

// How many times text occurs in the file at path
static int
s_occurrences(const char *path, const char *text)
{
    size_t size = 0;
    char *data = harness_slurp(path, &size);
    int count = 0;
    for (const char *at = data ? strstr(data, text) : NULL; at; at = strstr(at + 1, text))
        count++;
    free(data);
    return count;
}

// Text into one file from two rooms, restarted again and again: every line stays, once. (The
// state records of one flush come in table order, not file order; the restart must keep the
// log up to the furthest of them.)
void
test_logger_text_restarts(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "alpha");
    hclient_join(alice, "beta");
    char path[PATH_MAX];
    harness_path(path, sizeof path, "all.log");
    for (int round = 1; round <= 14; round++) {
        hproc_t *logger =
            s_logger_start("-p", port, "-r", "alpha", "-r", "beta", "--format", "text", "-o", path);
        char a[16], b[16];
        snprintf(a, sizeof a, "A%d-x", round);
        snprintf(b, sizeof b, "B%d-x", round);
        hclient_say(alice, "alpha", a);
        hclient_say(alice, "beta", b);
        int64_t deadline = harness_now_ms() + 10000;
        while (s_occurrences(path, b) == 0 && harness_now_ms() < deadline) {
            struct timespec pause = {0, 20 * 1000000L};
            nanosleep(&pause, NULL);
        }
        CHECK(s_occurrences(path, b) == 1, "round %d: %s never recorded", round, b);
        s_logger_stop(logger);
    }
    hproc_t *logger =
        s_logger_start("-p", port, "-r", "alpha", "-r", "beta", "--format", "text", "-o", path);
    hclient_say(alice, "beta", "last-x");
    int64_t deadline = harness_now_ms() + 10000;
    while (s_occurrences(path, "last-x") == 0 && harness_now_ms() < deadline) {
        struct timespec pause = {0, 20 * 1000000L};
        nanosleep(&pause, NULL);
    }
    for (int round = 1; round <= 14; round++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "A%d-x", round);
        snprintf(b, sizeof b, "B%d-x", round);
        CHECK(s_occurrences(path, a) == 1 && s_occurrences(path, b) == 1,
              "round %d: %s x%d, %s x%d", round, a, s_occurrences(path, a), b,
              s_occurrences(path, b));
    }
    s_logger_stop(logger);
    s_finish();
}
