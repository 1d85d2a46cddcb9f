// tests_security.h - the e2e scenarios of CURVE encryption and password accounts, one line each
// (main.c adds them to its table)
#ifndef TESTS_SECURITY_H_INCLUDED
#define TESTS_SECURITY_H_INCLUDED

#define E2E_SECURITY_TESTS(X)                                                                      \
    X(sec_keygen)                                                                                  \
    X(sec_curve_end_to_end)                                                                        \
    X(sec_curve_keys_kept)                                                                         \
    X(sec_curve_wrong_key)                                                                         \
    X(sec_curve_zchat_wrong_key)                                                                   \
    X(sec_curve_clients_allowlist)                                                                 \
    X(sec_curve_logger)                                                                            \
    X(sec_accounts_need_curve)                                                                     \
    X(sec_user_commands)                                                                           \
    X(sec_accounts_required)                                                                       \
    X(sec_accounts_optional)                                                                       \
    X(sec_auth_slowdown)                                                                           \
    X(sec_register)                                                                                \
    X(sec_no_password_in_logs)                                                                     \
    X(sec_zchat_password_file)                                                                     \
    X(sec_zchat_password_prompt)                                                                   \
    X(sec_no_impersonation)

#define E2E_DECLARE(name) void test_##name(void);
E2E_SECURITY_TESTS(E2E_DECLARE)
#undef E2E_DECLARE

#endif
