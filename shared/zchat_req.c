// zchat_req.c - one request frame decoded flat: the broker's reading of zchat-protocol(7) REQUESTS
//
// The strict scan (zchat_scan) reports each top-level member as spans of the frame; this module
// decodes names and string values into one byte buffer and numbers into integers. Nothing is
// allocated per request once the buffers have grown. A frame with a nested object is rare in a
// request (an unknown field): its inner names are checked for duplicates by zchat_msg_decode,
// so the two decoders can never disagree about what is valid JSON.
#include "zchat_prelude.h"
#include "zchat_msg.h"
#include "zchat_req.h"
#include "zchat_scan.h"

#define S_INT_LIMIT 9007199254740992ULL  // 2^53: the safe integers of RFC 8259 §6

typedef enum { S_NULL, S_BOOL, S_NUMBER, S_STRING, S_CONTAINER } s_kind_t;

// A top-level member. Names and strings are offsets into bytes: it moves as it grows.
typedef struct {
    size_t key;
    size_t key_size;
    s_kind_t kind;
    size_t string;   // S_STRING: offset of the decoded value, NUL-terminated
    bool is_int;     // S_NUMBER without fraction or exponent, |n| < 2^53
    int64_t number;  // its value when is_int
    bool boolean;
} s_member_t;

struct zchat_req {
    s_member_t *members;
    size_t members_size;
    size_t members_max;
    char *bytes;  // decoded names and strings
    size_t bytes_size;
    size_t bytes_max;
    const char **names;  // for the duplicate check of many members
    size_t names_max;
};

zchat_req_t *
zchat_req_new(void)
{
    return zmalloc(sizeof(zchat_req_t));
}

void
zchat_req_destroy(zchat_req_t **self_p)
{
    assert(self_p);
    if (*self_p) {
        zchat_req_t *self = *self_p;
        free(self->members);
        free(self->bytes);
        free(self->names);
        free(self);
        *self_p = NULL;
    }
}

// Decode the inside of a string the scan has found valid into bytes; returns its offset.
static size_t
s_unescape(zchat_req_t *self, const char *p, size_t size, size_t *decoded)
{
    if (self->bytes_size + size + 1 > self->bytes_max) {  // decoded is never longer
        self->bytes_max = (self->bytes_size + size + 1) * 2;
        self->bytes = realloc(self->bytes, self->bytes_max);
        assert(self->bytes);
    }
    size_t offset = self->bytes_size;
    *decoded = zchat_scan_unescape(p, size, self->bytes + offset);
    self->bytes_size += *decoded + 1;
    return offset;
}

// A number the scan has found valid: an integer unless it has a fraction, an exponent or too
// many digits.
static void
s_number(s_member_t *member, const char *p, size_t size)
{
    const char *end = p + size;
    bool negative = *p == '-';
    p += negative;
    if (end - p > 16 || memchr(p, '.', (size_t)(end - p)) || memchr(p, 'e', (size_t)(end - p)) ||
        memchr(p, 'E', (size_t)(end - p)))
        return;  // 17 digits are at least 10^16, past 2^53
    uint64_t n = 0;
    for (; p < end; p++)
        n = n * 10 + (uint64_t)(*p - '0');
    if (n >= S_INT_LIMIT)
        return;
    member->is_int = true;
    member->number = negative ? -(int64_t)n : (int64_t)n;
}

static void
s_on_member(void *arg, const zchat_scan_member_t *found)
{
    zchat_req_t *self = arg;
    if (self->members_size == self->members_max) {
        self->members_max = self->members_max ? self->members_max * 2 : 16;
        self->members = realloc(self->members, self->members_max * sizeof(s_member_t));
        assert(self->members);
    }
    s_member_t *member = &self->members[self->members_size++];
    *member = (s_member_t){0};
    member->key = s_unescape(self, found->key, found->key_size, &member->key_size);
    const char *value = found->value;
    size_t decoded;
    switch (*value) {
    case '"':
        member->kind = S_STRING;
        member->string = s_unescape(self, value + 1, found->value_size - 2, &decoded);
        break;
    case 't':
    case 'f':
        member->kind = S_BOOL;
        member->boolean = *value == 't';
        break;
    case 'n':
        member->kind = S_NULL;
        break;
    case '{':
    case '[':
        member->kind = S_CONTAINER;
        break;
    default:
        member->kind = S_NUMBER;
        s_number(member, value, found->value_size);
    }
}

static int
s_compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// True if two top-level members share a name: pairwise for a few, sorted for many (no hash
// table, whose collisions a client could choose).
static bool
s_has_duplicate_keys(zchat_req_t *self)
{
    size_t count = self->members_size;
    if (count <= 16) {
        for (size_t a = 0; a < count; a++)
            for (size_t b = a + 1; b < count; b++)
                if (self->members[a].key_size == self->members[b].key_size &&
                    memcmp(self->bytes + self->members[a].key, self->bytes + self->members[b].key,
                           self->members[a].key_size) == 0)
                    return true;
        return false;
    }
    if (count > self->names_max) {
        self->names_max = count;
        self->names = realloc(self->names, count * sizeof(char *));
        assert(self->names);
    }
    for (size_t i = 0; i < count; i++)
        self->names[i] = self->bytes + self->members[i].key;
    qsort(self->names, count, sizeof(char *), s_compare_names);
    for (size_t i = 1; i < count; i++)
        if (streq(self->names[i - 1], self->names[i]))
            return true;
    return false;
}

int
zchat_req_decode(zchat_req_t *self, const char *data, size_t size, const char **reason)
{
    assert(self);
    const char *dummy;
    if (!reason)
        reason = &dummy;
    self->members_size = 0;
    self->bytes_size = 0;
    zchat_scan_t scan = {.on_member = s_on_member, .arg = self};
    bool ok = zchat_scan_frame(&scan, data, size);
    zchat_scan_end(&scan);
    if (ok && s_has_duplicate_keys(self)) {
        ok = false;
        scan.error = "duplicate member name";
    }
    if (ok && scan.objects > 1) {
        // Inner objects: let the tree decoder judge them, so both always agree
        zchat_msg_t *tree = zchat_msg_decode(data, size, &scan.error);
        ok = tree != NULL;
        zchat_msg_destroy(&tree);
    }
    if (!ok) {
        self->members_size = 0;
        *reason = scan.error;
        return -1;
    }
    *reason = NULL;
    return 0;
}

static const s_member_t *
s_member(const zchat_req_t *self, const char *key)
{
    assert(self && key);
    size_t size = strlen(key);
    for (size_t i = 0; i < self->members_size; i++) {
        const s_member_t *member = &self->members[i];
        if (member->key_size == size && memcmp(self->bytes + member->key, key, size) == 0)
            return member;
    }
    return NULL;
}

bool
zchat_req_has(const zchat_req_t *self, const char *key)
{
    return s_member(self, key) != NULL;
}

const char *
zchat_req_string(const zchat_req_t *self, const char *key)
{
    const s_member_t *member = s_member(self, key);
    return member && member->kind == S_STRING ? self->bytes + member->string : NULL;
}

const char *
zchat_req_type(const zchat_req_t *self)
{
    return zchat_req_string(self, "type");
}

int
zchat_req_opt_string(const zchat_req_t *self, const char *key, const char **value)
{
    assert(value);
    const s_member_t *member = s_member(self, key);
    if (!member)
        return 0;
    if (member->kind != S_STRING)
        return -1;
    *value = self->bytes + member->string;
    return 0;
}

int
zchat_req_opt_int(const zchat_req_t *self, const char *key, int64_t *value)
{
    assert(value);
    const s_member_t *member = s_member(self, key);
    if (!member)
        return 0;
    if (!member->is_int)
        return -1;
    *value = member->number;
    return 0;
}

int
zchat_req_opt_bool(const zchat_req_t *self, const char *key, bool *value)
{
    assert(value);
    const s_member_t *member = s_member(self, key);
    if (!member)
        return 0;
    if (member->kind != S_BOOL)
        return -1;
    *value = member->boolean;
    return 0;
}

// --- The requests of zchat-protocol(7) REQUESTS ---

typedef enum { S_FIELD_STRING, S_FIELD_INT, S_FIELD_BOOL } s_field_kind_t;

typedef struct {
    const char *name;
    s_field_kind_t kind;
} s_field_t;

#define S_FIELDS_MAX 6

static const struct {
    const char *type;
    s_field_t fields[S_FIELDS_MAX];
} s_requests[] = {
    {"hello",
     {{"user", S_FIELD_STRING},
      {"proto", S_FIELD_INT},
      {"password", S_FIELD_STRING},
      {"resume", S_FIELD_STRING},
      {"client", S_FIELD_STRING},
      {"observer", S_FIELD_BOOL}}},
    {"join", {{"room", S_FIELD_STRING}}},
    {"leave", {{"room", S_FIELD_STRING}}},
    {"rooms", {{NULL, S_FIELD_STRING}}},
    {"users", {{"room", S_FIELD_STRING}}},
    {"say", {{"room", S_FIELD_STRING}, {"text", S_FIELD_STRING}}},
    {"msg", {{"to", S_FIELD_STRING}, {"text", S_FIELD_STRING}}},
    {"history", {{"room", S_FIELD_STRING}, {"since", S_FIELD_INT}, {"limit", S_FIELD_INT}}},
    {"status", {{"status", S_FIELD_STRING}, {"note", S_FIELD_STRING}}},
    {"ping", {{NULL, S_FIELD_STRING}}},
    {"quit", {{"reason", S_FIELD_STRING}}},
    {"register", {{"user", S_FIELD_STRING}, {"password", S_FIELD_STRING}}},  // --open-registration
};

#define S_REQUESTS (sizeof s_requests / sizeof s_requests[0])

bool
zchat_req_is_type(const char *type)
{
    assert(type);
    for (size_t i = 0; i < S_REQUESTS; i++)
        if (streq(type, s_requests[i].type))
            return true;
    return false;
}

const char *
zchat_req_id(const zchat_req_t *self)
{
    const char *id = zchat_req_string(self, "id");
    if (!id)
        return NULL;
    size_t len = strlen(id);
    return len >= 1 && len <= ZCHAT_ID_MAX ? id : NULL;
}

bool
zchat_req_fields_ok(const zchat_req_t *self)
{
    const char *type = zchat_req_type(self);
    assert(type);
    if (zchat_req_has(self, "id") && !zchat_req_id(self))
        return false;
    for (size_t i = 0; i < S_REQUESTS; i++) {
        if (!streq(type, s_requests[i].type))
            continue;
        for (const s_field_t *f = s_requests[i].fields; f < s_requests[i].fields + S_FIELDS_MAX;
             f++) {
            if (!f->name)
                break;
            const char *s;
            int64_t n;
            bool b;
            int rc = f->kind == S_FIELD_STRING ? zchat_req_opt_string(self, f->name, &s)
                     : f->kind == S_FIELD_INT  ? zchat_req_opt_int(self, f->name, &n)
                                               : zchat_req_opt_bool(self, f->name, &b);
            if (rc == -1)
                return false;
        }
        return true;
    }
    return false;  // not a request type
}

// --- Self-test ---

// Both decoders agree on json: the same verdict and reason, and every top-level member reads
// the same.
static void
s_agree(zchat_req_t *req, const char *json, size_t size)
{
    const char *tree_reason, *flat_reason;
    zchat_msg_t *tree = zchat_msg_decode(json, size, &tree_reason);
    int rc = zchat_req_decode(req, json, size, &flat_reason);
    if ((tree != NULL) != (rc == 0) || (!tree && !streq(tree_reason, flat_reason)))
        fprintf(stderr, "disagree on %.*s: %s / %s\n", (int)size, json, tree ? "ok" : tree_reason,
                rc == 0 ? "ok" : flat_reason);
    assert((tree != NULL) == (rc == 0));
    if (!tree) {
        assert(streq(tree_reason, flat_reason));
        return;
    }
    for (size_t i = 0; zchat_msg_member(tree, i); i++) {
        const char *key = zchat_msg_member(tree, i);
        assert(zchat_req_has(req, key));
        const char *s1 = NULL, *s2 = NULL;
        int64_t n1 = 0, n2 = 0;
        bool b1 = false, b2 = false;
        assert(zchat_msg_opt_string(tree, key, &s1) == zchat_req_opt_string(req, key, &s2));
        assert((!s1 && !s2) || streq(s1, s2));
        assert(zchat_msg_opt_int(tree, key, &n1) == zchat_req_opt_int(req, key, &n2) && n1 == n2);
        assert(zchat_msg_opt_bool(tree, key, &b1) == zchat_req_opt_bool(req, key, &b2) && b1 == b2);
    }
    zchat_msg_destroy(&tree);
}

void
zchat_req_test(bool verbose)
{
    (void)verbose;
    zchat_req_t *req = zchat_req_new();
    const char *frames[] = {
        "{}",
        " \r\n\t{\"type\":\"ping\"} \n",
        ("{\"type\":\"say\",\"room\":\"py\",\"text\":\"caf\xC3\xA9 \\\"q\\\" \\\\ \\/ "
         "\\b\\f\\n\\r\\t\","
         "\"id\":\"s1\"}"),
        "{\"s\":\"\\u00e9\\u20AC\\ud83d\\ude00\\u0041\\u0000x\"}",
        "{\"k\\u0065y\":1,\"key\":2}",  // the same name, escaped: a duplicate
        "{\"a\":[1,-0,0.5,1e9,-1.5E-3,true,false,null,\"\",{}],\"b\":{\"c\":[]}}",
        "{\"o\":{\"k\":1,\"k\":1}}",
        ("{\"n\":9007199254740991,\"m\":-9007199254740991,\"big\":9007199254740992,"
         "\"bigger\":12345678901234567890,\"z\":-0,\"f\":1.0,\"e\":1e2,\"E\":2E1}"),
        "{\"t\":true,\"f\":false,\"z\":null}",
        "",
        "   ",
        "[]",
        "42",
        "\"str\"",
        "{",
        "{\"a\":1,}",
        "{\"a\":1} x",
        "{\"a\":01}",
        "{\"a\":\"x\ty\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\xC3\"}",
        "{\"a\":1,\"a\":2}",
        "{\"k\\u0000x\":1}",
        "{\"a\":[1 2]}",
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++)
        s_agree(req, frames[i], strlen(frames[i]));
    s_agree(req, "{}garbage", 2);
    s_agree(req, "{\"a\":1}", 3);

    // Many members: the sorted duplicate check, both ways
    char wide[100 * 12 + 8];
    size_t n = 0;
    wide[n++] = '{';
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(wide + n, "%s\"k%d\":%d", i ? "," : "", i, i);
    wide[n++] = '}';
    s_agree(req, wide, n);
    int64_t i64 = 0;
    assert(zchat_req_decode(req, wide, n, NULL) == 0);
    assert(zchat_req_opt_int(req, "k99", &i64) == 0 && i64 == 99);
    n = 0;
    wide[n++] = '{';
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(wide + n, "%s\"k%d\":%d", i ? "," : "", i % 99, i);
    wide[n++] = '}';  // k0 twice
    s_agree(req, wide, n);
    assert(zchat_req_decode(req, wide, n, NULL) == -1 && !zchat_req_has(req, "k1"));

    // Reading
    const char *json = "{\"type\":\"history\",\"room\":\"py\",\"since\":5,\"limit\":1.0,"
                       "\"nul\":\"al\\u0000ice\",\"id\":\"r1\"}";
    assert(zchat_req_decode(req, json, strlen(json), NULL) == 0);
    assert(streq(zchat_req_type(req), "history") && streq(zchat_req_id(req), "r1"));
    assert(zchat_req_opt_int(req, "since", &i64) == 0 && i64 == 5);
    assert(zchat_req_opt_int(req, "limit", &i64) == -1);
    const char *s = NULL;
    assert(zchat_req_opt_string(req, "nul", &s) == 0 && strlen(s) == 6 && s[2] == ZCHAT_MSG_NUL);
    assert(!zchat_req_string(req, "TYPE") && !zchat_req_has(req, "Room"));
    assert(!zchat_req_fields_ok(req));  // limit 1.0
    assert(zchat_req_is_type("history") && !zchat_req_is_type("History"));

    json = "{\"type\":\"hello\",\"user\":\"al\",\"proto\":1,\"observer\":true,\"x\":[1]}";
    assert(zchat_req_decode(req, json, strlen(json), NULL) == 0 && zchat_req_fields_ok(req));
    json = "{\"type\":\"hello\",\"user\":\"al\",\"observer\":\"yes\"}";
    assert(zchat_req_decode(req, json, strlen(json), NULL) == 0 && !zchat_req_fields_ok(req));
    json = "{\"type\":\"ping\",\"id\":\"\"}";
    assert(zchat_req_decode(req, json, strlen(json), NULL) == 0);
    assert(!zchat_req_id(req) && !zchat_req_fields_ok(req));
    zchat_req_destroy(&req);
    zchat_req_destroy(&req);
}
