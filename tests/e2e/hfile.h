// hfile.h - e2e harness: files read whole or in part, and temp trees removed. No test state, so
// the benchmarks link it too (with hproc).
#ifndef HFILE_H_INCLUDED
#define HFILE_H_INCLUDED

#include "zchat_prelude.h"

// The whole file, NUL-terminated (*size, if size is not NULL, without the NUL); NULL if it
// cannot be read. Caller frees.
char *hfile_slurp(const char *path, size_t *size);

// The start of the file into buf (NUL-terminated, truncated); "" if it cannot be read.
void hfile_read(const char *path, char *buf, size_t size);

// Print the last lines of the file on stderr, each after prefix, with a note of how many were
// left out, or a note that it cannot be opened.
void hfile_print_tail(const char *path, int lines, const char *prefix);

// Remove the directory and everything in it (read-only subdirectories too). Nothing happens if
// it does not exist.
void hfile_remove_tree(const char *path);

#endif
