// account.h - password accounts: hashing and checking passwords (the only code that calls
// libsodium's crypto_pwhash), and the rules a password must follow
#ifndef ACCOUNT_H_INCLUDED
#define ACCOUNT_H_INCLUDED

#include "zchat_prelude.h"

#define ACCOUNT_PASSWORD_MIN 8    // bytes of a password, at least
#define ACCOUNT_PASSWORD_MAX 256  // and at most

// Argon2id cost of a new hash: 2 passes over 19 MiB (the OWASP minimum for Argon2id). A check
// runs on the broker's one loop thread, so it must stay short: about 20 ms on a 2020s core,
// where libsodium's INTERACTIVE limits (64 MiB) take 70 ms and MODERATE (256 MiB) 550 ms. The
// cost is stored in each hash, so raising it here affects only new and changed passwords.
#define ACCOUNT_OPSLIMIT 2
#define ACCOUNT_MEMLIMIT (19u << 20)

// True if password may be set: ACCOUNT_PASSWORD_MIN to ACCOUNT_PASSWORD_MAX bytes of UTF-8
// without control characters (zchat_text_is_valid).
bool account_password_is_valid(const char *password);

// Hash password (crypto_pwhash_str, Argon2id). Returns a new string to free, or NULL if
// libsodium could not (out of memory).
char *account_hash(const char *password);

// True if password matches hash. With a NULL hash, checks against a fixed hash made on first
// use and returns false: an unknown name then costs as much time as a known one.
bool account_verify(const char *hash, const char *password);

void account_test(bool verbose);

#endif
