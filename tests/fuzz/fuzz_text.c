// fuzz_text.c - libFuzzer target: raw bytes through zchat_text_* and zchat_name_*, checked
// against reference implementations of the UTF-8, text and name rules
// (zchat-protocol(7) NAMES AND LIMITS)
#include "zchat_prelude.h"
#include "zchat_name.h"
#include "zchat_text.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // The decoder on the raw bytes, NULs included, step by step against the reference
    bool utf8 = true;
    for (size_t pos = 0; pos < size;) {
        uint32_t cp = UINT32_MAX, expect = 0;
        size_t len = zchat_text_decode((const char *)data + pos, size - pos, &cp);
        assert(len == fuzz_utf8_decode(data + pos, size - pos, &expect));
        if (len == 0) {
            utf8 = false;
            pos++;
        } else {
            assert(cp == expect && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF));
            pos += len;
        }
    }
    assert(zchat_text_is_utf8((const char *)data, size) == utf8);

    // The string functions on a NUL-terminated copy (cut at the first NUL, as C strings are),
    // and on the copy less its first byte, so a '#' or a lead byte lands in second place too
    char *text = malloc(size + 1);
    assert(text);
    if (size)
        memcpy(text, data, size);
    text[size] = 0;
    fuzz_check_string(text);
    if (text[0])
        fuzz_check_string(text + 1);
    free(text);
    return 0;
}
