// tests.h - every e2e scenario, one line each: main.c builds its table from this list
#ifndef TESTS_H_INCLUDED
#define TESTS_H_INCLUDED

#define E2E_TESTS(X)                                                                               \
    X(cli_help)                                                                                    \
    X(cli_version)                                                                                 \
    X(cli_bad_flag)                                                                                \
    X(cli_port_in_use)                                                                             \
    X(cli_bad_database)                                                                            \
    X(cli_db_in_use)                                                                               \
    X(cli_ready_line)                                                                              \
    X(cli_options)                                                                                 \
    X(cli_default_feed_port)                                                                       \
    X(cli_sigint)                                                                                  \
    X(cli_verbose_quit)                                                                            \
    X(req_hello_welcome)                                                                           \
    X(req_join_leave)                                                                              \
    X(req_rooms)                                                                                   \
    X(req_users)                                                                                   \
    X(req_say_ack)                                                                                 \
    X(req_msg_private)                                                                             \
    X(req_status_ok)                                                                               \
    X(req_ping_pong)                                                                               \
    X(req_quit_bye)                                                                                \
    X(err_bad_frame)                                                                               \
    X(err_bad_json)                                                                                \
    X(err_bad_request)                                                                             \
    X(err_unknown_type)                                                                            \
    X(err_proto_mismatch)                                                                          \
    X(err_not_logged_in)                                                                           \
    X(err_already_logged_in)                                                                       \
    X(err_forbidden)                                                                               \
    X(err_invalid_name)                                                                            \
    X(err_name_taken)                                                                              \
    X(err_no_such_user)                                                                            \
    X(err_no_such_room)                                                                            \
    X(err_not_in_room)                                                                             \
    X(err_bad_text)                                                                                \
    X(err_too_many_rooms)                                                                          \
    X(err_max_rooms)                                                                               \
    X(err_max_sessions)                                                                            \
    X(err_ordering)                                                                                \
    X(err_id_echo)                                                                                 \
    X(err_id_nul_echo)                                                                             \
    X(names_case_insensitive)                                                                      \
    X(names_room_canonical)                                                                        \
    X(names_room_non_ascii)                                                                        \
    X(feed_topic_isolation)                                                                        \
    X(feed_private_not_on_pub)                                                                     \
    X(feed_presence_events)                                                                        \
    X(feed_seq)                                                                                    \
    X(feed_joined_seq_members)                                                                     \
    X(feed_pong_seqs)                                                                              \
    X(feed_rooms_users_sorted)                                                                     \
    X(history_since_limit)                                                                         \
    X(history_limit_cap)                                                                           \
    X(history_retention)                                                                           \
    X(history_restart_sigterm)                                                                     \
    X(history_restart_sigkill)                                                                     \
    X(history_matches_feed)                                                                        \
    X(history_reply_bounded)                                                                       \
    X(liveness_timeout)                                                                            \
    X(resume_live)                                                                                 \
    X(handover_identity)                                                                           \
    X(resume_expired)                                                                              \
    X(resume_token_rules)                                                                          \
    X(observer_session)                                                                            \
    X(retry_say_id)                                                                                \
    X(retry_msg_id)                                                                                \
    X(rate_limit)                                                                                  \
    X(shutdown_presence)                                                                           \
    X(shutdown_under_load)                                                                         \
    X(slow_consumer)                                                                               \
    X(hostile_nul_in_name)                                                                         \
    X(hostile_deep_nesting)                                                                        \
    X(hostile_frame_limit)                                                                         \
    X(hostile_disconnect)                                                                          \
    X(hostile_vanished_peer)                                                                       \
    X(load_sessions)                                                                               \
    X(hostile_flood)                                                                               \
    X(bench_quick)                                                                                 \
    X(bench_durable_relay)
#define E2E_DECLARE(name) void test_##name(void);
E2E_TESTS(E2E_DECLARE)
#undef E2E_DECLARE

#endif
