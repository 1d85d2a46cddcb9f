// zchat_json.h - compact JSON objects written straight into one growing buffer
//
// For what the broker writes at the rate of its traffic (room events, acks): no tree, and no
// allocation once the buffer has grown. Objects follow one another in the buffer, each
// NUL-terminated, until zchat_json_reset; a turn's whole outbox lives in one. The bytes are
// those zchat_msg_encode writes for the same members in the same order (its self-test compares
// them), so a reader can never tell which of the two wrote a message.
#ifndef ZCHAT_JSON_H_INCLUDED
#define ZCHAT_JSON_H_INCLUDED

#include "zchat_prelude.h"

typedef struct {
    char *data;   // owned; objects at the offsets zchat_json_close returned
    size_t size;  // bytes used
    size_t max;   // bytes allocated
    size_t open;  // offset of the object being written
} zchat_json_t;

// Free the buffer and empty the writer (it stays usable).
void zchat_json_free(zchat_json_t *self);

// Forget every object written: their offsets are no longer valid. Keeps the memory.
void zchat_json_reset(zchat_json_t *self);

// Begin an object {"type":type at the end of the buffer.
void zchat_json_open(zchat_json_t *self, const char *type);

// Add a member. Strings are written as zchat_msg_encode writes them: ", \ and control
// characters escaped, the byte ZCHAT_MSG_NUL as \u0000, everything else as it is.
void zchat_json_string(zchat_json_t *self, const char *key, const char *value);
void zchat_json_int(zchat_json_t *self, const char *key, int64_t value);
void zchat_json_bool(zchat_json_t *self, const char *key, bool value);

// End the object. Returns its offset in data: a NUL-terminated string of *size bytes.
size_t zchat_json_close(zchat_json_t *self, size_t *size);

void zchat_json_test(bool verbose);

#endif
