// options.h - zchat-broker's command line
#ifndef OPTIONS_H_INCLUDED
#define OPTIONS_H_INCLUDED

#include "zchat.h"

typedef struct {
    char host[256];           // bind address
    int port;                 // commands (ROUTER); 0: any free port
    int feed_port;            // feed (PUB); -1: port + 1 (or any free one when port is 0)
    char feed_endpoint[300];  // advertised in welcome.feed; "": derived from host and port
    char db[4096];            // SQLite path, or ":memory:"
    int heartbeat_ms;
    double rate;  // requests/s per session; 0: no limit
    double burst;
    long history;  // events kept per room
    bool verbose;
} options_t;

// Parse argv into options. Returns -1 to go on and run; otherwise the exit code, after
// printing --help or --version (0) or a one-line error on stderr (2).
int options_parse(options_t *self, int argc, char **argv);

void options_test(bool verbose);

#endif
