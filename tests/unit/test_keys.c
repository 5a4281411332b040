/* test_keys.c — CURVE key files (common/keys.c) in a temporary directory:
 * keygen's two files and their modes, never overwriting, reading both back,
 * deriving the public key, inline Z85 public keys, and refusing files that
 * do not hold a key. */
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

#include "keys.h"

struct fixture {
    char dir[64];
    mode_t old_umask;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/liaison-test-keys-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    /* The usual umask, so the modes keygen asks for are the modes it gets. */
    f->old_umask = umask(022);
    *state = f;
    return 0;
}

/* Removes the files the tests may have made, then the directory. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    static const char *names[] = {"alice.pub",     "alice.key", "bob.pub",  "bob.key",
                                  "garbage.pub",   "empty.pub", "long.pub", "sub/carol.pub",
                                  "sub/carol.key", "eve.pub",   "eve.key",  "crlf.key"};
    char path[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", f->dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sub", f->dir);
    rmdir(path);
    int rc = rmdir(f->dir);
    umask(f->old_umask);
    free(f);
    return rc;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static size_t read_file(const char *dir, const char *name, char *out, size_t outlen)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(out, 1, outlen - 1, fp);
    out[n] = '\0';
    fclose(fp);
    return n;
}

static mode_t file_mode(const char *dir, const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_keys_keygen_writes_a_pair_that_reads_back(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    assert_int_equal(keys_generate(f->dir, "alice", err, sizeof err), 0);

    uint8_t pub[32], sec[32], derived[32];
    assert_int_equal(keys_read_public("alice.pub", f->dir, pub, err, sizeof err), 0);
    assert_int_equal(keys_read_secret("alice.key", f->dir, sec, err, sizeof err), 0);
    assert_int_equal(keys_public_from_secret(sec, derived), 0);
    assert_memory_equal(pub, derived, 32);
    assert_memory_not_equal(pub, sec, 32);
}

static void test_keys_keygen_files_are_z85_lines_with_modes(void **state)
{
    struct fixture *f = *state;
    char err[512] = "", text[128];
    assert_int_equal(keys_generate(f->dir, "alice", err, sizeof err), 0);

    assert_int_equal(file_mode(f->dir, "alice.pub"), 0644);
    assert_int_equal(file_mode(f->dir, "alice.key"), 0600);

    /* One line of 40 Z85 characters each. */
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              ".-:+=^!/*?&<>()[]{}@%$#";
    const char *files[] = {"alice.pub", "alice.key"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(read_file(f->dir, files[i], text, sizeof text), 41);
        assert_int_equal(text[40], '\n');
        assert_int_equal(strspn(text, z85), 40);
    }

    /* The .pub text is the Z85 of the key read back from it. */
    uint8_t pub[32];
    char again[41];
    assert_int_equal(keys_read_public("alice.pub", f->dir, pub, err, sizeof err), 0);
    keys_z85(pub, again);
    read_file(f->dir, "alice.pub", text, sizeof text);
    assert_memory_equal(text, again, 40);
    assert_int_equal(again[40], '\0');
}

static void test_keys_keygen_makes_distinct_pairs(void **state)
{
    struct fixture *f = *state;
    char err[512];
    uint8_t a[32], b[32];
    assert_int_equal(keys_generate(f->dir, "alice", err, sizeof err), 0);
    assert_int_equal(keys_generate(f->dir, "bob", err, sizeof err), 0);
    assert_int_equal(keys_read_public("alice.pub", f->dir, a, err, sizeof err), 0);
    assert_int_equal(keys_read_public("bob.pub", f->dir, b, err, sizeof err), 0);
    assert_memory_not_equal(a, b, 32);
}

static void test_keys_keygen_refuses_to_overwrite(void **state)
{
    struct fixture *f = *state;
    char err[512] = "", before_pub[128], before_key[128], after[128];
    assert_int_equal(keys_generate(f->dir, "alice", err, sizeof err), 0);
    read_file(f->dir, "alice.pub", before_pub, sizeof before_pub);
    read_file(f->dir, "alice.key", before_key, sizeof before_key);

    err[0] = '\0';
    assert_int_equal(keys_generate(f->dir, "alice", err, sizeof err), -1);
    assert_non_null(strstr(err, "alice."));

    /* The identity the broker already trusts is untouched. */
    read_file(f->dir, "alice.pub", after, sizeof after);
    assert_string_equal(after, before_pub);
    read_file(f->dir, "alice.key", after, sizeof after);
    assert_string_equal(after, before_key);
}

static void test_keys_keygen_refusal_leaves_no_half_pair(void **state)
{
    struct fixture *f = *state;
    char err[512] = "", text[128], path[256];
    /* NAME.pub is there but NAME.key is not: keygen refuses, and must not
     * leave behind a new secret key whose public half was never written
     * (a later keygen would then refuse on the .key too). */
    write_file(f->dir, "eve.pub", "an operator's note\n");
    assert_int_equal(keys_generate(f->dir, "eve", err, sizeof err), -1);
    assert_non_null(strstr(err, "eve.pub"));
    read_file(f->dir, "eve.pub", text, sizeof text);
    assert_string_equal(text, "an operator's note\n");
    snprintf(path, sizeof path, "%s/eve.key", f->dir);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_keys_keygen_creates_the_directory(void **state)
{
    struct fixture *f = *state;
    char err[512], dir[128];
    snprintf(dir, sizeof dir, "%s/sub", f->dir);
    assert_int_equal(keys_generate(dir, "carol", err, sizeof err), 0);
    uint8_t pub[32];
    assert_int_equal(keys_read_public("sub/carol.pub", f->dir, pub, err, sizeof err), 0);
    /* An absolute path ignores the base directory. */
    char abs[256];
    snprintf(abs, sizeof abs, "%s/carol.key", dir);
    uint8_t sec[32];
    assert_int_equal(keys_read_secret(abs, "/nonexistent", sec, err, sizeof err), 0);
}

static void test_keys_read_public_accepts_inline_z85(void **state)
{
    struct fixture *f = *state;
    char err[512];
    assert_int_equal(keys_generate(f->dir, "alice", err, sizeof err), 0);
    uint8_t from_file[32], inline_key[32];
    assert_int_equal(keys_read_public("alice.pub", f->dir, from_file, err, sizeof err), 0);

    char z85[41];
    keys_z85(from_file, z85);
    memset(inline_key, 0, sizeof inline_key);
    assert_int_equal(keys_read_public(z85, f->dir, inline_key, err, sizeof err), 0);
    assert_memory_equal(inline_key, from_file, 32);

    /* A known pair: the curve public key of the ZeroMQ test vectors. */
    static const char server_public[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    static const char server_secret[] = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    uint8_t pk[32], derived[32], sk_check[32];
    assert_int_equal(keys_read_public(server_public, f->dir, pk, err, sizeof err), 0);
    /* Written by hand on another system: CRLF line end, mode 0600. */
    char line[64], path[256];
    snprintf(line, sizeof line, "%s\r\n", server_secret);
    write_file(f->dir, "crlf.key", line);
    snprintf(path, sizeof path, "%s/crlf.key", f->dir);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(keys_read_secret("crlf.key", f->dir, sk_check, err, sizeof err), 0);
    assert_int_equal(keys_public_from_secret(sk_check, derived), 0);
    assert_memory_equal(derived, pk, 32);
}

static void test_keys_read_public_refuses_garbage(void **state)
{
    struct fixture *f = *state;
    char err[512];
    uint8_t key[32];

    write_file(f->dir, "garbage.pub", "this is not a key at all\n");
    err[0] = '\0';
    assert_int_equal(keys_read_public("garbage.pub", f->dir, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "garbage.pub"));
    err[0] = '\0';
    assert_int_equal(keys_read_secret("garbage.pub", f->dir, key, err, sizeof err), -1);
    assert_true(err[0] != '\0');

    /* 40 characters, but not Z85 ('~' and '"' are outside its alphabet). */
    write_file(f->dir, "garbage.pub", "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
    assert_int_equal(keys_read_public("garbage.pub", f->dir, key, err, sizeof err), -1);
    write_file(f->dir, "garbage.pub", "\"rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7rq\n");
    assert_int_equal(keys_read_public("garbage.pub", f->dir, key, err, sizeof err), -1);

    /* One character too many or too few. */
    write_file(f->dir, "long.pub", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7x\n");
    assert_int_equal(keys_read_public("long.pub", f->dir, key, err, sizeof err), -1);
    write_file(f->dir, "long.pub", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\n");
    assert_int_equal(keys_read_public("long.pub", f->dir, key, err, sizeof err), -1);

    write_file(f->dir, "empty.pub", "");
    err[0] = '\0';
    assert_int_equal(keys_read_public("empty.pub", f->dir, key, err, sizeof err), -1);
    assert_true(err[0] != '\0');

    /* A missing file is named in the reason. */
    err[0] = '\0';
    assert_int_equal(keys_read_public("nobody.pub", f->dir, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "nobody.pub"));
    err[0] = '\0';
    assert_int_equal(keys_read_secret("nobody.key", f->dir, key, err, sizeof err), -1);
    assert_non_null(strstr(err, "nobody.key"));
}

static void test_keys_z85_round_trips_every_byte_value(void **state)
{
    struct fixture *f = *state;
    char err[512], z85[41];
    uint8_t key[32], back[32];
    for (int start = 0; start < 256; start += 32) {
        for (int i = 0; i < 32; i++)
            key[i] = (uint8_t)(start + i);
        keys_z85(key, z85);
        assert_int_equal(strlen(z85), 40);
        assert_int_equal(keys_read_public(z85, f->dir, back, err, sizeof err), 0);
        assert_memory_equal(back, key, 32);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_keys_keygen_writes_a_pair_that_reads_back),
        T(test_keys_keygen_files_are_z85_lines_with_modes),
        T(test_keys_keygen_makes_distinct_pairs),
        T(test_keys_keygen_refuses_to_overwrite),
        T(test_keys_keygen_refusal_leaves_no_half_pair),
        T(test_keys_keygen_creates_the_directory),
        T(test_keys_read_public_accepts_inline_z85),
        T(test_keys_read_public_refuses_garbage),
        T(test_keys_z85_round_trips_every_byte_value),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
