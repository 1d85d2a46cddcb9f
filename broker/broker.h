// broker.h - the ZCHAT/1 broker: sockets, event loop, request dispatch
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include "zchat_prelude.h"
#include "options.h"

typedef struct broker broker_t;

// Bind both sockets and open the database. Returns NULL on failure, after logging why
// (a port in use, a database that cannot be opened).
broker_t *broker_new(const options_t *options);

// Stop gracefully: publish a shutdown leave for every live session, commit, close.
// Null *self_p; safe on NULL.
void broker_destroy(broker_t **self_p);

// The endpoints actually bound (with a port 0 resolved). Borrowed.
const char *broker_endpoint(const broker_t *self);
const char *broker_feed(const broker_t *self);

// With --curve, the broker's public key (Z85, 40 characters), which clients need; else NULL.
// Borrowed.
const char *broker_server_key(const broker_t *self);

// Stop the loop as soon as fd becomes readable (a signal handler's self-pipe); -1: none.
void broker_stop_on(broker_t *self, int fd);

// Run the event loop until SIGINT/SIGTERM. Returns 0, or -1 on a fatal error.
int broker_run(broker_t *self);

void broker_test(bool verbose);

#endif
