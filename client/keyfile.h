// keyfile.h - CURVE keys and certificates named on the command line (--server-key,
// --client-cert): a key as text, a CZMQ certificate, or zchat-broker keygen's output
#ifndef KEYFILE_H_INCLUDED
#define KEYFILE_H_INCLUDED

#include "zchat_prelude.h"

#define KEYFILE_KEY_LEN 40  // characters of a Z85 CURVE key

// --server-key: key is 40 Z85 characters, or a file holding one: a CZMQ certificate (public or
// secret), the output of zchat-broker keygen, or the key alone. Writes the key into
// out[KEYFILE_KEY_LEN + 1]. Returns 0, or -1 with a sentence in error[size].
int keyfile_server_key(const char *key, char *out, char *error, size_t size);

// --client-cert: the certificate in path (its secret key from path_secret, or from path
// itself: a CZMQ certificate or zchat-broker keygen output). When there is no such file, one
// is made: path (public, for the broker's --clients directory) and path_secret (mode 0600),
// and *made is set. Returns a new certificate, or NULL with a sentence in error[size].
zcert_t *keyfile_client_cert(const char *path, bool *made, char *error, size_t size);

void keyfile_test(bool verbose);

#endif
