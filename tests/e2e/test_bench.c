// test_bench.c - the benchmark runs: its --quick mode, on the broker of this build
// (its figures are not checked here: they are bench's to print, not the tests' to assert)
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"
#include <sys/wait.h>

// The zchat-bench binary: next to the broker
static void
s_bench_path(char *path, size_t size)
{
    const char *broker = getenv("ZCHAT_BROKER");
    if (!broker || !*broker)
        broker = "build/test/zchat-broker";
    const char *slash = strrchr(broker, '/');
    if (slash)
        snprintf(path, size, "%.*s/zchat-bench", (int)(slash - broker), broker);
    else
        snprintf(path, size, "./zchat-bench");
}

// Run zchat-bench with args (NULL-terminated) and fill out with what it printed; fails the test
// unless it exits 0 within 100 s.
static void
s_run_bench(char *out, size_t size, const char *const args[])
{
    char bench[PATH_MAX], out_path[PATH_MAX];
    s_bench_path(bench, sizeof bench);
    harness_path(out_path, sizeof out_path, "bench.out");
    const char *argv[16] = {bench};
    for (size_t i = 0; i < 14 && args[i]; i++)
        argv[i + 1] = args[i];
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(bench, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    int64_t deadline = harness_now_ms() + 100000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (harness_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            FAIL("zchat-bench did not finish within 100 s");
        }
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    *out = 0;
    FILE *file = fopen(out_path, "r");
    if (file) {
        size_t n = fread(out, 1, size - 1, file);
        out[n] = 0;
        fclose(file);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "zchat-bench failed: %s", out);
}

void
test_bench_quick(void)
{
    char out[16384];
    s_run_bench(out, sizeof out, (const char *const[]){"--quick", "--runs", "1", NULL});
    CHECK(strstr(out, "W1 fan-out delivered/s") && strstr(out, "W5 sessions accepted"),
          "zchat-bench printed no table: %s", out);
}

// --durable-relay: the relay stores every frame with the broker's store before it sends it,
// and still loses nothing
void
test_bench_durable_relay(void)
{
    char out[16384];
    s_run_bench(out, sizeof out,
                (const char *const[]){"--quick", "--runs", "1", "--only", "W1,W2",
                                      "--durable-relay", NULL});
    CHECK(strstr(out, "DURABLE") && strstr(out, "W2 fan-in delivered/s"),
          "zchat-bench printed no table: %s", out);
    const char *lost = strstr(out, "W2 lost after repair");
    CHECK(lost, "no W2 lost line: %s", out);
    long broker = -1, relay = -1;
    int read = sscanf(lost, "W2 lost after repair %ld %ld", &broker, &relay);
    CHECK(read == 2 && broker == 0 && relay == 0, "messages lost: %.80s", lost);
}
