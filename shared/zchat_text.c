// zchat_text.c - UTF-8 and control characters: the text rules of zchat-protocol(7) NAMES AND LIMITS
#include "zchat_prelude.h"
#include "zchat_text.h"

// U+FFFD REPLACEMENT CHARACTER in UTF-8
#define S_REPLACEMENT "\xEF\xBF\xBD"

size_t
zchat_text_decode(const char *data, size_t size, uint32_t *codepoint)
{
    assert(data && size > 0 && codepoint);
    const unsigned char *s = (const unsigned char *)data;
    uint32_t cp;
    size_t len;
    uint32_t min;
    if (s[0] < 0x80) {
        *codepoint = s[0];
        return 1;
    } else if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        cp = s[0] & 0x1F, len = 2, min = 0x80;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        cp = s[0] & 0x0F, len = 3, min = 0x800;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        cp = s[0] & 0x07, len = 4, min = 0x10000;
    } else {
        return 0;  // continuation byte, overlong lead 0xC0/0xC1, or 0xF5..0xFF
    }
    if (size < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;  // overlong, out of range, or a UTF-16 surrogate
    *codepoint = cp;
    return len;
}

bool
zchat_text_is_utf8(const char *data, size_t size)
{
    assert(data || size == 0);
    size_t pos = 0;
    while (pos < size) {
        // ASCII fast path: most chat text is ASCII
        if ((unsigned char)data[pos] < 0x80) {
            pos++;
            continue;
        }
        uint32_t cp;
        size_t len = zchat_text_decode(data + pos, size - pos, &cp);
        if (len == 0)
            return false;
        pos += len;
    }
    return true;
}

static bool
s_is_control(uint32_t cp)
{
    return (cp < 0x20 && cp != '\t') || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

bool
zchat_text_is_valid(const char *text, size_t min, size_t max)
{
    assert(text);
    size_t size = strlen(text);
    if (size < min || size > max)
        return false;
    size_t pos = 0;
    while (pos < size) {
        // Printable ASCII fast path: most chat text is plain ASCII, and a byte from 0x20 to 0x7E
        // is a whole character that is neither a control nor part of a multibyte sequence
        unsigned char c = (unsigned char)text[pos];
        if (c >= 0x20 && c < 0x7F) {
            pos++;
            continue;
        }
        uint32_t cp;
        size_t len = zchat_text_decode(text + pos, size - pos, &cp);
        if (len == 0 || s_is_control(cp))
            return false;
        pos += len;
    }
    return true;
}

// Bidirectional embeddings, overrides, isolates and marks reorder what follows them on screen;
// the line and paragraph separators break a line where the terminal does not expect it.
static bool
s_is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
           cp == 0x200F || cp == 0x061C || cp == 0x2028 || cp == 0x2029;
}

char *
zchat_text_safe(const char *text)
{
    assert(text);
    size_t size = strlen(text);
    // Worst case: every byte becomes a 3-byte replacement character.
    char *safe = zmalloc(size * 3 + 1);
    size_t out = 0;
    size_t pos = 0;
    while (pos < size) {
        uint32_t cp;
        size_t len = zchat_text_decode(text + pos, size - pos, &cp);
        if (len == 0 || s_is_control(cp) || s_is_bidi_control(cp)) {
            memcpy(safe + out, S_REPLACEMENT, 3);
            out += 3;
            pos += len ? len : 1;
        } else {
            memcpy(safe + out, text + pos, len);
            out += len;
            pos += len;
        }
    }
    safe[out] = 0;
    return safe;
}

void
zchat_text_cut(char *text, size_t max)
{
    assert(text);
    size_t size = strlen(text);
    if (size <= max)
        return;
    while (max > 0 && ((unsigned char)text[max] & 0xC0) == 0x80)
        max--;  // text[max] continues a character: cut before the character starts
    text[max] = 0;
}

void
zchat_text_test(bool verbose)
{
    (void)verbose;
    char cut[] = "ab\xC3\xA9"
                 "cd";       // a, b, e-acute, c, d
    zchat_text_cut(cut, 3);  // would split the e-acute
    assert(streq(cut, "ab"));
    char whole[] = "ab\xC3\xA9"
                   "cd";
    zchat_text_cut(whole, 4);
    assert(streq(whole, "ab\xC3\xA9"));
    zchat_text_cut(whole, 10);
    assert(streq(whole, "ab\xC3\xA9"));
    assert(zchat_text_is_utf8("", 0));
    assert(zchat_text_is_utf8("hello", 5));
    assert(zchat_text_is_utf8("caf\xC3\xA9", 5));
    assert(zchat_text_is_utf8("\xF0\x9F\x98\x80", 4));   // U+1F600
    assert(!zchat_text_is_utf8("\xC3", 1));              // truncated
    assert(!zchat_text_is_utf8("\xC0\xAF", 2));          // overlong '/'
    assert(!zchat_text_is_utf8("\xE0\x80\xAF", 3));      // overlong
    assert(!zchat_text_is_utf8("\xED\xA0\x80", 3));      // surrogate U+D800
    assert(!zchat_text_is_utf8("\xF4\x90\x80\x80", 4));  // U+110000
    assert(!zchat_text_is_utf8("\x80", 1));              // lone continuation
    assert(!zchat_text_is_utf8("\xFF", 1));

    assert(zchat_text_is_valid("hi\tthere", 1, 4096));
    assert(zchat_text_is_valid("", 0, 256));
    assert(!zchat_text_is_valid("", 1, 4096));
    assert(!zchat_text_is_valid("abc", 1, 2));
    assert(!zchat_text_is_valid("a\nb", 1, 4096));
    assert(!zchat_text_is_valid("a\x1b[2Jb", 1, 4096));
    assert(!zchat_text_is_valid("a\x7f", 1, 4096));
    assert(!zchat_text_is_valid("a\xC2\x9B", 1, 4096));  // U+009B CSI
    assert(zchat_text_is_valid("\xC2\xA0", 1, 4096));    // U+00A0 is fine
    assert(!zchat_text_is_valid("\xC3", 1, 4096));

    char *safe = zchat_text_safe("a\x1b[31mb\xC2\x9B\xFF\tc");
    assert(streq(safe, "a" S_REPLACEMENT "[31mb" S_REPLACEMENT S_REPLACEMENT "\tc"));
    freen(safe);
    safe = zchat_text_safe("x\xE2\x80\xAEy");  // RIGHT-TO-LEFT OVERRIDE
    assert(streq(safe, "x" S_REPLACEMENT "y"));
    freen(safe);
    safe = zchat_text_safe("a\xE2\x80\x8F"
                           "b\xE2\x80\xA8"
                           "c");  // RLM, LINE SEPARATOR
    assert(streq(safe, "a" S_REPLACEMENT "b" S_REPLACEMENT "c"));
    freen(safe);
    safe = zchat_text_safe("caf\xC3\xA9");
    assert(streq(safe, "caf\xC3\xA9"));
    freen(safe);
}
