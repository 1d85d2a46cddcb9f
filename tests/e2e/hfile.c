// hfile.c - e2e harness: files read whole or in part, and temp trees removed
#include "zchat_prelude.h"
#include "hfile.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

char *
hfile_slurp(const char *path, size_t *size)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    size_t used = 0, max = 65536;
    char *data = malloc(max);
    assert(data);
    size_t got;
    while ((got = fread(data + used, 1, max - used - 1, file)) > 0) {
        used += got;
        if (max - used < 4096) {
            max *= 2;
            char *bigger = realloc(data, max);
            assert(bigger);
            data = bigger;
        }
    }
    fclose(file);
    data[used] = 0;
    if (size)
        *size = used;
    return data;
}

void
hfile_read(const char *path, char *buf, size_t size)
{
    assert(size > 0);
    *buf = 0;
    FILE *file = fopen(path, "r");
    if (file) {
        size_t got = fread(buf, 1, size - 1, file);
        buf[got] = 0;
        fclose(file);
    }
}

void
hfile_print_tail(const char *path, int lines, const char *prefix)
{
    size_t size = 0;
    char *data = hfile_slurp(path, &size);
    if (!data) {
        fprintf(stderr, "%s(cannot open %s)\n", prefix, path);
        return;
    }
    // Back from the end over lines newlines (a last line without one counts too)
    const char *start = data + size;
    int total = 0;
    for (const char *at = data; at < data + size; at++)
        total += *at == '\n';
    total += size > 0 && data[size - 1] != '\n';
    for (int seen = 0; start > data; start--)
        if (start[-1] == '\n' && start < data + size && ++seen == lines)
            break;
    if (total > lines)
        fprintf(stderr, "%s(... %d lines skipped)\n", prefix, total - lines);
    while (*start) {
        const char *newline = strchr(start, '\n');
        int length = newline ? (int)(newline - start) : (int)strlen(start);
        fprintf(stderr, "%s%.*s\n", prefix, length, start);
        start += length + (newline ? 1 : 0);
    }
    free(data);
}

void
hfile_remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (streq(entry->d_name, ".") || streq(entry->d_name, ".."))
            continue;
        char child[PATH_MAX];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(child, 0700);
            hfile_remove_tree(child);
        } else {
            unlink(child);
        }
    }
    closedir(dir);
    rmdir(path);
}
