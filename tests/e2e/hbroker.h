// hbroker.h - e2e harness: a zchat-broker child process per hbroker_start, on a free loopback
// port with its database in the test's temp dir; stopped with SIGTERM at the end of the test.
// Included by harness.h.
#ifndef HBROKER_H_INCLUDED
#define HBROKER_H_INCLUDED

#include "zchat_prelude.h"

typedef struct hbroker hbroker_t;

// Start ZCHAT_BROKER with the NULL-terminated extra args, on --port 0 (random free ports the
// broker picks itself) unless args say -p, --port or --feed-port, with --db <tmpdir>/zchat.db
// unless args say --db; wait for its ready line and parse both endpoints from it.
// The harness owns the result; it stays valid until the end of the test.
// hbroker_start(NULL), hbroker_start("--heartbeat", "200", NULL).
hbroker_t *hbroker_start_argv(const char *const args[]);
#define hbroker_start(...) hbroker_start_argv((const char *const[]){__VA_ARGS__})

// Send SIGTERM and require exit 0 within 2 s (and no "dangling" socket report on stderr); 2 s
// of the broker's time: longer on a machine loaded above its core count.
void hbroker_stop_at(const char *file, int line, hbroker_t *self);
#define hbroker_stop(b) hbroker_stop_at(__FILE__, __LINE__, b)

// Send a signal without waiting (SIGKILL for crash tests, SIGINT...).
void hbroker_signal(hbroker_t *self, int signum);

// Wait up to timeout_ms for the broker to exit. Returns the raw wait status, or -1 on timeout.
int hbroker_wait(hbroker_t *self, int timeout_ms);

// SIGKILL and reap.
void hbroker_kill(hbroker_t *self);

// true while the process has not been reaped.
bool hbroker_is_running(hbroker_t *self);

// Borrowed strings parsed from the ready line.
const char *hbroker_commands(const hbroker_t *self);
const char *hbroker_feed(const hbroker_t *self);
const char *hbroker_ready_line(const hbroker_t *self);
const char *hbroker_db(const hbroker_t *self);

// Run ZCHAT_BROKER with exactly argv (argv[0] is ignored and replaced; NULL-terminated) and
// wait for its exit, up to timeout_ms. Captures stdout and stderr into the given buffers
// (NUL-terminated, truncated). Returns the exit code, or fails the test if it did not exit
// normally in time.
int harness_run_broker(const char *const argv[], int timeout_ms, char *out, size_t out_size,
                       char *err, size_t err_size);

// A free loopback port, and the next one free too, picked at random (from 20000 to 31999), for
// a test that restarts a broker on the same port: a broker there does not meet another test's,
// and the clients of one that stopped do not reconnect to another test's broker.
int hbroker_free_port(void);

// The port of the broker's commands endpoint.
int hbroker_port(const hbroker_t *self);
#define hproc_port(broker) hbroker_port(broker)  // its older name

// Read the broker's next stdout line (without its newline) into buf, waiting up to timeout_ms.
// Returns false if none came. (hbroker_start reads the server key line of --curve itself.)
bool hbroker_read_line(hbroker_t *self, char *buf, size_t size, int timeout_ms);

// The file holding the broker's stderr (its log). Borrowed.
const char *hbroker_log(const hbroker_t *self);

// With --curve: the server key the broker printed on its second line; "" otherwise. Borrowed.
const char *hbroker_server_key(const hbroker_t *self);

#endif
