// test_bench.c - the benchmark runs: its --quick mode, on the broker of this build
// (its figures are not checked here: they are bench's to print, not the tests' to assert)
#include "zchat.h"
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

void
test_bench_quick(void)
{
    char bench[PATH_MAX], out_path[PATH_MAX];
    s_bench_path(bench, sizeof bench);
    harness_path(out_path, sizeof out_path, "bench.out");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bench, bench, "--quick", "--runs", "1", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    int64_t deadline = harness_now_ms() + 100000;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (harness_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            FAIL("zchat-bench --quick did not finish within 100 s");
        }
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    char out[16384] = "";
    FILE *file = fopen(out_path, "r");
    if (file) {
        size_t n = fread(out, 1, sizeof out - 1, file);
        out[n] = 0;
        fclose(file);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "zchat-bench --quick failed: %s", out);
    CHECK(strstr(out, "W1 fan-out delivered/s") && strstr(out, "W5 sessions accepted"),
          "zchat-bench printed no table: %s", out);
}
