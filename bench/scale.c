// scale.c - many sessions at once: W4 memory, W5 scale
//
// W4: each session is what a real client holds: a DEALER and a SUB, subscribed to its room's
// topic ("room/r<i % SCALE_ROOMS>/"), then hello and join of that room. W5: each session has
// its DEALER, and a worker holds one SUB per room, for all its sessions in that room (as a
// gateway multiplexing its users would): the server then holds about 1 connection per session,
// not 2, and 10,000 sessions fit under an open-file limit of 20,000. A session costs this side
// up to 4 file descriptors (2 sockets, each an eventfd and a TCP connection), so the sessions
// are spread over worker processes (`zchat-bench --scale-worker ...`) of at most
// SCALE_PER_WORKER sessions each, whatever the open-file limit. The bench drives the workers with
// one-line commands on their stdin and reads one-line reports on their stdout.
//
// In a worker, sessions are set up SCALE_PENDING at a time (the listen backlog is small), and
// every live session pings on a fixed period from the moment it is live, so none falls silent
// while the others log in. One thread drives them all with epoll on each DEALER's ZMQ_FD:
// ZMQ_FD only says "look", so a ready socket is read while ZMQ_EVENTS says POLLIN, and again
// after every send.
#include "bench.h"
#include "hproc.h"
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#define SCALE_PENDING     64          // sessions between their first hello and their joined
#define SCALE_ROOMS       100         // rooms the sessions are spread over
#define SCALE_PER_WORKER  2500        // most sessions in one worker process
#define SCALE_WORKERS_MAX 64          // most worker processes
#define SCALE_KEEPALIVE   2000        // W4: ping period, ms (the broker expires after 3 x 5000 ms)
#define SCALE_SETTLE_MS   500         // W4: after setup, wait this long before reading RSS
#define SCALE_DRAIN_MS    5000        // W5: how long the last pongs and the check may take
#define SCALE_EVENTS      256         // epoll events per wait
#define SCALE_STDIN       UINT32_MAX  // epoll data of the worker's stdin

typedef enum { S_HELLO, S_JOIN, S_LIVE, S_FAILED } s_state_t;

typedef struct {
    zsock_t *dealer;
    void *dealer_h;
    zsock_t *sub;  // its own feed (W4), or NULL: the worker's feed of its room (W5)
    s_state_t state;
    int64_t ping_sent;   // µs; 0: no ping in flight
    bool ping_measured;  // the ping in flight was sent while measuring
    bool checked;        // the check ping got a pong naming the session's room
} s_session_t;

typedef struct {
    int index;
    int64_t due;  // µs
} s_due_t;

// The sessions of one worker.
typedef struct {
    const char *commands;  // endpoints
    const char *feed;
    bool relay;                   // its pong names no room
    bool shared_feeds;            // one SUB per room for all sessions (W5)
    zsock_t *feeds[SCALE_ROOMS];  // with shared_feeds: made at the room's first session
    int first;                    // number of the first session (names, rooms)
    s_session_t *sessions;
    int size;     // sessions to set up
    int created;  // sessions made so far
    int pending;  // ... waiting for welcome or joined
    int live;
    int failed;
    int epoll;
    int64_t ping_us;  // ping period
    bool pinging;     // the schedule runs
    s_due_t *queue;   // ping schedule: a ring of size + 1, in order of due time
    size_t head, tail;
    bool measuring;  // pings sent now count
    int64_t *rtt;    // µs, one per measured pong
    size_t rtt_size, rtt_max;
    int64_t measured_sent;
    int64_t skipped;  // pings not sent: the previous one still in flight
    bool checking;    // pongs now answer the check ping
    int checked;
    int64_t errors;
    char first_error[200];
    char command[64];  // a line from stdin
    size_t command_size;
    bool command_ready;
} s_scale_t;

// --- A worker: the sessions ---

static void
s_push(s_scale_t *self, int index, int64_t due)
{
    self->queue[self->tail] = (s_due_t){index, due};
    self->tail = (self->tail + 1) % (size_t)(self->size + 1);
}

static int
s_send(s_session_t *session, const char *request)
{
    return zmq_send(session->dealer_h, request, strlen(request), ZMQ_DONTWAIT) == -1 ? -1 : 0;
}

static void
s_fail(s_scale_t *self, s_session_t *session)
{
    session->state = S_FAILED;
    self->pending--;
    self->failed++;
}

// A reply to session index.
static void
s_on_reply(s_scale_t *self, int index, const char *data, size_t size, int64_t now)
{
    s_session_t *session = &self->sessions[index];
    int room = (self->first + index) % SCALE_ROOMS;
    char text[96];
    if (bench_find(data, size, "\"type\":\"error\"", 14)) {
        if (self->errors++ == 0)
            snprintf(self->first_error, sizeof self->first_error, "%.*s",
                     (int)(size < 150 ? size : 150), data);
        if (session->state == S_HELLO || session->state == S_JOIN)
            s_fail(self, session);
        return;
    }
    switch (session->state) {
    case S_HELLO:
        snprintf(text, sizeof text, "{\"type\":\"join\",\"room\":\"r%d\"}", room);
        if (s_send(session, text) == -1)
            s_fail(self, session);
        else
            session->state = S_JOIN;
        break;
    case S_JOIN:
        session->state = S_LIVE;
        self->pending--;
        self->live++;
        s_push(self, index, now + self->ping_us);
        break;
    case S_LIVE:
        if (self->checking && session->ping_sent) {
            // The broker's pong names the session's room only while the session is live
            snprintf(text, sizeof text, "\"r%d\":", room);
            if (self->relay || bench_find(data, size, text, strlen(text)))
                session->checked = true;
            self->checked++;
        } else if (session->ping_sent && session->ping_measured && self->rtt_size < self->rtt_max) {
            self->rtt[self->rtt_size++] = now - session->ping_sent;
        }
        session->ping_sent = 0;
        break;
    case S_FAILED:
        break;
    }
}

// Read session index while it has something.
static void
s_service(s_scale_t *self, int index)
{
    s_session_t *session = &self->sessions[index];
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    while (zsock_events(session->dealer) & ZMQ_POLLIN) {
        if (zmq_msg_recv(&frame, session->dealer_h, ZMQ_DONTWAIT) == -1)
            break;
        s_on_reply(self, index, zmq_msg_data(&frame), zmq_msg_size(&frame), bench_usecs());
    }
    zmq_msg_close(&frame);
}

// Make session index: subscribe and connect both sockets, say hello.
static void
s_create(s_scale_t *self, int index)
{
    s_session_t *session = &self->sessions[index];
    int room = (self->first + index) % SCALE_ROOMS;
    zsock_t **feed = self->shared_feeds ? &self->feeds[room] : &session->sub;
    char text[96];
    if (!*feed) {
        *feed = zsock_new(ZMQ_SUB);
        assert(*feed);
        zsock_set_linger(*feed, 0);
        snprintf(text, sizeof text, "room/r%d/", room);
        zsock_set_subscribe(*feed, text);
        zsock_connect(*feed, "%s", self->feed);
    }
    session->dealer = zsock_new(ZMQ_DEALER);
    assert(session->dealer);
    zsock_set_linger(session->dealer, 0);
    zsock_connect(session->dealer, "%s", self->commands);
    session->dealer_h = zsock_resolve(session->dealer);
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)index};
    int rc = epoll_ctl(self->epoll, EPOLL_CTL_ADD, zsock_fd(session->dealer), &event);
    assert(rc == 0);
    self->created++;
    self->pending++;
    session->state = S_HELLO;
    snprintf(text, sizeof text, "{\"type\":\"hello\",\"user\":\"u%d\",\"proto\":1}",
             self->first + index);
    if (s_send(session, text) == -1)
        s_fail(self, session);
    s_service(self, index);
}

// Send the pings that are due. Returns the µs until the next one (at most 10 ms).
static int64_t
s_ping_due(s_scale_t *self, int64_t now)
{
    while (self->pinging && self->head != self->tail) {
        s_due_t *due = &self->queue[self->head];
        if (due->due > now)
            return due->due - now < 10000 ? due->due - now : 10000;
        int index = due->index;
        int64_t next = due->due + self->ping_us;
        self->head = (self->head + 1) % (size_t)(self->size + 1);
        s_session_t *session = &self->sessions[index];
        if (session->ping_sent) {
            self->skipped++;  // the last ping has no pong yet: keep its clock
        } else if (s_send(session, BENCH_PING) == 0) {
            session->ping_sent = bench_usecs();
            session->ping_measured = self->measuring;
            if (self->measuring)
                self->measured_sent++;
        }
        s_push(self, index, next);
        s_service(self, index);
    }
    return 10000;
}

// A line on stdin: keep it in command[] once complete. The end of input (the bench is gone)
// reads as "quit".
static void
s_read_stdin(s_scale_t *self)
{
    char byte;
    while (!self->command_ready) {
        if (read(STDIN_FILENO, &byte, 1) != 1) {
            epoll_ctl(self->epoll, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
            snprintf(self->command, sizeof self->command, "quit");
            self->command_ready = true;
        } else if (byte == '\n') {
            self->command[self->command_size] = 0;
            self->command_size = 0;
            self->command_ready = true;
        } else if (self->command_size + 1 < sizeof self->command) {
            self->command[self->command_size++] = byte;
        }
    }
}

// One turn: create sessions up to the pending limit, send due pings, wait for replies.
static void
s_turn(s_scale_t *self)
{
    while (self->created < self->size && self->pending < SCALE_PENDING)
        s_create(self, self->created);
    int64_t wait_us = s_ping_due(self, bench_usecs());
    struct epoll_event events[SCALE_EVENTS];
    int ready = epoll_wait(self->epoll, events, SCALE_EVENTS, (int)((wait_us + 999) / 1000));
    for (int i = 0; i < ready; i++) {
        if (events[i].data.u32 == SCALE_STDIN)
            s_read_stdin(self);
        else
            s_service(self, (int)events[i].data.u32);
    }
}

// Run turns for ms milliseconds.
static void
s_run_for(s_scale_t *self, int ms)
{
    int64_t end = zclock_mono() + ms;
    while (zclock_mono() < end && !zsys_interrupted)
        s_turn(self);
}

// Measure the round trips for measure_ms, then the pongs in flight, then check every session.
static void
s_measure(s_scale_t *self, int measure_ms)
{
    self->rtt_max = (size_t)self->live * (size_t)(measure_ms * 1000 / self->ping_us + 2);
    self->rtt = zmalloc((self->rtt_max ? self->rtt_max : 1) * sizeof(int64_t));
    self->measuring = true;
    s_run_for(self, measure_ms);
    self->measuring = false;

    // Stop pinging; wait for the pongs in flight
    self->pinging = false;
    int64_t deadline = zclock_mono() + SCALE_DRAIN_MS;
    int in_flight = 1;
    while (in_flight && zclock_mono() < deadline && !zsys_interrupted) {
        s_turn(self);
        in_flight = 0;
        for (int i = 0; i < self->created; i++)
            in_flight += self->sessions[i].ping_sent != 0;
    }
    for (int i = 0; i < self->created; i++)
        self->sessions[i].ping_sent = 0;  // a pong after this is not a check's

    // Check: one more ping each; the broker's pong names the room of a session still live
    self->checking = true;
    for (int i = 0; i < self->created; i++) {
        s_session_t *session = &self->sessions[i];
        if (session->state == S_LIVE && s_send(session, BENCH_PING) == 0)
            session->ping_sent = bench_usecs();
        if (session->state == S_LIVE)
            s_service(self, i);
    }
    deadline = zclock_mono() + SCALE_DRAIN_MS;
    while (self->checked < self->live && zclock_mono() < deadline && !zsys_interrupted)
        s_turn(self);
}

// The timeout leaves waiting on a feed: each is an expiry the broker announced.
static int
s_feed_timeouts(zsock_t *sub)
{
    int timeouts = 0;
    char *topic, *event;
    while (sub && (zsock_events(sub) & ZMQ_POLLIN) && zstr_recvx(sub, &topic, &event, NULL) == 2) {
        timeouts += strstr(event, "\"reason\":\"timeout\"") != NULL;
        zstr_free(&topic);
        zstr_free(&event);
    }
    return timeouts;
}

// Count the timeout leaves waiting on the feeds. A shared feed carries those of the worker's
// sessions in its room, each once.
static int
s_timeouts(s_scale_t *self)
{
    int timeouts = 0;
    for (int i = 0; i < self->created; i++)
        timeouts += s_feed_timeouts(self->sessions[i].sub);
    for (int room = 0; room < SCALE_ROOMS; room++)
        timeouts += s_feed_timeouts(self->feeds[room]);
    return timeouts;
}

static s_scale_t *
s_scale_new(const char *commands, const char *feed, bool relay, bool shared_feeds, int first,
            int size, int ping_ms)
{
    s_scale_t *self = zmalloc(sizeof(s_scale_t));
    self->commands = commands;
    self->feed = feed;
    self->relay = relay;
    self->shared_feeds = shared_feeds;
    self->first = first;
    self->size = size;
    self->sessions = zmalloc((size_t)size * sizeof(s_session_t));
    self->queue = zmalloc((size_t)(size + 1) * sizeof(s_due_t));
    self->ping_us = (int64_t)ping_ms * 1000;
    self->pinging = true;
    self->epoll = epoll_create1(EPOLL_CLOEXEC);
    assert(self->epoll != -1);
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = SCALE_STDIN};
    int rc = epoll_ctl(self->epoll, EPOLL_CTL_ADD, STDIN_FILENO, &event);
    assert(rc == 0);
    return self;
}

static void
s_scale_destroy(s_scale_t **self_p)
{
    s_scale_t *self = *self_p;
    // In creation order: CZMQ finds each socket at the head of its list
    for (int room = 0; room < SCALE_ROOMS; room++)
        zsock_destroy(&self->feeds[room]);
    for (int i = 0; i < self->created; i++) {
        zsock_destroy(&self->sessions[i].sub);
        zsock_destroy(&self->sessions[i].dealer);
    }
    close(self->epoll);
    free(self->sessions);
    free(self->queue);
    free(self->rtt);
    free(self);
    *self_p = NULL;
}

// zchat-bench --scale-worker COMMANDS FEED broker|relay FIRST COUNT PING_MS MEASURE_MS RTT_FILE
//                            own|shared
//
// Sets up COUNT sessions numbered from FIRST and says "ready LIVE FAILED" (after a time limit,
// with what it has), pinging all the while. Then, on "measure": measures for MEASURE_MS,
// checks every session, writes the round trips (int64 µs) to RTT_FILE and says
// "result LIVE SENT MEASURED SKIPPED EXPIRED TIMEOUTS". On "quit" or end of input: closes all.
int
scale_worker_main(int argc, char **argv)
{
    if (argc != 11 || !(streq(argv[10], "own") || streq(argv[10], "shared")))
        return 2;
    int first = atoi(argv[5]), count = atoi(argv[6]), ping_ms = atoi(argv[7]);
    int measure_ms = atoi(argv[8]);
    if (count < 1 || ping_ms < 1)
        return 2;
    signal(SIGINT, SIG_IGN);  // the bench ends its workers itself
    zsys_set_max_sockets(0);
    zsys_init();
    zsys_set_logident("zchat-bench-worker");
    zsys_set_logstream(stderr);
    s_scale_t *self = s_scale_new(argv[2], argv[3], streq(argv[4], "relay"),
                                  streq(argv[10], "shared"), first, count, ping_ms);

    int64_t deadline = zclock_mono() + 30000 + 2 * (int64_t)count;
    while (self->live + self->failed < self->size && zclock_mono() < deadline)
        s_turn(self);
    if (self->errors)
        bench_note("%" PRId64 " error replies, the first: %s", self->errors, self->first_error);
    printf("ready %d %d\n", self->live, self->failed);
    fflush(stdout);

    while (true) {
        s_turn(self);
        if (!self->command_ready)
            continue;
        self->command_ready = false;
        if (streq(self->command, "measure")) {
            s_measure(self, measure_ms);
            int alive = 0;
            for (int i = 0; i < self->created; i++)
                alive += self->sessions[i].checked;
            FILE *file = fopen(argv[9], "wb");
            if (file) {
                fwrite(self->rtt, sizeof(int64_t), self->rtt_size, file);
                fclose(file);
            }
            printf("result %d %" PRId64 " %zu %" PRId64 " %d %d\n", self->live, self->measured_sent,
                   self->rtt_size, self->skipped, self->live - alive, s_timeouts(self));
            fflush(stdout);
        } else {
            break;  // "quit", or the bench is gone
        }
    }
    s_scale_destroy(&self);
    return 0;
}

// --- The bench: workers ---

typedef struct {
    hproc_t *proc;   // stdin and stdout pipes, stderr ours
    char line[256];  // the last line it reported
    char rtt[PATH_MAX];
} s_worker_t;

// Start a worker for count sessions from first.
static void
s_worker_start(s_worker_t *self, const bench_options_t *options, const server_t *server,
               bench_system_t system, bool shared_feeds, int first, int count, int ping_ms,
               int measure_ms)
{
    static int started;
    snprintf(self->rtt, sizeof self->rtt, "%.3000s/worker-%d.rtt", options->tmpdir, ++started);
    char numbers[4][16];
    snprintf(numbers[0], 16, "%d", first);
    snprintf(numbers[1], 16, "%d", count);
    snprintf(numbers[2], 16, "%d", ping_ms);
    snprintf(numbers[3], 16, "%d", measure_ms);
    self->proc =
        hproc_start(options->self, "a scale worker", HPROC_OUT_PIPE | HPROC_ERR_INHERIT,
                    "--scale-worker", server_commands(server), server_feed(server),
                    system == BENCH_BROKER ? "broker" : "relay", numbers[0], numbers[1], numbers[2],
                    numbers[3], self->rtt, shared_feeds ? "shared" : "own", NULL);
}

// Wait for each worker's next line until deadline (ms, zclock_mono). Returns how many came (a
// worker that died counts, its line empty). One after the other: the others' lines wait in
// their pipes meanwhile.
static int
s_workers_read(s_worker_t *workers, int size, int64_t deadline)
{
    int count = 0;
    for (int i = 0; i < size; i++) {
        hproc_t *proc = workers[i].proc;
        while (zclock_mono() < deadline && !zsys_interrupted) {
            if (hproc_read_line(proc, workers[i].line, sizeof workers[i].line, 100)) {
                count++;
                break;
            }
            if (!hproc_read(proc, 0)) {  // it died: its line stays empty
                workers[i].line[0] = 0;
                count++;
                break;
            }
        }
    }
    return count;
}

static void
s_workers_send(s_worker_t *workers, int size, const char *command)
{
    for (int i = 0; i < size; i++)
        hproc_type(workers[i].proc, command);
}

// Tell the workers to quit and reap them (SIGKILL after 10 s).
static void
s_workers_stop(s_worker_t *workers, int size)
{
    s_workers_send(workers, size, "quit\n");
    int64_t deadline = zclock_mono() + 10000;
    for (int i = 0; i < size; i++) {
        hproc_close_stdin(workers[i].proc);
        int64_t left = deadline - zclock_mono();
        hproc_wait(workers[i].proc, left > 0 ? (int)left : 0);
        hproc_destroy(&workers[i].proc);  // SIGKILL if it is still there
        unlink(workers[i].rtt);
    }
}

// Start enough workers for size sessions and wait until each is ready. Returns the workers
// (free them) and sets *count and *live, or NULL.
static s_worker_t *
s_workers_setup(const bench_options_t *options, const server_t *server, bench_system_t system,
                bool shared_feeds, int size, int ping_ms, int measure_ms, int *count, int *live,
                int64_t *setup_ms)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    int per_worker = (int)(((long)limit.rlim_cur - 256) / 4);
    if (per_worker > SCALE_PER_WORKER)
        per_worker = SCALE_PER_WORKER;
    if (per_worker < 1)
        per_worker = 1;
    *count = (size + per_worker - 1) / per_worker;
    if (*count > SCALE_WORKERS_MAX) {
        bench_note("%d sessions need more than %d worker processes", size, SCALE_WORKERS_MAX);
        return NULL;
    }
    s_worker_t *workers = zmalloc((size_t)*count * sizeof(s_worker_t));
    int first = 0;
    for (int i = 0; i < *count; i++) {
        int share = size / *count + (i < size % *count);
        s_worker_start(&workers[i], options, server, system, shared_feeds, first, share, ping_ms,
                       measure_ms);
        first += share;
    }
    int64_t start = zclock_mono();
    int64_t deadline = start + 40000 + 2 * (int64_t)size;
    int ready = s_workers_read(workers, *count, deadline);
    *setup_ms = zclock_mono() - start;
    if (options->verbose)
        bench_note("%d workers ready in %" PRId64 " ms", ready, *setup_ms);
    *live = 0;
    int failed = 0;
    for (int i = 0; i < *count; i++) {
        int n = 0, f = 0;
        if (sscanf(workers[i].line, "ready %d %d", &n, &f) == 2) {
            *live += n;
            failed += f;
        }
    }
    if (ready < *count || *live < size)
        bench_note("%d of %d sessions accepted (%d refused; %d of %d workers ready)", *live, size,
                   failed, ready, *count);
    return workers;
}

int
scale_memory(const bench_options_t *options, const server_t *server, bench_system_t system,
             double *figures)
{
    long before = server_rss_kib(server);
    int count, live;
    int64_t setup_ms;
    s_worker_t *workers = s_workers_setup(options, server, system, false, options->w4_sessions,
                                          SCALE_KEEPALIVE, 0, &count, &live, &setup_ms);
    if (!workers)
        return -1;
    zclock_sleep(SCALE_SETTLE_MS);
    long after = server_rss_kib(server);
    if (before > 0 && after > 0 && live > 0)
        figures[BENCH_W4_KIB] = (double)(after - before) / live;
    if (options->verbose)
        bench_note("W4 %s: RSS %ld KiB before, %ld KiB with %d sessions",
                   system == BENCH_BROKER ? "broker" : "relay", before, after, live);
    s_workers_stop(workers, count);
    free(workers);
    return 0;
}

// Append the round trips in a worker's file to *rtt.
static void
s_read_rtt(const char *path, int64_t **rtt, size_t *size, size_t *max)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return;
    int64_t value;
    while (fread(&value, sizeof value, 1, file) == 1) {
        if (*size == *max) {
            *max = *max ? *max * 2 : 65536;
            *rtt = realloc(*rtt, *max * sizeof(int64_t));
            assert(*rtt);
        }
        (*rtt)[(*size)++] = value;
    }
    fclose(file);
}

int
scale_sessions(const bench_options_t *options, const server_t *server, bench_system_t system,
               double *figures)
{
    int count, live;
    int64_t setup_ms;
    s_worker_t *workers =
        s_workers_setup(options, server, system, true, options->w5_sessions, options->w5_ping_ms,
                        options->w5_measure_ms, &count, &live, &setup_ms);
    if (!workers)
        return -1;
    figures[BENCH_W5_ACCEPTED] = live;
    figures[BENCH_W5_SETUP_MS] = (double)setup_ms;
    s_workers_send(workers, count, "measure\n");
    int64_t deadline = zclock_mono() + options->w5_measure_ms + 3 * SCALE_DRAIN_MS;
    int reported = s_workers_read(workers, count, deadline);
    int64_t sent = 0, measured = 0, skipped = 0;
    int expired = 0, timeouts = 0;
    int64_t *rtt = NULL;
    size_t rtt_size = 0, rtt_max = 0;
    for (int i = 0; i < count; i++) {
        int n, e, t;
        int64_t s, m, k;
        if (sscanf(workers[i].line, "result %d %" SCNd64 " %" SCNd64 " %" SCNd64 " %d %d", &n, &s,
                   &m, &k, &e, &t) != 6)
            continue;
        (void)n;
        sent += s;
        measured += m;
        skipped += k;
        expired += e;
        timeouts += t;
        s_read_rtt(workers[i].rtt, &rtt, &rtt_size, &rtt_max);
    }
    s_workers_stop(workers, count);
    free(workers);
    if (reported < count) {
        bench_note("W5: %d of %d workers did not report", count - reported, count);
        free(rtt);
        return -1;
    }
    figures[BENCH_W5_UNANSWERED] = (double)(sent - measured);
    figures[BENCH_W5_EXPIRED] = expired;
    if (timeouts)
        bench_note("W5: %d timeout leaves seen on the feeds", timeouts);
    if (rtt_size)
        bench_sort(rtt, rtt_size);
    figures[BENCH_W5_P50] = bench_quantile(rtt, rtt_size, 0.50);
    figures[BENCH_W5_P99] = bench_quantile(rtt, rtt_size, 0.99);
    if (options->verbose || skipped)
        bench_note("W5 %s: %d workers, %zu round trips, %" PRId64
                   " pings skipped (the last still in flight)",
                   system == BENCH_BROKER ? "broker" : "relay", count, rtt_size, skipped);
    free(rtt);
    return 0;
}
