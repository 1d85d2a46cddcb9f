// tests_zchat.h - the e2e scenarios of the zchat CLI, one line each (main.c adds them to its table)
#ifndef TESTS_ZCHAT_H_INCLUDED
#define TESTS_ZCHAT_H_INCLUDED

#define E2E_ZCHAT_TESTS(X)                                                                         \
    X(zchat_options)                                                                               \
    X(zchat_unreachable)                                                                           \
    X(zchat_unknown_host)                                                                          \
    X(zchat_login_refused)                                                                         \
    X(zchat_exit)                                                                                  \
    X(zchat_messages)                                                                              \
    X(zchat_private)                                                                               \
    X(zchat_rooms)                                                                                 \
    X(zchat_own_line_room)                                                                         \
    X(zchat_start_room)                                                                            \
    X(zchat_paste)                                                                                 \
    X(zchat_paste_paced)                                                                           \
    X(zchat_undelivered)                                                                           \
    X(zchat_away)                                                                                  \
    X(zchat_history)                                                                               \
    X(zchat_help)                                                                                  \
    X(zchat_rate_limited)                                                                          \
    X(zchat_broker_restart)                                                                        \
    X(zchat_private_repeat)                                                                        \
    X(zchat_private_new_run)                                                                       \
    X(zchat_escape_injection)                                                                      \
    X(zchat_pty_half_line)                                                                         \
    X(zchat_pty_paste)                                                                             \
    X(zchat_pty_questions)                                                                         \
    X(zchat_last_line)                                                                             \
    X(zchat_broker_amnesia)                                                                        \
    X(zchat_rejoin_rate_limited)

#define E2E_DECLARE(name) void test_##name(void);
E2E_ZCHAT_TESTS(E2E_DECLARE)
#undef E2E_DECLARE

#endif
