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

static void
s_key(zchat_json_t *self, const char *key)
{
    assert(self->size > self->open);  // inside an open object
    s_put(self, ",", 1);
    s_quoted(self, key);
    s_put(self, ":", 1);
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
}

void
zchat_json_open(zchat_json_t *self, const char *type)
{
    assert(self && type);
    self->open = self->size;
    s_put(self, "{\"type\":", 8);
    s_quoted(self, type);
}

void
zchat_json_string(zchat_json_t *self, const char *key, const char *value)
{
    assert(key && value);
    s_key(self, key);
    s_quoted(self, value);
}

void
zchat_json_int(zchat_json_t *self, const char *key, int64_t value)
{
    assert(key);
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
    assert(key);
    s_key(self, key);
    if (value)
        s_put(self, "true", 4);
    else
        s_put(self, "false", 5);
}

size_t
zchat_json_close(zchat_json_t *self, size_t *size)
{
    assert(self && size);
    s_put(self, "}", 2);  // with its NUL
    *size = self->size - 1 - self->open;
    return self->open;
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
    // Objects follow one another; offsets stay valid until the reset
    size_t size;
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
    zchat_json_open(&json, "pong");
    size_t third = zchat_json_close(&json, &size);
    assert(streq(json.data + first, "{\"type\":\"ack\",\"seq\":9223372036854775807}"));
    assert(streq(json.data + third, "{\"type\":\"pong\"}") && size == 15);
    zchat_json_reset(&json);
    assert(json.size == 0);
    zchat_json_free(&json);
    zchat_json_free(&json);
}
