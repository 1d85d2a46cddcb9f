// bench.h - zchat-bench: the real zchat-broker against a minimal ROUTER->PUB relay, on the same
// workloads in the same run. Declarations shared by the bench modules.
#ifndef BENCH_H_INCLUDED
#define BENCH_H_INCLUDED

#include "zchat_prelude.h"
#include <limits.h>
#include <math.h>  // NAN and isnan only: no libm
#include <sys/types.h>

// The room every feed workload (W1-W3) uses, and its topic. The relay publishes under this
// topic too, so a subscriber is set up the same way for both systems.
#define BENCH_ROOM  "bench"
#define BENCH_TOPIC "room/bench/"

// The exact ping frame the bench sends: the relay answers it with BENCH_PONG.
#define BENCH_PING "{\"type\":\"ping\"}"
#define BENCH_PONG "{\"type\":\"pong\",\"seqs\":{}}"

// The relay's answer to every other frame, so a sender windows on replies the same way.
#define BENCH_ACK "{\"type\":\"ack\"}"

// W5: the server's connections for the workers' shared feeds, at most (one per room and worker).
#define BENCH_FEEDS_MAX 1000

// The figures of the table, in print order.
typedef enum {
    BENCH_W1_RATE,
    BENCH_W1_LOST,
    BENCH_W1_DROPS,
    BENCH_W1_REPAIRED,
    BENCH_W1_SERVER_CPU,
    BENCH_W1_LOAD_CPU,
    BENCH_W2_RATE,
    BENCH_W2_LOST,
    BENCH_W2_DROPS,
    BENCH_W2_REPAIRED,
    BENCH_W2_SERVER_CPU,
    BENCH_W2_LOAD_CPU,
    BENCH_W3_P50,
    BENCH_W3_P99,
    BENCH_W3_P999,
    BENCH_W3_MAX,
    BENCH_W3_LOST,
    BENCH_W3_DROPS,
    BENCH_W3_SERVER_CPU,
    BENCH_W4_KIB,
    BENCH_W5_ACCEPTED,
    BENCH_W5_SETUP_MS,
    BENCH_W5_P50,
    BENCH_W5_P99,
    BENCH_W5_UNANSWERED,
    BENCH_W5_EXPIRED,
    BENCH_FIGURES
} bench_figure_t;

typedef enum { BENCH_BROKER, BENCH_RELAY, BENCH_SYSTEMS } bench_system_t;

typedef struct {
    int w1_messages;             // W1: messages from the one sender
    int w1_subscribers;          // W1: subscriber sessions
    int w2_senders;              // W2: sender sessions
    int w2_messages;             // W2: messages per sender
    int w3_rate;                 // W3: messages per second
    int w3_ms;                   // W3: how long the sender sends
    int w3_subscribers;          // W3: subscriber sessions
    int w4_sessions;             // W4: idle sessions
    int w5_sessions;             // W5: pinging sessions
    int w5_ping_ms;              // W5: each session pings this often
    int w5_measure_ms;           // W5: how long the ping round trips are measured
    int window;                  // say requests in flight without a reply, over all senders
    int text_size;               // bytes of each say text
    int io_threads;              // ZeroMQ I/O threads of the bench process
    int runs;                    // interleaved runs per system
    int stall_ms;                // W1: subscriber 0 reads nothing for this long (0: never stalls)
    const char *broker_args[9];  // extra arguments for the broker, NULL-terminated
    unsigned only;               // bit w-1 set: run workload Ww
    bool quick;
    bool verbose;
    bool durable_relay;     // the relay stores every frame before it forwards it
    char limit_note[256];   // why W4/W5 run fewer sessions than asked, or ""
    char broker[PATH_MAX];  // the zchat-broker binary
    char self[PATH_MAX];    // this binary, started again with --relay
    char tmpdir[PATH_MAX];  // databases and server logs; removed at the end
} bench_options_t;

// Microseconds on a monotonic clock (zclock_usecs), the one clock of send and receive stamps.
#define bench_usecs() zclock_usecs()

// Print a progress or diagnostic line on stderr, prefixed "zchat-bench: ".
void bench_note(const char *format, ...) CHECK_PRINTF(1);

// The first occurrence of needle (size bytes) in data (size bytes), or NULL: memmem without
// _GNU_SOURCE.
const char *bench_find(const void *data, size_t size, const void *needle, size_t needle_size);

// Sort values ascending, for bench_quantile.
void bench_sort(int64_t *values, size_t size);

// The q-quantile (0..1) of sorted values by the nearest-rank method; NAN if there are none.
double bench_quantile(const int64_t *sorted, size_t size, double q);

// --- server.c: a broker or relay child process ---

typedef struct server server_t;

// Start the system as a child process on free loopback ports (the broker with a fresh SQLite
// database in tmpdir and --rate 0) and wait for its ready line. Returns NULL, after a note,
// if it does not start.
server_t *server_start(const bench_options_t *options, bench_system_t system);

// SIGTERM the child and reap it (SIGKILL after 5 s). Null *self_p; safe on NULL. Returns its
// exit status, or -1 if it had to be killed or died of a signal.
int server_stop(server_t **self_p);

// The endpoints from the ready line. Borrowed.
const char *server_commands(const server_t *self);
const char *server_feed(const server_t *self);

// The child's resident set (VmRSS of /proc/PID/status) in KiB, or -1.
long server_rss_kib(const server_t *self);

// CPU time the child has used so far, all its threads, user and system, in µs; -1 if unknown.
int64_t server_cpu_usecs(const server_t *self);

// CPU time this process (the load generator) has used so far, as above.
int64_t bench_cpu_usecs(void);

// The child's pid, for perf or gdb.
pid_t server_pid(const server_t *self);

// --- relay.c: the ROUTER->PUB relay (zchat-bench --relay) ---

// Bind a ROUTER and a PUB on free loopback ports, print the ready line, and forward every
// request frame to the PUB under BENCH_TOPIC, unparsed, until SIGTERM. With durable (a
// database path, or NULL), store each frame first with the broker's store and commit each
// turn before forwarding it. Returns the exit code.
int relay_main(const char *durable);

// --- feed.c: the feed workloads, W1 fan-out, W2 fan-in, W3 latency ---

// Run one workload against a started server and write its figures into figures[] (the others
// are left alone). Return 0, or -1 if the run could not be set up (then the figures are NAN).
int feed_fanout(const bench_options_t *options, const server_t *server, bench_system_t system,
                double *figures);
int feed_fanin(const bench_options_t *options, const server_t *server, bench_system_t system,
               double *figures);
int feed_latency(const bench_options_t *options, const server_t *server, bench_system_t system,
                 double *figures);

// --- scale.c: many sessions, W4 memory and W5 scale ---

int scale_memory(const bench_options_t *options, const server_t *server, bench_system_t system,
                 double *figures);
// zchat-bench --scale-worker ...: one worker process of W4/W5. Returns the exit code.
int scale_worker_main(int argc, char **argv);

int scale_sessions(const bench_options_t *options, const server_t *server, bench_system_t system,
                   double *figures);

#endif
