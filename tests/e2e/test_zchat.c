// test_zchat.c - e2e: the zchat CLI against a real broker. Scripted runs over pipes (non-tty
// mode: plain lines, one line one command) for every command and error path, presence, private
// messages, a broker restart and escape injection; and one run in a real terminal (tmux) that
// checks an incoming line leaves a half-typed line alone.
#include "zchat_prelude.h"
#include "harness.h"
#include "hproc.h"
#include "htmux.h"
#include "tests_zchat.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_LINE_MS      5000  // how long a line may take to show (a gap fill waits for a heartbeat)
#define S_EXIT_MS      5000  // how long zchat may take to exit once told to
#define S_CONNECT_MS   3000  // zchat's connect timeout
#define S_HEARTBEAT    "2000"  // broker heartbeat: idle harness clients live 6 s
#define S_MAX_CHILDREN 32
#define S_RLO          "\xe2\x80\xae"  // U+202E RIGHT-TO-LEFT OVERRIDE
#define S_FFFD         "\xef\xbf\xbd"  // U+FFFD, what zchat shows instead of a control

typedef struct {
    char name[32];      // for messages: the user name
    hproc_t *proc;      // the process; its stdout is a pipe
    bool ended;         // its stdout reached end of file
    size_t line_start;  // where the line being read starts in its output
    char **lines;       // complete lines, without newline
    bool *used;         // lines already matched by an expectation
    size_t line_count;
} s_zchat_t;

// A raw client kept alive (pinged) while an expectation waits: for short heartbeats
static hclient_t *s_keepalive;

// Transcripts of the children (hproc kills them): freed at the end of the test
static s_zchat_t *s_children[S_MAX_CHILDREN];
static bool s_registered;

static void
s_cleanup(void)
{
    for (int i = 0; i < S_MAX_CHILDREN; i++) {
        s_zchat_t *z = s_children[i];
        if (!z)
            continue;
        for (size_t l = 0; l < z->line_count; l++)
            free(z->lines[l]);
        free(z->lines);
        free(z->used);
        free(z);
        s_children[i] = NULL;
    }
    s_registered = false;
}

// A loopback port where nothing listens
static int
s_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: %s", strerror(errno));
    socklen_t size = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &size) == 0, "getsockname");
    close(fd);  // bound, never listened: connecting there is refused
    return ntohs(addr.sin_port);
}

// --- A zchat child over pipes ---

// Start zchat with args (NULL-terminated; the binary is added in front)
static s_zchat_t *
s_zchat_spawn(const char *name, const char *const args[])
{
    int slot = 0;
    while (slot < S_MAX_CHILDREN && s_children[slot])
        slot++;
    CHECK(slot < S_MAX_CHILDREN, "too many zchat children");
    if (!s_registered) {
        harness_on_end(NULL, NULL, s_cleanup);
        s_registered = true;
    }
    s_zchat_t *z = zmalloc(sizeof(s_zchat_t));
    s_children[slot] = z;
    snprintf(z->name, sizeof z->name, "%s", name);
    z->proc = hproc_start_argv("zchat", z->name, HPROC_OUT_PIPE, args);
    return z;
}

// zchat logged in as user on broker, with extra args (NULL-terminated, may be empty)
static s_zchat_t *
s_zchat_start_argv(hbroker_t *broker, const char *user, const char *const extra[])
{
    char port[16];
    snprintf(port, sizeof port, "%d", hbroker_port(broker));
    const char *args[32] = {"-H", "127.0.0.1", "-p", port, "-u", user};
    int argc = 6;
    for (int i = 0; extra[i] && argc < 31; i++)
        args[argc++] = extra[i];
    args[argc] = NULL;
    return s_zchat_spawn(user, args);
}
#define s_zchat_start(broker, user, ...)                                                           \
    s_zchat_start_argv(broker, user, (const char *const[]){__VA_ARGS__})

// A line without its "[HH:MM:SS] " clock
static const char *
s_body(const char *line)
{
    if (strlen(line) >= 11 && line[0] == '[' && line[3] == ':' && line[6] == ':' &&
        line[9] == ']' && line[10] == ' ')
        return line + 11;
    return line;
}

static void
s_add_line(s_zchat_t *z, const char *start, size_t length)
{
    z->lines = realloc(z->lines, (z->line_count + 1) * sizeof(char *));
    z->used = realloc(z->used, (z->line_count + 1) * sizeof(bool));
    assert(z->lines && z->used);
    char *line = zmalloc(length + 1);
    memcpy(line, start, length);
    z->lines[z->line_count] = line;
    z->used[z->line_count] = false;
    z->line_count++;
    harness_note("%s| %s", z->name, line);
}

// Read what is there, waiting up to timeout_ms for something, and split it into lines.
// Returns false at end of file.
static bool
s_zchat_read(s_zchat_t *z, int timeout_ms)
{
    bool more = !z->ended && hproc_read(z->proc, timeout_ms);
    const char *raw = hproc_output(z->proc);
    size_t raw_size = hproc_output_size(z->proc);
    const char *newline;
    while ((newline = memchr(raw + z->line_start, '\n', raw_size - z->line_start))) {
        s_add_line(z, raw + z->line_start, (size_t)(newline - (raw + z->line_start)));
        z->line_start = (size_t)(newline - raw) + 1;
    }
    if (!more && !z->ended) {
        z->ended = true;  // the last line may have no newline
        if (raw_size > z->line_start)
            s_add_line(z, raw + z->line_start, raw_size - z->line_start);
        z->line_start = raw_size;
    }
    return more;
}

// Everything it printed, for failure messages (borrowed until the next call)
static const char *
s_transcript(s_zchat_t *z)
{
    static char text[8192];
    size_t used = 0;
    text[0] = 0;
    size_t first = z->line_count > 60 ? z->line_count - 60 : 0;
    for (size_t l = first; l < z->line_count && used + 2 < sizeof text; l++)
        used +=
            (size_t)snprintf(text + used, sizeof text - used, "\n    %s| %s", z->name, z->lines[l]);
    return text;
}

// The index of the first unused line after line after whose body is text (or starts with it),
// or -1
static int
s_find(s_zchat_t *z, int after, const char *text, bool prefix)
{
    for (size_t l = (size_t)(after + 1); l < z->line_count; l++) {
        const char *body = s_body(z->lines[l]);
        if (!z->used[l] && (prefix ? strncmp(body, text, strlen(text)) == 0 : streq(body, text)))
            return (int)l;
    }
    return -1;
}

// Wait for a line after line after whose body (after the clock) is text, or starts with it;
// mark it used and return its index
static int
s_expect_at(const char *file, int line, s_zchat_t *z, int after, const char *text, bool prefix)
{
    int64_t deadline = zclock_mono() + S_LINE_MS;
    int64_t next_ping = zclock_mono() + 100;
    while (true) {
        if (s_keepalive && zclock_mono() >= next_ping) {
            hclient_ping_at(file, line, s_keepalive);
            next_ping = zclock_mono() + 100;
        }
        int found = s_find(z, after, text, prefix);
        if (found >= 0) {
            z->used[found] = true;
            return found;
        }
        int64_t left = deadline - zclock_mono();
        if (left <= 0 || !s_zchat_read(z, (int)(left < 100 ? left : 100))) {
            if (s_find(z, after, text, prefix) >= 0)
                continue;
            harness_fail(file, line, "%s never showed \"%s\"%s; its output:%s", z->name, text,
                         prefix ? "..." : "", s_transcript(z));
        }
    }
}
#define s_expect(z, text)              s_expect_at(__FILE__, __LINE__, z, -1, text, false)
#define s_expect_start(z, text)        s_expect_at(__FILE__, __LINE__, z, -1, text, true)
#define s_expect_after(z, after, text) s_expect_at(__FILE__, __LINE__, z, after, text, false)

// How many lines so far have exactly this body
static int
s_count(s_zchat_t *z, const char *text)
{
    int count = 0;
    for (size_t l = 0; l < z->line_count; l++)
        if (streq(s_body(z->lines[l]), text))
            count++;
    return count;
}

// Read for ms: whatever arrives meanwhile is collected
static void
s_settle(s_zchat_t *z, int ms)
{
    int64_t until = zclock_mono() + ms;
    while (zclock_mono() < until && s_zchat_read(z, 20))
        ;
}

// Type a line (a newline is added)
static void
s_type(s_zchat_t *z, const char *line)
{
    hproc_type_line(z->proc, line);
}

static void
s_close_stdin(s_zchat_t *z)
{
    hproc_close_stdin(z->proc);
}

// A program under the sanitizers that complained on stderr fails the test, as does CZMQ's
// report of sockets left open
static void
s_check_stderr_at(const char *file, int line, const char *name, const char *err)
{
    if (strstr(err, "dangling") || strstr(err, "Sanitizer") || strstr(err, "runtime error"))
        harness_fail(file, line, "%s complained on stderr: %s", name, err);
}

// Wait for the exit (reading its output meanwhile) and return the exit code; fails on a
// signal, a timeout, or a sanitizer or CZMQ complaint on stderr
static int
s_wait_exit_at(const char *file, int line, s_zchat_t *z, int timeout_ms)
{
    int code = hproc_wait_exit_at(file, line, z->proc, timeout_ms);
    s_zchat_read(z, 0);
    s_check_stderr_at(file, line, z->name, hproc_stderr(z->proc));
    return code;
}
#define s_wait_exit(z, ms) s_wait_exit_at(__FILE__, __LINE__, z, ms)

// The greeting of a fresh login, in order
static void
s_expect_greeting_at(const char *file, int line, s_zchat_t *z, hbroker_t *broker)
{
    char text[128];
    snprintf(text, sizeof text, "Connected to 127.0.0.1:%d", hbroker_port(broker));
    int connected = s_expect_at(file, line, z, -1, text, false);
    snprintf(text, sizeof text, "Welcome to the chat, %s!", z->name);
    int welcome = s_expect_at(file, line, z, -1, text, false);
    snprintf(text, sizeof text, "*** %s joined lobby ***", z->name);
    int joined = s_expect_at(file, line, z, -1, text, false);
    if (!(connected < welcome && welcome < joined))
        harness_fail(file, line, "greeting out of order:%s", s_transcript(z));
}
#define s_expect_greeting(z, broker) s_expect_greeting_at(__FILE__, __LINE__, z, broker)

// Say "sync" in room from a raw client and wait until z shows it: from then on z's feed is live.
// A talker that watches room (s_watch) gets its own message on its feed: taken off there too.
static void
s_sync(s_zchat_t *z, hclient_t *talker, const char *talker_name, const char *room,
       const char *shown_as, bool watching)
{
    hclient_say(talker, room, "sync");
    if (watching)
        hclient_expect_message(talker, room, talker_name, "sync");
    char text[128];
    snprintf(text, sizeof text, "%s%s: sync", shown_as, talker_name);
    s_expect(z, text);
}

// Bob's SUB on room, in sync (his own "sync" messages show in zchat too)
static void
s_watch(hclient_t *client, const char *room)
{
    char topic[64];
    snprintf(topic, sizeof topic, "room/%s/", room);
    hclient_subscribe(client, topic);
    hclient_sync_feed(client, client, room);
}

// --- Options, start, exit ---

void
test_zchat_options(void)
{
    // --help and --version on stdout, exit 0, no connection attempted
    s_zchat_t *z = s_zchat_spawn("help", (const char *const[]){"--help", NULL});
    CHECK(s_wait_exit(z, S_EXIT_MS) == 0, "--help exit code");
    const char *options[] = {"-H, --host", "-p, --port", "-u, --user", "-r, --room",
                             "--no-color", "--help",     "--version",  "NO_COLOR"};
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        CHECK(strstr(hproc_output(z->proc), options[i]), "--help does not mention %s: %s",
              options[i], hproc_output(z->proc));
    z = s_zchat_spawn("version", (const char *const[]){"--version", NULL});
    CHECK(s_wait_exit(z, S_EXIT_MS) == 0, "--version exit code");
    CHECK(strstr(hproc_output(z->proc), ZCHAT_VERSION), "--version does not say %s: %s",
          ZCHAT_VERSION, hproc_output(z->proc));

    // Bad options: exit 2 with one line on stderr, nothing on stdout
    const char *const bad[][8] = {
        {"--bogus", "-u", "Alice", NULL},
        {"-p", "70000", "-u", "Alice", NULL},
        {"-p", "12x", "-u", "Alice", NULL},
        {"-u", "9lives", NULL},
        {"-u", "Alice", "-r", "bad room!", NULL},
        {"-u", "Alice", "stray", NULL},
        {"-u", NULL},
        {"-H", "127.0.0.1", NULL},  // stdin is a pipe: -u is required
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        z = s_zchat_spawn("bad", bad[i]);
        int code = s_wait_exit(z, S_EXIT_MS);
        const char *err = hproc_stderr(z->proc);
        CHECK(code == 2, "case %zu (%s): exit %d, expected 2; stderr: %s", i, bad[i][0], code, err);
        const char *newline = strchr(err, '\n');
        CHECK(newline && !newline[1] && strncmp(err, "zchat: ", 7) == 0,
              "case %zu: expected one \"zchat: ...\" line on stderr, got: %s", i, err);
        CHECK(hproc_output_size(z->proc) == 0, "case %zu: printed on stdout: %s", i,
              hproc_output(z->proc));
    }
}

void
test_zchat_unreachable(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", s_dead_port());
    int64_t start = zclock_mono();
    s_zchat_t *z = s_zchat_spawn(
        "Alice", (const char *const[]){"-H", "127.0.0.1", "-p", port, "-u", "Alice", NULL});
    int code = s_wait_exit(z, S_CONNECT_MS + 3000);
    int64_t took = zclock_mono() - start;
    const char *err = hproc_stderr(z->proc);
    CHECK(code == 1, "exit %d, expected 1; stderr: %s", code, err);
    CHECK(took < S_CONNECT_MS + 2000, "took %" PRId64 " ms to give up", took);
    CHECK(strstr(err, "cannot reach") && strstr(err, port), "unclear message: %s", err);
    CHECK(!strstr(hproc_output(z->proc), "Welcome"), "welcomed by nobody: %s",
          hproc_output(z->proc));
}

// A host name that does not resolve is said to be unknown, not reported as a broker that does
// not answer (".invalid" never resolves: RFC 6761)
void
test_zchat_unknown_host(void)
{
    s_zchat_t *z = s_zchat_spawn("Alice", (const char *const[]){"-H", "no-such-host.invalid", "-p",
                                                                "12345", "-u", "Alice", NULL});
    int code = s_wait_exit(z, 30000);  // a resolver without network may take its time to say so
    const char *err = hproc_stderr(z->proc);
    CHECK(code == 1, "exit %d, expected 1; stderr: %s", code, err);
    CHECK(strstr(err, "unknown host no-such-host.invalid") && !strstr(err, "cannot reach"),
          "unclear message: %s", err);
}

void
test_zchat_login_refused(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    hclient_login(broker, "bob");
    s_zchat_t *z = s_zchat_start(broker, "Bob", NULL);  // names clash case-insensitively
    int code = s_wait_exit(z, S_CONNECT_MS + 3000);
    const char *err = hproc_stderr(z->proc);
    CHECK(code == 1, "exit %d, expected 1; stderr: %s", code, err);
    CHECK(strstr(err, "login refused") && strstr(err, "in use"), "unclear message: %s", err);
    CHECK(!strstr(hproc_output(z->proc), "Welcome"), "welcomed although refused: %s",
          hproc_output(z->proc));
}

void
test_zchat_exit(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    // Seven clients leave seven ways; each must send quit and exit 0
    s_zchat_t *quit = s_zchat_start(broker, "Quitter", NULL);
    s_zchat_t *eof = s_zchat_start(broker, "Eof", NULL);
    s_zchat_t *term = s_zchat_start(broker, "Term", NULL);
    s_zchat_t *intr = s_zchat_start(broker, "Intr", NULL);
    s_zchat_t *hup = s_zchat_start(broker, "Hup", NULL);
    s_zchat_t *sigquit = s_zchat_start(broker, "Sigquit", NULL);
    signal(SIGHUP, SIG_IGN);  // as nohup and a script's "&" start it: inherited, and kept
    signal(SIGINT, SIG_IGN);
    s_zchat_t *nohup = s_zchat_start(broker, "Nohup", NULL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    s_expect_greeting(nohup, broker);
    s_expect_greeting(quit, broker);
    s_expect_greeting(eof, broker);
    s_expect_greeting(term, broker);
    s_expect_greeting(intr, broker);
    s_expect_greeting(hup, broker);
    s_expect_greeting(sigquit, broker);
    hclient_t *bob = hclient_login(broker, "Bob");
    s_watch(bob, "lobby");

    s_type(quit, "/quit see you later");
    CHECK(s_wait_exit(quit, S_EXIT_MS) == 0, "exit code after /quit");
    cJSON *leave = hclient_expect_presence(bob, "lobby", "Quitter", "leave", "quit");
    jcheck_str(leave, "note", "see you later");

    s_close_stdin(eof);
    CHECK(s_wait_exit(eof, S_EXIT_MS) == 0, "exit code at end of input");
    leave = hclient_expect_presence(bob, "lobby", "Eof", "leave", "quit");
    jcheck_absent(leave, "note");

    hproc_signal(term->proc, SIGTERM);
    CHECK(s_wait_exit(term, S_EXIT_MS) == 0, "exit code after SIGTERM");
    hclient_expect_presence(bob, "lobby", "Term", "leave", "quit");

    hproc_signal(intr->proc, SIGINT);
    CHECK(s_wait_exit(intr, S_EXIT_MS) == 0, "exit code after SIGINT");
    hclient_expect_presence(bob, "lobby", "Intr", "leave", "quit");

    hproc_signal(hup->proc, SIGHUP);  // the terminal closed
    CHECK(s_wait_exit(hup, S_EXIT_MS) == 0, "exit code after SIGHUP");
    hclient_expect_presence(bob, "lobby", "Hup", "leave", "quit");

    hproc_signal(sigquit->proc, SIGQUIT);  // Ctrl-\ on a terminal
    CHECK(s_wait_exit(sigquit, S_EXIT_MS) == 0, "exit code after SIGQUIT");
    hclient_expect_presence(bob, "lobby", "Sigquit", "leave", "quit");

    hproc_signal(nohup->proc, SIGHUP);  // ignored: it stays
    hproc_signal(nohup->proc, SIGINT);
    CHECK(hproc_wait(nohup->proc, 500) == -1, "a zchat started with SIGHUP and SIGINT ignored "
                                              "ended at one of them");
    s_type(nohup, "/quit");
    CHECK(s_wait_exit(nohup, S_EXIT_MS) == 0, "exit code after /quit");
    hclient_expect_presence(bob, "lobby", "Nohup", "leave", "quit");
    hclient_send(bob, "{\"type\":\"users\"}");
    CHECK(cJSON_GetArraySize(jarr(hclient_expect(bob, "users"), "users")) == 1,
          "someone is still online");
}

// --- Chat ---

void
test_zchat_messages(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    hclient_t *bob = hclient_login(broker, "Bob");
    s_expect(alice, "*** Bob joined lobby ***");
    s_watch(bob, "lobby");
    s_sync(alice, bob, "Bob", "lobby", "", true);

    s_type(alice, "Hello everyone!");
    hclient_expect_message(bob, "lobby", "Alice", "Hello everyone!");
    s_expect(alice, "Alice: Hello everyone!");
    hclient_say(bob, "lobby", "Hi Alice!");
    hclient_expect_message(bob, "lobby", "Bob", "Hi Alice!");  // Bob watches the lobby too
    s_expect(alice, "Bob: Hi Alice!");
    // "//" says a line that starts with "/"; blank lines say nothing
    s_type(alice, "");
    s_type(alice, "   ");
    s_type(alice, "//shrug");
    hclient_expect_message(bob, "lobby", "Alice", "/shrug");
    s_expect(alice, "Alice: /shrug");
    // Tabs and UTF-8 pass through
    s_type(alice, "caf\xc3\xa9\tbar");
    hclient_expect_message(bob, "lobby", "Alice", "caf\xc3\xa9\tbar");

    // Presence in another room, and leaves with their reason
    s_type(alice, "/join python");
    s_expect(alice, "*** Joined room: python ***");
    s_expect(alice, "*** Alice joined python ***");
    hclient_join(bob, "python");
    s_expect(alice, "*** Bob joined python ***");
    hclient_send(bob, "{\"type\":\"leave\",\"room\":\"python\"}");
    hclient_expect(bob, "left");
    s_expect(alice, "*** Bob left python ***");
    hclient_join(bob, "python");
    s_expect(alice, "*** Bob joined python ***");
    hclient_send(bob, "{\"type\":\"quit\"}");
    hclient_expect(bob, "bye");
    s_expect(alice, "*** Bob left python (quit) ***");
    s_expect(alice, "*** Bob left lobby (quit) ***");
    hclient_t *carol = hclient_login(broker, "Carol");
    hclient_send(carol, "{\"type\":\"quit\",\"reason\":\"gone fishing\"}");
    hclient_expect(carol, "bye");
    s_expect(alice, "*** Carol left lobby (quit: gone fishing) ***");
    s_type(alice, "/quit");
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    CHECK(s_count(alice, "Alice: Hello everyone!") == 1, "shown twice:%s", s_transcript(alice));
    CHECK(!memchr(hproc_output(alice->proc), '\033', hproc_output_size(alice->proc)),
          "colors on a pipe:%s", s_transcript(alice));
}

void
test_zchat_private(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    hclient_t *bob = hclient_login(broker, "Bob");

    s_type(alice, "/msg Bob How are you?");
    cJSON *private = hclient_expect(bob, "private");
    jcheck_str(private, "from", "Alice");
    jcheck_str(private, "to", "Bob");
    jcheck_str(private, "text", "How are you?");
    s_expect(alice, "*** Private message sent to Bob ***");
    // The recipient matches case-insensitively; the text keeps its inner blanks
    s_type(alice, "/msg bob  two  spaces");
    jcheck_str(hclient_expect(bob, "private"), "text", "two  spaces");
    s_expect(alice, "*** Private message sent to bob ***");

    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"alice\",\"text\":\"I'm good, thanks!\"}");
    s_expect(alice, "[PRIVATE] Bob: I'm good, thanks!");

    // Errors from the broker: one line each, the broker's sentence
    s_type(alice, "/msg Bobby are you there?");
    s_expect(alice, "*** No such user: Bobby ***");
    // Usage lines
    s_type(alice, "/msg");
    s_expect(alice, "*** Usage: /msg <user> <text> ***");
    s_type(alice, "/msg Bob");
    s_expect(alice, "*** Usage: /msg <user> <text> ***");
    // A private message never goes to the room
    s_type(alice, "/who");
    s_expect(alice, "*** Online: Alice, Bob ***");
    hclient_expect_nothing(bob, H_QUIET_MS);
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    CHECK(s_count(alice, "[PRIVATE] Bob: I'm good, thanks!") == 1, "shown twice:%s",
          s_transcript(alice));
}

// A line of ours is shown as in the room it was said in, which was current then: a /join right
// after it does not turn it into another room's line ("#lobby Alice: ...").
void
test_zchat_own_line_room(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    s_type(alice, "said in the lobby");
    s_type(alice, "/join python");
    s_expect(alice, "*** Joined room: python ***");
    s_expect(alice, "Alice: said in the lobby");
    // Someone else's line from a room not current keeps its label
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_say(bob, "lobby", "from bob");
    s_expect(alice, "#lobby Bob: from bob");
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
}

void
test_zchat_rooms(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(bob, "python");
    s_watch(bob, "python");

    // /join makes the room current at once: the next line already goes there
    s_type(alice, "/join #Python");
    s_type(alice, "first in python");
    s_expect(alice, "*** Joined room: python ***");
    hclient_expect_presence(bob, "python", "Alice", "join", NULL);
    hclient_expect_message(bob, "python", "Alice", "first in python");
    s_expect(alice, "Alice: first in python");
    s_sync(alice, bob, "Bob", "python", "", true);

    // Messages of the current room have no prefix, the others have "#room"
    hclient_say(bob, "python", "in python");
    hclient_expect_message(bob, "python", "Bob", "in python");  // Bob watches python too
    s_expect(alice, "Bob: in python");
    hclient_say(bob, "lobby", "hi");
    s_expect(alice, "#lobby Bob: hi");

    // /switch among joined rooms
    s_type(alice, "/switch lobby");
    s_expect(alice, "*** Switched to room: lobby ***");
    s_type(alice, "back in the lobby");
    s_expect(alice, "Alice: back in the lobby");
    hclient_say(bob, "python", "still here");
    hclient_expect_message(bob, "python", "Bob", "still here");
    s_expect(alice, "#python Bob: still here");
    s_type(alice, "/switch nowhere");
    s_expect(alice, "*** You are not in nowhere: /join it first ***");
    s_type(alice, "/switch");
    s_expect(alice, "*** Usage: /switch <room> ***");

    // /rooms, /users, /who
    s_type(alice, "/rooms");
    s_expect(alice, "*** Rooms: lobby (2 users), python (2 users) ***");
    s_type(alice, "/users");
    s_expect(alice, "*** Users in lobby: Alice, Bob ***");
    s_type(alice, "/users python");
    s_expect(alice, "*** Users in python: Alice, Bob ***");
    s_type(alice, "/users nowhere");
    s_expect(alice, "*** No such room: #nowhere ***");
    s_type(alice, "/who");
    s_expect(alice, "*** Online: Alice, Bob ***");
    s_type(alice, "/rooms all");
    s_expect(alice, "*** Usage: /rooms ***");
    s_type(alice, "/users a b");
    s_expect(alice, "*** Usage: /users [room] ***");
    s_type(alice, "/who x");
    s_expect(alice, "*** Usage: /who ***");

    // /leave a room that is not current, then the current one: back to the previous
    s_type(alice, "/leave python");
    s_expect(alice, "*** Left room: python ***");
    hclient_expect_presence(bob, "python", "Alice", "leave", "leave");
    s_type(alice, "/join python");
    s_expect(alice, "*** Joined room: python ***");
    hclient_expect_presence(bob, "python", "Alice", "join", NULL);
    s_type(alice, "/leave");
    s_type(alice, "where am I");
    s_expect(alice, "*** Left room: python ***");
    s_expect(alice, "*** Switched to room: lobby ***");
    s_expect(alice, "Alice: where am I");
    hclient_expect_presence(bob, "python", "Alice", "leave", "leave");
    s_type(alice, "/switch python");
    s_expect(alice, "*** You are not in python: /join it first ***");

    // Errors from the broker, and usage lines
    s_type(alice, "/leave nowhere");
    s_expect(alice, "*** You are not in #nowhere ***");
    s_type(alice, "/join bad!name");
    s_expect_start(alice, "*** Invalid room name");
    s_type(alice, "/join");
    s_expect(alice, "*** Usage: /join <room> ***");
    s_type(alice, "/join a b");
    s_expect(alice, "*** Usage: /join <room> ***");
    s_type(alice, "/leave a b");
    s_expect(alice, "*** Usage: /leave [room] ***");

    // Out of every room: text has nowhere to go
    s_type(alice, "/leave lobby");
    s_expect(alice, "*** You are in no room now: /join one ***");
    s_type(alice, "anyone?");
    s_expect(alice, "*** You are in no room: /join one first ***");
    s_type(alice, "/leave");
    s_expect(alice, "*** You are in no room ***");
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    CHECK(s_count(alice, "Bob: in python") == 1, "shown twice:%s", s_transcript(alice));
    // Every line of output is one whole line: no error spilled over several
    for (size_t l = 0; l < alice->line_count; l++) {
        const char *body = s_body(alice->lines[l]);
        bool system = strncmp(body, "*** ", 4) == 0 && strlen(body) >= 8 &&
                      streq(body + strlen(body) - 4, " ***");
        bool chat = strstr(body, ": ") != NULL;
        bool greeting = strncmp(body, "Connected to", 12) == 0 || strncmp(body, "Welcome", 7) == 0;
        CHECK(system || chat || greeting, "a stray line: \"%s\"", alice->lines[l]);
    }
}

// Type "line 0" to "line <lines - 1>", then the text then, in one write: a paste.
static void
s_paste(s_zchat_t *z, int lines, const char *then)
{
    size_t size = (size_t)lines * 16 + strlen(then) + 1, used = 0;
    char *text = zmalloc(size);
    for (int i = 0; i < lines; i++)
        used += (size_t)snprintf(text + used, size - used, "line %d\n", i);
    snprintf(text + used, size - used, "%s", then);
    hproc_type(z->proc, text);
    free(text);
}

// A paste of many lines at once (or a script's input) reaches the room whole, each line once:
// zchat keeps at most a window of them on their way, so neither its own queue nor the
// broker's reply queue overflows and loses one.
void
test_zchat_paste(void)
{
    enum { LINES = 2000 };
    hbroker_t *broker = hbroker_start("--rate", "0", NULL);
    s_zchat_t *paster = s_zchat_start(broker, "Paster", "-r", "paste", NULL);
    s_expect_greeting(paster, broker);
    s_expect(paster, "*** Joined room: paste ***");  // seq 1
    s_paste(paster, LINES, "/quit\n");
    CHECK(s_wait_exit(paster, 20000) == 0, "exit code");  // its leave: seq LINES + 2
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(bob, "paste");  // seq LINES + 3
    CHECK(hclient_say(bob, "paste", "all there?") == LINES + 4,
          "a line of the paste was lost or sent twice");
}

// A paste into a rate-limited broker: zchat paces itself instead of losing lines to
// "Too many requests": every line arrives once, in order, with no refusal shown.
void
test_zchat_paste_paced(void)
{
    enum { LINES = 30 };
    hbroker_t *broker = hbroker_start("--rate", "20", "--burst", "5", NULL);
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(bob, "paced");
    s_watch(bob, "paced");
    s_zchat_t *paster = s_zchat_start(broker, "Paster", "-r", "paced", NULL);
    s_expect_greeting(paster, broker);
    s_expect(paster, "*** Joined room: paced ***");
    hclient_expect_presence(bob, "paced", "Paster", "join", NULL);
    s_paste(paster, LINES, "");
    for (int i = 0; i < LINES; i++) {
        char line[32];
        snprintf(line, sizeof line, "line %d", i);
        hclient_expect_message(bob, "paced", "Paster", line);
    }
    s_close_stdin(paster);
    CHECK(s_wait_exit(paster, S_EXIT_MS) == 0, "exit code");
    CHECK(s_count(paster, "*** Too many requests: slow down ***") == 0, "a refusal was shown:%s",
          s_transcript(paster));
}

// Lines the broker never acked by the end are not passed over in silence: zchat says so on
// stderr and exits 1 (here the broker is stopped, so nothing it is sent is answered).
void
test_zchat_undelivered(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    hbroker_signal(broker, SIGSTOP);
    s_type(alice, "one");
    s_type(alice, "two");
    s_close_stdin(alice);
    int code = s_wait_exit(alice, 10000);
    hbroker_signal(broker, SIGCONT);
    const char *err = hproc_stderr(alice->proc);
    CHECK(code == 1 && strstr(err, "2 of the messages typed got no ack"), "exit %d, stderr: %s",
          code, err);
}

void
test_zchat_start_room(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", "-r", "#Python", "--no-color", NULL);
    s_expect_greeting(alice, broker);
    s_expect(alice, "*** Joined room: python ***");
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(bob, "python");
    s_watch(bob, "python");
    s_type(alice, "to python");
    hclient_expect_message(bob, "python", "Alice", "to python");
    s_type(alice, "/users");
    s_expect(alice, "*** Users in python: Alice, Bob ***");
    s_type(alice, "/quit");
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
}

void
test_zchat_away(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", "-r", "python", NULL);
    s_expect_greeting(alice, broker);
    s_expect(alice, "*** Joined room: python ***");
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(bob, "python");
    s_watch(bob, "python");
    s_sync(alice, bob, "Bob", "python", "", true);

    s_type(alice, "/away out to lunch");
    s_expect(alice, "*** You are marked as away: out to lunch ***");
    cJSON *status = hclient_expect_presence(bob, "python", "Alice", "status", NULL);
    jcheck_str(status, "status", "away");
    jcheck_str(status, "note", "out to lunch");
    hclient_send(bob, "{\"type\":\"users\",\"room\":\"python\"}");
    cJSON *users = jarr(hclient_expect(bob, "users"), "users");
    cJSON *first = cJSON_GetArrayItem(users, 0);
    jcheck_str(first, "name", "Alice");
    jcheck_str(first, "status", "away");
    jcheck_str(first, "note", "out to lunch");
    s_type(alice, "/who");
    s_expect(alice, "*** Online: Alice (away: out to lunch), Bob ***");
    s_type(alice, "/back");
    s_expect(alice, "*** You are back ***");
    hclient_expect_presence(bob, "python", "Alice", "status", NULL);
    s_type(alice, "/users");
    s_expect(alice, "*** Users in python: Alice, Bob ***");
    s_type(alice, "/away");
    s_expect(alice, "*** You are marked as away ***");
    s_type(alice, "/back now");
    s_expect(alice, "*** Usage: /back ***");
    s_type(alice, "/away \x1b[5m");  // a note is text: no controls
    s_expect(alice, "*** Text must be 0 to 256 bytes of UTF-8 without control characters ***");

    // Bob's status shows once, though it comes from both rooms we share
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"brb\"}");
    hclient_expect(bob, "ok");
    s_expect(alice, "*** Bob is away: brb ***");
    hclient_send(bob, "{\"type\":\"status\",\"status\":\"online\"}");
    hclient_expect(bob, "ok");
    s_expect(alice, "*** Bob is back ***");
    s_type(alice, "/who");
    s_expect(alice, "*** Online: Alice (away), Bob ***");
    CHECK(s_count(alice, "*** Bob is away: brb ***") == 1, "status shown twice:%s",
          s_transcript(alice));
    CHECK(s_count(alice, "*** Alice is away: out to lunch ***") == 0,
          "our own status shown as an event:%s", s_transcript(alice));
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
}

void
test_zchat_history(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_join(bob, "hist");  // seq 1
    char text[16];
    for (int i = 1; i <= 5; i++) {  // seq 2..6
        snprintf(text, sizeof text, "m%d", i);
        hclient_say(bob, "hist", text);
    }
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    s_type(alice, "/join hist");  // seq 7
    s_expect(alice, "*** Joined room: hist ***");
    CHECK(s_count(alice, "Bob: m5") == 0, "history shown without /history:%s", s_transcript(alice));

    s_type(alice, "/history 3");
    int header = s_expect(alice, "*** Last 3 events of hist ***");
    int m4 = s_expect_after(alice, header, "Bob: m4");
    int m5 = s_expect_after(alice, m4, "Bob: m5");
    int join = s_expect_after(alice, m5, "*** Alice joined hist ***");
    int end = s_expect_after(alice, join, "*** End of history ***");
    CHECK(end == join + 1 && join == m5 + 1 && m5 == m4 + 1 && m4 == header + 1,
          "history out of order:%s", s_transcript(alice));
    CHECK(s_count(alice, "Bob: m3") == 0, "more than 3 events:%s", s_transcript(alice));

    s_type(alice, "/history");  // default: 20, so all 7
    header = s_expect(alice, "*** Last 7 events of hist ***");
    s_expect_after(alice, header, "*** Bob joined hist ***");
    s_expect_after(alice, header, "Bob: m1");
    CHECK(s_expect_after(alice, header, "*** End of history ***") == header + 8, "not 7 events:%s",
          s_transcript(alice));
    s_type(alice, "/history 0");
    s_expect(alice, "*** Usage: /history [N] (N from 1 to 1000) ***");
    s_type(alice, "/history lots");
    s_expect(alice, "*** Usage: /history [N] (N from 1 to 1000) ***");
    s_type(alice, "/history 1 2");
    s_expect(alice, "*** Usage: /history [N] ***");

    // The lobby: no event shown there yet, so zchat asks the broker for its last seq first
    s_type(alice, "/switch lobby");
    s_type(alice, "/history 1");
    header = s_expect(alice, "*** Last 1 event of lobby ***");
    s_expect_after(alice, header, "*** Alice joined lobby ***");
    CHECK(s_expect_after(alice, header, "*** End of history ***") == header + 2, "not 1 event:%s",
          s_transcript(alice));
    s_type(alice, "/join empty");
    s_type(alice, "/leave empty");
    s_expect(alice, "*** Left room: empty ***");
    s_type(alice, "/history 5");  // back in the lobby
    s_expect(alice, "*** Last 2 events of lobby ***");
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
}

void
test_zchat_help(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    s_type(alice, "/help");
    s_expect(alice, "*** Commands ***");
    const char *usages[] = {
        "/help",         "/join <room>", "/leave [room]",      "/rooms",
        "/users [room]", "/who",         "/msg <user> <text>", "/switch <room>",
        "/away [note]",  "/back",        "/history [N]",       "/quit [reason]"};
    for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++) {
        char start[64];
        snprintf(start, sizeof start, "  %s ", usages[i]);
        s_expect_start(alice, start);
    }
    s_type(alice, "/help me");
    s_expect(alice, "*** Usage: /help ***");
    s_type(alice, "/frobnicate now");
    s_expect(alice, "*** Unknown command: /frobnicate (try /help) ***");
    s_type(alice, "/");
    s_expect(alice, "*** Unknown command: / (try /help) ***");
    s_type(alice, "/JOIN Python");  // commands are case-blind
    s_expect(alice, "*** Joined room: python ***");
    s_type(alice, "/quit \x01");  // a reason must be valid text: not quitting on a bad one
    s_expect_start(alice, "*** Text must be");
    s_type(alice, "/quit");
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
}

void
test_zchat_rate_limited(void)
{
    // The broker refuses a burst: each refusal is one line, and zchat keeps going
    hbroker_t *broker =
        hbroker_start("--heartbeat", S_HEARTBEAT, "--rate", "1", "--burst", "3", NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    for (int i = 0; i < 8; i++)
        s_type(alice, "/rooms");
    s_expect(alice, "*** Too many requests: slow down ***");
    // Every /rooms gets exactly one line: a list or a refusal
    int refused = 0, answered = 0;
    int64_t deadline = zclock_mono() + S_LINE_MS;
    while (refused + answered < 8 && zclock_mono() < deadline) {
        s_zchat_read(alice, 50);
        refused = s_count(alice, "*** Too many requests: slow down ***");
        answered = 0;
        for (size_t l = 0; l < alice->line_count; l++)
            if (strncmp(s_body(alice->lines[l]), "*** Rooms: ", 11) == 0)
                answered++;
    }
    CHECK(refused + answered == 8 && answered >= 1, "%d refused, %d answered:%s", refused, answered,
          s_transcript(alice));
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
}

// --- Reliability ---

void
test_zchat_broker_restart(void)
{
    // A port outside the ephemeral range: while the broker is away, zchat's reconnecting
    // socket (or anyone's) could otherwise be given that very port and block the restart
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", hbroker_free_port());
    hbroker_t *broker = hbroker_start("--heartbeat", "300", "--port", port_text, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", "-r", "python", NULL);
    s_expect_greeting(alice, broker);
    s_expect(alice, "*** Joined room: python ***");
    s_type(alice, "before");
    s_expect(alice, "Alice: before");

    hbroker_stop(broker);
    s_expect(alice, "*** Connection lost, reconnecting... ***");
    // A new broker on the same port and database; someone talks before Alice is back
    hbroker_t *again = hbroker_start("--heartbeat", "300", "--port", port_text, NULL);
    hclient_t *bob = hclient_login(again, "Bob");
    s_keepalive = bob;  // the heartbeat is short: Bob pings while we wait for Alice
    hclient_join(bob, "python");
    hclient_say(bob, "python", "meanwhile 1");
    hclient_say(bob, "python", "meanwhile 2");
    s_expect(alice, "*** Reconnected ***");
    s_expect(alice, "Bob: meanwhile 1");
    s_expect(alice, "Bob: meanwhile 2");
    hclient_say(bob, "python", "after");
    s_expect(alice, "Bob: after");
    // Alice is back in python and the lobby: she can talk in both
    s_type(alice, "back again");
    s_expect(alice, "Alice: back again");
    s_type(alice, "/switch lobby");
    s_type(alice, "lobby too");
    s_expect(alice, "Alice: lobby too");
    hclient_ping(bob);
    hclient_send(bob, "{\"type\":\"users\",\"room\":\"python\"}");
    cJSON *users = jarr(hclient_expect(bob, "users"), "users");
    CHECK(cJSON_GetArraySize(users) == 2, "python after the restart: %s", harness_json_text(users));
    // Exactly once, in order
    s_settle(alice, H_QUIET_MS);
    CHECK(s_count(alice, "Bob: meanwhile 1") == 1 && s_count(alice, "Bob: meanwhile 2") == 1 &&
              s_count(alice, "Bob: after") == 1 && s_count(alice, "Alice: before") == 1,
          "an event shown twice or never:%s", s_transcript(alice));
    CHECK(s_count(alice, "*** Reconnected ***") == 1, "reconnected twice:%s", s_transcript(alice));
    s_type(alice, "/quit");
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    hclient_ping(bob);
    s_keepalive = NULL;
}

// zchat-protocol(7) RETRIES: a private retried after a broker restart reaches its recipient
// again (privates are not stored, and the new run remembers no ids); zchat shows it once: the
// same id from the same sender, whatever the case of the sender's name.
void
test_zchat_private_repeat(void)
{
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", hbroker_free_port());
    hbroker_t *broker = hbroker_start("--heartbeat", "300", "--port", port_text, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    hclient_t *bob = hclient_login(broker, "Bob");
    s_keepalive = bob;
    hclient_send(bob, "{\"type\":\"msg\",\"to\":\"Alice\",\"text\":\"only once\",\"id\":\"p1\"}");
    hclient_expect(bob, "ack");
    s_expect(alice, "[PRIVATE] Bob: only once");
    s_keepalive = NULL;

    hbroker_stop(broker);
    s_expect(alice, "*** Connection lost, reconnecting... ***");
    hbroker_t *again = hbroker_start("--heartbeat", "300", "--port", port_text, NULL);
    hclient_t *bob2 = hclient_login(again, "BOB");
    s_keepalive = bob2;
    s_expect(alice, "*** Reconnected ***");
    // Bob's client retries: the new broker run delivers it again
    hclient_send(bob2, "{\"type\":\"msg\",\"to\":\"Alice\",\"text\":\"only once\",\"id\":\"p1\"}");
    hclient_expect(bob2, "ack");
    // The same text under another id is another message
    hclient_send(bob2, "{\"type\":\"msg\",\"to\":\"Alice\",\"text\":\"only once\",\"id\":\"p2\"}");
    hclient_expect(bob2, "ack");
    s_expect(alice, "[PRIVATE] BOB: only once");
    s_settle(alice, H_QUIET_MS);
    CHECK(s_count(alice, "[PRIVATE] Bob: only once") == 1 &&
              s_count(alice, "[PRIVATE] BOB: only once") == 1,
          "a repeated private shown again, or a new one dropped:%s", s_transcript(alice));
    s_type(alice, "/quit");
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    hclient_ping(bob2);
    s_keepalive = NULL;
}

// ...and a sender that runs zchat again numbers its requests anew, yet its first private is no
// repeat: request ids are unique to each run.
void
test_zchat_private_new_run(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *bob = s_zchat_start(broker, "Bob", NULL);
    s_expect_greeting(bob, broker);
    for (int run = 1; run <= 2; run++) {
        s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
        s_expect_greeting(alice, broker);
        char line[64];
        snprintf(line, sizeof line, "/msg Bob from run %d", run);
        s_type(alice, line);
        s_expect(alice, "*** Private message sent to Bob ***");
        snprintf(line, sizeof line, "[PRIVATE] Alice: from run %d", run);
        s_expect(bob, line);
        s_type(alice, "/quit");
        CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code of run %d", run);
    }
    s_type(bob, "/quit");
    CHECK(s_wait_exit(bob, S_EXIT_MS) == 0, "exit code");
}

// --- Safety ---

void
test_zchat_escape_injection(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    hclient_t *mallory = hclient_login(broker, "Mallory");
    s_watch(mallory, "lobby");

    // The broker refuses control characters in text, names and notes...
    hclient_send(mallory, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"\\u001b[2J\\u001b]0;"
                          "owned\\u0007\"}");
    hclient_expect_error(mallory, "bad_text", "say");
    hclient_send(mallory, "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"\\u009b31m\"}");
    hclient_expect_error(mallory, "bad_text", "say");
    hclient_send(mallory, "{\"type\":\"msg\",\"to\":\"Alice\",\"text\":\"\\u001bc\"}");
    hclient_expect_error(mallory, "bad_text", "msg");
    hclient_send(mallory, "{\"type\":\"join\",\"room\":\"\\u001b[31mred\"}");
    hclient_expect_error(mallory, "invalid_name", "join");
    hclient_send(mallory, "{\"type\":\"status\",\"status\":\"away\",\"note\":\"\\u001b[5m\"}");
    hclient_expect_error(mallory, "bad_text", "status");
    hclient_t *evil = hclient_new(broker);
    hclient_send(evil, "{\"type\":\"hello\",\"user\":\"e\\u001b[2Jvil\",\"proto\":1}");
    hclient_expect_error(evil, "invalid_name", "hello");
    // ...but lets bidirectional overrides through: zchat must neutralise them
    hclient_say(mallory, "lobby", "abc" S_RLO "cba");
    hclient_expect_message(mallory, "lobby", "Mallory", "abc" S_RLO "cba");
    s_expect(alice, "Mallory: abc" S_FFFD "cba");
    hclient_send(mallory, "{\"type\":\"msg\",\"to\":\"Alice\",\"text\":\"x\\u2066y\"}");
    s_expect(alice, "[PRIVATE] Mallory: x" S_FFFD "y");

    // Hostile names typed by the user come back in the broker's errors: still safe
    s_type(alice, "/msg \x1b]0;owned\x07 hi");
    s_expect(alice, "*** No such user: " S_FFFD "]0;owned" S_FFFD " ***");
    s_type(alice, "/join \x1b[2Jroom");
    s_expect_start(alice, "*** Invalid room name");
    s_type(alice, "/frob\x1b[2J");
    s_expect(alice, "*** Unknown command: /frob" S_FFFD "[2J (try /help) ***");
    s_type(alice, "/switch \x1b[H");
    s_expect(alice, "*** You are not in " S_FFFD "[H: /join it first ***");
    // Text with controls is refused before it is sent (the broker would refuse it too)
    s_type(alice, "bell\x07");
    s_expect_start(alice, "*** Text must be");
    s_type(alice, "\xc3\x28 not UTF-8");
    s_expect_start(alice, "*** Text must be");
    hclient_expect_no_event(mallory, H_QUIET_MS);
    s_close_stdin(alice);
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    // Not one control byte (but newlines) in the whole output
    const char *raw = hproc_output(alice->proc);
    for (size_t i = 0; i < hproc_output_size(alice->proc); i++) {
        unsigned char byte = (unsigned char)raw[i];
        CHECK(byte == '\n' || (byte >= 0x20 && byte != 0x7f), "control byte 0x%02x at %zu:%s", byte,
              i, s_transcript(alice));
    }
    CHECK(!strstr(raw, "\xc2\x9b") && !strstr(raw, "\xe2\x80\xae") && !strstr(raw, "\xe2\x81\xa6"),
          "a C1 control or bidi override got through:%s", s_transcript(alice));
}

// --- A real terminal: tmux ---

// true if the screen has a line whose body is text
static bool
s_screen_has(const char *screen, const char *text)
{
    const char *start = screen;
    while (*start) {
        const char *end = strchr(start, '\n');
        size_t length = end ? (size_t)(end - start) : strlen(start);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)length, start);
        if (streq(s_body(line), text))
            return true;
        if (!end)
            break;
        start = end + 1;
    }
    return false;
}

static bool
s_has_line(const char *screen, const void *arg)
{
    return s_screen_has(screen, arg);
}

static bool
s_ends_with_line(const char *screen, const void *arg)
{
    char last[512];
    htmux_last_line(screen, last, sizeof last);
    return streq(last, arg);
}

// Wait for zchat in the terminal to exit; check its stderr; return its exit code
static int
s_tmux_exit_at(const char *file, int line, htmux_t *term)
{
    int code = htmux_wait_exit_at(file, line, term);
    s_check_stderr_at(file, line, "zchat in the terminal", htmux_stderr(term));
    return code;
}
#define s_tmux_exit(term) s_tmux_exit_at(__FILE__, __LINE__, term)

void
test_zchat_pty_half_line(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    hclient_t *bob = hclient_login(broker, "Bob");
    s_watch(bob, "lobby");
    char args[64];
    snprintf(args, sizeof args, "-H 127.0.0.1 -p %d -u Alice --no-color", hbroker_port(broker));
    htmux_t *term = htmux_start("zchat", args);

    char screen[16384];
    htmux_wait_screen(term, screen, "the prompt", s_ends_with_line, "#lobby>");
    CHECK(s_screen_has(screen, "Welcome to the chat, Alice!"), "no welcome:\n%s", screen);
    hclient_expect_presence(bob, "lobby", "Alice", "join", NULL);
    // Bob's lines reach the terminal: from now on the feed is live
    hclient_say(bob, "lobby", "sync");
    hclient_expect_message(bob, "lobby", "Bob", "sync");
    htmux_wait_screen(term, screen, "Bob's sync", s_has_line, "Bob: sync");

    // Half a line, no Enter; then a message arrives
    htmux_type(term, "half typed");
    htmux_wait_screen(term, screen, "the half line", s_ends_with_line, "#lobby> half typed");
    hclient_say(bob, "lobby", "incoming while typing");
    hclient_expect_message(bob, "lobby", "Bob", "incoming while typing");
    htmux_wait_screen(term, screen, "the incoming line", s_has_line, "Bob: incoming while typing");
    char last[512];
    htmux_last_line(screen, last, sizeof last);
    CHECK(streq(last, "#lobby> half typed"), "the input line was damaged: \"%s\"\n%s", last,
          screen);
    CHECK(htmux_cursor_x(term) == (int)strlen("#lobby> half typed"), "the cursor moved: x = %d",
          htmux_cursor_x(term));
    CHECK(!strstr(screen, "half typed[") && !strstr(screen, "typedBob"),
          "the incoming line was mixed into the input:\n%s", screen);
    char attributes[16384];  // --no-color: not one color or dim attribute on the screen
    htmux_screen(term, attributes, sizeof attributes, true);
    CHECK(!strchr(attributes, '\033'), "colors despite --no-color:\n%s", attributes);

    // Editing still works on the restored line: finish it and send it as one message
    htmux_type(term, " and finished");
    htmux_key(term, "Enter");
    hclient_expect_message(bob, "lobby", "Alice", "half typed and finished");
    htmux_wait_screen(term, screen, "the sent line", s_has_line, "Alice: half typed and finished");
    htmux_wait_screen(term, screen, "an empty prompt", s_ends_with_line, "#lobby>");
    CHECK(!strstr(screen, "#lobby> half typed and finished"),
          "the typed copy of a sent message stayed on the screen:\n%s", screen);

    // Tab completes commands and names; Up recalls the last line
    htmux_type(term, "/ms");
    htmux_key(term, "Tab");
    htmux_type(term, "bo");
    htmux_key(term, "Tab");
    htmux_wait_screen(term, screen, "the completions", s_ends_with_line, "#lobby> /msg Bob");
    htmux_type(term, "psst");
    htmux_key(term, "Enter");
    jcheck_str(hclient_expect(bob, "private"), "text", "psst");
    htmux_wait_screen(term, screen, "the confirmation", s_has_line,
                      "*** Private message sent to Bob ***");
    htmux_key(term, "Up");
    htmux_wait_screen(term, screen, "the recalled line", s_ends_with_line, "#lobby> /msg Bob psst");
    htmux_key(term, "C-u");
    htmux_wait_screen(term, screen, "an empty prompt", s_ends_with_line, "#lobby>");

    // Ctrl-D leaves: quit sent, exit 0
    htmux_key(term, "C-d");
    hclient_expect_presence(bob, "lobby", "Alice", "leave", "quit");
    CHECK(s_tmux_exit(term) == 0, "exit code after Ctrl-D");
}

// A paste of several lines: readline's bracketed paste hands them over as one input line with
// the line breaks in it, and Enter sends one message per line, in order.
void
test_zchat_pty_paste(void)
{
    // No rate limit: what is checked is one message per pasted line, in order (pacing under the
    // limit is the outbox's, tested with zchat_paste_paced)
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, "--rate", "0", NULL);
    hclient_t *bob = hclient_login(broker, "Bob");
    s_watch(bob, "lobby");
    s_keepalive = bob;
    char args[64];
    snprintf(args, sizeof args, "-H 127.0.0.1 -p %d -u Alice --no-color", hbroker_port(broker));
    htmux_t *term = htmux_start("zchat", args);
    char screen[16384];
    htmux_wait_screen(term, screen, "the prompt", s_ends_with_line, "#lobby>");
    hclient_expect_presence(bob, "lobby", "Alice", "join", NULL);

    htmux_paste(term, "one\ntwo\n/join python\nthree\n");
    htmux_key(term, "Enter");
    hclient_expect_message(bob, "lobby", "Alice", "one");
    hclient_expect_message(bob, "lobby", "Alice", "two");
    htmux_wait_screen(term, screen, "the paste in python", s_has_line, "Alice: three");

    // 500 lines, the last without a line break
    htmux_type(term, "/switch lobby");
    htmux_key(term, "Enter");
    htmux_wait_screen(term, screen, "the lobby prompt", s_ends_with_line, "#lobby>");
    size_t size = 500 * 16;
    char *paste = zmalloc(size);
    for (int i = 1; i <= 500; i++) {
        size_t used = strlen(paste);
        snprintf(paste + used, size - used, i < 500 ? "line %d\n" : "line %d", i);
    }
    htmux_paste(term, paste);
    free(paste);
    htmux_key(term, "Enter");
    for (int i = 1; i <= 500; i++) {
        char text[32];
        snprintf(text, sizeof text, "line %d", i);
        hclient_expect_message(bob, "lobby", "Alice", text);
    }
    htmux_wait_screen(term, screen, "the last line of the paste", s_has_line, "Alice: line 500");
    s_keepalive = NULL;
    htmux_type(term, "/quit");
    htmux_key(term, "Enter");
    CHECK(htmux_wait_exit(term) == 0, "exit code after /quit");
}

void
test_zchat_pty_questions(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    htmux_t *term = htmux_start("zchat", "");  // bare: zchat asks
    char screen[16384], port[16];
    snprintf(port, sizeof port, "%d", hbroker_port(broker));
    htmux_wait_screen(term, screen, "the host question", s_ends_with_line,
                      "Server host (default: 127.0.0.1):");
    CHECK(s_screen_has(screen, "=== zchat ==="), "no title:\n%s", screen);
    htmux_type(term, "127.0.0.1");
    htmux_key(term, "Enter");
    htmux_wait_screen(term, screen, "the port question", s_ends_with_line,
                      "Server port (default: 12345):");
    htmux_type(term, port);
    htmux_key(term, "Enter");
    htmux_wait_screen(term, screen, "the user question", s_ends_with_line, "Username:");
    htmux_type(term, "9lives");  // not a user name: again
    htmux_key(term, "Enter");
    htmux_wait_screen(term, screen, "the user question again", s_ends_with_line, "Username:");
    htmux_type(term, "Alice");
    htmux_key(term, "Enter");
    char connected[64];
    snprintf(connected, sizeof connected, "Connected to 127.0.0.1:%s", port);
    htmux_wait_screen(term, screen, "the connection", s_has_line, connected);
    htmux_wait_screen(term, screen, "the prompt", s_ends_with_line, "#lobby>");
    CHECK(s_screen_has(screen, "Welcome to the chat, Alice!"), "no welcome:\n%s", screen);

    // On a terminal, names are colored and system lines dimmed
    hclient_t *bob = hclient_login(broker, "Bob");
    htmux_wait_screen(term, screen, "Bob's arrival", s_has_line, "*** Bob joined lobby ***");
    hclient_say(bob, "lobby", "in color");
    htmux_wait_screen(term, screen, "Bob's line", s_has_line, "Bob: in color");
    char colored[16384];
    htmux_screen(term, colored, sizeof colored, true);
    char painted[64];
    snprintf(painted, sizeof painted,
             "m"
             "Bob\033[");  // an SGR right before and after the name
    CHECK(strstr(colored, painted), "Bob's name is not colored:\n%s", colored);
    CHECK(strstr(colored, "\033[2m"), "nothing dimmed:\n%s", colored);
    htmux_type(term, "/quit bye now");
    htmux_key(term, "Enter");
    CHECK(s_tmux_exit(term) == 0, "exit code after /quit");
    hclient_send(bob, "{\"type\":\"users\"}");
    CHECK(cJSON_GetArraySize(jarr(hclient_expect(bob, "users"), "users")) == 1,
          "Alice is still online");
}

// A script whose last line has no newline: that line still counts, then zchat leaves
void
test_zchat_last_line(void)
{
    hbroker_t *broker = hbroker_start("--heartbeat", S_HEARTBEAT, NULL);
    hclient_t *bob = hclient_login(broker, "Bob");
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    s_watch(bob, "lobby");
    s_sync(alice, bob, "Bob", "lobby", "", true);
    const char tail[] = "no newline here";
    hproc_type(alice->proc, tail);
    s_close_stdin(alice);
    hclient_expect_message(bob, "lobby", "Alice", "no newline here");
    CHECK(s_wait_exit(alice, 5000) == 0, "zchat did not exit 0 at the end of its input");
}

// A broker that restarts without its database numbers its rooms from 1 again: zchat still shows
// what is said there, although the new seqs are below the ones it held
void
test_zchat_broker_amnesia(void)
{
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", hbroker_free_port());
    hbroker_t *broker =
        hbroker_start("--heartbeat", "300", "--port", port_text, "--db", ":memory:", NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    for (int i = 1; i <= 6; i++) {
        char line[32], shown[48];
        snprintf(line, sizeof line, "old %d", i);
        snprintf(shown, sizeof shown, "Alice: %s", line);
        s_type(alice, line);
        s_expect(alice, shown);
    }
    hbroker_stop(broker);
    s_expect(alice, "*** Connection lost, reconnecting... ***");
    hbroker_t *again =
        hbroker_start("--heartbeat", "300", "--port", port_text, "--db", ":memory:", NULL);
    hclient_t *bob = hclient_login(again, "Bob");
    s_keepalive = bob;
    s_expect(alice, "*** Reconnected ***");
    s_watch(bob, "lobby");
    s_sync(alice, bob, "Bob", "lobby", "", true);
    hclient_say(bob, "lobby", "fresh 1");
    hclient_say(bob, "lobby", "fresh 2");
    s_expect(alice, "Bob: fresh 1");
    s_expect(alice, "Bob: fresh 2");
    s_type(alice, "/quit");
    CHECK(s_wait_exit(alice, S_EXIT_MS) == 0, "exit code");
    s_keepalive = NULL;
}

// Back after a restart in more rooms than the rate limit's burst: the joins the broker refused
// for the rate go again, and zchat is back in every room
void
test_zchat_rejoin_rate_limited(void)
{
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", hbroker_free_port());
    hbroker_t *broker = hbroker_start("--heartbeat", "300", "--port", port_text, "--rate", "2",
                                      "--burst", "8", NULL);
    s_zchat_t *alice = s_zchat_start(broker, "Alice", NULL);
    s_expect_greeting(alice, broker);
    enum { ROOMS = 10 };
    for (int i = 1; i <= ROOMS; i++) {
        char line[32], shown[64];
        snprintf(line, sizeof line, "/join r%d", i);
        snprintf(shown, sizeof shown, "*** Joined room: r%d ***", i);
        zclock_sleep(600);  // within the rate: 2 a second
        s_type(alice, line);
        s_expect(alice, shown);
    }
    hbroker_stop(broker);
    s_expect(alice, "*** Connection lost, reconnecting... ***");
    hbroker_t *again = hbroker_start("--heartbeat", "300", "--port", port_text, "--rate", "2",
                                     "--burst", "8", NULL);
    hclient_t *bob = hclient_login(again, "Bob");
    s_keepalive = bob;
    s_expect(alice, "*** Reconnected ***");
    // Alice's rejoins: 11 at once (lobby too), more than the burst of 8. Bob watches the member
    // counts with one rooms request at a time, within the rate himself
    int64_t deadline = harness_now_ms() + 15000;
    int missing = ROOMS;
    while (missing > 0 && harness_now_ms() < deadline) {
        zclock_sleep(600);
        hclient_send(bob, "{\"type\":\"rooms\"}");
        cJSON *reply = hclient_recv(bob, 2000);
        if (!reply || !streq(jstr(reply, "type"), "rooms"))
            continue;
        missing = ROOMS;
        cJSON *room;
        cJSON_ArrayForEach(room, jarr(reply, "rooms"))
        {
            const char *name = jstr(room, "name");
            if (name[0] == 'r' && jint(room, "members") == 1)
                missing--;
        }
    }
    CHECK(missing == 0, "Alice is back in only %d of %d rooms", ROOMS - missing, ROOMS);
    s_keepalive = NULL;
}
