/* opts.c — reads one liaisonctl command's flags with getopt_long from the
 * command's table, handles -c/--config and -h/--help for every command,
 * writes --help from the same table (so help and parsing cannot drift),
 * and names the flag in every usage error.
 * Not responsible for what a flag means (each command's file) or for the
 * number and time formats (common/util.c). */
#include "opts.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* getopt_long's code for a flag with no letter: past every char value. */
#define LONG_ONLY 256

void opts_begin(opts_t *o, const struct opts_spec *spec, const char *config, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->spec = spec;
    o->config = config;
    o->argc = argc;
    o->argv = argv;
    o->current = -1;
    /* '-' returns operands in place (code 1), so flags may follow them
     * whatever POSIXLY_CORRECT says; '+' stops at the first operand, for
     * a command name. ':' reports a missing value apart from a bad flag. */
    size_t k = 0;
    o->shorts[k++] = spec->in_order ? '+' : '-';
    o->shorts[k++] = ':';
    size_t n = 0;
    for (size_t i = 0; i < spec->n_flags && n < OPTS_MAX_FLAGS; i++, n++) {
        const struct opts_flag *f = &spec->flags[i];
        o->longs[n].name = f->name;
        o->longs[n].has_arg = f->arg ? required_argument : no_argument;
        o->longs[n].val = f->letter ? f->letter : LONG_ONLY + (int)i;
        if (f->letter) {
            o->shorts[k++] = (char)f->letter;
            if (f->arg)
                o->shorts[k++] = ':';
        }
    }
    o->longs[n++] = (struct option){"config", required_argument, NULL, 'c'};
    o->longs[n++] = (struct option){"help", no_argument, NULL, 'h'};
    o->longs[n] = (struct option){NULL, 0, NULL, 0};
    memcpy(o->shorts + k, "c:h", 4);
}

static void prefix(const opts_t *o, FILE *out)
{
    if (o->spec->command)
        fprintf(out, "liaisonctl %s: ", o->spec->command);
    else
        fprintf(out, "liaisonctl: ");
}

int opts_bad(const opts_t *o, const char *fmt, ...)
{
    va_list ap;
    prefix(o, stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry: liaisonctl %s%s--help\n", o->spec->command ? o->spec->command : "",
            o->spec->command ? " " : "");
    return OPTS_BAD;
}

/* The table row of getopt's code, or -1 (for -c, -h and strangers). */
static int row_of(const opts_t *o, int code)
{
    for (size_t i = 0; i < o->spec->n_flags && i < OPTS_MAX_FLAGS; i++) {
        const struct opts_flag *f = &o->spec->flags[i];
        if ((f->letter && f->letter == code) || (!f->letter && code == LONG_ONLY + (int)i))
            return (int)i;
    }
    return -1;
}

static const char *flag_name(const opts_t *o, int code, char buf[8])
{
    int r = row_of(o, code);
    if (r >= 0)
        return o->spec->flags[r].name;
    if (code == 'c')
        return "config";
    if (code == 'h')
        return "help";
    snprintf(buf, 8, "%c", code);
    return buf;
}

static int add_operand(opts_t *o, char *s)
{
    if (o->n_operands == OPTS_MAX_OPERANDS)
        return opts_bad(o, "too many arguments (from \"%.40s\")", s);
    o->operand_buf[o->n_operands++] = s;
    return 0;
}

static int finish(opts_t *o)
{
    if (o->spec->in_order) {
        o->operands = o->argv + optind;
        o->n_operands = o->argc - optind;
    } else {
        for (int i = optind; i < o->argc; i++) /* after "--" */
            if (add_operand(o, o->argv[i]) != 0)
                return OPTS_BAD;
        o->operands = o->operand_buf;
    }
    if (o->config == NULL) {
        const char *env = getenv("LIAISON_CONFIG");
        if (env && env[0])
            o->config = env;
    }
    if (o->spec->config == OPTS_CONFIG_NEEDED && o->config == NULL)
        return opts_bad(o, "needs -c agent.cfg (or LIAISON_CONFIG in the environment)");
    return OPTS_END;
}

int opts_next(opts_t *o)
{
    if (o->current == -1) {
        optind = 0; /* glibc: start afresh, whoever parsed before */
        opterr = 0; /* every message is ours, and names the flag */
        o->current = -2;
    }
    for (;;) {
        int li = -1;
        int c = getopt_long(o->argc, o->argv, o->shorts, o->longs, &li);
        char buf[8];
        switch (c) {
        case -1:
            return finish(o);
        case 1:
            if (add_operand(o, optarg) != 0)
                return OPTS_BAD;
            continue;
        case 'c':
            o->config = optarg;
            continue;
        case 'h':
            opts_help(o->spec, stdout);
            return OPTS_HELP;
        case ':':
            return opts_bad(o, "--%s needs a value", flag_name(o, optopt, buf));
        case '?':
            if (optopt == 0) {
                const char *bad = o->argv[optind - 1];
                size_t len = strcspn(bad, "=");
                return opts_bad(o, "unknown or ambiguous flag \"%.*s\"", (int)(len > 40 ? 40 : len),
                                bad);
            }
            if (row_of(o, optopt) >= 0 || optopt == 'h' || optopt == 'c')
                return opts_bad(o, "--%s takes no value", flag_name(o, optopt, buf));
            if (optopt > 0x20 && optopt < 0x7f)
                return opts_bad(o, "unknown flag \"-%c\"", optopt);
            return opts_bad(o, "unknown flag");
        default:
            o->current = row_of(o, c);
            if (o->current < 0)
                return opts_bad(o, "unknown flag");
            o->arg = optarg;
            return o->current;
        }
    }
}

/* "--count", or "-n/--lines" for a flag with a letter. */
static const char *current_name(const opts_t *o, char buf[64])
{
    if (o->current < 0)
        return "?";
    const struct opts_flag *f = &o->spec->flags[o->current];
    if (f->letter)
        snprintf(buf, 64, "-%c/--%s", f->letter, f->name);
    else
        snprintf(buf, 64, "--%s", f->name);
    return buf;
}

int opts_u64(const opts_t *o, uint64_t min, uint64_t max, uint64_t *out)
{
    if (util_parse_u64(o->arg, min, max, out) == 0)
        return 0;
    char name[64];
    opts_bad(o, "%s wants a whole number from %llu to %llu, not \"%.40s\"", current_name(o, name),
             (unsigned long long)min, (unsigned long long)max, o->arg);
    return -1;
}

int opts_seconds(const opts_t *o, double min, double max, double *out)
{
    if (util_parse_seconds(o->arg, min, max, out) == 0)
        return 0;
    char name[64];
    opts_bad(o, "%s wants seconds from %g to %g (e.g. 2 or 0.5), not \"%.40s\"",
             current_name(o, name), min, max, o->arg);
    return -1;
}

int opts_since(const opts_t *o, int64_t *us)
{
    if (util_parse_since(o->arg, util_now_us(), us) == 0)
        return 0;
    char name[64];
    opts_bad(o,
             "%s wants a time: YYYY-MM-DD, RFC 3339 (2026-12-01T10:00:00Z or +01:00), or how "
             "long ago (45s, 30m, 1h, 2d), not \"%.40s\"",
             current_name(o, name), o->arg);
    return -1;
}

/* One line of the flag list: "  -n, --count N" padded to the help column. */
static void help_line(FILE *out, int letter, const char *name, const char *arg, const char *help)
{
    char left[96];
    if (letter)
        snprintf(left, sizeof left, "  -%c, --%s%s%s", letter, name, arg ? " " : "",
                 arg ? arg : "");
    else
        snprintf(left, sizeof left, "      --%s%s%s", name, arg ? " " : "", arg ? arg : "");
    if (strlen(left) < 30)
        fprintf(out, "%-30s %s\n", left, help);
    else
        fprintf(out, "%s\n%-30s %s\n", left, "", help);
}

void opts_help(const struct opts_spec *spec, FILE *out)
{
    fprintf(out, "usage: liaisonctl [-c agent.cfg] %s%s%s\n", spec->command ? spec->command : "",
            spec->command && spec->synopsis[0] ? " " : "", spec->synopsis);
    fputs(spec->about, out);
    fputs("flags:\n", out);
    for (size_t i = 0; i < spec->n_flags; i++) {
        const struct opts_flag *f = &spec->flags[i];
        help_line(out, f->letter, f->name, f->arg, f->help);
    }
    help_line(out, 'c', "config", "FILE",
              spec->config == OPTS_CONFIG_NEEDED
                  ? "the agent.cfg to connect with (default: $LIAISON_CONFIG)"
                  : "the agent.cfg of commands that connect (default: $LIAISON_CONFIG)");
    help_line(out, 'h', "help", NULL, "print this help and exit");
    if (spec->more_help)
        spec->more_help(out);
    fputs("exit status: 0 done, 1 refused or failed, 2 bad usage\n", out);
}
