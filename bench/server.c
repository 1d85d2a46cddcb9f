// server.c - the system under test as a child process: zchat-broker, or this binary as the relay
//
// Both print one ready line with their endpoints on stdout; both stop on SIGTERM. A separate
// process for the relay too, so both systems pay the same for crossing process boundaries.
#include "bench.h"
#include "hfile.h"
#include "hproc.h"
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>

#define SERVER_START_MS 10000  // how long the ready line may take
#define SERVER_STOP_MS  5000   // SIGTERM, then SIGKILL
#define SERVER_LOG_TAIL 8      // lines of its log shown when a server fails

struct server {
    hproc_t *proc;  // its stdout a pipe (the ready line), its stderr a file (the log)
    bench_system_t system;
    char commands[256];  // ROUTER endpoint
    char feed[256];      // PUB endpoint
    char db[PATH_MAX];   // the server's database; "" for a relay that stores nothing
};

static int s_started;  // servers started so far: names their databases

// Copy the endpoint after label in line (up to ',' or a space) into dest. Returns 0 or -1.
static int
s_endpoint(const char *line, const char *label, char *dest, size_t size)
{
    const char *start = strstr(line, label);
    if (!start)
        return -1;
    start += strlen(label);
    size_t length = strcspn(start, ", \n");
    if (length == 0 || length >= size)
        return -1;
    memcpy(dest, start, length);
    dest[length] = 0;
    return 0;
}

static const char *
s_name(const server_t *self)
{
    return self->system == BENCH_BROKER ? "broker" : "relay";
}

static void
s_unlink_files(const server_t *self)
{
    unlink(hproc_err_path(self->proc));
    if (*self->db) {
        char path[PATH_MAX + 8];
        unlink(self->db);
        snprintf(path, sizeof path, "%s-wal", self->db);
        unlink(path);
        snprintf(path, sizeof path, "%s-shm", self->db);
        unlink(path);
    }
}

server_t *
server_start(const bench_options_t *options, bench_system_t system)
{
    assert(options);
    server_t *self = zmalloc(sizeof(server_t));
    self->system = system;
    int n = ++s_started;
    if (system == BENCH_BROKER || options->durable_relay)
        snprintf(self->db, sizeof self->db, "%.3000s/%s-%d.db", options->tmpdir, s_name(self), n);
    const char *args[16] = {"--relay"};
    if (system == BENCH_BROKER) {
        const char *broker[] = {"--port", "0", "--db", self->db, "--rate", "0"};
        int argc = 0;
        for (; argc < 6; argc++)
            args[argc] = broker[argc];
        for (int i = 0; options->broker_args[i]; i++)
            args[argc++] = options->broker_args[i];
        args[argc] = NULL;
    } else if (options->durable_relay) {
        args[1] = "--durable";
        args[2] = self->db;
    }
    self->proc = hproc_start_argv(system == BENCH_BROKER ? options->broker : options->self,
                                  s_name(self), HPROC_OUT_PIPE | HPROC_IN_NULL, args);

    // The ready line, or the end of its output when it exits first
    int64_t deadline = zclock_mono() + SERVER_START_MS;
    char line[1024] = "";
    bool ready = false;
    while (!ready && zclock_mono() < deadline && !zsys_interrupted &&
           hproc_wait(self->proc, 0) == -1)
        ready = hproc_read_line(self->proc, line, sizeof line, 100);
    if (!ready)
        hproc_read_line(self->proc, line, sizeof line, 0);
    if (s_endpoint(line, "commands on ", self->commands, sizeof self->commands) == -1 ||
        s_endpoint(line, "feed on ", self->feed, sizeof self->feed) == -1) {
        bench_note("the %s did not start (no ready line within %d ms); its log:", s_name(self),
                   SERVER_START_MS);
        hfile_print_tail(hproc_err_path(self->proc), SERVER_LOG_TAIL, "    | ");
        server_stop(&self);
        return NULL;
    }
    return self;
}

int
server_stop(server_t **self_p)
{
    assert(self_p);
    server_t *self = *self_p;
    if (!self)
        return 0;
    int status = hproc_wait(self->proc, 0);
    if (status == -1) {
        // Let the server see the bench's connections close first: a broker that stops while
        // its PUB still has a subscriber that is leaving lingers on it for a second
        zclock_sleep(50);
        hproc_signal(self->proc, SIGTERM);
        status = hproc_wait(self->proc, SERVER_STOP_MS);
        if (status == -1) {
            bench_note("the %s did not stop within %d ms of SIGTERM: killed", s_name(self),
                       SERVER_STOP_MS);
            hproc_kill(self->proc);
        }
    }
    int rc = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc != 0) {
        bench_note("the %s ended with status %d; its log:", s_name(self), rc);
        hfile_print_tail(hproc_err_path(self->proc), SERVER_LOG_TAIL, "    | ");
    }
    s_unlink_files(self);
    hproc_destroy(&self->proc);
    free(self);
    *self_p = NULL;
    return rc;
}

const char *
server_commands(const server_t *self)
{
    assert(self);
    return self->commands;
}

const char *
server_feed(const server_t *self)
{
    assert(self);
    return self->feed;
}

long
server_rss_kib(const server_t *self)
{
    assert(self);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)hproc_pid(self->proc));
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, file))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(file);
    return kib;
}

int64_t
server_cpu_usecs(const server_t *self)
{
    assert(self);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)hproc_pid(self->proc));
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    char line[1024];
    bool ok = fgets(line, sizeof line, file) != NULL;
    fclose(file);
    // pid (comm) state ppid ...: utime and stime are fields 14 and 15, counted after the
    // last ')' since comm may hold anything
    char *p = ok ? strrchr(line, ')') : NULL;
    if (!p)
        return -1;
    unsigned long long ticks[2] = {0, 0};
    int field = 2;
    for (char *token = strtok(p + 1, " "); token; token = strtok(NULL, " ")) {
        field++;
        if (field == 14 || field == 15)
            ticks[field - 14] = strtoull(token, NULL, 10);
        if (field == 15)
            break;
    }
    if (field != 15)
        return -1;
    return (int64_t)((ticks[0] + ticks[1]) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

int64_t
bench_cpu_usecs(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == -1)
        return -1;
    return (int64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

pid_t
server_pid(const server_t *self)
{
    assert(self);
    return hproc_pid(self->proc);
}
