/* cfg.c — the table-driven config engine over libconfig: loading a file,
 * walking its settings, filling a struct from a table of rows with type,
 * range and unknown-key checks, freeing what it filled, printing it back.
 * Not responsible for: the meaning of any key (broker/config.c,
 * common/client_config.c). The only file that includes libconfig.h: its
 * config_t would also collide with broker/config.h's config_t. */
#include "cfg.h"

#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

struct cfg {
    config_t lc;
    char *path;
    char *dir; /* for @include; libconfig borrows it */
};

/* cfg_node_t is never defined: a cfg_node_t pointer is a libconfig setting
 * seen through an opaque name. These two are the only conversions. */
static const config_setting_t *lc_of(const cfg_node_t *n)
{
    return (const config_setting_t *)(const void *)n;
}

static const cfg_node_t *node_of(const config_setting_t *s)
{
    return (const cfg_node_t *)(const void *)s;
}

/* libconfig's scanner exits the whole process when it cannot read what an
 * @include names (a directory, or a name cut short by a NUL byte), so
 * every file is checked first, as libconfig will read it: text without a
 * NUL byte, each @include naming a regular file (relative to dir), which
 * is checked the same way, at most 10 deep as libconfig allows.
 * 0, or -1 with the reason in err. */
#define INCLUDE_DEPTH_MAX 10

static int check_text(const char *path, const char *dir, int depth, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int line = 0, rc = 0;
    while (rc == 0 && (got = getline(&buf, &cap, f)) >= 0) {
        line++;
        if (strlen(buf) != (size_t)got) {
            snprintf(err, errlen, "%s:%d: a NUL byte: a config file is text", path, line);
            rc = -1;
            break;
        }
        const char *p = buf + strspn(buf, " \t");
        if (strncmp(p, "@include", 8) != 0)
            continue;
        const char *q = strchr(p + 8, '"'), *e = q ? strchr(q + 1, '"') : NULL;
        if (q == NULL || e == NULL)
            continue; /* libconfig's own syntax error */
        char name[4096], full[8192];
        snprintf(name, sizeof name, "%.*s", (int)(e - q - 1), q + 1);
        if (name[0] == '/')
            snprintf(full, sizeof full, "%s", name);
        else
            snprintf(full, sizeof full, "%s/%s", dir, name);
        struct stat st;
        if (depth + 1 > INCLUDE_DEPTH_MAX) {
            snprintf(err, errlen, "%s:%d: @include nested too deep", path, line);
            rc = -1;
        } else if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "%s:%d: @include \"%s\": not a readable file", path, line, name);
            rc = -1;
        } else {
            rc = check_text(full, dir, depth + 1, err, errlen);
        }
    }
    free(buf);
    fclose(f);
    return rc;
}

cfg_t *cfg_load(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    cfg_t *c = xcalloc(1, sizeof *c);
    config_init(&c->lc);
    c->path = xstrdup(path);
    util_dirname(dir, sizeof dir, path);
    c->dir = xstrdup(dir);
    config_set_include_dir(&c->lc, c->dir);

    /* libconfig reports an unreadable file without errno; reading it first
     * lets the operator see "No such file" or "Permission denied". */
    if (check_text(path, dir, 0, err, errlen) != 0)
        goto fail;
    if (config_read_file(&c->lc, path) != CONFIG_TRUE) {
        const char *file = config_error_file(&c->lc);
        if (config_error_type(&c->lc) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "%s: %s", file ? file : path,
                     config_error_text(&c->lc) ? config_error_text(&c->lc) : "cannot read");
        else
            snprintf(err, errlen, "%s:%d: %s", file ? file : path, config_error_line(&c->lc),
                     config_error_text(&c->lc) ? config_error_text(&c->lc) : "syntax error");
        goto fail;
    }
    return c;
fail:
    cfg_close(&c);
    return NULL;
}

void cfg_close(cfg_t **cp)
{
    if (cp == NULL || *cp == NULL)
        return;
    cfg_t *c = *cp;
    config_destroy(&c->lc);
    free(c->path);
    free(c->dir);
    free(c);
    *cp = NULL;
}

const char *cfg_path(const cfg_t *c)
{
    return c->path;
}

const cfg_node_t *cfg_root(const cfg_t *c)
{
    return node_of(config_root_setting(&c->lc));
}

const cfg_node_t *cfg_member(const cfg_node_t *group, const char *name)
{
    if (group == NULL || !config_setting_is_group(lc_of(group)))
        return NULL;
    return node_of(config_setting_get_member(lc_of(group), name));
}

size_t cfg_length(const cfg_node_t *node)
{
    if (node == NULL || !config_setting_is_aggregate(lc_of(node)))
        return 0;
    return (size_t)config_setting_length(lc_of(node));
}

const cfg_node_t *cfg_elem(const cfg_node_t *node, size_t i)
{
    if (i >= cfg_length(node))
        return NULL;
    return node_of(config_setting_get_elem(lc_of(node), (unsigned)i));
}

unsigned cfg_line(const cfg_node_t *node)
{
    return node == NULL ? 0 : config_setting_source_line(lc_of(node));
}

int cfg_is_group(const cfg_node_t *node)
{
    return node != NULL && config_setting_is_group(lc_of(node));
}

int cfg_is_list(const cfg_node_t *node)
{
    return node != NULL && config_setting_is_list(lc_of(node));
}

/* The file a setting came from: the top file, or one it @included. */
static const char *node_file(const cfg_t *c, const cfg_node_t *node)
{
    const char *f = node ? config_setting_source_file(lc_of(node)) : NULL;
    return f ? f : c->path;
}

static int vfail(const cfg_t *c, const cfg_node_t *node, const char *key, char *err, size_t errlen,
                 const char *fmt, va_list ap)
{
    char why[512];
    vsnprintf(why, sizeof why, fmt, ap);
    unsigned line = cfg_line(node);
    if (line > 0)
        snprintf(err, errlen, "%s:%u: %s: %s", node_file(c, node), line, key, why);
    else
        snprintf(err, errlen, "%s: %s: %s", node_file(c, node), key, why);
    return -1;
}

int cfg_fail(const cfg_t *c, const cfg_node_t *node, const char *key, char *err, size_t errlen,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c, node, key, err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *type_name(int lctype)
{
    switch (lctype) {
    case CONFIG_TYPE_GROUP:
        return "a group { }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number with a fraction";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ]";
    case CONFIG_TYPE_LIST:
        return "a list ( )";
    default:
        return "something else";
    }
}

static const char *want_name(enum cfg_type t)
{
    switch (t) {
    case CFG_STRING:
        return "a string";
    case CFG_UINT:
        return "a non-negative integer";
    case CFG_BOOL:
        return "true or false";
    case CFG_STRLIST:
        return "a list of strings [ \"...\" ]";
    case CFG_GROUP:
        return "a group { }";
    case CFG_LIST:
        return "a list ( )";
    }
    return "?";
}

static void *field(void *obj, size_t offset)
{
    return (char *)obj + offset;
}

static const void *cfield(const void *obj, size_t offset)
{
    return (const char *)obj + offset;
}

static const cfg_key_t *find_row(const cfg_key_t *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

/* Runs a row's check on one value, naming node (or, for a default, the
 * group it would have been in). */
static int run_check(const cfg_t *c, const cfg_node_t *node, const char *key, const cfg_key_t *row,
                     const char *value, void *obj, void *ctx, char *err, size_t errlen)
{
    char why[512];
    if (row->check == NULL)
        return 0;
    why[0] = '\0';
    if (row->check(value, obj, ctx, why, sizeof why) == 0)
        return 0;
    return cfg_fail(c, node, key, err, errlen, "%s", why[0] ? why : "invalid value");
}

/* Applies a row's default when the key is absent. */
static int apply_default(const cfg_t *c, const cfg_node_t *group, const char *key,
                         const cfg_key_t *row, void *obj, void *ctx, char *err, size_t errlen)
{
    switch (row->type) {
    case CFG_STRING:
        if (row->offset != CFG_NOFIELD) {
            char **p = field(obj, row->offset);
            free(*p);
            *p = xstrdup(row->def ? row->def : "");
        }
        if (row->def != NULL)
            return run_check(c, group, key, row, row->def, obj, ctx, err, errlen);
        return 0;
    case CFG_UINT:
        if (row->offset != CFG_NOFIELD)
            *(unsigned *)field(obj, row->offset) = row->def_uint;
        return 0;
    case CFG_BOOL:
        if (row->offset != CFG_NOFIELD)
            *(int *)field(obj, row->offset) = row->def_uint ? 1 : 0;
        return 0;
    case CFG_STRLIST:
        /* The default list is empty; fields are already zero or freed. */
        return 0;
    case CFG_GROUP:
    case CFG_LIST:
        return 0;
    }
    return 0;
}

static int parse_strlist(const cfg_t *c, const cfg_node_t *node, const char *key,
                         const cfg_key_t *row, void *obj, void *ctx, char *err, size_t errlen)
{
    const config_setting_t *s = lc_of(node);
    size_t n = cfg_length(node);
    char **list = NULL;
    size_t *countp = NULL;
    char ekey[340]; /* key (300) plus "[index]" */

    if (row->offset != CFG_NOFIELD) {
        char ***lp = field(obj, row->offset);
        countp = field(obj, row->count_offset);
        /* Stored before filling, so cfg_free_fields frees a half-read list. */
        list = xcalloc(n ? n : 1, sizeof *list);
        *lp = list;
        *countp = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        snprintf(ekey, sizeof ekey, "%s[%zu]", key, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return cfg_fail(c, node_of(e), ekey, err, errlen, "expected a string, found %s",
                            type_name(config_setting_type(e)));
        const char *v = config_setting_get_string(e);
        if (list != NULL) {
            list[i] = xstrdup(v);
            *countp = i + 1;
        }
        if (run_check(c, node_of(e), ekey, row, v, obj, ctx, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Parses one present setting against its row. */
static int parse_value(const cfg_t *c, const cfg_node_t *node, const char *key,
                       const cfg_key_t *row, void *obj, void *ctx, char *err, size_t errlen)
{
    const config_setting_t *s = lc_of(node);
    int t = config_setting_type(s);

    switch (row->type) {
    case CFG_STRING: {
        if (t != CONFIG_TYPE_STRING)
            break;
        const char *v = config_setting_get_string(s);
        if (row->offset != CFG_NOFIELD) {
            char **p = field(obj, row->offset);
            free(*p);
            *p = xstrdup(v);
        }
        return run_check(c, node, key, row, v, obj, ctx, err, errlen);
    }
    case CFG_UINT: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            break;
        long long v = config_setting_get_int64(s);
        if (v < (long long)row->min || v > (long long)row->max)
            return cfg_fail(c, node, key, err, errlen, "%lld is out of range %u..%u", v, row->min,
                            row->max);
        if (row->offset != CFG_NOFIELD)
            *(unsigned *)field(obj, row->offset) = (unsigned)v;
        return 0;
    }
    case CFG_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            break;
        if (row->offset != CFG_NOFIELD)
            *(int *)field(obj, row->offset) = config_setting_get_bool(s) ? 1 : 0;
        return 0;
    case CFG_STRLIST:
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            break;
        return parse_strlist(c, node, key, row, obj, ctx, err, errlen);
    case CFG_GROUP:
        if (t != CONFIG_TYPE_GROUP)
            break;
        return 0;
    case CFG_LIST:
        /* An empty ( ) and an empty [ ] read the same to a person. */
        if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && cfg_length(node) == 0))
            break;
        return 0;
    }
    return cfg_fail(c, node, key, err, errlen, "expected %s, found %s", want_name(row->type),
                    type_name(t));
}

static void join_key(char *out, size_t outlen, const char *where, const char *name)
{
    if (where == NULL || where[0] == '\0')
        snprintf(out, outlen, "%s", name);
    else
        snprintf(out, outlen, "%s.%s", where, name);
}

int cfg_parse(const cfg_t *c, const cfg_node_t *group, const char *where, const cfg_key_t *table,
              size_t n, void *obj, void *ctx, char *err, size_t errlen)
{
    char key[300];

    if (group != NULL && !cfg_is_group(group))
        return cfg_fail(c, group, where && where[0] ? where : "(root)", err, errlen,
                        "expected a group { }, found %s",
                        type_name(config_setting_type(lc_of(group))));

    /* Unknown keys first: a misspelt key must not pass as "default used". */
    for (size_t i = 0; i < cfg_length(group); i++) {
        const cfg_node_t *m = cfg_elem(group, i);
        const char *name = config_setting_name(lc_of(m));
        if (find_row(table, n, name) == NULL) {
            join_key(key, sizeof key, where, name);
            return cfg_fail(c, m, key, err, errlen, "unknown key");
        }
    }
    /* Then in table order, so checks may rely on earlier rows being set. */
    for (size_t i = 0; i < n; i++) {
        const cfg_key_t *row = &table[i];
        const cfg_node_t *m = cfg_member(group, row->name);
        join_key(key, sizeof key, where, row->name);
        if (m == NULL) {
            if (row->flags & CFG_REQUIRED)
                return cfg_fail(c, group, key, err, errlen, "missing (required)");
            if (apply_default(c, group, key, row, obj, ctx, err, errlen) != 0)
                return -1;
            continue;
        }
        if (parse_value(c, m, key, row, obj, ctx, err, errlen) != 0)
            return -1;
    }
    return 0;
}

void cfg_free_fields(const cfg_key_t *table, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        const cfg_key_t *row = &table[i];
        if (row->offset == CFG_NOFIELD)
            continue;
        if (row->type == CFG_STRING) {
            char **p = field(obj, row->offset);
            free(*p);
            *p = NULL;
        } else if (row->type == CFG_STRLIST) {
            char ***lp = field(obj, row->offset);
            size_t *countp = field(obj, row->count_offset);
            for (size_t j = 0; *lp != NULL && j < *countp; j++)
                free((*lp)[j]);
            free(*lp);
            *lp = NULL;
            *countp = 0;
        }
    }
}

void cfg_print_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\x%02x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void cfg_print_strlist(FILE *out, const char *const *list, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : " ", out);
        cfg_print_string(out, list[i]);
    }
    fputs(" ]", out);
}

void cfg_print_fields(FILE *out, const cfg_key_t *table, size_t n, const void *obj, const void *ctx,
                      int indent)
{
    for (size_t i = 0; i < n; i++) {
        const cfg_key_t *row = &table[i];
        if (row->type == CFG_GROUP || row->type == CFG_LIST)
            continue;
        if (row->print == NULL && row->offset == CFG_NOFIELD)
            continue;
        fprintf(out, "%*s%s = ", indent, "", row->name);
        if (row->print != NULL) {
            row->print(out, obj, ctx);
        } else {
            switch (row->type) {
            case CFG_STRING:
                cfg_print_string(out, *(char *const *)cfield(obj, row->offset));
                break;
            case CFG_UINT:
                fprintf(out, "%u", *(const unsigned *)cfield(obj, row->offset));
                break;
            case CFG_BOOL:
                fputs(*(const int *)cfield(obj, row->offset) ? "true" : "false", out);
                break;
            case CFG_STRLIST:
                cfg_print_strlist(out,
                                  (const char *const *)*(char **const *)cfield(obj, row->offset),
                                  *(const size_t *)cfield(obj, row->count_offset));
                break;
            case CFG_GROUP:
            case CFG_LIST:
                break;
            }
        }
        fputc(';', out);
        if (!(row->flags & CFG_RELOADABLE))
            fputs("  # restart to change", out);
        fputc('\n', out);
    }
}

/* ---- operators' HTTP endpoints ---------------------------------------------- */

int cfg_check_http_listen(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (v[0] == '\0')
        return 0;
    const char *colon = strrchr(v, ':');
    if (colon != NULL && colon != v && colon[1] != '\0') {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end == '\0' && port >= 1 && port <= 65535)
            return 0;
    }
    snprintf(why, whylen, "\"%s\" is not host:port (or \"\" to disable)", v);
    return -1;
}

/* A bearer token is sent in a header and typed into a browser's password
 * prompt: RFC 6750 token characters, long enough not to be guessed. */
int cfg_check_http_token(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    size_t n = strlen(v);
    if (n == 0)
        return 0;
    int ok = n >= 16 && n <= 256;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || strchr("-._~+/=", v[i]) != NULL;
    if (ok)
        return 0;
    snprintf(why, whylen, "must be 16 to 256 characters of [A-Za-z0-9-._~+/=] (or \"\")");
    return -1;
}

/* Judged by the text: a name other than localhost may resolve anywhere. */
int cfg_http_is_loopback(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
    return (n == 9 && strncmp(addr, "localhost", 9) == 0) ||
           (n == 5 && strncmp(addr, "[::1]", 5) == 0) || (n == 3 && strncmp(addr, "::1", 3) == 0) ||
           (n > 4 && strncmp(addr, "127.", 4) == 0 && strspn(addr, "0123456789.") == n);
}
