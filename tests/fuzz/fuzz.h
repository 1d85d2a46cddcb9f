// fuzz.h - what the fuzz targets share: the libFuzzer entry point, the request fields, and the
// invariants of the name and text rules (zchat-protocol(7) NAMES AND LIMITS) checked against
// references written out independently
#ifndef FUZZ_H_INCLUDED
#define FUZZ_H_INCLUDED

#include "zchat_prelude.h"

// The request fields of zchat-protocol(7) REQUESTS, written out again from the protocol so that
// the targets check shared/ against the protocol and not against its own table.
typedef enum { FUZZ_STRING, FUZZ_INT, FUZZ_BOOL } fuzz_kind_t;

typedef struct {
    const char *type;
    const char *name;
    fuzz_kind_t kind;
} fuzz_field_t;

extern const fuzz_field_t fuzz_fields[];
extern const size_t fuzz_fields_size;

// Run one input through the target. Returns 0; a broken invariant aborts (assert or sanitizer).
// Each target defines it; libFuzzer, or tests/fuzz/replay.c, calls it.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// Reference UTF-8 decoder (Unicode 15, table 3-7): the length of the well-formed sequence at
// data[0..size), size > 0, with its code point in *codepoint, or 0 if ill-formed there.
size_t fuzz_utf8_decode(const uint8_t *data, size_t size, uint32_t *codepoint);

// True if UTF-8 text holds a C0 control but TAB, DEL, or a C1 control (U+0080-U+009F).
bool fuzz_has_control(const char *text);

// True if UTF-8 text holds a bidirectional embedding, override or isolate.
bool fuzz_has_bidi(const char *text);

// Run every zchat_text_* and zchat_name_* function on a NUL-terminated string and assert their
// rules: is_valid, names and fold against the references, zchat_text_safe output clean, valid
// UTF-8 and idempotent.
void fuzz_check_string(const char *text);

#endif
