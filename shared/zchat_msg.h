// zchat_msg.h - ZCHAT/1 JSON messages in and out: the only module that touches cJSON
//
// The clients' one way in and out, where a message is naturally a tree. The broker reads with
// zchat_req and writes with zchat_json, which give the same results for less (their headers say
// how much).
#ifndef ZCHAT_MSG_H_INCLUDED
#define ZCHAT_MSG_H_INCLUDED

#include "zchat_prelude.h"

// A JSON object. A root message is owned by whoever made it (zchat_msg_new, zchat_msg_decode);
// children returned by lookups and builders are borrowed from their root.
typedef struct zchat_msg zchat_msg_t;

// How a decoded string carries an escaped U+0000 (see zchat_msg_decode).
#define ZCHAT_MSG_NUL '\xFF'

// Decode one frame strictly (RFC 8259: no comments, NaN, single quotes, trailing commas or
// garbage; well-formed UTF-8; no duplicate member names; nesting at most ZCHAT_JSON_DEPTH_MAX;
// the top value an object). Returns a new message, or NULL with *reason (if reason is not NULL)
// set to a static sentence saying what is wrong: the frame is then a bad_json.
// A string value holding an escaped U+0000 reads with each NUL as the byte ZCHAT_MSG_NUL
// (0xFF, which UTF-8 never uses), so it fails every name and text check instead of being cut
// short at the NUL, and zchat_msg_encode writes it back as \u0000.
zchat_msg_t *zchat_msg_decode(const char *data, size_t size, const char **reason);

// Create a message {"type": type}.
zchat_msg_t *zchat_msg_new(const char *type);

// Destroy a root message, null *self_p; safe on NULL.
void zchat_msg_destroy(zchat_msg_t **self_p);

// Encode as compact JSON, valid UTF-8 when every string is (ZCHAT_MSG_NUL goes out as \u0000),
// numbers as the values they hold. Returns a new NUL-terminated string: caller frees it with
// free().
char *zchat_msg_encode(const zchat_msg_t *self);

// --- Reading ---

// True if the member key exists, whatever its type (null included).
bool zchat_msg_has(const zchat_msg_t *self, const char *key);

// The string value of key, or NULL if absent or not a string. Borrowed.
const char *zchat_msg_string(const zchat_msg_t *self, const char *key);

// The "type" member, or NULL if absent or not a string. Borrowed.
const char *zchat_msg_type(const zchat_msg_t *self);

// Read an optional member. Returns 0 and sets *value when present with the right type, returns
// 0 and leaves *value alone when absent, returns -1 when present with another type (null
// included). An integer is a JSON number without fraction or exponent, |n| < 2^53.
int zchat_msg_opt_string(const zchat_msg_t *self, const char *key, const char **value);
int zchat_msg_opt_int(const zchat_msg_t *self, const char *key, int64_t *value);
int zchat_msg_opt_bool(const zchat_msg_t *self, const char *key, bool *value);

// The object member key, or NULL if absent or not an object. Borrowed.
zchat_msg_t *zchat_msg_object(const zchat_msg_t *self, const char *key);

// The number of elements of the array member key; 0 if absent or not an array.
size_t zchat_msg_array_size(const zchat_msg_t *self, const char *key);

// Element index of array key if it is an object (or a string), else NULL. Borrowed.
zchat_msg_t *zchat_msg_array_object(const zchat_msg_t *self, const char *key, size_t index);
const char *zchat_msg_array_string(const zchat_msg_t *self, const char *key, size_t index);

// Iterate the members of an object: the name of member index, or NULL past the end. Borrowed.
const char *zchat_msg_member(const zchat_msg_t *self, size_t index);

// --- Building: each replaces an existing member of the same name ---

void zchat_msg_set_string(zchat_msg_t *self, const char *key, const char *value);
void zchat_msg_set_int(zchat_msg_t *self, const char *key, int64_t value);
void zchat_msg_set_bool(zchat_msg_t *self, const char *key, bool value);

// Set key to a JSON text that is already encoded (such as a stored event), copied verbatim.
void zchat_msg_set_raw(zchat_msg_t *self, const char *key, const char *json);

// Set key to a new empty object and return it. Borrowed.
zchat_msg_t *zchat_msg_set_object(zchat_msg_t *self, const char *key);

// Set key to an empty array (so it encodes as [] even when nothing is appended).
void zchat_msg_set_array(zchat_msg_t *self, const char *key);

// Append to the array member key (created when absent).
void zchat_msg_append_string(zchat_msg_t *self, const char *key, const char *value);
void zchat_msg_append_raw(zchat_msg_t *self, const char *key, const char *json);
zchat_msg_t *zchat_msg_append_object(zchat_msg_t *self, const char *key);  // borrowed

void zchat_msg_test(bool verbose);

#endif
