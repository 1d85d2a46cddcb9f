// keyfile.c - CURVE keys and certificates named on the command line (--server-key,
// --client-cert): a key as text, a CZMQ certificate, or zchat-broker keygen's output
#include "zchat_prelude.h"
#include "keyfile.h"
#include <sodium.h>
#include <sys/stat.h>

// True if text starts with a Z85 key (KEYFILE_KEY_LEN characters that decode) that ends there,
// at a quote or at white space. Decodes it into bin[32] when bin is not NULL.
static bool
s_is_key(const char *text, byte *bin)
{
    if (strnlen(text, KEYFILE_KEY_LEN) < KEYFILE_KEY_LEN)
        return false;
    char end = text[KEYFILE_KEY_LEN];
    if (end && end != '"' && !isspace((unsigned char)end))
        return false;
    char key[KEYFILE_KEY_LEN + 1];
    memcpy(key, text, KEYFILE_KEY_LEN);
    key[KEYFILE_KEY_LEN] = 0;
    byte decoded[32];
    if (!zmq_z85_decode(decoded, key))
        return false;
    if (bin)
        memcpy(bin, decoded, sizeof decoded);
    return true;
}

// The key after label in text: `label = "KEY"` (a CZMQ certificate) or `label: KEY`
// (zchat-broker keygen). Writes it into key[KEYFILE_KEY_LEN + 1]. Returns 0, or -1 if none.
static int
s_find_key(const char *text, const char *label, char *key)
{
    for (const char *at = strstr(text, label); at; at = strstr(at + 1, label)) {
        // Skip the separator only: '=' and ':' are Z85 digits too, so a key may begin with one
        const char *value = at + strlen(label);
        value += strspn(value, " \t");
        if (*value == '=' || *value == ':')
            value++;
        value += strspn(value, " \t");
        if (*value == '"')
            value++;
        if (s_is_key(value, NULL)) {
            memcpy(key, value, KEYFILE_KEY_LEN);
            key[KEYFILE_KEY_LEN] = 0;
            return 0;
        }
    }
    return -1;
}

// The text of a small file; NULL if it cannot be read.
static char *
s_read_small_file(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return NULL;
    char *text = zmalloc(65537);
    size_t size = fread(text, 1, 65536, file);
    text[size] = 0;
    fclose(file);
    return text;
}

int
keyfile_server_key(const char *key, char *out, char *error, size_t size)
{
    assert(key && out && error);
    struct stat st;
    if (stat(key, &st) == -1) {
        if (!s_is_key(key, NULL) || strlen(key) != KEYFILE_KEY_LEN) {
            snprintf(error, size, "'%s' is neither a server key (40 Z85 characters) nor a file",
                     key);
            return -1;
        }
        snprintf(out, KEYFILE_KEY_LEN + 1, "%s", key);
        return 0;
    }
    char *text = s_read_small_file(key);
    if (!text) {
        snprintf(error, size, "cannot read %s: %s", key, strerror(errno));
        return -1;
    }
    const char *bare = text + strspn(text, " \t\r\n");
    int rc = s_find_key(text, "public-key", out);
    if (rc == -1)
        rc = s_find_key(text, "server key", out);  // the broker's start line, saved
    if (rc == -1 && s_is_key(bare, NULL) &&
        bare[KEYFILE_KEY_LEN + strspn(bare + KEYFILE_KEY_LEN, " \t\r\n")] == 0) {
        snprintf(out, KEYFILE_KEY_LEN + 1, "%s", bare);
        rc = 0;
    }
    free(text);
    if (rc == -1)
        snprintf(error, size, "%s holds no CURVE public key", key);
    return rc;
}

zcert_t *
keyfile_client_cert(const char *path, bool *made, char *error, size_t size)
{
    assert(path && made && error);
    *made = false;
    char *secret_path = zsys_sprintf("%s_secret", path);
    struct stat st;
    const char *source = stat(secret_path, &st) == 0 ? secret_path : path;
    char *text = s_read_small_file(source);
    zcert_t *cert = NULL;
    if (!text && errno == ENOENT && source == path) {
        // None yet: make one, to hand its public half to the broker's operator
        cert = zcert_new();
        assert(cert);
        zcert_set_meta(cert, "name", "zchat client");
        mode_t mask = umask(077);  // the secret file is never readable by others, not even briefly
        int rc = zcert_save(cert, path);
        umask(mask);
        if (rc == -1 || chmod(secret_path, 0600) == -1) {
            snprintf(error, size, "cannot write %s: %s", secret_path, strerror(errno));
            zcert_destroy(&cert);
        } else {
            *made = true;
        }
    } else if (!text) {
        snprintf(error, size, "cannot read %s: %s", source, strerror(errno));
    } else {
        char public_txt[KEYFILE_KEY_LEN + 1], secret_txt[KEYFILE_KEY_LEN + 1];
        byte public_key[32], secret_key[32], derived[32];
        if (s_find_key(text, "public-key", public_txt) == -1 ||
            s_find_key(text, "secret-key", secret_txt) == -1)
            snprintf(error, size, "%s holds no CURVE key pair (public-key and secret-key)", source);
        else if (!zmq_z85_decode(public_key, public_txt) ||
                 !zmq_z85_decode(secret_key, secret_txt) ||
                 crypto_scalarmult_base(derived, secret_key) != 0 ||
                 memcmp(derived, public_key, sizeof derived) != 0)
            snprintf(error, size, "%s: the public key is not the secret key's", source);
        else
            cert = zcert_new_from(public_key, secret_key);
        sodium_memzero(secret_key, sizeof secret_key);
        sodium_memzero(secret_txt, sizeof secret_txt);
        sodium_memzero(text, strlen(text));
        free(text);
    }
    zstr_free(&secret_path);
    return cert;
}

void
keyfile_test(bool verbose)
{
    (void)verbose;
    char dir[] = "/tmp/zchat-keyfile-XXXXXX";
    assert(mkdtemp(dir));
    char key[KEYFILE_KEY_LEN + 1], error[256];
    zcert_t *broker = zcert_new();
    assert(keyfile_server_key(zcert_public_txt(broker), key, error, sizeof error) == 0);
    assert(streq(key, zcert_public_txt(broker)));
    assert(keyfile_server_key("too short", key, error, sizeof error) == -1 && *error);
    char *path = zsys_sprintf("%s/broker.cert", dir);
    char *secret_path = zsys_sprintf("%s_secret", path);
    assert(zcert_save(broker, path) == 0);
    memset(key, 0, sizeof key);
    assert(keyfile_server_key(path, key, error, sizeof error) == 0);  // the public certificate
    assert(streq(key, zcert_public_txt(broker)));
    char *keygen = zsys_sprintf("%s/keygen", dir);
    FILE *file = fopen(keygen, "w");
    assert(file);
    fprintf(file, "public-key: %s\nsecret-key: %s\n", zcert_public_txt(broker),
            zcert_secret_txt(broker));
    fclose(file);
    assert(keyfile_server_key(keygen, key, error, sizeof error) == 0);
    assert(streq(key, zcert_public_txt(broker)));
    bool made = true;
    zcert_t *cert = keyfile_client_cert(keygen, &made, error, sizeof error);  // keygen's pair
    assert(cert && !made && zcert_eq(cert, broker));
    zcert_destroy(&cert);
    cert = keyfile_client_cert(path, &made, error, sizeof error);  // path_secret beside path
    assert(cert && !made && zcert_eq(cert, broker));
    zcert_destroy(&cert);
    remove(secret_path);
    cert = keyfile_client_cert(path, &made, error, sizeof error);  // the public half alone
    assert(!cert && strstr(error, "no CURVE key pair"));
    char *mine = zsys_sprintf("%s/me.cert", dir);
    cert = keyfile_client_cert(mine, &made, error, sizeof error);  // none yet: made
    assert(cert && made);
    zcert_t *again = keyfile_client_cert(mine, &made, error, sizeof error);
    assert(again && !made && zcert_eq(cert, again));
    zcert_destroy(&again);
    char *mine_secret = zsys_sprintf("%s_secret", mine);
    struct stat st;
    assert(stat(mine_secret, &st) == 0 && (st.st_mode & 0777) == 0600);
    zcert_destroy(&cert);
    // '=' and ':' are Z85 digits: keys that begin with one read whole (about 1 key in 40)
    for (int i = 0; i < 300; i++) {
        zcert_t *some = zcert_new();
        assert(zcert_save(some, mine) == 0);
        assert(keyfile_server_key(mine, key, error, sizeof error) == 0);
        assert(streq(key, zcert_public_txt(some)));
        cert = keyfile_client_cert(mine, &made, error, sizeof error);
        assert(cert && zcert_eq(cert, some));
        zcert_destroy(&cert);
        zcert_destroy(&some);
    }
    zcert_destroy(&broker);
    remove(mine_secret);
    remove(mine);
    remove(keygen);
    remove(path);
    rmdir(dir);
    zstr_free(&mine_secret);
    zstr_free(&mine);
    zstr_free(&keygen);
    zstr_free(&secret_path);
    zstr_free(&path);
}
