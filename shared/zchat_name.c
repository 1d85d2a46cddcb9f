// zchat_name.c - user and room names (zchat-protocol(7) NAMES AND LIMITS)
#include "zchat_prelude.h"
#include "zchat_name.h"

// Locale-independent ASCII classes: <ctype.h> depends on the locale.
static bool
s_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char
s_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool
zchat_name_is_user(const char *name)
{
    assert(name);
    if (!s_is_alpha(name[0]))
        return false;
    size_t len = 1;
    for (; name[len]; len++) {
        char c = name[len];
        if (!(s_is_alpha(c) || s_is_digit(c) || c == '_' || c == '-'))
            return false;
    }
    return len <= ZCHAT_NAME_MAX;
}

int
zchat_name_fold(const char *name, char *fold, size_t size)
{
    assert(name && fold);
    size_t len = strlen(name);
    if (len + 1 > size)
        return -1;
    for (size_t i = 0; i <= len; i++)
        fold[i] = s_lower(name[i]);
    return 0;
}

int
zchat_name_room(const char *input, char *room, size_t size)
{
    assert(input && room);
    if (input[0] == '#')
        input++;
    size_t len = strlen(input);
    if (len == 0 || len > ZCHAT_NAME_MAX || len + 1 > size)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = s_lower(input[i]);  // a non-ASCII byte stays >= 0x80 and fails below
        bool ok = (c >= 'a' && c <= 'z') || s_is_digit(c) || (i > 0 && (c == '_' || c == '-'));
        if (!ok)
            return -1;
        room[i] = c;
    }
    room[len] = 0;
    return 0;
}

bool
zchat_name_is_room(const char *name)
{
    assert(name);
    char room[ZCHAT_NAME_MAX + 1];
    return zchat_name_room(name, room, sizeof room) == 0 && streq(room, name);
}

void
zchat_name_test(bool verbose)
{
    (void)verbose;
    assert(zchat_name_is_user("Alice"));
    assert(zchat_name_is_user("a"));
    assert(zchat_name_is_user("bob_the-2nd"));
    assert(zchat_name_is_user("A234567890123456789012345678901b"));    // 32
    assert(!zchat_name_is_user("A2345678901234567890123456789012c"));  // 33
    assert(!zchat_name_is_user(""));
    assert(!zchat_name_is_user("1abc"));
    assert(!zchat_name_is_user("_abc"));
    assert(!zchat_name_is_user("al ice"));
    assert(!zchat_name_is_user("al\xC3\xA9"));

    char fold[ZCHAT_NAME_MAX + 1];
    assert(zchat_name_fold("AliCe", fold, sizeof fold) == 0);
    assert(streq(fold, "alice"));
    assert(zchat_name_fold("Alice", fold, 5) == -1);

    char room[ZCHAT_NAME_MAX + 1];
    assert(zchat_name_room("#Python", room, sizeof room) == 0);
    assert(streq(room, "python"));
    assert(zchat_name_room("lobby", room, sizeof room) == 0);
    assert(streq(room, "lobby"));
    assert(zchat_name_room("9lives_a-b", room, sizeof room) == 0);
    assert(zchat_name_room("##py", room, sizeof room) == -1);
    assert(zchat_name_room("#", room, sizeof room) == -1);
    assert(zchat_name_room("", room, sizeof room) == -1);
    assert(zchat_name_room("-py", room, sizeof room) == -1);
    assert(zchat_name_room("py thon", room, sizeof room) == -1);
    assert(zchat_name_room("caf\xC3\xA9", room, sizeof room) == -1);
    assert(zchat_name_room("abcdefghijabcdefghijabcdefghij12", room, sizeof room) == 0);
    assert(zchat_name_room("#abcdefghijabcdefghijabcdefghij12", room, sizeof room) == 0);
    assert(zchat_name_room("abcdefghijabcdefghijabcdefghij123", room, sizeof room) == -1);
    assert(zchat_name_is_room("python") && zchat_name_is_room("9lives_a-b"));
    assert(!zchat_name_is_room("#python") && !zchat_name_is_room("Python"));
    assert(!zchat_name_is_room("") && !zchat_name_is_room("x\x1b[2J"));
}
