// harness.h - e2e harness: the test (failure, cleanup, temp dir, trace). The one header a test
// includes: it brings in the broker process (hbroker.h), the client (hclient.h) and the JSON
// accessors (hjson.h) too.
#ifndef HARNESS_H_INCLUDED
#define HARNESS_H_INCLUDED

#include "zchat_prelude.h"
#include <cJSON.h>

#define H_REPLY_MS 10000  // how long a reply or an event may take, on a busy machine too
#define H_QUIET_MS 250    // how long "nothing arrives" is watched for
#define H_STOP_MS  2000   // zchat-protocol(7) DURABILITY: exit 0 within 2 s of SIGTERM
#define H_START_MS 10000  // how long the broker may take to print its ready line

// ---------------------------------------------------------------------------------------------
// The test: failure, cleanup, temp dir

// Start a test: remember its name. Called by main.
void harness_begin(const char *name);

// End a test that returned: stop every broker still running (SIGTERM, exit 0 expected), destroy
// every client and JSON tree, remove the temp dir. Returns 0; a broker that does not stop
// cleanly fails the test instead (exit 1).
int harness_end(void);

// Fail the running test: print the reason, the broker logs, clean up and exit 1.
void harness_fail(const char *file, int line, const char *format, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#define FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            harness_fail(__FILE__, __LINE__, "CHECK(" #cond ") failed: " __VA_ARGS__);             \
    } while (0)

// Run report when a test fails, after the broker logs and before the temp dir goes: more for
// the failure report (harness_on_end with only a report).
void harness_on_fail(void (*report)(void));

// Read the start of a file into buf (NUL-terminated, truncated); "" if it cannot be read.
void harness_read_file(const char *path, char *buf, size_t size);

// The whole file, NUL-terminated (*size, if size is not NULL, without the NUL); NULL if it
// cannot be read. Caller frees.
char *harness_slurp(const char *path, size_t *size);

// The test's temp dir (created on first use, removed at the end). Borrowed.
const char *harness_tmpdir(void);

// Write path into buf as <tmpdir>/name. Returns buf.
char *harness_path(char *buf, size_t size, const char *name);

// Add a progress note to the trace shown when the test fails (and print it on stderr when
// ZCHAT_E2E_VERBOSE is set).
void harness_note(const char *format, ...) __attribute__((format(printf, 1, 2)));

// Milliseconds since the Unix epoch.
int64_t harness_now_ms(void);

// ---------------------------------------------------------------------------------------------
// For the harness's own modules

// Add a line to the trace shown when the test fails (harness_note adds "note: " in front).
void harness_trace(const char *format, ...) __attribute__((format(printf, 1, 2)));

// Run stop when a test that returned ends (it may fail the test: a broker that does not stop
// cleanly), report when a test fails (after the trace), and cleanup after either (kill, close,
// free) before the temp dir goes. Any of them may be NULL. A module registers on first use;
// each kind runs in the order of registration. At most 8.
void harness_on_end(void (*stop)(void), void (*report)(void), void (*cleanup)(void));

#include "hbroker.h"
#include "hclient.h"
#include "hjson.h"

#endif
