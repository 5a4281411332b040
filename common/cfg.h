/* cfg.h — a small table-driven engine over libconfig, shared by broker.cfg
 * (broker/config.c) and agent.cfg (common/client_config.c). One row per key
 * (name, type, field, default, limits, reloadable) drives parsing, type and
 * range checks, defaults, freeing and --print-config, so no module writes a
 * strcmp chain. Errors always read "FILE:LINE: KEY: why".
 * Not responsible for: what a value means (roles, classifications, topic
 * patterns, key files): callers check those through a row's `check` hook or
 * after parsing. The only file that includes libconfig.h is cfg.c; its types
 * stay behind the opaque cfg_t and cfg_node_t.
 *
 * Use:
 *     cfg_t *c = cfg_load(path, err, errlen);           // syntax errors named here
 *     const cfg_node_t *g = cfg_member(cfg_root(c), "broker");
 *     cfg_parse(c, g, "broker", rows, UTIL_LEN(rows), &obj, ctx, err, errlen);
 *     ...
 *     cfg_free_fields(rows, UTIL_LEN(rows), &obj);       // when obj dies
 *     cfg_close(&c);                                      // as soon as parsed
 */
#ifndef LIAISON_CFG_H
#define LIAISON_CFG_H

#include <stddef.h>
#include <stdio.h>

typedef struct cfg cfg_t;           /* a parsed file */
typedef struct cfg_node cfg_node_t; /* one setting in it; borrowed until cfg_close */

enum cfg_type {
    CFG_STRING,  /* char * field, caller frees via cfg_free_fields */
    CFG_UINT,    /* unsigned field; non-negative integer within [min, max] */
    CFG_BOOL,    /* int field, 0 or 1 */
    CFG_STRLIST, /* char ** field plus a size_t count at count_offset; [ ] or ( ) of strings */
    CFG_GROUP,   /* { ... }: type-checked only, the caller parses it with its own table */
    CFG_LIST,    /* ( ... ): type-checked only, the caller walks it */
};

/* Row flags. */
#define CFG_REQUIRED   0x1u /* absent is an error; otherwise the default applies */
#define CFG_RELOADABLE 0x2u /* SIGHUP applies a change; others need a restart */

/* A row that stores nothing itself: its value only goes to `check`, which
 * converts it into whatever field it needs (a key read from a file, a
 * classification rank, a role bit). */
#define CFG_NOFIELD ((size_t)-1)

/* Called for a CFG_STRING value (the default too, when the key is absent
 * and the row has one) and for each element of a CFG_STRLIST, after the
 * value is stored. obj is the struct being filled; ctx is the caller's.
 * Returns 0, or -1 with a short reason in why (the engine adds FILE:LINE:
 * KEY). */
typedef int (*cfg_check_fn)(const char *value, void *obj, void *ctx, char *why, size_t whylen);
/* Writes a row's value (the text after "name = ", without ';') for
 * --print-config; needed for CFG_NOFIELD rows, optional otherwise. */
typedef void (*cfg_print_fn)(FILE *out, const void *obj, const void *ctx);

typedef struct cfg_key {
    const char *name;
    enum cfg_type type;
    unsigned flags;      /* CFG_REQUIRED, CFG_RELOADABLE */
    size_t offset;       /* of the field in obj (offsetof), or CFG_NOFIELD */
    size_t count_offset; /* CFG_STRLIST: offset of its size_t count */
    const char *def;     /* CFG_STRING default when absent (NULL: "") */
    unsigned def_uint;   /* CFG_UINT / CFG_BOOL default when absent */
    unsigned min, max;   /* CFG_UINT limits, inclusive */
    cfg_check_fn check;  /* optional */
    cfg_print_fn print;  /* optional */
    const char *help;    /* one line, for the reader of the table */
} cfg_key_t;

/* Reads and parses path (with @include relative to its directory). Returns
 * the parsed file (caller owns; cfg_close), or NULL with err set to
 * "FILE:LINE: syntax error" for bad syntax or "FILE: why" when unreadable. */
cfg_t *cfg_load(const char *path, char *err, size_t errlen);
void cfg_close(cfg_t **c);
/* The path given to cfg_load; borrowed until cfg_close. */
const char *cfg_path(const cfg_t *c);

/* Navigation; results are borrowed until cfg_close. NULL when absent. */
const cfg_node_t *cfg_root(const cfg_t *c);
const cfg_node_t *cfg_member(const cfg_node_t *group, const char *name);
/* Number of elements of a list, array or group; 0 for a scalar. */
size_t cfg_length(const cfg_node_t *node);
const cfg_node_t *cfg_elem(const cfg_node_t *node, size_t i);
/* Line where the setting starts (0 if unknown). */
unsigned cfg_line(const cfg_node_t *node);
/* 1 if node is a group { }, a list ( ) respectively, else 0. */
int cfg_is_group(const cfg_node_t *node);
int cfg_is_list(const cfg_node_t *node);

/* Fills obj from group by the table: rejects keys not in the table, wrong
 * types, values out of range and missing required keys; applies defaults;
 * runs each row's check. `where` is the group's path used in messages
 * ("broker", "agents[2]"; "" or NULL for the root). On success returns 0;
 * on failure -1 with err = "FILE:LINE: where.KEY: why". Either way fields
 * already stored belong to obj: free them with cfg_free_fields. A NULL
 * group is treated as empty, so defaults apply and required keys fail. */
int cfg_parse(const cfg_t *c, const cfg_node_t *group, const char *where, const cfg_key_t *table,
              size_t n, void *obj, void *ctx, char *err, size_t errlen);

/* Frees every CFG_STRING and CFG_STRLIST field the table owns in obj and
 * sets them to NULL / 0. Safe on a zeroed or partly parsed obj. */
void cfg_free_fields(const cfg_key_t *table, size_t n, void *obj);

/* Formats "FILE:LINE: KEY: why" into err, taking FILE and LINE from node
 * (or the loaded path without a line when node is NULL). Returns -1, so a
 * caller can `return cfg_fail(...)`. */
int cfg_fail(const cfg_t *c, const cfg_node_t *node, const char *key, char *err, size_t errlen,
             const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* --print-config: writes each row as `name = value;` on its own line,
 * indented, in libconfig syntax; rows that need a restart are marked with a
 * comment. */
void cfg_print_fields(FILE *out, const cfg_key_t *table, size_t n, const void *obj, const void *ctx,
                      int indent);
/* A quoted, escaped libconfig string. */
void cfg_print_string(FILE *out, const char *s);
/* [ "a", "b" ] */
void cfg_print_strlist(FILE *out, const char *const *list, size_t n);

/* Checks shared by broker.cfg and agent.cfg for an operators' HTTP
 * endpoint. A listen address: "" (off) or host:port with a port in
 * 1..65535. A bearer token: "" (none) or 16 to 256 RFC 6750 token
 * characters. */
int cfg_check_http_listen(const char *v, void *obj, void *ctx, char *why, size_t whylen);
int cfg_check_http_token(const char *v, void *obj, void *ctx, char *why, size_t whylen);
/* 1 if a host:port's host is a loopback address (127.0.0.0/8, [::1],
 * localhost), where an endpoint may go without a token. */
int cfg_http_is_loopback(const char *addr);

#endif
