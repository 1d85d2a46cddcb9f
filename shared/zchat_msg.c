// zchat_msg.c - ZCHAT/1 JSON messages in and out: the only module that touches cJSON
//
// cJSON is lenient (raw control bytes, "01", "1.", bad UTF-8, duplicate keys, trailing garbage
// after ParseWithLength), so a frame first goes through a strict RFC 8259 scan; cJSON then
// builds the tree, and a walk applies what the scan learnt that cJSON cannot keep: which
// numbers had a fraction or exponent, and where an escaped NUL cut a string short.
#include "zchat_prelude.h"
#include "zchat_msg.h"
#include "zchat_scan.h"
#include "zchat_text.h"
#include <cjson/cJSON.h>
#include <math.h>

// A cJSON type bit of ours on numbers written with a fraction or an exponent ("1.0", "1e2").
// cJSON tests types with (type & 0xFF) and owns bits 256 and 512 only.
#define S_NOT_INTEGER (1 << 12)

#define S_INT_LIMIT 9007199254740992.0  // 2^53: beyond, doubles skip integers

static int
s_compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// True if two members of one object share a name.
static bool
s_has_duplicate_keys(const cJSON *object)
{
    size_t count = 0;
    for (const cJSON *item = object->child; item; item = item->next)
        count++;
    if (count < 2)
        return false;
    if (count <= 16) {
        for (const cJSON *a = object->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (streq(a->string, b->string))
                    return true;
        return false;
    }
    // Many members: sort the names, O(n log n) whatever they are. Not a zhashx: its hash has no
    // seed, so a client can choose names that all collide, and zhashx doubles its table at each
    // one until zmalloc aborts (64 names of 9 bytes, one 897-byte frame).
    const char **names = malloc(count * sizeof(char *));
    assert(names);
    size_t n = 0;
    for (const cJSON *item = object->child; item; item = item->next)
        names[n++] = item->string;
    qsort(names, count, sizeof(char *), s_compare_names);
    bool duplicate = false;
    for (n = 1; n < count && !duplicate; n++)
        duplicate = streq(names[n - 1], names[n]);
    free(names);
    return duplicate;
}

// Walk the tree in document order, as the scan did: apply its notes, find duplicate keys.
static bool
s_annotate(cJSON *item, const zchat_scan_t *scan, size_t *value, size_t *note)
{
    for (; item; item = item->next) {
        if (cJSON_IsString(item) || cJSON_IsNumber(item)) {
            if (*note < scan->notes_size && scan->notes[*note].index == *value) {
                const zchat_scan_note_t *n = &scan->notes[(*note)++];
                if (n->is_number)
                    item->type |= S_NOT_INTEGER;
                else
                    for (size_t i = 0; i < n->length; i++)
                        if (item->valuestring[i] == 0)
                            item->valuestring[i] = ZCHAT_MSG_NUL;
            }
            (*value)++;
        }
        if (cJSON_IsObject(item) && s_has_duplicate_keys(item))
            return false;
        if (item->child && !s_annotate(item->child, scan, value, note))
            return false;
    }
    return true;
}

zchat_msg_t *
zchat_msg_decode(const char *data, size_t size, const char **reason)
{
    const char *dummy;
    if (!reason)
        reason = &dummy;
    zchat_scan_t scan = {.keep_notes = true};
    bool ok = zchat_scan_frame(&scan, data, size);
    cJSON *root = ok ? cJSON_ParseWithLength(data, size) : NULL;
    if (ok && !root) {
        ok = false;
        scan.error = "invalid JSON";
    }
    if (ok) {
        size_t value = 0, note = 0;
        if (s_has_duplicate_keys(root) || !s_annotate(root->child, &scan, &value, &note)) {
            ok = false;
            scan.error = "duplicate member name";
        }
    }
    zchat_scan_end(&scan);
    *reason = ok ? NULL : scan.error;
    if (!ok)
        cJSON_Delete(root);
    return ok ? (zchat_msg_t *)root : NULL;
}

zchat_msg_t *
zchat_msg_new(const char *type)
{
    assert(type);
    cJSON *root = cJSON_CreateObject();
    assert(root);
    zchat_msg_t *self = (zchat_msg_t *)root;
    zchat_msg_set_string(self, "type", type);
    return self;
}

void
zchat_msg_destroy(zchat_msg_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        cJSON_Delete((cJSON *)*self_p);
        *self_p = NULL;
    }
}

// True if cJSON would print this number as another value, or an integer as a non-integer.
// cJSON 1.7.15 keeps 15 significant digits whenever they read back within a relative
// DBL_EPSILON (9007199254709999 goes out as 9.00719925471e+15: another value), and %1.15g
// writes every number from 1e15 up with an exponent (1e+15 decodes as no integer).
static bool
s_needs_own_print(const cJSON *item)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return false;  // cJSON prints NaN and infinities as null
    double d = item->valuedouble;
    if (d > -S_INT_LIMIT && d < S_INT_LIMIT && d == (double)(int64_t)d)
        return d <= -1e15 || d >= 1e15;
    char text[32];
    snprintf(text, sizeof text, "%1.15g", d);
    return strtod(text, NULL) != d;
}

static bool
s_has_own_print(const cJSON *item)
{
    for (; item; item = item->next)
        if (s_needs_own_print(item) || (item->child && s_has_own_print(item->child)))
            return true;
    return false;
}

// Turn each number from item on that cJSON would print wrong into a raw item that reads back
// exactly: the digits of an integer, else 17 significant digits. In place: O(1) per number.
static void
s_own_print(cJSON *item)
{
    for (; item; item = item->next) {
        if (s_needs_own_print(item)) {
            double d = item->valuedouble;
            char text[32];
            if (d > -S_INT_LIMIT && d < S_INT_LIMIT && d == (double)(int64_t)d)
                snprintf(text, sizeof text, "%" PRId64, (int64_t)d);
            else
                snprintf(text, sizeof text, "%.17g", d);
            item->type = cJSON_Raw | (item->type & cJSON_StringIsConst);
            item->valuestring = strdup(text);  // freed by cJSON_Delete: default hooks, free()
            assert(item->valuestring);
        }
        if (item->child)
            s_own_print(item->child);
    }
}

// Write each ZCHAT_MSG_NUL byte of json as the \u0000 it was decoded from. The byte can only
// be in a string value (member names refuse U+0000, and UTF-8 never uses 0xFF), where cJSON
// copied it as it is. Takes ownership of json; returns a new string.
static char *
s_escape_nul(char *json)
{
    size_t markers = 0;
    for (const char *p = json; *p; p++)
        markers += *p == ZCHAT_MSG_NUL;
    char *escaped = zmalloc(strlen(json) + markers * 5 + 1);
    char *out = escaped;
    for (const char *p = json; *p; p++) {
        if (*p == ZCHAT_MSG_NUL) {
            memcpy(out, "\\u0000", 6);
            out += 6;
        } else {
            *out++ = *p;
        }
    }
    free(json);
    return escaped;
}

char *
zchat_msg_encode(const zchat_msg_t *self)
{
    assert(self);
    const cJSON *root = (const cJSON *)self;
    cJSON *copy = NULL;
    if (s_has_own_print(root->child)) {
        copy = cJSON_Duplicate(root, true);  // self is const, and the caller's
        assert(copy);
        s_own_print(copy->child);
        root = copy;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(copy);
    assert(json);  // cJSON fails only on OOM
    if (strchr(json, (unsigned char)ZCHAT_MSG_NUL))
        json = s_escape_nul(json);  // a decoded string going back out: an echoed id
    return json;                    // cJSON's default hooks allocate with malloc: free() is right
}

static const cJSON *
s_member(const zchat_msg_t *self, const char *key)
{
    assert(self && key);
    return cJSON_GetObjectItemCaseSensitive((const cJSON *)self, key);
}

bool
zchat_msg_has(const zchat_msg_t *self, const char *key)
{
    return s_member(self, key) != NULL;
}

const char *
zchat_msg_string(const zchat_msg_t *self, const char *key)
{
    const cJSON *item = s_member(self, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *
zchat_msg_type(const zchat_msg_t *self)
{
    return zchat_msg_string(self, "type");
}

int
zchat_msg_opt_string(const zchat_msg_t *self, const char *key, const char **value)
{
    assert(value);
    const cJSON *item = s_member(self, key);
    if (!item)
        return 0;
    if (!cJSON_IsString(item))
        return -1;
    *value = item->valuestring;
    return 0;
}

static bool
s_is_integer(const cJSON *item)
{
    if (!cJSON_IsNumber(item) || (item->type & S_NOT_INTEGER))
        return false;
    double d = item->valuedouble;
    return d > -S_INT_LIMIT && d < S_INT_LIMIT;  // the safe integers of RFC 8259 §6
}

int
zchat_msg_opt_int(const zchat_msg_t *self, const char *key, int64_t *value)
{
    assert(value);
    const cJSON *item = s_member(self, key);
    if (!item)
        return 0;
    if (cJSON_IsRaw(item)) {
        // set by zchat_msg_set_int on a message built here: its decimal text
        char *end;
        errno = 0;
        long long n = strtoll(item->valuestring, &end, 10);
        if (errno || end == item->valuestring || *end)
            return -1;
        *value = n;
        return 0;
    }
    if (!s_is_integer(item))
        return -1;
    *value = (int64_t)item->valuedouble;
    return 0;
}

int
zchat_msg_opt_bool(const zchat_msg_t *self, const char *key, bool *value)
{
    assert(value);
    const cJSON *item = s_member(self, key);
    if (!item)
        return 0;
    if (!cJSON_IsBool(item))
        return -1;
    *value = cJSON_IsTrue(item);
    return 0;
}

zchat_msg_t *
zchat_msg_object(const zchat_msg_t *self, const char *key)
{
    const cJSON *item = s_member(self, key);
    return cJSON_IsObject(item) ? (zchat_msg_t *)item : NULL;
}

size_t
zchat_msg_array_size(const zchat_msg_t *self, const char *key)
{
    const cJSON *item = s_member(self, key);
    return cJSON_IsArray(item) ? (size_t)cJSON_GetArraySize(item) : 0;
}

static const cJSON *
s_element(const zchat_msg_t *self, const char *key, size_t index)
{
    const cJSON *array = s_member(self, key);
    if (!cJSON_IsArray(array) || index > INT_MAX)
        return NULL;
    return cJSON_GetArrayItem(array, (int)index);
}

zchat_msg_t *
zchat_msg_array_object(const zchat_msg_t *self, const char *key, size_t index)
{
    const cJSON *item = s_element(self, key, index);
    return cJSON_IsObject(item) ? (zchat_msg_t *)item : NULL;
}

const char *
zchat_msg_array_string(const zchat_msg_t *self, const char *key, size_t index)
{
    const cJSON *item = s_element(self, key, index);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *
zchat_msg_member(const zchat_msg_t *self, size_t index)
{
    assert(self);
    const cJSON *item = ((const cJSON *)self)->child;
    for (; item && index; index--)
        item = item->next;
    return item ? item->string : NULL;
}

static void
s_set(zchat_msg_t *self, const char *key, cJSON *item)
{
    assert(self && key && item);
    cJSON *object = (cJSON *)self;
    if (cJSON_GetObjectItemCaseSensitive(object, key))
        cJSON_ReplaceItemInObjectCaseSensitive(object, key, item);
    else
        cJSON_AddItemToObject(object, key, item);
}

void
zchat_msg_set_string(zchat_msg_t *self, const char *key, const char *value)
{
    assert(value);
    cJSON *item = cJSON_CreateString(value);
    assert(item);
    s_set(self, key, item);
}

// The decimal text of value, as snprintf "%" PRId64 writes it, without the cost of snprintf's
// format parsing (an event has two integers, its ack one). text holds at least 21 bytes.
static void
s_int_text(int64_t value, char *text)
{
    uint64_t n = value < 0 ? -(uint64_t)value : (uint64_t)value;  // INT64_MIN too
    char digits[20];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    size_t out = 0;
    if (value < 0)
        text[out++] = '-';
    while (count)
        text[out++] = digits[--count];
    text[out] = 0;
}

void
zchat_msg_set_int(zchat_msg_t *self, const char *key, int64_t value)
{
    // Written as its decimal text: cJSON prints a number with "%1.15g" and reads it back with
    // sscanf to check, the costliest step of encoding an event (seq and ts)
    char text[24];
    s_int_text(value, text);
    cJSON *item = cJSON_CreateRaw(text);
    assert(item);
    s_set(self, key, item);
}

void
zchat_msg_set_bool(zchat_msg_t *self, const char *key, bool value)
{
    cJSON *item = cJSON_CreateBool(value);
    assert(item);
    s_set(self, key, item);
}

void
zchat_msg_set_raw(zchat_msg_t *self, const char *key, const char *json)
{
    assert(json);
    cJSON *item = cJSON_CreateRaw(json);
    assert(item);
    s_set(self, key, item);
}

zchat_msg_t *
zchat_msg_set_object(zchat_msg_t *self, const char *key)
{
    cJSON *item = cJSON_CreateObject();
    assert(item);
    s_set(self, key, item);
    return (zchat_msg_t *)item;
}

void
zchat_msg_set_array(zchat_msg_t *self, const char *key)
{
    cJSON *item = cJSON_CreateArray();
    assert(item);
    s_set(self, key, item);
}

static cJSON *
s_array(zchat_msg_t *self, const char *key)
{
    cJSON *array = cJSON_GetObjectItemCaseSensitive((cJSON *)self, key);
    if (!cJSON_IsArray(array)) {
        zchat_msg_set_array(self, key);
        array = cJSON_GetObjectItemCaseSensitive((cJSON *)self, key);
    }
    return array;
}

static void
s_append(zchat_msg_t *self, const char *key, cJSON *item)
{
    assert(item);
    cJSON_AddItemToArray(s_array(self, key), item);
}

void
zchat_msg_append_string(zchat_msg_t *self, const char *key, const char *value)
{
    assert(value);
    s_append(self, key, cJSON_CreateString(value));
}

void
zchat_msg_append_raw(zchat_msg_t *self, const char *key, const char *json)
{
    assert(json);
    s_append(self, key, cJSON_CreateRaw(json));
}

zchat_msg_t *
zchat_msg_append_object(zchat_msg_t *self, const char *key)
{
    cJSON *item = cJSON_CreateObject();
    s_append(self, key, item);
    return (zchat_msg_t *)item;
}

// --- Self-test ---

static bool
s_decodes(const char *json)
{
    zchat_msg_t *msg = zchat_msg_decode(json, strlen(json), NULL);
    bool ok = msg != NULL;
    zchat_msg_destroy(&msg);
    return ok;
}

void
zchat_msg_test(bool verbose)
{
    (void)verbose;
    // Strict JSON: accepted
    assert(s_decodes("{}"));
    assert(s_decodes(" \r\n\t{\"type\":\"ping\"} \n"));
    assert(s_decodes("{\"a\":[1,-0,0.5,1e9,-1.5E-3,true,false,null,\"\",{}],\"b\":{\"c\":[]}}"));
    assert(s_decodes("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}"));
    assert(s_decodes("{\"s\":\"caf\xC3\xA9\"}"));
    // Refused
    const char *bad[] = {
        "",
        "   ",
        "[]",
        "\"str\"",
        "42",
        "null",
        "{",
        "{\"a\":1,}",
        "{\"a\":1} x",
        "{\"a\":1}{}",
        "{'a':1}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{/*c*/\"a\":1}",
        "{\"a\":1}//c",
        "{\"a\":tru}",
        "{\"a\":\"x\ty\"}",  // raw TAB inside a string
        "{\"a\":\"\\x41\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\\ud800\"}",
        "{\"a\":\"\xC3\"}",
        "{\"a\":\"\xED\xA0\x80\"}",
        "{\"a\":1,\"a\":2}",
        "{\"o\":{\"k\":1,\"k\":1}}",
        "{\"k\\u0000x\":1}",
        "{\"a\" 1}",
        "{\"a\":[1 2]}",
        "{\"a\":1 \"b\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *reason = NULL;
        zchat_msg_t *msg = zchat_msg_decode(bad[i], strlen(bad[i]), &reason);
        if (msg)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        assert(!msg && reason);
    }
    assert(!zchat_msg_decode(NULL, 0, NULL));
    // A frame is not NUL-terminated: only size bytes count.
    zchat_msg_t *msg = zchat_msg_decode("{}garbage", 2, NULL);
    zchat_msg_destroy(&msg);
    assert(!zchat_msg_decode("{\"a\":1}", 3, NULL));

    // Depth: ZCHAT_JSON_DEPTH_MAX levels pass, one more fails.
    char deep[2 * ZCHAT_JSON_DEPTH_MAX + 8];
    size_t n = 0;
    deep[n++] = '{', deep[n++] = '"', deep[n++] = 'a', deep[n++] = '"', deep[n++] = ':';
    for (int i = 1; i < ZCHAT_JSON_DEPTH_MAX; i++)
        deep[n++] = '[';
    for (int i = 1; i < ZCHAT_JSON_DEPTH_MAX; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    msg = zchat_msg_decode(deep, n, NULL);
    assert(msg);
    zchat_msg_destroy(&msg);
    char *deeper = zmalloc(20002);
    memset(deeper, '[', 10000);
    memset(deeper + 10000, ']', 10000);
    assert(!zchat_msg_decode(deeper, 20000, NULL));
    deeper[0] = '{';
    assert(!zchat_msg_decode(deeper, 20000, NULL));
    freen(deeper);

    // Many keys: duplicate found through the hash path
    char *wide = zmalloc(100 * 12 + 8);
    n = 0;
    wide[n++] = '{';
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(wide + n, "%s\"k%d\":0", i ? "," : "", i % 99);
    wide[n++] = '}';
    assert(!zchat_msg_decode(wide, n, NULL));
    freen(wide);

    // Names that all collide in CZMQ's zhashx hash (33 * h ^ c): decoded, and fast
    const char *blocks[2][4] = {{"01-", "02N", "03o", "1P-"}, {"41-", "42N", "43o", "5P-"}};
    char *flood = zmalloc(64 * 14 + 8);
    n = 0;
    flood[n++] = '{';
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(flood + n, 16, "%s\"%s%s%s\":0", i ? "," : "", blocks[0][i / 16],
                              blocks[1][i / 4 % 4], blocks[1][i % 4]);
    flood[n++] = '}';
    msg = zchat_msg_decode(flood, n, NULL);
    assert(msg && zchat_msg_has(msg, "1P-5P-5P-"));
    zchat_msg_destroy(&msg);
    memcpy(flood + n - 13, "01-41-41-", 9);  // the last name now repeats the first
    assert(!zchat_msg_decode(flood, n, NULL));
    freen(flood);

    // Types
    const char *json = "{\"type\":\"history\",\"room\":\"py\",\"since\":5,\"limit\":1.0,"
                       "\"big\":9007199254740993,\"neg\":-3,\"e\":1e2,\"t\":true,\"z\":null,"
                       "\"nul\":\"al\\u0000ice\",\"id\":\"r1\"}";
    msg = zchat_msg_decode(json, strlen(json), NULL);
    assert(msg);
    assert(streq(zchat_msg_type(msg), "history"));
    int64_t i64 = 0;
    assert(zchat_msg_opt_int(msg, "since", &i64) == 0 && i64 == 5);
    assert(zchat_msg_opt_int(msg, "neg", &i64) == 0 && i64 == -3);
    assert(zchat_msg_opt_int(msg, "limit", &i64) == -1);
    assert(zchat_msg_opt_int(msg, "e", &i64) == -1);
    assert(zchat_msg_opt_int(msg, "big", &i64) == -1);
    assert(zchat_msg_opt_int(msg, "z", &i64) == -1);
    i64 = 77;
    assert(zchat_msg_opt_int(msg, "absent", &i64) == 0 && i64 == 77);
    bool b = false;
    assert(zchat_msg_opt_bool(msg, "t", &b) == 0 && b);
    assert(zchat_msg_opt_bool(msg, "room", &b) == -1);
    const char *s = NULL;
    assert(zchat_msg_opt_string(msg, "z", &s) == -1);
    assert(zchat_msg_opt_string(msg, "nul", &s) == 0);
    assert(strlen(s) == 6 && s[2] == ZCHAT_MSG_NUL);  // not cut short to "al"
    assert(zchat_msg_has(msg, "z") && !zchat_msg_has(msg, "Z"));
    assert(!zchat_msg_string(msg, "TYPE"));  // case-sensitive
    zchat_msg_t *echo = zchat_msg_new("pong");
    zchat_msg_set_string(echo, "id", s);  // "al\u0000ice" goes back out as it came
    char *echoed = zchat_msg_encode(echo);
    assert(streq(echoed, "{\"type\":\"pong\",\"id\":\"al\\u0000ice\"}"));
    free(echoed);
    assert(strlen(zchat_msg_string(echo, "id")) == 6);  // still a string, read as decoded
    zchat_msg_destroy(&echo);
    echoed = zchat_msg_encode(msg);  // the decoded request itself: valid UTF-8 going out
    assert(strstr(echoed, "\"nul\":\"al\\u0000ice\"") &&
           zchat_text_is_utf8(echoed, strlen(echoed)));
    free(echoed);
    zchat_msg_destroy(&msg);

    // Building and encoding
    msg = zchat_msg_new("rooms");
    zchat_msg_set_array(msg, "rooms");
    zchat_msg_t *room = zchat_msg_append_object(msg, "rooms");
    zchat_msg_set_string(room, "name", "lobby");
    zchat_msg_set_int(room, "seq", 1790000000123);
    int64_t built = 0;
    assert(zchat_msg_opt_int(room, "seq", &built) == 0 && built == 1790000000123);
    zchat_msg_append_raw(msg, "events", "{\"seq\":1}");
    zchat_msg_set_object(msg, "seqs");
    zchat_msg_set_bool(msg, "complete", true);
    zchat_msg_set_string(msg, "text", "a\"b\x01");
    zchat_msg_set_string(msg, "text", "a\"b\x01");  // replaces
    char *out = zchat_msg_encode(msg);
    assert(streq(out, "{\"type\":\"rooms\",\"rooms\":[{\"name\":\"lobby\",\"seq\":1790000000123}],"
                      "\"events\":[{\"seq\":1}],\"seqs\":{},\"complete\":true,"
                      "\"text\":\"a\\\"b\\u0001\"}"));
    zchat_msg_t *back = zchat_msg_decode(out, strlen(out), NULL);
    assert(back);
    assert(zchat_msg_array_size(back, "rooms") == 1);
    assert(streq(zchat_msg_string(zchat_msg_array_object(back, "rooms", 0), "name"), "lobby"));
    assert(!zchat_msg_array_object(back, "rooms", 1));
    assert(zchat_msg_object(back, "seqs") && !zchat_msg_object(back, "rooms"));
    assert(streq(zchat_msg_member(back, 0), "type") && !zchat_msg_member(back, 6));
    zchat_msg_destroy(&back);
    free(out);
    zchat_msg_destroy(&msg);
    zchat_msg_destroy(&msg);
    assert(msg == NULL);

    // Integers are written as snprintf would
    const int64_t ints[] = {0, 7, -1, 10, -10, 1790000000123, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char text[24], expected[24];
        s_int_text(ints[i], text);
        snprintf(expected, sizeof expected, "%" PRId64, ints[i]);
        assert(streq(text, expected));
    }

    // Numbers encode to what they were (cJSON alone: 9.00719925471e+15, -9e+15, 1e+15, and
    // 9.00719925474099e+15 for 2^53, which reads back as 9007199254740990)
    json = "{\"a\":9007199254709999,\"b\":[-8999999999999999,{\"c\":1000000000000000}],"
           "\"d\":9007199254740992,\"e\":0.30000000000000004,\"f\":1e15,\"g\":-7}";
    msg = zchat_msg_decode(json, strlen(json), NULL);
    zchat_msg_set_int(msg, "h", 9007199254740991);
    out = zchat_msg_encode(msg);
    assert(streq(out, "{\"a\":9007199254709999,\"b\":[-8999999999999999,{\"c\":1000000000000000}],"
                      "\"d\":9007199254740992,\"e\":0.30000000000000004,\"f\":1000000000000000,"
                      "\"g\":-7,\"h\":9007199254740991}"));
    back = zchat_msg_decode(out, strlen(out), NULL);
    assert(zchat_msg_opt_int(back, "a", &i64) == 0 && i64 == 9007199254709999);
    assert(zchat_msg_opt_int(back, "h", &i64) == 0 && i64 == 9007199254740991);
    zchat_msg_destroy(&back);
    free(out);
    assert(zchat_msg_opt_int(msg, "h", &i64) == 0 && i64 == 9007199254740991);  // msg unchanged
    zchat_msg_destroy(&msg);
}
