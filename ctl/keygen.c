/* keygen.c — liaisonctl keygen NAME [--dir D] [--sign | --subject-key]: a
 * CURVE key pair on disk, or with --sign an Ed25519 pair for signing audit
 * checkpoints, or with --subject-key the broker's key for its blind subject
 * index.
 * Not responsible for registering the key with a broker (broker.cfg). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "opts.h"
#include "subject.h"
#include "util.h"

enum { F_DIR, F_SIGN, F_SUBJECT };

static const struct opts_flag flags[] = {
    [F_DIR] = {"dir", 0, "D", "write the files into directory D (default: .)"},
    [F_SIGN] = {"sign", 0, NULL, "an Ed25519 pair for audit checkpoints (NAME.sign.pub/.key)"},
    [F_SUBJECT] = {"subject-key", 0, NULL,
                   "the broker's subject index key (NAME.subject.key, mode 0600)"},
};

static const struct opts_spec spec = {
    .command = "keygen",
    .synopsis = "NAME [--dir D] [--sign | --subject-key]",
    .about = "Writes a new CURVE key pair, D/NAME.pub and D/NAME.key (mode 0600), and prints\n"
             "their paths. Send NAME.pub to the broker's operator; NAME.key never leaves.\n"
             "With --subject-key, writes D/NAME.subject.key instead: the 32 random bytes the\n"
             "broker hashes message subjects under, named in broker.cfg as subject_key.\n"
             "It never overwrites a file.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
};

/* D/NAME.subject.key: random bytes, saved by the module that reads them. */
static int subject_keygen(const char *dir, const char *name)
{
    char path[4096], err[512];
    uint8_t key[SUBJECT_KEY_BYTES];
    if (sodium_init() < 0 || util_mkdirs(dir) != 0) {
        fprintf(stderr, "liaisonctl: keygen: %s: cannot prepare: %s\n", dir, strerror(errno));
        return CTL_FAIL;
    }
    int n = snprintf(path, sizeof path, "%s/%s.subject.key", dir, name);
    if (n < 0 || (size_t)n >= sizeof path) {
        fprintf(stderr, "liaisonctl: keygen: %s/%s: path too long\n", dir, name);
        return CTL_FAIL;
    }
    randombytes_buf(key, sizeof key);
    int rc = subject_key_save(path, key, err, sizeof err);
    sodium_memzero(key, sizeof key);
    if (rc != 0) {
        fprintf(stderr, "liaisonctl: keygen: %s\n", err);
        return CTL_FAIL;
    }
    printf("%s: a new subject key (mode 0600); it goes in broker.cfg as subject_key = \"%s\"\n",
           path, path);
    return CTL_OK;
}

int ctl_keygen(const char *config, int argc, char **argv)
{
    const char *dir = ".";
    int sign = 0, subject = 0, k;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == F_DIR)
            dir = o.arg;
        else if (k == F_SIGN)
            sign = 1;
        else if (k == F_SUBJECT)
            subject = 1;
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands != 1)
        return opts_bad(&o, "wants one NAME"), CTL_USAGE;
    const char *name = o.operands[0];
    if (name[0] == '\0' || strchr(name, '/'))
        return opts_bad(&o, "NAME must be non-empty and without '/'"), CTL_USAGE;
    if (sign && subject)
        return opts_bad(&o, "--sign and --subject-key make different keys: give one"), CTL_USAGE;
    if (subject)
        return subject_keygen(dir, name);
    char err[512];
    if ((sign ? keys_generate_signing(dir, name, err, sizeof err)
              : keys_generate(dir, name, err, sizeof err)) != 0) {
        fprintf(stderr, "liaisonctl: keygen: %s\n", err);
        return CTL_FAIL;
    }
    const char *ext = sign ? ".sign" : "";
    printf("%s/%s%s.pub\n%s/%s%s.key\n", dir, name, ext, dir, name, ext);
    return CTL_OK;
}
