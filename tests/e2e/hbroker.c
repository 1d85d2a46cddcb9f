// hbroker.c - e2e harness: zchat-broker child processes (through hproc), their ready line, and
// their graceful stop at the end of a test that passed
#include "zchat_prelude.h"
#include "harness.h"
#include "hfile.h"
#include "hproc.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_TAIL 80  // lines of each broker log shown on failure
// hbroker_free_port, for a test that restarts a broker on a port of its own, picks among these:
// below the kernel's ephemeral ports (32768 up), which a connecting socket is given, and below
// CZMQ's random ports (49152 up), which a broker on --port 0 takes
#define S_PORT_FIRST 20000
#define S_PORTS      12000

struct hbroker {
    hproc_t *proc;        // the process; hproc owns it
    int number;           // 1, 2... within the test
    char db[PATH_MAX];    // the database it was given
    char line[1024];      // the ready line, without newline
    char commands[256];   // commands endpoint from the ready line
    char feed[256];       // feed endpoint from the ready line
    char server_key[41];  // with --curve: the key line's key; "" otherwise
};

static zlistx_t *s_brokers;  // hbroker_t *, owned; NULL until the first start

// The end of a test that returned: every broker still running stops gracefully
static void
s_stop_all(void)
{
    for (hbroker_t *self = zlistx_first(s_brokers); self; self = zlistx_next(s_brokers))
        if (hbroker_is_running(self))
            hbroker_stop_at(__FILE__, __LINE__, self);
}

static void
s_report(void)
{
    for (hbroker_t *self = zlistx_first(s_brokers); self; self = zlistx_next(s_brokers)) {
        fprintf(stderr, "--- broker %d stderr (%s) ---\n", self->number, hbroker_log(self));
        hfile_print_tail(hbroker_log(self), LOG_TAIL, "");
    }
}

// The processes are hproc's to kill
static void
s_cleanup(void)
{
    hbroker_t *self;
    while ((self = zlistx_detach(s_brokers, NULL)))
        free(self);
    zlistx_destroy(&s_brokers);
}

// How long a broker may take to stop: H_STOP_MS of its own time. On a machine with more
// runnable processes than cores (load average above the core count) each gets its share, and
// H_STOP_MS of the broker's time takes longer by that factor; a broker that hangs fails all
// the same.
static int
s_stop_ms(double *load)
{
    *load = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (getloadavg(load, 1) != 1 || cores < 1)
        return H_STOP_MS;
    double factor = *load / (double)cores;
    return factor > 1 ? (int)(H_STOP_MS * (factor < 10 ? factor : 10)) : H_STOP_MS;
}

static bool
s_port_is_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool free = bind(fd, (struct sockaddr *)&address, sizeof address) == 0;
    close(fd);
    return free;
}

static bool
s_parse_endpoint(const char *start, const char *end, char *buf, size_t size)
{
    size_t length = (size_t)(end - start);
    if (end <= start || length >= size)
        return false;
    memcpy(buf, start, length);
    buf[length] = 0;
    return strncmp(buf, "tcp://127.0.0.1:", 16) == 0 && atoi(buf + 16) > 0;
}

hbroker_t *
hbroker_start_argv(const char *const args[])
{
    if (!s_brokers) {
        s_brokers = zlistx_new();
        harness_on_end(s_stop_all, s_report, s_cleanup);
    }
    hbroker_t *self = zmalloc(sizeof(hbroker_t));
    self->number = (int)zlistx_size(s_brokers) + 1;
    zlistx_add_end(s_brokers, self);

    const char *argv[64];
    int argc = 0;
    bool has_db = false, has_port = false, curve = false;
    for (int i = 0; args[i]; i++) {
        if (streq(args[i], "--db") && args[i + 1]) {
            has_db = true;
            snprintf(self->db, sizeof self->db, "%s", args[i + 1]);
        }
        has_port = has_port || streq(args[i], "-p") || strncmp(args[i], "--port", 6) == 0 ||
                   strncmp(args[i], "--feed-port", 11) == 0;
        curve = curve || streq(args[i], "--curve");
    }
    if (!has_port) {
        // The broker picks a random free port itself and says which: no port chosen here can
        // be taken meanwhile by another test's broker
        argv[argc++] = "--port";
        argv[argc++] = "0";
    }
    for (int i = 0; args[i]; i++) {
        if (argc == 60)
            FAIL("too many arguments for the broker");
        argv[argc++] = args[i];
    }
    if (!has_db) {
        harness_path(self->db, sizeof self->db, "zchat.db");
        argv[argc++] = "--db";
        argv[argc++] = self->db;
    }
    argv[argc] = NULL;
    char label[32];
    snprintf(label, sizeof label, "broker %d", self->number);
    self->proc = hproc_start_argv("zchat-broker", label, HPROC_OUT_PIPE | HPROC_IN_NULL, argv);

    if (!hproc_read_line(self->proc, self->line, sizeof self->line, H_START_MS)) {
        int status = hbroker_wait(self, 2000);
        if (status == -1)
            FAIL("broker %d printed no ready line within %d ms (%s)", self->number, H_START_MS,
                 hproc_command(self->proc));
        FAIL("broker %d exited before its ready line (status 0x%x): %s", self->number,
             (unsigned)status, hproc_command(self->proc));
    }
    harness_trace("broker %d: %s", self->number, self->line);
    if (curve) {
        // The second line: "zchat-broker: server key <Z85>"
        char key_line[256];
        if (!hbroker_read_line(self, key_line, sizeof key_line, H_START_MS))
            FAIL("broker %d: no server key line after the ready line", self->number);
        const char *prefix = "zchat-broker: server key ";
        if (strncmp(key_line, prefix, strlen(prefix)) != 0 || strlen(key_line) != 25 + 40)
            FAIL("broker %d: not a server key line: \"%s\"", self->number, key_line);
        memcpy(self->server_key, key_line + strlen(prefix), 40);
        self->server_key[40] = 0;
    }

    // zchat-broker 0.1.0: commands on tcp://127.0.0.1:41234, feed on tcp://127.0.0.1:41235, ...
    const char *commands = strstr(self->line, ": commands on ");
    const char *feed = strstr(self->line, ", feed on ");
    const char *database = strstr(self->line, ", database ");
    if (strncmp(self->line, "zchat-broker ", 13) != 0 || !commands || !feed || !database ||
        !s_parse_endpoint(commands + 14, feed, self->commands, sizeof self->commands) ||
        !s_parse_endpoint(feed + 10, database, self->feed, sizeof self->feed))
        FAIL("broker %d: ready line not of the documented form: \"%s\"", self->number, self->line);
    return self;
}

void
hbroker_stop_at(const char *file, int line, hbroker_t *self)
{
    if (!hbroker_is_running(self))
        harness_fail(file, line, "broker %d had already exited (status 0x%x) before SIGTERM",
                     self->number, (unsigned)hbroker_wait(self, 0));
    double load;
    int limit = s_stop_ms(&load);
    int64_t start = zclock_mono();
    hproc_signal(self->proc, SIGTERM);
    int status = hbroker_wait(self, limit);
    if (status == -1) {
        hbroker_kill(self);
        harness_fail(file, line, "broker %d did not exit within %d ms of SIGTERM (load %.1f)",
                     self->number, limit, load);
    }
    harness_note("broker %d stopped in %" PRId64 " ms (limit %d ms), status 0x%x", self->number,
                 zclock_mono() - start, limit, (unsigned)status);
    if (WIFSIGNALED(status))
        harness_fail(file, line, "broker %d died of signal %d after SIGTERM", self->number,
                     WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        harness_fail(file, line, "broker %d exited %d after SIGTERM, not 0", self->number,
                     WEXITSTATUS(status));
    // Exactly one line on stdout (two with --curve): nothing may follow
    char extra[256];
    if (hproc_read_line(self->proc, extra, sizeof extra, 0))
        harness_fail(file, line, "broker %d printed more than its ready line on stdout: \"%s\"",
                     self->number, extra);
    const char *dangling = strstr(hproc_stderr(self->proc), "dangling");
    if (dangling)
        harness_fail(file, line, "broker %d reported dangling sockets: %.*s", self->number,
                     (int)strcspn(dangling, "\n"), dangling);
}

void
hbroker_signal(hbroker_t *self, int signum)
{
    if (hbroker_is_running(self)) {
        harness_trace("signal %d to broker %d", signum, self->number);
        hproc_signal(self->proc, signum);
    }
}

int
hbroker_wait(hbroker_t *self, int timeout_ms)
{
    return hproc_wait(self->proc, timeout_ms);
}

void
hbroker_kill(hbroker_t *self)
{
    hproc_kill(self->proc);
}

bool
hbroker_is_running(hbroker_t *self)
{
    hproc_wait(self->proc, 0);
    return hproc_is_running(self->proc);
}

const char *
hbroker_commands(const hbroker_t *self)
{
    return self->commands;
}

const char *
hbroker_feed(const hbroker_t *self)
{
    return self->feed;
}

const char *
hbroker_ready_line(const hbroker_t *self)
{
    return self->line;
}

const char *
hbroker_db(const hbroker_t *self)
{
    return self->db;
}

int
harness_run_broker(const char *const argv[], int timeout_ms, char *out, size_t out_size, char *err,
                   size_t err_size)
{
    int code = hproc_run_at(__FILE__, __LINE__, "zchat-broker", NULL, timeout_ms, out, out_size,
                            err, err_size, argv + 1);
    harness_trace("run: exit %d, stdout %zu bytes, stderr \"%.200s\"", code, strlen(out), err);
    return code;
}

int
hbroker_free_port(void)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        int port = S_PORT_FIRST + (int)(random() % S_PORTS);
        if (s_port_is_free(port) && s_port_is_free(port + 1))
            return port;
    }
    FAIL("no two free loopback ports from %d on", S_PORT_FIRST);
}

int
hbroker_port(const hbroker_t *self)
{
    const char *colon = strrchr(self->commands, ':');
    CHECK(colon && atoi(colon + 1) > 0, "no port in %s", self->commands);
    return atoi(colon + 1);
}

bool
hbroker_read_line(hbroker_t *self, char *buf, size_t size, int timeout_ms)
{
    if (!hproc_read_line(self->proc, buf, size, timeout_ms))
        return false;
    harness_trace("broker %d: %s", self->number, buf);
    return true;
}

const char *
hbroker_log(const hbroker_t *self)
{
    return hproc_err_path(self->proc);
}

const char *
hbroker_server_key(const hbroker_t *self)
{
    return self->server_key;
}
