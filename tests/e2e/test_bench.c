// test_bench.c - the benchmark runs, on the broker of this build, and reports what the broker
// promises on any machine: no event lost once gaps are repaired from history, every session
// accepted, none expired. (Its speed figures are the bench's to print, not the tests' to assert.)
#include "zchat_prelude.h"
#include "harness.h"
#include "hproc.h"
#include "tests.h"

#define S_BENCH_MS 100000  // how long one zchat-bench run may take
// History for every event of a flood (W2 --quick says 10,000 times, and syncs), so an event a
// subscriber missed is still there to repair however slow this machine is
#define S_HISTORY "--history=100000"

// Run zchat-bench --quick --runs 1 with args (NULL-terminated); fails unless it exits 0 within
// S_BENCH_MS. Returns the table it printed (freed by the test's end).
static const char *
s_run_bench(const char *const args[])
{
    const char *argv[16] = {"--quick", "--runs", "1", "--broker-arg", S_HISTORY};
    int argc = 5;
    for (int i = 0; args[i]; i++) {
        CHECK(argc < 15, "too many arguments");
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    hproc_t *bench = hproc_start_argv("zchat-bench", NULL, HPROC_IN_NULL | HPROC_REPORT, argv);
    int code = hproc_wait_exit(bench, S_BENCH_MS);
    static char *table;
    free(table);
    table = harness_slurp(hproc_out_path(bench), NULL);
    CHECK(code == 0 && table, "zchat-bench exit %d; its output: %s", code, table ? table : "");
    return table;
}

// The broker's figure on the table line labelled label ("W1 lost after repair"): a number
// printed with thousands separators. Fails if the line or the number is missing.
static double
s_broker_figure_at(const char *file, int line, const char *table, const char *label)
{
    const char *at = table;
    while ((at = strstr(at, label)) && at > table && at[-1] != '\n')
        at += strlen(label);
    if (!at || at[strlen(label)] != ' ')
        harness_fail(file, line, "no \"%s\" line in the table:\n%s", label, table);
    at += strlen(label) + strspn(at + strlen(label), " ");
    char number[32];
    size_t used = 0;
    for (; *at && *at != ' ' && used + 1 < sizeof number; at++)
        if (*at != ',')
            number[used++] = *at;
    number[used] = 0;
    char *end;
    double value = strtod(number, &end);
    if (used == 0 || *end)
        harness_fail(file, line, "\"%s\": the broker has no figure (\"%s\"):\n%s", label, number,
                     table);
    return value;
}
#define s_broker_figure(table, label) s_broker_figure_at(__FILE__, __LINE__, table, label)

void
test_bench_quick(void)
{
    const char *table = s_run_bench((const char *const[]){NULL});
    const char *labels[] = {"W1 lost after repair", "W2 lost after repair", "W3 lost after repair",
                            "W5 sessions expired wrongly"};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        double figure = s_broker_figure(table, labels[i]);
        CHECK(figure == 0, "%s: %.0f, not 0:\n%s", labels[i], figure, table);
    }
    // "W5 scale: 1000 sessions ...": fewer when the file limit is low, and said so
    const char *scale = strstr(table, "W5 scale: ");
    CHECK(scale, "no W5 line in the header:\n%s", table);
    double sessions = atof(scale + strlen("W5 scale: "));
    double accepted = s_broker_figure(table, "W5 sessions accepted");
    CHECK(sessions > 0 && accepted == sessions, "the broker accepted %.0f of %.0f sessions:\n%s",
          accepted, sessions, table);
}

// --durable-relay: the relay stores every frame with the broker's store before it sends it,
// and still loses nothing
void
test_bench_durable_relay(void)
{
    const char *table =
        s_run_bench((const char *const[]){"--only", "W1,W2", "--durable-relay", NULL});
    CHECK(strstr(table, "DURABLE") && strstr(table, "W2 fan-in delivered/s"),
          "zchat-bench printed no table: %s", table);
    CHECK(s_broker_figure(table, "W1 lost after repair") == 0, "W1 lost events:\n%s", table);
    const char *lost = strstr(table, "W2 lost after repair");
    CHECK(lost, "no W2 lost line: %s", table);
    long broker = -1, relay = -1;
    int read = sscanf(lost, "W2 lost after repair %ld %ld", &broker, &relay);
    CHECK(read == 2 && broker == 0 && relay == 0, "messages lost: %.80s", lost);
}
