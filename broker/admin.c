// admin.c - zchat-broker's subcommands: keygen, and user add, del, list, passwd on the database
//
// The accounts live in the broker's own database, so a running broker sees a change at the
// next login. Passwords are read, hashed and wiped; only the hash is stored, nothing is logged.
#include "zchat_prelude.h"
#include "admin.h"
#include "account.h"
#include "keys.h"
#include "store.h"
#include "zchat_password.h"
#include <time.h>
#include <unistd.h>

// The new password for name: asked twice on a terminal, else one line of stdin. Returns a
// new string (zchat_password_free), or NULL after saying why.
static char *
s_new_password(const char *name)
{
    bool tty = isatty(STDIN_FILENO);
    char *prompt = zsys_sprintf("New password for %s: ", name);
    char *password = zchat_password_read(STDIN_FILENO, prompt);
    zstr_free(&prompt);
    if (!password) {
        fprintf(stderr, "zchat-broker: no password given\n");
        return NULL;
    }
    if (!account_password_is_valid(password)) {
        fprintf(stderr,
                "zchat-broker: a password is %d to %d bytes of UTF-8 without control "
                "characters\n",
                ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX);
        zchat_password_free(&password);
        return NULL;
    }
    if (tty) {
        char *again = zchat_password_read(STDIN_FILENO, "Again: ");
        bool same = again && streq(again, password);
        zchat_password_free(&again);
        if (!same) {
            fprintf(stderr, "zchat-broker: the passwords differ: nothing changed\n");
            zchat_password_free(&password);
            return NULL;
        }
    }
    return password;
}

static void
s_print_user(void *arg, const char *name, int64_t created_ms)
{
    (void)arg;
    time_t seconds = (time_t)(created_ms / 1000);
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&seconds, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s %s\n", name, when);
}

// Set a password for name, as a new account (add) or for the existing one. Returns the exit
// status.
static int
s_set_password(store_t *store, const char *name, bool add)
{
    char *hash = NULL;
    if (store_user_hash(store, name, &hash) == -1) {
        fprintf(stderr, "zchat-broker: cannot read the accounts\n");
        return 1;
    }
    bool exists = hash != NULL;
    zstr_free(&hash);
    if (add && exists) {
        fprintf(stderr, "zchat-broker: user %s exists (user passwd changes a password)\n", name);
        return 1;
    }
    if (!add && !exists) {
        fprintf(stderr, "zchat-broker: no user %s\n", name);
        return 1;
    }
    char *password = s_new_password(name);
    if (!password)
        return 1;
    hash = account_hash(password);
    zchat_password_free(&password);
    if (!hash) {
        fprintf(stderr, "zchat-broker: cannot hash the password (out of memory?)\n");
        return 1;
    }
    int rc = add ? store_user_add(store, name, hash, zclock_time())
                 : store_user_set_hash(store, name, hash);
    zstr_free(&hash);
    if (rc == 1) {
        fprintf(stderr, "zchat-broker: user %s %s meanwhile\n", name,
                add ? "was added" : "was deleted");
        return 1;
    }
    if (rc == -1) {
        fprintf(stderr, "zchat-broker: cannot write the accounts\n");
        return 1;
    }
    printf("%s %s\n", add ? "added" : "changed the password of", name);
    return 0;
}

int
admin_run(const options_t *options)
{
    assert(options && options->command != OPTIONS_RUN);
    if (options->command == OPTIONS_KEYGEN) {
        keys_print_new(stdout);
        return 0;
    }
    if (streq(options->db, ":memory:")) {
        fprintf(stderr, "zchat-broker: accounts need a database file: give --db PATH\n");
        return 2;
    }
    char *error = NULL;
    store_t *store = store_new(options->db, (size_t)options->history, &error);
    if (!store) {
        fprintf(stderr, "zchat-broker: database %s: %s\n", options->db, error);
        zstr_free(&error);
        return 1;
    }
    int rc = 0;
    switch (options->command) {
    case OPTIONS_USER_ADD:
        rc = s_set_password(store, options->user, true);
        break;
    case OPTIONS_USER_PASSWD:
        rc = s_set_password(store, options->user, false);
        break;
    case OPTIONS_USER_DEL:
        rc = store_user_delete(store, options->user);
        if (rc == 1)
            fprintf(stderr, "zchat-broker: no user %s\n", options->user);
        else if (rc == -1)
            fprintf(stderr, "zchat-broker: cannot write the accounts\n");
        else
            printf("deleted %s\n", options->user);
        rc = rc ? 1 : 0;
        break;
    case OPTIONS_USER_LIST:
        if (store_user_list(store, s_print_user, NULL) == -1) {
            fprintf(stderr, "zchat-broker: cannot read the accounts\n");
            rc = 1;
        }
        break;
    default:
        assert(false);
    }
    fflush(stdout);
    store_destroy(&store);
    return rc;
}

// Run argv with stdin holding input and stdout going to the file out. Returns the exit status.
static int
s_run(const char *input, FILE *out, int argc, char **argv)
{
    options_t options;
    assert(options_parse(&options, argc, argv) == -1);
    int fds[2];
    assert(pipe(fds) == 0);
    assert(write(fds[1], input, strlen(input)) == (ssize_t)strlen(input));
    close(fds[1]);
    fflush(stdout);
    int saved_in = dup(STDIN_FILENO);
    int saved_out = dup(STDOUT_FILENO);
    assert(saved_in >= 0 && saved_out >= 0);
    dup2(fds[0], STDIN_FILENO);
    dup2(fileno(out), STDOUT_FILENO);
    close(fds[0]);
    int rc = admin_run(&options);
    fflush(stdout);
    dup2(saved_in, STDIN_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_in);
    close(saved_out);
    return rc;
}

void
admin_test(bool verbose)
{
    (void)verbose;
    char path[] = "/tmp/zchat-admin-XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    close(fd);
    FILE *out = tmpfile();
    assert(out);
    FILE *saved_err = stderr;
    stderr = fopen("/dev/null", "w");  // the refusals say why there; keep the self-test quiet
    assert(stderr);

    char *add[] = {"zchat-broker", "--db", path, "user", "add", "Alice", NULL};
    assert(s_run("correct horse\n", out, 6, add) == 0);
    assert(s_run("correct horse\n", out, 6, add) == 1);  // exists
    char *add_bob[] = {"zchat-broker", "--db", path, "user", "add", "bob", NULL};
    assert(s_run("short\n", out, 6, add_bob) == 1);  // breaks the rules
    assert(s_run("", out, 6, add_bob) == 1);         // no password at all
    char *passwd[] = {"zchat-broker", "--db", path, "user", "passwd", "ALICE", NULL};
    assert(s_run("battery staple\n", out, 6, passwd) == 0);
    char *passwd_bob[] = {"zchat-broker", "--db", path, "user", "passwd", "bob", NULL};
    assert(s_run("battery staple\n", out, 6, passwd_bob) == 1);  // no such user
    char *error = NULL;
    store_t *store = store_new(path, 10, &error);
    assert(store);
    char *hash = NULL;
    assert(store_user_hash(store, "alice", &hash) == 0 && hash);
    assert(account_verify(hash, "battery staple"));  // the new password is the one stored
    zstr_free(&hash);
    store_destroy(&store);
    char *list[] = {"zchat-broker", "--db", path, "user", "list", NULL};
    assert(s_run("", out, 5, list) == 0);
    char *del[] = {"zchat-broker", "--db", path, "user", "del", "alice", NULL};
    assert(s_run("", out, 6, del) == 0);
    assert(s_run("", out, 6, del) == 1);
    char *memory[] = {"zchat-broker", "--db", ":memory:", "user", "list", NULL};
    assert(s_run("", out, 5, memory) == 2);  // no accounts in memory

    fclose(stderr);
    stderr = saved_err;
    rewind(out);
    char text[512];
    size_t size = fread(text, 1, sizeof text - 1, out);
    text[size] = 0;
    fclose(out);
    assert(strstr(text, "added Alice\n"));
    assert(strstr(text, "changed the password of ALICE\n"));
    assert(strstr(text, "\nAlice 20"));  // the list: registered spelling, then the date
    assert(strstr(text, "deleted alice\n"));
    assert(!strstr(text, "horse") && !strstr(text, "staple"));

    char *extra = zsys_sprintf("%s-wal", path);
    remove(extra);
    zstr_free(&extra);
    extra = zsys_sprintf("%s-shm", path);
    remove(extra);
    zstr_free(&extra);
    remove(path);
}
