// fuzz.c - what the fuzz targets share: the request fields (zchat-protocol(7) REQUESTS), and the
// name and text rules (zchat-protocol(7) NAMES AND LIMITS) checked against references written out
// here from the protocol, not from shared/
#include "zchat_prelude.h"
#include "zchat_name.h"
#include "zchat_text.h"
#include "fuzz.h"

const fuzz_field_t fuzz_fields[] = {
    {"hello", "user", FUZZ_STRING},     {"hello", "proto", FUZZ_INT},
    {"hello", "password", FUZZ_STRING}, {"hello", "resume", FUZZ_STRING},
    {"hello", "client", FUZZ_STRING},   {"hello", "observer", FUZZ_BOOL},
    {"join", "room", FUZZ_STRING},      {"leave", "room", FUZZ_STRING},
    {"users", "room", FUZZ_STRING},     {"say", "room", FUZZ_STRING},
    {"say", "text", FUZZ_STRING},       {"msg", "to", FUZZ_STRING},
    {"msg", "text", FUZZ_STRING},       {"history", "room", FUZZ_STRING},
    {"history", "since", FUZZ_INT},     {"history", "limit", FUZZ_INT},
    {"status", "status", FUZZ_STRING},  {"status", "note", FUZZ_STRING},
    {"quit", "reason", FUZZ_STRING},
};

const size_t fuzz_fields_size = sizeof fuzz_fields / sizeof fuzz_fields[0];

size_t
fuzz_utf8_decode(const uint8_t *data, size_t size, uint32_t *codepoint)
{
    assert(data && size > 0 && codepoint);
    uint8_t b = data[0];
    if (b < 0x80) {
        *codepoint = b;
        return 1;
    }
    size_t len;
    uint8_t low = 0x80, high = 0xBF;  // the range of the second byte
    if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3, low = b == 0xE0 ? 0xA0 : 0x80, high = b == 0xED ? 0x9F : 0xBF;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4, low = b == 0xF0 ? 0x90 : 0x80, high = b == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (size < len || data[1] < low || data[1] > high)
        return 0;
    uint32_t cp = b & (0xFF >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if (i > 1 && (data[i] < 0x80 || data[i] > 0xBF))
            return 0;
        cp = cp << 6 | (data[i] & 0x3F);
    }
    *codepoint = cp;
    return len;
}

bool
fuzz_has_control(const char *text)
{
    assert(text);
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; s[i]; i++) {
        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7F)
            return true;
        if (s[i] == 0xC2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)  // U+0080-U+009F
            return true;
    }
    return false;
}

bool
fuzz_has_bidi(const char *text)
{
    assert(text);
    const uint8_t *s = (const uint8_t *)text;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == 0xD8 && s[i + 1] == 0x9C)  // U+061C ARABIC LETTER MARK
            return true;
        if (s[i] != 0xE2 || !s[i + 1])
            continue;
        if (s[i + 1] == 0x80 && (s[i + 2] == 0x8E || s[i + 2] == 0x8F))  // U+200E, U+200F
            return true;
        if (s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))  // U+2028, U+2029
            return true;
        if (s[i + 1] == 0x80 && s[i + 2] >= 0xAA && s[i + 2] <= 0xAE)  // U+202A-U+202E
            return true;
        if (s[i + 1] == 0x81 && s[i + 2] >= 0xA6 && s[i + 2] <= 0xA9)  // U+2066-U+2069
            return true;
    }
    return false;
}

static bool
s_is_utf8(const char *text)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t size = strlen(text);
    uint32_t cp;
    for (size_t pos = 0, len; pos < size; pos += len)
        if ((len = fuzz_utf8_decode(s + pos, size - pos, &cp)) == 0)
            return false;
    return true;
}

// ^[A-Za-z][A-Za-z0-9_-]{0,31}$
static bool
s_is_user(const char *name)
{
    size_t len = strlen(name);
    if (len < 1 || len > ZCHAT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        bool other = (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!(alpha || (i > 0 && other)))
            return false;
    }
    return true;
}

// One leading '#' stripped, lower-cased, then ^[a-z0-9][a-z0-9_-]{0,31}$; false if invalid.
static bool
s_room(const char *input, char *room)
{
    if (input[0] == '#')
        input++;
    size_t len = strlen(input);
    if (len < 1 || len > ZCHAT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = input[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        bool first = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!(first || (i > 0 && (c == '_' || c == '-'))))
            return false;
        room[i] = c;
    }
    room[len] = 0;
    return true;
}

static void
s_check_names(const char *text)
{
    bool user = zchat_name_is_user(text);
    assert(user == s_is_user(text));

    char fold[ZCHAT_NAME_MAX + 1];
    size_t len = strlen(text);
    int rc = zchat_name_fold(text, fold, sizeof fold);
    assert(rc == (len < sizeof fold ? 0 : -1));
    if (rc == 0) {
        assert(strlen(fold) == len);
        for (size_t i = 0; i < len; i++) {
            char c = text[i];
            assert(fold[i] == (c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c));
        }
        assert(zchat_name_is_user(fold) == user);  // folding keeps a name a name
    }
    assert(!user || rc == 0);

    char room[ZCHAT_NAME_MAX + 1], expect[ZCHAT_NAME_MAX + 1];
    memset(room, 0x55, sizeof room);
    rc = zchat_name_room(text, room, sizeof room);
    assert((rc == 0) == s_room(text, expect));
    if (rc == 0) {
        assert(streq(room, expect));
        char again[ZCHAT_NAME_MAX + 1];
        assert(zchat_name_room(room, again, sizeof again) == 0 && streq(again, room));
        assert(zchat_text_is_valid(room, 1, ZCHAT_NAME_MAX));  // printable as it is
    }
    // a buffer one byte short of the canonical name is refused, not overrun (ASan watches)
    if (rc == 0) {
        size_t short_size = strlen(room);
        char *tight = malloc(short_size);
        assert(tight);
        assert(zchat_name_room(text, tight, short_size) == -1);
        free(tight);
    }
}

static void
s_check_safe(const char *text)
{
    char *safe = zchat_text_safe(text);
    assert(safe);
    size_t len = strlen(safe);
    assert(len <= 3 * strlen(text));
    // what reaches a terminal: valid UTF-8, no byte < 0x20 but TAB, no DEL, no C1, no bidi
    assert(zchat_text_is_utf8(safe, len) && s_is_utf8(safe));
    assert(!fuzz_has_control(safe));
    assert(!fuzz_has_bidi(safe));
    char *again = zchat_text_safe(safe);
    assert(streq(again, safe));  // idempotent: safe text is left alone
    free(again);
    // valid text without bidi controls passes unchanged
    if (zchat_text_is_valid(text, 0, SIZE_MAX) && !fuzz_has_bidi(text))
        assert(streq(safe, text));
    free(safe);
}

void
fuzz_check_string(const char *text)
{
    assert(text);
    size_t len = strlen(text);
    bool utf8 = s_is_utf8(text);
    assert(zchat_text_is_utf8(text, len) == utf8);

    bool valid = zchat_text_is_valid(text, 0, SIZE_MAX);
    assert(valid == (utf8 && !fuzz_has_control(text)));
    assert(zchat_text_is_valid(text, 1, ZCHAT_TEXT_MAX) == (valid && len >= 1 && len <= 4096));
    assert(zchat_text_is_valid(text, 0, ZCHAT_NOTE_MAX) == (valid && len <= ZCHAT_NOTE_MAX));
    assert(!zchat_text_is_valid(text, len + 1, SIZE_MAX));
    if (len > 0)
        assert(!zchat_text_is_valid(text, 0, len - 1));

    s_check_names(text);
    s_check_safe(text);
}
