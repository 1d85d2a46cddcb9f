// harness.c - e2e harness: a zchat-broker child process, a temp dir per test, and a client
// that writes JSON as literal strings and reads replies and feed events with deadlines
#include "zchat_prelude.h"
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRACE_LINES 40   // messages remembered for the failure report
#define TRACE_WIDTH 400  // bytes of each
#define LOG_TAIL    80   // lines of each broker log shown on failure
#define PIDS_MAX    16   // brokers one test may start
#define REPORTS_MAX 4    // harness_on_fail reports

struct hbroker {
    pid_t pid;            // 0 once reaped
    int status;           // wait status, once reaped
    int out_fd;           // read end of the broker's stdout, -1 once closed
    int number;           // 1, 2... within the test
    char log[PATH_MAX];   // the broker's stderr
    char db[PATH_MAX];    // the database it was given
    char line[1024];      // the ready line, without newline
    char commands[256];   // commands endpoint from the ready line
    char feed[256];       // feed endpoint from the ready line
    char server_key[41];  // with --curve: the key line's key; "" otherwise
};

struct hclient {
    hbroker_t *broker;    // borrowed: the harness owns brokers
    zsock_t *dealer;      // NULL once closed
    zsock_t *sub;         // NULL until the first subscribe
    char identity[40];    // routing id, also the trace label
    cJSON *welcome;       // borrowed from the tree list
    char *last_raw;       // the last frame received on the DEALER, owned
    int next_id;          // for generated request ids
    char server_key[41];  // CURVE on both sockets when not ""
    zcert_t *cert;        // and our certificate (owned)
};

static struct {
    const char *name;                    // the running test
    char tmpdir[PATH_MAX];               // "" until first use
    zlistx_t *brokers;                   // hbroker_t *, owned
    zlistx_t *clients;                   // hclient_t *, owned
    zlistx_t *trees;                     // cJSON *, owned
    int broker_count;                    // brokers started in this test
    bool failing;                        // harness_fail is running: no recursion
    void (*reports[REPORTS_MAX])(void);  // harness_on_fail
    char trace[TRACE_LINES][TRACE_WIDTH];
    int trace_next;   // next slot of the ring
    char *json_text;  // last harness_json_text result, owned
} s_test;

// The brokers' pids, for the signal handler: a test killed by timeout(1) takes them along.
static volatile pid_t s_pids[PIDS_MAX];

// ---------------------------------------------------------------------------------------------
// Small helpers

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void s_trace(const char *format, ...) __attribute__((format(printf, 1, 2)));

static void
s_trace(const char *format, ...)
{
    char *slot = s_test.trace[s_test.trace_next];
    int64_t now = zclock_mono() % 100000;
    int used = snprintf(slot, TRACE_WIDTH, "%05" PRId64 " ", now);
    va_list args;
    va_start(args, format);
    vsnprintf(slot + used, TRACE_WIDTH - (size_t)used, format, args);
    va_end(args);
    s_test.trace_next = (s_test.trace_next + 1) % TRACE_LINES;
}

// Copy bytes into a printable string: control bytes as \xNN, long data shortened.
static void
s_printable(char *buf, size_t size, const void *data, size_t length)
{
    const unsigned char *bytes = data;
    size_t used = 0;
    for (size_t i = 0; i < length && used + 8 < size; i++) {
        if (bytes[i] < 0x20 || bytes[i] == 0x7f)
            used += (size_t)snprintf(buf + used, size - used, "\\x%02x", bytes[i]);
        else
            buf[used++] = (char)bytes[i];
    }
    if (used + 8 >= size && size > 28)
        snprintf(buf + size - 28, 28, "...(%zu)", length);  // room for 20 digits
    else
        buf[used] = 0;
}

static void
s_print_file_tail(const char *path, int lines)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        fprintf(stderr, "(cannot open %s)\n", path);
        return;
    }
    // Count lines, then print the last ones.
    int total = 0, c;
    while ((c = fgetc(file)) != EOF)
        if (c == '\n')
            total++;
    rewind(file);
    int skip = total > lines ? total - lines : 0;
    if (skip)
        fprintf(stderr, "(... %d lines skipped)\n", skip);
    int seen = 0;
    while ((c = fgetc(file)) != EOF) {
        if (seen >= skip)
            fputc(c, stderr);
        if (c == '\n')
            seen++;
    }
    fclose(file);
}

static void
s_remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            if (streq(entry->d_name, ".") || streq(entry->d_name, ".."))
                continue;
            char child[PATH_MAX];
            snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
            struct stat st;
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
                chmod(child, 0700);
                s_remove_tree(child);
            } else
                unlink(child);
        }
        closedir(dir);
        rmdir(path);
    }
}

static const char *
s_broker_path(void)
{
    const char *path = getenv("ZCHAT_BROKER");
    return path && *path ? path : "build/test/zchat-broker";
}

// ---------------------------------------------------------------------------------------------
// The test

static void
s_on_signal(int signum)
{
    for (int i = 0; i < PIDS_MAX; i++)
        if (s_pids[i] > 0)
            kill(s_pids[i], SIGKILL);
    static const char msg[] = "\ne2e: killed by a signal (timeout?): brokers killed\n";
    ssize_t rc = write(2, msg, sizeof msg - 1);
    (void)rc;
    // Remove the temp dir with rm(1): fork and exec are safe here, opendir is not.
    if (*s_test.tmpdir && fork() == 0) {
        execl("/bin/rm", "rm", "-rf", s_test.tmpdir, (char *)NULL);
        _exit(127);
    }
    _exit(128 + signum);
}

void
harness_begin(const char *name)
{
    s_test.name = name;
    s_test.brokers = zlistx_new();
    s_test.clients = zlistx_new();
    s_test.trees = zlistx_new();
    struct timeval tv;
    gettimeofday(&tv, NULL);
    srandom((unsigned)(tv.tv_sec ^ tv.tv_usec ^ (getpid() << 16)));
    // CZMQ would catch SIGINT/SIGTERM and let the test run on: stop, and take the brokers along.
    zsys_handler_set(NULL);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

static void
s_cleanup(void)
{
    hbroker_t *broker;
    while ((broker = zlistx_detach(s_test.brokers, NULL))) {
        if (broker->pid > 0) {
            kill(broker->pid, SIGKILL);
            waitpid(broker->pid, NULL, 0);
        }
        if (broker->out_fd >= 0)
            close(broker->out_fd);
        free(broker);
    }
    hclient_t *client;
    while ((client = zlistx_detach(s_test.clients, NULL))) {
        hclient_close(client);
        free(client->last_raw);
        free(client);
    }
    cJSON *tree;
    while ((tree = zlistx_detach(s_test.trees, NULL)))
        cJSON_Delete(tree);
    zlistx_destroy(&s_test.brokers);
    zlistx_destroy(&s_test.clients);
    zlistx_destroy(&s_test.trees);
    if (s_test.json_text) {
        cJSON_free(s_test.json_text);
        s_test.json_text = NULL;
    }
    if (*s_test.tmpdir && !getenv("ZCHAT_E2E_KEEP"))
        s_remove_tree(s_test.tmpdir);
}

int
harness_end(void)
{
    // A passing test leaves every broker to be stopped the graceful way.
    for (hbroker_t *broker = zlistx_first(s_test.brokers); broker;
         broker = zlistx_next(s_test.brokers))
        if (broker->pid > 0)
            hbroker_stop_at(__FILE__, __LINE__, broker);
    s_cleanup();
    return 0;
}

void
harness_fail(const char *file, int line, const char *format, ...)
{
    if (s_test.failing)
        _exit(1);
    s_test.failing = true;
    fprintf(stderr, "\nFAIL %s: %s:%d: ", s_test.name ? s_test.name : "?", file, line);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n\n--- last messages (ms clock, > sent, < received, = event) ---\n");
    for (int i = 0; i < TRACE_LINES; i++) {
        const char *slot = s_test.trace[(s_test.trace_next + i) % TRACE_LINES];
        if (*slot)
            fprintf(stderr, "%s\n", slot);
    }
    if (s_test.brokers)
        for (hbroker_t *broker = zlistx_first(s_test.brokers); broker;
             broker = zlistx_next(s_test.brokers)) {
            fprintf(stderr, "--- broker %d stderr (%s) ---\n", broker->number, broker->log);
            s_print_file_tail(broker->log, LOG_TAIL);
        }
    for (int i = 0; i < REPORTS_MAX; i++)
        if (s_test.reports[i])
            s_test.reports[i]();
    fprintf(stderr, "--- end of report: FAIL %s ---\n", s_test.name ? s_test.name : "?");
    if (s_test.brokers)
        s_cleanup();
    exit(1);
}

void
harness_on_fail(void (*report)(void))
{
    int slot = 0;
    while (slot < REPORTS_MAX && s_test.reports[slot])
        slot++;
    assert(slot < REPORTS_MAX);
    s_test.reports[slot] = report;
}

void
harness_read_file(const char *path, char *buf, size_t size)
{
    *buf = 0;
    FILE *file = fopen(path, "r");
    if (file) {
        size_t got = fread(buf, 1, size - 1, file);
        buf[got] = 0;
        fclose(file);
    }
}

char *
harness_slurp(const char *path, size_t *size)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    size_t used = 0, max = 65536;
    char *data = malloc(max);
    assert(data);
    size_t got;
    while ((got = fread(data + used, 1, max - used - 1, file)) > 0) {
        used += got;
        if (max - used < 4096) {
            max *= 2;
            char *bigger = realloc(data, max);
            assert(bigger);
            data = bigger;
        }
    }
    fclose(file);
    data[used] = 0;
    if (size)
        *size = used;
    return data;
}

const char *
harness_tmpdir(void)
{
    if (!*s_test.tmpdir) {
        const char *base = getenv("TMPDIR");
        snprintf(s_test.tmpdir, sizeof s_test.tmpdir, "%s/zchat-e2e-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(s_test.tmpdir)) {
            *s_test.tmpdir = 0;
            FAIL("mkdtemp: %s", strerror(errno));
        }
    }
    return s_test.tmpdir;
}

char *
harness_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", harness_tmpdir(), name);
    return buf;
}

void
harness_note(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char text[512];
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (getenv("ZCHAT_E2E_VERBOSE"))
        fprintf(stderr, "note: %s\n", text);
    s_trace("note: %s", text);
}

int64_t
harness_now_ms(void)
{
    return zclock_time();
}

// ---------------------------------------------------------------------------------------------
// The broker process

// fork and exec the broker with argv; stdout into out_fd's pipe (or a file), stderr into
// err_path. Returns the pid.
static pid_t
s_spawn(char *const argv[], int out_fd, const char *err_path)
{
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (err_fd == -1)
        FAIL("open %s: %s", err_path, strerror(errno));
    pid_t pid = fork();
    if (pid == -1)
        FAIL("fork: %s", strerror(errno));
    if (pid == 0) {
        // Only async-signal-safe calls here: the parent has threads. If the test dies, so does
        // the broker.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2(null_fd, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        execv(argv[0], argv);
        static const char msg[] = "e2e: exec of the broker failed (set ZCHAT_BROKER)\n";
        ssize_t rc = write(2, msg, sizeof msg - 1);
        (void)rc;
        _exit(127);
    }
    close(err_fd);
    return pid;
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
    hbroker_t *self = zmalloc(sizeof(hbroker_t));
    self->out_fd = -1;
    self->number = ++s_test.broker_count;
    zlistx_add_end(s_test.brokers, self);
    char name[64];
    snprintf(name, sizeof name, "broker-%d.stderr", self->number);
    harness_path(self->log, sizeof self->log, name);

    const char *argv[64];
    int argc = 0;
    argv[argc++] = s_broker_path();
    argv[argc++] = "--port";
    argv[argc++] = "0";
    bool has_db = false;
    for (int i = 0; args[i]; i++) {
        assert(argc < 60);
        if (streq(args[i], "--db") && args[i + 1]) {
            has_db = true;
            snprintf(self->db, sizeof self->db, "%s", args[i + 1]);
        }
        argv[argc++] = args[i];
    }
    if (!has_db) {
        harness_path(self->db, sizeof self->db, "zchat.db");
        argv[argc++] = "--db";
        argv[argc++] = self->db;
    }
    argv[argc] = NULL;
    char command[2048] = "";
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(command);
        snprintf(command + used, sizeof command - used, "%s%s", i ? " " : "", argv[i]);
    }
    s_trace("start broker %d: %s", self->number, command);

    int fds[2];
    if (pipe(fds) == -1)
        FAIL("pipe: %s", strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    self->pid = s_spawn((char *const *)argv, fds[1], self->log);
    if (self->number <= PIDS_MAX)
        s_pids[self->number - 1] = self->pid;
    close(fds[1]);
    self->out_fd = fds[0];

    // Read the one ready line, with a deadline.
    size_t used = 0;
    int64_t deadline = zclock_mono() + H_START_MS;
    while (!memchr(self->line, '\n', used)) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            FAIL("broker %d printed no ready line within %d ms (%s)", self->number, H_START_MS,
                 command);
        struct pollfd pfd = {self->out_fd, POLLIN, 0};
        int rc = poll(&pfd, 1, (int)left);
        if (rc <= 0)
            continue;
        if (used + 1 >= sizeof self->line)
            FAIL("broker %d: ready line too long", self->number);
        ssize_t got = read(self->out_fd, self->line + used, 1);  // one byte: no over-read
        if (got <= 0) {
            int status = hbroker_wait(self, 2000);
            FAIL("broker %d exited before its ready line (status 0x%x): %s", self->number,
                 (unsigned)status, command);
        }
        used += (size_t)got;
    }
    *strchr(self->line, '\n') = 0;
    s_trace("broker %d: %s", self->number, self->line);
    bool curve = false;
    for (int i = 0; args[i]; i++)
        curve = curve || streq(args[i], "--curve");
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

int
hbroker_wait(hbroker_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (self->pid > 0) {
        int status;
        pid_t rc = waitpid(self->pid, &status, WNOHANG);
        if (rc == self->pid || (rc == -1 && errno != EINTR)) {
            if (self->number > 0 && self->number <= PIDS_MAX)
                s_pids[self->number - 1] = 0;
            self->pid = 0;
            self->status = rc == -1 ? -1 : status;
            break;
        }
        if (zclock_mono() >= deadline)
            return -1;
        s_sleep_ms(2);
    }
    return self->status;
}

void
hbroker_stop_at(const char *file, int line, hbroker_t *self)
{
    if (self->pid <= 0)
        harness_fail(file, line, "broker %d had already exited (status 0x%x) before SIGTERM",
                     self->number, (unsigned)self->status);
    int64_t start = zclock_mono();
    kill(self->pid, SIGTERM);
    int status = hbroker_wait(self, H_STOP_MS);
    if (status == -1) {
        hbroker_kill(self);
        harness_fail(file, line, "broker %d did not exit within %d ms of SIGTERM", self->number,
                     H_STOP_MS);
    }
    s_trace("broker %d stopped in %" PRId64 " ms, status 0x%x", self->number, zclock_mono() - start,
            (unsigned)status);
    if (WIFSIGNALED(status))
        harness_fail(file, line, "broker %d died of signal %d after SIGTERM", self->number,
                     WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        harness_fail(file, line, "broker %d exited %d after SIGTERM, not 0", self->number,
                     WEXITSTATUS(status));
    // Exactly one line on stdout: nothing may follow the ready line.
    char extra[256];
    ssize_t got = read(self->out_fd, extra, sizeof extra - 1);
    if (got > 0) {
        extra[got] = 0;
        harness_fail(file, line, "broker %d printed more than its ready line on stdout: \"%s\"",
                     self->number, extra);
    }
    char text[4096];
    FILE *log = fopen(self->log, "r");
    if (log) {
        while (fgets(text, sizeof text, log))
            if (strstr(text, "dangling"))
                harness_fail(file, line, "broker %d reported dangling sockets: %s", self->number,
                             text);
        fclose(log);
    }
}

void
hbroker_signal(hbroker_t *self, int signum)
{
    if (self->pid > 0) {
        s_trace("signal %d to broker %d", signum, self->number);
        kill(self->pid, signum);
    }
}

void
hbroker_kill(hbroker_t *self)
{
    if (self->pid > 0) {
        s_trace("SIGKILL to broker %d", self->number);
        kill(self->pid, SIGKILL);
        int status;
        waitpid(self->pid, &status, 0);
        if (self->number > 0 && self->number <= PIDS_MAX)
            s_pids[self->number - 1] = 0;
        self->pid = 0;
        self->status = status;
    }
}

bool
hbroker_is_running(hbroker_t *self)
{
    hbroker_wait(self, 0);
    return self->pid > 0;
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
    static int runs;
    runs++;
    char out_path[PATH_MAX], err_path[PATH_MAX], name[64];
    snprintf(name, sizeof name, "run-%d.stdout", runs);
    harness_path(out_path, sizeof out_path, name);
    snprintf(name, sizeof name, "run-%d.stderr", runs);
    harness_path(err_path, sizeof err_path, name);

    const char *args[64];
    int argc = 0;
    args[argc++] = s_broker_path();
    for (int i = 1; argv[i] && argc < 63; i++)
        args[argc++] = argv[i];
    args[argc] = NULL;
    char command[2048] = "";
    for (int i = 0; i < argc; i++) {
        size_t used = strlen(command);
        snprintf(command + used, sizeof command - used, "%s%s", i ? " " : "", args[i]);
    }
    s_trace("run: %s", command);

    int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_fd == -1)
        FAIL("open %s: %s", out_path, strerror(errno));
    hbroker_t proc = {.number = 0, .out_fd = -1};
    proc.pid = s_spawn((char *const *)args, out_fd, err_path);
    close(out_fd);
    int status = hbroker_wait(&proc, timeout_ms);
    if (status == -1) {
        hbroker_kill(&proc);
        FAIL("\"%s\" did not exit within %d ms", command, timeout_ms);
    }
    harness_read_file(out_path, out, out_size);
    harness_read_file(err_path, err, err_size);
    s_trace("run: exit status 0x%x, stdout %zu bytes, stderr \"%.200s\"", (unsigned)status,
            strlen(out), err);
    if (!WIFEXITED(status))
        FAIL("\"%s\" died of signal %d; stderr: %s", command, WTERMSIG(status), err);
    return WEXITSTATUS(status);
}

// ---------------------------------------------------------------------------------------------
// The client

static zsock_t *
s_socket_or_fail(int type)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        FAIL("zsock_new: %s", zmq_strerror(zmq_errno()));
    return sock;
}

// CURVE on sock when the client has a server key.
static void
s_client_curve(hclient_t *self, zsock_t *sock)
{
    if (*self->server_key) {
        zcert_apply(self->cert, sock);
        zsock_set_curve_serverkey(sock, self->server_key);
    }
}

static hclient_t *
s_client_new_curve(hbroker_t *broker, bool slow, const char *identity, const char *server_key,
                   zcert_t *cert)
{
    hclient_t *self = zmalloc(sizeof(hclient_t));
    zlistx_add_end(s_test.clients, self);
    self->broker = broker;
    self->next_id = 1;
    if (identity)
        snprintf(self->identity, sizeof self->identity, "%s", identity);
    else
        snprintf(self->identity, sizeof self->identity, "e2e-%08lx%08lx", (unsigned long)random(),
                 (unsigned long)random());
    self->dealer = s_socket_or_fail(ZMQ_DEALER);
    zsock_set_identity(self->dealer, self->identity);
    if (identity)
        zsock_set_reconnect_ivl(self->dealer, -1);
    zsock_set_linger(self->dealer, 0);
    if (slow) {
        zsock_set_rcvhwm(self->dealer, 1);
        zsock_set_rcvbuf(self->dealer, 4096);
    }
    if (server_key) {
        snprintf(self->server_key, sizeof self->server_key, "%s", server_key);
        self->cert = cert ? zcert_dup(cert) : zcert_new();
        s_client_curve(self, self->dealer);
    }
    if (zsock_connect(self->dealer, "%s", broker->commands) == -1)
        FAIL("connect to %s: %s", broker->commands, zmq_strerror(zmq_errno()));
    return self;
}

static hclient_t *
s_client_new(hbroker_t *broker, bool slow, const char *identity)
{
    return s_client_new_curve(broker, slow, identity, NULL, NULL);
}

hclient_t *
hclient_new(hbroker_t *broker)
{
    return s_client_new(broker, false, NULL);
}

hclient_t *
hclient_new_as(hbroker_t *broker, const char *identity)
{
    return s_client_new(broker, false, identity);
}

hclient_t *
hclient_new_slow(hbroker_t *broker)
{
    return s_client_new(broker, true, NULL);
}

hclient_t *
hclient_login_at(const char *file, int line, hbroker_t *broker, const char *user)
{
    hclient_t *self = hclient_new(broker);
    hclient_sendf(self, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", user);
    cJSON *welcome = hclient_expect_at(file, line, self, "welcome");
    jcheck_str_at(file, line, welcome, "user", user);
    self->welcome = welcome;
    return self;
}

hclient_t *
hclient_observer_at(const char *file, int line, hbroker_t *broker, const char *user)
{
    hclient_t *self = hclient_new(broker);
    if (user)
        hclient_sendf(self, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1,\"observer\":true}",
                      user);
    else
        hclient_send(self, "{\"type\":\"hello\",\"proto\":1,\"observer\":true}");
    self->welcome = hclient_expect_at(file, line, self, "welcome");
    return self;
}

cJSON *
hclient_welcome(const hclient_t *self)
{
    return self->welcome;
}

void
hclient_close(hclient_t *self)
{
    if (self->dealer)
        s_trace("close %s", self->identity);
    zsock_destroy(&self->dealer);
    zsock_destroy(&self->sub);
    zcert_destroy(&self->cert);
}

void
hclient_send_raw(hclient_t *self, const void *data, size_t size)
{
    if (!self->dealer)
        FAIL("send on a closed client");
    char text[TRACE_WIDTH];
    s_printable(text, sizeof text, data, size);
    s_trace("> %s %s", self->identity, text);
    zframe_t *frame = zframe_new(data, size);
    if (zframe_send(&frame, self->dealer, 0) == -1)
        FAIL("send: %s", zmq_strerror(zmq_errno()));
}

bool
hclient_try_send(hclient_t *self, const void *data, size_t size)
{
    if (!self->dealer)
        FAIL("send on a closed client");
    return zmq_send(zsock_resolve(self->dealer), data, size, ZMQ_DONTWAIT) == (int)size;
}

void
hclient_send(hclient_t *self, const char *json)
{
    hclient_send_raw(self, json, strlen(json));
}

void
hclient_sendf(hclient_t *self, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *json = zsys_vprintf(format, args);
    va_end(args);
    assert(json);
    hclient_send(self, json);
    zstr_free(&json);
}

void
hclient_send_frames(hclient_t *self, int count, const char *const frames[])
{
    zmsg_t *msg = zmsg_new();
    for (int i = 0; i < count; i++) {
        s_trace("> %s frame %d/%d: %s", self->identity, i + 1, count, frames[i]);
        zmsg_addstr(msg, frames[i]);
    }
    if (zmsg_send(&msg, self->dealer) == -1)
        FAIL("send: %s", zmq_strerror(zmq_errno()));
}

// Wait for input on sock; true if there is some.
static bool
s_wait_input(zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    int64_t deadline = zclock_mono() + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono();
        int rc = zmq_poll(&item, 1, left > 0 ? (long)left : 0);
        if (rc > 0)
            return true;
        if (rc == -1 && zmq_errno() == EINTR && left > 0)
            continue;
        return false;
    }
}

cJSON *
harness_json(const char *text, size_t size)
{
    cJSON *json = cJSON_ParseWithLength(text, size);
    if (json)
        zlistx_add_end(s_test.trees, json);
    return json;
}

const char *
harness_json_text(const cJSON *json)
{
    if (s_test.json_text)
        cJSON_free(s_test.json_text);
    s_test.json_text = json ? cJSON_PrintUnformatted(json) : NULL;
    return s_test.json_text ? s_test.json_text : "(null)";
}

cJSON *
hclient_recv_at(const char *file, int line, hclient_t *self, int timeout_ms)
{
    if (!self->dealer)
        harness_fail(file, line, "receive on a closed client");
    if (!s_wait_input(self->dealer, timeout_ms))
        return NULL;
    zmsg_t *msg = zmsg_recv(self->dealer);
    if (!msg)
        harness_fail(file, line, "receive: %s", zmq_strerror(zmq_errno()));
    size_t frames = zmsg_size(msg);
    zframe_t *frame = zmsg_first(msg);
    char text[TRACE_WIDTH];
    s_printable(text, sizeof text, zframe_data(frame), zframe_size(frame));
    s_trace("< %s %s%s", self->identity, text, frames > 1 ? " (+ more frames)" : "");
    if (frames != 1) {
        zmsg_destroy(&msg);
        harness_fail(
            file, line,
            "the broker sent %zu frames on ROUTER (zchat-protocol(7) SOCKETS AND FRAMES: one)",
            frames);
    }
    free(self->last_raw);
    self->last_raw = zmalloc(zframe_size(frame) + 1);
    memcpy(self->last_raw, zframe_data(frame), zframe_size(frame));
    cJSON *json = harness_json((const char *)zframe_data(frame), zframe_size(frame));
    zmsg_destroy(&msg);
    if (!json)
        harness_fail(file, line, "the broker sent a frame that is not JSON: %s", text);
    if (!cJSON_IsObject(json) || !cJSON_IsString(jget(json, "type")))
        harness_fail(file, line, "the broker sent JSON that is not an object with a type: %s",
                     text);
    return json;
}

const char *
hclient_last_raw(const hclient_t *self)
{
    return self->last_raw ? self->last_raw : "";
}

cJSON *
hclient_expect_at(const char *file, int line, hclient_t *self, const char *type)
{
    cJSON *json = hclient_recv_at(file, line, self, H_REPLY_MS);
    if (!json)
        harness_fail(file, line, "expected \"%s\" within %d ms, got nothing", type, H_REPLY_MS);
    const char *got = jget(json, "type")->valuestring;
    if (strcmp(got, type) != 0)
        harness_fail(file, line, "expected \"%s\", got: %s", type, harness_json_text(json));
    return json;
}

cJSON *
hclient_expect_error_at(const char *file, int line, hclient_t *self, const char *code,
                        const char *request, const char *id)
{
    cJSON *json = hclient_recv_at(file, line, self, H_REPLY_MS);
    if (!json)
        harness_fail(file, line, "expected error \"%s\" within %d ms, got nothing", code,
                     H_REPLY_MS);
    const char *type = jget(json, "type")->valuestring;
    const cJSON *got = jget(json, "code");
    if (!streq(type, "error") || !cJSON_IsString(got) || !streq(got->valuestring, code))
        harness_fail(file, line, "expected error \"%s\", got: %s", code, harness_json_text(json));
    const cJSON *message = jget(json, "message");
    if (!cJSON_IsString(message) || !*message->valuestring)
        harness_fail(file, line, "error without a message sentence: %s", harness_json_text(json));
    if (request)
        jcheck_str_at(file, line, json, "request", request);
    else
        jcheck_absent_at(file, line, json, "request");
    if (id)
        jcheck_str_at(file, line, json, "id", id);
    else
        jcheck_absent_at(file, line, json, "id");
    return json;
}

void
hclient_expect_nothing_at(const char *file, int line, hclient_t *self, int ms)
{
    cJSON *json = hclient_recv_at(file, line, self, ms);
    if (json)
        harness_fail(file, line, "expected nothing, got: %s", harness_json_text(json));
}

cJSON *
hclient_ping_at(const char *file, int line, hclient_t *self)
{
    hclient_send(self, "{\"type\":\"ping\"}");
    return hclient_expect_at(file, line, self, "pong");
}

cJSON *
hclient_join_at(const char *file, int line, hclient_t *self, const char *room)
{
    hclient_sendf(self, "{\"type\":\"join\",\"room\":\"%s\"}", room);
    return hclient_expect_at(file, line, self, "joined");
}

int64_t
hclient_say_at(const char *file, int line, hclient_t *self, const char *room, const char *text)
{
    char id[32];
    snprintf(id, sizeof id, "say-%d", self->next_id++);
    hclient_sendf(self, "{\"type\":\"say\",\"room\":\"%s\",\"text\":\"%s\",\"id\":\"%s\"}", room,
                  text, id);
    cJSON *ack = hclient_expect_at(file, line, self, "ack");
    jcheck_str_at(file, line, ack, "id", id);
    return jint_at(file, line, ack, "seq");
}

void
hclient_subscribe(hclient_t *self, const char *topic)
{
    if (!self->sub) {
        self->sub = s_socket_or_fail(ZMQ_SUB);
        zsock_set_linger(self->sub, 0);
        s_client_curve(self, self->sub);
        if (zsock_connect(self->sub, "%s", self->broker->feed) == -1)
            FAIL("connect to %s: %s", self->broker->feed, zmq_strerror(zmq_errno()));
    }
    s_trace("subscribe %s to \"%s\"", self->identity, topic);
    zsock_set_subscribe(self->sub, topic);
}

cJSON *
hclient_event_at(const char *file, int line, hclient_t *self, int timeout_ms)
{
    if (!self->sub)
        harness_fail(file, line, "this client has no SUB: subscribe first");
    if (!s_wait_input(self->sub, timeout_ms))
        return NULL;
    zmsg_t *msg = zmsg_recv(self->sub);
    if (!msg)
        harness_fail(file, line, "receive: %s", zmq_strerror(zmq_errno()));
    char topic[300], text[TRACE_WIDTH];
    zframe_t *first = zmsg_first(msg);
    zframe_t *second = zmsg_next(msg);
    s_printable(topic, sizeof topic, zframe_data(first), zframe_size(first));
    if (second)
        s_printable(text, sizeof text, zframe_data(second), zframe_size(second));
    else
        snprintf(text, sizeof text, "(no second frame)");
    s_trace("= %s [%s] %s", self->identity, topic, text);
    size_t frames = zmsg_size(msg);
    cJSON *json =
        second ? harness_json((const char *)zframe_data(second), zframe_size(second)) : NULL;
    zmsg_destroy(&msg);
    if (frames != 2)
        harness_fail(
            file, line,
            "a feed message of %zu frames (zchat-protocol(7) SOCKETS AND FRAMES: [topic][json])",
            frames);
    if (!json || !cJSON_IsObject(json))
        harness_fail(file, line, "a feed event that is not a JSON object: %s", text);
    const cJSON *room = jget(json, "room");
    const cJSON *type = jget(json, "type");
    if (!cJSON_IsString(room) || !cJSON_IsString(type))
        harness_fail(file, line, "a feed event without string type and room: %s", text);
    char expected[300];
    snprintf(expected, sizeof expected, "room/%s/", room->valuestring);
    if (!streq(topic, expected))
        harness_fail(file, line, "feed topic \"%s\" for an event of room \"%s\"", topic,
                     room->valuestring);
    if (!jis_int(jget(json, "seq")) || !jis_int(jget(json, "ts")))
        harness_fail(file, line,
                     "a room event needs integer seq and ts (zchat-protocol(7) ROOM EVENTS): %s",
                     text);
    return json;
}

cJSON *
hclient_expect_event_at(const char *file, int line, hclient_t *self, const char *room,
                        const char *type)
{
    cJSON *json = hclient_event_at(file, line, self, H_REPLY_MS);
    if (!json)
        harness_fail(file, line, "expected a %s event in %s within %d ms, got nothing", type, room,
                     H_REPLY_MS);
    if (!streq(jget(json, "room")->valuestring, room) ||
        !streq(jget(json, "type")->valuestring, type))
        harness_fail(file, line, "expected a %s event in %s, got: %s", type, room,
                     harness_json_text(json));
    return json;
}

cJSON *
hclient_expect_presence_at(const char *file, int line, hclient_t *self, const char *room,
                           const char *user, const char *event, const char *reason)
{
    cJSON *json = hclient_expect_event_at(file, line, self, room, "presence");
    const cJSON *got_user = jget(json, "user");
    const cJSON *got_event = jget(json, "event");
    if (!cJSON_IsString(got_user) || !streq(got_user->valuestring, user) ||
        !cJSON_IsString(got_event) || !streq(got_event->valuestring, event))
        harness_fail(file, line, "expected presence %s of %s in %s, got: %s", event, user, room,
                     harness_json_text(json));
    if (reason)
        jcheck_str_at(file, line, json, "reason", reason);
    return json;
}

cJSON *
hclient_expect_message_at(const char *file, int line, hclient_t *self, const char *room,
                          const char *from, const char *text)
{
    cJSON *json = hclient_expect_event_at(file, line, self, room, "message");
    const cJSON *got_from = jget(json, "from");
    const cJSON *got_text = jget(json, "text");
    if (!cJSON_IsString(got_from) || !streq(got_from->valuestring, from) ||
        !cJSON_IsString(got_text) || !streq(got_text->valuestring, text))
        harness_fail(file, line, "expected message \"%s\" from %s in %s, got: %s", text, from, room,
                     harness_json_text(json));
    return json;
}

void
hclient_expect_no_event_at(const char *file, int line, hclient_t *self, int ms)
{
    cJSON *json = hclient_event_at(file, line, self, ms);
    if (json)
        harness_fail(file, line, "expected no feed event, got: %s", harness_json_text(json));
}

int64_t
hclient_sync_feed_at(const char *file, int line, hclient_t *sub, hclient_t *talker,
                     const char *room)
{
    int64_t deadline = zclock_mono() + 5000;
    int wait_ms = 10;
    while (true) {
        hclient_sendf(talker, "{\"type\":\"say\",\"room\":\"%s\",\"text\":\"sync\"}", room);
        cJSON *event = hclient_event_at(file, line, sub, wait_ms);
        if (event && streq(jget(event, "room")->valuestring, room))
            break;
        cJSON *stray = hclient_recv_at(file, line, talker, 0);
        if (stray)
            harness_fail(file, line, "feed sync: the talker got %s", harness_json_text(stray));
        if (zclock_mono() > deadline)
            harness_fail(file, line, "feed sync: no event of %s on the SUB within 5 s", room);
        if (wait_ms < 200)
            wait_ms *= 2;
    }
    // Subscribed now: one more say, acknowledged, marks the end of the sync traffic.
    int64_t seq = hclient_say_at(file, line, talker, room, "sync");
    while (true) {
        cJSON *event = hclient_event_at(file, line, sub, H_REPLY_MS);
        if (!event)
            harness_fail(file, line, "feed sync: message %" PRId64 " of %s never arrived", seq,
                         room);
        if (streq(jget(event, "room")->valuestring, room) && jint(event, "seq") >= seq)
            break;
    }
    return seq;
}

hclient_t *
hclient_watcher_at(const char *file, int line, hbroker_t *broker, const char *topic,
                   hclient_t *talker, const char *room)
{
    hclient_t *self = hclient_new(broker);
    hclient_subscribe(self, topic);
    hclient_sync_feed_at(file, line, self, talker, room);
    return self;
}

// ---------------------------------------------------------------------------------------------
// JSON

cJSON *
jget(const cJSON *json, const char *key)
{
    return cJSON_IsObject(json) ? cJSON_GetObjectItemCaseSensitive(json, key) : NULL;
}

bool
jis_int(const cJSON *item)
{
    if (!cJSON_IsNumber(item))
        return false;
    double value = item->valuedouble;
    return value == (double)(int64_t)value && value >= -9007199254740992.0 &&
           value <= 9007199254740992.0;
}

static cJSON *
s_field(const char *file, int line, const cJSON *json, const char *key, const char *what,
        cJSON_bool (*is)(const cJSON *))
{
    cJSON *item = jget(json, key);
    if (!item || !is(item))
        harness_fail(file, line, "expected %s field \"%s\" in: %s", what, key,
                     harness_json_text(json));
    return item;
}

const char *
jstr_at(const char *file, int line, const cJSON *json, const char *key)
{
    return s_field(file, line, json, key, "a string", cJSON_IsString)->valuestring;
}

int64_t
jint_at(const char *file, int line, const cJSON *json, const char *key)
{
    cJSON *item = s_field(file, line, json, key, "a number", cJSON_IsNumber);
    if (!jis_int(item))
        harness_fail(file, line, "expected an integer field \"%s\" in: %s", key,
                     harness_json_text(json));
    return (int64_t)item->valuedouble;
}

bool
jbool_at(const char *file, int line, const cJSON *json, const char *key)
{
    return cJSON_IsTrue(s_field(file, line, json, key, "a boolean", cJSON_IsBool));
}

cJSON *
jarr_at(const char *file, int line, const cJSON *json, const char *key)
{
    return s_field(file, line, json, key, "an array", cJSON_IsArray);
}

cJSON *
jobj_at(const char *file, int line, const cJSON *json, const char *key)
{
    return s_field(file, line, json, key, "an object", cJSON_IsObject);
}

void
jcheck_str_at(const char *file, int line, const cJSON *json, const char *key, const char *expected)
{
    const char *got = jstr_at(file, line, json, key);
    if (strcmp(got, expected) != 0)
        harness_fail(file, line, "expected \"%s\": \"%s\" in: %s", key, expected,
                     harness_json_text(json));
}

void
jcheck_int_at(const char *file, int line, const cJSON *json, const char *key, int64_t expected)
{
    int64_t got = jint_at(file, line, json, key);
    if (got != expected)
        harness_fail(file, line, "expected \"%s\": %" PRId64 " in: %s", key, expected,
                     harness_json_text(json));
}

void
jcheck_absent_at(const char *file, int line, const cJSON *json, const char *key)
{
    if (jget(json, key))
        harness_fail(file, line, "expected no field \"%s\" in: %s", key, harness_json_text(json));
}

void
jcheck_strings_at(const char *file, int line, const cJSON *json, const char *key,
                  const char *const expected[])
{
    const cJSON *array = jarr_at(file, line, json, key);
    const cJSON *item = array->child;
    int index = 0;
    for (; expected[index]; index++) {
        if (!cJSON_IsString(item) || !streq(item->valuestring, expected[index]))
            harness_fail(file, line, "expected \"%s\"[%d] = \"%s\" in: %s", key, index,
                         expected[index], harness_json_text(json));
        item = item->next;
    }
    if (item)
        harness_fail(file, line, "\"%s\" has more than %d items in: %s", key, index,
                     harness_json_text(json));
}

// ---------------------------------------------------------------------------------------------
// Security: the broker's second stdout line, CURVE clients

bool
hbroker_read_line(hbroker_t *self, char *buf, size_t size, int timeout_ms)
{
    size_t used = 0;
    int64_t deadline = zclock_mono() + timeout_ms;
    while (self->out_fd >= 0 && used + 1 < size) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        struct pollfd pfd = {self->out_fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t got = read(self->out_fd, buf + used, 1);  // one byte: no over-read
        if (got <= 0)
            break;
        if (buf[used] == '\n') {
            buf[used] = 0;
            s_trace("broker %d: %s", self->number, buf);
            return true;
        }
        used += (size_t)got;
    }
    buf[used] = 0;
    return false;
}

const char *
hbroker_server_key(const hbroker_t *self)
{
    return self->server_key;
}

const char *
hbroker_log(const hbroker_t *self)
{
    return self->log;
}

hclient_t *
hclient_new_curve(hbroker_t *broker, const char *server_key, zcert_t *cert)
{
    return s_client_new_curve(broker, false, NULL, server_key, cert);
}

hclient_t *
hclient_login_curve_at(const char *file, int line, hbroker_t *broker, const char *user)
{
    hclient_t *self = hclient_new_curve(broker, hbroker_server_key(broker), NULL);
    hclient_sendf(self, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", user);
    cJSON *welcome = hclient_expect_at(file, line, self, "welcome");
    jcheck_str_at(file, line, welcome, "user", user);
    self->welcome = welcome;
    return self;
}
