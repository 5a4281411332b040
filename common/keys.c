/* keys.c — CURVE key pairs on disk as Z85 text: generate, read, derive.
 * Not responsible for deciding which keys the broker admits (broker/auth.c). */
#include "keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"
#include "util.h"

#define Z85_KEY_LEN 40

static int z85_to_key(const char *text, uint8_t out[32])
{
    if (strlen(text) != Z85_KEY_LEN)
        return -1;
    return zmq_z85_decode(out, text) == NULL ? -1 : 0;
}

void keys_z85(const uint8_t key[32], char out[41])
{
    zmq_z85_encode(out, key, 32);
}

int keys_public_from_secret(const uint8_t secret[32], uint8_t public_key[32])
{
    char sec[41], pub[41];
    keys_z85(secret, sec);
    if (zmq_curve_public(pub, sec) != 0)
        return -1;
    return z85_to_key(pub, public_key);
}

/* Both halves are checked before either is written, so a refused keygen
 * never leaves half a pair behind. */
static int refuse_existing(const char *dir, const char *name, const char *ext, char *err,
                           size_t errlen)
{
    char path[4096];
    const char *suffix[] = {".key", ".pub"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s%s%s", dir, name, ext, suffix[i]);
        if (access(path, F_OK) == 0) {
            snprintf(err, errlen, "%s: already exists; refusing to replace a key", path);
            return -1;
        }
    }
    return 0;
}

int keys_generate(const char *dir, const char *name, char *err, size_t errlen)
{
    char pub[41], sec[41], path[4096], line[64];
    if (util_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a CURVE key pair: %s", zmq_strerror(errno));
        return -1;
    }
    if (refuse_existing(dir, name, "", err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(line, sizeof line, "%s\n", sec);
    if (util_write_new(path, line, 0600, err, errlen) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    snprintf(line, sizeof line, "%s\n", pub);
    if (util_write_new(path, line, 0644, err, errlen) != 0)
        return -1;
    return 0;
}

void keys_signing_public(const uint8_t seed[32], uint8_t public_key[32])
{
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(public_key, sk, seed);
    sodium_memzero(sk, sizeof sk);
}

int keys_generate_signing(const char *dir, const char *name, char *err, size_t errlen)
{
    uint8_t seed[32], pub[32];
    char text[41], path[4096], line[64];
    int rc = -1;
    if (sodium_init() < 0 || util_mkdirs(dir) != 0) {
        snprintf(err, errlen, "%s: cannot prepare: %s", dir, strerror(errno));
        return -1;
    }
    if (refuse_existing(dir, name, ".sign", err, errlen) != 0)
        return -1;
    randombytes_buf(seed, sizeof seed);
    keys_signing_public(seed, pub);
    keys_z85(seed, text);
    snprintf(path, sizeof path, "%s/%s.sign.key", dir, name);
    snprintf(line, sizeof line, "%s\n", text);
    if (util_write_new(path, line, 0600, err, errlen) != 0)
        goto leave;
    keys_z85(pub, text);
    snprintf(path, sizeof path, "%s/%s.sign.pub", dir, name);
    snprintf(line, sizeof line, "%s\n", text);
    if (util_write_new(path, line, 0644, err, errlen) != 0)
        goto leave;
    rc = 0;
leave:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(line, sizeof line);
    return rc;
}

/* Reads the first line of a small file into out, trimmed of whitespace. */
static int read_line(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    if (fgets(out, (int)outlen, f) == NULL) {
        snprintf(err, errlen, "%s: empty key file", path);
        goto leave;
    }
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    rc = 0;
leave:
    fclose(f);
    return rc;
}

int keys_read_public(const char *spec, const char *base_dir, uint8_t out[32], char *err,
                     size_t errlen)
{
    char path[4096], text[128];
    /* An inline key is exactly 40 Z85 characters and names no existing file
     * ('/' is a Z85 character, so it cannot tell paths from keys). */
    if (strlen(spec) == Z85_KEY_LEN && z85_to_key(spec, out) == 0) {
        if (util_path_join(path, sizeof path, base_dir, spec) != 0 || access(path, F_OK) != 0)
            return 0;
    }
    if (util_path_join(path, sizeof path, base_dir, spec) != 0) {
        snprintf(err, errlen, "%s: path too long", spec);
        return -1;
    }
    if (read_line(path, text, sizeof text, err, errlen) != 0)
        return -1;
    if (z85_to_key(text, out) != 0) {
        snprintf(err, errlen, "%s: not a Z85 public key (40 characters)", path);
        return -1;
    }
    return 0;
}

int keys_read_secret(const char *path_rel, const char *base_dir, uint8_t out[32], char *err,
                     size_t errlen)
{
    char path[4096], text[128];
    struct stat st;
    if (util_path_join(path, sizeof path, base_dir, path_rel) != 0) {
        snprintf(err, errlen, "%s: path too long", path_rel);
        return -1;
    }
    if (read_line(path, text, sizeof text, err, errlen) != 0)
        return -1;
    if (z85_to_key(text, out) != 0) {
        snprintf(err, errlen, "%s: not a Z85 secret key (40 characters)", path);
        return -1;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 0077))
        log_warn("event=key_file_mode path=%s mode=%03o advice=\"chmod 600\"", log_q(path),
                 (unsigned)(st.st_mode & 0777));
    return 0;
}
