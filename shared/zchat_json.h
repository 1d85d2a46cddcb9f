// zchat_json.h - compact JSON objects written straight into one growing buffer
//
// For everything the broker writes (replies, room events, privates): no tree, and no allocation
// once the buffer has grown. Objects follow one another in the buffer, each NUL-terminated, until
// zchat_json_reset; a turn's whole outbox lives in one. The bytes are those zchat_msg_encode
// writes for the same members in the same order (tests/fuzz/fuzz_diff.c compares them), so a
// reader can never tell which of the two wrote a message.
//
// Why not zchat_msg_encode: a say's event and ack cost 20,000 instructions through cJSON trees
// and 6,100 here, and the broker writing them that way costs 36% more per say in make bench W2
// (45,900 instructions, not 33,800); a pong costs 8,300 against 2,300, about 30% of the broker's
// cost per ping in W5; a history reply of 100 events 132,100 against 25,600 (callgrind,
// bench/README.md).
#ifndef ZCHAT_JSON_H_INCLUDED
#define ZCHAT_JSON_H_INCLUDED

#include "zchat_prelude.h"

typedef struct {
    char *data;     // owned; objects at the offsets zchat_json_close returned
    size_t size;    // bytes used
    size_t max;     // bytes allocated
    size_t open;    // offset of the object being written; size when none is
    uint32_t nest;  // a bit for each container open inside it, innermost lowest: 1 an object
    int depth;      // containers open inside it
    bool first;     // nothing written yet in the innermost container
} zchat_json_t;

// Containers open inside one object at most (a protocol message needs two).
#define ZCHAT_JSON_NEST_MAX 16

// Free the buffer and empty the writer (it stays usable).
void zchat_json_free(zchat_json_t *self);

// Forget every object written: their offsets are no longer valid. Keeps the memory.
void zchat_json_reset(zchat_json_t *self);

// Begin an object {"type":type at the end of the buffer.
void zchat_json_open(zchat_json_t *self, const char *type);

// Add a member key to the innermost object, or with key NULL an element to the innermost array.
// Strings and names are written as zchat_msg_encode writes them: ", \ and control characters
// escaped, the byte ZCHAT_MSG_NUL as \u0000, everything else as it is.
void zchat_json_string(zchat_json_t *self, const char *key, const char *value);
void zchat_json_int(zchat_json_t *self, const char *key, int64_t value);
void zchat_json_bool(zchat_json_t *self, const char *key, bool value);

// Add json, a JSON text already encoded in UTF-8 (such as a stored event), copied verbatim.
void zchat_json_raw(zchat_json_t *self, const char *key, const char *json);

// Begin an object or an array as a member key (an element with key NULL); zchat_json_end ends
// the innermost one.
void zchat_json_object(zchat_json_t *self, const char *key);
void zchat_json_array(zchat_json_t *self, const char *key);
void zchat_json_end(zchat_json_t *self);

// End the object zchat_json_open began, every container inside it ended. Returns its offset in
// data: a NUL-terminated string of *size bytes.
size_t zchat_json_close(zchat_json_t *self, size_t *size);

// Drop the object being written (zchat_json_open without its zchat_json_close), as if it had
// never begun: a reply that fails halfway.
void zchat_json_cancel(zchat_json_t *self);

void zchat_json_test(bool verbose);

#endif
