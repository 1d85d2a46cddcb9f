// fuzz_request.c - libFuzzer target: one request frame through zchat_req_decode and every check
// the broker runs on it, and through zchat_msg_decode and every accessor, asserting what must
// hold for any frame
// (zchat-protocol(7) SOCKETS AND FRAMES; NAMES AND LIMITS; REQUESTS)
#include "zchat_prelude.h"
#include "zchat_msg.h"
#include "zchat_req.h"
#include "zchat_name.h"
#include "zchat_text.h"
#include "fuzz.h"

#define S_INT_LIMIT   9007199254740992.0  // 2^53: integers are JSON integers below it
#define S_MEMBERS_MAX 32                  // members walked per object: lookups are linear

static const char *s_types[] = {"hello", "join",    "leave",  "rooms", "users", "say",
                                "msg",   "history", "status", "ping",  "quit"};

#define S_TYPES (sizeof s_types / sizeof s_types[0])

// Other member names worth probing: "type", "id", a key that differs only in case.
static const char *s_probes[] = {"type", "id", "TYPE", "Type", "", "x"};

#define S_PROBES (sizeof s_probes / sizeof s_probes[0])

static void s_check_object(const zchat_msg_t *msg);

// Read member key with every accessor; they must agree on its type.
static void
s_check_member(const zchat_msg_t *msg, const char *key)
{
    const char *string = zchat_msg_string(msg, key);
    const char *s = NULL;
    int64_t n = INT64_MIN;
    bool b = false, b2 = true;
    int rs = zchat_msg_opt_string(msg, key, &s);
    int ri = zchat_msg_opt_int(msg, key, &n);
    int rb = zchat_msg_opt_bool(msg, key, &b);
    int rb2 = zchat_msg_opt_bool(msg, key, &b2);
    const zchat_msg_t *object = zchat_msg_object(msg, key);
    size_t elements = zchat_msg_array_size(msg, key);
    if (!zchat_msg_has(msg, key)) {
        // absent: every reader says "fine" and leaves the value alone
        assert(rs == 0 && ri == 0 && rb == 0 && rb2 == 0);
        assert(!string && !s && n == INT64_MIN && !b && b2 && !object && elements == 0);
        return;
    }
    assert((rs == 0) == (string != NULL));
    assert(rs == 0 ? s == string : !s);
    assert((rs == 0) + (ri == 0) + (rb == 0) <= 1);  // one value has one type
    assert(rb == rb2 && (rb == -1 || b == b2));
    if (ri == 0)
        assert(n > -S_INT_LIMIT && n < S_INT_LIMIT);
    else
        assert(n == INT64_MIN);
    assert(!(object && (string || elements)));
    if (string)
        fuzz_check_string(string);
    if (object)
        s_check_object(object);
    for (size_t i = 0; i < elements && i < S_MEMBERS_MAX; i++) {
        const zchat_msg_t *element = zchat_msg_array_object(msg, key, i);
        const char *text = zchat_msg_array_string(msg, key, i);
        assert(!(element && text));
        if (text)
            fuzz_check_string(text);
        if (element)
            s_check_object(element);
    }
    if (elements <= S_MEMBERS_MAX)
        assert(!zchat_msg_array_object(msg, key, elements) &&
               !zchat_msg_array_string(msg, key, elements));
}

// Walk an object: its first members, and the names the protocol knows.
static void
s_check_object(const zchat_msg_t *msg)
{
    for (size_t i = 0; i < S_MEMBERS_MAX; i++) {
        const char *key = zchat_msg_member(msg, i);
        if (!key)
            break;
        fuzz_check_string(key);  // a member name is UTF-8 without NUL too
        assert(zchat_msg_has(msg, key));
        s_check_member(msg, key);
    }
}

// The members the protocol knows, and a few probes, through every accessor.
static void
s_check_known(const zchat_msg_t *msg)
{
    for (size_t i = 0; i < fuzz_fields_size; i++)
        s_check_member(msg, fuzz_fields[i].name);
    for (size_t i = 0; i < S_PROBES; i++)
        s_check_member(msg, s_probes[i]);
}

// Run what the broker runs on a decoded request (broker.c s_handle) and check the field rules
// against the table above.
static void
s_check_request(const zchat_req_t *req)
{
    const char *id = zchat_req_id(req);
    if (id) {
        size_t len = strlen(id);
        assert(len >= 1 && len <= ZCHAT_ID_MAX);
        assert(id == zchat_req_string(req, "id"));
    }
    const char *type = zchat_req_type(req);
    assert(type == zchat_req_string(req, "type"));
    if (!type)
        return;  // bad_request
    bool known = zchat_req_is_type(type);
    bool in_protocol = false;
    for (size_t i = 0; i < S_TYPES; i++)
        in_protocol = in_protocol || streq(type, s_types[i]);
    assert(known || !in_protocol);  // shared/ may know extensions (register), not lose a type

    bool ok = zchat_req_fields_ok(req);
    if (!known) {
        assert(!ok);
        return;  // unknown_type
    }
    if (ok)
        assert(!zchat_req_has(req, "id") || id);
    if (!in_protocol)
        return;
    bool expect = !zchat_req_has(req, "id") || id;
    for (size_t i = 0; i < fuzz_fields_size; i++) {
        const fuzz_field_t *f = &fuzz_fields[i];
        if (!streq(type, f->type))
            continue;
        const char *s;
        int64_t n;
        bool b;
        int rc = f->kind == FUZZ_STRING ? zchat_req_opt_string(req, f->name, &s)
                 : f->kind == FUZZ_INT  ? zchat_req_opt_int(req, f->name, &n)
                                        : zchat_req_opt_bool(req, f->name, &b);
        expect = expect && rc == 0;
    }
    assert(ok == expect);
}

// Encode, decode the result, encode again: the reply path must produce frames our own strict
// decoder takes, and the integers a handler read must survive.
static void
s_check_round_trip(const zchat_msg_t *msg)
{
    char *json = zchat_msg_encode(msg);
    assert(json);
    size_t len = strlen(json);
    assert(zchat_text_is_utf8(json, len));
    const char *reason = NULL;
    zchat_msg_t *back = zchat_msg_decode(json, len, &reason);
    if (!back)
        fprintf(stderr, "fuzz_request: re-encoded message refused (%s): %.200s\n", reason, json);
    assert(back);
    char *again = zchat_msg_encode(back);
    if (!streq(again, json))
        fprintf(stderr, "fuzz_request: encoding is not stable:\n%.200s\n%.200s\n", json, again);
    assert(streq(again, json));

    const char *type = zchat_msg_type(msg), *type_back = zchat_msg_type(back);
    assert(type ? type_back && streq(type, type_back) : !type_back);
    for (size_t i = 0; i < S_MEMBERS_MAX; i++) {
        const char *key = zchat_msg_member(msg, i);
        if (!key)
            break;
        assert(streq(zchat_msg_member(back, i), key));
        int64_t n = 0, n_back = 0;
        if (zchat_msg_has(msg, key) && zchat_msg_opt_int(msg, key, &n) == 0) {
            if (zchat_msg_opt_int(back, key, &n_back) != 0 || n != n_back)
                fprintf(stderr, "fuzz_request: integer %s: %" PRId64 " encodes as %.200s\n", key, n,
                        json);
            assert(zchat_msg_opt_int(back, key, &n_back) == 0 && n_back == n);
        }
    }
    zchat_msg_destroy(&back);
    free(again);
    free(json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *frame = (const char *)data;
    const char *reason = NULL;
    if (size == 0) {
        // zchat_msg_decode takes (NULL, 0): what an empty frame may give
        assert(!zchat_msg_decode(NULL, 0, &reason) && reason);
        reason = NULL;
    }
    // The broker's decoder (fuzz_diff.c holds the two to the same verdict and values)
    static zchat_req_t *req;  // reused, as the broker does: stale state must never show
    if (!req)
        req = zchat_req_new();
    if (zchat_req_decode(req, frame, size, &reason) == 0)
        s_check_request(req);
    else
        assert(reason && *reason && !zchat_req_has(req, "type"));

    // The clients' decoder
    zchat_msg_t *msg = zchat_msg_decode(frame, size, &reason);
    if (!msg) {
        assert(reason && *reason);  // the bad_json message needs a reason
        // "invalid JSON" means the strict scan passed a frame cJSON then refused: the scan must
        // accept a subset of what cJSON parses, or a valid frame gets a misleading error
        if (streq(reason, "invalid JSON"))
            fprintf(stderr, "fuzz_request: scan and cJSON disagree on %.*s\n",
                    (int)(size < 200 ? size : 200), frame);
        assert(!streq(reason, "invalid JSON"));
        return 0;
    }
    assert(zchat_text_is_utf8(frame, size));  // only well-formed UTF-8 decodes

    s_check_known(msg);
    s_check_object(msg);
    s_check_round_trip(msg);
    zchat_msg_destroy(&msg);
    assert(!msg);
    return 0;
}
