// zchat_scan.h - the strict RFC 8259 scan every incoming frame goes through first
//
// One pass over the bytes, allocating nothing on the common path: it refuses what RFC 8259
// refuses (comments, NaN, single quotes, trailing commas or garbage, raw control characters,
// "01", "1.", bad escapes and lone surrogates, invalid UTF-8) and nesting beyond
// ZCHAT_JSON_DEPTH_MAX. Duplicate member names are the decoders' to find: they compare names
// decoded. zchat_msg builds a tree after it; zchat_req reads the top-level members it reports.
#ifndef ZCHAT_SCAN_H_INCLUDED
#define ZCHAT_SCAN_H_INCLUDED

#include "zchat_prelude.h"

// What the scan learnt about one string or number value that a tree decoder cannot see for
// itself: a number written with a fraction or an exponent, a string holding an escaped NUL.
typedef struct {
    size_t index;   // among string and number values, in document order
    size_t length;  // string: decoded bytes, NULs included
    bool is_number;
} zchat_scan_note_t;

// One member of the top-level object, as spans of the frame.
typedef struct {
    const char *key;  // after the opening quote; key_size bytes, escapes not yet decoded
    size_t key_size;
    const char *value;  // the value's JSON text, value_size bytes
    size_t value_size;
} zchat_scan_member_t;

typedef void zchat_scan_member_fn(void *arg, const zchat_scan_member_t *member);

typedef struct {
    const char *pos;
    const char *end;
    size_t values;    // string and number values seen so far
    bool keep_notes;  // record notes (a tree decoder needs them; they allocate)
    zchat_scan_note_t *notes;
    size_t notes_size;
    size_t notes_max;
    size_t objects;  // objects seen, the top one included
    const char *error;
    zchat_scan_member_fn *on_member;  // called for each top-level member, or NULL
    void *arg;
} zchat_scan_t;

// Scan one frame of size bytes (not NUL-terminated) that must hold exactly one JSON object.
// Set scan->keep_notes, scan->on_member and scan->arg first, or zero the struct. Returns true, or
// false with scan->error a static sentence saying what is wrong. Call zchat_scan_end after either.
bool zchat_scan_frame(zchat_scan_t *scan, const char *data, size_t size);

// Decode the inside of a string the scan has found valid (size bytes between its quotes) into
// out, which has room for size + 1 bytes (decoded text is never longer), NUL-terminated. An
// escaped U+0000 becomes ZCHAT_MSG_NUL, as zchat_msg_decode reads it. Returns the bytes written.
size_t zchat_scan_unescape(const char *string, size_t size, char *out);

// Free what the scan allocated (its notes).
void zchat_scan_end(zchat_scan_t *scan);

#endif
