// zchat_json.c - compact JSON objects written straight into one growing buffer
#include "zchat_prelude.h"
#include "zchat_json.h"
#include "zchat_msg.h"

// Room for size more bytes.
static void
s_reserve(zchat_json_t *self, size_t size)
{
    if (self->size + size > self->max) {
        self->max = (self->size + size) * 2;
        self->data = realloc(self->data, self->max);
        assert(self->data);
    }
}

static void
s_put(zchat_json_t *self, const char *bytes, size_t size)
{
    s_reserve(self, size);
    memcpy(self->data + self->size, bytes, size);
    self->size += size;
}

// Bytes a JSON string escapes, as cJSON's printer does: ", \, below 0x20, and our NUL marker.
static bool
s_needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c == (unsigned char)ZCHAT_MSG_NUL;
}

// A quoted string: plain runs are copied whole.
static void
s_quoted(zchat_json_t *self, const char *value)
{
    size_t length = strlen(value);
    s_reserve(self, length * 6 + 2);  // \u00XX at worst for each byte
    char *out = self->data + self->size;
    *out++ = '"';
    const unsigned char *p = (const unsigned char *)value;
    const unsigned char *end = p + length;
    while (p < end) {
        const unsigned char *run = p;
        while (run < end && !s_needs_escape(*run))
            run++;
        memcpy(out, p, (size_t)(run - p));
        out += run - p;
        if (run == end)
            break;
        unsigned char c = *run;
        p = run + 1;
        *out++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *out++ = (char)c;
            break;
        case '\b':
            *out++ = 'b';
            break;
        case '\f':
            *out++ = 'f';
            break;
        case '\n':
            *out++ = 'n';
            break;
        case '\r':
            *out++ = 'r';
            break;
        case '\t':
            *out++ = 't';
            break;
        default:  // another control character, or ZCHAT_MSG_NUL for \u0000
            out += sprintf(out, "u%04x", c == (unsigned char)ZCHAT_MSG_NUL ? 0 : c);
        }
    }
    *out++ = '"';
    self->size = (size_t)(out - self->data);
}

// True if the innermost container is an object (the top one included).
static bool
s_in_object(const zchat_json_t *self)
{
    return self->depth == 0 || (self->nest & 1);
}

// Begin a value: the comma before it, and its name in an object.
static void
s_key(zchat_json_t *self, const char *key)
{
    assert(self->size > self->open);             // inside an open object
    assert((key != NULL) == s_in_object(self));  // a member has a name, an element none
    if (!self->first)
        s_put(self, ",", 1);
    self->first = false;
    if (key) {
        s_quoted(self, key);
        s_put(self, ":", 1);
    }
}

static void
s_begin(zchat_json_t *self, const char *key, bool object)
{
    assert(self->depth < ZCHAT_JSON_NEST_MAX);
    s_key(self, key);
    s_put(self, object ? "{" : "[", 1);
    self->nest = self->nest << 1 | object;
    self->depth++;
    self->first = true;
}

void
zchat_json_free(zchat_json_t *self)
{
    assert(self);
    free(self->data);
    *self = (zchat_json_t){0};
}

void
zchat_json_reset(zchat_json_t *self)
{
    assert(self);
    self->size = 0;
    self->open = 0;
    self->depth = 0;
}

void
zchat_json_open(zchat_json_t *self, const char *type)
{
    assert(self && type);
    assert(self->size == self->open);  // the one before is closed: objects never interleave
    self->open = self->size;
    self->depth = 0;
    s_put(self, "{\"type\":", 8);
    s_quoted(self, type);
    self->first = false;
}

void
zchat_json_string(zchat_json_t *self, const char *key, const char *value)
{
    assert(value);
    s_key(self, key);
    s_quoted(self, value);
}

void
zchat_json_int(zchat_json_t *self, const char *key, int64_t value)
{
    s_key(self, key);
    // Digits by hand: sprintf was a tenth of writing an event (seq and ts in every one)
    char digits[20];
    size_t count = 0;
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    s_reserve(self, count + 1);
    if (value < 0)
        self->data[self->size++] = '-';
    while (count)
        self->data[self->size++] = digits[--count];
}

void
zchat_json_bool(zchat_json_t *self, const char *key, bool value)
{
    s_key(self, key);
    if (value)
        s_put(self, "true", 4);
    else
        s_put(self, "false", 5);
}

void
zchat_json_raw(zchat_json_t *self, const char *key, const char *json)
{
    assert(json);
    s_key(self, key);
    s_put(self, json, strlen(json));
}

void
zchat_json_object(zchat_json_t *self, const char *key)
{
    s_begin(self, key, true);
}

void
zchat_json_array(zchat_json_t *self, const char *key)
{
    s_begin(self, key, false);
}

void
zchat_json_end(zchat_json_t *self)
{
    assert(self && self->depth > 0);
    s_put(self, self->nest & 1 ? "}" : "]", 1);
    self->nest >>= 1;
    self->depth--;
    self->first = false;
}

size_t
zchat_json_close(zchat_json_t *self, size_t *size)
{
    assert(self && size);
    assert(self->size > self->open && self->depth == 0);  // an object open, nothing inside it
    s_put(self, "}", 2);                                  // with its NUL
    *size = self->size - 1 - self->open;
    size_t offset = self->open;
    self->open = self->size;  // none open now
    return offset;
}

void
zchat_json_cancel(zchat_json_t *self)
{
    assert(self && self->size > self->open);  // an object open
    self->size = self->open;
    self->depth = 0;
}

// --- Self-test ---

void
zchat_json_test(bool verbose)
{
    (void)verbose;
    zchat_json_t json = {0};
    // Every byte value in a string, against the tree encoder
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = 0;
    const char *texts[] = {
        "",          "plain", "q\"b\\s/", "\x01\x1f\x7f\b\f\n\r\t", "caf\xC3\xA9 \xE2\x82\xAC",
        "al\xFFice", all};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        zchat_msg_t *tree = zchat_msg_new("message");
        zchat_msg_set_string(tree, "room", "py");
        zchat_msg_set_int(tree, "seq", (int64_t)i * 1000000007);
        zchat_msg_set_int(tree, "ts", -(int64_t)i);
        zchat_msg_set_string(tree, "text", texts[i]);
        zchat_msg_set_string(tree, texts[i], "as a name");
        zchat_msg_set_bool(tree, "complete", i % 2);
        char *expect = zchat_msg_encode(tree);
        zchat_msg_destroy(&tree);

        zchat_json_open(&json, "message");
        zchat_json_string(&json, "room", "py");
        zchat_json_int(&json, "seq", (int64_t)i * 1000000007);
        zchat_json_int(&json, "ts", -(int64_t)i);
        zchat_json_string(&json, "text", texts[i]);
        zchat_json_string(&json, texts[i], "as a name");
        zchat_json_bool(&json, "complete", i % 2);
        size_t size;
        size_t offset = zchat_json_close(&json, &size);
        if (!streq(json.data + offset, expect))
            fprintf(stderr, "zchat_json: %s\n        vs %s\n", json.data + offset, expect);
        assert(streq(json.data + offset, expect) && size == strlen(expect));
        free(expect);
    }
    // Containers, against the tree encoder: a reply of each shape the broker writes
    zchat_msg_t *tree = zchat_msg_new("rooms");
    zchat_msg_set_array(tree, "rooms");
    zchat_msg_t *entry = zchat_msg_append_object(tree, "rooms");
    zchat_msg_set_string(entry, "name", "lobby");
    zchat_msg_set_int(entry, "members", 2);
    zchat_msg_set_object(entry, "empty");
    zchat_msg_append_object(tree, "rooms");
    zchat_msg_set_array(tree, "none");
    zchat_msg_append_string(tree, "members", "al\xFF");
    zchat_msg_append_string(tree, "members", "bo");
    zchat_msg_append_raw(tree, "events", "{\"seq\":1}");
    zchat_msg_append_raw(tree, "events", "[]");
    zchat_msg_t *seqs = zchat_msg_set_object(tree, "seqs");
    zchat_msg_set_int(seqs, "py", 7);
    zchat_msg_set_raw(seqs, "raw", "null");
    zchat_msg_set_bool(tree, "complete", false);
    char *expect = zchat_msg_encode(tree);
    zchat_msg_destroy(&tree);
    size_t size;
    zchat_json_open(&json, "rooms");
    zchat_json_array(&json, "rooms");
    zchat_json_object(&json, NULL);
    zchat_json_string(&json, "name", "lobby");
    zchat_json_int(&json, "members", 2);
    zchat_json_object(&json, "empty");
    zchat_json_end(&json);
    zchat_json_end(&json);
    zchat_json_object(&json, NULL);
    zchat_json_end(&json);
    zchat_json_end(&json);
    zchat_json_array(&json, "none");
    zchat_json_end(&json);
    zchat_json_array(&json, "members");
    zchat_json_string(&json, NULL, "al\xFF");
    zchat_json_string(&json, NULL, "bo");
    zchat_json_end(&json);
    zchat_json_array(&json, "events");
    zchat_json_raw(&json, NULL, "{\"seq\":1}");
    zchat_json_raw(&json, NULL, "[]");
    zchat_json_end(&json);
    zchat_json_object(&json, "seqs");
    zchat_json_int(&json, "py", 7);
    zchat_json_raw(&json, "raw", "null");
    zchat_json_end(&json);
    zchat_json_bool(&json, "complete", false);
    size_t offset = zchat_json_close(&json, &size);
    if (!streq(json.data + offset, expect))
        fprintf(stderr, "zchat_json: %s\n        vs %s\n", json.data + offset, expect);
    assert(streq(json.data + offset, expect) && size == strlen(expect));
    free(expect);
    // Elements zchat_msg cannot build: numbers, booleans, arrays in arrays
    zchat_json_open(&json, "t");
    zchat_json_array(&json, "a");
    zchat_json_int(&json, NULL, -1);
    zchat_json_bool(&json, NULL, true);
    zchat_json_array(&json, NULL);
    zchat_json_array(&json, NULL);
    zchat_json_end(&json);
    zchat_json_end(&json);
    zchat_json_object(&json, NULL);
    zchat_json_bool(&json, "k", false);
    zchat_json_end(&json);
    zchat_json_end(&json);
    offset = zchat_json_close(&json, &size);
    assert(streq(json.data + offset, "{\"type\":\"t\",\"a\":[-1,true,[[]],{\"k\":false}]}"));
    zchat_json_reset(&json);

    // Objects follow one another; offsets stay valid until the reset
    zchat_json_open(&json, "ack");
    zchat_json_int(&json, "seq", INT64_MAX);
    size_t first = zchat_json_close(&json, &size);
    zchat_json_open(&json, "n");
    zchat_json_int(&json, "min", INT64_MIN);
    zchat_json_int(&json, "zero", 0);
    zchat_json_int(&json, "neg", -7);
    size_t numbers = zchat_json_close(&json, &size);
    assert(streq(json.data + numbers,
                 "{\"type\":\"n\",\"min\":-9223372036854775808,\"zero\":0,\"neg\":-7}"));
    // A reply that fails halfway leaves nothing behind
    zchat_json_open(&json, "history");
    zchat_json_array(&json, "events");
    zchat_json_raw(&json, NULL, "{}");
    zchat_json_cancel(&json);
    zchat_json_open(&json, "pong");
    size_t third = zchat_json_close(&json, &size);
    assert(streq(json.data + first, "{\"type\":\"ack\",\"seq\":9223372036854775807}"));
    assert(streq(json.data + third, "{\"type\":\"pong\"}") && size == 15);
    assert(json.size == third + 16);
    zchat_json_reset(&json);
    assert(json.size == 0);
    zchat_json_free(&json);
    zchat_json_free(&json);
}
