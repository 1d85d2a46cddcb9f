// zchat_req.h - one request frame decoded flat: the broker's reading of zchat-protocol(7) REQUESTS
//
// Every field a request has is a string, an integer or a boolean at the top level, so the
// broker needs no tree: zchat_req keeps the top-level members only, decoded into buffers that
// are reused from one request to the next. It refuses exactly the frames zchat_msg_decode
// refuses, with the same reasons, and reads strings the same way (an escaped U+0000 as the
// byte ZCHAT_MSG_NUL): tests/fuzz/fuzz_diff.c holds the two to it.
//
// Why not zchat_msg_decode: a say of 254 bytes, with the reads the broker makes, costs 12,900
// instructions through the scan and a cJSON tree and 6,500 here; the broker reading requests
// that way costs 22% more per say in make bench W2 (41,200 instructions, not 33,800: callgrind,
// bench/README.md).
#ifndef ZCHAT_REQ_H_INCLUDED
#define ZCHAT_REQ_H_INCLUDED

#include "zchat_prelude.h"

typedef struct zchat_req zchat_req_t;

// Create an empty request, to decode frames into.
zchat_req_t *zchat_req_new(void);

// Destroy the request, null *self_p; safe on NULL.
void zchat_req_destroy(zchat_req_t **self_p);

// Decode one frame of size bytes (not NUL-terminated), replacing what self held. Returns 0,
// or -1 with *reason (if reason is not NULL) a static sentence saying what is wrong: the frame
// is then a bad_json, and self holds no member. Allocates nothing once self has grown.
int zchat_req_decode(zchat_req_t *self, const char *data, size_t size, const char **reason);

// Reading: as zchat_msg's functions of the same names. Strings are borrowed until the next
// decode.
bool zchat_req_has(const zchat_req_t *self, const char *key);
const char *zchat_req_string(const zchat_req_t *self, const char *key);
const char *zchat_req_type(const zchat_req_t *self);
int zchat_req_opt_string(const zchat_req_t *self, const char *key, const char **value);
int zchat_req_opt_int(const zchat_req_t *self, const char *key, int64_t *value);
int zchat_req_opt_bool(const zchat_req_t *self, const char *key, bool *value);

// True if type is one of the request types of zchat-protocol(7) REQUESTS.
bool zchat_req_is_type(const char *type);

// Check the types of every known field of a request of a known type, "id" included (a string
// of 1..ZCHAT_ID_MAX bytes). Returns true if all known fields that are present have their type.
// Required fields are the handler's to check (hello's user depends on observer).
bool zchat_req_fields_ok(const zchat_req_t *self);

// The request's "id" if it is a valid id, else NULL. Borrowed.
const char *zchat_req_id(const zchat_req_t *self);

void zchat_req_test(bool verbose);

#endif
