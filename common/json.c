/* json.c — the one JSON mapping of a message (docs/design.md "A message as
 * JSON"): reads a published message, flat label keys and all, into an Intel,
 * and renders a stored or delivered Intel back as one line of JSON. Input is
 * checked for shape only: known keys, right types, enum names that exist, a
 * grading and a review date that parse.
 * Not responsible for: whether a label is complete or acceptable
 * (label_validate, broker/policy.c), nor for stamping seq/origin/time (the
 * broker does, which is why those keys are refused on input). */
#include "json.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"
#include "util.h"

/* Longest key or value quoted back in an error, so a reason stays one
 * readable line whatever the input holds. */
#define QUOTE_MAX 48

/* ---- small helpers -------------------------------------------------------- */

/* Copies s into out for quoting in an error: printable ASCII only (a key can
 * hold escaped newlines or control bytes that would break the one-line
 * reason), cut at QUOTE_MAX. */
static void quote(char *out, size_t outlen, const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0' && i < QUOTE_MAX && i + 4 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (s[i] != '\0' && i + 4 < outlen) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* Length of the valid UTF-8 sequence at p (at most n bytes available), or 0
 * when the bytes there are not valid UTF-8 (overlong forms, surrogates and
 * code points past U+10FFFF included — jansson would refuse them). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

/* A body goes out as "body" only when it reads back byte for byte: valid
 * UTF-8 and no NUL (jansson refuses "\u0000" on input by default). */
static int is_text(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0 || p[i] == '\0')
            return 0;
        i += k;
    }
    return 1;
}

/* Out of memory aborts, as xmalloc does everywhere else: no caller can do
 * better. */
static _Noreturn void oom(void)
{
    fprintf(stderr, "json: out of memory\n");
    abort();
}

/* jansson returns NULL only on allocation failure for the values we build
 * (text is made valid UTF-8 first). */
static void put(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        oom();
}

/* A reason must stay on one line whatever jansson quotes back from input. */
static void one_line(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

/* A JSON string from a message's text field. Strings decoded from protobuf
 * are not checked for UTF-8, and a bad byte from the network must not stop
 * a delivery, so invalid bytes become U+FFFD rather than failing. */
static json_t *text(const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    const unsigned char *p = (const unsigned char *)s;
    if (is_text(p, n))
        return json_stringn(s, n);

    char *fixed = xmalloc(n * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0) {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(fixed + o, s + i, k);
            o += k;
            i += k;
        }
    }
    json_t *v = json_stringn(fixed, o);
    free(fixed);
    return v;
}

static int is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* ---- input: one setter per key -------------------------------------------- */

/* Every setter takes the value of its key, fills the message, and on a bad
 * value writes a one-line reason and returns -1. */
typedef int (*setter)(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen);

/* Replaces a string field with a malloc'd copy, so wire_intel_free owns it. */
static void set_str(char **slot, const char *s)
{
    if (*slot != NULL && *slot != wire_empty())
        free(*slot);
    *slot = xstrdup(s);
}

static int want_string(const char *key, json_t *v, char *err, size_t errlen)
{
    if (json_is_string(v))
        return 0;
    snprintf(err, errlen, "\"%s\" must be a string", key);
    return -1;
}

static int take_text(char **slot, const char *key, json_t *v, char *err, size_t errlen)
{
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    set_str(slot, json_string_value(v));
    return 0;
}

/* An array of strings into a malloc'd array of malloc'd strings. Emptiness
 * and the format of each word are label_validate's business. */
static int take_words(char ***arr, size_t *n, const char *key, json_t *v, char *err, size_t errlen)
{
    if (!json_is_array(v)) {
        snprintf(err, errlen, "\"%s\" must be an array of strings", key);
        return -1;
    }
    size_t count = json_array_size(v);
    for (size_t i = 0; i < count; i++) {
        if (!json_is_string(json_array_get(v, i))) {
            snprintf(err, errlen, "\"%s\" must be an array of strings (item %zu is not)", key,
                     i + 1);
            return -1;
        }
    }
    char **words = count ? xcalloc(count, sizeof *words) : NULL;
    for (size_t i = 0; i < count; i++)
        words[i] = xstrdup(json_string_value(json_array_get(v, i)));
    *arr = words;
    *n = count;
    return 0;
}

/* An enum name through its label_*_parse. Unspecified (0) never parses: to
 * leave a field unset, leave its key out. */
static int take_enum(int *out, int (*parse)(const char *), const char *key, json_t *v, char *err,
                     size_t errlen)
{
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    int e = parse(json_string_value(v));
    if (e <= 0) {
        char q[QUOTE_MAX + 8];
        quote(q, sizeof q, json_string_value(v));
        snprintf(err, errlen, "unknown %s \"%s\"", key, q);
        return -1;
    }
    *out = e;
    return 0;
}

static int set_topic(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_text(&m->topic, key, v, err, errlen);
}

static int set_msg_id(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_text(&m->msg_id, key, v, err, errlen);
}

static int set_content_type(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_text(&m->content_type, key, v, err, errlen);
}

static int set_classification(Liaison__Intel *m, const char *key, json_t *v, char *err,
                              size_t errlen)
{
    int e;
    if (take_enum(&e, label_classification_parse, key, v, err, errlen) != 0)
        return -1;
    m->label->classification = (Liaison__Classification)e;
    return 0;
}

static int set_caveats(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_words(&m->label->caveats, &m->label->n_caveats, key, v, err, errlen);
}

static int set_grading(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    unsigned source;
    char intel[2] = {0, 0};
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    if (label_grading_parse(json_string_value(v), &source, &intel[0]) != 0) {
        char q[QUOTE_MAX + 8];
        quote(q, sizeof q, json_string_value(v));
        snprintf(err, errlen,
                 "bad grading \"%s\": want source 1-3 and intelligence A-E, e.g. \"2B\"", q);
        return -1;
    }
    m->label->source_grade = source;
    set_str(&m->label->intel_grade, intel);
    return 0;
}

static int set_handling(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    int e;
    if (take_enum(&e, label_handling_parse, key, v, err, errlen) != 0)
        return -1;
    m->label->handling = (Liaison__Handling)e;
    return 0;
}

static int set_conditions(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_text(&m->label->conditions, key, v, err, errlen);
}

static int set_no_onward_sharing(Liaison__Intel *m, const char *key, json_t *v, char *err,
                                 size_t errlen)
{
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "\"%s\" must be true or false", key);
        return -1;
    }
    m->label->no_onward_sharing = json_is_true(v);
    return 0;
}

static int set_sanitisation(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    int e;
    if (take_enum(&e, label_sanitisation_parse, key, v, err, errlen) != 0)
        return -1;
    m->label->sanitisation = (Liaison__Sanitisation)e;
    return 0;
}

static int set_release_to(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_words(&m->label->release_to, &m->label->n_release_to, key, v, err, errlen);
}

static int set_risk(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    int e;
    if (take_enum(&e, label_risk_parse, key, v, err, errlen) != 0)
        return -1;
    m->label->risk = (Liaison__Risk)e;
    return 0;
}

static int set_risk_basis(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_text(&m->label->risk_basis, key, v, err, errlen);
}

static int set_risk_ref(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_text(&m->label->risk_ref, key, v, err, errlen);
}

static int set_subjects(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_words(&m->label->subjects, &m->label->n_subjects, key, v, err, errlen);
}

/* A date, not a time: util_parse_time also takes RFC 3339 times, and the
 * MoPI review date is a day. */
static int set_review_at(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    int64_t us;
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    const char *s = json_string_value(v);
    if (strlen(s) != 10 || util_parse_time(s, &us) != 0) {
        char q[QUOTE_MAX + 8];
        quote(q, sizeof q, s);
        snprintf(err, errlen, "bad review_at \"%s\": want a date YYYY-MM-DD", q);
        return -1;
    }
    set_str(&m->label->review_at, s);
    return 0;
}

/* An instant: RFC 3339 UTC, or a date meaning its midnight UTC. */
static int take_time(char **field, const char *key, json_t *v, char *err, size_t errlen)
{
    int64_t us;
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    const char *s = json_string_value(v);
    if (util_parse_time(s, &us) != 0) {
        char q[QUOTE_MAX + 8];
        quote(q, sizeof q, s);
        snprintf(err, errlen, "bad %s \"%s\": want RFC 3339 UTC or YYYY-MM-DD", key, q);
        return -1;
    }
    set_str(field, s);
    return 0;
}

static int set_embargo_until(Liaison__Intel *m, const char *key, json_t *v, char *err,
                             size_t errlen)
{
    return take_time(&m->label->embargo_until, key, v, err, errlen);
}

static int set_expires_at(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    return take_time(&m->label->expires_at, key, v, err, errlen);
}

/* jansson has already refused invalid UTF-8 and NUL in strings, so a "body"
 * that arrives here is text; binary bodies come as "body_base64". */
static int set_body(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    if (m->body.data != NULL) {
        snprintf(err, errlen, "give \"body\" or \"body_base64\", not both");
        return -1;
    }
    size_t n = json_string_length(v);
    m->body.data = xmalloc(n ? n : 1);
    memcpy(m->body.data, json_string_value(v), n);
    m->body.len = n;
    return 0;
}

static int set_body_base64(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    if (want_string(key, v, err, errlen) != 0)
        return -1;
    if (m->body.data != NULL) {
        snprintf(err, errlen, "give \"body\" or \"body_base64\", not both");
        return -1;
    }
    const char *b64 = json_string_value(v);
    size_t b64_len = json_string_length(v);
    size_t max = b64_len / 4 * 3 + 3;
    unsigned char *bin = xmalloc(max);
    size_t bin_len = 0;
    /* Whitespace is ignored so that base64 wrapped at 76 columns (MIME, the
     * usual output of agency tools) is accepted as is. */
    if (sodium_base642bin(bin, max, b64, b64_len, " \t\r\n", &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(bin);
        snprintf(err, errlen, "\"%s\" is not valid standard base64", key);
        return -1;
    }
    m->body.data = bin;
    m->body.len = bin_len;
    return 0;
}

/* Keys the broker fills; a client that sends them is refused rather than
 * silently overwritten, so nobody believes they set their own origin. */
static int set_stamped(Liaison__Intel *m, const char *key, json_t *v, char *err, size_t errlen)
{
    (void)m;
    (void)v;
    snprintf(err, errlen, "\"%s\" is stamped by the broker and may not be published", key);
    return -1;
}

/* The whole input vocabulary: one row per key. */
static const struct field {
    const char *key;
    setter set;
} fields[] = {
    {"topic", set_topic},
    {"msg_id", set_msg_id},
    {"classification", set_classification},
    {"caveats", set_caveats},
    {"grading", set_grading},
    {"handling", set_handling},
    {"conditions", set_conditions},
    {"no_onward_sharing", set_no_onward_sharing},
    {"sanitisation", set_sanitisation},
    {"release_to", set_release_to},
    {"risk", set_risk},
    {"risk_basis", set_risk_basis},
    {"risk_ref", set_risk_ref},
    {"subjects", set_subjects},
    {"review_at", set_review_at},
    {"embargo_until", set_embargo_until},
    {"expires_at", set_expires_at},
    {"content_type", set_content_type},
    {"body", set_body},
    {"body_base64", set_body_base64},
    {"seq", set_stamped},
    {"origin", set_stamped},
    {"received_at", set_stamped},
    {"route", set_stamped},
    {"notice", set_stamped},
};

static const struct field *field_find(const char *key)
{
    for (size_t i = 0; i < UTIL_LEN(fields); i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

static int is_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

Liaison__Intel *json_to_intel(const char *buf, size_t len, size_t *consumed, char *err,
                              size_t errlen)
{
    return json_to_intel_forwarded(buf, len, 0, consumed, err, errlen);
}

Liaison__Intel *json_to_intel_forwarded(const char *buf, size_t len, int forwarding,
                                        size_t *consumed, char *err, size_t errlen)
{
    Liaison__Intel *m = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    size_t skip = 0;

    if (errlen > 0)
        err[0] = '\0';
    while (skip < len && is_json_space(buf[skip]))
        skip++;
    if (skip == len) {
        *consumed = len;
        goto leave;
    }

    /* jansson reads from buf itself, not buf + skip, so lines and columns in
     * its errors count from the caller's buffer. JSON_DISABLE_EOF_CHECK
     * stops at the closing brace and reports how far it got, which is what
     * lets a caller walk JSON lines or concatenated objects. DECODE_ANY lets
     * a scalar root through to be named "not an object" below. */
    root = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                      &jerr);
    if (root == NULL) {
        /* jansson ends its reason with "near '<token>'", and the token can
         * be a slice of the body or a subject: intelligence that must not
         * reach a log. Line and column are enough to find the fault. */
        char *near = strstr(jerr.text, " near ");
        if (near != NULL)
            *near = '\0';
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        /* Nothing after a syntax error can be trusted to start a message. */
        *consumed = len;
        goto leave;
    }
    *consumed = (jerr.position > 0 && (size_t)jerr.position <= len) ? (size_t)jerr.position : len;
    /* With DECODE_ANY jansson may read one character past a bare number;
     * that only matters for a root we refuse anyway. */

    if (!json_is_object(root)) {
        snprintf(err, errlen, "not a JSON object");
        goto leave;
    }

    m = wire_intel_new();
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        const struct field *f = field_find(key);
        if (f == NULL) {
            char q[QUOTE_MAX + 8];
            quote(q, sizeof q, key);
            snprintf(err, errlen, "unknown key \"%s\"", q);
            goto fail;
        }
        if (forwarding && f->set == set_stamped) {
            /* A delivered message forwarded as it was printed: the broker
             * stamps these again. A notice has no content to forward. */
            if (strcmp(key, "notice") == 0 && json_is_true(v)) {
                snprintf(err, errlen, "a notice cannot be forwarded: it has no content");
                goto fail;
            }
            continue;
        }
        if (f->set(m, f->key, v, err, errlen) != 0)
            goto fail;
    }
    goto leave;

fail:
    wire_intel_free(&m);
leave:
    if (errlen > 0)
        one_line(err);
    json_decref(root);
    return m;
}

/* ---- output --------------------------------------------------------------- */

static void put_text(json_t *obj, const char *key, const char *s)
{
    if (is_set(s))
        put(obj, key, text(s));
}

static void put_words(json_t *obj, const char *key, char *const *words, size_t n)
{
    if (n == 0)
        return;
    json_t *arr = json_array();
    if (arr == NULL)
        oom();
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, text(words[i])) != 0)
            oom();
    put(obj, key, arr);
}

static void put_body(json_t *obj, const ProtobufCBinaryData *body)
{
    if (body->len == 0)
        return;
    if (is_text(body->data, body->len)) {
        put(obj, "body", json_stringn((const char *)body->data, body->len));
        return;
    }
    size_t n = sodium_base64_encoded_len(body->len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = xmalloc(n);
    sodium_bin2base64(b64, n, body->data, body->len, sodium_base64_VARIANT_ORIGINAL);
    put(obj, "body_base64", json_string(b64));
    free(b64);
}

static json_t *origin_object(const Liaison__Origin *org);

/* The object for one message; caller decrefs. */
static json_t *intel_object(const Liaison__Intel *m, int notice)
{
    const Liaison__Label *l = m->label;
    json_t *root = json_object();

    if (root == NULL)
        oom();

    /* Key order is part of the surface users see (scripts diff it), so it
     * is fixed here: seq first for people reading a feed, the label in
     * docs/design.md's order, stamps after it, the body last because it is the
     * long part. */
    if (m->seq != 0)
        put(root, "seq", json_integer((json_int_t)m->seq));
    put_text(root, "topic", m->topic);
    put_text(root, "msg_id", m->msg_id);
    if (l != NULL) {
        if (l->classification != 0)
            put(root, "classification", text(label_classification_name((int)l->classification)));
        /* A notice goes to someone refused on clearance or caveats: caveat
         * names (code words), grading, conditions, sanitisation, risk basis
         * and subjects all say something about the content it must not
         * carry. Risk, reference and origin say whom to ask. */
        if (!notice) {
            put_words(root, "caveats", l->caveats, l->n_caveats);
            if (l->source_grade != 0 || is_set(l->intel_grade)) {
                char g[32];
                snprintf(g, sizeof g, "%u%.8s", (unsigned)l->source_grade,
                         is_set(l->intel_grade) ? l->intel_grade : "");
                put(root, "grading", text(g));
            }
        }
        if (l->handling != 0)
            put_text(root, "handling", label_handling_name((int)l->handling));
        if (!notice)
            put_text(root, "conditions", l->conditions);
        if (l->no_onward_sharing)
            put(root, "no_onward_sharing", json_true());
        if (!notice && l->sanitisation != 0)
            put_text(root, "sanitisation", label_sanitisation_name((int)l->sanitisation));
        put_words(root, "release_to", l->release_to, l->n_release_to);
        if (l->risk != 0)
            put_text(root, "risk", label_risk_name((int)l->risk));
        if (!notice)
            put_text(root, "risk_basis", l->risk_basis);
        put_text(root, "risk_ref", l->risk_ref);
        if (!notice)
            put_words(root, "subjects", l->subjects, l->n_subjects);
        put_text(root, "review_at", l->review_at);
        put_text(root, "embargo_until", l->embargo_until);
        put_text(root, "expires_at", l->expires_at);
    }
    put_text(root, "content_type", m->content_type);
    if (m->origin != NULL && is_set(m->origin->agent))
        put(root, "origin", origin_object(m->origin));
    if (m->received_at_us != 0) {
        char t[32];
        util_rfc3339(m->received_at_us, t);
        put(root, "received_at", json_string(t));
    }
    if (m->route != NULL && is_set(m->route->origin_broker)) {
        /* Where it came from across brokers: stamped by them, like origin. */
        json_t *r = json_object();
        if (r == NULL)
            oom();
        put(r, "origin_broker", text(m->route->origin_broker));
        put(r, "origin_seq", json_integer((json_int_t)m->route->origin_seq));
        put_words(r, "via", m->route->via, m->route->n_via);
        put(root, "route", r);
    }
    if (notice)
        put(root, "notice", json_true());
    else
        put_body(root, &m->body);
    return root;
}

static char *dump(json_t *root)
{
    char *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (out == NULL)
        oom();
    json_decref(root);
    return out;
}

char *json_from_intel(const Liaison__Intel *m, int notice)
{
    return dump(intel_object(m, notice));
}

char *json_from_delivery(const Liaison__Deliver *d)
{
    if (d->intel == NULL)
        return dump(json_object());
    json_t *root = intel_object(d->intel, d->notice);
    if (d->notice) {
        /* What a notice adds in place of the content: how many people it
         * concerns and whom to ask. */
        put(root, "subject_count", json_integer((json_int_t)d->subject_count));
        put_text(root, "contact", d->contact);
    }
    return dump(root);
}

static void put_hex(json_t *obj, const char *key, const ProtobufCBinaryData *bin)
{
    if (bin->len == 0)
        return;
    char *hex = xmalloc(bin->len * 2 + 1);
    sodium_bin2hex(hex, bin->len * 2 + 1, bin->data, bin->len);
    put(obj, key, json_string(hex));
    free(hex);
}

char *json_from_audit_record(const Liaison__AuditRecord *r)
{
    json_t *root = json_object();
    char t[32];
    if (root == NULL)
        oom();
    util_rfc3339(r->time_us, t);
    put(root, "seq", json_integer((json_int_t)r->seq));
    put(root, "time", json_string(t));
    put_text(root, "actor", r->actor);
    put_text(root, "action", r->action);
    put_text(root, "recipient", r->recipient);
    put_text(root, "outcome", r->outcome);
    put_text(root, "reason", r->reason);
    put_text(root, "topic", r->topic);
    if (r->msg_seq)
        put(root, "msg_seq", json_integer((json_int_t)r->msg_seq));
    put_hex(root, "digest", &r->digest);
    if (r->count > 1)
        put(root, "count", json_integer((json_int_t)r->count));
    if (r->n_more_seqs) {
        /* A batch's collections or disclosures of one kind: the messages
         * after msg_seq, each with its digest. */
        json_t *seqs = json_array(), *digests = json_array();
        if (seqs == NULL || digests == NULL)
            oom();
        for (size_t i = 0; i < r->n_more_seqs; i++)
            json_array_append_new(seqs, json_integer((json_int_t)r->more_seqs[i]));
        for (size_t i = 0; i < r->n_more_digests; i++) {
            char hex[2 * 32 + 1] = "";
            if (r->more_digests[i].len == 32) /* else "": the arrays stay in step */
                sodium_bin2hex(hex, sizeof hex, r->more_digests[i].data, 32);
            json_array_append_new(digests, json_string(hex));
        }
        put(root, "more_seqs", seqs);
        put(root, "more_digests", digests);
    }
    if (r->n_tokens) {
        /* A query's blind-index tokens: never the references. */
        json_t *a = json_array();
        if (a == NULL)
            oom();
        for (size_t i = 0; i < r->n_tokens; i++) {
            char hex[2 * 64 + 1];
            if (r->tokens[i].len > 64)
                continue;
            sodium_bin2hex(hex, sizeof hex, r->tokens[i].data, r->tokens[i].len);
            json_array_append_new(a, json_string(hex));
        }
        put(root, "tokens", a);
    }
    if (r->action && strcmp(r->action, "query") == 0) {
        put(root, "results", json_integer((json_int_t)r->results));
        put(root, "hits", json_integer((json_int_t)r->hits));
    }
    put_hex(root, "prev_hash", &r->prev_hash);
    return dump(root);
}

static json_t *origin_object(const Liaison__Origin *org)
{
    json_t *o = json_object();
    if (o == NULL)
        oom();
    put(o, "agent", text(org->agent));
    put(o, "agency", text(org->agency));
    put(o, "type", text(org->type));
    put(o, "region", text(org->region));
    return o;
}

char *json_from_query_result(const Liaison__QueryResult *r)
{
    const Liaison__Intel *m = r->intel;
    if (m == NULL)
        return dump(json_object());
    if (!r->hit)
        return json_from_intel(m, 0);
    /* A hit: that it exists and whom to ask, nothing of what it says. */
    json_t *root = json_object();
    char t[32];
    if (root == NULL)
        oom();
    put(root, "hit", json_true());
    put(root, "seq", json_integer((json_int_t)m->seq));
    put_text(root, "topic", m->topic);
    if (m->label && m->label->risk != 0)
        put_text(root, "risk", label_risk_name((int)m->label->risk));
    if (m->origin != NULL && is_set(m->origin->agent))
        put(root, "origin", origin_object(m->origin));
    if (m->received_at_us != 0) {
        util_rfc3339(m->received_at_us, t);
        put(root, "received_at", json_string(t));
    }
    if (m->label)
        put_text(root, "reference", m->label->risk_ref);
    put_text(root, "contact", r->contact);
    return dump(root);
}

char *json_from_hit_notice(const Liaison__HitNotice *n)
{
    json_t *root = json_object(), *h = json_object();
    char t[32];
    if (root == NULL || h == NULL)
        oom();
    put(h, "seq", json_integer((json_int_t)n->seq));
    put_text(h, "topic", n->topic);
    put_text(h, "asker_agency", n->asker_agency);
    put_text(h, "asker_contact", n->asker_contact);
    util_rfc3339(n->time_us, t);
    put(h, "time", json_string(t));
    put(h, "hit", n->hit ? json_true() : json_false());
    put(root, "hit_notice", h);
    return dump(root);
}

/* ---- documents: the operator views ---------------------------------------------
 * json_doc_t is jansson's json_t under another name, so the type never
 * leaves this file; the casts below are the whole of the mapping. */

static json_t *J(json_doc_t *d)
{
    return (json_t *)(void *)d;
}

static const json_t *CJ(const json_doc_t *d)
{
    return (const json_t *)(const void *)d;
}

static json_doc_t *D(json_t *j)
{
    return (json_doc_t *)(void *)j;
}

json_doc_t *json_doc_object(void)
{
    json_t *o = json_object();
    if (o == NULL)
        oom();
    return D(o);
}

json_doc_t *json_doc_array(void)
{
    json_t *a = json_array();
    if (a == NULL)
        oom();
    return D(a);
}

void json_doc_set(json_doc_t *obj, const char *key, json_doc_t *v)
{
    put(J(obj), key, J(v));
}

void json_doc_set_str(json_doc_t *obj, const char *key, const char *s)
{
    put(J(obj), key, s ? text(s) : json_null());
}

void json_doc_set_int(json_doc_t *obj, const char *key, int64_t v)
{
    put(J(obj), key, json_integer((json_int_t)v));
}

void json_doc_set_real(json_doc_t *obj, const char *key, double v)
{
    /* jansson refuses NaN and infinities; JSON has no spelling for them. */
    put(J(obj), key, v == v && v - v == 0 ? json_real(v) : json_null());
}

void json_doc_set_bool(json_doc_t *obj, const char *key, int v)
{
    put(J(obj), key, json_boolean(v));
}

void json_doc_set_null(json_doc_t *obj, const char *key)
{
    put(J(obj), key, json_null());
}

void json_doc_push(json_doc_t *arr, json_doc_t *v)
{
    if (v == NULL || json_array_append_new(J(arr), J(v)) != 0)
        oom();
}

void json_doc_push_str(json_doc_t *arr, const char *s)
{
    if (json_array_append_new(J(arr), s ? text(s) : json_null()) != 0)
        oom();
}

char *json_doc_dump(const json_doc_t *doc)
{
    /* Ten significant digits: rates and ratios print as 0.29, not 0.28999999999999998. */
    char *out = json_dumps(CJ(doc), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (out == NULL)
        oom();
    return out;
}

void json_doc_free(json_doc_t **doc)
{
    if (doc == NULL || *doc == NULL)
        return;
    json_decref(J(*doc));
    *doc = NULL;
}

json_doc_t *json_doc_parse(const char *s, char *err, size_t errlen)
{
    json_error_t e;
    json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &e);
    if (v == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", e.line, e.column, e.text);
        one_line(err);
    }
    return D(v);
}

const json_doc_t *json_doc_get(const json_doc_t *obj, const char *key)
{
    if (obj == NULL || !json_is_object(CJ(obj)))
        return NULL;
    /* json_object_get takes a non-const object but does not modify it. */
    return D(json_object_get(CJ(obj), key));
}

size_t json_doc_len(const json_doc_t *arr)
{
    return arr && json_is_array(CJ(arr)) ? json_array_size(CJ(arr)) : 0;
}

const json_doc_t *json_doc_at(const json_doc_t *arr, size_t i)
{
    if (arr == NULL || !json_is_array(CJ(arr)))
        return NULL;
    return D(json_array_get(CJ(arr), i));
}

const char *json_doc_str(const json_doc_t *v)
{
    return v && json_is_string(CJ(v)) ? json_string_value(CJ(v)) : NULL;
}

int json_doc_num(const json_doc_t *v, double *out)
{
    if (v == NULL || !json_is_number(CJ(v)))
        return -1;
    *out = json_number_value(CJ(v));
    return 0;
}

int json_doc_bool(const json_doc_t *v)
{
    if (v == NULL || !json_is_boolean(CJ(v)))
        return -1;
    return json_is_true(CJ(v));
}
