// zchat_scan.c - the strict RFC 8259 scan every incoming frame goes through first
#include "zchat_prelude.h"
#include "zchat_msg.h"
#include "zchat_scan.h"
#include "zchat_text.h"

static bool s_scan_value(zchat_scan_t *scan, int depth);

static void
s_note(zchat_scan_t *scan, size_t length, bool is_number)
{
    if (!scan->keep_notes)
        return;
    if (scan->notes_size == scan->notes_max) {
        scan->notes_max = scan->notes_max ? scan->notes_max * 2 : 8;
        scan->notes = realloc(scan->notes, scan->notes_max * sizeof(zchat_scan_note_t));
        assert(scan->notes);
    }
    scan->notes[scan->notes_size++] = (zchat_scan_note_t){scan->values, length, is_number};
}

static bool
s_fail(zchat_scan_t *scan, const char *error)
{
    if (!scan->error)
        scan->error = error;
    return false;
}

static void
s_skip_space(zchat_scan_t *scan)
{
    while (scan->pos < scan->end &&
           (*scan->pos == ' ' || *scan->pos == '\t' || *scan->pos == '\n' || *scan->pos == '\r'))
        scan->pos++;
}

static int
s_hex4(const char *p)
{
    int value = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

// Scan a string at pos (on the opening quote). is_key: a member name, where NUL is refused.
static bool
s_scan_string(zchat_scan_t *scan, bool is_key)
{
    scan->pos++;  // opening quote
    size_t length = 0;
    bool has_nul = false;
    while (true) {
        if (scan->pos >= scan->end)
            return s_fail(scan, "unterminated string");
        unsigned char c = (unsigned char)*scan->pos;
        if (c == '"') {
            scan->pos++;
            break;
        }
        if (c < 0x20)
            return s_fail(scan, "raw control character in a string");
        if (c == '\\') {
            if (scan->end - scan->pos < 2)
                return s_fail(scan, "unterminated string");
            char e = scan->pos[1];
            if (e == 'u') {
                if (scan->end - scan->pos < 6)
                    return s_fail(scan, "bad \\u escape");
                int unit = s_hex4(scan->pos + 2);
                if (unit < 0)
                    return s_fail(scan, "bad \\u escape");
                scan->pos += 6;
                if (unit >= 0xDC00 && unit <= 0xDFFF)
                    return s_fail(scan, "lone low surrogate escape");
                if (unit >= 0xD800 && unit <= 0xDBFF) {
                    int low = -1;
                    if (scan->end - scan->pos >= 6 && scan->pos[0] == '\\' && scan->pos[1] == 'u')
                        low = s_hex4(scan->pos + 2);
                    if (low < 0xDC00 || low > 0xDFFF)
                        return s_fail(scan, "lone high surrogate escape");
                    scan->pos += 6;
                    length += 4;
                } else {
                    if (unit == 0)
                        has_nul = true;
                    length += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return s_fail(scan, "bad escape in a string");
            scan->pos += 2;
            length++;
            continue;
        }
        if (c < 0x80) {
            // A run of plain ASCII (no quote, backslash or control) in one tight loop: most of
            // a chat text is, and each such byte is a whole character to count and pass over
            const char *run = scan->pos + 1;
            while (run < scan->end && (unsigned char)*run >= 0x20 && (unsigned char)*run < 0x80 &&
                   *run != '"' && *run != '\\')
                run++;
            length += (size_t)(run - scan->pos);
            scan->pos = run;
            continue;
        }
        uint32_t cp;
        size_t len = zchat_text_decode(scan->pos, (size_t)(scan->end - scan->pos), &cp);
        if (len == 0)
            return s_fail(scan, "invalid UTF-8");
        scan->pos += len;
        length += len;
    }
    if (is_key) {
        if (has_nul)
            return s_fail(scan, "member name contains U+0000");
        return true;
    }
    if (has_nul)
        s_note(scan, length, false);
    scan->values++;
    return true;
}

static bool
s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
s_scan_number(zchat_scan_t *scan)
{
    const char *p = scan->pos;
    const char *end = scan->end;
    bool integer = true;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && s_is_digit(*p))
            p++;
    else
        return s_fail(scan, "bad number");
    if (p < end && *p == '.') {
        integer = false;
        p++;
        if (!(p < end && s_is_digit(*p)))
            return s_fail(scan, "bad number");
        while (p < end && s_is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integer = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!(p < end && s_is_digit(*p)))
            return s_fail(scan, "bad number");
        while (p < end && s_is_digit(*p))
            p++;
    }
    scan->pos = p;
    if (!integer)
        s_note(scan, 0, true);
    scan->values++;
    return true;
}

static bool
s_scan_literal(zchat_scan_t *scan, const char *word)
{
    size_t len = strlen(word);
    if ((size_t)(scan->end - scan->pos) < len || memcmp(scan->pos, word, len) != 0)
        return s_fail(scan, "unexpected character");
    scan->pos += len;
    return true;
}

// Scan an object or an array at pos (on '{' or '[').
static bool
s_scan_container(zchat_scan_t *scan, int depth)
{
    if (depth > ZCHAT_JSON_DEPTH_MAX)
        return s_fail(scan, "nested too deeply");
    bool object = *scan->pos == '{';
    char close = object ? '}' : ']';
    scan->objects += object;
    const char *key = NULL;
    size_t key_size = 0;
    scan->pos++;
    s_skip_space(scan);
    if (scan->pos < scan->end && *scan->pos == close) {
        scan->pos++;
        return true;
    }
    while (true) {
        if (object) {
            s_skip_space(scan);
            if (!(scan->pos < scan->end && *scan->pos == '"'))
                return s_fail(scan, "expected a member name");
            key = scan->pos + 1;
            if (!s_scan_string(scan, true))
                return false;
            key_size = (size_t)(scan->pos - 1 - key);
            s_skip_space(scan);
            if (!(scan->pos < scan->end && *scan->pos == ':'))
                return s_fail(scan, "expected ':'");
            scan->pos++;
            s_skip_space(scan);
        }
        const char *value = scan->pos;
        if (!s_scan_value(scan, depth))
            return false;
        if (object && depth == 1 && scan->on_member) {
            zchat_scan_member_t member = {key, key_size, value, (size_t)(scan->pos - value)};
            scan->on_member(scan->arg, &member);
        }
        s_skip_space(scan);
        if (scan->pos < scan->end && *scan->pos == ',') {
            scan->pos++;
            continue;
        }
        if (scan->pos < scan->end && *scan->pos == close) {
            scan->pos++;
            return true;
        }
        return s_fail(scan, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool
s_scan_value(zchat_scan_t *scan, int depth)
{
    s_skip_space(scan);
    if (scan->pos >= scan->end)
        return s_fail(scan, "unexpected end");
    switch (*scan->pos) {
    case '{':
    case '[':
        return s_scan_container(scan, depth + 1);
    case '"':
        return s_scan_string(scan, false);
    case 't':
        return s_scan_literal(scan, "true");
    case 'f':
        return s_scan_literal(scan, "false");
    case 'n':
        return s_scan_literal(scan, "null");
    default:
        return s_scan_number(scan);
    }
}

// Write code point cp as UTF-8; returns the end.
static char *
s_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80)
        *out++ = (char)cp;
    else if (cp < 0x800) {
        *out++ = (char)(0xC0 | cp >> 6);
        *out++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out++ = (char)(0xE0 | cp >> 12);
        *out++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *out++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *out++ = (char)(0xF0 | cp >> 18);
        *out++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *out++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *out++ = (char)(0x80 | (cp & 0x3F));
    }
    return out;
}

size_t
zchat_scan_unescape(const char *string, size_t size, char *out)
{
    assert(string || size == 0);
    const char *p = string;
    const char *end = p + size;
    char *start = out;
    while (p < end) {
        const char *escape = memchr(p, '\\', (size_t)(end - p));
        if (!escape) {
            memcpy(out, p, (size_t)(end - p));
            out += end - p;
            break;
        }
        memcpy(out, p, (size_t)(escape - p));
        out += escape - p;
        p = escape + 2;
        switch (escape[1]) {
        case 'b':
            *out++ = '\b';
            break;
        case 'f':
            *out++ = '\f';
            break;
        case 'n':
            *out++ = '\n';
            break;
        case 'r':
            *out++ = '\r';
            break;
        case 't':
            *out++ = '\t';
            break;
        case 'u': {
            uint32_t cp = (uint32_t)s_hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {  // the scan saw its low half follow
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)s_hex4(p + 2) - 0xDC00);
                p += 6;
            }
            if (cp == 0)
                *out++ = ZCHAT_MSG_NUL;
            else
                out = s_utf8(out, cp);
            break;
        }
        default:  // " \ /
            *out++ = escape[1];
        }
    }
    *out = 0;
    return (size_t)(out - start);
}

bool
zchat_scan_frame(zchat_scan_t *scan, const char *data, size_t size)
{
    assert(scan && (data || size == 0));
    if (size == 0)
        return s_fail(scan, "the frame is empty");  // and data may be NULL: NULL + 0 is UB
    scan->pos = data;
    scan->end = data + size;
    s_skip_space(scan);
    if (scan->pos == scan->end)
        return s_fail(scan, "the frame holds only white space");
    if (*scan->pos != '{') {
        // still tell invalid JSON apart from a valid non-object, for the message only
        if (s_scan_value(scan, 0)) {
            s_skip_space(scan);
            return s_fail(scan, scan->pos != scan->end ? "trailing characters after the JSON value"
                                                       : "the JSON value is not an object");
        }
        return false;
    }
    if (!s_scan_value(scan, 0))
        return false;
    s_skip_space(scan);
    if (scan->pos != scan->end)
        return s_fail(scan, "trailing characters after the JSON value");
    return true;
}

void
zchat_scan_end(zchat_scan_t *scan)
{
    assert(scan);
    free(scan->notes);
    scan->notes = NULL;
    scan->notes_size = scan->notes_max = 0;
}
