// login.c - the requests that begin and end sessions: hello (and resume), quit, register; the
// password checks and their slow-down; and the session lifecycle: bind, expire, end
#include "zchat_prelude.h"
#include "broker_impl.h"
#include "account.h"
#include "zchat_name.h"
#include "zchat_text.h"

// The connection req came from becomes the session's.
static void
s_bind(broker_t *self, request_t *req, session_t *session)
{
    if (*session_key(session))
        zhashx_delete(self->by_key, session_key(session));
    session_set_identity(session, req->identity, req->identity_size);
    zhashx_update(self->by_key, session_key(session), session);
}

static void
s_welcome(broker_t *self, request_t *req, session_t *session)
{
    zchat_json_t *reply = request_reply_open(req, "welcome");
    zchat_json_string(reply, "user", session_user(session));
    zchat_json_string(reply, "session", session_token(session));
    zchat_json_string(reply, "feed", self->feed_ad);
    zchat_json_string(reply, "epoch", self->epoch);
    zchat_json_int(reply, "heartbeat_ms", self->options.heartbeat_ms);
    zchat_json_array(reply, "rooms");
    for (size_t i = 0; i < session_rooms(session); i++)
        zchat_json_string(reply, NULL, room_name(session_room(session, i)));
    zchat_json_end(reply);
    request_reply(req);
}

// Take an expired session out of the list of expired ones (resumed, or forgotten).
static void
s_unexpire(broker_t *self, session_t *session)
{
    void *handle = session_expired_handle(session);
    if (handle)
        zlistx_delete(self->expired, handle);
    session_set_expired_handle(session, NULL);
}

void
login_expire(broker_t *self, session_t *session, const char *why)
{
    zsys_info("%s%s expired (%s)", session_is_observer(session) ? "observer " : "",
              *session_user(session) ? session_user(session) : "(anonymous)", why);
    for (size_t i = 0; i < session_rooms(session); i++)
        rooms_exit(self, session, i, "timeout", NULL);
    if (!session_is_observer(session))
        zhashx_delete(self->by_name, session_fold(session));
    zhashx_delete(self->by_key, session_key(session));
    session_set_expired(session, self->now);
    session_set_expired_handle(session, zlistx_add_end(self->expired, session));
}

void
login_end(broker_t *self, session_t *session, const char *reason, const char *note)
{
    while (session_rooms(session)) {
        rooms_exit(self, session, 0, reason, note);
        session_remove_room(session, session_room(session, 0));
    }
    if (session_is_live(session)) {
        if (!session_is_observer(session))
            zhashx_delete(self->by_name, session_fold(session));
        zhashx_delete(self->by_key, session_key(session));
    } else {
        s_unexpire(self, session);
    }
    zhashx_delete(self->sessions, session_token(session));  // destroys it
}

// --- Accounts: password checks and the slow-down after failures ---
//
// A password check (Argon2id, about 20 ms: account.h) runs on the loop thread, so its cost is
// bounded twice: each connection is slowed down after failures, and all connections together
// get at most LOGIN_AUTH_RATE checks per second (past that, rate_limited).
//
// The slow-down, per connection (routing id): failed checks are counted, and the count starts
// over after LOGIN_AUTH_WINDOW_MS without a failure, or after a success. From the
// LOGIN_AUTH_FREE-th failure on, the connection waits LOGIN_AUTH_DELAY_MS after each failure,
// doubled for each further one up to LOGIN_AUTH_DELAY_MAX_MS (1, 2, 4 ... 60 s); a hello that
// needs a password during the wait gets auth_failed at once, is not checked and not counted.
// The broker never sleeps: the wait is a time stamp.

#define LOGIN_AUTH_FREE         3      // failures before the waits begin
#define LOGIN_AUTH_WINDOW_MS    60000  // a quiet time after which failures are forgotten
#define LOGIN_AUTH_DELAY_MS     1000   // the first wait
#define LOGIN_AUTH_DELAY_MAX_MS 60000  // the longest wait
#define LOGIN_AUTH_RATE         10     // password hashes and checks per second, in all
#define LOGIN_AUTH_BURST        30
#define LOGIN_AUTH_PRUNE        1024  // failure records kept before stale ones are dropped

// The recent failed logins of one connection
typedef struct {
    int count;              // failures since the count last started over
    int64_t last_ms;        // when the last one was
    int64_t blocked_until;  // hellos that need a password fail unchecked until then
} s_failures_t;

static const char s_auth_failed[] = "Wrong user name or password.";

// Take a token for one password hash or check. False: too many in all just now.
static bool
s_auth_budget(broker_t *self)
{
    return limiter_take(&self->auth_budget, LOGIN_AUTH_RATE, LOGIN_AUTH_BURST, self->now);
}

// Count a failed check of the connection req came from, and start its wait when due. The log may
// say what the client is never told: whether the name has an account.
static void
s_auth_failure(broker_t *self, request_t *req, const char *user, bool known)
{
    if (zhashx_size(self->failures) > LOGIN_AUTH_PRUNE) {
        // Records are made only at the checks' bounded rate: dropping the stale ones now and
        // then keeps the table small
        zlistx_t *stale = zlistx_new();
        for (s_failures_t *f = zhashx_first(self->failures); f; f = zhashx_next(self->failures))
            if (self->now - f->last_ms > LOGIN_AUTH_WINDOW_MS && self->now >= f->blocked_until)
                zlistx_add_end(stale, (void *)zhashx_cursor(self->failures));
        for (const char *key = zlistx_first(stale); key; key = zlistx_next(stale))
            zhashx_delete(self->failures, key);
        zlistx_destroy(&stale);
    }
    s_failures_t *failures = zhashx_lookup(self->failures, req->key);
    if (!failures) {
        failures = zmalloc(sizeof(s_failures_t));
        zhashx_insert(self->failures, req->key, failures);
    }
    if (self->now - failures->last_ms > LOGIN_AUTH_WINDOW_MS)
        failures->count = 0;
    failures->count++;
    failures->last_ms = self->now;
    if (failures->count >= LOGIN_AUTH_FREE) {
        int shift = failures->count - LOGIN_AUTH_FREE;
        int64_t delay =
            shift >= 6 ? LOGIN_AUTH_DELAY_MAX_MS : (int64_t)LOGIN_AUTH_DELAY_MS << shift;
        if (delay > LOGIN_AUTH_DELAY_MAX_MS)
            delay = LOGIN_AUTH_DELAY_MAX_MS;
        failures->blocked_until = self->now + delay;
    }
    zsys_notice("login as %s refused: %s (failure %d from this connection)", user,
                known ? "wrong password" : "no such account", failures->count);
}

// The account check of a hello for user (a valid name; "" for an anonymous observer), before
// it may take the name. zchat-protocol(7) CHECK ORDER: after invalid_name, before name_taken.
static zchat_err_t
s_authenticate(broker_t *self, request_t *req, const char *user)
{
    if (self->options.accounts == OPTIONS_ACCOUNTS_OFF || !*user)
        return ZCHAT_OK;  // no accounts; an anonymous observer reserves no name
    char *hash = NULL;
    if (store_user_hash(self->store, user, &hash) == -1)
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The accounts cannot be read now: try again.");
    if (!hash && self->options.accounts == OPTIONS_ACCOUNTS_OPTIONAL)
        return ZCHAT_OK;  // a free name
    const char *password = zchat_req_string(req->msg, "password");
    s_failures_t *failures = zhashx_lookup(self->failures, req->key);
    zchat_err_t err = ZCHAT_OK;
    if (!password)
        err = ZCHAT_ERR_AUTH_FAILED;  // one is needed; no guess was made: not counted
    else if (failures && self->now < failures->blocked_until)
        err = ZCHAT_ERR_AUTH_FAILED;  // slowed down: not checked
    else if (strlen(password) > ACCOUNT_PASSWORD_MAX)
        err = ZCHAT_ERR_AUTH_FAILED;  // no account has such a password: not hashed, not recorded
    else if (!s_auth_budget(self))
        err = request_fail(req, ZCHAT_ERR_RATE_LIMITED,
                           "Too many logins are being checked just now: try again in a moment.");
    else if (!account_verify(hash, password)) {  // with no account, as slow as a wrong password
        err = ZCHAT_ERR_AUTH_FAILED;
        s_auth_failure(self, req, user, hash != NULL);
    } else
        zhashx_delete(self->failures, req->key);
    free(hash);
    if (err == ZCHAT_ERR_AUTH_FAILED)
        request_fail(req, err, "%s", s_auth_failed);  // never says which
    return err;
}

zchat_err_t
login_handle_hello(broker_t *self, request_t *req)
{
    bool observer = false;
    zchat_req_opt_bool(req->msg, "observer", &observer);
    const char *user = zchat_req_string(req->msg, "user");
    int64_t proto = -1;
    if (!zchat_req_has(req->msg, "proto"))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: proto (an integer, 1).");
    zchat_req_opt_int(req->msg, "proto", &proto);
    if (!user && !observer)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: user.");
    if (proto != ZCHAT_PROTO)
        return request_fail(req, ZCHAT_ERR_PROTO_MISMATCH,
                            "This broker speaks ZCHAT/1: send proto 1 (got %" PRId64 ").", proto);
    if (user && !zchat_name_is_user(user))
        return request_fail(req, ZCHAT_ERR_INVALID_NAME,
                            "Invalid user name: " ZCHAT_NAME_USER_RULE ".");
    if (!user)
        user = "";
    char fold[ZCHAT_NAME_MAX + 1];
    zchat_name_fold(user, fold, sizeof fold);

    // resume: a token of a live or recently expired session of the same user and kind
    session_t *session = NULL;
    const char *token = zchat_req_string(req->msg, "resume");
    if (token) {
        session = zhashx_lookup(self->sessions, token);
        if (session &&
            (!streq(session_fold(session), fold) || session_is_observer(session) != observer))
            session = NULL;
    }
    // zchat-protocol(7) SERVER LIMITS: --max-sessions. A resume makes no session, and a new one
    // may take the place of an expired one (below); when every session is live, the server is
    // full (checked before a password costs a hash)
    bool full = (long)zhashx_size(self->sessions) >= self->options.max_sessions;
    if (!session && full && zlistx_size(self->expired) == 0)
        return request_fail(req, ZCHAT_ERR_SERVER_FULL,
                            "This server holds %ld live sessions, its most: try again later.",
                            self->options.max_sessions);
    // A resume is the login it continues (the token is the proof); anything else shows its
    // password when the name needs one
    zchat_err_t err = session ? ZCHAT_OK : s_authenticate(self, req, user);
    if (err)
        return err;
    if (session && session_is_live(session)) {
        // Taken over by a new connection: the old identity now gets not_logged_in
        s_bind(self, req, session);
        zsys_info("%s resumed on a new connection", session_user(session));
        s_welcome(self, req, session);
        return ZCHAT_OK;
    }
    if (!observer && zhashx_lookup(self->by_name, fold))
        return request_fail(req, ZCHAT_ERR_NAME_TAKEN, "The name %s is in use: pick another.",
                            user);

    const char *client = zchat_req_string(req->msg, "client");
    char *safe_client = zchat_text_safe(client ? client : "unknown");
    if (session) {
        // Expired but within the grace time: back into its rooms
        session_set_expired(session, 0);
        s_unexpire(self, session);
        session_touch(session, self->now);
        s_bind(self, req, session);
        if (!observer)
            zhashx_insert(self->by_name, fold, session);
        for (size_t i = 0; i < session_rooms(session); i++)
            rooms_enter(self, session, i);
        zsys_info("%s resumed after expiry (client %s)", user, safe_client);
    } else {
        if (full) {
            // Resumable sessions are a courtesy; a login is not: the oldest expired one goes
            session_t *oldest = zlistx_first(self->expired);
            zsys_info("%s forgotten early: the server is full",
                      *session_user(oldest) ? session_user(oldest) : "(anonymous)");
            login_end(self, oldest, "timeout", NULL);
        }
        session = session_new(user, observer, self->now);
        zhashx_insert(self->sessions, session_token(session), session);
        s_bind(self, req, session);
        if (!observer) {
            zhashx_insert(self->by_name, fold, session);
            session_add_room(session, rooms_require(self, "lobby"));
            rooms_enter(self, session, 0);
        }
        zsys_info("%s%s logged in (client %s)", observer ? "observer " : "",
                  *user ? user : "(anonymous)", safe_client);
    }
    free(safe_client);
    s_welcome(self, req, session);
    return ZCHAT_OK;
}

zchat_err_t
login_handle_quit(broker_t *self, request_t *req)
{
    session_t *session = req->session;
    const char *reason;
    zchat_err_t err = request_text(req, "reason", false, 0, ZCHAT_NOTE_MAX, &reason);
    if (err)
        return err;
    request_reply_open(req, "bye");  // closed before login_end writes its events
    request_reply(req);
    zsys_info("%s%s quit", session_is_observer(session) ? "observer " : "",
              *session_user(session) ? session_user(session) : "(anonymous)");
    login_end(self, session, "quit", reason);
    return ZCHAT_OK;
}

// zchat-protocol(7) ACCOUNTS (--open-registration): make an account, then log in with hello.
zchat_err_t
login_handle_register(broker_t *self, request_t *req)
{
    if (!self->options.open_registration)
        return request_fail(req, ZCHAT_ERR_FORBIDDEN,
                            "This broker takes no registrations: ask its operator for an account.");
    const char *user = zchat_req_string(req->msg, "user");
    const char *password = zchat_req_string(req->msg, "password");
    if (!user)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: user.");
    if (!password)
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST, "Missing field: password.");
    if (!zchat_name_is_user(user))
        return request_fail(req, ZCHAT_ERR_INVALID_NAME,
                            "Invalid user name: " ZCHAT_NAME_USER_RULE ".");
    if (!account_password_is_valid(password))
        return request_fail(req, ZCHAT_ERR_BAD_REQUEST,
                            "A password is %d to %d bytes of UTF-8 without control characters.",
                            ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX);
    char *hash = NULL;
    if (store_user_hash(self->store, user, &hash) == -1)
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The accounts cannot be read now: try again.");
    if (hash) {
        free(hash);
        return request_fail(req, ZCHAT_ERR_NAME_TAKEN, "The name %s is registered: pick another.",
                            user);
    }
    if (!s_auth_budget(self))
        return request_fail(req, ZCHAT_ERR_RATE_LIMITED,
                            "Too many logins are being checked just now: try again in a moment.");
    hash = account_hash(password);
    int rc = hash ? store_user_add(self->store, user, hash, self->now) : -1;
    free(hash);
    if (rc == 1)
        return request_fail(req, ZCHAT_ERR_NAME_TAKEN, "The name %s is registered: pick another.",
                            user);
    if (rc == -1)
        return request_fail(req, ZCHAT_ERR_INTERNAL, "The account cannot be made now: try again.");
    zsys_info("%s registered", user);
    request_reply_open(req, "ok");
    request_reply(req);
    return ZCHAT_OK;
}
