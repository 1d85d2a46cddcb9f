// main.c - zchat-broker: options, logging, signals; nothing else
#include "zchat.h"
#include "broker.h"

int
main(int argc, char **argv)
{
    options_t options;
    int rc = options_parse(&options, argc, argv);
    if (rc != -1)
        return rc;
    zsys_init();
    zsys_set_logident("zchat-broker");
    zsys_set_logstream(stderr);
    zchat_verbose = options.verbose;

    broker_t *broker = broker_new(&options);
    if (!broker)
        return 2;
    printf("zchat-broker %s: commands on %s, feed on %s, database %s\n", ZCHAT_VERSION,
           broker_endpoint(broker), broker_feed(broker), options.db);
    fflush(stdout);
    rc = broker_run(broker);
    broker_destroy(&broker);
    return rc == 0 ? 0 : 1;
}
