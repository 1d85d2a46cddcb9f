// zchat_text.h - UTF-8 and control characters: the text rules of zchat-protocol(7) NAMES AND LIMITS
#ifndef ZCHAT_TEXT_H_INCLUDED
#define ZCHAT_TEXT_H_INCLUDED

#include "zchat_prelude.h"

// Decode one UTF-8 character from data[0..size), size > 0: store it in *codepoint and return its
// length in bytes (1-4), or 0 if the bytes there are not well-formed UTF-8.
size_t zchat_text_decode(const char *data, size_t size, uint32_t *codepoint);

// True if data[0..size) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool zchat_text_is_utf8(const char *data, size_t size);

// True if text is valid say/msg/note text: min..max bytes of UTF-8 with no C0 control but TAB,
// no DEL and no C1 control (U+0080-U+009F).
bool zchat_text_is_valid(const char *text, size_t min, size_t max);

// Make wire text safe for a terminal: copies text into a new string in which every control
// character (C0 but TAB, DEL, C1), invalid UTF-8 byte and bidirectional override is replaced by
// U+FFFD, so no escape sequence survives. Caller frees the result.
char *zchat_text_safe(const char *text);

// Cut text to at most max bytes, never inside a UTF-8 character.
void zchat_text_cut(char *text, size_t max);

void zchat_text_test(bool verbose);

#endif
