/* test_subject.c — the blind subject index's pieces (common/subject.c):
 * every normalisation rule of subject.h, spellings of one reference giving
 * one token and different references, kinds and keys giving different
 * ones, the token and key id as documented, and key files in a temporary
 * directory (round trip, mode 0600, refusals). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "subject.h"

struct fixture {
    char dir[64];
    mode_t old_umask;
    uint8_t key[SUBJECT_KEY_BYTES], other_key[SUBJECT_KEY_BYTES];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-subject-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    f->old_umask = umask(022);
    for (size_t i = 0; i < SUBJECT_KEY_BYTES; i++) {
        f->key[i] = (uint8_t)i;
        f->other_key[i] = (uint8_t)(i * 7 + 1);
    }
    *state = f;
    return 0;
}

/* Removes whatever the test left in the directory, then the directory. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[512];
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    if (d != NULL)
        closedir(d);
    int rc = rmdir(f->dir);
    umask(f->old_umask);
    free(f);
    return rc;
}

/* ref normalises to want, or (want NULL) is refused with out left empty. */
static void expect_form(const char *ref, const char *want)
{
    char out[SUBJECT_NORM_MAX];
    memset(out, 'x', sizeof out);
    int rc = subject_normalise(ref, out, sizeof out);
    if (want == NULL) {
        if (rc != -1)
            print_error("\"%s\" was not refused: \"%s\"\n", ref, out);
        assert_int_equal(rc, -1);
        assert_string_equal(out, "");
        return;
    }
    if (rc != 0)
        print_error("\"%s\" was refused, want \"%s\"\n", ref, want);
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
}

static void token_of(const uint8_t *key, const char *ref, uint8_t token[SUBJECT_TOKEN_BYTES])
{
    if (subject_token(key, ref, token) != 0)
        print_error("no token for \"%s\"\n", ref);
    assert_int_equal(subject_token(key, ref, token), 0);
}

static void expect_same_token(const uint8_t *key, const char *a, const char *b)
{
    uint8_t ta[SUBJECT_TOKEN_BYTES], tb[SUBJECT_TOKEN_BYTES];
    token_of(key, a, ta);
    token_of(key, b, tb);
    if (memcmp(ta, tb, sizeof ta) != 0)
        print_error("\"%s\" and \"%s\" gave different tokens\n", a, b);
    assert_memory_equal(ta, tb, sizeof ta);
}

static void path_in(const struct fixture *f, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", f->dir, name);
}

static void write_file(const struct fixture *f, const char *name, const char *text, size_t n,
                       mode_t mode)
{
    char path[256];
    path_in(f, name, path, sizeof path);
    unlink(path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

/* ---- tokens ------------------------------------------------------------------ */

static void test_subject_spellings_of_one_prison_number_give_one_token(void **state)
{
    struct fixture *f = *state;
    uint8_t token[SUBJECT_TOKEN_BYTES];
    char hex[2 * SUBJECT_TOKEN_BYTES + 1];
    assert_int_equal(subject_token(f->key, "A1234BC", token), 0);
    subject_token_hex(token, hex);
    assert_int_equal(strlen(hex), 64);
    expect_same_token(f->key, "A1234BC", "a 1234 bc");
    expect_same_token(f->key, "A1234BC", "  A-1234-BC ");
    expect_same_token(f->key, "A1234BC", "noms: a1234bc");
    expect_same_token(f->key, "A1234BC", "NOMS:A1234BC");
}

static void test_subject_token_is_keyed_blake2b_of_context_and_form(void **state)
{
    struct fixture *f = *state;
    uint8_t token[SUBJECT_TOKEN_BYTES], want[32];
    /* The construction subject.h documents, made here by hand: the context,
     * a NUL, then the normalised form. */
    static const char msg[] = "liaison-subject-v1\0NOMS:A1234BC";
    crypto_generichash(want, sizeof want, (const unsigned char *)msg, sizeof msg - 1, f->key,
                       SUBJECT_KEY_BYTES);
    assert_int_equal(subject_token(f->key, "a 1234 bc", token), 0);
    assert_memory_equal(token, want, sizeof want);

    uint8_t id[32];
    static const char id_msg[] = "liaison-subject-key-id-v1";
    crypto_generichash(want, sizeof want, (const unsigned char *)id_msg, sizeof id_msg, f->key,
                       SUBJECT_KEY_BYTES);
    subject_key_id(f->key, id);
    assert_memory_equal(id, want, sizeof want);
}

static void test_subject_token_hex_is_lower_case_hex_of_the_token(void **state)
{
    struct fixture *f = *state;
    uint8_t token[SUBJECT_TOKEN_BYTES], back[SUBJECT_TOKEN_BYTES];
    char hex[2 * SUBJECT_TOKEN_BYTES + 1];
    token_of(f->key, "John Smith", token);
    subject_token_hex(token, hex);
    assert_int_equal(strlen(hex), 2 * SUBJECT_TOKEN_BYTES);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 2 * SUBJECT_TOKEN_BYTES);
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(back, sizeof back, hex, strlen(hex), NULL, &n, NULL), 0);
    assert_int_equal(n, sizeof back);
    assert_memory_equal(back, token, sizeof token);
}

static void test_subject_token_refuses_what_does_not_normalise(void **state)
{
    struct fixture *f = *state;
    uint8_t token[SUBJECT_TOKEN_BYTES], before[SUBJECT_TOKEN_BYTES];
    memset(token, 0xaa, sizeof token);
    memcpy(before, token, sizeof token);
    assert_int_equal(subject_token(f->key, "", token), -1);
    assert_int_equal(subject_token(f->key, "   ", token), -1);
    assert_int_equal(subject_token(f->key, "line\nbreak", token), -1);
    assert_int_equal(subject_token(f->key, "pnc: not a number", token), -1);
    assert_int_equal(subject_token(f->key, NULL, token), -1);
    assert_memory_equal(token, before, sizeof token);
}

static void test_subject_different_references_and_kinds_give_different_tokens(void **state)
{
    struct fixture *f = *state;
    /* Different people, and the same characters as different kinds. */
    static const char *refs[] = {
        "A1234BC",       "A1234BD",       "B1234BC",       "name: A1234BC", "2019/0123456X",
        "2019/0123456Y", "2019/1234560X", "2018/0123456X", "19/0123456X",   "pnc:20190123457X",
        "123456/19A",    "123456/18A",    "12345/19A",     "SF 19/123456A", "name:123456/19A",
        "pnc:19/12A",    "cro:19/12A",    "cro:SF19/12A",  "John Smith",    "John Smyth",
        "Jon Smith",     "JOHN SMITH JR", "José",          "JOSÉ",
    };
    enum { N = sizeof refs / sizeof refs[0] };
    uint8_t tokens[N][SUBJECT_TOKEN_BYTES];
    for (size_t i = 0; i < N; i++)
        token_of(f->key, refs[i], tokens[i]);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            if (memcmp(tokens[i], tokens[j], SUBJECT_TOKEN_BYTES) == 0)
                print_error("\"%s\" and \"%s\" share a token\n", refs[i], refs[j]);
            assert_memory_not_equal(tokens[i], tokens[j], SUBJECT_TOKEN_BYTES);
        }
    }
}

static void test_subject_different_keys_give_different_tokens(void **state)
{
    struct fixture *f = *state;
    uint8_t a[SUBJECT_TOKEN_BYTES], b[SUBJECT_TOKEN_BYTES], again[SUBJECT_TOKEN_BYTES];
    token_of(f->key, "A1234BC", a);
    token_of(f->other_key, "A1234BC", b);
    assert_memory_not_equal(a, b, sizeof a);
    /* And one key always gives the same token. */
    token_of(f->key, "A1234BC", again);
    assert_memory_equal(a, again, sizeof a);
}

static void test_subject_key_id_is_stable_per_key_and_no_token(void **state)
{
    struct fixture *f = *state;
    uint8_t id[32], again[32], other[32], token[SUBJECT_TOKEN_BYTES];
    subject_key_id(f->key, id);
    subject_key_id(f->key, again);
    subject_key_id(f->other_key, other);
    assert_memory_equal(id, again, sizeof id);
    assert_memory_not_equal(id, other, sizeof id);
    /* Not the token of anything, even of its own context written as a name. */
    static const char *refs[] = {"A1234BC", "liaison-subject-key-id-v1",
                                 "name:liaison-subject-key-id-v1", "x"};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        token_of(f->key, refs[i], token);
        assert_memory_not_equal(id, token, sizeof id);
    }
    assert_memory_not_equal(id, f->key, sizeof id);
}

/* ---- rule 1: text ----------------------------------------------------------- */

static void test_subject_text_is_trimmed_collapsed_and_upper_cased(void **state)
{
    (void)state;
    expect_form("John Smith", "NAME:JOHN SMITH");
    expect_form("  john   smith  ", "NAME:JOHN SMITH");
    expect_form("\tJohn\t \tSmith\t", "NAME:JOHN SMITH");
    expect_form("o'brien-smith, mary", "NAME:O'BRIEN-SMITH, MARY");
    expect_form("x", "NAME:X");
    /* Spaces that collapse do not count against the length. */
    char wide[600];
    snprintf(wide, sizeof wide, "a%*sb", 500, "");
    expect_form(wide, "NAME:A B");
}

static void test_subject_non_ascii_is_kept_as_it_is(void **state)
{
    (void)state;
    /* Only ASCII is case-folded: é stays é, É stays É, and they differ. */
    expect_form("José  Núñez", "NAME:JOSé NúñEZ");
    expect_form("JOSÉ", "NAME:JOSÉ");
    expect_form("Đorđe 日本", "NAME:ĐORđE 日本");             /* the ASCII in it is folded */
    expect_form("\xf0\x9f\x98\x80", "NAME:\xf0\x9f\x98\x80"); /* U+1F600, four bytes */
    /* A no-break space (U+00A0) is not whitespace: kept, not trimmed. */
    expect_form("a\xc2\xa0"
                "b",
                "NAME:A\xc2\xa0"
                "B");
}

static void test_subject_refuses_invalid_utf8_and_control_characters(void **state)
{
    (void)state;
    static const char *bad[] = {
        "bad \xff byte",             /* never in UTF-8 */
        "lone \x80 continuation",    /* */
        "cut short \xc3",            /* a lead byte then the end */
        "cut \xe6\x97 short",        /* three-byte sequence missing its last */
        "overlong \xc0\xaf",         /* '/' in two bytes */
        "overlong \xe0\x80\xaf",     /* '/' in three bytes */
        "surrogate \xed\xa0\x80",    /* U+D800 */
        "too high \xf4\x90\x80\x80", /* U+110000 */
        "five bytes \xf8\x88\x80\x80\x80",
        "line\nbreak",
        "carriage\rreturn",
        "trailing newline\n",
        "bell\a",
        "\x01start",
        "delete\x7f",
        "c1 \xc2\x85 next line", /* U+0085 */
        "c1 \xc2\x9f",           /* U+009F */
        "escape \x1b[0m",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_form(bad[i], NULL);
    /* Control characters are refused inside identifiers and after schemes. */
    expect_form("A1234\nBC", NULL);
    expect_form("pnc:\x01"
                "2019/0123456X",
                NULL);
    /* The first and last code points either side of the refused ranges. */
    expect_form("\xc2\xa0", "NAME:\xc2\xa0");
    expect_form("\xf4\x8f\xbf\xbf", "NAME:\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    expect_form("\xee\x80\x80", "NAME:\xee\x80\x80");         /* U+E000 */
}

static void test_subject_refuses_empty_and_too_long(void **state)
{
    (void)state;
    expect_form(NULL, NULL);
    expect_form("", NULL);
    expect_form("    ", NULL);
    expect_form(" \t ", NULL);
    expect_form("name:", NULL);
    expect_form("name:   ", NULL);
    expect_form("pnc:", NULL);
    expect_form("NOMS: ", NULL);

    /* The longest name: "NAME:" and 154 bytes make 159, with the NUL 160. */
    char ref[400], want[400];
    memset(ref, 'a', 154);
    ref[154] = '\0';
    memcpy(want, "NAME:", 5);
    memset(want + 5, 'A', 154);
    want[159] = '\0';
    expect_form(ref, want);
    ref[154] = 'a';
    ref[155] = '\0';
    expect_form(ref, NULL);
    /* Counted in bytes: 77 two-byte characters fit, 78 do not. */
    ref[0] = '\0';
    for (int i = 0; i < 78; i++)
        strcat(ref, "\xc3\xa9");
    expect_form(ref, NULL);
    ref[154] = '\0';
    char out[SUBJECT_NORM_MAX];
    assert_int_equal(subject_normalise(ref, out, sizeof out), 0);
    assert_int_equal(strlen(out), 159);
    /* A very long reference is refused, not cut to fit: two long names that
     * differ only at the end must never become one. */
    char huge[4096];
    memset(huge, 'b', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    expect_form(huge, NULL);
}

static void test_subject_refuses_a_form_that_does_not_fit_out(void **state)
{
    (void)state;
    char out[16];
    memset(out, 'x', sizeof out);
    /* "NOMS:A1234BC" is 12 bytes and its NUL. */
    assert_int_equal(subject_normalise("A1234BC", out, 12), -1);
    assert_string_equal(out, "");
    assert_int_equal(subject_normalise("A1234BC", out, 13), 0);
    assert_string_equal(out, "NOMS:A1234BC");
    out[0] = 'x';
    assert_int_equal(subject_normalise("A1234BC", out, 0), -1);
    assert_int_equal(out[0], 'x'); /* outlen 0: nothing written at all */
}

/* ---- rule 2: schemes ---------------------------------------------------------- */

static void test_subject_scheme_forces_its_kind_in_any_case(void **state)
{
    (void)state;
    expect_form("noms:a1234bc", "NOMS:A1234BC");
    expect_form("Noms:   A 1234 BC", "NOMS:A1234BC");
    expect_form("PnC: 2019/123456x", "PNC:20190123456X");
    expect_form("CRO:\t123456/19a", "CRO:12345619A");
    /* A name that looks like an identifier, kept a name by its writer. */
    expect_form("name: A1234BC", "NAME:A1234BC");
    expect_form("Name:2019/0123456X", "NAME:2019/0123456X");
    expect_form("name:  John   Smith ", "NAME:JOHN SMITH");
    /* A name may hold a colon, even a scheme's, after its own. */
    expect_form("name: pnc: 19/12A", "NAME:PNC: 19/12A");
}

static void test_subject_scheme_refuses_what_does_not_fit_it(void **state)
{
    (void)state;
    expect_form("pnc: John Smith", NULL);
    expect_form("pnc: A1234BC", NULL);
    expect_form("pnc: 123456/19A", NULL); /* a CRO number */
    expect_form("cro: 2019/0123456X", NULL);
    expect_form("cro: A1234BC", NULL);
    expect_form("noms: 2019/0123456X", NULL);
    expect_form("noms: A12345BC", NULL);
    expect_form("noms: A1234BCD", NULL);
}

static void test_subject_only_a_known_word_and_colon_make_a_scheme(void **state)
{
    (void)state;
    /* Not schemes: a space before the colon, another word, no colon. */
    expect_form("pnc :2019/0123456X", "NAME:PNC :2019/0123456X");
    expect_form("ref: A1234BC", "NAME:REF: A1234BC");
    expect_form("pncx:2019/0123456X", "NAME:PNCX:2019/0123456X");
    expect_form("PNC 2019/0123456X", "NAME:PNC 2019/0123456X");
    expect_form("Mr Noms: a name", "NAME:MR NOMS: A NAME");
}

/* ---- rule 3: identifiers -------------------------------------------------------- */

static void test_subject_prison_numbers(void **state)
{
    (void)state;
    expect_form("A1234BC", "NOMS:A1234BC");
    expect_form("a 1234 bc", "NOMS:A1234BC");
    expect_form("A-1234-BC", "NOMS:A1234BC");
    expect_form("A/1234/BC", "NOMS:A1234BC");
    expect_form(" a1234bc ", "NOMS:A1234BC");
    expect_form("Z 0000 ZZ", "NOMS:Z0000ZZ");
    /* Near misses are names. */
    expect_form("A12345BC", "NAME:A12345BC");
    expect_form("A123BC", "NAME:A123BC");
    expect_form("AB1234C", "NAME:AB1234C");
    expect_form("A1234B", "NAME:A1234B");
    expect_form("A1234B1", "NAME:A1234B1");
    expect_form("A1234BC.", "NAME:A1234BC.");
    expect_form("\xc3\x81"
                "1234BC",
                "NAME:\xc3\x81"
                "1234BC"); /* Á: not an ASCII letter */
}

static void test_subject_pnc_serial_zeros_make_one_id_and_years_stay_as_written(void **state)
{
    struct fixture *f = *state;
    expect_form("2019/0123456X", "PNC:20190123456X");
    expect_form("2019/123456x", "PNC:20190123456X");
    expect_form("2019 / 0123456 X", "PNC:20190123456X");
    /* More than 7 digits is no serial, leading zeros or not. */
    expect_form("2019/000123456X", "NAME:2019/000123456X");
    expect_form("2019/1X", "PNC:20190000001X");
    expect_form("19/0123456X", "PNC:190123456X");
    expect_form("19/123456X", "PNC:190123456X");
    expect_form("99/7654321A", "PNC:997654321A");
    expect_same_token(f->key, "2019/0123456X", "2019/123456x");
    expect_same_token(f->key, "19/0123456X", "pnc:19/123456X");

    /* A 2-digit year is not widened to a century: one id written short and
     * long gives two tokens, and 1919 never meets 2019. */
    uint8_t short_year[SUBJECT_TOKEN_BYTES], long_year[SUBJECT_TOKEN_BYTES];
    uint8_t other_century[SUBJECT_TOKEN_BYTES];
    token_of(f->key, "19/0123456X", short_year);
    token_of(f->key, "2019/0123456X", long_year);
    token_of(f->key, "1919/0123456X", other_century);
    assert_memory_not_equal(short_year, long_year, sizeof short_year);
    assert_memory_not_equal(long_year, other_century, sizeof long_year);
    assert_memory_not_equal(short_year, other_century, sizeof short_year);
}

static void test_subject_pnc_near_misses_are_names(void **state)
{
    (void)state;
    expect_form("201/0123456X", "NAME:201/0123456X");     /* 3-digit year */
    expect_form("20190/123456X", "NAME:20190/123456X");   /* 5-digit year */
    expect_form("2019/12345678X", "NAME:2019/12345678X"); /* 8-digit serial */
    expect_form("2019/0123456", "NAME:2019/0123456");     /* no check letter */
    expect_form("2019/0123456XY", "NAME:2019/0123456XY");
    expect_form("2019//0123456X", "NAME:2019//0123456X");
    expect_form("2019/X", "NAME:2019/X");
    /* Without a scheme, the unslashed spelling is a name... */
    expect_form("20190123456X", "NAME:20190123456X");
    /* ...with one, only the full-width spelling is an id (10 digits could
     * split either way). */
    expect_form("pnc:20190123456X", "PNC:20190123456X");
    expect_form("pnc:190123456X", "PNC:190123456X");
    expect_form("pnc:2019123456X", NULL);
    expect_form("pnc:19123456X", NULL);
}

static void test_subject_cro_numbers_in_both_forms(void **state)
{
    struct fixture *f = *state;
    expect_form("123456/19A", "CRO:12345619A");
    expect_form("12345/19a", "CRO:01234519A");
    expect_form("012345/19A", "CRO:01234519A");
    expect_form("1/99Z", "CRO:00000199Z");
    expect_same_token(f->key, "12345/19A", "012345/19A");
    /* The fingerprint (SF) form: year first. */
    expect_form("SF 19/123456X", "CRO:SF19123456X");
    expect_form("sf19/23456x", "CRO:SF19023456X");
    expect_form("SF-19/023456X", "CRO:SF19023456X");
    expect_form("cro: SF19/1A", "CRO:SF19000001A");
    /* The two forms of the same digits stay apart. */
    uint8_t sf[SUBJECT_TOKEN_BYTES], standard[SUBJECT_TOKEN_BYTES];
    token_of(f->key, "SF 19/123456X", sf);
    token_of(f->key, "123456/19X", standard);
    assert_memory_not_equal(sf, standard, sizeof sf);
    /* Near misses. */
    expect_form("1234567/19A", "NAME:1234567/19A"); /* 7-digit serial */
    expect_form("123456/2019A", "NAME:123456/2019A");
    expect_form("123456/1A", "NAME:123456/1A");
    expect_form("SF2019/123456X", "NAME:SF2019/123456X");
    expect_form("SF19/1234567X", "NAME:SF19/1234567X");
    expect_form("SF19/X", "NAME:SF19/X");
    /* With a scheme, the unslashed full-width spellings. */
    expect_form("cro:12345619A", "CRO:12345619A");
    expect_form("cro:SF19123456X", "CRO:SF19123456X");
    expect_form("cro:1234519A", NULL);
    expect_form("12345619A", "NAME:12345619A");
}

static void test_subject_pnc_or_cro_shapes_need_a_scheme(void **state)
{
    (void)state;
    /* 2 or 4 digits, '/', 2 digits, a letter: a PNC id with a 2-digit serial
     * or a CRO number with a 2- or 4-digit serial. Not guessed. */
    expect_form("19/12A", NULL);
    expect_form("2019/12A", NULL);
    expect_form("19 / 12 a", NULL);
    expect_form("pnc:19/12A", "PNC:190000012A");
    expect_form("cro:19/12A", "CRO:00001912A");
    expect_form("pnc:2019/12A", "PNC:20190000012A");
    expect_form("cro:2019/12A", "CRO:00201912A");
    expect_form("name:19/12A", "NAME:19/12A");
    /* One digit more on either side and only one kind fits. */
    expect_form("19/123A", "PNC:190000123A");
    expect_form("123/12A", "CRO:00012312A");
}

/* ---- the whole: forms are fixed points ---------------------------------------------- */

static void test_subject_normalising_a_normalised_form_gives_it_back(void **state)
{
    (void)state;
    static const char *refs[] = {
        "a 1234 bc",    "2019/123456x", "19/0123456X",  "12345/19a",      "SF 19/123456X",
        "pnc:19/12A",   "cro:19/12A",   "cro:2019/12A", "  john  smith ", "name: A1234BC",
        "name: pnc: x", "José Núñez",   "name:",        "ref: A1234BC",   "O'Brien-Smith",
        "1234567/19A",  "20190123456X", "name:NAME:x",  "NOMS",           "name:name:",
    };
    char once[SUBJECT_NORM_MAX], twice[SUBJECT_NORM_MAX];
    int forms = 0;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        if (subject_normalise(refs[i], once, sizeof once) != 0)
            continue; /* "name:" alone is refused; nothing to check */
        forms++;
        if (subject_normalise(once, twice, sizeof twice) != 0 || strcmp(once, twice) != 0)
            print_error("\"%s\" -> \"%s\" -> \"%s\"\n", refs[i], once, twice);
        assert_int_equal(subject_normalise(once, twice, sizeof twice), 0);
        assert_string_equal(twice, once);
    }
    assert_int_equal(forms, (int)(sizeof refs / sizeof refs[0]) - 1);
    /* The longest name too. */
    char longest[SUBJECT_NORM_MAX];
    memset(longest, 'q', 154);
    longest[154] = '\0';
    assert_int_equal(subject_normalise(longest, once, sizeof once), 0);
    assert_int_equal(subject_normalise(once, twice, sizeof twice), 0);
    assert_string_equal(twice, once);
}

/* ---- key files ----------------------------------------------------------------- */

static void test_subject_key_file_round_trips_with_mode_0600(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512] = "", text[128];
    uint8_t back[SUBJECT_KEY_BYTES];
    path_in(f, "broker.subject.key", path, sizeof path);
    /* Whatever the umask: 0600, not 0600 & ~umask nor wider. */
    umask(0);
    assert_int_equal(subject_key_save(path, f->key, err, sizeof err), 0);
    umask(022);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    assert_int_equal(n, 65);
    assert_string_equal(text, "000102030405060708090a0b0c0d0e0f"
                              "101112131415161718191a1b1c1d1e1f\n");

    assert_int_equal(subject_key_load(path, back, err, sizeof err), 0);
    assert_memory_equal(back, f->key, sizeof back);
}

static void test_subject_key_save_refuses_an_existing_file(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512] = "";
    uint8_t back[SUBJECT_KEY_BYTES];
    path_in(f, "broker.subject.key", path, sizeof path);
    assert_int_equal(subject_key_save(path, f->key, err, sizeof err), 0);
    err[0] = '\0';
    assert_int_equal(subject_key_save(path, f->other_key, err, sizeof err), -1);
    assert_non_null(strstr(err, "exists"));
    assert_non_null(strstr(err, path));
    /* The key every stored token was made with is still the one there. */
    assert_int_equal(subject_key_load(path, back, err, sizeof err), 0);
    assert_memory_equal(back, f->key, sizeof back);
    /* A missing directory is reported, not created. */
    path_in(f, "no/such.subject.key", path, sizeof path);
    err[0] = '\0';
    assert_int_equal(subject_key_save(path, f->key, err, sizeof err), -1);
    assert_non_null(strstr(err, "no/such.subject.key"));
}

static void test_subject_key_load_refuses_a_file_others_may_use(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512];
    uint8_t key[SUBJECT_KEY_BYTES];
    static const char line[] = "000102030405060708090a0b0c0d0e0f"
                               "101112131415161718191a1b1c1d1e1f\n";
    path_in(f, "k", path, sizeof path);
    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0660, 0666, 0610};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_file(f, "k", line, sizeof line - 1, modes[i]);
        err[0] = '\0';
        assert_int_equal(subject_key_load(path, key, err, sizeof err), -1);
        assert_non_null(strstr(err, "chmod 600"));
        assert_non_null(strstr(err, path));
    }
    write_file(f, "k", line, sizeof line - 1, 0644);
    assert_int_equal(subject_key_load(path, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "mode 0644"));
    /* 0400 is fine: only the owner can read it. */
    write_file(f, "k", line, sizeof line - 1, 0400);
    assert_int_equal(subject_key_load(path, key, err, sizeof err), 0);
    assert_memory_equal(key, f->key, sizeof key);
}

static void test_subject_key_load_refuses_bad_contents(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512];
    uint8_t key[SUBJECT_KEY_BYTES];
    path_in(f, "k", path, sizeof path);
    static const char *bad[] = {
        "",
        "\n",
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n", /* upper */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",   /* no newline */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\r\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n", /* 31 bytes */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", /* 'g' */
        " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(f, "k", bad[i], strlen(bad[i]), 0600);
        err[0] = '\0';
        assert_int_equal(subject_key_load(path, key, err, sizeof err), -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "64 lower-case hex"));
    }
    /* A file of many keys' length is refused before it is read. */
    char big[4096];
    memset(big, 'a', sizeof big);
    write_file(f, "k", big, sizeof big, 0600);
    err[0] = '\0';
    assert_int_equal(subject_key_load(path, key, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
}

static void test_subject_key_load_refuses_a_missing_file_or_a_directory(void **state)
{
    struct fixture *f = *state;
    char path[256], err[512] = "";
    uint8_t key[SUBJECT_KEY_BYTES];
    path_in(f, "nobody.subject.key", path, sizeof path);
    assert_int_equal(subject_key_load(path, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "nobody.subject.key"));
    assert_non_null(strstr(err, "No such file"));

    path_in(f, "adir", path, sizeof path);
    assert_int_equal(mkdir(path, 0700), 0);
    err[0] = '\0';
    assert_int_equal(subject_key_load(path, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_subject_spellings_of_one_prison_number_give_one_token),
        T(test_subject_token_is_keyed_blake2b_of_context_and_form),
        T(test_subject_token_hex_is_lower_case_hex_of_the_token),
        T(test_subject_token_refuses_what_does_not_normalise),
        T(test_subject_different_references_and_kinds_give_different_tokens),
        T(test_subject_different_keys_give_different_tokens),
        T(test_subject_key_id_is_stable_per_key_and_no_token),
        T(test_subject_text_is_trimmed_collapsed_and_upper_cased),
        T(test_subject_non_ascii_is_kept_as_it_is),
        T(test_subject_refuses_invalid_utf8_and_control_characters),
        T(test_subject_refuses_empty_and_too_long),
        T(test_subject_refuses_a_form_that_does_not_fit_out),
        T(test_subject_scheme_forces_its_kind_in_any_case),
        T(test_subject_scheme_refuses_what_does_not_fit_it),
        T(test_subject_only_a_known_word_and_colon_make_a_scheme),
        T(test_subject_prison_numbers),
        T(test_subject_pnc_serial_zeros_make_one_id_and_years_stay_as_written),
        T(test_subject_pnc_near_misses_are_names),
        T(test_subject_cro_numbers_in_both_forms),
        T(test_subject_pnc_or_cro_shapes_need_a_scheme),
        T(test_subject_normalising_a_normalised_form_gives_it_back),
        T(test_subject_key_file_round_trips_with_mode_0600),
        T(test_subject_key_save_refuses_an_existing_file),
        T(test_subject_key_load_refuses_a_file_others_may_use),
        T(test_subject_key_load_refuses_bad_contents),
        T(test_subject_key_load_refuses_a_missing_file_or_a_directory),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
