// logger_main.c - zchat-logger: options, logging; the recording is logger.c's
#include "zchat_prelude.h"
#include "client_options.h"
#include "logger.h"

int
main(int argc, char **argv)
{
    logger_options_t options = {.format = LOGGER_JSONL, .fsync = LOGGER_FSYNC_BATCH};
    client_options_t *command = client_options_new(&logger_program, &options);
    int rc = client_options_parse(command, argc, argv);
    if (rc == -1) {
        client_options_log(command);
        options.host = command->host;
        options.port = command->port;
        options.rooms = command->rooms;
        options.room_count = command->room_count;
        options.server_key = command->server_key;
        options.client_cert = command->client_cert;
        logger_t *logger = logger_new(&options);  // says why if it cannot start
        rc = logger ? logger_run(logger) : LOGGER_EXIT_FATAL;
        logger_destroy(&logger);
    }
    client_options_destroy(&command);
    return rc;
}
