// client_options.c - the command line of the client programs (zchat, zchat-logger): the options
// they share, with one default each and one way to say what is wrong; each program adds its own
#include "zchat_prelude.h"
#include "client_options.h"
#include "keyfile.h"
#include "zchat_arg.h"
#include "zchat_password.h"

#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

// The vals of the shared options without a letter: above any program's own
enum {
    S_OPT_SERVER_KEY = CLIENT_OPTIONS_OWN + 1000,
    S_OPT_CLIENT_CERT,
    S_OPT_PASSWORD_FILE,
    S_OPT_HELP,
    S_OPT_VERSION,
};

static const struct option s_shared[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"room", required_argument, NULL, 'r'},
    {"server-key", required_argument, NULL, S_OPT_SERVER_KEY},
    {"client-cert", required_argument, NULL, S_OPT_CLIENT_CERT},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, S_OPT_HELP},
    {"version", no_argument, NULL, S_OPT_VERSION},
};

// The options of a program that logs in with a name
static const struct option s_login[] = {
    {"user", required_argument, NULL, 'u'},
    {"password-file", required_argument, NULL, S_OPT_PASSWORD_FILE},
};

#define S_COUNT(array) (sizeof array / sizeof array[0])

client_options_t *
client_options_new(const client_options_program_t *program, void *arg)
{
    assert(program && program->name && program->help);
    client_options_t *self = zmalloc(sizeof(client_options_t));
    self->program = program;
    self->arg = arg;
    self->host = strdup(ZCHAT_DEFAULT_HOST);
    assert(self->host);
    self->port = ZCHAT_DEFAULT_PORT;
    return self;
}

void
client_options_destroy(client_options_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        client_options_t *self = *self_p;
        for (size_t i = 0; i < self->room_count; i++)
            free((char *)self->rooms[i]);
        free(self->rooms);
        free(self->host);
        free(self->user);
        free(self->server_key);
        zcert_destroy(&self->client_cert);
        zchat_password_free(&self->password);
        free(self);
        *self_p = NULL;
    }
}

int
client_options_bad(const char *program, const char *format, ...)
{
    assert(program && format);
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, format, args);
    fprintf(stderr, " (see --help)\n");
    va_end(args);
    return CLIENT_OPTIONS_USAGE;
}

// Replace *field with a copy of value
static void
s_set(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    assert(*field);
}

// A port number 1-65535, or -1
static int
s_port(const char *text)
{
    long port;
    return zchat_arg_number(text, 1, 65535, &port) == 0 ? (int)port : -1;
}

// One shared option, or one of the program's. Returns -1 to go on, or the exit status.
static int
s_option(client_options_t *self, int option, const char *value, const char *word)
{
    const char *name = self->program->name;
    char error[512];
    switch (option) {
    case 'H':
        if (!*value)
            return zchat_arg_bad(name, "--host", value, "a host name or address");
        s_set(&self->host, value);
        self->server_given = true;
        return -1;
    case 'p':
        self->port = s_port(value);
        if (self->port < 0)
            return zchat_arg_bad(name, "--port", value, "a port number 1-65535");
        self->server_given = true;
        return -1;
    case 'u':
        if (!zchat_name_is_user(value))
            return zchat_arg_bad(name, "--user", value, ZCHAT_NAME_USER_RULE);
        s_set(&self->user, value);
        return -1;
    case 'r': {
        char room[ZCHAT_NAME_MAX + 1];
        if (zchat_name_room(value, room, sizeof room) == -1)
            return zchat_arg_bad(name, "--room", value, ZCHAT_NAME_ROOM_RULE);
        self->rooms = realloc(self->rooms, (self->room_count + 1) * sizeof(char *));
        assert(self->rooms);
        self->rooms[self->room_count] = strdup(room);
        assert(self->rooms[self->room_count]);
        self->room_count++;
        return -1;
    }
    case 'v':
        self->verbose = true;
        return -1;
    case S_OPT_SERVER_KEY: {
        char key[KEYFILE_KEY_LEN + 1];
        if (keyfile_server_key(value, key, error, sizeof error) == -1)
            return client_options_bad(name, "--server-key: %s", error);
        s_set(&self->server_key, key);
        return -1;
    }
    case S_OPT_CLIENT_CERT:
        self->cert_path = value;
        return -1;
    case S_OPT_PASSWORD_FILE:
        zchat_password_free(&self->password);
        self->password = zchat_password_file(value);
        if (!self->password)
            return client_options_bad(name, "--password-file: cannot read %s: %s", value,
                                      strerror(errno));
        return -1;
    case S_OPT_HELP:
        fputs(self->program->help, stdout);
        return 0;
    case S_OPT_VERSION:
        printf("%s %s (ZCHAT/%d)\n", name, ZCHAT_VERSION, ZCHAT_PROTO);
        return 0;
    case ':':
        return client_options_bad(name, "option '%s' needs a value", word);
    case '?':
        return client_options_bad(name, "unknown option '%s'", word);
    default:
        assert(self->program->parse);
        return self->program->parse(self->arg, option, value);
    }
}

// --client-cert: read the certificate, or make it. Returns -1 to go on, or the exit status.
static int
s_client_cert(client_options_t *self)
{
    const char *name = self->program->name, *path = self->cert_path;
    if (!self->server_key)
        return client_options_bad(name, "--client-cert needs --server-key");
    bool made = false;
    char error[512];
    self->client_cert = keyfile_client_cert(path, &made, error, sizeof error);
    if (!self->client_cert)
        return client_options_bad(name, "--client-cert: %s", error);
    if (made)
        fprintf(stderr,
                "%s: made a new client certificate %s (its secret key in %s_secret); a broker "
                "with --clients needs %s in that directory\n",
                name, path, path, path);
    return -1;
}

int
client_options_parse(client_options_t *self, int argc, char **argv)
{
    assert(self && argv);
    const client_options_program_t *program = self->program;
    size_t own = 0;
    while (program->options && program->options[own].name)
        own++;
    // The table getopt_long reads: the shared options, the login ones, the program's, a zero
    struct option *table =
        zmalloc((S_COUNT(s_shared) + S_COUNT(s_login) + own + 1) * sizeof(struct option));
    size_t count = 0;
    for (size_t i = 0; i < S_COUNT(s_shared); i++)
        table[count++] = s_shared[i];
    for (size_t i = 0; program->login && i < S_COUNT(s_login); i++)
        table[count++] = s_login[i];
    for (size_t i = 0; i < own; i++)
        table[count++] = program->options[i];
    char *letters = zsys_sprintf(":H:p:r:v%s%s", program->login ? "u:" : "",
                                 program->letters ? program->letters : "");

    optind = 0;  // getopt_long again from the start (the self-test parses several times)
    opterr = 0;  // our own one-line messages
    int rc = -1, option;
    while (rc == -1 && (option = getopt_long(argc, argv, letters, table, NULL)) != -1)
        rc = s_option(self, option, optarg, argv[optind - 1]);
    if (rc == -1 && optind < argc)
        rc = client_options_bad(program->name, "unexpected argument '%s'", argv[optind]);
    if (rc == -1 && program->check)
        rc = program->check(self->arg, self);
    if (rc == -1 && self->cert_path)
        rc = s_client_cert(self);
    free(table);
    zstr_free(&letters);
    return rc;
}

// Ask question on out and read the answer from in (no line end, blanks trimmed). Returns a
// string to free, or NULL at the end of the input.
static char *
s_ask(FILE *in, FILE *out, const char *question)
{
    fputs(question, out);
    fflush(out);
    char *answer = NULL;
    size_t size = 0;
    ssize_t length = getline(&answer, &size, in);
    if (length < 0) {
        free(answer);
        fputs("\n", out);
        return NULL;
    }
    while (length > 0 && (answer[length - 1] == '\n' || answer[length - 1] == '\r' ||
                          answer[length - 1] == ' ' || answer[length - 1] == '\t'))
        answer[--length] = 0;
    char *start = answer + strspn(answer, " \t");
    memmove(answer, start, strlen(start) + 1);
    return answer;
}

// The questions of a bare start, on out, answered on in. Returns 0, or -1 if the input ended.
static int
s_ask_all(client_options_t *self, FILE *in, FILE *out)
{
    fprintf(out, "=== %s ===\n", self->program->name);
    if (!self->server_given) {
        char *answer = s_ask(in, out, "Server host (default: " ZCHAT_DEFAULT_HOST "): ");
        if (!answer)
            return -1;
        if (*answer)
            s_set(&self->host, answer);
        free(answer);
        int port = -1;
        while (port < 0) {
            answer = s_ask(in, out,
                           "Server port (default: " CLIENT_OPTIONS_XSTR(ZCHAT_DEFAULT_PORT) "): ");
            if (!answer)
                return -1;
            port = *answer ? s_port(answer) : ZCHAT_DEFAULT_PORT;
            if (port < 0)
                fputs("A port is a number from 1 to 65535.\n", out);
            free(answer);
        }
        self->port = port;
    }
    while (!self->user) {
        char *answer = s_ask(in, out, "Username: ");
        if (!answer)
            return -1;
        if (zchat_name_is_user(answer))
            s_set(&self->user, answer);
        else
            fputs("A user name is " ZCHAT_NAME_USER_RULE ".\n", out);
        free(answer);
    }
    return 0;
}

int
client_options_ask(client_options_t *self)
{
    assert(self && self->program->login);
    if (self->user)
        return -1;
    if (!isatty(STDIN_FILENO))
        return client_options_bad(self->program->name,
                                  "stdin is not a terminal: give the user name with -u NAME");
    return s_ask_all(self, stdin, stdout) == 0 ? -1 : 0;
}

void
client_options_log(const client_options_t *self)
{
    assert(self);
    zsys_init();
    zsys_set_logident(self->program->name);
    zsys_set_logstream(stderr);
    zchat_verbose = self->verbose;
}

// --- Self-test: a program with an option of its own, and one that logs in ---

typedef struct {
    bool loud;       // --loud, the test program's own
    int depth;       // -d N
    bool checked;    // its check ran
    bool need_room;  // its check wants a -r
} s_test_own_t;

static int
s_test_parse(void *arg, int option, const char *value)
{
    s_test_own_t *own = arg;
    if (option == CLIENT_OPTIONS_OWN)
        own->loud = true;
    else if (option == 'd' && (own->depth = atoi(value)) <= 0)
        return zchat_arg_bad("test", "-d", value, "a depth");
    return -1;
}

static int
s_test_check(void *arg, const client_options_t *options)
{
    s_test_own_t *own = arg;
    own->checked = true;
    if (own->need_room && !options->room_count)
        return client_options_bad("test", "give -r ROOM");
    return -1;
}

static const struct option s_test_options[] = {
    {"loud", no_argument, NULL, CLIENT_OPTIONS_OWN},
    {"depth", required_argument, NULL, 'd'},
    {NULL, 0, NULL, 0},
};

static const client_options_program_t s_test_program = {.name = "test",
                                                        .help = "Usage: test\n",
                                                        .options = s_test_options,
                                                        .letters = "d:",
                                                        .parse = s_test_parse,
                                                        .check = s_test_check};

static const client_options_program_t s_test_login = {
    .name = "test-login", .help = "Usage: test-login\n", .login = true};

// Parse the NULL-ended words after argv[0] as program; returns the status, *options_p the result
static int
s_test_run(const client_options_program_t *program, void *arg, client_options_t **options_p,
           const char *const words[])
{
    char *argv[32] = {"test"};
    int argc = 1;
    for (; words[argc - 1]; argc++) {
        assert(argc < 31);
        argv[argc] = (char *)words[argc - 1];
    }
    client_options_destroy(options_p);
    *options_p = client_options_new(program, arg);
    return client_options_parse(*options_p, argc, argv);
}
#define s_test(program, arg, options_p, ...)                                                       \
    s_test_run(program, arg, options_p, (const char *const[]){__VA_ARGS__, NULL})

void
client_options_test(bool verbose)
{
    (void)verbose;
    // Errors and --help say so on stderr and stdout: keep the self-test quiet
    FILE *saved_err = stderr;
    stderr = fopen("/dev/null", "w");
    assert(stderr);
    fflush(stdout);
    int saved_out = dup(STDOUT_FILENO), quiet = open("/dev/null", O_WRONLY);
    assert(saved_out >= 0 && quiet >= 0 && dup2(quiet, STDOUT_FILENO) >= 0);

    // The defaults: one host for every client program
    client_options_t *options = NULL;
    s_test_own_t own = {0};
    assert(s_test_run(&s_test_program, &own, &options, (const char *const[]){NULL}) == -1);
    assert(streq(options->host, ZCHAT_DEFAULT_HOST) && options->port == ZCHAT_DEFAULT_PORT);
    assert(!options->server_given && !options->user && options->room_count == 0);
    assert(!options->server_key && !options->client_cert && !options->password);
    assert(!options->verbose && own.checked && !own.loud);

    // Shared and own options together, in any order
    assert(s_test(&s_test_program, &own, &options, "-H", "example.org", "--loud", "-r", "#Python",
                  "--port=2000", "-d", "3", "--room", "go", "-v") == -1);
    assert(streq(options->host, "example.org") && options->port == 2000);
    assert(options->server_given && options->verbose && own.loud && own.depth == 3);
    assert(options->room_count == 2 && streq(options->rooms[0], "python") &&
           streq(options->rooms[1], "go"));
    zcert_t *broker = zcert_new();
    assert(s_test(&s_test_program, &own, &options, "--server-key", zcert_public_txt(broker)) == -1);
    assert(streq(options->server_key, zcert_public_txt(broker)));
    zcert_destroy(&broker);

    // What is wrong: exit 2 (the program's own rules too); --help and --version: 0
    assert(s_test(&s_test_program, &own, &options, "-p", "70000") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-p", "12x") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-H", "") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-r", "bad room!") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "--bogus") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-r") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "stray") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-d", "0") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-u", "Alice") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "--server-key", "nope") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "--client-cert", "/nonexistent/c") ==
           CLIENT_OPTIONS_USAGE);  // needs --server-key
    own.need_room = true;
    assert(s_test(&s_test_program, &own, &options, "-v") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_program, &own, &options, "-r", "x") == -1);
    assert(s_test(&s_test_program, &own, &options, "--help") == 0);
    assert(s_test(&s_test_program, &own, &options, "--version") == 0);

    // A program that logs in: -u and --password-file
    assert(s_test(&s_test_login, NULL, &options, "-u", "Alice") == -1);
    assert(streq(options->user, "Alice") && !options->server_given);
    assert(s_test(&s_test_login, NULL, &options, "-u", "9lives") == CLIENT_OPTIONS_USAGE);
    assert(s_test(&s_test_login, NULL, &options, "--password-file", "/nonexistent/pw") ==
           CLIENT_OPTIONS_USAGE);
    const char *base = getenv("TMPDIR");
    char *tmp = zsys_sprintf("%s/zchat-options-test-XXXXXX", base && *base ? base : "/tmp");
    assert(mkdtemp(tmp));
    char *password = zsys_sprintf("%s/pw", tmp), *cert = zsys_sprintf("%s/me.cert", tmp);
    FILE *file = fopen(password, "w");
    assert(file);
    fputs("s3cret\nnot this\n", file);
    fclose(file);
    assert(s_test(&s_test_login, NULL, &options, "--password-file", password) == -1);
    assert(streq(options->password, "s3cret"));
    // --client-cert: made when missing, read afterwards
    broker = zcert_new();
    assert(s_test(&s_test_login, NULL, &options, "--server-key", zcert_public_txt(broker),
                  "--client-cert", cert) == -1);
    assert(options->client_cert);
    char *made = strdup(zcert_public_txt(options->client_cert));
    assert(made);
    assert(s_test(&s_test_login, NULL, &options, "--client-cert", cert, "--server-key",
                  zcert_public_txt(broker)) == -1);
    assert(streq(zcert_public_txt(options->client_cert), made));
    free(made);
    zcert_destroy(&broker);

    // The questions of a bare start: Enter takes the default; a wrong answer asks again
    char answers[] = "\n\nAlice\n";
    FILE *in = fmemopen(answers, strlen(answers), "r"), *out = fopen("/dev/null", "w");
    assert(in && out);
    assert(s_test(&s_test_login, NULL, &options, "-v") == -1);
    assert(s_ask_all(options, in, out) == 0);
    assert(streq(options->host, ZCHAT_DEFAULT_HOST) && options->port == ZCHAT_DEFAULT_PORT);
    assert(streq(options->user, "Alice"));
    fclose(in);
    char others[] = " example.org \n99999\nport\n2000\n9lives\nBob\n";
    in = fmemopen(others, strlen(others), "r");
    assert(s_test(&s_test_login, NULL, &options, "-v") == -1);
    assert(s_ask_all(options, in, out) == 0);
    assert(streq(options->host, "example.org") && options->port == 2000);
    assert(streq(options->user, "Bob"));
    fclose(in);
    char server_given[] = "Carol\n";  // -p given: only the name is asked
    in = fmemopen(server_given, strlen(server_given), "r");
    assert(s_test(&s_test_login, NULL, &options, "-p", "3000") == -1);
    assert(s_ask_all(options, in, out) == 0);
    assert(options->port == 3000 && streq(options->user, "Carol"));
    fclose(in);
    char ended[] = "\n";
    in = fmemopen(ended, strlen(ended), "r");
    assert(s_test(&s_test_login, NULL, &options, "-v") == -1);
    assert(s_ask_all(options, in, out) == -1);
    fclose(in);
    fclose(out);

    client_options_destroy(&options);
    client_options_destroy(&options);  // idempotent
    assert(options == NULL);
    char *secret = zsys_sprintf("%s_secret", cert);
    unlink(secret);
    unlink(cert);
    unlink(password);
    rmdir(tmp);
    zstr_free(&secret);
    zstr_free(&cert);
    zstr_free(&password);
    zstr_free(&tmp);

    fflush(stdout);
    assert(dup2(saved_out, STDOUT_FILENO) >= 0);
    close(saved_out);
    close(quiet);
    fclose(stderr);
    stderr = saved_err;
}
