/* subject.h — the blind subject index's pure pieces: the normalised form of
 * a nominal reference (a name, a prison number, a PNC id, a CRO number), the
 * keyed token the store indexes it under, a fingerprint of the key, and the
 * key's file. The store never holds a subject in clear, only its token.
 * Not responsible for: storing or looking up tokens (the broker's store),
 * deciding who may search (broker/policy.c), or where the key file is
 * configured (the broker's config).
 *
 * Normalisation, in order:
 *
 *  1. Text. The reference must be valid UTF-8 (no overlong forms, no
 *     surrogates, nothing past U+10FFFF) without control characters: C0
 *     controls other than tab, DEL, and C1 controls (U+0080..U+009F) are
 *     refused. Space and tab are whitespace: leading and trailing whitespace
 *     is trimmed and each inner run becomes one space. ASCII letters are
 *     folded to upper case; every other byte is kept as it is (no Unicode
 *     case folding or composition: "É" and "é" stay different).
 *
 *  2. Scheme. A reference may start with a scheme the writer chose, "name:",
 *     "noms:", "pnc:" or "cro:" (any case, spaces allowed after the colon).
 *     It forces that kind: a reference that does not fit its scheme is
 *     refused, never indexed as something else. Without one, the kind is
 *     recognised from the shape (rule 3), and anything unrecognised is a
 *     name.
 *
 *  3. Identifiers. For the shapes below, spaces and hyphens anywhere are
 *     ignored (and for a prison number, slashes too); a letter is any of
 *     A-Z in either case; the check letter is kept but not verified (a
 *     wrong one makes a different token, as any other typo does).
 *      - Prison (NOMS) number: a letter, 4 digits, 2 letters.
 *        "a 1234 bc", "A-1234-BC" -> "NOMS:A1234BC".
 *      - PNC id: a year of 2 or 4 digits, "/", a serial of 1-7 digits, a
 *        check letter. The serial is a number: it is written zero-padded to
 *        7 digits, so "2019/123456X" and "2019/0123456X" are one id,
 *        "PNC:20190123456X". The year is kept as written: a 2-digit year is
 *        never widened to a century, so "19/0123456X" is "PNC:190123456X",
 *        a different token from the 4-digit spelling. (Widening needs a
 *        pivot year; one taken from today's date would move a stored token,
 *        and a fixed one would join two records a century apart.) Write the
 *        long form when you know it.
 *      - CRO number: a serial of 1-6 digits, "/", a 2-digit year, a check
 *        letter: "123456/19A" -> "CRO:12345619A"; or the fingerprint (SF)
 *        form, "SF", a 2-digit year, "/", a serial of 1-6 digits, a check
 *        letter: "SF 19/123456X" -> "CRO:SF19123456X". Serials are padded
 *        to 6 digits in both; the two forms stay distinct from each other.
 *      - After "pnc:" or "cro:" the written-out form without its slash is
 *        accepted too (PNC: 9 or 11 digits and a letter; CRO: 8 digits and a
 *        letter, or "SF", 8 digits and a letter), so that a normalised form
 *        normalises to itself. Without a scheme a bare run of digits stays a
 *        name.
 *      - A shape that is both a PNC id and a CRO number (2 or 4 digits, "/",
 *        2 digits, a letter: "19/12A") is refused without a scheme: guessing
 *        would index one person's number as another kind's.
 *
 *  4. Names and free references: "NAME:" and the text of rule 1, so a name
 *     can never equal an identifier ("name: A1234BC" is "NAME:A1234BC").
 *
 * Every normalised form starts with its kind and a colon, which is also its
 * scheme, so normalising a normalised form gives it back unchanged. */
#ifndef LIAISON_SUBJECT_H
#define LIAISON_SUBJECT_H

#include <stddef.h>
#include <stdint.h>

#define SUBJECT_KEY_BYTES   32
#define SUBJECT_TOKEN_BYTES 32
#define SUBJECT_NORM_MAX    160 /* bytes of a normalised form, NUL included */

/* The normalised form of ref (rules above) into out. Returns 0, or -1 (out
 * set to "" when outlen > 0) when ref is NULL or empty after trimming, does
 * not fit its scheme, is ambiguous (rule 3), is not valid UTF-8 or has a
 * control character, or when its form would be longer than
 * SUBJECT_NORM_MAX - 1 bytes or not fit outlen. ref is borrowed. */
int subject_normalise(const char *ref, char *out, size_t outlen);

/* The blind-index token of ref: keyed BLAKE2b-256 (crypto_generichash) over
 * "liaison-subject-v1", a NUL, and the normalised form (which holds no NUL,
 * so the context cannot run into it). Equal forms give equal tokens under
 * one key. Returns 0, or -1 (token untouched) when ref does not normalise.
 * Call sodium_init() once before, as for all of libsodium. */
int subject_token(const uint8_t key[SUBJECT_KEY_BYTES], const char *ref,
                  uint8_t token[SUBJECT_TOKEN_BYTES]);

/* A fingerprint of the key, so a store can tell its key changed without
 * holding the key: keyed BLAKE2b-256 over "liaison-subject-key-id-v1" and a
 * NUL, a context no token is made over. */
void subject_key_id(const uint8_t key[SUBJECT_KEY_BYTES], uint8_t id[32]);

/* Key files hold one line: 64 lower-case hex characters and a newline.
 * subject_key_load refuses a missing file, anything but a regular file, a
 * file that group or others have any permission on (the reason gives the
 * mode and `chmod 600`), and any other contents. subject_key_save creates
 * the file with mode 0600 whatever the umask, never replacing one that
 * exists (O_EXCL), and removes it again if it cannot be written whole; it
 * does not create directories. Both return 0, or -1 with a one-line reason
 * naming the path in err. */
int subject_key_load(const char *path, uint8_t key[SUBJECT_KEY_BYTES], char *err, size_t errlen);
int subject_key_save(const char *path, const uint8_t key[SUBJECT_KEY_BYTES], char *err,
                     size_t errlen);

/* Lower-case hex of a token, NUL-terminated, for JSON and logs. */
void subject_token_hex(const uint8_t token[SUBJECT_TOKEN_BYTES],
                       char out[2 * SUBJECT_TOKEN_BYTES + 1]);

#endif
