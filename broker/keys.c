// keys.c - the broker's CURVE certificate (--curve): made on first use, loaded afterwards
//
// CZMQ's zcert files: broker.cert holds the public key, for anyone; broker.cert_secret holds
// both keys and must stay private (mode 0600, in a 0700 directory).
#include "zchat_prelude.h"
#include "keys.h"
#include <sys/stat.h>

// True if the cert has a secret key: zcert_load of a public file leaves it all zero.
static bool
s_has_secret(zcert_t *cert)
{
    const byte *secret = zcert_secret_key(cert);
    for (int i = 0; i < 32; i++)
        if (secret[i])
            return true;
    return false;
}

zcert_t *
keys_load(const char *dir, char **error)
{
    assert(dir && error);
    *error = NULL;
    char *path = zsys_sprintf("%s/%s", dir, KEYS_CERT_NAME);
    char *secret_path = zsys_sprintf("%s_secret", path);
    zcert_t *cert = NULL;
    struct stat st;
    if (stat(secret_path, &st) == 0) {
        cert = zcert_load(path);  // reads the secret file, which has both keys
        if (!cert || !s_has_secret(cert)) {
            zcert_destroy(&cert);
            *error = zsys_sprintf("%s is not a CURVE secret certificate", secret_path);
        } else if (st.st_mode & 077) {
            zsys_warning("%s can be read by other users: chmod 600 it", secret_path);
        }
    } else if (errno != ENOENT) {
        *error = zsys_sprintf("cannot read %s: %s", secret_path, strerror(errno));
    } else if (stat(path, &st) == 0) {
        *error = zsys_sprintf("%s has no %s beside it: the public half alone cannot serve", path,
                              secret_path);
    } else if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
        *error = zsys_sprintf("cannot make the keys directory %s: %s", dir, strerror(errno));
    } else {
        cert = zcert_new();
        assert(cert);
        zcert_set_meta(cert, "name", "zchat-broker");
        // zcert_save writes the secret file with a private umask; chmod says it for sure
        if (zcert_save(cert, path) == -1 || chmod(secret_path, 0600) == -1) {
            *error = zsys_sprintf("cannot write %s: %s", secret_path, strerror(errno));
            zcert_destroy(&cert);
            remove(secret_path);
        } else {
            zsys_notice("made a new broker certificate in %s", dir);
        }
    }
    zstr_free(&path);
    zstr_free(&secret_path);
    return cert;
}

void
keys_print_new(FILE *out)
{
    assert(out);
    zcert_t *cert = zcert_new();
    assert(cert);
    fprintf(out, "public-key: %s\nsecret-key: %s\n", zcert_public_txt(cert),
            zcert_secret_txt(cert));
    zcert_destroy(&cert);
}

void
keys_test(bool verbose)
{
    (void)verbose;
    char dir[] = "/tmp/zchat-keys-XXXXXX";
    assert(mkdtemp(dir));
    char *keys = zsys_sprintf("%s/keys", dir);
    char *error = NULL;
    zcert_t *made = keys_load(keys, &error);  // first use: made
    assert(made && !error);
    char *secret_path = zsys_sprintf("%s/%s_secret", keys, KEYS_CERT_NAME);
    struct stat st;
    assert(stat(secret_path, &st) == 0 && (st.st_mode & 0777) == 0600);
    assert(stat(keys, &st) == 0 && (st.st_mode & 0777) == 0700);
    zcert_t *loaded = keys_load(keys, &error);  // afterwards: the same keys
    assert(loaded && !error && zcert_eq(made, loaded));
    zcert_destroy(&loaded);

    // The public half alone is refused, with a reason
    assert(remove(secret_path) == 0);
    loaded = keys_load(keys, &error);
    assert(!loaded && error && strstr(error, "public half"));
    zstr_free(&error);

    char *public_path = zsys_sprintf("%s/%s", keys, KEYS_CERT_NAME);
    remove(public_path);
    rmdir(keys);
    rmdir(dir);
    zstr_free(&public_path);
    zstr_free(&secret_path);
    zstr_free(&keys);
    zcert_destroy(&made);

    FILE *out = tmpfile();
    assert(out);
    keys_print_new(out);
    rewind(out);
    char line[128];
    assert(fgets(line, sizeof line, out) && strncmp(line, "public-key: ", 12) == 0);
    assert(strlen(line) == 12 + 40 + 1);
    assert(fgets(line, sizeof line, out) && strncmp(line, "secret-key: ", 12) == 0);
    fclose(out);
}
