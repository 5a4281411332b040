/* keygen.c — liaisonctl keygen NAME [--dir D] [--sign]: a CURVE key pair on
 * disk, or with --sign an Ed25519 pair for signing audit checkpoints.
 * Not responsible for registering the key with a broker (broker.cfg). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "opts.h"
#include "util.h"

enum { F_DIR, F_SIGN };

static const struct opts_flag flags[] = {
    [F_DIR] = {"dir", 0, "D", "write the files into directory D (default: .)"},
    [F_SIGN] = {"sign", 0, NULL, "an Ed25519 pair for audit checkpoints (NAME.sign.pub/.key)"},
};

static const struct opts_spec spec = {
    .command = "keygen",
    .synopsis = "NAME [--dir D] [--sign]",
    .about = "Writes a new CURVE key pair, D/NAME.pub and D/NAME.key (mode 0600), and prints\n"
             "their paths. Send NAME.pub to the broker's operator; NAME.key never leaves.\n",
    .flags = flags,
    .n_flags = UTIL_LEN(flags),
};

int ctl_keygen(const char *config, int argc, char **argv)
{
    const char *dir = ".";
    int sign = 0, k;
    opts_t o;
    opts_begin(&o, &spec, config, argc, argv);
    while ((k = opts_next(&o)) >= 0) {
        if (k == F_DIR)
            dir = o.arg;
        else if (k == F_SIGN)
            sign = 1;
    }
    if (k != OPTS_END)
        return k == OPTS_HELP ? CTL_OK : CTL_USAGE;
    if (o.n_operands != 1)
        return opts_bad(&o, "wants one NAME"), CTL_USAGE;
    const char *name = o.operands[0];
    if (name[0] == '\0' || strchr(name, '/'))
        return opts_bad(&o, "NAME must be non-empty and without '/'"), CTL_USAGE;
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
