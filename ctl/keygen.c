/* keygen.c — liaisonctl keygen NAME [--dir D]: a CURVE key pair on disk.
 * Not responsible for registering the key with a broker (broker.cfg). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"

int ctl_keygen(const char *config, int argc, char **argv)
{
    (void)config;
    const char *name = NULL, *dir = ".";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (name == NULL && argv[i][0] != '-')
            name = argv[i];
        else {
            fprintf(stderr, "usage: liaisonctl keygen NAME [--dir D]\n");
            return CTL_USAGE;
        }
    }
    if (name == NULL || name[0] == '\0' || strchr(name, '/')) {
        fprintf(stderr, "usage: liaisonctl keygen NAME [--dir D] (NAME without '/')\n");
        return CTL_USAGE;
    }
    char err[512];
    if (keys_generate(dir, name, err, sizeof err) != 0) {
        fprintf(stderr, "liaisonctl: keygen: %s\n", err);
        return CTL_FAIL;
    }
    printf("%s/%s.pub\n%s/%s.key\n", dir, name, dir, name);
    return CTL_OK;
}
