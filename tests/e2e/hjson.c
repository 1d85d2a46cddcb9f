// hjson.c - e2e harness: JSON trees the harness owns until the end of the test, and accessors
// that fail the test with the tree when a field is missing or of another type
#include "zchat_prelude.h"
#include "harness.h"

static struct {
    zlistx_t *trees;  // cJSON *, owned; NULL until first used
    char *text;       // the last harness_json_text result, owned
} s_json;

static void
s_cleanup(void)
{
    cJSON *tree;
    while ((tree = zlistx_detach(s_json.trees, NULL)))
        cJSON_Delete(tree);
    zlistx_destroy(&s_json.trees);
    cJSON_free(s_json.text);
    s_json.text = NULL;
}

static void
s_start(void)
{
    if (!s_json.trees) {
        s_json.trees = zlistx_new();
        harness_on_end(NULL, NULL, s_cleanup);
    }
}

cJSON *
harness_json(const char *text, size_t size)
{
    cJSON *json = cJSON_ParseWithLength(text, size);
    if (json) {
        s_start();
        zlistx_add_end(s_json.trees, json);
    }
    return json;
}

const char *
harness_json_text(const cJSON *json)
{
    s_start();
    cJSON_free(s_json.text);
    s_json.text = json ? cJSON_PrintUnformatted(json) : NULL;
    return s_json.text ? s_json.text : "(null)";
}

cJSON *
jget(const cJSON *json, const char *key)
{
    return cJSON_IsObject(json) ? cJSON_GetObjectItemCaseSensitive(json, key) : NULL;
}

bool
jis_int(const cJSON *item)
{
    if (!cJSON_IsNumber(item))
        return false;
    double value = item->valuedouble;
    return value == (double)(int64_t)value && value >= -9007199254740992.0 &&
           value <= 9007199254740992.0;
}

static cJSON *
s_field(const char *file, int line, const cJSON *json, const char *key, const char *what,
        cJSON_bool (*is)(const cJSON *))
{
    cJSON *item = jget(json, key);
    if (!item || !is(item))
        harness_fail(file, line, "expected %s field \"%s\" in: %s", what, key,
                     harness_json_text(json));
    return item;
}

const char *
jstr_at(const char *file, int line, const cJSON *json, const char *key)
{
    return s_field(file, line, json, key, "a string", cJSON_IsString)->valuestring;
}

int64_t
jint_at(const char *file, int line, const cJSON *json, const char *key)
{
    cJSON *item = s_field(file, line, json, key, "a number", cJSON_IsNumber);
    if (!jis_int(item))
        harness_fail(file, line, "expected an integer field \"%s\" in: %s", key,
                     harness_json_text(json));
    return (int64_t)item->valuedouble;
}

bool
jbool_at(const char *file, int line, const cJSON *json, const char *key)
{
    return cJSON_IsTrue(s_field(file, line, json, key, "a boolean", cJSON_IsBool));
}

cJSON *
jarr_at(const char *file, int line, const cJSON *json, const char *key)
{
    return s_field(file, line, json, key, "an array", cJSON_IsArray);
}

cJSON *
jobj_at(const char *file, int line, const cJSON *json, const char *key)
{
    return s_field(file, line, json, key, "an object", cJSON_IsObject);
}

void
jcheck_str_at(const char *file, int line, const cJSON *json, const char *key, const char *expected)
{
    const char *got = jstr_at(file, line, json, key);
    if (strcmp(got, expected) != 0)
        harness_fail(file, line, "expected \"%s\": \"%s\" in: %s", key, expected,
                     harness_json_text(json));
}

void
jcheck_int_at(const char *file, int line, const cJSON *json, const char *key, int64_t expected)
{
    int64_t got = jint_at(file, line, json, key);
    if (got != expected)
        harness_fail(file, line, "expected \"%s\": %" PRId64 " in: %s", key, expected,
                     harness_json_text(json));
}

void
jcheck_absent_at(const char *file, int line, const cJSON *json, const char *key)
{
    if (jget(json, key))
        harness_fail(file, line, "expected no field \"%s\" in: %s", key, harness_json_text(json));
}

void
jcheck_strings_at(const char *file, int line, const cJSON *json, const char *key,
                  const char *const expected[])
{
    const cJSON *array = jarr_at(file, line, json, key);
    const cJSON *item = array->child;
    int index = 0;
    for (; expected[index]; index++) {
        if (!cJSON_IsString(item) || !streq(item->valuestring, expected[index]))
            harness_fail(file, line, "expected \"%s\"[%d] = \"%s\" in: %s", key, index,
                         expected[index], harness_json_text(json));
        item = item->next;
    }
    if (item)
        harness_fail(file, line, "\"%s\" has more than %d items in: %s", key, index,
                     harness_json_text(json));
}
