// zchat_arg.c - command-line values: one rule and one message for every program
#include "zchat_prelude.h"
#include "zchat_arg.h"

int
zchat_arg_number(const char *text, long min, long max, long *value)
{
    assert(text && value);
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno || end == text || *end || n < min || n > max)
        return -1;
    *value = n;
    return 0;
}

int
zchat_arg_bad(const char *program, const char *option, const char *value, const char *expect)
{
    assert(program && option && value && expect);
    fprintf(stderr, "%s: invalid %s '%s': expected %s (see --help)\n", program, option, value,
            expect);
    return 2;
}

void
zchat_arg_test(bool verbose)
{
    (void)verbose;
    long n = 0;
    assert(zchat_arg_number("12345", 0, 65535, &n) == 0 && n == 12345);
    assert(zchat_arg_number("0", 0, 10, &n) == 0 && n == 0);
    n = 7;
    assert(zchat_arg_number("65536", 0, 65535, &n) == -1 && n == 7);
    assert(zchat_arg_number("-1", 0, 10, &n) == -1);
    assert(zchat_arg_number("", 0, 10, &n) == -1);
    assert(zchat_arg_number("12x", 0, 100, &n) == -1);
    assert(zchat_arg_number("99999999999999999999999", 0, 100, &n) == -1);
}
