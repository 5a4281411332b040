/* client_config.c — agent.cfg: the table of `agent` keys and of
 * subscription keys, their checks (endpoint, key files, patterns, sinks,
 * filters, watched subjects), the defaults that depend on other keys
 * (data_dir, durable), paths made relative to the config file, and the
 * reading of a subscription's subjects_file.
 * Not responsible for: reading libconfig (common/cfg.c), what the broker
 * permits (broker.cfg), running sinks (the agent does), or what a subject
 * normalises to (common/subject.c) and a filter means (common/filter.c):
 * they are only checked here, so a mistake is named at load rather than
 * refused by the broker later. */
#include "client_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "filter.h"
#include "keys.h"
#include "label.h"
#include "log.h"
#include "subject.h"
#include "topic.h"
#include "util.h"

#define NAME_MAX_LEN 64
/* The client cannot know the broker's max_topic_len; the broker rechecks
 * against its own, so here only the hard upper limit applies. */
#define PATTERN_MAX_LEN 1024

struct load_ctx {
    client_config_t *cfg;
    char base_dir[4096];
};

/* [a-z0-9_-]+ of at most NAME_MAX_LEN bytes ('_' allowed for sub names). */
static int word_valid(const char *s, int underscore)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              (underscore && s[i] == '_')))
            return -1;
    return 0;
}

static int check_name(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (word_valid(v, 0) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a name of [a-z0-9-], at most %d characters", v,
             NAME_MAX_LEN);
    return -1;
}

static int check_endpoint(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    return util_endpoint_valid(v, 0, why, whylen);
}

static int check_broker_key(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    client_config_t *cfg = obj;
    struct load_ctx *lc = ctx;
    return keys_read_public(v, lc->base_dir, cfg->broker_public_key, why, whylen);
}

static int check_secret_key(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    client_config_t *cfg = obj;
    struct load_ctx *lc = ctx;
    if (keys_read_secret(v, lc->base_dir, cfg->secret_key, why, whylen) != 0)
        return -1;
    if (keys_public_from_secret(cfg->secret_key, cfg->public_key) != 0) {
        snprintf(why, whylen, "cannot derive the public key from \"%s\"", v);
        return -1;
    }
    return 0;
}

static int check_log_level(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (log_level_parse(v) >= 0)
        return 0;
    snprintf(why, whylen, "unknown level \"%s\" (debug, info, warn, error)", v);
    return -1;
}

static const cfg_key_t agent_rows[] = {
    {.name = "name",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = offsetof(client_config_t, name),
     .check = check_name,
     .help = "this agent's name in broker.cfg (informational: the key decides)"},
    {.name = "broker",
     .type = CFG_STRING,
     .offset = offsetof(client_config_t, broker),
     .def = "tcp://127.0.0.1:7400",
     .check = check_endpoint,
     .help = "broker endpoint"},
    {.name = "broker_public_key",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = CFG_NOFIELD,
     .check = check_broker_key,
     .help = "path to broker.pub, or 40 Z85 characters inline"},
    {.name = "secret_key",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = CFG_NOFIELD,
     .check = check_secret_key,
     .help = "file with this agent's Z85 secret key"},
    {.name = "data_dir",
     .type = CFG_STRING,
     .offset = offsetof(client_config_t, data_dir),
     .help = "outbox and cursors; default data/NAME"},
    {.name = "spool",
     .type = CFG_STRING,
     .offset = offsetof(client_config_t, spool),
     .help = "directory whose JSON files are published; \"\" for none"},
    {.name = "heartbeat_ms",
     .type = CFG_UINT,
     .offset = offsetof(client_config_t, heartbeat_ms),
     .def_uint = 5000,
     .min = 100,
     .max = 600000,
     .help = "heartbeat interval"},
    {.name = "log_level",
     .type = CFG_STRING,
     .offset = offsetof(client_config_t, log_level),
     .def = "info",
     .check = check_log_level,
     .help = "debug, info, warn, error"},
    {.name = "metrics",
     .type = CFG_STRING,
     .offset = offsetof(client_config_t, metrics),
     .def = "",
     .check = cfg_check_http_listen,
     .help = "host:port of the agent's Prometheus /metrics, \"\" for none"},
    {.name = "metrics_token",
     .type = CFG_STRING,
     .offset = offsetof(client_config_t, metrics_token),
     .def = "",
     .check = cfg_check_http_token,
     .help = "bearer token /metrics requires; needed off loopback"},
};

/* ---- subscriptions ------------------------------------------------------ */

static int check_sub_name(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (word_valid(v, 1) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a name of [a-z0-9_-], at most %d characters", v,
             NAME_MAX_LEN);
    return -1;
}

static int check_pattern(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (topic_pattern_valid(v, PATTERN_MAX_LEN) == 0)
        return 0;
    snprintf(why, whylen,
             "\"%s\" is not a topic pattern (dot-separated [a-z0-9_-] tokens, '*', a final '>')",
             v);
    return -1;
}

static int check_sink(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (strcmp(v, "stdout") == 0 || (strncmp(v, "dir:", 4) == 0 && v[4] != '\0') ||
        (strncmp(v, "exec:", 5) == 0 && v[5] != '\0'))
        return 0;
    snprintf(why, whylen, "\"%s\" is not a sink (\"stdout\", \"dir:PATH\" or \"exec:COMMAND\")", v);
    return -1;
}

static int check_durable(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    if (v[0] == '\0' || word_valid(v, 1) == 0)
        return 0;
    snprintf(why, whylen, "\"%s\" is not a durable name of [a-z0-9_-] (or \"\" for none)", v);
    return -1;
}

static int check_where(const char *v, void *obj, void *ctx, char *why, size_t whylen)
{
    (void)obj, (void)ctx;
    char reason[256];
    size_t pos = 0;
    if (v[0] == '\0')
        return 0;
    /* Compiled only to be checked: the broker compiles its own copy. */
    filter_t *f = filter_compile(v, &pos, reason, sizeof reason);
    if (f != NULL) {
        filter_free(&f);
        return 0;
    }
    if (pos != 0)
        snprintf(why, whylen, "column %zu: %s", pos, reason);
    else
        snprintf(why, whylen, "%s", reason);
    return -1;
}

static const cfg_key_t sub_rows[] = {
    {.name = "name",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = offsetof(client_sub_t, name),
     .check = check_sub_name,
     .help = "unique within the file"},
    {.name = "pattern",
     .type = CFG_STRING,
     .flags = CFG_REQUIRED,
     .offset = offsetof(client_sub_t, pattern),
     .check = check_pattern,
     .help = "topic pattern, within the agent's subscribe permissions"},
    {.name = "sink",
     .type = CFG_STRING,
     .offset = offsetof(client_sub_t, sink),
     .def = "stdout",
     .check = check_sink,
     .help = "stdout, dir:PATH or exec:COMMAND"},
    /* No .def: its default is the name, filled in after the row is read;
     * an explicit "" asks for a non-durable subscription. */
    {.name = "durable",
     .type = CFG_STRING,
     .offset = offsetof(client_sub_t, durable),
     .check = check_durable,
     .help = "durable subscription name; default the name"},
    /* No check in the row: an entry is checked after the row is read, so
     * its error can name the entry's number rather than echo it. */
    {.name = "subjects",
     .type = CFG_STRLIST,
     .offset = offsetof(client_sub_t, subjects),
     .count_offset = offsetof(client_sub_t, n_subjects),
     .help = "watchlist: only new messages about these subjects; default [ ] (no watchlist)"},
    {.name = "subjects_file",
     .type = CFG_STRING,
     .offset = offsetof(client_sub_t, subjects_file),
     .def = "",
     .help = "more of the watchlist, one subject a line, '#' comments; \"\" for none"},
    {.name = "where",
     .type = CFG_STRING,
     .offset = offsetof(client_sub_t, where),
     .def = "",
     .check = check_where,
     .help = "filter over label fields, e.g. \"risk >= MEDIUM\"; \"\" for none"},
};

static const cfg_key_t root_rows[] = {
    {.name = "agent", .type = CFG_GROUP, .flags = CFG_REQUIRED, .offset = CFG_NOFIELD},
    {.name = "subscriptions", .type = CFG_LIST, .offset = CFG_NOFIELD},
};

/* Makes a relative path relative to the config file, so the agent behaves
 * the same whatever directory it is started from. */
static int resolve(const cfg_t *c, const cfg_node_t *node, const char *key, const char *base,
                   char **path, char *err, size_t errlen)
{
    char buf[4096];
    if ((*path)[0] == '\0' || strcmp(base, ".") == 0)
        return 0;
    if (util_path_join(buf, sizeof buf, base, *path) != 0)
        return cfg_fail(c, node, key, err, errlen, "path too long");
    free(*path);
    *path = xstrdup(buf);
    return 0;
}

/* ---- watchlists ----------------------------------------------------------- */

/* Whether the broker will take ref as a watched subject: the two checks
 * it makes (broker/handle.c). Returns 0, or -1 with why, which never holds
 * ref: a watchlist says whom an agency is interested in. */
static int subject_ok(const char *ref, char *why, size_t whylen)
{
    char norm[SUBJECT_NORM_MAX];
    if (strlen(ref) > LABEL_MAX_WORD) {
        snprintf(why, whylen, "is longer than %d bytes", LABEL_MAX_WORD);
        return -1;
    }
    if (subject_normalise(ref, norm, sizeof norm) != 0) {
        snprintf(
            why, whylen,
            "does not normalise (empty, not UTF-8, a control character, not fitting its scheme, "
            "or a PNC/CRO shape that needs a scheme)");
        return -1;
    }
    return 0;
}

enum line_rc { LINE_OK, LINE_EOF, LINE_LONG, LINE_NUL, LINE_ERR };

/* One line of f, without its '\n', into buf (cap bytes, NUL-terminated).
 * getc rather than fgets, so a NUL byte inside a line is seen, not taken
 * for its end. */
static enum line_rc read_line(FILE *f, char *buf, size_t cap)
{
    size_t n = 0;
    int ch;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (ch == '\0')
            return LINE_NUL;
        if (n + 1 >= cap)
            return LINE_LONG;
        buf[n++] = (char)ch;
    }
    buf[n] = '\0';
    if (ch == EOF && ferror(f))
        return LINE_ERR;
    return ch == EOF && n == 0 ? LINE_EOF : LINE_OK;
}

/* Appends s->subjects_file's subjects to s->subjects: one a line, spaces,
 * tabs and a '\r' around it trimmed, blank lines and lines whose first
 * character after the spaces is '#' skipped. Errors name the file and the
 * line number, never the line. */
static int read_subjects_file(const cfg_t *c, const cfg_node_t *node, const char *key,
                              client_sub_t *s, char *err, size_t errlen)
{
    /* Room for a subject of LABEL_MAX_WORD bytes with generous spaces
     * around it; a longer line is refused whatever it holds. */
    char line[256], why[160];
    size_t lineno = 0, cap = s->n_subjects;
    int rc = -1;
    FILE *f = fopen(s->subjects_file, "r");
    if (f == NULL)
        return cfg_fail(c, node, key, err, errlen, "cannot read %s: %s", s->subjects_file,
                        strerror(errno));
    for (;;) {
        enum line_rc lr = read_line(f, line, sizeof line);
        lineno++;
        if (lr == LINE_EOF)
            break;
        if (lr == LINE_ERR) {
            cfg_fail(c, node, key, err, errlen, "cannot read %s: %s", s->subjects_file,
                     strerror(errno));
            goto leave;
        }
        if (lr == LINE_NUL || lr == LINE_LONG) {
            cfg_fail(c, node, key, err, errlen, "%s:%zu: %s", s->subjects_file, lineno,
                     lr == LINE_NUL ? "holds a NUL byte" : "is longer than a subject can be");
            goto leave;
        }
        char *at = line, *end = line + strlen(line);
        while (*at == ' ' || *at == '\t')
            at++;
        while (end > at && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        *end = '\0';
        if (*at == '\0' || *at == '#')
            continue;
        if (subject_ok(at, why, sizeof why) != 0) {
            cfg_fail(c, node, key, err, errlen, "%s:%zu: %s", s->subjects_file, lineno, why);
            goto leave;
        }
        if (s->n_subjects >= CLIENT_SUB_MAX_WATCH) {
            cfg_fail(c, node, key, err, errlen,
                     "%s:%zu: more than %d subjects, with those of subjects", s->subjects_file,
                     lineno, CLIENT_SUB_MAX_WATCH);
            goto leave;
        }
        if (s->n_subjects == cap) {
            cap = cap ? cap * 2 : 64;
            s->subjects = xrealloc(s->subjects, cap * sizeof *s->subjects);
        }
        s->subjects[s->n_subjects++] = xstrdup(at);
    }
    rc = 0;
leave:
    fclose(f);
    return rc;
}

/* The watchlist of subscription `where`: the entries of `subjects`
 * checked, subjects_file (resolved against base) read after them, the
 * total bounded. A watchlist asked for and left empty is refused: with no
 * subjects a subscription receives everything its pattern matches, the
 * opposite of what a watchlist file emptied by accident was for. */
static int load_watch(const cfg_t *c, const cfg_node_t *node, const char *where, const char *base,
                      client_sub_t *s, char *err, size_t errlen)
{
    char key[96], why[160];
    const cfg_node_t *list = cfg_member(node, "subjects");
    const cfg_node_t *file = cfg_member(node, "subjects_file");

    snprintf(key, sizeof key, "%s.subjects", where);
    if (s->n_subjects > CLIENT_SUB_MAX_WATCH)
        return cfg_fail(c, list, key, err, errlen, "more than %d subjects", CLIENT_SUB_MAX_WATCH);
    for (size_t i = 0; i < s->n_subjects; i++)
        if (subject_ok(s->subjects[i], why, sizeof why) != 0)
            return cfg_fail(c, cfg_elem(list, i), key, err, errlen, "entry %zu %s", i + 1, why);
    if (s->subjects_file[0] != '\0') {
        snprintf(key, sizeof key, "%s.subjects_file", where);
        if (resolve(c, file, key, base, &s->subjects_file, err, errlen) != 0 ||
            read_subjects_file(c, file, key, s, err, errlen) != 0)
            return -1;
    }
    if (s->n_subjects == 0 && (list != NULL || s->subjects_file[0] != '\0')) {
        snprintf(key, sizeof key, "%s.%s", where, list ? "subjects" : "subjects_file");
        return cfg_fail(c, list ? list : file, key, err, errlen,
                        "no subjects: a subscription without a watchlist receives every message "
                        "its pattern matches; remove subjects and subjects_file for that");
    }
    return 0;
}

static int load_subs(const cfg_t *c, const cfg_node_t *list, client_config_t *cfg,
                     struct load_ctx *lc, char *err, size_t errlen)
{
    size_t n = cfg_length(list);
    char where[64], key[96];

    cfg->subs = xcalloc(n ? n : 1, sizeof *cfg->subs);
    for (size_t i = 0; i < n; i++) {
        const cfg_node_t *node = cfg_elem(list, i);
        client_sub_t *s = &cfg->subs[i];
        snprintf(where, sizeof where, "subscriptions[%zu]", i);
        cfg->n_subs = i + 1; /* counted first, so a half-read one is freed */
        if (!cfg_is_group(node))
            return cfg_fail(c, node, where, err, errlen, "expected a group { } for a subscription");
        if (cfg_parse(c, node, where, sub_rows, UTIL_LEN(sub_rows), s, lc, err, errlen) != 0)
            return -1;
        s->sink_line = cfg_line(cfg_member(node, "sink") ? cfg_member(node, "sink") : node);
        if (cfg_member(node, "durable") == NULL) {
            free(s->durable);
            s->durable = xstrdup(s->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->name, cfg->subs[j].name) == 0) {
                snprintf(key, sizeof key, "%s.name", where);
                return cfg_fail(c, cfg_member(node, "name"), key, err, errlen,
                                "duplicate subscription name \"%s\"", s->name);
            }
            /* Two subscriptions sharing a durable cursor would ack each
             * other's messages. */
            if (s->durable[0] != '\0' && strcmp(s->durable, cfg->subs[j].durable) == 0) {
                snprintf(key, sizeof key, "%s.durable", where);
                return cfg_fail(c, cfg_member(node, "durable") ? cfg_member(node, "durable") : node,
                                key, err, errlen, "durable name \"%s\" used twice", s->durable);
            }
        }
        if (strncmp(s->sink, "dir:", 4) == 0 && s->sink[4] != '/' &&
            strcmp(lc->base_dir, ".") != 0) {
            char dir[4096], sink[4100];
            snprintf(key, sizeof key, "%s.sink", where);
            if (util_path_join(dir, sizeof dir, lc->base_dir, s->sink + 4) != 0)
                return cfg_fail(c, cfg_member(node, "sink"), key, err, errlen, "path too long");
            snprintf(sink, sizeof sink, "dir:%s", dir);
            free(s->sink);
            s->sink = xstrdup(sink);
        }
        if (load_watch(c, node, where, lc->base_dir, s, err, errlen) != 0)
            return -1;
    }
    return 0;
}

client_config_t *client_config_load(const char *path, char *err, size_t errlen)
{
    struct load_ctx lc;
    char buf[4096];
    client_config_t *cfg = xcalloc(1, sizeof *cfg);
    cfg_t *c = cfg_load(path, err, errlen);
    if (c == NULL)
        goto fail;

    cfg->path = xstrdup(path);
    lc.cfg = cfg;
    util_dirname(lc.base_dir, sizeof lc.base_dir, path);

    const cfg_node_t *root = cfg_root(c);
    const cfg_node_t *agent = cfg_member(root, "agent");
    if (cfg_parse(c, root, "", root_rows, UTIL_LEN(root_rows), cfg, &lc, err, errlen) != 0)
        goto fail;
    if (cfg_parse(c, agent, "agent", agent_rows, UTIL_LEN(agent_rows), cfg, &lc, err, errlen) != 0)
        goto fail;
    if (cfg_member(agent, "data_dir") == NULL) {
        snprintf(buf, sizeof buf, "data/%s", cfg->name);
        free(cfg->data_dir);
        cfg->data_dir = xstrdup(buf);
    }
    if (resolve(c, cfg_member(agent, "data_dir"), "agent.data_dir", lc.base_dir, &cfg->data_dir,
                err, errlen) != 0 ||
        resolve(c, cfg_member(agent, "spool"), "agent.spool", lc.base_dir, &cfg->spool, err,
                errlen) != 0)
        goto fail;
    if (cfg->metrics[0] && !cfg_http_is_loopback(cfg->metrics) && cfg->metrics_token[0] == '\0') {
        cfg_fail(c, cfg_member(agent, "metrics"), "agent.metrics", err, errlen,
                 "\"%s\" is not a loopback address: set agent.metrics_token too, or anyone who "
                 "can reach it reads the agent's state",
                 cfg->metrics);
        goto fail;
    }
    if (load_subs(c, cfg_member(root, "subscriptions"), cfg, &lc, err, errlen) != 0)
        goto fail;
    cfg_close(&c);
    return cfg;
fail:
    cfg_close(&c);
    client_config_free(&cfg);
    return NULL;
}

/* Words the shell runs itself, which no PATH lookup finds. */
static const char *const shell_words[] = {
    "!",      "{",     ".",      ":",      "[",     "case",  "cd",   "command", "echo",
    "eval",   "exec",  "exit",   "export", "false", "for",   "if",   "kill",    "printf",
    "pwd",    "read",  "return", "set",    "shift", "test",  "trap", "true",    "type",
    "ulimit", "umask", "unset",  "until",  "wait",  "while",
};

/* Whether the program that starts command can run: an executable file at
 * its path, or found in PATH; a shell word or anything only the shell can
 * expand (a variable, a quote, an assignment, a redirection) is left to the
 * shell. Returns 0, or -1 with why. */
static int command_runs(const char *command, char *why, size_t whylen)
{
    char word[1024], path[4096];
    struct stat st;
    command += strspn(command, " \t");
    size_t n = strcspn(command, " \t\n");
    if (n == 0 || n >= sizeof word)
        return 0;
    memcpy(word, command, n);
    word[n] = '\0';
    if (strpbrk(word, "$`'\"\\=<>|&;(){}*?[]~#") != NULL && strcmp(word, "[") != 0)
        return 0;
    for (size_t i = 0; i < UTIL_LEN(shell_words); i++)
        if (strcmp(word, shell_words[i]) == 0)
            return 0;
    if (strchr(word, '/') != NULL) {
        if (stat(word, &st) != 0) {
            snprintf(why, whylen, "command %s: %s", word, strerror(errno));
            return -1;
        }
        if (!S_ISREG(st.st_mode) || access(word, X_OK) != 0) {
            snprintf(why, whylen, "command %s is not an executable file", word);
            return -1;
        }
        return 0;
    }
    const char *dirs = getenv("PATH");
    if (dirs == NULL || dirs[0] == '\0')
        dirs = "/usr/bin:/bin";
    for (const char *d = dirs; *d;) {
        size_t dl = strcspn(d, ":");
        snprintf(path, sizeof path, "%.*s/%s", (int)(dl ? dl : 1), dl ? d : ".", word);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
            return 0;
        d += dl + (d[dl] == ':');
    }
    snprintf(why, whylen, "command %s is not found in PATH (%s)", word, dirs);
    return -1;
}

int client_config_check_sinks(const client_config_t *cfg, char *err, size_t errlen)
{
    char why[4400];
    for (size_t i = 0; i < cfg->n_subs; i++) {
        const client_sub_t *s = &cfg->subs[i];
        if (strncmp(s->sink, "exec:", 5) != 0 || command_runs(s->sink + 5, why, sizeof why) == 0)
            continue;
        if (s->sink_line)
            snprintf(err, errlen, "%s:%u: subscriptions[%zu].sink: %s", cfg->path, s->sink_line, i,
                     why);
        else
            snprintf(err, errlen, "%s: subscriptions[%zu].sink: %s", cfg->path, i, why);
        return -1;
    }
    return 0;
}

void client_config_free(client_config_t **cfgp)
{
    if (cfgp == NULL || *cfgp == NULL)
        return;
    client_config_t *cfg = *cfgp;
    for (size_t i = 0; i < cfg->n_subs; i++)
        cfg_free_fields(sub_rows, UTIL_LEN(sub_rows), &cfg->subs[i]);
    free(cfg->subs);
    cfg_free_fields(agent_rows, UTIL_LEN(agent_rows), cfg);
    free(cfg->path);
    memset(cfg->secret_key, 0, sizeof cfg->secret_key);
    free(cfg);
    *cfgp = NULL;
}
