// logger_main.c - zchat-logger: options, logging; the recording is logger.c's
#include "zchat_prelude.h"
#include "zchat_arg.h"
#include "logger.h"
#include "conn.h"
#include "keyfile.h"
#include "zchat_name.h"
#include <getopt.h>

static const char *s_usage =
    "Usage: zchat-logger [OPTION]... (-r ROOM... | --all)\n"
    "Record every event of zchat rooms, exactly once and in order, as an observer (no presence,\n"
    "not listed). Restarted, it resumes after the last event in its files and fills the gap from\n"
    "the broker's history; events the history no longer holds are marked as lost.\n"
    "\n"
    "  -H, --host HOST          broker host (default 127.0.0.1)\n"
    "  -p, --port N             broker command port (default 12345)\n"
    "  -r, --room ROOM          record ROOM (repeatable)\n"
    "      --all                record every room, including rooms created later\n"
    "      --format FORMAT      jsonl (default): each event as the broker's JSON object, one a\n"
    "                           line; text: the lines the zchat client shows\n"
    "  -d, --dir DIR            one file per room: DIR/ROOM.jsonl or DIR/ROOM.log\n"
    "  -o, --output FILE        one file for every room (neither -d nor -o: standard output)\n"
    "      --fsync MODE         always (after each event), batch (at most once a second,\n"
    "                           default) or never\n"
    "      --sub-hwm N          feed receive high-water mark in messages (default: libzmq's)\n"
    "      --server-key KEY|FILE  encrypt (CurveZMQ) with the broker's public key: the key,\n"
    "                           or a file holding it (its certificate)\n"
    "      --client-cert FILE   with --server-key: our certificate, made if missing (a broker\n"
    "                           with --clients needs FILE); default: a new key for each run\n"
    "  -v, --verbose            log every event recorded (debug level)\n"
    "      --help               show this help and exit\n"
    "      --version            show the version and exit\n"
    "\n"
    "SIGHUP reopens the files (logrotate); SIGINT and SIGTERM flush them and stop.\n"
    "Exit status: 0 after SIGINT/SIGTERM, 1 if the broker refuses the login or a secure\n"
    "connection (wrong --server-key), or the files cannot be opened (or another logger uses\n"
    "them), 2 on a bad option, 3 on a write error\n"
    "(what was written is kept).\n"
    "See zchat-logger(1).\n";

enum {
    OPT_ALL = 256,
    OPT_FORMAT,
    OPT_FSYNC,
    OPT_SUB_HWM,
    OPT_HELP,
    OPT_VERSION,
    OPT_SERVER_KEY,
    OPT_CLIENT_CERT
};

static const struct option s_options[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"room", required_argument, NULL, 'r'},
    {"all", no_argument, NULL, OPT_ALL},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"dir", required_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"fsync", required_argument, NULL, OPT_FSYNC},
    {"sub-hwm", required_argument, NULL, OPT_SUB_HWM},
    {"server-key", required_argument, NULL, OPT_SERVER_KEY},
    {"client-cert", required_argument, NULL, OPT_CLIENT_CERT},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int
s_bad(const char *option, const char *value, const char *expect)
{
    zchat_arg_bad("zchat-logger", option, value, expect);
    return LOGGER_EXIT_USAGE;
}

int
main(int argc, char **argv)
{
    logger_options_t options = {.host = ZCHAT_DEFAULT_HOST,
                                .port = ZCHAT_DEFAULT_PORT,
                                .format = LOGGER_JSONL,
                                .fsync = LOGGER_FSYNC_BATCH};
    // Room names, canonical; at most one per argument
    char(*rooms)[ZCHAT_NAME_MAX + 1] = zmalloc((size_t)argc * sizeof *rooms);
    const char **room_list = zmalloc((size_t)argc * sizeof(char *));
    bool verbose = false;
    char server_key[KEYFILE_KEY_LEN + 1] = "";
    const char *cert_path = NULL;
    zcert_t *client_cert = NULL;
    char error[512];
    int rc = -1;
    long n;
    int c;
    opterr = 0;  // our own one-line errors
    while (rc == -1 && (c = getopt_long(argc, argv, ":H:p:r:d:o:v", s_options, NULL)) != -1) {
        switch (c) {
        case 'H':
            if (!*optarg)
                rc = s_bad("--host", optarg, "a host name or address");
            options.host = optarg;
            break;
        case 'p':
            if (zchat_arg_number(optarg, 1, 65535, &n))
                rc = s_bad("--port", optarg, "a port number 1-65535");
            options.port = (int)n;
            break;
        case 'r':
            if (zchat_name_room(optarg, rooms[options.room_count], sizeof rooms[0]) == -1)
                rc = s_bad("--room", optarg,
                           "a room name: letters, digits, '_' and '-', at most 32");
            else {
                room_list[options.room_count] = rooms[options.room_count];
                options.room_count++;
            }
            break;
        case OPT_ALL:
            options.all = true;
            break;
        case OPT_FORMAT:
            if (streq(optarg, "jsonl"))
                options.format = LOGGER_JSONL;
            else if (streq(optarg, "text"))
                options.format = LOGGER_TEXT;
            else
                rc = s_bad("--format", optarg, "jsonl or text");
            break;
        case 'd':
            if (!*optarg)
                rc = s_bad("--dir", optarg, "a directory");
            options.dir = optarg;
            break;
        case 'o':
            if (!*optarg)
                rc = s_bad("--output", optarg, "a file");
            options.file = optarg;
            break;
        case OPT_FSYNC:
            if (streq(optarg, "always"))
                options.fsync = LOGGER_FSYNC_ALWAYS;
            else if (streq(optarg, "batch"))
                options.fsync = LOGGER_FSYNC_BATCH;
            else if (streq(optarg, "never"))
                options.fsync = LOGGER_FSYNC_NEVER;
            else
                rc = s_bad("--fsync", optarg, "always, batch or never");
            break;
        case OPT_SUB_HWM:
            if (zchat_arg_number(optarg, 0, 1000000000, &n))
                rc = s_bad("--sub-hwm", optarg, "a count of messages, 0-1000000000");
            options.sub_hwm = (int)n;
            break;
        case OPT_SERVER_KEY:
            if (keyfile_server_key(optarg, server_key, error, sizeof error) == -1) {
                fprintf(stderr, "zchat-logger: --server-key: %s (see --help)\n", error);
                rc = LOGGER_EXIT_USAGE;
            }
            break;
        case OPT_CLIENT_CERT:
            cert_path = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case OPT_HELP:
            fputs(s_usage, stdout);
            rc = LOGGER_EXIT_OK;
            break;
        case OPT_VERSION:
            printf("zchat-logger %s (ZCHAT/%d)\n", ZCHAT_VERSION, ZCHAT_PROTO);
            rc = LOGGER_EXIT_OK;
            break;
        case ':':
            fprintf(stderr, "zchat-logger: option '%s' needs a value (see --help)\n",
                    argv[optind - 1]);
            rc = LOGGER_EXIT_USAGE;
            break;
        default:
            fprintf(stderr, "zchat-logger: unknown option '%s' (see --help)\n", argv[optind - 1]);
            rc = LOGGER_EXIT_USAGE;
            break;
        }
    }
    if (rc == -1 && optind < argc) {
        fprintf(stderr, "zchat-logger: unexpected argument '%s' (see --help)\n", argv[optind]);
        rc = LOGGER_EXIT_USAGE;
    }
    if (rc == -1 && options.dir && options.file) {
        fprintf(stderr, "zchat-logger: -d and -o exclude each other (see --help)\n");
        rc = LOGGER_EXIT_USAGE;
    }
    if (rc == -1 && !options.room_count && !options.all) {
        fprintf(stderr, "zchat-logger: nothing to record: give -r ROOM or --all (see --help)\n");
        rc = LOGGER_EXIT_USAGE;
    }
    if (rc == -1 && cert_path && !*server_key) {
        fprintf(stderr, "zchat-logger: --client-cert needs --server-key (see --help)\n");
        rc = LOGGER_EXIT_USAGE;
    }
    if (rc == -1 && cert_path) {
        bool made = false;
        client_cert = keyfile_client_cert(cert_path, &made, error, sizeof error);
        if (!client_cert) {
            fprintf(stderr, "zchat-logger: --client-cert: %s\n", error);
            rc = LOGGER_EXIT_USAGE;
        } else if (made) {
            fprintf(stderr,
                    "zchat-logger: made a new client certificate %s (its secret key in "
                    "%s_secret); a broker with --clients needs %s in that directory\n",
                    cert_path, cert_path, cert_path);
        }
    }
    options.server_key = *server_key ? server_key : NULL;
    options.client_cert = client_cert;
    if (rc == -1) {
        zsys_init();
        zsys_set_logident("zchat-logger");
        zsys_set_logstream(stderr);
        zchat_verbose = verbose;
        options.rooms = room_list;
        logger_t *logger = logger_new(&options);
        rc = LOGGER_EXIT_FATAL;
        if (logger)
            rc = logger_run(logger);
        logger_destroy(&logger);
    }
    zcert_destroy(&client_cert);
    free(rooms);
    free(room_list);
    return rc;
}
