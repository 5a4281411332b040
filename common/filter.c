/* filter.c — a subscription's filter over label fields (filter.h): the
 * compiler, the evaluator and the canonical form.
 *
 * The compiler is a recursive descent over a small lexer that emits nodes in
 * postfix order into a builder on the stack; the builder is then copied into
 * one allocation sized to fit. A match is a single pass over that array with
 * a stack of booleans on the C stack: no allocation, no backtracking, cost
 * proportional to the nodes and the in-lists' values. Compiling recurses at
 * most FILTER_MAX_DEPTH levels of parentheses and not, so hostile input
 * cannot exhaust the stack.
 * Reasons quote the offending token of the subscriber's own expression,
 * never anything from a message.
 * Not responsible for: where filters come from or are kept (the broker's
 * subscriptions), nor whether a message may be delivered at all
 * (broker/policy.c). */
#include "filter.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"
#include "topic.h"
#include "util.h"

/* ---- fields -------------------------------------------------------------- */

enum field_id {
    F_RISK,
    F_CLASSIFICATION,
    F_HANDLING,
    F_SOURCE_GRADE,
    F_INTEL_GRADE,
    F_AGENT,
    F_AGENCY,
    F_TYPE,
    F_REGION,
    F_TOPIC,
};

/* Ordered enums take every operator; unordered enums and strings only
 * equality and in (an order on names would be an invention). */
enum field_kind { K_ORDERED, K_ENUM, K_STRING };

/* Grades go through label.c's grading parser, so their ranges are written
 * once: a source grade is checked as "<s>A", an intelligence grade as "1<i>". */
static int source_parse(const char *s)
{
    char g[3] = {s[0], 'A', '\0'};
    unsigned source;
    char intel;
    if (strlen(s) != 1 || label_grading_parse(g, &source, &intel) != 0)
        return -1;
    return (int)source;
}

static int intel_parse(const char *s)
{
    char g[3] = {'1', s[0], '\0'};
    unsigned source;
    char intel;
    if (strlen(s) != 1 || label_grading_parse(g, &source, &intel) != 0)
        return -1;
    return intel - 'A' + 1;
}

static const char *const source_names[] = {"", "1", "2", "3"};
static const char *const intel_names[] = {"", "A", "B", "C", "D", "E"};

static const char *source_name(int code)
{
    return code > 0 && code < (int)UTIL_LEN(source_names) ? source_names[code] : "";
}

static const char *intel_name(int code)
{
    return code > 0 && code < (int)UTIL_LEN(intel_names) ? intel_names[code] : "";
}

/* One row per field. parse takes a value in upper case and returns its
 * code (> 0, in rank order for ordered fields) or -1; name_of gives the
 * canonical name of a code. Strings have neither. */
struct field_row {
    const char *name;
    enum field_kind kind;
    int (*parse)(const char *s);
    const char *(*name_of)(int code);
    const char *allowed;
};

static const struct field_row fields[] = {
    [F_RISK] = {"risk", K_ORDERED, label_risk_parse, label_risk_name, "LOW, MEDIUM, HIGH"},
    [F_CLASSIFICATION] = {"classification", K_ORDERED, label_classification_parse,
                          label_classification_name,
                          "OFFICIAL, OFFICIAL-SENSITIVE, SECRET, TOP-SECRET"},
    [F_HANDLING] = {"handling", K_ENUM, label_handling_parse, label_handling_name, "P, C"},
    [F_SOURCE_GRADE] = {"source_grade", K_ORDERED, source_parse, source_name, "1, 2, 3"},
    [F_INTEL_GRADE] = {"intel_grade", K_ORDERED, intel_parse, intel_name, "A, B, C, D, E"},
    [F_AGENT] = {"origin.agent", K_STRING, NULL, NULL, NULL},
    [F_AGENCY] = {"origin.agency", K_STRING, NULL, NULL, NULL},
    [F_TYPE] = {"origin.type", K_STRING, NULL, NULL, NULL},
    [F_REGION] = {"origin.region", K_STRING, NULL, NULL, NULL},
    [F_TOPIC] = {"topic", K_STRING, NULL, NULL, NULL},
};

static int within(int v, int lo, int hi)
{
    return v >= lo && v <= hi ? v : 0;
}

/* The message's code for an enum field: 0 when unset, and when out of range
 * (a stored message was validated, but the evaluator does not rely on it). */
static int code_of(enum field_id f, const Liaison__Intel *m)
{
    const Liaison__Label *l = m ? m->label : NULL;
    if (l == NULL)
        return 0;
    switch (f) {
    case F_RISK:
        return within((int)l->risk, LIAISON__RISK__LOW, LIAISON__RISK__HIGH);
    case F_CLASSIFICATION:
        return within((int)l->classification, LIAISON__CLASSIFICATION__OFFICIAL,
                      LIAISON__CLASSIFICATION__TOP_SECRET);
    case F_HANDLING:
        return within((int)l->handling, LIAISON__HANDLING__HANDLING_P,
                      LIAISON__HANDLING__HANDLING_C);
    case F_SOURCE_GRADE:
        return l->source_grade >= 1 && l->source_grade <= 3 ? (int)l->source_grade : 0;
    case F_INTEL_GRADE: {
        const char *g = l->intel_grade;
        if (g == NULL || g[0] < 'A' || g[0] > 'E' || g[1] != '\0')
            return 0;
        return g[0] - 'A' + 1;
    }
    default:
        return 0;
    }
}

/* The message's text for a string field; NULL or "" when unset. */
static const char *text_of(enum field_id f, const Liaison__Intel *m)
{
    const Liaison__Origin *o = m ? m->origin : NULL;
    switch (f) {
    case F_TOPIC:
        return m ? m->topic : NULL;
    case F_AGENT:
        return o ? o->agent : NULL;
    case F_AGENCY:
        return o ? o->agency : NULL;
    case F_TYPE:
        return o ? o->type : NULL;
    case F_REGION:
        return o ? o->region : NULL;
    default:
        return NULL;
    }
}

/* ---- the compiled form --------------------------------------------------- */

enum node_kind { N_CMP, N_AND, N_OR, N_NOT };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOT_IN };

static const char *const op_names[] = {
    [OP_EQ] = "=", [OP_NE] = "!=", [OP_LT] = "<",  [OP_LE] = "<=",
    [OP_GT] = ">", [OP_GE] = ">=", [OP_IN] = "in", [OP_NOT_IN] = "not in",
};

/* Nodes in postfix order. An operator's right operand is the node just
 * before it; its left operand's root is `left` (kept for the canonical
 * form, which needs the tree; the evaluator needs only the order). */
struct node {
    uint8_t kind;   /* enum node_kind */
    uint8_t field;  /* N_CMP: enum field_id */
    uint8_t op;     /* N_CMP: enum cmp_op */
    uint8_t count;  /* N_CMP: values, 1 or an in-list's length */
    uint16_t first; /* N_CMP: index of its first value */
    uint16_t left;  /* N_AND, N_OR */
};

/* A value: the code of an enum field's name, or a string field's bytes in
 * the pool (not NUL-terminated). */
struct value {
    int code;
    uint16_t off, len;
};

/* Everything in one allocation: this header, then the values, the nodes
 * and the pool, in that order (each part's alignment divides the sizes
 * before it). */
struct filter {
    unsigned n_nodes, n_cmp;
    const struct value *values;
    const struct node *nodes;
    const char *pool;
};

/* ---- the lexer ----------------------------------------------------------- */

enum tok_type { T_NONE, T_END, T_WORD, T_STRING, T_LPAREN, T_RPAREN, T_COMMA, T_OP };

struct token {
    enum tok_type type;
    size_t at, len; /* bytes of the expression, quotes included */
    enum cmp_op op; /* T_OP */
};

/* Every value is at least one byte and is followed by an operator, a comma,
 * a parenthesis or the end, so an expression holds fewer values than half
 * its bytes plus one; the pool holds each string value unescaped, never
 * longer than it was written. */
#define MAX_VALUES (FILTER_MAX_LEN / 2 + 1)

struct build {
    const char *src;
    size_t pos;        /* where the lexer reads next */
    struct token tok;  /* the current token */
    struct token prev; /* the one before it, named in reasons */
    unsigned depth;
    unsigned n_nodes, n_values, n_cmp;
    size_t pool_len;
    struct node nodes[FILTER_MAX_NODES];
    struct value values[MAX_VALUES];
    char pool[FILTER_MAX_LEN];
    int failed;
    size_t err_pos;
    char *why;
    size_t whylen;
};

/* Records the first problem, at byte offset `at` (column at + 1). */
static int fail(struct build *b, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct build *b, size_t at, const char *fmt, ...)
{
    if (b->failed)
        return -1;
    b->failed = 1;
    b->err_pos = at + 1;
    if (b->why != NULL && b->whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(b->why, b->whylen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

static int space_char(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* A word token equal to kw (lower case) in any case. */
static int word_is(const struct build *b, const struct token *t, const char *kw)
{
    size_t n = strlen(kw);
    if (t->type != T_WORD || t->len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (upper(b->src[t->at + i]) != upper(kw[i]))
            return 0;
    return 1;
}

/* Scans a quoted string starting at the opening quote; sets its length. */
static int lex_string(struct build *b, struct token *t)
{
    const char *s = b->src;
    size_t i = t->at + 1;
    for (;;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0')
            return fail(b, t->at, "string not closed");
        if (c == '"')
            break;
        if (c == '\\') {
            if (s[i + 1] != '"' && s[i + 1] != '\\')
                return fail(b, i, "unknown escape in a string (only \\\" and \\\\)");
            i += 2;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return fail(b, i, "control character in a string");
        i++;
    }
    t->len = i + 1 - t->at;
    return 0;
}

static int lex_op(struct build *b, struct token *t)
{
    const char *s = b->src + t->at;
    t->type = T_OP;
    t->len = s[1] == '=' ? 2 : 1;
    switch (s[0]) {
    case '=':
        t->op = OP_EQ;
        t->len = 1;
        return 0;
    case '!':
        if (s[1] != '=')
            return fail(b, t->at, "unexpected character '!' (did you mean '!='?)");
        t->op = OP_NE;
        return 0;
    case '<':
        t->op = t->len == 2 ? OP_LE : OP_LT;
        return 0;
    default: /* '>' */
        t->op = t->len == 2 ? OP_GE : OP_GT;
        return 0;
    }
}

/* Moves to the next token. Returns 0, or -1 on a malformed one. */
static int advance(struct build *b)
{
    const char *s = b->src;
    size_t i = b->pos;
    while (space_char(s[i]))
        i++;
    struct token t = {T_NONE, i, 1, OP_EQ};
    int rc = 0;
    char c = s[i];
    if (c == '\0') {
        t.type = T_END;
        t.len = 0;
    } else if (c == '(') {
        t.type = T_LPAREN;
    } else if (c == ')') {
        t.type = T_RPAREN;
    } else if (c == ',') {
        t.type = T_COMMA;
    } else if (c == '"') {
        t.type = T_STRING;
        rc = lex_string(b, &t);
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
        rc = lex_op(b, &t);
    } else if (word_char(c)) {
        t.type = T_WORD;
        while (word_char(s[i + t.len]))
            t.len++;
    } else if (c == '*') {
        rc = fail(b, i, "unexpected character '*' (no wildcards in a filter)");
    } else if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f) {
        rc = fail(b, i, "unexpected character '%c'", c);
    } else {
        rc = fail(b, i, "unexpected byte 0x%02x", (unsigned char)c);
    }
    b->prev = b->tok;
    b->tok = t;
    b->pos = i + t.len;
    return rc;
}

/* At most this much of a token is quoted in a reason. */
#define QUOTE_MAX 40

/* The previous token as a reason quotes it: "'>='". */
static const char *prev_text(const struct build *b, char *buf, size_t len)
{
    int n = b->prev.len > QUOTE_MAX ? QUOTE_MAX : (int)b->prev.len;
    snprintf(buf, len, "'%.*s'", n, b->src + b->prev.at);
    return buf;
}

/* ---- the parser ---------------------------------------------------------- */

static int emit(struct build *b, struct node n, size_t at)
{
    if (b->n_nodes == FILTER_MAX_NODES)
        return fail(b, at, "more than %d comparisons and operators", FILTER_MAX_NODES);
    b->nodes[b->n_nodes] = n;
    if (n.kind == N_CMP)
        b->n_cmp++;
    return (int)b->n_nodes++;
}

/* Unescapes the current (word or string) token onto the end of the pool,
 * without keeping it there yet; returns its length. */
static size_t unescape(struct build *b, char *dst)
{
    const char *s = b->src + b->tok.at;
    size_t n = b->tok.len, k = 0;
    if (b->tok.type == T_WORD) {
        memcpy(dst, s, n);
        return n;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] == '\\')
            i++;
        dst[k++] = s[i];
    }
    return k;
}

/* An enum field's value: upper-cased, then the field's own parser. */
static int enum_value(struct build *b, const struct field_row *row, const char *v, size_t n,
                      struct value *out)
{
    char buf[32];
    int code = -1;
    if (n < sizeof buf) {
        for (size_t i = 0; i < n; i++)
            buf[i] = upper(v[i]);
        buf[n] = '\0';
        code = row->parse(buf);
    }
    if (code <= 0)
        return fail(b, b->tok.at, "%s has no value '%.*s' (%s)", row->name,
                    (int)(n > QUOTE_MAX ? QUOTE_MAX : n), v, row->allowed);
    out->code = code;
    return 0;
}

/* A string field's value, kept in the pool. */
static int string_value(struct build *b, enum field_id f, char *v, size_t n, struct value *out)
{
    if (n == 0)
        return fail(b, b->tok.at, "empty value (an unset %s matches != and not in)",
                    fields[f].name);
    if (f == F_TOPIC) {
        v[n] = '\0';
        if (topic_valid(v, FILTER_MAX_LEN) != 0)
            return fail(b, b->tok.at,
                        "'%.*s' is not a topic (lower-case dot-separated tokens, no wildcards)",
                        (int)(n > QUOTE_MAX ? QUOTE_MAX : n), v);
    }
    out->off = (uint16_t)b->pool_len;
    out->len = (uint16_t)n;
    b->pool_len += n;
    return 0;
}

/* Reads one value for field f, checked against the field's vocabulary. */
static int parse_value(struct build *b, enum field_id f)
{
    char name[QUOTE_MAX + 3];
    if (b->tok.type != T_WORD && b->tok.type != T_STRING)
        return fail(b, b->tok.at, "expected a value after %s", prev_text(b, name, sizeof name));
    if (b->n_values == MAX_VALUES)
        return fail(b, b->tok.at, "too many values"); /* unreachable: see MAX_VALUES */
    /* "alert.*" and "alert.>" lex as a word and a stray byte: name the
     * real mistake rather than the word before it. */
    const char *end = b->src + b->tok.at + b->tok.len;
    if (b->tok.type == T_WORD && (end[0] == '*' || (end[0] == '>' && end[-1] == '.')))
        return fail(b, b->tok.at + b->tok.len,
                    "no wildcards in a filter (values are compared exactly)");
    /* The pool has room for this one and topic_valid's terminator: the
     * values so far and this one, unescaped, are no longer than they were
     * written, and the expression also holds at least one field name. */
    char *v = b->pool + b->pool_len;
    size_t n = unescape(b, v);
    struct value *out = &b->values[b->n_values];
    memset(out, 0, sizeof *out);
    int rc = fields[f].kind == K_STRING ? string_value(b, f, v, n, out)
                                        : enum_value(b, &fields[f], v, n, out);
    if (rc != 0)
        return -1;
    b->n_values++;
    return advance(b);
}

/* "(" value ( "," value )* ")" after in; sets how many values it read. */
static int parse_list(struct build *b, enum field_id f, unsigned *count)
{
    char name[QUOTE_MAX + 3];
    if (b->tok.type != T_LPAREN)
        return fail(b, b->tok.at, "expected '(' after %s", prev_text(b, name, sizeof name));
    for (*count = 0;;) {
        if (advance(b) != 0)
            return -1;
        if (*count == FILTER_MAX_IN)
            return fail(b, b->tok.at, "more than %d values in one list", FILTER_MAX_IN);
        if (parse_value(b, f) != 0)
            return -1;
        (*count)++;
        if (b->tok.type == T_RPAREN)
            return advance(b);
        if (b->tok.type != T_COMMA)
            return fail(b, b->tok.at, "expected ',' or ')' in the list");
    }
}

static int parse_comparison(struct build *b)
{
    char name[QUOTE_MAX + 3];
    struct token ft = b->tok;
    int keyword = word_is(b, &ft, "and") || word_is(b, &ft, "or") || word_is(b, &ft, "in");
    if (ft.type != T_WORD || keyword) {
        if (b->prev.type == T_NONE)
            return fail(b, ft.at, "expected a field name");
        return fail(b, ft.at, "expected a field name after %s", prev_text(b, name, sizeof name));
    }
    int f = -1;
    for (size_t i = 0; i < UTIL_LEN(fields) && f < 0; i++)
        if (word_is(b, &ft, fields[i].name))
            f = (int)i;
    if (f < 0)
        return fail(b, ft.at, "unknown field '%.*s'",
                    (int)(ft.len > QUOTE_MAX ? QUOTE_MAX : ft.len), b->src + ft.at);
    if (advance(b) != 0)
        return -1;

    struct node n = {.kind = N_CMP, .field = (uint8_t)f, .first = (uint16_t)b->n_values};
    unsigned count = 1;
    if (b->tok.type == T_OP) {
        n.op = (uint8_t)b->tok.op;
        if (b->tok.op >= OP_LT && b->tok.op <= OP_GE && fields[f].kind != K_ORDERED)
            return fail(b, b->tok.at, "'%s' does not apply to %s (only =, != and in)",
                        op_names[b->tok.op], fields[f].name);
        if (advance(b) != 0 || parse_value(b, (enum field_id)f) != 0)
            return -1;
    } else if (word_is(b, &b->tok, "in") || word_is(b, &b->tok, "not")) {
        n.op = OP_IN;
        if (word_is(b, &b->tok, "not")) {
            n.op = OP_NOT_IN;
            if (advance(b) != 0)
                return -1;
            if (!word_is(b, &b->tok, "in"))
                return fail(b, b->tok.at, "expected 'in' after 'not'");
        }
        if (advance(b) != 0 || parse_list(b, (enum field_id)f, &count) != 0)
            return -1;
    } else {
        return fail(b, b->tok.at, "expected an operator after '%s' (=, !=, <, <=, >, >=, in)",
                    fields[f].name);
    }
    n.count = (uint8_t)count;
    return emit(b, n, ft.at);
}

static int parse_or(struct build *b);

/* not, a parenthesised expression, or a comparison. */
static int parse_unary(struct build *b)
{
    struct token t = b->tok;
    int is_not = word_is(b, &t, "not");
    if (!is_not && t.type != T_LPAREN)
        return parse_comparison(b);
    if (b->depth == FILTER_MAX_DEPTH)
        return fail(b, t.at, "nesting deeper than %d", FILTER_MAX_DEPTH);
    b->depth++;
    int r = advance(b);
    if (r == 0 && is_not) {
        r = parse_unary(b);
        if (r >= 0)
            r = emit(b, (struct node){.kind = N_NOT}, t.at);
    } else if (r == 0) {
        r = parse_or(b);
        if (r >= 0 && b->tok.type != T_RPAREN)
            r = fail(b, b->tok.at, "expected 'and', 'or' or ')' to close the '(' at column %zu",
                     t.at + 1);
        if (r >= 0 && advance(b) != 0)
            r = -1;
    }
    b->depth--;
    return r;
}

/* Left-associative chains of one operator over operands of the next
 * tighter level. */
static int parse_chain(struct build *b, const char *kw, enum node_kind kind,
                       int (*operand)(struct build *))
{
    int left = operand(b);
    while (left >= 0 && word_is(b, &b->tok, kw)) {
        size_t at = b->tok.at;
        if (advance(b) != 0 || operand(b) < 0)
            return -1;
        left = emit(b, (struct node){.kind = (uint8_t)kind, .left = (uint16_t)left}, at);
    }
    return left;
}

static int parse_and(struct build *b)
{
    return parse_chain(b, "and", N_AND, parse_unary);
}

static int parse_or(struct build *b)
{
    return parse_chain(b, "or", N_OR, parse_and);
}

/* The whole expression, and nothing after it. */
static int parse(struct build *b)
{
    if (advance(b) != 0)
        return -1;
    if (b->tok.type == T_END) {
        fail(b, 0, "empty expression");
        b->err_pos = 0;
        return -1;
    }
    if (parse_or(b) < 0)
        return -1;
    if (b->tok.type == T_RPAREN)
        return fail(b, b->tok.at, "')' without a matching '('");
    if (b->tok.type != T_END)
        return fail(b, b->tok.at, "expected 'and', 'or' or the end");
    return 0;
}

/* Copies the builder into one allocation sized to fit. */
static filter_t *pack(const struct build *b)
{
    size_t vbytes = b->n_values * sizeof(struct value);
    size_t nbytes = b->n_nodes * sizeof(struct node);
    char *mem = xmalloc(sizeof(struct filter) + vbytes + nbytes + b->pool_len);
    struct filter *f = (struct filter *)(void *)mem;
    struct value *values = (struct value *)(void *)(mem + sizeof *f);
    struct node *nodes = (struct node *)(void *)(mem + sizeof *f + vbytes);
    char *pool = mem + sizeof *f + vbytes + nbytes;
    memcpy(values, b->values, vbytes);
    memcpy(nodes, b->nodes, nbytes);
    memcpy(pool, b->pool, b->pool_len);
    f->n_nodes = b->n_nodes;
    f->n_cmp = b->n_cmp;
    f->values = values;
    f->nodes = nodes;
    f->pool = pool;
    return f;
}

filter_t *filter_compile(const char *expr, size_t *err_pos, char *why, size_t whylen)
{
    struct build b;
    memset(&b, 0, sizeof b);
    b.src = expr;
    b.why = why;
    b.whylen = whylen;
    if (why != NULL && whylen > 0)
        why[0] = '\0';

    int rc;
    if (expr == NULL) {
        rc = fail(&b, 0, "no expression");
        b.err_pos = 0;
    } else if (strnlen(expr, FILTER_MAX_LEN + 1) > FILTER_MAX_LEN) {
        rc = fail(&b, 0, "expression longer than %d bytes", FILTER_MAX_LEN);
        b.err_pos = 0;
    } else {
        rc = parse(&b);
    }
    if (err_pos != NULL)
        *err_pos = rc == 0 ? 0 : b.err_pos;
    return rc == 0 ? pack(&b) : NULL;
}

/* ---- evaluation ---------------------------------------------------------- */

static int same_text(const filter_t *f, const struct value *v, const char *s)
{
    return strncmp(s, f->pool + v->off, v->len) == 0 && s[v->len] == '\0';
}

/* One comparison. Every operator but != and not in is false on an unset
 * field; those two are true. */
static int compare(const filter_t *f, const struct node *n, const Liaison__Intel *m)
{
    const struct value *v = &f->values[n->first];
    int negated = n->op == OP_NE || n->op == OP_NOT_IN;
    int any = 0;
    if (fields[n->field].kind == K_STRING) {
        const char *s = text_of((enum field_id)n->field, m);
        if (s == NULL || s[0] == '\0')
            return negated;
        for (unsigned k = 0; k < n->count && !any; k++)
            any = same_text(f, &v[k], s);
        return any != negated;
    }
    int c = code_of((enum field_id)n->field, m);
    if (c == 0)
        return negated;
    switch (n->op) {
    case OP_LT:
        return c < v->code;
    case OP_LE:
        return c <= v->code;
    case OP_GT:
        return c > v->code;
    case OP_GE:
        return c >= v->code;
    default: /* =, !=, in, not in */
        for (unsigned k = 0; k < n->count && !any; k++)
            any = c == v[k].code;
        return any != negated;
    }
}

int filter_match(const filter_t *f, const Liaison__Intel *m)
{
    if (f == NULL)
        return 1;
    /* Postfix: each node pops its operands and pushes its value, so the
     * stack never holds more than one entry per node. */
    unsigned char stack[FILTER_MAX_NODES];
    unsigned sp = 0;
    for (unsigned i = 0; i < f->n_nodes; i++) {
        const struct node *n = &f->nodes[i];
        switch (n->kind) {
        case N_CMP:
            stack[sp++] = (unsigned char)compare(f, n, m);
            break;
        case N_NOT:
            stack[sp - 1] = !stack[sp - 1];
            break;
        case N_AND:
            sp--;
            stack[sp - 1] = stack[sp - 1] && stack[sp];
            break;
        default: /* N_OR */
            sp--;
            stack[sp - 1] = stack[sp - 1] || stack[sp];
            break;
        }
    }
    return stack[0];
}

unsigned filter_size(const filter_t *f)
{
    return f ? f->n_cmp : 0;
}

void filter_free(filter_t **f)
{
    if (f == NULL)
        return;
    free(*f);
    *f = NULL;
}

/* ---- the canonical form -------------------------------------------------- */

/* Output like snprintf's: counts every byte, stores those that fit. */
struct out {
    char *buf;
    size_t cap, len;
    char last; /* the last byte of the form so far */
};

static void put_raw(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (o->len + 1 < o->cap)
            o->buf[o->len] = s[i];
        o->len++;
        o->last = s[i];
    }
}

/* One token, with a space before it only when it would run into the last
 * word: so the form is never longer than what was compiled. */
static void put(struct out *o, const char *s)
{
    if (word_char(o->last) && word_char(s[0]))
        put_raw(o, " ", 1);
    put_raw(o, s, strlen(s));
}

/* A string value: bare when it can be, else quoted with \" and \\. */
static void put_text(struct out *o, const char *s, size_t n)
{
    int bare = 1;
    for (size_t i = 0; i < n; i++)
        bare = bare && word_char(s[i]);
    if (bare) {
        if (word_char(o->last))
            put_raw(o, " ", 1);
        put_raw(o, s, n);
        return;
    }
    put_raw(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put_raw(o, "\\", 1);
        put_raw(o, &s[i], 1);
    }
    put_raw(o, "\"", 1);
}

static void put_value(struct out *o, const filter_t *f, const struct node *n, unsigned k)
{
    const struct field_row *row = &fields[n->field];
    const struct value *v = &f->values[n->first + k];
    if (row->kind == K_STRING)
        put_text(o, f->pool + v->off, v->len);
    else
        put(o, row->name_of(v->code));
}

static void put_comparison(struct out *o, const filter_t *f, const struct node *n)
{
    put(o, fields[n->field].name);
    if (n->op != OP_IN && n->op != OP_NOT_IN) {
        put(o, op_names[n->op]);
        put_value(o, f, n, 0);
        return;
    }
    if (n->op == OP_NOT_IN)
        put(o, "not");
    put(o, "in");
    put(o, "(");
    for (unsigned k = 0; k < n->count; k++) {
        if (k > 0)
            put(o, ",");
        put_value(o, f, n, k);
    }
    put(o, ")");
}

static void put_node(struct out *o, const filter_t *f, unsigned i);

/* An operand, in parentheses only where precedence needs them: an or
 * under an and or a not, an and under a not. */
static void put_operand(struct out *o, const filter_t *f, unsigned i, enum node_kind parent)
{
    enum node_kind k = (enum node_kind)f->nodes[i].kind;
    int paren = (k == N_OR && parent != N_OR) || (k == N_AND && parent == N_NOT);
    if (paren)
        put(o, "(");
    put_node(o, f, i);
    if (paren)
        put(o, ")");
}

static void put_node(struct out *o, const filter_t *f, unsigned i)
{
    const struct node *n = &f->nodes[i];
    switch (n->kind) {
    case N_CMP:
        put_comparison(o, f, n);
        return;
    case N_NOT:
        put(o, "not");
        put_operand(o, f, i - 1, N_NOT);
        return;
    default: /* N_AND, N_OR */
        put_operand(o, f, n->left, (enum node_kind)n->kind);
        put(o, n->kind == N_AND ? "and" : "or");
        put_operand(o, f, i - 1, (enum node_kind)n->kind);
        return;
    }
}

size_t filter_format(const filter_t *f, char *out, size_t outlen)
{
    struct out o = {out, outlen, 0, '\0'};
    if (f != NULL && f->n_nodes > 0)
        put_node(&o, f, f->n_nodes - 1);
    if (outlen > 0)
        out[o.len < outlen ? o.len : outlen - 1] = '\0';
    return o.len;
}
