// hjson.h - e2e harness: JSON trees the harness owns, and accessors that fail the test (showing
// the tree) when the field is missing or of another type. Included by harness.h.
#ifndef HJSON_H_INCLUDED
#define HJSON_H_INCLUDED

#include "zchat_prelude.h"
#include <cJSON.h>

// Parse text (not NUL-terminated); NULL if it is not JSON. The harness owns the tree.
cJSON *harness_json(const char *text, size_t size);

// The tree as one line; borrowed until the next call.
const char *harness_json_text(const cJSON *json);

const char *jstr_at(const char *file, int line, const cJSON *json, const char *key);
int64_t jint_at(const char *file, int line, const cJSON *json, const char *key);
bool jbool_at(const char *file, int line, const cJSON *json, const char *key);
cJSON *jarr_at(const char *file, int line, const cJSON *json, const char *key);
cJSON *jobj_at(const char *file, int line, const cJSON *json, const char *key);
#define jstr(j, key)  jstr_at(__FILE__, __LINE__, j, key)
#define jint(j, key)  jint_at(__FILE__, __LINE__, j, key)
#define jbool(j, key) jbool_at(__FILE__, __LINE__, j, key)
#define jarr(j, key)  jarr_at(__FILE__, __LINE__, j, key)
#define jobj(j, key)  jobj_at(__FILE__, __LINE__, j, key)

// The field, case-sensitively, or NULL.
cJSON *jget(const cJSON *json, const char *key);

// true if the number is an integer that fits int64 (JSON "1", not "1.5").
bool jis_int(const cJSON *item);

// Check field key is the string expected.
void jcheck_str_at(const char *file, int line, const cJSON *json, const char *key,
                   const char *expected);
#define jcheck_str(j, key, expected) jcheck_str_at(__FILE__, __LINE__, j, key, expected)

// Check field key is the integer expected.
void jcheck_int_at(const char *file, int line, const cJSON *json, const char *key,
                   int64_t expected);
#define jcheck_int(j, key, expected) jcheck_int_at(__FILE__, __LINE__, j, key, expected)

// Check field key is absent.
void jcheck_absent_at(const char *file, int line, const cJSON *json, const char *key);
#define jcheck_absent(j, key) jcheck_absent_at(__FILE__, __LINE__, j, key)

// Check array field key holds exactly these strings, in order: jcheck_strings(j, "rooms",
// "lobby", "py", NULL); jcheck_strings(j, "rooms", NULL) for an empty array.
void jcheck_strings_at(const char *file, int line, const cJSON *json, const char *key,
                       const char *const expected[]);
#define jcheck_strings(j, key, ...)                                                                \
    jcheck_strings_at(__FILE__, __LINE__, j, key, (const char *const[]){__VA_ARGS__})

#endif
