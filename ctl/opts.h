/* opts.h — one command's command line: its flags as a table, read with
 * getopt_long, its --help written from the same table, and usage errors
 * that name the bad flag. Every liaisonctl command takes -c/--config and
 * -h/--help, so -c may come before or after the command name; without
 * either, LIAISON_CONFIG in the environment gives the config.
 * Not responsible for what a flag means (each command's file) or for
 * parsing numbers and times (common/util.c). */
#ifndef LIAISON_CTL_OPTS_H
#define LIAISON_CTL_OPTS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Most flags of one command, and most operands (FILE, PATTERN, SEQ...). */
#define OPTS_MAX_FLAGS    32
#define OPTS_MAX_OPERANDS 8

struct opts_flag {
    const char *name; /* long name without "--" */
    int letter;       /* short option letter, or 0 */
    const char *arg;  /* placeholder of its value ("N"), NULL for a flag */
    const char *help; /* what it does, one line */
};

enum opts_config {
    OPTS_CONFIG_UNUSED = 0, /* -c is accepted but not needed */
    OPTS_CONFIG_NEEDED,     /* without a config the command is bad usage */
};

struct opts_spec {
    const char *command;  /* "sub", "audit tail"; NULL for liaisonctl itself */
    const char *synopsis; /* what follows the command: "PATTERN [--count N]" */
    const char *about;    /* what it does, lines ending in '\n' */
    const struct opts_flag *flags;
    size_t n_flags;
    enum opts_config config;
    int in_order; /* stop at the first operand: it names a command */
    /* Printed at the end of --help (the list of commands), or NULL. */
    void (*more_help)(FILE *out);
};

typedef struct opts {
    const struct opts_spec *spec;
    int argc;
    char **argv;        /* argv[0] is the command's name; borrowed */
    const char *config; /* after OPTS_END: the config path, or NULL */
    const char *arg;    /* the value of the flag just returned */
    int current;        /* the index of the flag just returned */
    char **operands;    /* after OPTS_END: borrowed from argv */
    int n_operands;
    char *operand_buf[OPTS_MAX_OPERANDS];
    struct option longs[OPTS_MAX_FLAGS + 3];
    char shorts[3 * OPTS_MAX_FLAGS + 8];
} opts_t;

/* What opts_next returns besides a flag's index. */
#define OPTS_END  (-1) /* all read: operands and config are set */
#define OPTS_HELP (-2) /* --help was printed on stdout: exit 0 */
#define OPTS_BAD  (-3) /* a usage error was printed on stderr: exit 2 */

/* Starts reading argv (argv[0] the command) for spec; config is the one
 * given before the command, or NULL. The spec and argv are borrowed for
 * as long as o is used. */
void opts_begin(opts_t *o, const struct opts_spec *spec, const char *config, int argc, char **argv);
/* The index in spec->flags of the next flag given (its value in o->arg),
 * or OPTS_END, OPTS_HELP or OPTS_BAD. */
int opts_next(opts_t *o);

/* Prints "liaisonctl CMD: <reason>" and a pointer to --help on stderr.
 * Returns OPTS_BAD, so a command can `return opts_bad(...)` inside its
 * flag loop or map it to exit status 2 after. */
__attribute__((format(printf, 2, 3))) int opts_bad(const opts_t *o, const char *fmt, ...);

/* The current flag's value, strictly: a whole number in [min, max], or
 * seconds in [min, max], or a --since moment (util_parse_since). On a bad
 * value they print a message naming the flag and return -1. */
int opts_u64(const opts_t *o, uint64_t min, uint64_t max, uint64_t *out);
int opts_seconds(const opts_t *o, double min, double max, double *out);
int opts_since(const opts_t *o, int64_t *us);

/* Writes spec's --help text. */
void opts_help(const struct opts_spec *spec, FILE *out);

#endif
