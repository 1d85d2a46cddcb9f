// tests_front.h - the e2e scenarios of what the client programs share, one line each (main.c
// adds them to its table)
#ifndef TESTS_FRONT_H_INCLUDED
#define TESTS_FRONT_H_INCLUDED

#define E2E_FRONT_TESTS(X)                                                                         \
    X(front_logger_server_full)                                                                    \
    X(front_name_rules)

#define E2E_DECLARE(name) void test_##name(void);
E2E_FRONT_TESTS(E2E_DECLARE)
#undef E2E_DECLARE

#endif
