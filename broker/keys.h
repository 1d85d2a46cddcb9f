// keys.h - the broker's CURVE certificate (--curve): made on first use, loaded afterwards
#ifndef KEYS_H_INCLUDED
#define KEYS_H_INCLUDED

#include "zchat_prelude.h"

#define KEYS_CERT_NAME                                                                             \
    "broker.cert"  // in the keys directory; the secret half in broker.cert_secret

// Load the certificate in dir (both keys, from broker.cert_secret), or make one there when
// there is none: dir is created (mode 0700), then broker.cert (public) and broker.cert_secret
// (mode 0600). Returns a new certificate, or NULL with *error a new sentence saying why.
zcert_t *keys_load(const char *dir, char **error);

// Print a new key pair on out: "public-key: Z85" and "secret-key: Z85", one per line.
void keys_print_new(FILE *out);

void keys_test(bool verbose);

#endif
