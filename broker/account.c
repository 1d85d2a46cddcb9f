// account.c - password accounts: hashing and checking passwords (the only code that calls
// libsodium's crypto_pwhash), and the rules a password must follow
//
// A password is stored only as crypto_pwhash_str's string (Argon2id, random salt, cost
// included), never in clear, and never reaches a log.
#include "zchat_prelude.h"
#include "account.h"
#include "zchat_text.h"
#include <sodium.h>

bool
account_password_is_valid(const char *password)
{
    assert(password);
    return zchat_text_is_valid(password, ACCOUNT_PASSWORD_MIN, ACCOUNT_PASSWORD_MAX);
}

char *
account_hash(const char *password)
{
    assert(password);
    if (sodium_init() < 0)  // idempotent
        return NULL;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), ACCOUNT_OPSLIMIT, ACCOUNT_MEMLIMIT) !=
        0)
        return NULL;
    char *copy = strdup(hash);
    assert(copy);
    return copy;
}

bool
account_verify(const char *hash, const char *password)
{
    assert(password);
    // Made once, from a password nobody types: an unknown name gets the same work as a known one
    static char dummy[crypto_pwhash_STRBYTES];
    if (!hash) {
        if (!*dummy) {
            char *made = account_hash("\x01 no such account \x01");
            if (made)
                snprintf(dummy, sizeof dummy, "%s", made);
            free(made);
        }
        if (*dummy) {
            int rc = crypto_pwhash_str_verify(dummy, password, strlen(password));
            (void)rc;
        }
        return false;
    }
    // libsodium reads a whole crypto_pwhash_STRBYTES buffer: give it one, whatever was stored
    char stored[crypto_pwhash_STRBYTES] = "";
    if (strlen(hash) >= sizeof stored || sodium_init() < 0)
        return false;
    memcpy(stored, hash, strlen(hash));
    return crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
}

void
account_test(bool verbose)
{
    (void)verbose;
    assert(account_password_is_valid("correct horse"));
    assert(account_password_is_valid("12345678"));
    assert(!account_password_is_valid("1234567"));  // too short
    assert(!account_password_is_valid("tab\tand\nnewline"));
    assert(!account_password_is_valid("caf\xC3"));  // not UTF-8
    char longest[ACCOUNT_PASSWORD_MAX + 2];
    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    assert(!account_password_is_valid(longest));
    longest[ACCOUNT_PASSWORD_MAX] = 0;
    assert(account_password_is_valid(longest));

    char *hash = account_hash("correct horse");
    assert(hash && strncmp(hash, "$argon2id$", 10) == 0);
    assert(!strstr(hash, "correct horse"));
    assert(account_verify(hash, "correct horse"));
    assert(!account_verify(hash, "correct horsE"));
    assert(!account_verify(hash, ""));
    char *again = account_hash("correct horse");
    assert(again && strneq(hash, again));  // a new salt each time
    assert(account_verify(again, "correct horse"));
    assert(!account_verify(NULL, "correct horse"));  // no account: false, after the same work
    assert(!account_verify("not a hash", "correct horse"));
    free(hash);
    free(again);
}
