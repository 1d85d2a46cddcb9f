// replay.c - run a fuzz target without libFuzzer: LLVMFuzzerTestOneInput over each file named on
// the command line, or over each file in a directory named there (make test replays the corpus)
//
// usage: replay [-v] FILE|DIR...   (-v names each input as it runs)
#include "zchat_prelude.h"
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
    struct stat info;
    uint8_t *data = NULL;
    if (fstat(fileno(file), &info) == 0 && info.st_size >= 0) {
        *size = (size_t)info.st_size;
        data = malloc(*size ? *size : 1);
        assert(data);
        if (fread(data, 1, *size, file) != *size) {
            free(data);
            data = NULL;
        }
    }
    fclose(file);
    return data;
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

// Run every regular file of a directory, in name order. Returns the number run, or -1.
static int
s_run_dir(const char *dir)
{
    DIR *handle = opendir(dir);
    if (!handle) {
        fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    zlistx_t *paths = zlistx_new();
    zlistx_set_destructor(paths, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_comparator(paths, (zlistx_comparator_fn *)strcmp);
    struct dirent *entry;
    while ((entry = readdir(handle))) {
        if (entry->d_name[0] != '.')
            zlistx_add_end(paths, zsys_sprintf("%s/%s", dir, entry->d_name));
    }
    closedir(handle);
    zlistx_sort(paths);
    int run = 0;
    for (const char *path = zlistx_first(paths); path && run >= 0; path = zlistx_next(paths)) {
        struct stat info;
        if (stat(path, &info) == 0 && S_ISREG(info.st_mode))
            run = s_run_file(path) == 0 ? run + 1 : -1;
    }
    zlistx_destroy(&paths);
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
