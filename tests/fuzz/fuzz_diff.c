// fuzz_diff.c - libFuzzer target: the broker's hand-written JSON paths against the cJSON ones
// (zchat-protocol(7) SOCKETS AND FRAMES; REQUESTS)
//
// The broker reads requests with zchat_req and writes with zchat_json, for speed (bench/README.md
// gives the figures); clients read and write with zchat_msg, on cJSON. The same bytes go to both
// decoders, which must give the same verdict and reason, and read every member alike; the same
// bytes, read as a list of members, go to both encoders, which must write the same text.
#include "zchat_prelude.h"
#include "zchat_json.h"
#include "zchat_msg.h"
#include "zchat_req.h"
#include "zchat_text.h"
#include "fuzz.h"

#define S_MEMBERS_MAX 64  // members compared per frame: lookups are linear
#define S_OPS_MAX     64  // members, elements and ends built per input: lookups are linear
#define S_NEST_MAX    8   // containers open at once (zchat_json takes ZCHAT_JSON_NEST_MAX)
#define S_STRING_MAX  80  // bytes of one string, name or raw text

// --- The decoders ---

// Names the broker reads besides the fields, and names that differ from them only in case.
static const char *s_probes[] = {"type", "id", "TYPE", "Type", "ID", "", "x"};

#define S_PROBES (sizeof s_probes / sizeof s_probes[0])

// The request's id as zchat_req_id reads it (a string of 1..ZCHAT_ID_MAX bytes), from the tree.
static const char *
s_msg_id(const zchat_msg_t *msg)
{
    const char *id = zchat_msg_string(msg, "id");
    return id && *id && strlen(id) <= ZCHAT_ID_MAX ? id : NULL;
}

static bool
s_same_string(const char *a, const char *b)
{
    return a ? b && streq(a, b) : !b;
}

// Member key read through every accessor of both: presence, type, value.
static void
s_agree_member(const zchat_msg_t *msg, const zchat_req_t *req, const char *key)
{
    assert(zchat_msg_has(msg, key) == zchat_req_has(req, key));
    assert(s_same_string(zchat_msg_string(msg, key), zchat_req_string(req, key)));
    const char *s1 = NULL, *s2 = NULL;
    int64_t n1 = 0, n2 = 0;
    bool b1 = false, b2 = false;
    assert(zchat_msg_opt_string(msg, key, &s1) == zchat_req_opt_string(req, key, &s2));
    assert(s_same_string(s1, s2));
    assert(zchat_msg_opt_int(msg, key, &n1) == zchat_req_opt_int(req, key, &n2) && n1 == n2);
    assert(zchat_msg_opt_bool(msg, key, &b1) == zchat_req_opt_bool(req, key, &b2) && b1 == b2);
}

static void
s_check_decoders(const char *frame, size_t size)
{
    static zchat_req_t *req;  // reused, as the broker does: stale state must never show
    if (!req)
        req = zchat_req_new();
    const char *tree_reason = NULL, *flat_reason = NULL;
    zchat_msg_t *msg = zchat_msg_decode(frame, size, &tree_reason);
    int rc = zchat_req_decode(req, frame, size, &flat_reason);
    if ((rc == 0) != (msg != NULL) || (!msg && !streq(tree_reason, flat_reason)))
        fprintf(stderr, "fuzz_diff: the decoders disagree (%s / %s) on %.*s\n",
                msg ? "ok" : tree_reason, rc == 0 ? "ok" : flat_reason,
                (int)(size < 200 ? size : 200), frame);
    assert((rc == 0) == (msg != NULL));
    if (!msg) {
        assert(streq(tree_reason, flat_reason));
        return;
    }
    assert(s_same_string(zchat_msg_type(msg), zchat_req_type(req)));
    assert(s_same_string(s_msg_id(msg), zchat_req_id(req)));
    for (size_t i = 0; i < S_MEMBERS_MAX && zchat_msg_member(msg, i); i++)
        s_agree_member(msg, req, zchat_msg_member(msg, i));
    for (size_t i = 0; i < fuzz_fields_size; i++)
        s_agree_member(msg, req, fuzz_fields[i].name);
    for (size_t i = 0; i < S_PROBES; i++)
        s_agree_member(msg, req, s_probes[i]);
    zchat_msg_destroy(&msg);
}

// --- The encoders ---

// The input read as a stream of choices; past its end every read gives zeros.
typedef struct {
    const uint8_t *pos;
    const uint8_t *end;
} s_input_t;

static uint8_t
s_byte(s_input_t *in)
{
    return in->pos < in->end ? *in->pos++ : 0;
}

static bool
s_more(const s_input_t *in)
{
    return in->pos < in->end;
}

// A string of up to S_STRING_MAX bytes from the input, as the broker may hold one: any byte
// (control characters, non-ASCII, invalid UTF-8), a NUL read as ZCHAT_MSG_NUL. A raw text is
// UTF-8 JSON, so it never holds that byte: raw turns it into a space.
static void
s_string(s_input_t *in, char *out, bool raw)
{
    size_t len = s_byte(in) % (S_STRING_MAX + 1);
    for (size_t i = 0; i < len; i++) {
        char c = (char)s_byte(in);
        if (c == 0)
            c = ZCHAT_MSG_NUL;
        if (raw && c == ZCHAT_MSG_NUL)
            c = ' ';
        out[i] = c;
    }
    out[len] = 0;
}

// Integers at the edges: of the digits, of 2^53 (JSON's safe integers), of int64_t.
// clang-format off
static const int64_t s_edges[] = {
    0, 1, -1, 9, 10, -10, 999999999999999, 1000000000000000, 9007199254740991, 9007199254740992,
    -9007199254740992, INT64_MAX, INT64_MIN, -INT64_MAX};
// clang-format on

#define S_EDGES (sizeof s_edges / sizeof s_edges[0])

static int64_t
s_int(s_input_t *in)
{
    uint8_t how = s_byte(in);
    if (how % 3 == 0)
        return s_edges[how / 3 % S_EDGES];
    if (how % 3 == 1)
        return (int8_t)s_byte(in);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n = n << 8 | s_byte(in);
    return (int64_t)n;
}

// One open container, as each encoder addresses it.
typedef struct {
    zchat_msg_t *object;         // an object: itself; an array: the object that holds it
    char key[S_STRING_MAX + 8];  // an array: its name in that object
    bool is_array;
} s_level_t;

// Make key a name not yet used in object (zchat_msg would replace that member).
static void
s_unique(const zchat_msg_t *object, char *key)
{
    size_t len = strlen(key);
    for (unsigned n = 0; zchat_msg_has(object, key); n++)
        snprintf(key + len, 8, "~%u", n % 1000);  // S_OPS_MAX names at most
}

// Clear *plain unless text reads back from JSON as it is: valid UTF-8, where a value (not a
// name) may hold ZCHAT_MSG_NUL, written as \u0000.
static void
s_note_text(bool *plain, const char *text, bool is_name)
{
    char *check = strdup(text);
    assert(check);
    for (char *p = check; *p; p++)
        if (*p == ZCHAT_MSG_NUL && !is_name)
            *p = 'x';
    *plain = *plain && zchat_text_is_utf8(check, strlen(check));
    free(check);
}

static void
s_check_encoders(const uint8_t *data, size_t size)
{
    static zchat_json_t json;  // reused, as the broker does
    s_input_t in = {data, data + size};
    char key[S_STRING_MAX + 8], value[S_STRING_MAX + 1];
    s_string(&in, value, false);
    zchat_msg_t *tree = zchat_msg_new(value);
    zchat_json_open(&json, value);
    // Unless a raw text or a string that is not UTF-8 went in, the message is valid JSON, and the
    // last top-level string reads back as it was written
    bool plain = true;
    s_note_text(&plain, value, false);
    char last_key[S_STRING_MAX + 8] = "type", last_value[S_STRING_MAX + 1];
    snprintf(last_value, sizeof last_value, "%s", value);

    s_level_t levels[S_NEST_MAX + 1];
    size_t depth = 0;
    levels[0] = (s_level_t){.object = tree};
    for (int op = 0; op < S_OPS_MAX && s_more(&in); op++) {
        s_level_t *level = &levels[depth];
        uint8_t what = s_byte(&in) % 8;
        if (what == 7) {
            if (depth == 0)
                continue;
            zchat_json_end(&json);
            depth--;
            continue;
        }
        if (level->is_array) {
            // zchat_msg builds arrays of strings, raw texts and objects
            if (what % 3 == 0) {
                s_string(&in, value, false);
                zchat_json_string(&json, NULL, value);
                zchat_msg_append_string(level->object, level->key, value);
                s_note_text(&plain, value, false);
            } else if (what % 3 == 1) {
                s_string(&in, value, true);
                zchat_json_raw(&json, NULL, value);
                zchat_msg_append_raw(level->object, level->key, value);
                plain = false;  // any text: the message need not be JSON
            } else if (depth < S_NEST_MAX) {
                zchat_json_object(&json, NULL);
                levels[++depth] =
                    (s_level_t){.object = zchat_msg_append_object(level->object, level->key)};
            }
            continue;
        }
        s_string(&in, key, false);
        s_unique(level->object, key);
        s_note_text(&plain, key, true);
        switch (what) {
        case 0:
        case 1:
            s_string(&in, value, false);
            zchat_json_string(&json, key, value);
            zchat_msg_set_string(level->object, key, value);
            s_note_text(&plain, value, false);
            if (depth == 0) {
                snprintf(last_key, sizeof last_key, "%s", key);
                snprintf(last_value, sizeof last_value, "%s", value);
            }
            break;
        case 2: {
            int64_t n = s_int(&in);
            zchat_json_int(&json, key, n);
            zchat_msg_set_int(level->object, key, n);
            break;
        }
        case 3: {
            bool b = s_byte(&in) & 1;
            zchat_json_bool(&json, key, b);
            zchat_msg_set_bool(level->object, key, b);
            break;
        }
        case 4:
            s_string(&in, value, true);
            zchat_json_raw(&json, key, value);
            zchat_msg_set_raw(level->object, key, value);
            plain = false;  // any text: the message need not be JSON
            break;
        case 5:
            if (depth < S_NEST_MAX) {
                zchat_json_object(&json, key);
                levels[++depth] = (s_level_t){.object = zchat_msg_set_object(level->object, key)};
            }
            break;
        default:
            if (depth < S_NEST_MAX) {
                zchat_json_array(&json, key);
                zchat_msg_set_array(level->object, key);
                s_level_t *array = &levels[++depth];
                array->object = level->object;
                snprintf(array->key, sizeof array->key, "%s", key);
                array->is_array = true;
            }
        }
    }
    for (; depth > 0; depth--)
        zchat_json_end(&json);

    size_t json_size;
    size_t offset = zchat_json_close(&json, &json_size);
    const char *written = json.data + offset;
    char *expect = zchat_msg_encode(tree);
    zchat_msg_destroy(&tree);
    if (!streq(written, expect))
        fprintf(stderr, "fuzz_diff: the encoders disagree:\n%.300s\n%.300s\n", written, expect);
    assert(streq(written, expect) && json_size == strlen(expect));
    free(expect);
    if (plain) {
        const char *reason = NULL;
        zchat_msg_t *back = zchat_msg_decode(written, json_size, &reason);
        if (!back)
            fprintf(stderr, "fuzz_diff: written, then refused (%s): %.300s\n", reason, written);
        assert(back && s_same_string(zchat_msg_string(back, last_key), last_value));
        zchat_msg_destroy(&back);
    }
    zchat_json_reset(&json);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_check_decoders((const char *)data, size);
    s_check_encoders(data, size);
    return 0;
}
