// selftest.c - runs every module's self-test, or the one named: selftest [--list] [NAME...]
#include "zchat_prelude.h"
#include "zchat_arg.h"
#include "zchat_hash.h"
#include "zchat_password.h"
#include "zchat_msg.h"
#include "zchat_req.h"
#include "zchat_json.h"
#include "zchat_name.h"
#include "zchat_text.h"
#include "broker.h"
#include "limiter.h"
#include "options.h"
#include "request.h"
#include "room.h"
#include "session.h"
#include "store.h"
#include "store_sqlite.h"
#include "account.h"
#include "admin.h"
#include "keys.h"
#include "conn.h"
#include "outbox.h"
#include "seen.h"
#include "track.h"
#include "keyfile.h"
#include "render.h"
#include "client_options.h"
#include "logger.h"
#include "ui.h"

typedef void test_fn(bool verbose);

static const struct {
    const char *name;
    test_fn *run;
} s_tests[] = {
    // In dependency order: shared, then the broker's modules, then the client's
    {"zchat_err", zchat_err_test},
    {"zchat_arg", zchat_arg_test},
    {"zchat_text", zchat_text_test},
    {"zchat_name", zchat_name_test},
    {"zchat_msg", zchat_msg_test},
    {"zchat_req", zchat_req_test},
    {"zchat_json", zchat_json_test},
    {"zchat_hash", zchat_hash_test},
    {"zchat_password", zchat_password_test},
    {"limiter", limiter_test},
    {"options", options_test},
    {"room", room_test},
    {"session", session_test},
    {"account", account_test},
    {"store", store_test},
    {"store_sqlite", store_sqlite_test},
    {"store_sqlite_users", store_sqlite_users_test},
    {"keys", keys_test},
    {"admin", admin_test},
    {"request", request_test},
    {"broker", broker_test},
    {"track", track_test},
    {"outbox", outbox_test},
    {"seen", seen_test},
    {"conn", conn_test},
    {"keyfile", keyfile_test},
    {"render", render_test},
    {"client_options", client_options_test},
    {"logger", logger_test},
    {"ui", ui_test},
};

#define S_TESTS (sizeof s_tests / sizeof s_tests[0])

int
main(int argc, char **argv)
{
    bool verbose = false;
    int named = 0;
    for (int i = 1; i < argc; i++) {
        if (streq(argv[i], "--list")) {
            for (size_t t = 0; t < S_TESTS; t++)
                printf("%s\n", s_tests[t].name);
            return 0;
        }
        if (streq(argv[i], "-v"))
            verbose = true;
    }
    zsys_init();
    if (!verbose)
        zsys_set_logstream(NULL);  // a passing self-test is silent
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        named++;
        size_t t = 0;
        while (t < S_TESTS && !streq(argv[i], s_tests[t].name))
            t++;
        if (t == S_TESTS) {
            fprintf(stderr, "selftest: no test named '%s' (try --list)\n", argv[i]);
            return 2;
        }
        s_tests[t].run(verbose);
    }
    if (named == 0)
        for (size_t t = 0; t < S_TESTS; t++)
            s_tests[t].run(verbose);
    return 0;
}
