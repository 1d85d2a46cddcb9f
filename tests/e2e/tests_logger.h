// tests_logger.h - the e2e scenarios of zchat-logger, one line each (main.c adds them to its table)
#ifndef TESTS_LOGGER_H_INCLUDED
#define TESTS_LOGGER_H_INCLUDED

#define E2E_LOGGER_TESTS(X)                                                                        \
    X(logger_options)                                                                              \
    X(logger_stream_restarts)                                                                      \
    X(logger_tiny_hwm)                                                                             \
    X(logger_all_new_room)                                                                         \
    X(logger_sighup)                                                                               \
    X(logger_text_format)                                                                          \
    X(logger_lost_marker)                                                                          \
    X(logger_torn_line)                                                                            \
    X(logger_unreachable)                                                                          \
    X(logger_write_error)                                                                          \
    X(logger_room_created_later)                                                                   \
    X(logger_port_taken)                                                                           \
    X(logger_text_restarts)

#define E2E_DECLARE(name) void test_##name(void);
E2E_LOGGER_TESTS(E2E_DECLARE)
#undef E2E_DECLARE

#endif
