// zchat_main.c - the zchat chat client: options (or questions, when run bare on a terminal), then
// the ui does the rest
#include "zchat_prelude.h"
#include "zchat_arg.h"
#include "ui.h"
#include "conn.h"
#include "keyfile.h"
#include "zchat_name.h"
#include "zchat_password.h"

#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#define S_DEFAULT_HOST "localhost"

static const char s_help[] =
    "Usage: zchat [OPTION]...\n"
    "Chat on a zchat-broker from the terminal.\n"
    "\n"
    "  -H, --host HOST   broker host (default " S_DEFAULT_HOST ")\n"
    "  -p, --port N      broker command port (default 12345)\n"
    "  -u, --user NAME   user name: a letter, then up to 31 letters, digits, _ or -\n"
    "  -r, --room ROOM   also join ROOM at start and make it the current room\n"
    "      --server-key KEY|FILE\n"
    "                    encrypt (CurveZMQ) with the broker's public key: the key, or a\n"
    "                    file holding it (its certificate, or what zchat-broker printed)\n"
    "      --client-cert FILE\n"
    "                    with --server-key: our certificate, made if missing (a broker\n"
    "                    with --clients needs FILE); default: a new key for each run\n"
    "      --password-file FILE\n"
    "                    the password, on the first line of FILE (default: asked on the\n"
    "                    terminal when the broker wants one)\n"
    "      --no-color    no colors (also with NO_COLOR set, or when stdout is not a terminal)\n"
    "  -v, --verbose     debug log on stderr\n"
    "      --help        show this help and exit\n"
    "      --version     show the version and exit\n"
    "\n"
    "Without options on a terminal, zchat asks for the host, port and user name.\n"
    "When stdin is not a terminal, each input line is one command or message: there is no\n"
    "prompt, no color and no line editing, and -u is required. Type /help in the chat for\n"
    "the commands.\n"
    "\n"
    "Without --server-key, traffic (passwords included) is plain text.\n"
    "\n"
    "Exit status: 0 after /quit, Ctrl-D, end of input, SIGINT, SIGTERM, SIGHUP or SIGQUIT\n"
    "(the session quits); 1 if the broker cannot be reached (or not securely) or refuses the\n"
    "login, or if messages typed got no ack before the end (said on stderr); 2 for a bad\n"
    "option.\n";

// A port number 1-65535, or -1
static int
s_port(const char *text)
{
    long port;
    return zchat_arg_number(text, 1, 65535, &port) == 0 ? (int)port : -1;
}

static int
s_bad_option(const char *what, const char *value)
{
    fprintf(stderr, "zchat: %s%s%s (try zchat --help)\n", what, value ? ": " : "",
            value ? value : "");
    return 2;
}

// Ask question on stdout and read the answer from stdin (no newline, blanks trimmed). Returns
// a string to free, or NULL at end of input.
static char *
s_ask(const char *question)
{
    fputs(question, stdout);
    fflush(stdout);
    char *answer = NULL;
    size_t size = 0;
    ssize_t length = getline(&answer, &size, stdin);
    if (length < 0) {
        free(answer);
        fputs("\n", stdout);
        return NULL;
    }
    while (length > 0 && (answer[length - 1] == '\n' || answer[length - 1] == '\r' ||
                          answer[length - 1] == ' ' || answer[length - 1] == '\t'))
        answer[--length] = 0;
    char *start = answer + strspn(answer, " \t");
    memmove(answer, start, strlen(start) + 1);
    return answer;
}

// The questions of a bare start. Returns 0, or -1 if the user ended the input.
static int
s_ask_all(bool ask_server, char **host, int *port, char **user)
{
    puts("=== zchat ===");
    while (ask_server && !*host) {
        char *answer = s_ask("Server host (default: " S_DEFAULT_HOST "): ");
        if (!answer)
            return -1;
        if (!*answer) {
            free(answer);
            answer = strdup(S_DEFAULT_HOST);
            assert(answer);
        }
        *host = answer;
    }
    while (ask_server && *port < 0) {
        char *answer = s_ask("Server port (default: 12345): ");
        if (!answer)
            return -1;
        *port = *answer ? s_port(answer) : ZCHAT_DEFAULT_PORT;
        if (*port < 0)
            puts("A port is a number from 1 to 65535.");
        free(answer);
    }
    while (!*user) {
        char *answer = s_ask("Username: ");
        if (!answer)
            return -1;
        if (zchat_name_is_user(answer)) {
            *user = answer;
        } else {
            puts("A user name is a letter, then up to 31 letters, digits, _ or -.");
            free(answer);
        }
    }
    return 0;
}

// SIGHUP (the terminal closed) and SIGQUIT (Ctrl-\) end the session like SIGINT and SIGTERM,
// which CZMQ catches: quit is sent and the terminal restored, instead of a death that leaves
// the session to time out and the terminal without echo.
static void
s_on_hangup(int signum)
{
    (void)signum;
    zsys_interrupted = 1;
}

int
main(int argc, char **argv)
{
    // A signal ignored on purpose (nohup ignores SIGHUP; a shell script's background job,
    // SIGINT and SIGQUIT) stays ignored: note which before CZMQ catches SIGINT and SIGTERM
    int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    bool ignored[sizeof signals / sizeof signals[0]];
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction old;
        ignored[i] = sigaction(signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN;
    }
    zsys_init();
    zsys_set_logident("zchat");
    zsys_set_logstream(stderr);
    signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill us before we say quit
    struct sigaction hangup = {.sa_handler = s_on_hangup};  // no SA_RESTART: polls wake up
    sigemptyset(&hangup.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (ignored[i])
            signal(signals[i], SIG_IGN);
        else if (signals[i] == SIGHUP || signals[i] == SIGQUIT)
            sigaction(signals[i], &hangup, NULL);
    }

    enum {
        OPT_NO_COLOR = 256,
        OPT_HELP,
        OPT_VERSION,
        OPT_SERVER_KEY,
        OPT_CLIENT_CERT,
        OPT_PASSWORD_FILE
    };
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"user", required_argument, NULL, 'u'},
        {"room", required_argument, NULL, 'r'},
        {"no-color", no_argument, NULL, OPT_NO_COLOR},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"client-cert", required_argument, NULL, OPT_CLIENT_CERT},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    char *host = NULL, *user = NULL;
    const char *room = NULL;
    int port = -1;
    bool no_color = false;
    char server_key[KEYFILE_KEY_LEN + 1] = "";
    const char *cert_path = NULL;
    zcert_t *client_cert = NULL;
    char *password = NULL;
    char error[512];
    opterr = 0;  // our own one-line messages
    int option;
    int rc = 0;
    while (rc == 0 && (option = getopt_long(argc, argv, ":H:p:u:r:v", options, NULL)) != -1) {
        switch (option) {
        case 'H':
            free(host);
            host = strdup(optarg);
            assert(host);
            if (!*host)
                rc = s_bad_option("empty host", NULL);
            break;
        case 'p':
            port = s_port(optarg);
            if (port < 0)
                rc = s_bad_option("the port must be a number from 1 to 65535", optarg);
            break;
        case 'u':
            if (!zchat_name_is_user(optarg))
                rc = s_bad_option("a user name is a letter, then up to 31 letters, digits, _ or -",
                                  optarg);
            free(user);
            user = strdup(optarg);
            assert(user);
            break;
        case 'r': {
            char canonical[ZCHAT_NAME_MAX + 1];
            if (zchat_name_room(optarg, canonical, sizeof canonical) == -1)
                rc = s_bad_option("a room name is 1 to 32 of a-z 0-9 _ -", optarg);
            room = optarg;
            break;
        }
        case 'v':
            zchat_verbose = true;
            break;
        case OPT_NO_COLOR:
            no_color = true;
            break;
        case OPT_SERVER_KEY:
            if (keyfile_server_key(optarg, server_key, error, sizeof error) == -1)
                rc = s_bad_option("--server-key", error);
            break;
        case OPT_CLIENT_CERT:
            cert_path = optarg;
            break;
        case OPT_PASSWORD_FILE:
            zchat_password_free(&password);
            password = zchat_password_file(optarg);
            if (!password) {
                snprintf(error, sizeof error, "%s: %s", optarg, strerror(errno));
                rc = s_bad_option("cannot read --password-file", error);
            }
            break;
        case OPT_HELP:
            fputs(s_help, stdout);
            rc = -1;
            break;
        case OPT_VERSION:
            printf("zchat %s\n", ZCHAT_VERSION);
            rc = -1;
            break;
        case ':':
            rc = s_bad_option("missing value for", argv[optind - 1]);
            break;
        default:
            rc = s_bad_option("unknown option", argv[optind - 1]);
            break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = s_bad_option("unexpected argument", argv[optind]);
    if (rc == 0 && cert_path && !*server_key)
        rc = s_bad_option("--client-cert needs --server-key", NULL);
    if (rc == 0 && cert_path) {
        bool made = false;
        client_cert = keyfile_client_cert(cert_path, &made, error, sizeof error);
        if (!client_cert)
            rc = s_bad_option("--client-cert", error);
        else if (made)
            fprintf(stderr,
                    "zchat: made a new client certificate %s (its secret key in %s_secret); "
                    "a broker with --clients needs %s in that directory\n",
                    cert_path, cert_path, cert_path);
    }
    if (rc == 0 && !user && !isatty(STDIN_FILENO))
        rc = s_bad_option("stdin is not a terminal: give the user name with -u NAME", NULL);
    if (rc == 0 && !user && s_ask_all(!host && port < 0, &host, &port, &user) == -1)
        rc = -1;  // input ended at a question: nothing to do

    if (rc == 0) {
        ui_options_t ui_options = {.host = host ? host : S_DEFAULT_HOST,
                                   .port = port > 0 ? port : ZCHAT_DEFAULT_PORT,
                                   .user = user,
                                   .room = room,
                                   .no_color = no_color,
                                   .server_key = *server_key ? server_key : NULL,
                                   .client_cert = client_cert,
                                   .password = password};
        ui_t *ui = ui_new(&ui_options);
        rc = ui_run(ui);
        ui_destroy(&ui);
    }
    free(host);
    free(user);
    zcert_destroy(&client_cert);
    zchat_password_free(&password);
    return rc == -1 ? 0 : rc;
}
