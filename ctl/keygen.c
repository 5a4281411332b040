/* keygen.c — liaisonctl keygen NAME [--dir D] [--sign]: a CURVE key pair on
 * disk, or with --sign an Ed25519 pair for signing audit checkpoints.
 * Not responsible for registering the key with a broker (broker.cfg). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"

int ctl_keygen(const char *config, int argc, char **argv)
{
    (void)config;
    const char *name = NULL, *dir = ".";
    int sign = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--sign") == 0)
            sign = 1;
        else if (name == NULL && argv[i][0] != '-')
            name = argv[i];
        else {
            fprintf(stderr, "usage: liaisonctl keygen NAME [--dir D] [--sign]\n");
            return CTL_USAGE;
        }
    }
    if (name == NULL || name[0] == '\0' || strchr(name, '/')) {
        fprintf(stderr, "usage: liaisonctl keygen NAME [--dir D] (NAME without '/')\n");
        return CTL_USAGE;
    }
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
