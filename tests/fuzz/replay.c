// replay.c - run a fuzz target without libFuzzer: LLVMFuzzerTestOneInput over each file named on
// the command line, or over each file in a directory named there (make test replays the corpus)
//
// usage: replay [-v] FILE|DIR...   (-v names each input as it runs)
#include "zchat.h"
#include "fuzz.h"
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define S_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_ASAN 1
#endif
#endif
#ifdef S_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

static const char *s_current;  // the input being run, named if it kills the process
static bool s_verbose;

// Name the input that failed: from an assert's SIGABRT, or from a sanitizer's report.
static void
s_say_current(void)
{
    if (!s_current)
        return;
    ssize_t rc = write(STDERR_FILENO, "replay: failed on ", 18);
    rc = write(STDERR_FILENO, s_current, strlen(s_current));
    rc = write(STDERR_FILENO, "\n", 1);
    (void)rc;
}

static void
s_on_abort(int sig)
{
    s_say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

// Read a whole file into a buffer of exactly its size, so ASan sees a read past the end.
static uint8_t *
s_read(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = NULL;
    size_t used = 0, max = 0;
    while (true) {
        if (used == max) {
            max = max ? max * 2 : 4096;
            data = realloc(data, max);
            assert(data);
        }
        size_t got = fread(data + used, 1, max - used, file);
        used += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(file);
    fclose(file);
    if (failed) {
        free(data);
        return NULL;
    }
    uint8_t *exact = malloc(used ? used : 1);
    assert(exact);
    memcpy(exact, data, used);
    free(data);
    *size = used;
    return exact;
}

static int
s_run_file(const char *path)
{
    size_t size = 0;
    uint8_t *data = s_read(path, &size);
    if (!data) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (s_verbose)
        fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    s_current = path;
    LLVMFuzzerTestOneInput(data, size);
    s_current = NULL;
    free(data);
    return 0;
}

static int
s_compare(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Run every regular file of a directory, in name order. Returns the number run, or -1.
static int
s_run_dir(const char *dir)
{
    DIR *handle = opendir(dir);
    if (!handle) {
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **paths = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir(handle))) {
        if (entry->d_name[0] == '.')
            continue;
        paths = realloc(paths, (count + 1) * sizeof(char *));
        assert(paths);
        paths[count] = zsys_sprintf("%s/%s", dir, entry->d_name);
        assert(paths[count]);
        count++;
    }
    closedir(handle);
    if (count)
        qsort(paths, count, sizeof(char *), s_compare);
    int run = 0;
    for (size_t i = 0; i < count; i++) {
        struct stat info;
        if (stat(paths[i], &info) == 0 && S_ISREG(info.st_mode)) {
            if (s_run_file(paths[i]) == -1)
                run = -1;
            else if (run >= 0)
                run++;
        }
        zstr_free(&paths[i]);
    }
    free(paths);
    return run;
}

int
main(int argc, char *argv[])
{
    int first = 1;
    if (argc > 1 && streq(argv[1], "-v")) {
        s_verbose = true;
        first++;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s [-v] FILE|DIR...\n", argv[0]);
        return 2;
    }
    signal(SIGABRT, s_on_abort);
#ifdef S_ASAN
    __sanitizer_set_death_callback(s_say_current);
#endif
    int run = 0;
    for (int i = first; i < argc; i++) {
        struct stat info;
        int rc;
        if (stat(argv[i], &info) == 0 && S_ISDIR(info.st_mode)) {
            rc = s_run_dir(argv[i]);
        } else {
            rc = s_run_file(argv[i]);
            rc = rc == 0 ? 1 : -1;
        }
        if (rc == -1)
            return 1;
        run += rc;
    }
    if (run == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    printf("replay: %d inputs passed\n", run);
    return 0;
}
