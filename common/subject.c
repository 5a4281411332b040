/* subject.c — subject references made blind: a reference normalised (the
 * rules are in subject.h), hashed under the index key to a token, the key's
 * fingerprint, and the key's file.
 * Not responsible for: storing tokens or searching them (the broker's
 * store), who may search (broker/policy.c), or finding the key's path
 * (the broker's config). */
#include "subject.h"

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "util.h"

/* What the two hashes are made over before their message. Changing either
 * changes every token, so a new version gets a new name, never an edit. */
static const char token_context[] = "liaison-subject-v1";
static const char key_id_context[] = "liaison-subject-key-id-v1";

/* The hex of a key and its newline: the whole of a key file. */
#define KEY_HEX_LEN  (2 * SUBJECT_KEY_BYTES)
#define KEY_FILE_LEN (KEY_HEX_LEN + 1)

/* Enough zeros to pad any serial. */
static const char zeros[] = "0000000";

static size_t digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* Text is folded first, so a letter here is upper case. */
static int is_letter(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* A check letter that ends the string. */
static int check_ends(const char *s)
{
    return is_letter(s[0]) && s[1] == '\0';
}

/* ---- rule 1: text ----------------------------------------------------------- */

/* The multi-byte forms of UTF-8, one row per length: what the lead byte
 * looks like under its mask, and the least code point the length may carry
 * (anything less is an overlong form). */
static const struct utf8_form {
    unsigned char mask, lead;
    size_t len;
    unsigned min;
} utf8_forms[] = {
    {0xe0, 0xc0, 2, 0x80},
    {0xf0, 0xe0, 3, 0x800},
    {0xf8, 0xf0, 4, 0x10000},
};

/* The length of the multi-byte UTF-8 sequence at s, its code point in *cp;
 * or 0 when it is not one: a bad lead or continuation byte (the string's
 * NUL included), an overlong form, a surrogate, or past U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, unsigned *cp)
{
    for (const struct utf8_form *f = utf8_forms; f < utf8_forms + UTIL_LEN(utf8_forms); f++) {
        if ((s[0] & f->mask) != f->lead)
            continue;
        *cp = s[0] & (unsigned)(~f->mask & 0xff);
        for (size_t i = 1; i < f->len; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            *cp = (*cp << 6) | (s[i] & 0x3fu);
        }
        if (*cp < f->min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
            return 0;
        return f->len;
    }
    return 0;
}

/* The length of the character at s, or 0 when it is refused: invalid UTF-8,
 * or a control character other than tab (C0, DEL, C1). */
static size_t char_len(const unsigned char *s)
{
    unsigned cp = 0;
    if (s[0] == '\t' || (s[0] >= 0x20 && s[0] < 0x7f))
        return 1;
    if (s[0] < 0x80)
        return 0;
    size_t n = utf8_sequence(s, &cp);
    return (cp >= 0x80 && cp <= 0x9f) ? 0 : n;
}

/* Rule 1: ref checked, trimmed, each run of whitespace made one space, ASCII
 * upper-cased, into buf (cap bytes with the NUL). Returns 0, or -1 when ref
 * is refused, empty, or does not fit. */
static int fold(const char *ref, char *buf, size_t cap)
{
    const unsigned char *s = (const unsigned char *)ref;
    size_t n = 0;
    int space = 0;
    while (*s != '\0') {
        size_t len = char_len(s);
        if (len == 0)
            return -1;
        if (*s == ' ' || *s == '\t') {
            space = n > 0; /* none before the first character */
            s++;
            continue;
        }
        if (n + (size_t)space + len >= cap)
            return -1;
        if (space)
            buf[n++] = ' ';
        space = 0;
        for (size_t i = 0; i < len; i++)
            buf[n++] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
        s += len;
    }
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* ---- rule 3: identifiers ------------------------------------------------------ */

/* Two runs of digits around a slash, then a check letter: the whole of s. */
struct runs {
    const char *a, *b;
    size_t alen, blen;
    char check;
};

static int slashed(const char *s, struct runs *r)
{
    r->a = s;
    r->alen = digits(s);
    if (r->alen == 0 || s[r->alen] != '/')
        return -1;
    r->b = s + r->alen + 1;
    r->blen = digits(r->b);
    if (r->blen == 0 || !check_ends(r->b + r->blen))
        return -1;
    r->check = r->b[r->blen];
    return 0;
}

/* The spelling of a normalised form: exactly total digits, then a check
 * letter, split after the first alen of them. */
static int unslashed(const char *s, size_t total, size_t alen, struct runs *r)
{
    if (digits(s) != total || !check_ends(s + total))
        return -1;
    r->a = s;
    r->alen = alen;
    r->b = s + alen;
    r->blen = total - alen;
    r->check = s[total];
    return 0;
}

/* A prison (NOMS) number: a letter, 4 digits, 2 letters. */
static int noms(const char *s, int bare, char *body, size_t cap)
{
    (void)bare;
    if (strlen(s) != 7 || !is_letter(s[0]) || digits(s + 1) != 4 || !is_letter(s[5]) ||
        !is_letter(s[6]))
        return -1;
    snprintf(body, cap, "%s", s);
    return 0;
}

/* A PNC id: a 2- or 4-digit year, '/', a serial of 1-7 digits, a check
 * letter; bare, also the year and a 7-digit serial unslashed. The serial is
 * padded to 7 digits, the year kept as written (subject.h says why). */
static int pnc(const char *s, int bare, char *body, size_t cap)
{
    struct runs r;
    if (slashed(s, &r) == 0) {
        if ((r.alen != 2 && r.alen != 4) || r.blen > 7)
            return -1;
    } else if (!bare || (unslashed(s, 9, 2, &r) != 0 && unslashed(s, 11, 4, &r) != 0)) {
        return -1;
    }
    snprintf(body, cap, "%.*s%.*s%.*s%c", (int)r.alen, r.a, (int)(7 - r.blen), zeros, (int)r.blen,
             r.b, r.check);
    return 0;
}

/* A CRO number: a serial of 1-6 digits, '/', a 2-digit year, a check letter,
 * or in the fingerprint form "SF", a 2-digit year, '/', a serial, a check
 * letter; bare, also either unslashed with a 6-digit serial. Serials are
 * padded to 6 digits; the SF form keeps its "SF" and its order. */
static int cro(const char *s, int bare, char *body, size_t cap)
{
    struct runs r;
    int sf = strncmp(s, "SF", 2) == 0;
    const char *p = sf ? s + 2 : s;
    if (slashed(p, &r) == 0) {
        size_t year = sf ? r.alen : r.blen, serial = sf ? r.blen : r.alen;
        if (year != 2 || serial > 6)
            return -1;
    } else if (!bare || unslashed(p, 8, sf ? 2 : 6, &r) != 0) {
        return -1;
    }
    if (sf)
        snprintf(body, cap, "SF%.*s%.*s%.*s%c", (int)r.alen, r.a, (int)(6 - r.blen), zeros,
                 (int)r.blen, r.b, r.check);
    else
        snprintf(body, cap, "%.*s%.*s%.*s%c", (int)(6 - r.alen), zeros, (int)r.alen, r.a,
                 (int)r.blen, r.b, r.check);
    return 0;
}

/* ---- the kinds -------------------------------------------------------------- */

/* One row per kind: its word is both the scheme a writer may give and the
 * start of its normalised form. Names come last: what fits nothing else. */
static const struct kind {
    const char *word; /* upper case: text is folded before it is compared */
    int drop_slash;   /* slashes are ignored as spaces and hyphens are */
    /* The body of the form, from the text without spaces and hyphens; bare
     * when a scheme was written. NULL: the text itself is the body. */
    int (*parse)(const char *s, int bare, char *body, size_t cap);
} kinds[] = {
    {"NOMS", 1, noms},
    {"PNC", 0, pnc},
    {"CRO", 0, cro},
    {"NAME", 0, NULL},
};

#define NAME_KIND (&kinds[UTIL_LEN(kinds) - 1])

/* text without spaces and hyphens (and slashes when drop_slash) into buf. */
static int compact(const char *text, int drop_slash, char *buf, size_t cap)
{
    size_t n = 0;
    for (; *text != '\0'; text++) {
        if (*text == ' ' || *text == '-' || (drop_slash && *text == '/'))
            continue;
        if (n + 1 >= cap)
            return -1;
        buf[n++] = *text;
    }
    buf[n] = '\0';
    return 0;
}

/* Rule 2: the kind whose scheme starts text, with *rest after its colon
 * (and the one space folding may have left there); NULL when none does. */
static const struct kind *scheme_of(const char *text, const char **rest)
{
    for (size_t i = 0; i < UTIL_LEN(kinds); i++) {
        size_t n = strlen(kinds[i].word);
        if (strncmp(text, kinds[i].word, n) == 0 && text[n] == ':') {
            *rest = text + n + 1 + (text[n + 1] == ' ');
            return &kinds[i];
        }
    }
    *rest = text;
    return NULL;
}

/* rest as kind k, into form: the kind's word, a colon, the body. bare: a
 * scheme was written, so the unslashed spelling is accepted. */
static int as_kind(const struct kind *k, const char *rest, int bare, char *form, size_t cap)
{
    char s[SUBJECT_NORM_MAX], body[SUBJECT_NORM_MAX];
    const char *b = rest;
    int rc = -1;
    if (k->parse != NULL) {
        if (compact(rest, k->drop_slash, s, sizeof s) != 0 ||
            k->parse(s, bare, body, sizeof body) != 0)
            goto leave;
        b = body;
    }
    if (*b == '\0')
        goto leave;
    int n = snprintf(form, cap, "%s:%s", k->word, b);
    rc = (n < 0 || (size_t)n >= cap) ? -1 : 0;
leave:
    sodium_memzero(s, sizeof s);
    sodium_memzero(body, sizeof body);
    return rc;
}

/* Without a scheme: the one identifier kind rest fits, names when it fits
 * none, NULL when it fits two (rule 3's PNC-or-CRO shapes). */
static const struct kind *guess(const char *rest)
{
    const struct kind *found = NAME_KIND;
    char form[SUBJECT_NORM_MAX];
    int fits = 0;
    for (const struct kind *k = kinds; k < NAME_KIND; k++) {
        if (as_kind(k, rest, 0, form, sizeof form) == 0) {
            found = k;
            fits++;
        }
    }
    sodium_memzero(form, sizeof form);
    return fits > 1 ? NULL : found;
}

int subject_normalise(const char *ref, char *out, size_t outlen)
{
    /* Room for a scheme and spaces that the form will not keep; the form's
     * own limit is checked on the form. */
    char text[2 * SUBJECT_NORM_MAX], form[SUBJECT_NORM_MAX];
    const char *rest = text;
    const struct kind *k = NULL;
    int rc = -1, written = 0;
    size_t n;
    if (outlen > 0)
        out[0] = '\0';
    if (ref == NULL || fold(ref, text, sizeof text) != 0)
        goto leave;
    k = scheme_of(text, &rest);
    written = k != NULL;
    if (k == NULL)
        k = guess(rest);
    if (k == NULL || as_kind(k, rest, written, form, sizeof form) != 0)
        goto leave;
    n = strlen(form);
    if (n >= outlen)
        goto leave;
    memcpy(out, form, n + 1);
    rc = 0;
leave:
    /* A reference is personal data: no copy of it here outlives the call
     * (the helpers wipe theirs too). */
    sodium_memzero(text, sizeof text);
    sodium_memzero(form, sizeof form);
    return rc;
}

/* ---- tokens and the key ------------------------------------------------------- */

/* Keyed BLAKE2b-256 over context, its NUL, then len bytes of msg. */
static void keyed_hash(const uint8_t key[SUBJECT_KEY_BYTES], const char *context, const char *msg,
                       size_t len, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, SUBJECT_KEY_BYTES, 32);
    crypto_generichash_update(&st, (const unsigned char *)context, strlen(context) + 1);
    crypto_generichash_update(&st, (const unsigned char *)msg, len);
    crypto_generichash_final(&st, out, 32);
    sodium_memzero(&st, sizeof st);
}

int subject_token(const uint8_t key[SUBJECT_KEY_BYTES], const char *ref,
                  uint8_t token[SUBJECT_TOKEN_BYTES])
{
    char form[SUBJECT_NORM_MAX];
    if (subject_normalise(ref, form, sizeof form) != 0)
        return -1;
    keyed_hash(key, token_context, form, strlen(form), token);
    sodium_memzero(form, sizeof form);
    return 0;
}

void subject_key_id(const uint8_t key[SUBJECT_KEY_BYTES], uint8_t id[32])
{
    keyed_hash(key, key_id_context, "", 0, id);
}

void subject_token_hex(const uint8_t token[SUBJECT_TOKEN_BYTES],
                       char out[2 * SUBJECT_TOKEN_BYTES + 1])
{
    sodium_bin2hex(out, 2 * SUBJECT_TOKEN_BYTES + 1, token, SUBJECT_TOKEN_BYTES);
}

/* Only 0-9 and a-f: sodium_hex2bin would take upper case too, and a key
 * file has one spelling. */
static int lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

int subject_key_load(const char *path, uint8_t key[SUBJECT_KEY_BYTES], char *err, size_t errlen)
{
    /* Room for a little more than a key, so a near miss gets this file's
     * reason; only a file far too big gets the generic one. */
    char text[2 * KEY_FILE_LEN];
    size_t n = 0, bin_len = 0;
    int rc = -1;
    if (util_read_private(path, text, sizeof text, &n, err, errlen) != 0)
        goto leave;
    if (n != KEY_FILE_LEN || text[KEY_HEX_LEN] != '\n' || !lower_hex(text, KEY_HEX_LEN) ||
        sodium_hex2bin(key, SUBJECT_KEY_BYTES, text, KEY_HEX_LEN, NULL, &bin_len, NULL) != 0 ||
        bin_len != SUBJECT_KEY_BYTES) {
        snprintf(err, errlen,
                 "%s: not a subject key (want one line of 64 lower-case hex characters)", path);
        goto leave;
    }
    rc = 0;
leave:
    sodium_memzero(text, sizeof text);
    return rc;
}

int subject_key_save(const char *path, const uint8_t key[SUBJECT_KEY_BYTES], char *err,
                     size_t errlen)
{
    char line[KEY_FILE_LEN + 1];
    sodium_bin2hex(line, KEY_HEX_LEN + 1, key, SUBJECT_KEY_BYTES);
    line[KEY_HEX_LEN] = '\n';
    line[KEY_FILE_LEN] = '\0';
    int rc = util_write_new(path, line, 0600, err, errlen);
    sodium_memzero(line, sizeof line);
    return rc;
}
