// server.c - the system under test as a child process: zchat-broker, or this binary as the relay
//
// Both print one ready line with their endpoints on stdout; both stop on SIGTERM. A separate
// process for the relay too, so both systems pay the same for crossing process boundaries.
#include "bench.h"
#include <sys/resource.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#define SERVER_START_MS 10000  // how long the ready line may take
#define SERVER_STOP_MS  5000   // SIGTERM, then SIGKILL

struct server {
    pid_t pid;
    bench_system_t system;
    char commands[256];  // ROUTER endpoint
    char feed[256];      // PUB endpoint
    char out[PATH_MAX];  // its stdout: the ready line
    char err[PATH_MAX];  // its stderr: the log
    char db[PATH_MAX];   // the server's database; "" for a relay that stores nothing
};

static int s_started;  // servers started so far: names their files

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

// Print the last lines of the child's log, for a server that failed.
static void
s_show_log(const server_t *self)
{
    FILE *file = fopen(self->err, "r");
    if (!file)
        return;
    char line[512];
    char lines[8][512];
    int count = 0;
    while (fgets(line, sizeof line, file))
        snprintf(lines[count++ % 8], sizeof lines[0], "%s", line);
    fclose(file);
    for (int i = count > 8 ? count - 8 : 0; i < count; i++)
        fprintf(stderr, "    | %s", lines[i % 8]);
}

static void
s_unlink_files(const server_t *self)
{
    unlink(self->out);
    unlink(self->err);
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
    const char *name = system == BENCH_BROKER ? "broker" : "relay";
    snprintf(self->out, sizeof self->out, "%.3000s/%s-%d.out", options->tmpdir, name, n);
    snprintf(self->err, sizeof self->err, "%.3000s/%s-%d.log", options->tmpdir, name, n);
    if (system == BENCH_BROKER || options->durable_relay)
        snprintf(self->db, sizeof self->db, "%.3000s/%s-%d.db", options->tmpdir, name, n);

    fflush(stdout);
    fflush(stderr);
    self->pid = fork();
    if (self->pid == -1) {
        bench_note("cannot fork: %s", strerror(errno));
        free(self);
        return NULL;
    }
    if (self->pid == 0) {
        // The child: stdout and stderr to files, then exec; nothing of CZMQ is used here
        int out = open(self->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(self->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out == -1 || err == -1)
            _exit(127);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        close(out);
        close(err);
        if (system == BENCH_BROKER) {
            const char *argv[16] = {options->broker, "--port", "0", "--db",
                                    self->db,        "--rate", "0"};
            for (int i = 0; options->broker_args[i]; i++)
                argv[7 + i] = options->broker_args[i];
            execv(options->broker, (char *const *)argv);
        } else {
            if (options->durable_relay)
                execl(options->self, options->self, "--relay", "--durable", self->db, (char *)NULL);
            else
                execl(options->self, options->self, "--relay", (char *)NULL);
        }
        fprintf(stderr, "cannot run %s: %s\n",
                system == BENCH_BROKER ? options->broker : options->self, strerror(errno));
        _exit(127);
    }

    // The parent: wait for the ready line
    int64_t deadline = zclock_mono() + SERVER_START_MS;
    char line[1024] = "";
    while (zclock_mono() < deadline && !zsys_interrupted) {
        FILE *file = fopen(self->out, "r");
        bool ready = false;
        if (file) {
            ready = fgets(line, sizeof line, file) && strchr(line, '\n');
            fclose(file);
        }
        if (ready)
            break;
        int status;
        if (waitpid(self->pid, &status, WNOHANG) == self->pid) {
            self->pid = 0;
            break;
        }
        zclock_sleep(5);
    }
    if (s_endpoint(line, "commands on ", self->commands, sizeof self->commands) == -1 ||
        s_endpoint(line, "feed on ", self->feed, sizeof self->feed) == -1) {
        bench_note("the %s did not start (no ready line within %d ms); its log:", name,
                   SERVER_START_MS);
        s_show_log(self);
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
    int rc = -1;
    if (self->pid > 0) {
        // Let the server see the bench's connections close first: a broker that stops while
        // its PUB still has a subscriber that is leaving lingers on it for a second
        zclock_sleep(50);
        kill(self->pid, SIGTERM);
        int64_t deadline = zclock_mono() + SERVER_STOP_MS;
        int status = 0;
        pid_t done = 0;
        while ((done = waitpid(self->pid, &status, WNOHANG)) == 0 && zclock_mono() < deadline)
            zclock_sleep(5);
        if (done == 0) {
            bench_note("the %s did not stop within %d ms of SIGTERM: killed",
                       self->system == BENCH_BROKER ? "broker" : "relay", SERVER_STOP_MS);
            kill(self->pid, SIGKILL);
            waitpid(self->pid, &status, 0);
        } else if (done == self->pid && WIFEXITED(status)) {
            rc = WEXITSTATUS(status);
        }
        if (rc != 0) {
            bench_note("the %s ended with status %d; its log:",
                       self->system == BENCH_BROKER ? "broker" : "relay", rc);
            s_show_log(self);
        }
    }
    s_unlink_files(self);
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
    snprintf(path, sizeof path, "/proc/%d/status", (int)self->pid);
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
    snprintf(path, sizeof path, "/proc/%d/stat", (int)self->pid);
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
    return self->pid;
}
