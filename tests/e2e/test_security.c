// test_security.c - e2e: CURVE encryption (keys, handshakes, the --clients allowlist) and
// password accounts (required, optional, auth_failed and its slow-down, register, the user
// subcommands), with the broker, zchat and zchat-logger as real processes
#include "zchat_prelude.h"
#include "harness.h"
#include "hproc.h"
#include "tests_security.h"

#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#define S_EXIT_MS  10000                    // how long a program may take to exit (ASan, Argon2)
#define S_PASSWORD "correct horse battery"  // alice's password
#define S_WRONG    "Zebra-Quartz-5150"      // a wrong password that must show up nowhere

// The terminal of proc must show text (its count-th occurrence, from 1) within timeout_ms.
static void
s_expect_shown_at(const char *file, int line, hproc_t *proc, const char *text, int count,
                  int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (true) {
        int seen = 0;
        for (const char *at = strstr(hproc_output(proc), text); at; at = strstr(at + 1, text))
            seen++;
        if (seen >= count)
            return;
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            harness_fail(file, line, "the terminal of %s did not show \"%s\" (x%d); it showed:\n%s",
                         hproc_label(proc), text, count, hproc_output(proc));
        hproc_read(proc, left > 50 ? 50 : (int)left);
    }
}
#define s_expect_shown(proc, text, count)                                                          \
    s_expect_shown_at(__FILE__, __LINE__, proc, text, count, H_REPLY_MS + 2000)

// Run program name with input on its stdin to its exit; its stdout and stderr into out and err.
// Returns its exit status.
#define s_run(name, input, out, err, ...)                                                          \
    hproc_run_at(__FILE__, __LINE__, name, input, S_EXIT_MS, out, sizeof out, err, sizeof err,     \
                 (const char *const[]){__VA_ARGS__})

// A database in the temp dir with alice (password S_PASSWORD) registered. Returns its path.
static const char *
s_accounts_db(void)
{
    static char db[PATH_MAX];
    harness_path(db, sizeof db, "accounts.db");
    char out[256], err[512];
    int rc =
        s_run("zchat-broker", S_PASSWORD "\n", out, err, "--db", db, "user", "add", "alice", NULL);
    CHECK(rc == 0, "user add alice: exit %d, stderr: %s", rc, err);
    return db;
}

// A client that sends hello for user with the password (NULL: none) and gets the error code.
static void
s_hello_fails_at(const char *file, int line, hclient_t *client, const char *user,
                 const char *password, const char *code)
{
    if (password)
        hclient_sendf(client,
                      "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1,\"password\":\"%s\"}", user,
                      password);
    else
        hclient_sendf(client, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1}", user);
    cJSON *error = hclient_expect_error_at(file, line, client, code, "hello", NULL);
    if (streq(code, "auth_failed"))
        jcheck_str_at(file, line, error, "message", "Wrong user name or password.");
    if (password && strstr(jstr_at(file, line, error, "message"), password))
        harness_fail(file, line, "the error message shows the password");
}
#define s_hello_fails(client, user, password, code)                                                \
    s_hello_fails_at(__FILE__, __LINE__, client, user, password, code)

static cJSON *
s_hello_ok_at(const char *file, int line, hclient_t *client, const char *user, const char *password)
{
    hclient_sendf(client, "{\"type\":\"hello\",\"user\":\"%s\",\"proto\":1,\"password\":\"%s\"}",
                  user, password);
    cJSON *welcome = hclient_expect_at(file, line, client, "welcome");
    jcheck_str_at(file, line, welcome, "user", user);
    return welcome;
}
#define s_hello_ok(client, user, password) s_hello_ok_at(__FILE__, __LINE__, client, user, password)

// True if the key is 40 Z85 characters that decode.
static bool
s_is_key(const char *key)
{
    byte bin[32];
    return strlen(key) == 40 && zmq_z85_decode(bin, key) != NULL;
}

// ---------------------------------------------------------------------------------------------
// CURVE

// zchat-broker keygen: a new key pair, labelled, one key a line
void
test_sec_keygen(void)
{
    char out[512], err[512], again[512];
    int rc = s_run("zchat-broker", NULL, out, err, "keygen", NULL);
    CHECK(rc == 0, "exit %d, stderr: %s", rc, err);
    char public_key[41], secret_key[41], extra;
    int fields =
        sscanf(out, "public-key: %40s\nsecret-key: %40s%c", public_key, secret_key, &extra);
    bool labelled = fields == 3 && extra == '\n' && strlen(out) == 2 * (12 + 40 + 1);
    CHECK(labelled, "not two labelled key lines: \"%s\"", out);
    CHECK(s_is_key(public_key) && s_is_key(secret_key), "not Z85 keys: %s", out);
    byte public_bin[32], secret_bin[32], derived[32];
    zmq_z85_decode(public_bin, public_key);
    zmq_z85_decode(secret_bin, secret_key);
    CHECK(crypto_scalarmult_base(derived, secret_bin) == 0 && memcmp(derived, public_bin, 32) == 0,
          "the public key is not the secret key's");
    rc = s_run("zchat-broker", NULL, again, err, "keygen", NULL);
    CHECK(rc == 0 && strneq(out, again), "a second keygen printed the same keys");
}

// A --curve broker prints its key; CURVE clients with it work end to end, feed included
void
test_sec_curve_end_to_end(void)
{
    hbroker_t *broker = hbroker_start("--curve", NULL);
    CHECK(s_is_key(hbroker_server_key(broker)), "server key \"%s\"", hbroker_server_key(broker));
    CHECK(strstr(hbroker_ready_line(broker), ": commands on tcp://127.0.0.1:"),
          "the start line changed: %s", hbroker_ready_line(broker));

    hclient_t *alice = hclient_login_curve(broker, "alice");
    hclient_t *bob = hclient_login_curve(broker, "bob");
    hclient_join(alice, "py");
    hclient_join(bob, "py");
    hclient_subscribe(bob, "room/py/");  // the SUB over CURVE too
    hclient_sync_feed(bob, alice, "py");
    int64_t seq = hclient_say(alice, "py", "over curve");
    cJSON *event = hclient_expect_message(bob, "py", "alice", "over curve");
    jcheck_int(event, "seq", seq);
    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"bob\",\"text\":\"psst\"}");
    cJSON *private = hclient_expect(bob, "private");
    jcheck_str(private, "text", "psst");
    hclient_send(bob, "{\"type\":\"history\",\"room\":\"py\"}");
    hclient_expect(bob, "history");
    hbroker_stop(broker);
}

// The certificate is made on first use (secret file 0600 in a 0700 directory), kept, reused
void
test_sec_curve_keys_kept(void)
{
    char keys[PATH_MAX], path[PATH_MAX + 32], key[41];
    harness_path(keys, sizeof keys, "keys");
    hbroker_t *broker = hbroker_start("--curve", "--keys", keys, NULL);
    snprintf(key, sizeof key, "%s", hbroker_server_key(broker));
    hbroker_stop(broker);

    struct stat st;
    CHECK(stat(keys, &st) == 0 && (st.st_mode & 0777) == 0700, "keys dir mode %o",
          (unsigned)st.st_mode & 0777);
    snprintf(path, sizeof path, "%s/broker.cert_secret", keys);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "secret file mode %o",
          (unsigned)st.st_mode & 0777);
    snprintf(path, sizeof path, "%s/broker.cert", keys);
    char text[2048];
    harness_read_file(path, text, sizeof text);
    CHECK(strstr(text, key) && !strstr(text, "secret-key"), "broker.cert: %s", text);

    broker = hbroker_start("--curve", "--keys", keys, NULL);
    CHECK(streq(hbroker_server_key(broker), key), "a restart changed the key: %s, then %s", key,
          hbroker_server_key(broker));
    hclient_login_curve(broker, "alice");
    hbroker_stop(broker);

    // Without --keys: zchat-keys beside the database
    broker = hbroker_start("--curve", NULL);
    snprintf(path, sizeof path, "%s/zchat-keys/broker.cert_secret", harness_tmpdir());
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "no %s", path);
    hbroker_stop(broker);
}

// A client without the broker's key gets no welcome, and its SUB gets no event
void
test_sec_curve_wrong_key(void)
{
    hbroker_t *broker = hbroker_start("--curve", NULL);
    zcert_t *other = zcert_new();
    hclient_t *wrong = hclient_new_curve(broker, zcert_public_txt(other), NULL);
    zcert_destroy(&other);
    hclient_send(wrong, "{\"type\":\"hello\",\"user\":\"mallory\",\"proto\":1}");
    hclient_t *plain = hclient_new(broker);
    hclient_send(plain, "{\"type\":\"hello\",\"user\":\"eve\",\"proto\":1}");
    CHECK(hclient_recv(wrong, 1500) == NULL, "a wrong key got an answer");
    CHECK(hclient_recv(plain, 500) == NULL, "a plain client got an answer");

    hclient_t *alice = hclient_login_curve(broker, "alice");
    hclient_subscribe(wrong, "room/");
    hclient_subscribe(plain, "room/");
    for (int i = 0; i < 5; i++)
        hclient_say(alice, "lobby", "not for eavesdroppers");
    hclient_expect_no_event(wrong, H_QUIET_MS);
    hclient_expect_no_event(plain, H_QUIET_MS);
    hbroker_stop(broker);
}

// zchat with a wrong key, or none, says so within a few seconds and exits 1; with the key (or
// the broker's certificate file) it chats
void
test_sec_curve_zchat_wrong_key(void)
{
    hbroker_t *broker = hbroker_start("--curve", NULL);
    char port[16], expected[128], out[4096], err[4096];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    zcert_t *other = zcert_new();
    int64_t start = zclock_mono();
    int rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice",
                   "--server-key", zcert_public_txt(other), NULL);
    int64_t took = zclock_mono() - start;
    zcert_destroy(&other);
    snprintf(expected, sizeof expected,
             "zchat: cannot connect securely to 127.0.0.1:%s: wrong --server-key?\n", port);
    CHECK(rc == 1 && streq(err, expected), "exit %d, stderr: %s", rc, err);
    CHECK(took < 2500, "took %" PRId64 " ms: not from the 3 s connect timeout", took);

    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice", NULL);
    CHECK(rc == 1 && strstr(err, "--server-key"), "without a key: exit %d, stderr: %s", rc, err);
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice",
               "--server-key", "not-a-key", NULL);
    CHECK(rc == 2 && strstr(err, "--server-key"), "a bad key: exit %d, stderr: %s", rc, err);

    rc = s_run("zchat", "hi over curve\n/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u",
               "alice", "--server-key", hbroker_server_key(broker), NULL);
    CHECK(rc == 0 && strstr(out, "Welcome to the chat, alice!"), "exit %d: %s %s", rc, out, err);
    char cert[PATH_MAX];
    snprintf(cert, sizeof cert, "%s/zchat-keys/broker.cert", harness_tmpdir());
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "bob",
               "--server-key", cert, NULL);
    CHECK(rc == 0 && strstr(out, "Welcome to the chat, bob!"), "exit %d: %s %s", rc, out, err);
    hbroker_stop(broker);
}

// --clients DIR: only the clients whose public certificate is there get in, on either socket
void
test_sec_curve_clients_allowlist(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 32], mine[PATH_MAX];
    harness_path(dir, sizeof dir, "allowed");
    CHECK(mkdir(dir, 0700) == 0, "mkdir: %s", strerror(errno));
    zcert_t *allowed = zcert_new();
    snprintf(path, sizeof path, "%s/alice.cert", dir);
    CHECK(zcert_save_public(allowed, path) == 0, "save %s", path);
    harness_path(mine, sizeof mine, "alice.cert");  // with its secret, for zchat --client-cert
    CHECK(zcert_save(allowed, mine) == 0, "save %s", mine);

    hbroker_t *broker = hbroker_start("--curve", "--clients", dir, NULL);
    const char *key = hbroker_server_key(broker);
    hclient_t *alice = hclient_new_curve(broker, key, allowed);
    hclient_send(alice, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1}");
    hclient_expect(alice, "welcome");
    hclient_t *stranger = hclient_new_curve(broker, key, NULL);
    hclient_send(stranger, "{\"type\":\"hello\",\"user\":\"mallory\",\"proto\":1}");
    CHECK(hclient_recv(stranger, 1500) == NULL, "a key not allowed got an answer");

    hclient_subscribe(alice, "room/lobby/");
    hclient_subscribe(stranger, "room/");
    hclient_sync_feed(alice, alice, "lobby");
    hclient_say(alice, "lobby", "allowed only");
    hclient_expect_message(alice, "lobby", "alice", "allowed only");
    hclient_expect_no_event(stranger, H_QUIET_MS);

    char port[16], out[4096], err[4096];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    int rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "bob",
                   "--server-key", key, NULL);
    CHECK(rc == 1 && strstr(err, "refused our client key"), "exit %d, stderr: %s", rc, err);
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "bob",
               "--server-key", key, "--client-cert", mine, NULL);
    CHECK(rc == 0 && strstr(out, "Welcome to the chat, bob!"), "exit %d: %s %s", rc, out, err);

    // A client certificate made by zchat itself, then allowed
    char made[PATH_MAX];
    harness_path(made, sizeof made, "carol.cert");
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "carol",
               "--server-key", key, "--client-cert", made, NULL);
    CHECK(rc == 1 && strstr(err, "made a new client certificate"), "exit %d: %s", rc, err);
    snprintf(path, sizeof path, "%s_secret", made);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "no private %s", path);
    zcert_destroy(&allowed);
    hbroker_stop(broker);
}

// zchat-logger --server-key records over CURVE; with a wrong key it says so and exits 1
void
test_sec_curve_logger(void)
{
    hbroker_t *broker = hbroker_start("--curve", NULL);
    char port[16], log[PATH_MAX], text[8192];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    harness_path(log, sizeof log, "lobby.jsonl");
    hproc_t *logger =
        hproc_start("zchat-logger", NULL, 0, "-H", "127.0.0.1", "-p", port, "-r", "lobby", "-o",
                    log, "--fsync", "always", "--server-key", hbroker_server_key(broker), NULL);
    hclient_t *alice = hclient_login_curve(broker, "alice");
    int64_t deadline = zclock_mono() + H_REPLY_MS * 3;
    bool recorded = false;
    while (!recorded && zclock_mono() < deadline) {
        hclient_say(alice, "lobby", "recorded over curve");
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        harness_read_file(log, text, sizeof text);
        recorded = strstr(text, "recorded over curve") != NULL;
    }
    CHECK(recorded, "the logger recorded nothing: %s", text);
    hproc_signal(logger, SIGTERM);
    CHECK(hproc_wait_exit(logger, S_EXIT_MS) == 0, "the logger did not exit 0 after SIGTERM");

    zcert_t *other = zcert_new();
    char out[1024], err[4096];
    int64_t start = zclock_mono();
    int rc = s_run("zchat-logger", NULL, out, err, "-H", "127.0.0.1", "-p", port, "-r", "lobby",
                   "--server-key", zcert_public_txt(other), NULL);
    zcert_destroy(&other);
    CHECK(rc == 1 && strstr(err, "wrong --server-key?"), "exit %d, stderr: %s", rc, err);
    CHECK(zclock_mono() - start < 5000, "the logger took %" PRId64 " ms to give up",
          zclock_mono() - start);
    hbroker_stop(broker);
}

// ---------------------------------------------------------------------------------------------
// Accounts

// --accounts on a non-loopback address without --curve: refused (exit 2, one line)
void
test_sec_accounts_need_curve(void)
{
    char db[PATH_MAX], out[512], err[512];
    harness_path(db, sizeof db, "zchat.db");
    const char *argv[] = {"zchat-broker", "--port",  "0",          "--db",     db,
                          "-H",           "0.0.0.0", "--accounts", "required", NULL};
    int rc = harness_run_broker(argv, S_EXIT_MS, out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "--curve") && strchr(err, '\n') == err + strlen(err) - 1,
          "exit %d, stderr: %s", rc, err);
    const char *lonely[] = {"zchat-broker", "--port", "0", "--db", db, "--open-registration", NULL};
    rc = harness_run_broker(lonely, S_EXIT_MS, out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "--accounts"), "exit %d, stderr: %s", rc, err);
    const char *clients[] = {"zchat-broker", "--port", "0", "--db", db, "--clients", db, NULL};
    rc = harness_run_broker(clients, S_EXIT_MS, out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && strstr(err, "--curve"), "exit %d, stderr: %s", rc, err);

    // On loopback, passwords never leave the machine: allowed without --curve
    hbroker_t *broker = hbroker_start("--accounts", "optional", NULL);
    hclient_login(broker, "alice");
    hbroker_stop(broker);
}

// user add, del, list, passwd on the database; a running broker sees the change at once
void
test_sec_user_commands(void)
{
    char db[PATH_MAX], out[2048], err[2048];
    harness_path(db, sizeof db, "users.db");
    int rc =
        s_run("zchat-broker", S_PASSWORD "\n", out, err, "--db", db, "user", "add", "alice", NULL);
    CHECK(rc == 0 && streq(out, "added alice\n"), "add: exit %d, %s %s", rc, out, err);
    rc = s_run("zchat-broker", S_PASSWORD "\n", out, err, "--db", db, "user", "add", "ALICE", NULL);
    CHECK(rc == 1 && strstr(err, "exists"), "add twice: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", "short\n", out, err, "--db", db, "user", "add", "bob", NULL);
    CHECK(rc == 1 && strstr(err, "8 to 256 bytes"), "short: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", "", out, err, "--db", db, "user", "add", "bob", NULL);
    CHECK(rc == 1 && strstr(err, "no password"), "no input: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", "bobs password\n", out, err, "user", "add", "Bob", "--db", db, NULL);
    CHECK(rc == 0, "add Bob: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", "list", NULL);
    CHECK(rc == 0 && strncmp(out, "alice 20", 8) == 0 && strstr(out, "\nBob 20") &&
              strlen(out) == 2 * strlen("alice 2026-01-01T00:00:00Z\n") - 2,
          "list: exit %d, \"%s\"", rc, out);

    rc = s_run("zchat-broker", "a new password\n", out, err, "--db", db, "user", "passwd", "alice",
               NULL);
    CHECK(rc == 0, "passwd: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", "a new password\n", out, err, "--db", db, "user", "passwd", "nobody",
               NULL);
    CHECK(rc == 1 && strstr(err, "no user nobody"), "passwd nobody: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", "del", "bob", NULL);
    CHECK(rc == 0 && streq(out, "deleted bob\n"), "del: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", "del", "bob", NULL);
    CHECK(rc == 1, "del twice: exit %d", rc);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", "add", "9lives", NULL);
    CHECK(rc == 2 && strstr(err, "invalid user name"), "bad name: exit %d, %s", rc, err);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", "add", NULL);
    CHECK(rc == 2, "no name: exit %d", rc);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", NULL);
    CHECK(rc == 2, "user alone: exit %d", rc);
    rc = s_run("zchat-broker", NULL, out, err, "--db", db, "user", "rename", "alice", NULL);
    CHECK(rc == 2, "user rename: exit %d", rc);

    hbroker_t *broker = hbroker_start("--db", db, "--accounts", "required", NULL);
    s_hello_fails(hclient_new(broker), "alice", S_PASSWORD, "auth_failed");  // the old one
    s_hello_ok(hclient_new(broker), "alice", "a new password");
    s_hello_fails(hclient_new(broker), "bob", "bobs password", "auth_failed");  // deleted
    rc = s_run("zchat-broker", "carols password\n", out, err, "--db", db, "user", "add", "carol",
               NULL);
    CHECK(rc == 0, "add while the broker runs: exit %d, %s", rc, err);
    s_hello_ok(hclient_new(broker), "carol", "carols password");
    hbroker_stop(broker);
}

// --accounts required: only registered names, with their password
void
test_sec_accounts_required(void)
{
    const char *db = s_accounts_db();
    hbroker_t *broker = hbroker_start("--db", db, "--accounts", "required", NULL);
    hclient_t *client = hclient_new(broker);
    s_hello_fails(client, "alice", NULL, "auth_failed");
    s_hello_fails(client, "alice", S_WRONG, "auth_failed");
    s_hello_fails(client, "bob", S_WRONG, "auth_failed");  // not registered: the same answer
    s_hello_fails(client, "bob", NULL, "auth_failed");
    s_hello_fails(client, "9lives", S_WRONG, "invalid_name");  // before auth_failed
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"password\":5}");
    hclient_expect_error(client, "bad_request", "hello");
    hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"observer\":true}");
    hclient_expect_error(client, "auth_failed", "hello");  // an observer naming alice, too

    hclient_t *anonymous = hclient_new(broker);  // an anonymous observer reserves no name
    hclient_send(anonymous, "{\"type\":\"hello\",\"proto\":1,\"observer\":true}");
    hclient_expect(anonymous, "welcome");
    s_hello_ok(client, "alice", S_PASSWORD);
    hbroker_stop(broker);
}

// --accounts optional: a registered name needs its password, other names are free; auth_failed
// comes after invalid_name and before name_taken; a resume needs no password
void
test_sec_accounts_optional(void)
{
    const char *db = s_accounts_db();
    hbroker_t *broker = hbroker_start("--db", db, "--accounts", "optional", NULL);
    hclient_login(broker, "bob");  // free: no password
    hclient_t *client = hclient_new(broker);
    s_hello_fails(client, "alice", NULL, "auth_failed");
    s_hello_fails(client, "ALICE", S_WRONG, "auth_failed");  // any spelling
    cJSON *welcome = s_hello_ok(client, "alice", S_PASSWORD);
    const char *token = jstr(welcome, "session");

    hclient_t *other = hclient_new(broker);
    s_hello_fails(other, "alice", S_WRONG, "auth_failed");  // not name_taken: auth first
    s_hello_fails(other, "alice", S_PASSWORD, "name_taken");
    s_hello_fails(other, "bob", NULL, "name_taken");
    hclient_sendf(other, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,\"resume\":\"%s\"}",
                  token);
    jcheck_str(hclient_expect(other, "welcome"), "user", "alice");  // the token is the proof
    hclient_send(client, "{\"type\":\"join\",\"room\":\"py\"}");
    hclient_expect_error(client, "not_logged_in", "join");  // taken over
    hbroker_stop(broker);
}

// After 3 failed passwords a connection waits 1 s (then 2, 4...): meanwhile even the right
// password fails unchecked; other connections are not slowed
void
test_sec_auth_slowdown(void)
{
    const char *db = s_accounts_db();
    hbroker_t *broker = hbroker_start("--db", db, "--accounts", "required", NULL);
    hclient_t *client = hclient_new(broker);
    for (int i = 0; i < 2; i++)
        s_hello_fails(client, "alice", S_WRONG, "auth_failed");
    // The wait starts when the broker has checked the third: not before it is sent
    int64_t third = zclock_mono();
    s_hello_fails(client, "alice", S_WRONG, "auth_failed");
    s_hello_fails(client, "alice", S_PASSWORD, "auth_failed");  // slowed down: not checked
    hclient_t *other = hclient_new(broker);
    s_hello_ok(other, "alice", S_PASSWORD);
    hclient_send(other, "{\"type\":\"quit\"}");
    hclient_expect(other, "bye");

    // Poll: a hello during the wait is not counted, so it does not make the wait longer
    bool welcome = false;
    int64_t waited = 0;
    while (!welcome && zclock_mono() - third < 4000) {
        hclient_send(client, "{\"type\":\"hello\",\"user\":\"alice\",\"proto\":1,"
                             "\"password\":\"" S_PASSWORD "\"}");
        cJSON *reply = hclient_recv(client, H_REPLY_MS);
        CHECK(reply, "no answer to hello");
        waited = zclock_mono() - third;
        welcome = streq(jstr(reply, "type"), "welcome");
        if (!welcome) {
            CHECK(streq(jstr(reply, "code"), "auth_failed"), "%s", harness_json_text(reply));
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    CHECK(welcome, "still refused %" PRId64 " ms after the third failure", waited);
    CHECK(waited >= 900, "let in after %" PRId64 " ms: no slow-down", waited);
    hbroker_stop(broker);
}

// register (--open-registration): ok, then hello with the password; without it: forbidden
void
test_sec_register(void)
{
    hbroker_t *closed = hbroker_start("--accounts", "optional", NULL);
    hclient_t *client = hclient_new(closed);
    hclient_send(client,
                 "{\"type\":\"register\",\"user\":\"carol\",\"password\":\"" S_PASSWORD "\"}");
    hclient_expect_error(client, "forbidden", "register");
    hbroker_stop(closed);
    char db[PATH_MAX];
    harness_path(db, sizeof db, "plain.db");
    hbroker_t *plain = hbroker_start("--db", db, NULL);
    client = hclient_new(plain);
    hclient_send(client,
                 "{\"type\":\"register\",\"user\":\"carol\",\"password\":\"" S_PASSWORD "\"}");
    hclient_expect_error(client, "forbidden", "register");
    hbroker_stop(plain);

    harness_path(db, sizeof db, "open.db");
    hbroker_t *broker =
        hbroker_start("--db", db, "--accounts", "required", "--open-registration", NULL);
    client = hclient_new(broker);
    hclient_send(client, "{\"type\":\"register\",\"user\":\"Carol\",\"password\":\"" S_PASSWORD
                         "\",\"id\":\"r1\"}");
    jcheck_str(hclient_expect(client, "ok"), "id", "r1");
    hclient_send(client, "{\"type\":\"register\",\"user\":\"carol\",\"password\":\"another one\"}");
    hclient_expect_error(client, "name_taken", "register");
    hclient_send(client, "{\"type\":\"register\",\"user\":\"dave\",\"password\":\"short\"}");
    hclient_expect_error(client, "bad_request", "register");
    hclient_send(client,
                 "{\"type\":\"register\",\"user\":\"dave\",\"password\":\"bell\\u0007here ok?\"}");
    hclient_expect_error(client, "bad_request", "register");  // control characters
    hclient_send(client,
                 "{\"type\":\"register\",\"user\":\"9lives\",\"password\":\"" S_PASSWORD "\"}");
    hclient_expect_error(client, "invalid_name", "register");
    hclient_send(client, "{\"type\":\"register\",\"user\":\"dave\"}");
    hclient_expect_error(client, "bad_request", "register");
    hclient_send(client, "{\"type\":\"register\",\"user\":\"dave\",\"password\":12345678}");
    hclient_expect_error(client, "bad_request", "register");

    s_hello_fails(client, "carol", S_WRONG, "auth_failed");
    jcheck_str(s_hello_ok(client, "carol", S_PASSWORD), "user", "carol");
    hclient_t *observer = hclient_observer(broker, NULL);
    hclient_send(observer,
                 "{\"type\":\"register\",\"user\":\"dave\",\"password\":\"" S_PASSWORD "\"}");
    hclient_expect_error(observer, "forbidden", "register");
    hbroker_stop(broker);
}

// Passwords reach no log (even with -v) and no error message
void
test_sec_no_password_in_logs(void)
{
    char db[PATH_MAX], out[2048], err[2048];
    harness_path(db, sizeof db, "logs.db");
    int rc = s_run("zchat-broker", "Right-" S_WRONG "\n", out, err, "--db", db, "user", "add",
                   "alice", NULL);
    CHECK(rc == 0 && !strstr(out, S_WRONG) && !strstr(err, S_WRONG), "user add: %s %s", out, err);
    hbroker_t *broker =
        hbroker_start("-v", "--db", db, "--accounts", "optional", "--open-registration", NULL);
    hclient_t *client = hclient_new(broker);
    s_hello_fails(client, "alice", "Wrong-" S_WRONG, "auth_failed");
    s_hello_ok(client, "alice", "Right-" S_WRONG);
    hclient_t *other = hclient_new(broker);
    s_hello_fails(other, "alice", "Right-" S_WRONG, "name_taken");
    hclient_send(other,
                 "{\"type\":\"register\",\"user\":\"eve\",\"password\":\"Eve-" S_WRONG "\"}");
    hclient_expect(other, "ok");
    hclient_send(other,
                 "{\"type\":\"register\",\"user\":\"eve\",\"password\":\"Eve-" S_WRONG "\"}");
    cJSON *error = hclient_expect_error(other, "name_taken", "register");
    CHECK(!strstr(jstr(error, "message"), S_WRONG), "%s", harness_json_text(error));
    s_hello_ok(other, "eve", "Eve-" S_WRONG);
    hbroker_stop(broker);

    char log[65536];
    harness_read_file(hbroker_log(broker), log, sizeof log);
    CHECK(strstr(log, "alice logged in") && strstr(log, "login as alice refused"),
          "the log does not show the logins: %s", log);
    CHECK(!strstr(log, S_WRONG), "a password is in the broker's log:\n%s", log);
}

// zchat --password-file: the password for a login that needs one
void
test_sec_zchat_password_file(void)
{
    const char *db = s_accounts_db();
    hbroker_t *broker = hbroker_start("--db", db, "--accounts", "required", NULL);
    char port[16], right[PATH_MAX], wrong[PATH_MAX], out[4096], err[4096];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    harness_path(right, sizeof right, "right.pw");
    harness_path(wrong, sizeof wrong, "wrong.pw");
    FILE *file = fopen(right, "w");
    CHECK(file, "fopen");
    fputs(S_PASSWORD "\n", file);
    fclose(file);
    file = fopen(wrong, "w");
    CHECK(file, "fopen");
    fputs(S_WRONG "\n", file);
    fclose(file);

    int rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice",
                   "--password-file", right, NULL);
    CHECK(rc == 0 && strstr(out, "Welcome to the chat, alice!"), "exit %d: %s %s", rc, out, err);
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice",
               "--password-file", wrong, NULL);
    CHECK(rc == 1 && streq(err, "zchat: login refused: Wrong user name or password.\n"),
          "wrong: exit %d, stderr: %s", rc, err);
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice", NULL);
    CHECK(rc == 1 && strstr(err, "Wrong user name or password."),  // no terminal: no question
          "none: exit %d, stderr: %s", rc, err);
    rc = s_run("zchat", "/quit\n", out, err, "-H", "127.0.0.1", "-p", port, "-u", "alice",
               "--password-file", "/nonexistent/pw", NULL);
    CHECK(rc == 2 && strstr(err, "--password-file"), "missing file: exit %d, %s", rc, err);
    hbroker_stop(broker);
}

// zchat on a terminal asks for the password without echo, again after a wrong one
void
test_sec_zchat_password_prompt(void)
{
    const char *db = s_accounts_db();
    hbroker_t *broker = hbroker_start("--db", db, "--accounts", "required", NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", hproc_port(broker));
    hproc_t *zchat = hproc_start("zchat", NULL, HPROC_PTY, "-H", "127.0.0.1", "-p", port, "-u",
                                 "alice", "--no-color", NULL);
    s_expect_shown(zchat, "Password for alice: ", 1);
    hproc_type(zchat, S_WRONG "\n");
    s_expect_shown(zchat, "wrong user name or password", 1);
    s_expect_shown(zchat, "Password for alice: ", 2);
    hproc_type(zchat, S_PASSWORD "\n");
    s_expect_shown(zchat, "Welcome to the chat, alice!", 1);
    CHECK(!strstr(hproc_output(zchat), S_WRONG) && !strstr(hproc_output(zchat), S_PASSWORD),
          "a password was echoed:\n%s", hproc_output(zchat));
    hproc_type(zchat, "/quit\n");
    int rc = hproc_wait_exit(zchat, S_EXIT_MS);
    CHECK(rc == 0, "exit %d; the terminal showed:\n%s", rc, hproc_output(zchat));
    hbroker_stop(broker);
}

// A client cannot speak as another: `from` is always the broker's, whatever the request says
void
test_sec_no_impersonation(void)
{
    hbroker_t *broker = hbroker_start(NULL);
    hclient_t *alice = hclient_login(broker, "Alice");
    hclient_t *bob = hclient_login(broker, "Bob");
    hclient_t *watcher = hclient_watcher(broker, "room/lobby/", alice, "lobby");
    hclient_send(alice,
                 "{\"type\":\"say\",\"room\":\"lobby\",\"text\":\"I am Bob\",\"from\":\"Bob\","
                 "\"user\":\"Bob\",\"id\":\"f1\"}");
    hclient_expect(alice, "ack");
    hclient_expect_message(watcher, "lobby", "Alice", "I am Bob");

    hclient_send(alice, "{\"type\":\"msg\",\"to\":\"Bob\",\"text\":\"psst\",\"from\":\"Carol\"}");
    cJSON *private = hclient_expect(bob, "private");
    CHECK(streq(jstr(private, "from"), "Alice"), "private from %s, not Alice",
          jstr(private, "from"));
    CHECK(streq(jstr(private, "to"), "Bob"), "private to %s, not Bob", jstr(private, "to"));

    // Nor can it act for another's session: Bob's token without Bob's name is a new login
    const char *token = jstr(hclient_welcome(bob), "session");
    hclient_t *mallory = hclient_new(broker);
    char hello[256];
    snprintf(hello, sizeof hello,
             "{\"type\":\"hello\",\"user\":\"Mallory\",\"proto\":1,\"resume\":\"%s\"}", token);
    hclient_send(mallory, hello);
    cJSON *welcome = hclient_expect(mallory, "welcome");
    CHECK(streq(jstr(welcome, "user"), "Mallory"), "resumed as %s", jstr(welcome, "user"));
    CHECK(!streq(jstr(welcome, "session"), token), "Mallory got Bob's session");
    hclient_say(bob, "lobby", "still me");  // Bob's session is still his
}
