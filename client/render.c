// render.c - an event -> the line a person reads: zchat's lines and zchat-logger's text format
//
// A line is built from pieces, each made safe on its own (the clock, the room tag, the name, the
// text); colors are added around safe pieces, so the only escape sequences in a line are ours.
#include "zchat_prelude.h"
#include "render.h"
#include "zchat_text.h"

#include <time.h>

#define RENDER_DIM   "\033[2m"
#define RENDER_RESET "\033[0m"

// --- Time ---

static struct tm
s_local_time(int64_t ts)
{
    time_t seconds = (time_t)(ts / 1000);
    struct tm tm;
    if (!localtime_r(&seconds, &tm))
        memset(&tm, 0, sizeof tm);
    return tm;
}

void
render_clock(int64_t ts, char *buf, size_t size)
{
    assert(buf && size >= RENDER_CLOCK_SIZE);
    struct tm tm = s_local_time(ts);
    strftime(buf, size, "[%H:%M:%S]", &tm);
}

int
render_date(int64_t ts, char *buf, size_t size)
{
    assert(buf && size >= RENDER_DATE_SIZE);
    struct tm tm = s_local_time(ts);
    strftime(buf, size, "--- %Y-%m-%d ---", &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

int64_t
render_ts(const zchat_msg_t *event)
{
    assert(event);
    int64_t ts = 0;
    zchat_msg_opt_int(event, "ts", &ts);
    return ts > 0 ? ts : zclock_time();
}

// --- Pieces ---

// The color of a name: a hash of its folded spelling, so Alice looks the same in every line
// and alice cannot pick another color by changing case
static int
s_name_color(const char *name)
{
    // No dark blue (34): it is unreadable on the usual black background
    static const int palette[] = {31, 32, 33, 35, 36, 91, 92, 93, 94, 95, 96};
    uint32_t hash = 2166136261u;  // FNV-1a
    for (const char *c = name; *c; c++) {
        unsigned char byte = (unsigned char)*c;
        if (byte >= 'A' && byte <= 'Z')
            byte = (unsigned char)(byte - 'A' + 'a');
        hash = (hash ^ byte) * 16777619u;
    }
    return palette[hash % (sizeof palette / sizeof palette[0])];
}

// name made safe, and bold in its color when color is on. Caller frees.
static char *
s_paint(const char *name, bool color)
{
    char *safe = zchat_text_safe(name);
    if (!color)
        return safe;
    char *painted = zsys_sprintf("\033[1;%dm%s" RENDER_RESET, s_name_color(name), safe);
    free(safe);
    return painted;
}

// The room tag of a line, safe: "#room", or "" for none (see render_event). chat: the line of
// a message, which names no room in its words. Caller frees.
static char *
s_tag(const char *room, const char *current, bool chat)
{
    if (!room || (current && (!chat || streq(room, current))))
        return zsys_sprintf("%s", "");
    char *raw = zsys_sprintf("#%s", room);
    char *tag = zchat_text_safe(raw);
    free(raw);
    return tag;
}

// "[HH:MM:SS] tag *** text ***", dimmed when color is on; no clock when ts is 0. tag must be
// safe ("" for none); text is made safe. Caller frees.
static char *
s_system_line(int64_t ts, const char *tag, const char *text, bool color)
{
    char clock[RENDER_CLOCK_SIZE] = "";
    if (ts > 0)
        render_clock(ts, clock, sizeof clock);
    char *safe = zchat_text_safe(text);
    char *line =
        zsys_sprintf("%s%s%s%s%s*** %s ***%s", color ? RENDER_DIM : "", clock, ts > 0 ? " " : "",
                     tag, *tag ? " " : "", safe, color ? RENDER_RESET : "");
    free(safe);
    return line;
}

// "[HH:MM:SS] tag From: text", the clock dimmed and the name painted when color is on. tag
// ("#lobby", "[PRIVATE]") must be safe, "" for none; from and text are made safe. Caller frees.
static char *
s_chat_line(int64_t ts, const char *tag, const char *from, const char *text, bool color)
{
    char clock[RENDER_CLOCK_SIZE];
    render_clock(ts, clock, sizeof clock);
    char *name = s_paint(from, color);
    char *body = zchat_text_safe(text);
    char *line = zsys_sprintf("%s%s%s %s%s%s: %s", color ? RENDER_DIM : "", clock,
                              color ? RENDER_RESET : "", tag, *tag ? " " : "", name, body);
    free(name);
    free(body);
    return line;
}

// --- Lines ---

char *
render_presence(const zchat_msg_t *event)
{
    assert(event);
    const char *user = zchat_msg_string(event, "user");
    const char *room = zchat_msg_string(event, "room");
    const char *what = zchat_msg_string(event, "event");
    if (!user || !room || !what)
        return NULL;
    const char *reason = zchat_msg_string(event, "reason");
    const char *note = zchat_msg_string(event, "note");
    const char *status = zchat_msg_string(event, "status");
    char *raw = NULL;
    if (streq(what, "join"))
        raw = zsys_sprintf("%s joined %s", user, room);
    else if (streq(what, "leave") && (!reason || streq(reason, "leave")))
        raw = zsys_sprintf("%s left %s", user, room);
    else if (streq(what, "leave") && note && *note)
        raw = zsys_sprintf("%s left %s (%s: %s)", user, room, reason, note);
    else if (streq(what, "leave"))
        raw = zsys_sprintf("%s left %s (%s)", user, room, reason);
    else if (streq(what, "status") && status && streq(status, "online"))
        raw = zsys_sprintf("%s is back", user);
    else if (streq(what, "status") && status && note && *note)
        raw = zsys_sprintf("%s is %s: %s", user, status, note);
    else if (streq(what, "status") && status)
        raw = zsys_sprintf("%s is %s", user, status);
    if (!raw)
        return NULL;
    char *safe = zchat_text_safe(raw);
    free(raw);
    return safe;
}

char *
render_event(const zchat_msg_t *event, const char *current, bool color)
{
    assert(event);
    const char *type = zchat_msg_type(event);
    const char *room = zchat_msg_string(event, "room");
    if (!type || !room)
        return NULL;
    char *line = NULL;
    if (streq(type, "message")) {
        const char *from = zchat_msg_string(event, "from");
        const char *text = zchat_msg_string(event, "text");
        if (!from || !text)
            return NULL;
        char *tag = s_tag(room, current, true);
        line = s_chat_line(render_ts(event), tag, from, text, color);
        free(tag);
    } else if (streq(type, "presence")) {
        char *text = render_presence(event);
        if (!text)
            return NULL;
        char *tag = s_tag(room, current, false);
        line = s_system_line(render_ts(event), tag, text, color);
        free(tag);
        free(text);
    }
    return line;
}

char *
render_unknown(const zchat_msg_t *event, const char *current)
{
    assert(event);
    int64_t seq = 0;
    zchat_msg_opt_int(event, "seq", &seq);
    const char *type = zchat_msg_type(event);
    const char *user = zchat_msg_string(event, "user");
    const char *kind = zchat_msg_string(event, "event");
    char *text = zsys_sprintf("%s event %" PRId64 " (%s%s%s)", type ? type : "unknown", seq,
                              user ? user : "?", kind ? " " : "", kind ? kind : "");
    char *tag = s_tag(zchat_msg_string(event, "room"), current, false);
    char *line = s_system_line(render_ts(event), tag, text, false);
    free(tag);
    free(text);
    return line;
}

char *
render_private(const zchat_msg_t *private, bool color)
{
    assert(private);
    const char *from = zchat_msg_string(private, "from");
    const char *text = zchat_msg_string(private, "text");
    if (!from || !text)
        return NULL;
    return s_chat_line(render_ts(private), "[PRIVATE]", from, text, color);
}

char *
render_notice(int64_t ts, const char *text, bool color)
{
    assert(text);
    return s_system_line(ts, "", text, color);
}

char *
render_lost(int64_t ts, const char *room, uint64_t first, uint64_t last, const char *current,
            bool color)
{
    assert(room && first <= last);
    char *text =
        first == last
            ? zsys_sprintf("event %" PRIu64 " of #%s is lost (no longer in the broker's history)",
                           first, room)
            : zsys_sprintf("events %" PRIu64 "-%" PRIu64
                           " of #%s are lost (no longer in the broker's history)",
                           first, last, room);
    char *tag = s_tag(room, current, false);
    char *line = s_system_line(ts, tag, text, color);
    free(tag);
    free(text);
    return line;
}

// --- Self-test: every line as a person reads it, in UTC ---

static zchat_msg_t *
s_decode(const char *json)
{
    zchat_msg_t *msg = zchat_msg_decode(json, strlen(json), NULL);
    assert(msg);
    return msg;
}

// The line of the event json, without color, for current: expected, or NULL for none
static void
s_check_event(const char *json, const char *current, const char *expected)
{
    zchat_msg_t *event = s_decode(json);
    char *line = render_event(event, current, false);
    if (expected) {
        assert(line);
        assert(streq(line, expected));
    } else {
        assert(!line);
    }
    free(line);
    zchat_msg_destroy(&event);
}

// A presence event of Bob in python at 22:13:20 UTC, with the fields in more
static void
s_check_presence(const char *more, const char *sentence)
{
    char *json = zsys_sprintf("{\"type\":\"presence\",\"room\":\"python\",\"seq\":5,"
                              "\"ts\":1700000000123,\"user\":\"Bob\",%s}",
                              more);
    char *expected = sentence ? zsys_sprintf("[22:13:20] *** %s ***", sentence) : NULL;
    s_check_event(json, "python", expected);
    free(expected);
    free(json);
}

void
render_test(bool verbose)
{
    (void)verbose;
    char *saved_tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", "UTC", 1);
    tzset();

    // The clock and the date, in local time
    char clock[RENDER_CLOCK_SIZE], date[RENDER_DATE_SIZE];
    render_clock(1700000000123, clock, sizeof clock);  // 2023-11-14 22:13:20 UTC
    assert(streq(clock, "[22:13:20]"));
    assert(render_date(1700000000123, date, sizeof date) == 20231114);
    assert(streq(date, "--- 2023-11-14 ---"));
    zchat_msg_t *undated = s_decode("{\"type\":\"message\",\"room\":\"r\",\"seq\":1}");
    int64_t now = zclock_time();
    assert(render_ts(undated) >= now && render_ts(undated) < now + 60000);
    zchat_msg_destroy(&undated);

    // Messages: the room's tag unless it is the one looked at; NULL: every line has its tag
    const char *hello = "{\"type\":\"message\",\"room\":\"lobby\",\"seq\":3,\"ts\":1700000000123,"
                        "\"from\":\"Alice\",\"text\":\"Hello everyone!\"}";
    s_check_event(hello, "lobby", "[22:13:20] Alice: Hello everyone!");
    s_check_event(hello, "python", "[22:13:20] #lobby Alice: Hello everyone!");
    s_check_event(hello, "", "[22:13:20] #lobby Alice: Hello everyone!");
    s_check_event(hello, NULL, "[22:13:20] #lobby Alice: Hello everyone!");
    s_check_event("{\"type\":\"message\",\"room\":\"lobby\",\"seq\":3}", "lobby", NULL);
    s_check_event("{\"type\":\"mystery\",\"room\":\"lobby\",\"seq\":3}", "lobby", NULL);

    // Presence: every sentence; the room's tag only for one output of every room
    s_check_presence("\"event\":\"join\"", "Bob joined python");
    s_check_presence("\"event\":\"leave\",\"reason\":\"quit\"", "Bob left python (quit)");
    s_check_presence("\"event\":\"leave\",\"reason\":\"quit\",\"note\":\"bye all\"",
                     "Bob left python (quit: bye all)");
    s_check_presence("\"event\":\"leave\",\"reason\":\"timeout\",\"note\":\"\"",
                     "Bob left python (timeout)");
    s_check_presence("\"event\":\"leave\",\"reason\":\"leave\"", "Bob left python");
    s_check_presence("\"event\":\"leave\"", "Bob left python");
    s_check_presence("\"event\":\"status\",\"status\":\"away\",\"note\":\"lunch\"",
                     "Bob is away: lunch");
    s_check_presence("\"event\":\"status\",\"status\":\"away\"", "Bob is away");
    s_check_presence("\"event\":\"status\",\"status\":\"online\",\"note\":\"x\"", "Bob is back");
    s_check_presence("\"event\":\"status\"", NULL);
    s_check_presence("\"event\":\"wave\"", NULL);
    const char *join = "{\"type\":\"presence\",\"room\":\"python\",\"seq\":4,"
                       "\"ts\":1700000000123,\"user\":\"Bob\",\"event\":\"join\"}";
    s_check_event(join, "lobby", "[22:13:20] *** Bob joined python ***");
    s_check_event(join, NULL, "[22:13:20] #python *** Bob joined python ***");

    // What render_event leaves out still gets a line
    zchat_msg_t *wave = s_decode("{\"type\":\"presence\",\"room\":\"python\",\"seq\":5,"
                                 "\"ts\":1700000000123,\"user\":\"Bob\",\"event\":\"wave\"}");
    char *line = render_unknown(wave, "python");
    assert(streq(line, "[22:13:20] *** presence event 5 (Bob wave) ***"));
    free(line);
    line = render_unknown(wave, NULL);
    assert(streq(line, "[22:13:20] #python *** presence event 5 (Bob wave) ***"));
    free(line);
    zchat_msg_destroy(&wave);

    // Private messages, notices, lost events
    zchat_msg_t *private = s_decode("{\"type\":\"private\",\"from\":\"Bob\",\"to\":\"Alice\","
                                    "\"text\":\"I'm good, thanks!\",\"ts\":1700000000123}");
    line = render_private(private, false);
    assert(streq(line, "[22:13:20] [PRIVATE] Bob: I'm good, thanks!"));
    free(line);
    zchat_msg_destroy(&private);
    line = render_notice(0, "Joined room: python", false);
    assert(streq(line, "*** Joined room: python ***"));
    free(line);
    line = render_notice(1700000000123, "Reconnected", false);
    assert(streq(line, "[22:13:20] *** Reconnected ***"));
    free(line);
    line = render_lost(1700000000123, "python", 3, 7, "python", false);
    assert(streq(line, "[22:13:20] *** events 3-7 of #python are lost (no longer in the "
                       "broker's history) ***"));
    free(line);
    line = render_lost(1700000000123, "python", 3, 7, NULL, false);
    assert(streq(line, "[22:13:20] #python *** events 3-7 of #python are lost (no longer in the "
                       "broker's history) ***"));
    free(line);
    line = render_lost(1700000000123, "python", 4, 4, "lobby", false);
    assert(streq(line, "[22:13:20] *** event 4 of #python is lost (no longer in the broker's "
                       "history) ***"));
    free(line);

    // Nothing from the wire reaches the terminal raw: no escape, no bidi override, no line end
    zchat_msg_t *hostile = s_decode("{\"type\":\"message\",\"room\":\"lob\\u001b[2Jby\",\"seq\":3,"
                                    "\"ts\":1700000000123,\"from\":\"Eve\\u001b]0;x\\u0007\","
                                    "\"text\":\"\\u001b[2J\\u009b31m\\u202eevil\\r\\n\"}");
    for (int color = 0; color < 2; color++) {
        line = render_event(hostile, "lobby", color);
        assert(line);
        if (!color)
            assert(!strchr(line, '\033'));
        assert(!strchr(line, '\a') && !strchr(line, '\r') && !strchr(line, '\n'));
        assert(!strstr(line, "\xc2\x9b") && !strstr(line, "\xe2\x80\xae"));
        assert(strstr(line, "#lob\xef\xbf\xbd[2Jby "));  // U+FFFD stands in for each ESC
        // With colors, every ESC is one of ours: a color or a reset, each followed by '['
        for (const char *esc = strchr(line, '\033'); esc; esc = strchr(esc + 1, '\033'))
            assert(esc[1] == '[' && (esc[2] == '0' || esc[2] == '1' || esc[2] == '2'));
        free(line);
    }
    line = render_unknown(hostile, NULL);
    assert(!strchr(line, '\033'));
    free(line);
    zchat_msg_destroy(&hostile);
    line = render_notice(0, "\033[2Jtyped\r", false);
    assert(streq(line, "*** \xef\xbf\xbd[2Jtyped\xef\xbf\xbd ***"));
    free(line);

    // Colors: stable, case-blind, from the palette; painting makes names safe too
    assert(s_name_color("Alice") == s_name_color("alice"));
    assert(s_name_color("Alice") == s_name_color("ALICE"));
    bool differ = false;
    const char *names[] = {"Bob", "Carol", "Dave", "Eve", "Mallory", "Trent"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int c = s_name_color(names[i]);
        assert((c >= 31 && c <= 36 && c != 34) || (c >= 91 && c <= 96));
        differ = differ || c != s_name_color("Alice");
    }
    assert(differ);
    char *painted = s_paint("Bob", true);
    char expected[32];
    snprintf(expected, sizeof expected, "\033[1;%dmBob\033[0m", s_name_color("Bob"));
    assert(streq(painted, expected));
    free(painted);
    painted = s_paint("Bob", false);
    assert(streq(painted, "Bob"));
    free(painted);
    line = render_notice(1, "x", true);
    assert(strncmp(line, RENDER_DIM, strlen(RENDER_DIM)) == 0);
    assert(strcmp(line + strlen(line) - strlen(RENDER_RESET), RENDER_RESET) == 0);
    free(line);

    if (saved_tz)
        setenv("TZ", saved_tz, 1);
    else
        unsetenv("TZ");
    free(saved_tz);
    tzset();
}
