// main.c - the e2e runner: `e2e --list` names every scenario, `e2e NAME` runs one
#include "zchat_prelude.h"
#include "harness.h"
#include "tests.h"
#include "tests_zchat.h"
#include "tests_logger.h"
#include "tests_security.h"
#include "tests_front.h"

typedef void test_fn(void);

#define S_ENTRY(name) {#name, test_##name},
static const struct {
    const char *name;
    test_fn *run;
} s_tests[] = {E2E_TESTS(S_ENTRY) E2E_ZCHAT_TESTS(S_ENTRY) E2E_LOGGER_TESTS(S_ENTRY)
                   E2E_SECURITY_TESTS(S_ENTRY) E2E_FRONT_TESTS(S_ENTRY)};
#undef S_ENTRY

#define S_TESTS (sizeof s_tests / sizeof s_tests[0])

int
main(int argc, char **argv)
{
    if (argc == 2 && streq(argv[1], "--list")) {
        for (size_t t = 0; t < S_TESTS; t++)
            printf("%s\n", s_tests[t].name);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: e2e --list | e2e NAME (env ZCHAT_BROKER: the broker binary)\n");
        return 2;
    }
    for (size_t t = 0; t < S_TESTS; t++)
        if (streq(argv[1], s_tests[t].name)) {
            harness_begin(s_tests[t].name);
            s_tests[t].run();
            return harness_end();  // fails (exit 1) on a broker that does not stop cleanly
        }
    fprintf(stderr, "e2e: no test named '%s' (try --list)\n", argv[1]);
    return 2;
}
