// zchat_main.c - the zchat chat client: options (or questions, when run bare on a terminal), then
// the ui does the rest
#include "zchat_prelude.h"
#include "client_options.h"
#include "ui.h"

int
main(int argc, char **argv)
{
    ui_signals();  // first: before anything starts CZMQ
    ui_options_t options = {0};
    client_options_t *command = client_options_new(&ui_program, &options);
    int rc = client_options_parse(command, argc, argv);
    if (rc == -1)
        rc = client_options_ask(command);
    if (rc == -1) {
        client_options_log(command);
        options.host = command->host;
        options.port = command->port;
        options.user = command->user;
        options.room = command->room_count ? command->rooms[command->room_count - 1] : NULL;
        options.server_key = command->server_key;
        options.client_cert = command->client_cert;
        options.password = command->password;
        ui_t *ui = ui_new(&options);
        rc = ui_run(ui);
        if (rc != 0 && ui_error(ui))
            fprintf(stderr, "zchat: %s\n", ui_error(ui));
        ui_destroy(&ui);
    }
    client_options_destroy(&command);
    return rc;
}
