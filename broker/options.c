// options.c - zchat-broker's command line
#include "zchat_prelude.h"
#include "options.h"
#include "zchat_arg.h"
#include "zchat_name.h"
#include <getopt.h>

static const char *s_usage =
    "Usage: zchat-broker [OPTION]...\n"
    "       zchat-broker keygen\n"
    "       zchat-broker [--db PATH] user add|del|passwd NAME\n"
    "       zchat-broker [--db PATH] user list\n"
    "The zchat broker: chat rooms and private messages over ZeroMQ (ZCHAT/1).\n"
    "\n"
    "  -H, --host ADDR          bind address (default 127.0.0.1; 0.0.0.0 or * for all)\n"
    "  -p, --port N             command port, ROUTER (default 12345; 0 picks a free one)\n"
    "      --feed-port N        room feed port, PUB (default: port + 1)\n"
    "      --feed-endpoint URL  feed endpoint told to clients (default: tcp://HOST:FEEDPORT)\n"
    "      --db PATH            SQLite database (default zchat.db; :memory: keeps nothing)\n"
    "      --heartbeat MS       client heartbeat; silent sessions expire after 3x (default "
    "5000)\n"
    "      --rate N             requests per second per session, 0 for no limit (default 20)\n"
    "      --burst N            requests allowed in a burst (default 40)\n"
    "      --history N          events kept per room (default 10000)\n"
    "      --max-rooms N        rooms the broker holds at most; a join that would make one\n"
    "                           more is refused (default 100000, at most 4000000)\n"
    "      --max-sessions N     sessions the broker holds at most (live, or expired and\n"
    "                           resumable); at the cap a login replaces the oldest expired\n"
    "                           one, or is refused (default 50000, at most 1000000)\n"
    "      --curve              encrypt both sockets (CurveZMQ); the public key is printed\n"
    "      --keys DIR           the broker's certificate, made on first use (default:\n"
    "                           zchat-keys beside the database)\n"
    "      --clients DIR        with --curve: only clients whose public certificate is in DIR\n"
    "      --accounts MODE      required: only registered users; optional: a registered name\n"
    "                           needs its password (default: off)\n"
    "      --open-registration  with --accounts: clients may register names themselves\n"
    "  -v, --verbose            log every request (debug level)\n"
    "      --help               show this help and exit\n"
    "      --version            show the version and exit\n"
    "\n"
    "Subcommands: keygen prints a new CURVE key pair; user add, del, passwd and list manage\n"
    "the accounts in the database (a password is read without echo, twice, or as one line\n"
    "from stdin when it is not a terminal).\n"
    "\n"
    "Without --curve, traffic is plain text: bind only to addresses whose network you trust.\n"
    "Exit status: 0 after SIGINT/SIGTERM, 1 on a runtime failure, 2 on a bad option,\n"
    "a port in use or a database that cannot be opened.\n"
    "See zchat-broker(1) and zchat-protocol(7).\n";

enum {
    OPT_FEED_PORT = 256,
    OPT_FEED_ENDPOINT,
    OPT_DB,
    OPT_HEARTBEAT,
    OPT_RATE,
    OPT_BURST,
    OPT_HISTORY,
    OPT_MAX_ROOMS,
    OPT_MAX_SESSIONS,
    OPT_HELP,
    OPT_VERSION,
    OPT_CURVE,
    OPT_KEYS,
    OPT_CLIENTS,
    OPT_ACCOUNTS,
    OPT_OPEN_REGISTRATION
};

static const struct option s_options[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"feed-port", required_argument, NULL, OPT_FEED_PORT},
    {"feed-endpoint", required_argument, NULL, OPT_FEED_ENDPOINT},
    {"db", required_argument, NULL, OPT_DB},
    {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"burst", required_argument, NULL, OPT_BURST},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"max-rooms", required_argument, NULL, OPT_MAX_ROOMS},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
    {"curve", no_argument, NULL, OPT_CURVE},
    {"keys", required_argument, NULL, OPT_KEYS},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"accounts", required_argument, NULL, OPT_ACCOUNTS},
    {"open-registration", no_argument, NULL, OPT_OPEN_REGISTRATION},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int
s_bad(const char *option, const char *value, const char *expect)
{
    return zchat_arg_bad("zchat-broker", option, value, expect);
}

// True if host is a loopback address or name: traffic there never leaves this machine.
static bool
s_is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || streq(host, "localhost") || streq(host, "::1") ||
           streq(host, "[::1]") || streq(host, "lo");
}

// The subcommand in argv[first..argc): keygen, user add|del|passwd NAME, user list.
// Returns -1 if it is one, else 2 after saying why.
static int
s_command(options_t *self, int argc, char **argv, int first)
{
    int count = argc - first;
    const char *word = argv[first];
    const char *sub = count > 1 ? argv[first + 1] : "";
    if (streq(word, "keygen") && count == 1) {
        self->command = OPTIONS_KEYGEN;
        return -1;
    }
    if (streq(word, "user") && streq(sub, "list") && count == 2) {
        self->command = OPTIONS_USER_LIST;
        return -1;
    }
    if (streq(word, "user") && (streq(sub, "add") || streq(sub, "del") || streq(sub, "passwd"))) {
        if (count != 3) {
            fprintf(stderr, "zchat-broker: usage: zchat-broker [--db PATH] user %s NAME\n", sub);
            return 2;
        }
        if (!zchat_name_is_user(argv[first + 2])) {
            fprintf(stderr, "zchat-broker: invalid user name '%s': " ZCHAT_NAME_USER_RULE "\n",
                    argv[first + 2]);
            return 2;
        }
        self->command = streq(sub, "add")   ? OPTIONS_USER_ADD
                        : streq(sub, "del") ? OPTIONS_USER_DEL
                                            : OPTIONS_USER_PASSWD;
        snprintf(self->user, sizeof self->user, "%s", argv[first + 2]);
        return -1;
    }
    if (streq(word, "user")) {
        fprintf(stderr, "zchat-broker: usage: zchat-broker [--db PATH] user add|del|passwd NAME, "
                        "or user list\n");
        return 2;
    }
    fprintf(stderr, "zchat-broker: unexpected argument '%s' (see --help)\n", word);
    return 2;
}

// The checks of option combinations that only matter when the broker runs.
static int
s_check_run(options_t *self)
{
    if (!self->curve && (*self->keys || *self->clients)) {
        fprintf(stderr, "zchat-broker: %s needs --curve\n", *self->keys ? "--keys" : "--clients");
        return 2;
    }
    if (self->open_registration && self->accounts == OPTIONS_ACCOUNTS_OFF) {
        fprintf(stderr, "zchat-broker: --open-registration needs --accounts\n");
        return 2;
    }
    if (self->accounts != OPTIONS_ACCOUNTS_OFF && !self->curve && !s_is_loopback(self->host)) {
        fprintf(stderr,
                "zchat-broker: --accounts on %s needs --curve: passwords must not cross the "
                "network in clear text\n",
                self->host);
        return 2;
    }
    if (self->curve && !*self->keys) {
        // Beside the database: a broker's identity goes with its data
        const char *slash = strrchr(self->db, '/');
        if (streq(self->db, ":memory:") || !slash)
            snprintf(self->keys, sizeof self->keys, "zchat-keys");
        else
            snprintf(self->keys, sizeof self->keys, "%.*s/zchat-keys", (int)(slash - self->db),
                     self->db);
    }
    return -1;
}

static int
s_copy(char *dest, size_t size, const char *value, const char *option)
{
    if (strlen(value) >= size || !*value) {
        fprintf(stderr, "zchat-broker: invalid %s: empty or too long (see --help)\n", option);
        return 2;
    }
    snprintf(dest, size, "%s", value);
    return -1;
}

int
options_parse(options_t *self, int argc, char **argv)
{
    assert(self);
    *self = (options_t){.port = ZCHAT_DEFAULT_PORT,
                        .feed_port = -1,
                        .heartbeat_ms = ZCHAT_DEFAULT_HEARTBEAT,
                        .rate = 20,
                        .burst = 40,
                        .history = 10000,
                        .max_rooms = OPTIONS_MAX_ROOMS_DEFAULT,
                        .max_sessions = OPTIONS_MAX_SESSIONS_DEFAULT};
    snprintf(self->host, sizeof self->host, "%s", ZCHAT_DEFAULT_HOST);
    snprintf(self->db, sizeof self->db, "zchat.db");

    optind = 0;  // getopt_long again from the start (the self-test parses several times)
    opterr = 0;  // our own one-line errors
    int c;
    long n;
    int rc = -1;
    while (rc == -1 && (c = getopt_long(argc, argv, ":H:p:v", s_options, NULL)) != -1) {
        switch (c) {
        case 'H':
            rc = s_copy(self->host, sizeof self->host, optarg, "--host");
            break;
        case 'p':
            if (zchat_arg_number(optarg, 0, 65535, &n))
                return s_bad("--port", optarg, "a port number 0-65535");
            self->port = (int)n;
            break;
        case OPT_FEED_PORT:
            if (zchat_arg_number(optarg, 0, 65535, &n))
                return s_bad("--feed-port", optarg, "a port number 0-65535");
            self->feed_port = (int)n;
            break;
        case OPT_FEED_ENDPOINT:
            rc = s_copy(self->feed_endpoint, sizeof self->feed_endpoint, optarg, "--feed-endpoint");
            break;
        case OPT_DB:
            rc = s_copy(self->db, sizeof self->db, optarg, "--db");
            break;
        case OPT_HEARTBEAT:
            if (zchat_arg_number(optarg, 50, 3600000, &n))
                return s_bad("--heartbeat", optarg, "milliseconds, 50-3600000");
            self->heartbeat_ms = (int)n;
            break;
        case OPT_RATE:
            if (zchat_arg_number(optarg, 0, 1000000, &n))
                return s_bad("--rate", optarg, "requests per second, 0-1000000 (0: no limit)");
            self->rate = (double)n;
            break;
        case OPT_BURST:
            if (zchat_arg_number(optarg, 1, 1000000, &n))
                return s_bad("--burst", optarg, "a count, 1-1000000");
            self->burst = (double)n;
            break;
        case OPT_HISTORY:
            if (zchat_arg_number(optarg, 0, 1000000000, &n))
                return s_bad("--history", optarg, "a count of events, 0-1000000000");
            self->history = n;
            break;
        case OPT_MAX_ROOMS:
            if (zchat_arg_number(optarg, 1, OPTIONS_MAX_ROOMS_LIMIT, &n))
                return s_bad("--max-rooms", optarg, "a count of rooms, 1-4000000");
            self->max_rooms = n;
            break;
        case OPT_MAX_SESSIONS:
            if (zchat_arg_number(optarg, 1, OPTIONS_MAX_SESSIONS_LIMIT, &n))
                return s_bad("--max-sessions", optarg, "a count of sessions, 1-1000000");
            self->max_sessions = n;
            break;
        case OPT_CURVE:
            self->curve = true;
            break;
        case OPT_KEYS:
            rc = s_copy(self->keys, sizeof self->keys, optarg, "--keys");
            break;
        case OPT_CLIENTS:
            rc = s_copy(self->clients, sizeof self->clients, optarg, "--clients");
            break;
        case OPT_ACCOUNTS:
            if (streq(optarg, "required"))
                self->accounts = OPTIONS_ACCOUNTS_REQUIRED;
            else if (streq(optarg, "optional"))
                self->accounts = OPTIONS_ACCOUNTS_OPTIONAL;
            else
                return s_bad("--accounts", optarg, "required or optional");
            break;
        case OPT_OPEN_REGISTRATION:
            self->open_registration = true;
            break;
        case 'v':
            self->verbose = true;
            break;
        case OPT_HELP:
            fputs(s_usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("zchat-broker %s (ZCHAT/%d)\n", ZCHAT_VERSION, ZCHAT_PROTO);
            return 0;
        case ':':
            fprintf(stderr, "zchat-broker: option '%s' needs a value (see --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "zchat-broker: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (rc != -1)
        return rc;
    if (optind < argc)
        return s_command(self, argc, argv, optind);
    if (self->feed_port == -1)
        self->feed_port = self->port == 0 ? 0 : self->port + 1;
    if (self->feed_port > 65535) {
        fprintf(stderr, "zchat-broker: --port 65535 needs an explicit --feed-port\n");
        return 2;
    }
    if (self->feed_port != 0 && self->feed_port == self->port) {
        fprintf(stderr, "zchat-broker: --port and --feed-port must differ\n");
        return 2;
    }
    return s_check_run(self);
}

void
options_test(bool verbose)
{
    (void)verbose;
    options_t options;
    char *plain[] = {"zchat-broker", NULL};
    assert(options_parse(&options, 1, plain) == -1);
    assert(streq(options.host, "127.0.0.1") && options.port == 12345);
    assert(options.feed_port == 12346 && streq(options.db, "zchat.db"));
    assert(options.heartbeat_ms == 5000 && options.rate == 20 && options.burst == 40);
    assert(options.history == 10000 && !options.verbose);
    assert(options.max_rooms == OPTIONS_MAX_ROOMS_DEFAULT);
    char *rooms[] = {"zchat-broker", "--max-rooms", "3", NULL};
    assert(options_parse(&options, 3, rooms) == -1 && options.max_rooms == 3);
    assert(options.max_sessions == OPTIONS_MAX_SESSIONS_DEFAULT);
    char *sessions[] = {"zchat-broker", "--max-sessions", "2", NULL};
    assert(options_parse(&options, 3, sessions) == -1 && options.max_sessions == 2);

    char *full[] = {
        "zchat-broker", "-H", "::1",     "--port=0", "--db",      ":memory:", "--heartbeat", "200",
        "--rate",       "0",  "--burst", "5",        "--history", "7",        "-v",          NULL};
    assert(options_parse(&options, 15, full) == -1);
    assert(streq(options.host, "::1") && options.port == 0 && options.feed_port == 0);
    assert(streq(options.db, ":memory:") && options.heartbeat_ms == 200);
    assert(options.rate == 0 && options.burst == 5 && options.history == 7 && options.verbose);

    // Errors say so on stderr; keep the self-test quiet
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    assert(stderr);
    char *bad_port[] = {"zchat-broker", "-p", "70000", NULL};
    assert(options_parse(&options, 3, bad_port) == 2);
    char *bad_flag[] = {"zchat-broker", "--nope", NULL};
    assert(options_parse(&options, 2, bad_flag) == 2);
    char *missing[] = {"zchat-broker", "--db", NULL};
    assert(options_parse(&options, 2, missing) == 2);
    char *same[] = {"zchat-broker", "-p", "5000", "--feed-port", "5000", NULL};
    assert(options_parse(&options, 5, same) == 2);
    char *stray[] = {"zchat-broker", "extra", NULL};
    assert(options_parse(&options, 2, stray) == 2);
    char *no_curve[] = {"zchat-broker", "-H", "0.0.0.0", "--accounts", "required", NULL};
    assert(options_parse(&options, 5, no_curve) == 2);  // passwords in clear text: refused
    char *bad_mode[] = {"zchat-broker", "--accounts", "maybe", NULL};
    assert(options_parse(&options, 3, bad_mode) == 2);
    char *no_rooms[] = {"zchat-broker", "--max-rooms", "0", NULL};
    assert(options_parse(&options, 3, no_rooms) == 2);
    char *too_many[] = {"zchat-broker", "--max-rooms", "4000001", NULL};
    assert(options_parse(&options, 3, too_many) == 2);
    char *no_sessions[] = {"zchat-broker", "--max-sessions", "0", NULL};
    assert(options_parse(&options, 3, no_sessions) == 2);
    char *crowd[] = {"zchat-broker", "--max-sessions", "1000001", NULL};
    assert(options_parse(&options, 3, crowd) == 2);
    char *lonely[] = {"zchat-broker", "--open-registration", NULL};
    assert(options_parse(&options, 2, lonely) == 2);
    char *clients[] = {"zchat-broker", "--clients", "certs", NULL};
    assert(options_parse(&options, 3, clients) == 2);  // needs --curve
    char *bad_user[] = {"zchat-broker", "user", "add", "9lives", NULL};
    assert(options_parse(&options, 4, bad_user) == 2);
    char *no_name[] = {"zchat-broker", "user", "del", NULL};
    assert(options_parse(&options, 3, no_name) == 2);
    char *bad_sub[] = {"zchat-broker", "user", "rename", "bob", NULL};
    assert(options_parse(&options, 4, bad_sub) == 2);
    char *keygen_extra[] = {"zchat-broker", "keygen", "x", NULL};
    assert(options_parse(&options, 3, keygen_extra) == 2);
    fclose(stderr);
    stderr = saved;

    char *secure[] = {"zchat-broker",
                      "-H",
                      "0.0.0.0",
                      "--curve",
                      "--accounts",
                      "optional",
                      "--db",
                      "/var/lib/zchat/chat.db",
                      "--clients",
                      "allowed",
                      "--open-registration",
                      NULL};
    assert(options_parse(&options, 11, secure) == -1);
    assert(options.curve && options.accounts == OPTIONS_ACCOUNTS_OPTIONAL);
    assert(options.open_registration && streq(options.clients, "allowed"));
    assert(streq(options.keys, "/var/lib/zchat/zchat-keys"));  // beside the database
    assert(options.command == OPTIONS_RUN);
    char *local[] = {"zchat-broker", "--accounts", "required", "--curve", "--db", ":memory:", NULL};
    assert(options_parse(&options, 6, local) == -1);
    assert(options.accounts == OPTIONS_ACCOUNTS_REQUIRED && streq(options.keys, "zchat-keys"));
    char *loopback[] = {"zchat-broker", "-H", "::1", "--accounts", "required", NULL};
    assert(options_parse(&options, 5, loopback) == -1 && !options.curve);
    char *add[] = {"zchat-broker", "user", "add", "--db", "x.db", "Alice", NULL};
    assert(options_parse(&options, 6, add) == -1);
    assert(options.command == OPTIONS_USER_ADD && streq(options.user, "Alice"));
    assert(streq(options.db, "x.db"));
    char *list[] = {"zchat-broker", "user", "list", NULL};
    assert(options_parse(&options, 3, list) == -1 && options.command == OPTIONS_USER_LIST);
    char *keygen[] = {"zchat-broker", "keygen", NULL};
    assert(options_parse(&options, 2, keygen) == -1 && options.command == OPTIONS_KEYGEN);
}
