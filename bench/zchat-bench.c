// zchat-bench.c - the benchmark: zchat-broker against a ROUTER->PUB relay
//
// Runs each selected workload --runs times per system, interleaved (broker, relay, broker,
// relay...), each run against a fresh server process, and prints one table: the median of each
// figure per system, the ratio broker/relay, and the target. `zchat-bench --relay` is
// the relay itself (relay.c), started by the bench as a child process like the broker.
#include "bench.h"
#include "hfile.h"
#include "hproc.h"
#include "zchat_arg.h"
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <sys/resource.h>

#define BENCH_RUNS_MAX 15
// Says in flight at most. Both servers' ROUTER queue holds 1,000 messages per peer, but libzmq
// learns what the peer's side has read only every 500 of them, so a burst of acks past about
// 500 may find it full: the server drops those acks and the sender would wait for them until the
// time limit (a server never blocks: zchat-protocol(7) SLOW CONSUMERS).
#define BENCH_WINDOW_MAX 500
#define BENCH_WORKLOADS  5

static const char *s_usage =
    "Usage: zchat-bench [OPTION]...\n"
    "Benchmark zchat-broker against a minimal ROUTER->PUB relay on the same workloads and print\n"
    "one table: medians of interleaved runs, the ratio broker/relay, the targets.\n"
    "\n"
    "  --quick          much smaller counts: the whole run takes well under 30 s\n"
    "  --runs N         interleaved runs per system (default 3)\n"
    "  --only LIST      run only these workloads, e.g. W1,W3 (default: W1 to W5)\n"
    "  --broker PATH    the broker binary (default: zchat-broker beside this program)\n"
    "  --window K       says in flight without a reply, over all senders (default 256,\n"
    "                   at most 500: the servers' reply queues hold no more at once)\n"
    "  --sessions N     W5 sessions (default 10000; --quick 1000)\n"
    "  --io-threads N   ZeroMQ I/O threads of the load generator (default 1)\n"
    "  --verbose        more detail on stderr\n"
    "  --stall-ms MS    W1: one subscriber reads nothing for MS ms, to exercise gap repair\n"
    "  --broker-arg ARG pass ARG to the broker too (repeatable), e.g. --broker-arg=-v\n"
    "  --durable-relay  the relay stores every frame with the broker's own store, one commit\n"
    "                   per turn, before it forwards and acks: the ratios then show what the\n"
    "                   broker costs beyond durable storage\n"
    "  --help           show this help and exit\n"
    "  --version        show the version and exit\n"
    "\n"
    "W1 fan-out: 1 sender, 10 subscribers, 200,000 says of 200 bytes\n"
    "W2 fan-in: 50 senders x 4,000 says, 1 subscriber\n"
    "W3 latency: 1 sender paced at 5,000 says/s for 5 s, 10 subscribers\n"
    "W4 memory: 2,000 idle sessions (DEALER + SUB each): server RSS growth per session\n"
    "W5 scale: 10,000 sessions (a DEALER each; one SUB per room per worker) in 100 rooms,\n"
    "   each pinging every second\n"
    "Exit status: 0 when every run ran (whatever the figures), 1 if one could not, 2 on a bad\n"
    "option.\n";

enum {
    OPT_QUICK = 256,
    OPT_RUNS,
    OPT_ONLY,
    OPT_BROKER,
    OPT_WINDOW,
    OPT_SESSIONS,
    OPT_IO,
    OPT_STALL,
    OPT_BROKER_ARG,
    OPT_DURABLE_RELAY,
    OPT_HELP,
    OPT_VERSION
};

static const struct option s_options[] = {
    {"quick", no_argument, NULL, OPT_QUICK},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"only", required_argument, NULL, OPT_ONLY},
    {"broker", required_argument, NULL, OPT_BROKER},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"sessions", required_argument, NULL, OPT_SESSIONS},
    {"io-threads", required_argument, NULL, OPT_IO},
    {"stall-ms", required_argument, NULL, OPT_STALL},
    {"broker-arg", required_argument, NULL, OPT_BROKER_ARG},
    {"durable-relay", no_argument, NULL, OPT_DURABLE_RELAY},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

// How a figure is held against its target.
typedef enum {
    CHECK_NONE,
    CHECK_RATIO_MIN,     // broker/relay >= bound
    CHECK_RATIO_MAX,     // broker/relay <= bound
    CHECK_BROKER_ZERO,   // broker == 0
    CHECK_BROKER_BELOW,  // broker < bound
    CHECK_BROKER_ALL     // broker == W5 sessions
} s_check_t;

static const struct {
    bench_figure_t figure;
    int workload;  // 1..5
    const char *label;
    int decimals;
    const char *target;
    s_check_t check;
    double bound;
} s_figures[] = {
    {BENCH_W1_RATE, 1, "W1 fan-out delivered/s", 0, ">= 0.8 x relay", CHECK_RATIO_MIN, 0.8},
    {BENCH_W1_LOST, 1, "W1 lost after repair", 0, "0", CHECK_BROKER_ZERO, 0},
    {BENCH_W1_DROPS, 1, "W1 raw PUB drops", 0, "", CHECK_NONE, 0},
    {BENCH_W1_REPAIRED, 1, "W1 repaired via history", 0, "", CHECK_NONE, 0},
    {BENCH_W1_SERVER_CPU, 1, "W1 server CPU per say (us)", 1, "", CHECK_NONE, 0},
    {BENCH_W1_LOAD_CPU, 1, "W1 load gen CPU per say (us)", 1, "", CHECK_NONE, 0},
    {BENCH_W2_RATE, 2, "W2 fan-in delivered/s", 0, ">= 0.8 x relay", CHECK_RATIO_MIN, 0.8},
    {BENCH_W2_LOST, 2, "W2 lost after repair", 0, "0", CHECK_BROKER_ZERO, 0},
    {BENCH_W2_DROPS, 2, "W2 raw PUB drops", 0, "", CHECK_NONE, 0},
    {BENCH_W2_REPAIRED, 2, "W2 repaired via history", 0, "", CHECK_NONE, 0},
    {BENCH_W2_SERVER_CPU, 2, "W2 server CPU per say (us)", 1, "", CHECK_NONE, 0},
    {BENCH_W2_LOAD_CPU, 2, "W2 load gen CPU per say (us)", 1, "", CHECK_NONE, 0},
    {BENCH_W3_P50, 3, "W3 latency p50 (us)", 0, "", CHECK_NONE, 0},
    {BENCH_W3_P99, 3, "W3 latency p99 (us)", 0, "<= 1.25 x relay", CHECK_RATIO_MAX, 1.25},
    {BENCH_W3_P999, 3, "W3 latency p99.9 (us)", 0, "", CHECK_NONE, 0},
    {BENCH_W3_MAX, 3, "W3 latency max (us)", 0, "", CHECK_NONE, 0},
    {BENCH_W3_LOST, 3, "W3 lost after repair", 0, "0", CHECK_BROKER_ZERO, 0},
    {BENCH_W3_DROPS, 3, "W3 raw PUB drops", 0, "", CHECK_NONE, 0},
    {BENCH_W3_SERVER_CPU, 3, "W3 server CPU per say (us)", 1, "", CHECK_NONE, 0},
    {BENCH_W4_KIB, 4, "W4 RSS per session (KiB)", 1, "<= 1.25 x relay", CHECK_RATIO_MAX, 1.25},
    {BENCH_W5_ACCEPTED, 5, "W5 sessions accepted", 0, "all", CHECK_BROKER_ALL, 0},
    {BENCH_W5_SETUP_MS, 5, "W5 time to log all in (ms)", 0, "", CHECK_NONE, 0},
    {BENCH_W5_P50, 5, "W5 ping p50 (us)", 0, "", CHECK_NONE, 0},
    {BENCH_W5_P99, 5, "W5 ping p99 (us)", 0, "< 50000", CHECK_BROKER_BELOW, 50000},
    {BENCH_W5_UNANSWERED, 5, "W5 pings unanswered", 0, "", CHECK_NONE, 0},
    {BENCH_W5_EXPIRED, 5, "W5 sessions expired wrongly", 0, "0", CHECK_BROKER_ZERO, 0},
};

#define S_FIGURES (sizeof s_figures / sizeof s_figures[0])

typedef int workload_fn(const bench_options_t *options, const server_t *server,
                        bench_system_t system, double *figures);

static workload_fn *const s_workloads[BENCH_WORKLOADS] = {feed_fanout, feed_fanin, feed_latency,
                                                          scale_memory, scale_sessions};

// figures of run r, system s
static double s_results[BENCH_RUNS_MAX][BENCH_SYSTEMS][BENCH_FIGURES];

void
bench_note(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "zchat-bench: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n");
    va_end(args);
}

static int
s_compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void
bench_sort(int64_t *values, size_t size)
{
    qsort(values, size, sizeof(int64_t), s_compare_int64);
}

double
bench_quantile(const int64_t *sorted, size_t size, double q)
{
    if (size == 0)
        return NAN;
    double rank = q * (double)size;  // the nearest-rank method: ceil(q * size) - 1
    size_t index = (size_t)rank;
    if ((double)index < rank)
        index++;
    index = index > 0 ? index - 1 : 0;
    return (double)sorted[index < size ? index : size - 1];
}

const char *
bench_find(const void *data, size_t size, const void *needle, size_t needle_size)
{
    const char *at = data;
    const char *end = at + size;
    if (needle_size == 0)
        return at;
    const char first = *(const char *)needle;
    while (at + needle_size <= end) {
        at = memchr(at, first, (size_t)(end - at) - needle_size + 1);
        if (!at)
            return NULL;
        if (memcmp(at, needle, needle_size) == 0)
            return at;
        at++;
    }
    return NULL;
}

// --- Options ---

static int
s_bad(const char *option, const char *value, const char *expect)
{
    return zchat_arg_bad("zchat-bench", option, value, expect);
}

// "W1,W3" (or "1,3") into a bit set. Returns 0 or -1.
static int
s_parse_only(const char *text, unsigned *only)
{
    *only = 0;
    char copy[64];
    if (strlen(text) >= sizeof copy)
        return -1;
    snprintf(copy, sizeof copy, "%s", text);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*item == 'W' || *item == 'w')
            item++;
        if (item[0] < '1' || item[0] > '0' + BENCH_WORKLOADS || item[1])
            return -1;
        *only |= 1u << (item[0] - '1');
    }
    return *only ? 0 : -1;
}

// Parse the command line. Returns -1 to go on, else an exit code.
static int
s_parse(bench_options_t *self, int argc, char **argv)
{
    *self = (bench_options_t){.w1_messages = 200000,
                              .w1_subscribers = 10,
                              .w2_senders = 50,
                              .w2_messages = 4000,
                              .w3_rate = 5000,
                              .w3_ms = 5000,
                              .w3_subscribers = 10,
                              .w4_sessions = 2000,
                              .w5_sessions = 10000,
                              .w5_ping_ms = 1000,
                              .w5_measure_ms = 10000,
                              .window = 256,
                              .text_size = 200,
                              .io_threads = 1,
                              .runs = 3,
                              .only = (1u << BENCH_WORKLOADS) - 1};
    long sessions = 0;
    int broker_args = 0;
    long n;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":v", s_options, NULL)) != -1) {
        switch (c) {
        case OPT_QUICK:
            self->quick = true;
            break;
        case OPT_RUNS:
            if (zchat_arg_number(optarg, 1, BENCH_RUNS_MAX, &n))
                return s_bad("--runs", optarg, "a count, 1-15");
            self->runs = (int)n;
            break;
        case OPT_ONLY:
            if (s_parse_only(optarg, &self->only))
                return s_bad("--only", optarg, "workloads such as W1,W3");
            break;
        case OPT_BROKER:
            if (strlen(optarg) >= sizeof self->broker)
                return s_bad("--broker", optarg, "a shorter path");
            snprintf(self->broker, sizeof self->broker, "%s", optarg);
            break;
        case OPT_WINDOW:
            if (zchat_arg_number(optarg, 1, BENCH_WINDOW_MAX, &n))
                return s_bad("--window", optarg, "a count, 1-500");
            self->window = (int)n;
            break;
        case OPT_SESSIONS:
            if (zchat_arg_number(optarg, 1, 100000, &n))
                return s_bad("--sessions", optarg, "a count, 1-100000");
            sessions = n;
            break;
        case OPT_IO:
            if (zchat_arg_number(optarg, 1, 16, &n))
                return s_bad("--io-threads", optarg, "a count, 1-16");
            self->io_threads = (int)n;
            break;
        case OPT_STALL:
            if (zchat_arg_number(optarg, 0, 60000, &n))
                return s_bad("--stall-ms", optarg, "milliseconds, 0-60000");
            self->stall_ms = (int)n;
            break;
        case OPT_BROKER_ARG:
            if (broker_args == 8)
                return s_bad("--broker-arg", optarg, "at most 8 of them");
            self->broker_args[broker_args++] = optarg;
            break;
        case OPT_DURABLE_RELAY:
            self->durable_relay = true;
            break;
        case 'v':
            self->verbose = true;
            break;
        case OPT_HELP:
            fputs(s_usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("zchat-bench %s\n", ZCHAT_VERSION);
            return 0;
        case ':':
            fprintf(stderr, "zchat-bench: option '%s' needs a value (see --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "zchat-bench: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zchat-bench: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (self->quick) {
        self->w1_messages = 10000;
        self->w2_messages = 200;
        self->w3_ms = 600;
        self->w4_sessions = 200;
        self->w5_sessions = 1000;
        self->w5_ping_ms = 100;
        self->w5_measure_ms = 500;
    }
    if (sessions)
        self->w5_sessions = (int)sessions;

    ssize_t size = readlink("/proc/self/exe", self->self, sizeof self->self - 1);
    if (size <= 0) {
        fprintf(stderr, "zchat-bench: cannot find my own binary: %s\n", strerror(errno));
        return 1;
    }
    self->self[size] = 0;
    if (!*self->broker) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", self->self);
        snprintf(self->broker, sizeof self->broker, "%.4000s/zchat-broker", dirname(dir));
    }
    if (access(self->broker, X_OK) == -1) {
        fprintf(stderr, "zchat-bench: no broker at %s (build it, or give --broker PATH)\n",
                self->broker);
        return 2;
    }
    return -1;
}

// Room for the sessions: the server child inherits our open-file limit, and holds 2 TCP
// connections per W4 session, 1 per W5 session plus one per room and worker (the bench's side
// is spread over worker processes). Raise the soft limit to the hard one; cap W4/W5 at what
// the hard limit allows.
static void
s_raise_file_limit(bench_options_t *self)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur == RLIM_INFINITY || !(self->only & (8u | 16u)))
        return;
    long cap4 = ((long)limit.rlim_cur - 64) / 2;  // the server's own files and sockets: < 64
    long cap5 = (long)limit.rlim_cur - 64 - BENCH_FEEDS_MAX;
    if (self->w4_sessions > cap4) {
        snprintf(self->limit_note, sizeof self->limit_note,
                 "the open-file limit is %ld (hard): a server holds 2 connections per W4 "
                 "session, so W4 runs at most %ld sessions",
                 (long)limit.rlim_cur, cap4);
        bench_note("%s", self->limit_note);
        self->w4_sessions = (int)cap4;
    }
    if (self->w5_sessions > cap5) {
        bench_note("the open-file limit is %ld (hard): W5 runs at most %ld sessions",
                   (long)limit.rlim_cur, cap5);
        self->w5_sessions = (int)cap5;
    }
}

// --- Table ---

static int
s_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// The median over the runs of one figure of one system; NAN if no run measured it.
static double
s_median(int runs, bench_system_t system, bench_figure_t figure)
{
    double values[BENCH_RUNS_MAX];
    int n = 0;
    for (int r = 0; r < runs; r++)
        if (!isnan(s_results[r][system][figure]))
            values[n++] = s_results[r][system][figure];
    if (n == 0)
        return NAN;
    qsort(values, (size_t)n, sizeof(double), s_compare_double);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Format a value with thousands separators.
static const char *
s_format(char *buffer, size_t size, double value, int decimals)
{
    if (isnan(value)) {
        snprintf(buffer, size, "-");
        return buffer;
    }
    char plain[64];
    snprintf(plain, sizeof plain, "%.*f", decimals, value);
    const char *dot = strchr(plain, '.');
    size_t whole = dot ? (size_t)(dot - plain) : strlen(plain);
    size_t start = plain[0] == '-' ? 1 : 0;
    size_t out = 0;
    for (size_t i = 0; i < strlen(plain) && out + 2 < size; i++) {
        if (i > start && i < whole && (whole - i) % 3 == 0)
            buffer[out++] = ',';
        buffer[out++] = plain[i];
    }
    buffer[out] = 0;
    return buffer;
}

static const char *
s_cpu_model(char *buffer, size_t size)
{
    snprintf(buffer, size, "unknown CPU");
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file)
        return buffer;
    char line[256];
    while (fgets(line, sizeof line, file))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            char *model = strchr(line, ':') + 2;
            model[strcspn(model, "\n")] = 0;
            snprintf(buffer, size, "%s", model);
            break;
        }
    fclose(file);
    return buffer;
}

// The 1-minute load average of the machine, or -1.
static double
s_load_average(void)
{
    double load = -1;
    FILE *file = fopen("/proc/loadavg", "r");
    if (file) {
        if (fscanf(file, "%lf", &load) != 1)
            load = -1;
        fclose(file);
    }
    return load;
}

static void
s_print_table(const bench_options_t *options, int64_t elapsed_ms, double load_start)
{
    char cpu[128];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("zchat-bench %s%s: zchat-broker against a ROUTER->PUB relay, all on 127.0.0.1\n",
           ZCHAT_VERSION, options->quick ? " --quick" : "");
    printf("machine: %ld CPU cores (%s), SHARED by the broker or relay and this load generator\n",
           cores, s_cpu_model(cpu, sizeof cpu));
    printf("load average (1 min) of the machine: %.2f at the start, %.2f at the end; the bench "
           "itself adds about 2\n",
           load_start, s_load_average());
    printf("figures: medians of %d interleaved runs (broker, relay, broker, relay...), each on a "
           "fresh server\n",
           options->runs);
    printf("broker: %s --rate 0", options->broker);
    for (int i = 0; options->broker_args[i]; i++)
        printf(" %s", options->broker_args[i]);
    printf(
        ", SQLite file in %s; relay: zchat-bench --relay, one thread%s\n", options->tmpdir,
        options->durable_relay
            ? ", DURABLE: every frame stored with the broker's store, committed before it is sent"
            : "");
    if (options->stall_ms)
        printf("W1 with one subscriber stalled for the first %d ms of the flood\n",
               options->stall_ms);
    printf("load: %d ZeroMQ I/O thread(s), default high-water marks on the bench's sockets\n",
           options->io_threads);
    if (options->only & 1)
        printf("W1 fan-out: 1 sender, %d subscribers, %d says of %d bytes, at most %d unacked\n",
               options->w1_subscribers, options->w1_messages, options->text_size, options->window);
    if (options->only & 2) {
        int window = options->window / options->w2_senders;
        printf("W2 fan-in: %d senders x %d says, 1 subscriber, at most %d unacked per sender\n",
               options->w2_senders, options->w2_messages, window > 0 ? window : 1);
    }
    if (options->only & 4)
        printf("W3 latency: 1 sender paced at %d says/s for %d ms, %d subscribers, send->receive\n",
               options->w3_rate, options->w3_ms, options->w3_subscribers);
    if (options->only & 8)
        printf("W4 memory: %d idle logged-in sessions (DEALER + SUB): VmRSS growth / session\n",
               options->w4_sessions);
    if (options->only & 16)
        printf("W5 scale: %d sessions (a DEALER each; one SUB per room per worker) in 100 rooms, "
               "each pinging every %d ms, round trips over %d ms\n",
               options->w5_sessions, options->w5_ping_ms, options->w5_measure_ms);
    if (*options->limit_note)
        printf("NOTE: %s\n", options->limit_note);
    printf("\n%-30s %14s %14s %8s  %-16s %s\n", "figure", "broker", "relay", "b/r", "target", "");
    for (size_t i = 0; i < S_FIGURES; i++) {
        if (!(options->only & (1u << (s_figures[i].workload - 1))))
            continue;
        double broker = s_median(options->runs, BENCH_BROKER, s_figures[i].figure);
        double relay = s_median(options->runs, BENCH_RELAY, s_figures[i].figure);
        double ratio = relay > 0 && !isnan(broker) ? broker / relay : NAN;
        const char *verdict = "";
        switch (s_figures[i].check) {
        case CHECK_NONE:
            break;
        case CHECK_RATIO_MIN:
            verdict = isnan(ratio) ? "?" : ratio >= s_figures[i].bound ? "ok" : "MISS";
            break;
        case CHECK_RATIO_MAX:
            verdict = isnan(ratio) ? "?" : ratio <= s_figures[i].bound ? "ok" : "MISS";
            break;
        case CHECK_BROKER_ZERO:
            verdict = isnan(broker) ? "?" : broker == 0 ? "ok" : "MISS";
            break;
        case CHECK_BROKER_BELOW:
            verdict = isnan(broker) ? "?" : broker < s_figures[i].bound ? "ok" : "MISS";
            break;
        case CHECK_BROKER_ALL:
            verdict = isnan(broker) ? "?" : broker >= options->w5_sessions ? "ok" : "MISS";
            break;
        }
        char b[32], r[32], q[32];
        s_format(b, sizeof b, broker, s_figures[i].decimals);
        s_format(r, sizeof r, relay, s_figures[i].decimals);
        if (isnan(ratio))
            snprintf(q, sizeof q, "-");
        else
            snprintf(q, sizeof q, "%.2f", ratio);
        printf("%-30s %14s %14s %8s  %-16s %s\n", s_figures[i].label, b, r, q, s_figures[i].target,
               verdict);
    }
    printf("\n(%.1f s in all; lost = measured messages a subscriber never got, after `history` "
           "gap repair for the broker; the relay has no history, so its lost = its raw drops)\n",
           (double)elapsed_ms / 1000);
}

// --- Runs ---

// One line of progress on stderr: the run's main figures.
static void
s_progress(int workload, int run, int runs, bench_system_t system, const double *figures,
           int64_t ms)
{
    char a[32], b[32], c[32];
    const char *name = system == BENCH_BROKER ? "broker" : "relay ";
    switch (workload) {
    case 1:
    case 2: {
        int base = workload == 1 ? BENCH_W1_RATE : BENCH_W2_RATE;
        bench_note("W%d run %d/%d %s: %s delivered/s, lost %s, raw drops %s (%.1f s)", workload,
                   run, runs, name, s_format(a, sizeof a, figures[base], 0),
                   s_format(b, sizeof b, figures[base + 1], 0),
                   s_format(c, sizeof c, figures[base + 2], 0), (double)ms / 1000);
        break;
    }
    case 3:
        bench_note("W3 run %d/%d %s: p50 %s us, p99 %s us, max %s us (%.1f s)", run, runs, name,
                   s_format(a, sizeof a, figures[BENCH_W3_P50], 0),
                   s_format(b, sizeof b, figures[BENCH_W3_P99], 0),
                   s_format(c, sizeof c, figures[BENCH_W3_MAX], 0), (double)ms / 1000);
        break;
    case 4:
        bench_note("W4 run %d/%d %s: %s KiB per session (%.1f s)", run, runs, name,
                   s_format(a, sizeof a, figures[BENCH_W4_KIB], 1), (double)ms / 1000);
        break;
    default:
        bench_note("W5 run %d/%d %s: %s accepted, ping p99 %s us, %s expired (%.1f s)", run, runs,
                   name, s_format(a, sizeof a, figures[BENCH_W5_ACCEPTED], 0),
                   s_format(b, sizeof b, figures[BENCH_W5_P99], 0),
                   s_format(c, sizeof c, figures[BENCH_W5_EXPIRED], 0), (double)ms / 1000);
        break;
    }
}

// Run workload w once against a fresh server of system. Returns 0, or -1 if it could not run.
static int
s_run_once(const bench_options_t *options, int workload, int run, bench_system_t system)
{
    double *figures = s_results[run][system];
    int64_t start = zclock_mono();
    server_t *server = server_start(options, system);
    if (!server)
        return -1;
    if (options->verbose)
        bench_note("W%d run %d %s: pid %d, %s and %s", workload, run + 1,
                   system == BENCH_BROKER ? "broker" : "relay", (int)server_pid(server),
                   server_commands(server), server_feed(server));
    int rc = s_workloads[workload - 1](options, server, system, figures);
    int64_t stop = zclock_mono();
    if (server_stop(&server) != 0)
        rc = -1;
    if (options->verbose)
        bench_note("the server stopped in %" PRId64 " ms", zclock_mono() - stop);
    if (rc == 0)
        s_progress(workload, run + 1, options->runs, system, figures, zclock_mono() - start);
    return rc;
}

// The temp dir of this run (options.tmpdir): databases, server logs, the workers' round trips
static const char *s_tmpdir;

// hproc's hooks: the children's files go to the temp dir; a failure to run one ends the bench
static const char *
s_hproc_dir(void)
{
    return s_tmpdir;
}

static void
s_hproc_fail(const char *file, int line, const char *message)
{
    (void)file;
    (void)line;
    bench_note("%s", message);
    hproc_destroy_all();
    hfile_remove_tree(s_tmpdir);
    exit(1);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && streq(argv[1], "--relay"))
        return relay_main(NULL);
    if (argc == 4 && streq(argv[1], "--relay") && streq(argv[2], "--durable"))
        return relay_main(argv[3]);
    if (argc > 1 && streq(argv[1], "--scale-worker"))
        return scale_worker_main(argc, argv);

    bench_options_t options;
    int rc = s_parse(&options, argc, argv);
    if (rc != -1)
        return rc;
    s_raise_file_limit(&options);
    // Before the first socket: thousands of sockets in W5, and the I/O threads to carry them
    zsys_set_max_sockets(0);
    zsys_set_io_threads((size_t)options.io_threads);
    zsys_init();
    zsys_set_logident("zchat-bench");
    zsys_set_logstream(stderr);

    const char *tmp = getenv("TMPDIR");
    snprintf(options.tmpdir, sizeof options.tmpdir, "%s/zchat-bench.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(options.tmpdir)) {
        bench_note("cannot make a temp dir in %s: %s", tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return 1;
    }
    s_tmpdir = options.tmpdir;
    hproc_set_host(&(hproc_host_t){s_hproc_fail, NULL, s_hproc_dir});
    for (int r = 0; r < BENCH_RUNS_MAX; r++)
        for (int s = 0; s < BENCH_SYSTEMS; s++)
            for (int f = 0; f < BENCH_FIGURES; f++)
                s_results[r][s][f] = NAN;

    int64_t start = zclock_mono();
    double load_start = s_load_average();
    int failures = 0;
    for (int w = 1; w <= BENCH_WORKLOADS && !zsys_interrupted; w++) {
        if (!(options.only & (1u << (w - 1))))
            continue;
        for (int run = 0; run < options.runs && !zsys_interrupted; run++)
            for (int s = 0; s < BENCH_SYSTEMS && !zsys_interrupted; s++)
                if (s_run_once(&options, w, run, (bench_system_t)s) == -1) {
                    bench_note("W%d run %d %s: failed", w, run + 1,
                               s == BENCH_BROKER ? "broker" : "relay");
                    failures++;
                }
    }
    if (zsys_interrupted) {
        bench_note("interrupted");
        failures++;
    }
    s_print_table(&options, zclock_mono() - start, load_start);
    hfile_remove_tree(options.tmpdir);
    return failures ? 1 : 0;
}
