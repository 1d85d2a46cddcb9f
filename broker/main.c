// main.c - zchat-broker: options, logging, signals; nothing else
#include "zchat_prelude.h"
#include "broker.h"
#include "admin.h"
#include <fcntl.h>
#include <sys/stat.h>

// A self-pipe: a signal that lands between the loop's check of zsys_interrupted and its poll
// still wakes it at once, instead of at the next timer.
static int s_wake[2] = {-1, -1};

static void
s_on_signal(int signum)
{
    (void)signum;
    zsys_interrupted = 1;
    if (s_wake[1] >= 0) {
        ssize_t n = write(s_wake[1], "", 1);  // async-signal-safe
        (void)n;
    }
}

int
main(int argc, char **argv)
{
    // The database holds password hashes and the keys directory a secret key: files the broker
    // makes are its own
    umask(077);
    options_t options;
    int rc = options_parse(&options, argc, argv);
    if (rc != -1)
        return rc;
    zsys_init();
    zsys_set_logident("zchat-broker");
    zsys_set_logstream(stderr);
    zchat_verbose = options.verbose;
    if (options.command != OPTIONS_RUN)
        return admin_run(&options);  // keygen, user ...
    if (pipe(s_wake) == 0) {
        fcntl(s_wake[0], F_SETFL, O_NONBLOCK);
        fcntl(s_wake[1], F_SETFL, O_NONBLOCK);
    }
    zsys_handler_set(s_on_signal);

    broker_t *broker = broker_new(&options);
    if (!broker)
        return 2;
    printf("zchat-broker %s: commands on %s, feed on %s, database %s\n", ZCHAT_VERSION,
           broker_endpoint(broker), broker_feed(broker), options.db);
    if (broker_server_key(broker))
        printf("zchat-broker: server key %s\n", broker_server_key(broker));
    fflush(stdout);
    broker_stop_on(broker, s_wake[0]);
    rc = broker_run(broker);
    broker_destroy(&broker);
    close(s_wake[0]);
    close(s_wake[1]);
    return rc == 0 ? 0 : 1;
}
