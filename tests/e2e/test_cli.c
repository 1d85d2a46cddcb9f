// test_cli.c - e2e: the broker's command line, ready line, exit codes and signals
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_RUN_MS 5000  // a broker told to fail must exit well within this

// true if haystack contains needle, ignoring ASCII case.
static bool
s_contains_nocase(const char *haystack, const char *needle)
{
    size_t length = strlen(needle);
    for (; *haystack; haystack++)
        if (strncasecmp(haystack, needle, length) == 0)
            return true;
    return false;
}

static int
s_count_lines(const char *text)
{
    int lines = 0;
    for (const char *c = text; *c; c++)
        if (*c == '\n')
            lines++;
    if (*text && text[strlen(text) - 1] != '\n')
        lines++;  // a last line without newline still counts
    return lines;
}

// Run the broker with args and require exit 2, exactly one line on stderr, no ready line.
static void
s_expect_exit_2(const char *what, const char *const argv[])
{
    char out[4096], err[4096];
    int code = harness_run_broker(argv, S_RUN_MS, out, sizeof out, err, sizeof err);
    if (code != 2)
        FAIL("%s: exit code %d, expected 2; stderr: %s", what, code, err);
    if (s_count_lines(err) != 1)
        FAIL("%s: expected a one-line error on stderr, got %d lines: %s", what, s_count_lines(err),
             err);
    if (strstr(out, "commands on"))
        FAIL("%s: the broker printed its ready line: %s", what, out);
}

void
test_cli_help(void)
{
    char out[16384], err[4096];
    int code = harness_run_broker((const char *const[]){"", "--help", NULL}, S_RUN_MS, out,
                                  sizeof out, err, sizeof err);
    CHECK(code == 0, "--help exited %d; stderr: %s", code, err);
    const char *options[] = {"--host", "--port",  "--feed-port", "--db",      "--heartbeat",
                             "--rate", "--burst", "--history",   "--version", NULL};
    for (int i = 0; options[i]; i++)
        CHECK(strstr(out, options[i]), "--help on stdout does not mention %s: %s", options[i], out);
    // zchat-protocol(7) SECURITY: without CURVE the traffic is plain text, and --help says so.
    CHECK(s_contains_nocase(out, "plain"), "--help does not say traffic is plain text: %s", out);
}

void
test_cli_version(void)
{
    char out[4096], err[4096];
    int code = harness_run_broker((const char *const[]){"", "--version", NULL}, S_RUN_MS, out,
                                  sizeof out, err, sizeof err);
    CHECK(code == 0, "--version exited %d; stderr: %s", code, err);
    CHECK(strstr(out, ZCHAT_VERSION), "--version does not print %s: %s", ZCHAT_VERSION, out);
    CHECK(!strstr(out, "commands on"), "--version started the broker: %s", out);
}

void
test_cli_bad_flag(void)
{
    char db[512];
    harness_path(db, sizeof db, "zchat.db");
    // --port 0 and --db first: a broker that ignored the bad flag would not touch the cwd.
    s_expect_exit_2("unknown flag",
                    (const char *const[]){"", "--port", "0", "--db", db, "--bogus", NULL});
    s_expect_exit_2("non-numeric port",
                    (const char *const[]){"", "--db", db, "--port", "abc", NULL});
    s_expect_exit_2("port out of range",
                    (const char *const[]){"", "--db", db, "--port", "70000", NULL});
    s_expect_exit_2("port with trailing garbage",
                    (const char *const[]){"", "--db", db, "--port", "12x", NULL});
    s_expect_exit_2("missing value", (const char *const[]){"", "--db", db, "--port", NULL});
    s_expect_exit_2("non-numeric history", (const char *const[]){"", "--port", "0", "--db", db,
                                                                 "--history", "lots", NULL});
    s_expect_exit_2("non-numeric rate",
                    (const char *const[]){"", "--port", "0", "--db", db, "--rate", "x", NULL});
}

// Listen on a free loopback port; returns the socket, and its port in *port.
static int
s_listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0, "bind: %s", strerror(errno));
    CHECK(listen(fd, 1) == 0, "listen: %s", strerror(errno));
    socklen_t size = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &size) == 0, "getsockname");
    *port = ntohs(addr.sin_port);
    return fd;
}

// Listen on this loopback port; returns the socket, or -1 if it is taken.
static int
s_listen_at(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (port > 65535 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1)) {
        close(fd);
        return -1;
    }
    return fd;
}

void
test_cli_port_in_use(void)
{
    char db[512], port_text[16];
    harness_path(db, sizeof db, "zchat.db");
    int port;
    int fd = s_listen_any(&port);
    snprintf(port_text, sizeof port_text, "%d", port);
    s_expect_exit_2("commands port in use",
                    (const char *const[]){"", "--port", port_text, "--db", db, NULL});
    s_expect_exit_2("feed port in use", (const char *const[]){"", "--port", "0", "--feed-port",
                                                              port_text, "--db", db, NULL});
    close(fd);

    // The same with a running broker's own port.
    hbroker_t *broker = hbroker_start(NULL);
    const char *commands = hbroker_commands(broker);
    snprintf(port_text, sizeof port_text, "%s", strrchr(commands, ':') + 1);
    char db2[512];
    harness_path(db2, sizeof db2, "other.db");
    s_expect_exit_2("port of a running broker",
                    (const char *const[]){"", "--port", port_text, "--db", db2, NULL});
    // ...which is still fine.
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_ping(alice);
}

// A second broker on a database in use is refused (exit 2, naming the first one's pid) and
// changes nothing: the first keeps its seqs. Once the first stops, the database is free.
void
test_cli_db_in_use(void)
{
    hbroker_t *first = hbroker_start(NULL);
    char db[PATH_MAX];
    snprintf(db, sizeof db, "%s", hbroker_db(first));
    hclient_t *alice = hclient_login(first, "alice");
    hclient_join(alice, "py");  // seq 1
    CHECK(hclient_say(alice, "py", "one") == 2, "seq of the first message");

    char out[4096], err[4096];
    const char *argv[] = {"", "--port", "0", "--db", db, NULL};
    int code = harness_run_broker(argv, S_RUN_MS, out, sizeof out, err, sizeof err);
    CHECK(code == 2 && strstr(err, "another zchat-broker (pid ") && strstr(err, "--db") &&
              s_count_lines(err) == 1 && !strstr(out, "commands on"),
          "second broker: exit %d, stderr: %s", code, err);

    char alias[PATH_MAX];  // another path to the same file
    harness_path(alias, sizeof alias, "alias.db");
    CHECK(symlink(db, alias) == 0, "symlink: %s", strerror(errno));
    const char *by_alias[] = {"", "--port", "0", "--db", alias, NULL};
    code = harness_run_broker(by_alias, S_RUN_MS, out, sizeof out, err, sizeof err);
    CHECK(code == 2 && strstr(err, "another zchat-broker"), "by a symlink: exit %d, stderr: %s",
          code, err);

    CHECK(hclient_say(alice, "py", "two") == 3, "the first broker lost its seq");
    hbroker_stop(first);
    hbroker_t *second = hbroker_start("--db", db, NULL);
    hclient_t *bob = hclient_login(second, "bob");
    cJSON *joined = hclient_join(bob, "py");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(joined, "seq");
    CHECK(cJSON_IsNumber(seq) && seq->valuedouble == 5, "joined seq after the restart");
    hbroker_stop(second);
}

void
test_cli_bad_database(void)
{
    char path[512];
    harness_path(path, sizeof path, "dir.db");
    CHECK(mkdir(path, 0700) == 0, "mkdir");
    s_expect_exit_2("database is a directory",
                    (const char *const[]){"", "--port", "0", "--db", path, NULL});

    harness_path(path, sizeof path, "garbage.db");
    char garbage[4096];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (char)("not a database, just text. "[i % 27]);
    FILE *file = fopen(path, "w");
    CHECK(file, "fopen %s", path);
    CHECK(fwrite(garbage, 1, sizeof garbage, file) == sizeof garbage, "fwrite");
    fclose(file);
    s_expect_exit_2("database is a garbage file",
                    (const char *const[]){"", "--port", "0", "--db", path, NULL});
    // The user's file is left as it was.
    char after[sizeof garbage + 1];
    file = fopen(path, "r");
    CHECK(file, "fopen %s", path);
    size_t got = fread(after, 1, sizeof after, file);
    fclose(file);
    CHECK(got == sizeof garbage && memcmp(after, garbage, sizeof garbage) == 0,
          "the broker modified the garbage database file (%zu bytes now)", got);

    harness_path(path, sizeof path, "no/such/dir/zchat.db");
    s_expect_exit_2("database in a missing directory",
                    (const char *const[]){"", "--port", "0", "--db", path, NULL});
}

void
test_cli_ready_line(void)
{
    hbroker_t *broker = hbroker_start("--host", "127.0.0.1", NULL);
    const char *line = hbroker_ready_line(broker);
    regex_t re;
    int rc = regcomp(&re,
                     "^zchat-broker 0\\.1\\.0: commands on tcp://127\\.0\\.0\\.1:([0-9]+), "
                     "feed on tcp://127\\.0\\.0\\.1:([0-9]+), database (.+)$",
                     REG_EXTENDED);
    assert(rc == 0);
    regmatch_t match[4];
    rc = regexec(&re, line, 4, match, 0);
    regfree(&re);
    CHECK(rc == 0, "ready line not of the documented form: \"%s\"", line);
    int commands = atoi(line + match[1].rm_so);
    int feed = atoi(line + match[2].rm_so);
    CHECK(commands > 0 && commands < 65536 && feed > 0 && feed < 65536 && commands != feed,
          "ports %d and %d", commands, feed);
    CHECK(streq(line + match[3].rm_so, hbroker_db(broker)),
          "ready line names database \"%s\", expected \"%s\"", line + match[3].rm_so,
          hbroker_db(broker));

    // welcome.feed is the feed endpoint (zchat-protocol(7) SOCKETS AND FRAMES: a client needs only
    // the commands one).
    hclient_t *alice = hclient_login(broker, "alice");
    jcheck_str(hclient_welcome(alice), "feed", hbroker_feed(broker));
    jcheck_int(hclient_welcome(alice), "heartbeat_ms", ZCHAT_DEFAULT_HEARTBEAT);

    // A second broker at the same time gets other ports: nothing is fixed.
    char db[512];
    harness_path(db, sizeof db, "second.db");
    hbroker_t *second = hbroker_start("--db", db, NULL);
    CHECK(!streq(hbroker_commands(second), hbroker_commands(broker)), "same port twice");
    hclient_t *bob = hclient_login(second, "bob");
    hclient_ping(bob);
    hbroker_stop(second);
    hbroker_stop(broker);
}

void
test_cli_options(void)
{
    // A port that was free a moment ago, for --feed-port.
    int feed_port;
    close(s_listen_any(&feed_port));
    char feed[16], endpoint[64];
    snprintf(feed, sizeof feed, "%d", feed_port);
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", feed_port);
    // Short flags, -v (logs go to stderr: stdout keeps its one line), the tuning options.
    hbroker_t *broker =
        hbroker_start("-H", "127.0.0.1", "-p", "0", "--feed-port", feed, "-v", "--heartbeat",
                      "1234", "--history", "3", "--rate", "0", "--burst", "1", NULL);
    CHECK(streq(hbroker_feed(broker), endpoint), "feed on %s, expected %s", hbroker_feed(broker),
          endpoint);
    hclient_t *alice = hclient_login(broker, "alice");
    cJSON *welcome = hclient_welcome(alice);
    jcheck_int(welcome, "heartbeat_ms", 1234);
    jcheck_str(welcome, "feed", endpoint);
    for (int i = 0; i < 5; i++)
        hclient_say(alice, "lobby", "x");  // --rate 0: --burst does not matter
    hclient_send(alice, "{\"type\":\"history\",\"room\":\"lobby\"}");
    cJSON *events = jarr(hclient_expect(alice, "history"), "events");
    CHECK(cJSON_GetArraySize(events) == 3, "--history 3 kept %d events",
          cJSON_GetArraySize(events));
    hbroker_stop(broker);
    char log[512];
    snprintf(log, sizeof log, "%s/broker-1.stderr", harness_tmpdir());
    struct stat st;
    CHECK(stat(log, &st) == 0 && st.st_size > 0, "-v logged nothing on stderr");
}

void
test_cli_default_feed_port(void)
{
    // The feed defaults to the commands port + 1. Find a port that is free, with its successor.
    int port = 0;
    for (int attempt = 0; attempt < 20 && !port; attempt++) {
        int candidate;
        int fd = s_listen_any(&candidate);
        int next = s_listen_at(candidate + 1);
        close(fd);
        if (next >= 0) {
            close(next);
            port = candidate;
        }
    }
    CHECK(port, "no two consecutive free ports");
    char port_text[16], commands[64], feed[64];
    snprintf(port_text, sizeof port_text, "%d", port);
    snprintf(commands, sizeof commands, "tcp://127.0.0.1:%d", port);
    snprintf(feed, sizeof feed, "tcp://127.0.0.1:%d", port + 1);
    hbroker_t *broker = hbroker_start("--port", port_text, NULL);
    CHECK(streq(hbroker_commands(broker), commands), "commands on %s, expected %s",
          hbroker_commands(broker), commands);
    CHECK(streq(hbroker_feed(broker), feed), "feed on %s, expected %s", hbroker_feed(broker), feed);
    hclient_t *alice = hclient_login(broker, "alice");
    jcheck_str(hclient_welcome(alice), "feed", feed);
}

void
test_cli_sigint(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_join(alice, "py");
    int64_t start = zclock_mono();
    hbroker_signal(broker, SIGINT);
    int status = hbroker_wait(broker, H_STOP_MS);
    CHECK(status != -1, "the broker did not exit within %d ms of SIGINT", H_STOP_MS);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "exit status 0x%x after SIGINT, expected exit 0", (unsigned)status);
    harness_note("stopped %" PRId64 " ms after SIGINT", zclock_mono() - start);
}

// -v logs every request: a quit (whose handler ends the session) is logged too, and served
void
test_cli_verbose_quit(void)
{
    hbroker_t *broker = hbroker_start("-v", NULL);
    hclient_t *alice = hclient_login(broker, "alice");
    hclient_send(alice, "{\"type\":\"quit\",\"reason\":\"done\"}");
    hclient_expect(alice, "bye");
    hclient_t *bob = hclient_login(broker, "bob");
    hclient_ping(bob);
}
