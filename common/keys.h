/* keys.h — key files: CURVE pairs (and Ed25519 signing pairs for audit
 * checkpoints): generating pairs, reading Z85 public and secret
 * keys from files (or a public key given inline), deriving public from secret.
 * Not responsible for: deciding which keys are allowed (broker/auth.c). */
#ifndef LIAISON_KEYS_H
#define LIAISON_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* Writes DIR/NAME.pub (Z85 public key and a newline, mode 0644) and
 * DIR/NAME.key (Z85 secret key and a newline, mode 0600), creating DIR.
 * Refuses to overwrite an existing file. Returns 0, or -1 with err set. */
int keys_generate(const char *dir, const char *name, char *err, size_t errlen);

/* Writes DIR/NAME.sign.key (a Z85 Ed25519 seed, mode 0600) and
 * DIR/NAME.sign.pub (its Z85 public key): the pair that signs and checks
 * audit checkpoints. Refuses to overwrite. Returns 0, or -1 with err set. */
int keys_generate_signing(const char *dir, const char *name, char *err, size_t errlen);
/* The Ed25519 public key of a seed. */
void keys_signing_public(const uint8_t seed[32], uint8_t public_key[32]);

/* Reads a public key: `spec` is a path (relative to base_dir) to a file
 * holding 40 Z85 characters, or is itself 40 Z85 characters. Returns 0, or
 * -1 with err set. */
int keys_read_public(const char *spec, const char *base_dir, uint8_t out[32], char *err,
                     size_t errlen);
/* Reads a secret key file (path relative to base_dir). Warns if the file is
 * readable by group or others. Returns 0, or -1 with err set. */
int keys_read_secret(const char *path, const char *base_dir, uint8_t out[32], char *err,
                     size_t errlen);
/* Derives the public key. Returns 0 or -1. */
int keys_public_from_secret(const uint8_t secret[32], uint8_t public_key[32]);
/* Z85 text of a 32-byte key, NUL-terminated. */
void keys_z85(const uint8_t key[32], char out[41]);

#endif
