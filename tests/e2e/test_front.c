// test_front.c - e2e: what zchat and zchat-logger share: the options and their messages, and the
// logger's retries when the broker cannot take it yet
#include "zchat_prelude.h"
#include "harness.h"
#include "hproc.h"
#include "tests_front.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#define S_WAIT_MS 10000  // a retry or a login takes at most this

// Wait for text on the stderr of proc
static void
s_wait_stderr_at(const char *file, int line, hproc_t *proc, const char *text)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (!strstr(hproc_stderr(proc), text)) {
        if (zclock_mono() > deadline)
            harness_fail(file, line, "%s never said \"%s\" on stderr", hproc_label(proc), text);
        poll(NULL, 0, 10);
    }
}
#define s_wait_stderr(proc, text) s_wait_stderr_at(__FILE__, __LINE__, proc, text)

// A broker at --max-sessions refuses the logger's hello (server_full, formerly rate_limited):
// the logger retries with backoff, and logs in once a session is free.
void
test_front_logger_server_full(void)
{
    hbroker_t *broker = hbroker_start("--rate", "0", "--max-sessions", "1", NULL);
    char port[16], dir[PATH_MAX];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hclient_t *alice = hclient_login(broker, "alice");  // the one session there is
    hclient_join(alice, "full");
    harness_path(dir, sizeof dir, "logs");
    hproc_t *logger = hproc_start("zchat-logger", NULL, HPROC_IN_NULL | HPROC_REPORT, "-p", port,
                                  "-r", "full", "-d", dir, NULL);
    s_wait_stderr(logger, "retrying in");
    CHECK(hproc_is_running(logger), "the logger gave up on a full server: %s",
          hproc_stderr(logger));
    hclient_send(alice, "{\"type\":\"quit\"}");
    hclient_expect(alice, "bye");
    s_wait_stderr(logger, "recording from");
    hproc_signal(logger, SIGTERM);
    int status = hproc_wait(logger, 2000);
    CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "after SIGTERM: status 0x%x", (unsigned)status);
}

// Run program with the NULL-ended args and no input, to its exit; returns its exit code
#define s_run(program, out, err, ...)                                                              \
    hproc_run_at(__FILE__, __LINE__, program, NULL, 5000, out, sizeof out, err, sizeof err,        \
                 (const char *const[]){__VA_ARGS__, NULL})

// A bad name on the command line: both programs say the one rule (zchat_name.h) and exit 2;
// both have the one default host
void
test_front_name_rules(void)
{
    char out[4096], err[4096];
    int rc = s_run("zchat", out, err, "-u", "9lives");
    CHECK(rc == 2 && strstr(err, "zchat: invalid --user '9lives'") &&
              strstr(err, "a letter, then up to 31 of A-Z a-z 0-9 _ -"),
          "zchat -u 9lives: exit %d, stderr: %s", rc, err);
    rc = s_run("zchat", out, err, "-u", "alice", "-r", "-py");
    CHECK(rc == 2 && strstr(err, "zchat: invalid --room '-py'") &&
              strstr(err, "1-32 of a-z 0-9 _ -, starting with a letter or digit"),
          "zchat -r -py: exit %d, stderr: %s", rc, err);
    rc = s_run("zchat-logger", out, err, "-r", "-py");
    CHECK(rc == 2 && strstr(err, "zchat-logger: invalid --room '-py'") &&
              strstr(err, "1-32 of a-z 0-9 _ -, starting with a letter or digit"),
          "zchat-logger -r -py: exit %d, stderr: %s", rc, err);
    const char *const programs[] = {"zchat", "zchat-logger"};
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        rc = s_run(programs[i], out, err, "--help");
        CHECK(rc == 0 && strstr(out, "(default " ZCHAT_DEFAULT_HOST ")"), "%s --help: %s",
              programs[i], out);
    }
}
