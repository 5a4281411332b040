/* test_json.c — the JSON mapping of a message (common/json.c): docs/design.md's
 * example in and out, every field round trip, notices, streams of objects,
 * and the one-line reasons for input that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "label.h"
#include "wire.h"

/* The published example from docs/design.md "A message as JSON", verbatim. */
static const char design_example[] =
    "{ \"topic\": \"alert.yorkshire.hmp-hull.contraband\", \"msg_id\": \"hull-2026-000123\",\n"
    "  \"classification\": \"OFFICIAL-SENSITIVE\", \"caveats\": [\"PRISON-INTEL\"], \"grading\": "
    "\"2B\",\n"
    "  \"handling\": \"C\", \"conditions\": \"ROCU use only\", \"release_to\": [\"type:rocu\", "
    "\"agency:humberside-police\"],\n"
    "  \"risk\": \"HIGH\", \"risk_basis\": \"OCGM band 1\", \"risk_ref\": \"OCG-4471\",\n"
    "  \"subjects\": [\"A1234BC\"], \"review_at\": \"2027-11-25\", \"content_type\": "
    "\"text/plain\",\n"
    "  \"body\": \"Drone drop of phones and spice expected on C wing this weekend.\" }\n";

/* The same message as json_from_intel writes it: one compact line, keys in
 * the fixed order. */
static const char design_example_line[] =
    "{\"topic\":\"alert.yorkshire.hmp-hull.contraband\",\"msg_id\":\"hull-2026-000123\","
    "\"classification\":\"OFFICIAL-SENSITIVE\",\"caveats\":[\"PRISON-INTEL\"],\"grading\":\"2B\","
    "\"handling\":\"C\",\"conditions\":\"ROCU use only\","
    "\"release_to\":[\"type:rocu\",\"agency:humberside-police\"],"
    "\"risk\":\"HIGH\",\"risk_basis\":\"OCGM band 1\",\"risk_ref\":\"OCG-4471\","
    "\"subjects\":[\"A1234BC\"],\"review_at\":\"2027-11-25\",\"content_type\":\"text/plain\","
    "\"body\":\"Drone drop of phones and spice expected on C wing this weekend.\"}";

static Liaison__Intel *parse(const char *s, char *err, size_t errlen)
{
    size_t consumed = 0;
    return json_to_intel(s, strlen(s), &consumed, err, errlen);
}

/* Parses s, which must be refused, and returns the reason (static buffer). */
static const char *refusal(const char *s)
{
    static char err[256];
    Liaison__Intel *m = parse(s, err, sizeof err);
    assert_null(m);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    return err;
}

static void body_is(const Liaison__Intel *m, const void *data, size_t len)
{
    assert_int_equal(m->body.len, len);
    if (len)
        assert_memory_equal(m->body.data, data, len);
}

static void test_json_parses_full_design_example(void **state)
{
    (void)state;
    char err[256];
    size_t consumed = 0;
    size_t len = strlen(design_example);

    Liaison__Intel *m = json_to_intel(design_example, len, &consumed, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(err, "");
    /* Stops at the closing brace; the trailing newline is left for the next
     * call, which reports end of input. */
    assert_int_equal(consumed, len - 1);

    assert_string_equal(m->topic, "alert.yorkshire.hmp-hull.contraband");
    assert_string_equal(m->msg_id, "hull-2026-000123");
    const Liaison__Label *l = m->label;
    assert_int_equal(l->classification, LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE);
    assert_int_equal(l->n_caveats, 1);
    assert_string_equal(l->caveats[0], "PRISON-INTEL");
    assert_int_equal(l->source_grade, 2);
    assert_string_equal(l->intel_grade, "B");
    assert_int_equal(l->handling, LIAISON__HANDLING__HANDLING_C);
    assert_string_equal(l->conditions, "ROCU use only");
    assert_false(l->no_onward_sharing);
    assert_int_equal(l->sanitisation, LIAISON__SANITISATION__SANITISATION_UNSPECIFIED);
    assert_int_equal(l->n_release_to, 2);
    assert_string_equal(l->release_to[0], "type:rocu");
    assert_string_equal(l->release_to[1], "agency:humberside-police");
    assert_int_equal(l->risk, LIAISON__RISK__HIGH);
    assert_string_equal(l->risk_basis, "OCGM band 1");
    assert_string_equal(l->risk_ref, "OCG-4471");
    assert_int_equal(l->n_subjects, 1);
    assert_string_equal(l->subjects[0], "A1234BC");
    assert_string_equal(l->review_at, "2027-11-25");
    assert_string_equal(m->content_type, "text/plain");
    const char *body = "Drone drop of phones and spice expected on C wing this weekend.";
    body_is(m, body, strlen(body));
    /* Nothing broker-stamped comes from a client. */
    assert_int_equal(m->seq, 0);
    assert_int_equal(m->received_at_us, 0);
    assert_string_equal(m->origin->agent, "");

    /* The example is a message the broker would accept. */
    char why[256];
    assert_int_equal(label_validate(m, 255, why, sizeof why), LIAISON__ERROR_CODE__ERROR_NONE);

    /* And the rest of the buffer is only whitespace: end of input. */
    wire_intel_free(&m);
    size_t more = 99;
    m = json_to_intel(design_example + consumed, len - consumed, &more, err, sizeof err);
    assert_null(m);
    assert_int_equal(more, len - consumed);
    assert_string_equal(err, "");
}

static void test_json_renders_design_example_as_one_compact_line(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse(design_example, err, sizeof err);
    assert_non_null(m);

    char *line = json_from_intel(m, 0);
    assert_string_equal(line, design_example_line);
    assert_null(strchr(line, '\n'));

    free(line);
    wire_intel_free(&m);
}

/* Fills every field a client may set, with values unlike the defaults. */
static const char every_field[] =
    "{\"topic\":\"national.firearms\",\"msg_id\":\"m-1\",\"classification\":\"SECRET\","
    "\"caveats\":[\"UK-EYES-ONLY\",\"OP-NIGHTJAR\"],\"grading\":\"3E\",\"handling\":\"C\","
    "\"conditions\":\"no court use\",\"no_onward_sharing\":true,\"sanitisation\":\"S2\","
    "\"release_to\":[\"region:national\"],\"risk\":\"MEDIUM\",\"risk_basis\":\"OCGM band 2\","
    "\"risk_ref\":\"OCG-9\",\"subjects\":[\"PNC-01/234567X\",\"A9999ZZ\"],"
    "\"review_at\":\"2030-02-28\",\"content_type\":\"application/json\","
    "\"body\":\"{\\\"k\\\": \\\"caf\xc3\xa9 \xe2\x9c\x93\\\"}\"}";

static void test_json_round_trips_every_field(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse(every_field, err, sizeof err);
    assert_non_null(m);
    assert_true(m->label->no_onward_sharing);
    assert_int_equal(m->label->sanitisation, LIAISON__SANITISATION__S2);
    assert_int_equal(m->label->classification, LIAISON__CLASSIFICATION__SECRET);
    assert_int_equal(m->label->source_grade, 3);
    assert_string_equal(m->label->intel_grade, "E");

    /* Rendering gives back exactly the input, which was written in the
     * output's key order: no field is lost, renamed or reformatted. */
    char *line = json_from_intel(m, 0);
    assert_string_equal(line, every_field);

    /* And the rendering parses to the same message, field for field. */
    Liaison__Intel *back = parse(line, err, sizeof err);
    assert_non_null(back);
    size_t a = wire_intel_size(m), b = wire_intel_size(back);
    assert_int_equal(a, b);
    uint8_t *pa = malloc(a), *pb = malloc(b);
    wire_intel_pack(m, pa);
    wire_intel_pack(back, pb);
    assert_memory_equal(pa, pb, a);

    free(pa);
    free(pb);
    free(line);
    wire_intel_free(&back);
    wire_intel_free(&m);
}

/* What the broker adds on receipt. The origin strings replace wire_empty(),
 * which is not the message's to free. */
static void stamp(Liaison__Intel *m)
{
    m->seq = 42;
    /* 2026-11-25T12:10:08.123456Z */
    m->received_at_us = INT64_C(1795608608123456);
    m->origin->agent = strdup("hmp-hull");
    m->origin->agency = strdup("HMP Hull");
    m->origin->type = strdup("prison");
    m->origin->region = strdup("yorkshire");
}

static void test_json_renders_broker_stamps(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse("{\"topic\":\"national.firearms\",\"body\":\"x\"}", err, sizeof err);
    assert_non_null(m);
    stamp(m);

    char *line = json_from_intel(m, 0);
    assert_string_equal(line, "{\"seq\":42,\"topic\":\"national.firearms\","
                              "\"origin\":{\"agent\":\"hmp-hull\",\"agency\":\"HMP Hull\","
                              "\"type\":\"prison\",\"region\":\"yorkshire\"},"
                              "\"received_at\":\"2026-11-25T12:10:08.123456Z\",\"body\":\"x\"}");

    /* What the broker stamped cannot be published back as if the client
     * had set it. */
    Liaison__Intel *again = parse(line, err, sizeof err);
    assert_null(again);
    assert_string_equal(err, "\"seq\" is stamped by the broker and may not be published");

    free(line);
    wire_intel_free(&m);
}

static void test_json_notice_omits_body_subjects_caveats_grading(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse(every_field, err, sizeof err);
    assert_non_null(m);
    stamp(m);

    char *line = json_from_intel(m, 1);
    /* What is left says that something exists, how serious it is and whom
     * to ask: never its content, code words, grading or subjects. */
    assert_string_equal(line, "{\"seq\":42,\"topic\":\"national.firearms\",\"msg_id\":\"m-1\","
                              "\"classification\":\"SECRET\",\"handling\":\"C\","
                              "\"no_onward_sharing\":true,\"release_to\":[\"region:national\"],"
                              "\"risk\":\"MEDIUM\",\"risk_ref\":\"OCG-9\","
                              "\"review_at\":\"2030-02-28\",\"content_type\":\"application/json\","
                              "\"origin\":{\"agent\":\"hmp-hull\",\"agency\":\"HMP Hull\","
                              "\"type\":\"prison\",\"region\":\"yorkshire\"},"
                              "\"received_at\":\"2026-11-25T12:10:08.123456Z\",\"notice\":true}");
    const char *never[] = {"body",         "caf",        "subjects", "A9999ZZ",    "caveats",
                           "NIGHTJAR",     "grading",    "3E",       "conditions", "court",
                           "sanitisation", "risk_basis", "band"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        assert_null(strstr(line, never[i]));

    free(line);
    wire_intel_free(&m);
}

static void test_json_notice_of_binary_body_has_no_body_base64(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse("{\"topic\":\"a.b\",\"body_base64\":\"AAEC/w==\"}", err, sizeof err);
    assert_non_null(m);

    char *line = json_from_intel(m, 1);
    assert_string_equal(line, "{\"topic\":\"a.b\",\"notice\":true}");

    free(line);
    wire_intel_free(&m);
}

static void test_json_reads_json_lines_one_by_one(void **state)
{
    (void)state;
    const char lines[] = "{\"topic\":\"a.one\"}\n"
                         "{\"topic\":\"a.two\",\"body\":\"}{ not a brace\"}\n"
                         "\n"
                         "  {\"topic\":\"a.three\"}\n";
    const char *want[] = {"a.one", "a.two", "a.three"};
    size_t len = strlen(lines), pos = 0, n = 0;
    char err[256];

    for (;;) {
        size_t consumed = 0;
        Liaison__Intel *m = json_to_intel(lines + pos, len - pos, &consumed, err, sizeof err);
        assert_true(consumed > 0);
        pos += consumed;
        if (m == NULL)
            break;
        assert_true(n < 3);
        assert_string_equal(m->topic, want[n]);
        n++;
        wire_intel_free(&m);
    }
    assert_int_equal(n, 3);
    assert_string_equal(err, ""); /* stopped at end of input, not on an error */
    assert_int_equal(pos, len);
}

static void test_json_reads_concatenated_objects_without_separators(void **state)
{
    (void)state;
    const char two[] = "{\"topic\":\"a.one\"}{\"topic\":\"a.two\"}";
    char err[256];
    size_t consumed = 0;

    Liaison__Intel *m = json_to_intel(two, strlen(two), &consumed, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(m->topic, "a.one");
    assert_int_equal(consumed, strlen("{\"topic\":\"a.one\"}"));
    wire_intel_free(&m);

    size_t rest = 0;
    m = json_to_intel(two + consumed, strlen(two) - consumed, &rest, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(m->topic, "a.two");
    assert_int_equal(consumed + rest, strlen(two));
    wire_intel_free(&m);
}

static void test_json_only_whitespace_is_end_of_input(void **state)
{
    (void)state;
    const char *inputs[] = {"", " ", "\n\n", " \t\r\n "};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char err[64] = "stale";
        size_t consumed = 99;
        Liaison__Intel *m = json_to_intel(inputs[i], strlen(inputs[i]), &consumed, err, sizeof err);
        assert_null(m);
        assert_int_equal(consumed, strlen(inputs[i]));
        assert_string_equal(err, "");
    }
}

static void test_json_reads_only_len_bytes(void **state)
{
    (void)state;
    /* The buffer need not be NUL-terminated: a file mapped or read in
     * chunks ends where len says. */
    const char buf[] = {'{', '"', 't', 'o', 'p', 'i', 'c', '"', ':', '"', 'a', '"', '}', 'X'};
    char err[256];
    size_t consumed = 0;

    Liaison__Intel *m = json_to_intel(buf, sizeof buf - 1, &consumed, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(m->topic, "a");
    assert_int_equal(consumed, sizeof buf - 1);
    wire_intel_free(&m);

    /* Cut short, the same object is invalid JSON. */
    m = json_to_intel(buf, 6, &consumed, err, sizeof err);
    assert_null(m);
    assert_non_null(strstr(err, "invalid JSON"));
}

static void test_json_reports_line_and_column(void **state)
{
    (void)state;
    const char bad[] = "{\n  \"topic\": \"a.b\",\n  \"risk\": LOW\n}\n";
    char err[256];
    size_t consumed = 0;

    Liaison__Intel *m = json_to_intel(bad, strlen(bad), &consumed, err, sizeof err);
    assert_null(m);
    assert_string_equal(err, "invalid JSON at line 3 column 13: invalid token");
    /* After a syntax error nothing further can be trusted to start a
     * message, so the rest of the buffer counts as used. */
    assert_int_equal(consumed, strlen(bad));
}

static void test_json_reports_truncated_object(void **state)
{
    (void)state;
    const char *err = refusal("{\"topic\": \"a.b\"");
    assert_non_null(strstr(err, "invalid JSON at line 1 column "));
}

static void test_json_rejects_unknown_key(void **state)
{
    (void)state;
    assert_string_equal(refusal("{\"topic\":\"a.b\",\"foo\":1}"), "unknown key \"foo\"");
    /* Near misses are refused rather than guessed at. */
    assert_string_equal(refusal("{\"Topic\":\"a.b\"}"), "unknown key \"Topic\"");
    assert_string_equal(refusal("{\"risk_level\":\"HIGH\"}"), "unknown key \"risk_level\"");
}

static void test_json_error_stays_on_one_line_whatever_the_key(void **state)
{
    (void)state;
    const char *err = refusal("{\"a\\nb\\u0007c\":1}");
    assert_string_equal(err, "unknown key \"a?b?c\"");

    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    char doc[400];
    snprintf(doc, sizeof doc, "{\"%.*s\":1}", (int)sizeof longkey, longkey);
    err = refusal(doc);
    assert_true(strlen(err) < 80);
    assert_non_null(strstr(err, "...\""));
}

static void test_json_rejects_stamped_keys(void **state)
{
    (void)state;
    assert_string_equal(refusal("{\"topic\":\"a.b\",\"seq\":7}"),
                        "\"seq\" is stamped by the broker and may not be published");
    assert_string_equal(refusal("{\"origin\":{\"agent\":\"me\",\"agency\":\"x\","
                                "\"type\":\"police\","
                                "\"region\":\"r\"}}"),
                        "\"origin\" is stamped by the broker and may not be published");
    assert_string_equal(refusal("{\"received_at\":\"2026-11-25T12:10:08Z\"}"),
                        "\"received_at\" is stamped by the broker and may not be published");
    assert_string_equal(refusal("{\"notice\":true}"),
                        "\"notice\" is stamped by the broker and may not be published");
}

static void test_json_rejects_root_that_is_not_an_object(void **state)
{
    (void)state;
    assert_string_equal(refusal("[{\"topic\":\"a.b\"}]"), "not a JSON object");
    assert_string_equal(refusal("\"topic\""), "not a JSON object");
    assert_string_equal(refusal("42 "), "not a JSON object");
    assert_string_equal(refusal("null "), "not a JSON object");
}

static void test_json_rejects_wrong_types(void **state)
{
    (void)state;
    assert_string_equal(refusal("{\"topic\":7}"), "\"topic\" must be a string");
    assert_string_equal(refusal("{\"msg_id\":null}"), "\"msg_id\" must be a string");
    assert_string_equal(refusal("{\"classification\":1}"), "\"classification\" must be a string");
    assert_string_equal(refusal("{\"grading\":2}"), "\"grading\" must be a string");
    assert_string_equal(refusal("{\"caveats\":\"PRISON-INTEL\"}"),
                        "\"caveats\" must be an array of strings");
    assert_string_equal(refusal("{\"release_to\":[\"type:rocu\",3]}"),
                        "\"release_to\" must be an array of strings (item 2 is not)");
    assert_string_equal(refusal("{\"subjects\":[[\"A1234BC\"]]}"),
                        "\"subjects\" must be an array of strings (item 1 is not)");
    assert_string_equal(refusal("{\"no_onward_sharing\":\"yes\"}"),
                        "\"no_onward_sharing\" must be true or false");
    assert_string_equal(refusal("{\"no_onward_sharing\":1}"),
                        "\"no_onward_sharing\" must be true or false");
    assert_string_equal(refusal("{\"body\":{\"text\":\"x\"}}"), "\"body\" must be a string");
    assert_string_equal(refusal("{\"body_base64\":[]}"), "\"body_base64\" must be a string");
}

static void test_json_rejects_unknown_enum_names(void **state)
{
    (void)state;
    assert_string_equal(refusal("{\"classification\":\"RESTRICTED\"}"),
                        "unknown classification \"RESTRICTED\"");
    assert_string_equal(refusal("{\"classification\":\"official\"}"),
                        "unknown classification \"official\"");
    assert_string_equal(refusal("{\"classification\":\"UNSPECIFIED\"}"),
                        "unknown classification \"UNSPECIFIED\"");
    assert_string_equal(refusal("{\"handling\":\"X\"}"), "unknown handling \"X\"");
    assert_string_equal(refusal("{\"handling\":\"\"}"), "unknown handling \"\"");
    assert_string_equal(refusal("{\"risk\":\"SEVERE\"}"), "unknown risk \"SEVERE\"");
    assert_string_equal(refusal("{\"sanitisation\":\"S3\"}"), "unknown sanitisation \"S3\"");
}

static void test_json_accepts_every_classification_spelling(void **state)
{
    (void)state;
    const struct {
        const char *in;
        int value;
        const char *out;
    } cases[] = {
        {"OFFICIAL", LIAISON__CLASSIFICATION__OFFICIAL, "OFFICIAL"},
        {"OFFICIAL-SENSITIVE", LIAISON__CLASSIFICATION__OFFICIAL_SENSITIVE, "OFFICIAL-SENSITIVE"},
        {"SECRET", LIAISON__CLASSIFICATION__SECRET, "SECRET"},
        {"TOP-SECRET", LIAISON__CLASSIFICATION__TOP_SECRET, "TOP-SECRET"},
        {"TOP SECRET", LIAISON__CLASSIFICATION__TOP_SECRET, "TOP-SECRET"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char doc[128], want[128], err[256];
        snprintf(doc, sizeof doc, "{\"classification\":\"%s\"}", cases[i].in);
        Liaison__Intel *m = parse(doc, err, sizeof err);
        assert_non_null(m);
        assert_int_equal(m->label->classification, cases[i].value);
        /* Output always uses the canonical hyphenated name. */
        char *line = json_from_intel(m, 0);
        snprintf(want, sizeof want, "{\"classification\":\"%s\"}", cases[i].out);
        assert_string_equal(line, want);
        free(line);
        wire_intel_free(&m);
    }
}

static void test_json_rejects_bad_grading(void **state)
{
    (void)state;
    const char *bad[] = {"4B", "0A", "2F", "2b", "B2", "2", "2BB", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[64], want[128];
        snprintf(doc, sizeof doc, "{\"grading\":\"%s\"}", bad[i]);
        snprintf(want, sizeof want,
                 "bad grading \"%s\": want source 1-3 and intelligence A-E, e.g. \"2B\"", bad[i]);
        assert_string_equal(refusal(doc), want);
    }
}

static void test_json_rejects_malformed_review_date(void **state)
{
    (void)state;
    const char *bad[] = {"2027-13-01",           "2027-02-30", "25/11/2027",
                         "2027-11-25T00:00:00Z", "2027-1-25",  "tomorrow"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[64], want[128];
        snprintf(doc, sizeof doc, "{\"review_at\":\"%s\"}", bad[i]);
        snprintf(want, sizeof want, "bad review_at \"%s\": want a date YYYY-MM-DD", bad[i]);
        assert_string_equal(refusal(doc), want);
    }
}

static void test_json_rejects_duplicate_keys(void **state)
{
    (void)state;
    /* Two topics would leave the reader guessing which one routed it. */
    assert_string_equal(refusal("{\"topic\":\"a.b\",\"topic\":\"c.d\"}"),
                        "invalid JSON at line 1 column 22: duplicate object key");
}

static void test_json_binary_body_uses_base64(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse("{\"topic\":\"a.b\"}", err, sizeof err);
    assert_non_null(m);
    static const uint8_t bin[] = {0x00, 0x01, 0x02, 0xff, 'h', 'i'};
    m->body.data = malloc(sizeof bin);
    memcpy(m->body.data, bin, sizeof bin);
    m->body.len = sizeof bin;

    char *line = json_from_intel(m, 0);
    assert_string_equal(line, "{\"topic\":\"a.b\",\"body_base64\":\"AAEC/2hp\"}");

    Liaison__Intel *back = parse(line, err, sizeof err);
    assert_non_null(back);
    body_is(back, bin, sizeof bin);

    free(line);
    wire_intel_free(&back);
    wire_intel_free(&m);
}

static void test_json_text_with_nul_or_bad_utf8_goes_out_as_base64(void **state)
{
    (void)state;
    /* Valid-looking text with a NUL, a lone continuation byte, an overlong
     * '/', and a UTF-16 surrogate: none would read back as the same bytes. */
    static const struct {
        const char *bytes;
        size_t len;
    } cases[] = {{"ab\0cd", 5}, {"ab\x80", 3}, {"\xc0\xaf", 2}, {"\xed\xa0\x80", 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        Liaison__Intel *m = parse("{}", err, sizeof err);
        assert_non_null(m);
        m->body.data = malloc(cases[i].len);
        memcpy(m->body.data, cases[i].bytes, cases[i].len);
        m->body.len = cases[i].len;

        char *line = json_from_intel(m, 0);
        assert_non_null(strstr(line, "\"body_base64\":"));
        Liaison__Intel *back = parse(line, err, sizeof err);
        assert_non_null(back);
        body_is(back, cases[i].bytes, cases[i].len);

        free(line);
        wire_intel_free(&back);
        wire_intel_free(&m);
    }
}

static void test_json_reads_body_base64(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m = parse("{\"body_base64\":\"aGVsbG8=\"}", err, sizeof err);
    assert_non_null(m);
    body_is(m, "hello", 5);
    /* Text that came in as base64 goes out as plain text. */
    char *line = json_from_intel(m, 0);
    assert_string_equal(line, "{\"body\":\"hello\"}");
    free(line);
    wire_intel_free(&m);

    /* Wrapped the way MIME tools wrap it. */
    m = parse("{\"body_base64\":\"aGVs\\r\\nbG8=\\n\"}", err, sizeof err);
    assert_non_null(m);
    body_is(m, "hello", 5);
    wire_intel_free(&m);

    m = parse("{\"body_base64\":\"\"}", err, sizeof err);
    assert_non_null(m);
    assert_int_equal(m->body.len, 0);
    wire_intel_free(&m);
}

static void test_json_rejects_bad_base64(void **state)
{
    (void)state;
    const char *bad[] = {"aGVsbG8", "aGVs!G8=", "aGVsbG8=x", "aGVsbG8_", "aGVsbG-="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "{\"body_base64\":\"%s\"}", bad[i]);
        assert_string_equal(refusal(doc), "\"body_base64\" is not valid standard base64");
    }
}

static void test_json_rejects_body_and_body_base64_together(void **state)
{
    (void)state;
    assert_string_equal(refusal("{\"body\":\"hi\",\"body_base64\":\"aGk=\"}"),
                        "give \"body\" or \"body_base64\", not both");
    assert_string_equal(refusal("{\"body_base64\":\"aGk=\",\"body\":\"\"}"),
                        "give \"body\" or \"body_base64\", not both");
}

static void test_json_rejects_body_that_is_not_utf8_text(void **state)
{
    (void)state;
    /* Raw invalid UTF-8 and an escaped NUL: binary must use body_base64.
     * The reason gives the place, never the text around it, which is
     * intelligence. */
    const char *err = refusal("{\"body\":\"secret ab\xff\"}");
    assert_string_equal(err, "invalid JSON at line 1 column 18: unable to decode byte 0xff");
    err = refusal("{\"body\":\"secret\\u0000cd\"}");
    assert_non_null(strstr(err, "invalid JSON at line 1 column "));
    assert_null(strstr(err, "secret"));
}

static void test_json_keeps_unicode_body_as_text(void **state)
{
    (void)state;
    char err[256];
    const char doc[] = "{\"body\":\"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x81 \\\"q\\\" \\\\\"}";
    Liaison__Intel *m = parse(doc, err, sizeof err);
    assert_non_null(m);
    const char want[] = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x81 \"q\" \\";
    body_is(m, want, strlen(want));

    char *line = json_from_intel(m, 0);
    assert_string_equal(line, doc);
    free(line);
    wire_intel_free(&m);
}

static void test_json_accepts_empty_arrays_and_absent_keys(void **state)
{
    (void)state;
    char err[256];
    Liaison__Intel *m =
        parse("{\"caveats\":[],\"release_to\":[],\"subjects\":[]}", err, sizeof err);
    assert_non_null(m);
    assert_int_equal(m->label->n_caveats, 0);
    assert_int_equal(m->label->n_release_to, 0);
    assert_int_equal(m->label->n_subjects, 0);
    assert_int_equal(m->body.len, 0);

    /* Unset and empty fields are left out of the rendering entirely. */
    char *line = json_from_intel(m, 0);
    assert_string_equal(line, "{}");
    free(line);
    wire_intel_free(&m);
}

static void test_json_leaves_label_rules_to_label_validate(void **state)
{
    (void)state;
    /* Well-shaped but unacceptable: HIGH risk without a basis and a topic
     * with capitals. json.c reads it; label_validate refuses it. */
    char err[256], why[256];
    Liaison__Intel *m = parse("{\"topic\":\"Alert.X\",\"classification\":\"OFFICIAL\","
                              "\"grading\":\"1A\",\"handling\":\"P\",\"risk\":\"HIGH\"}",
                              err, sizeof err);
    assert_non_null(m);
    assert_int_equal(label_validate(m, 255, why, sizeof why), LIAISON__ERROR_CODE__BAD_TOPIC);
    free(m->topic);
    m->topic = strdup("alert.x");
    assert_int_equal(label_validate(m, 255, why, sizeof why), LIAISON__ERROR_CODE__BAD_RISK);
    wire_intel_free(&m);
}

static void test_json_bad_object_in_stream_can_be_skipped(void **state)
{
    (void)state;
    /* A well-formed object that is refused still reports its length, so a
     * reader of JSON lines can name the bad line and carry on. */
    const char lines[] = "{\"topic\":\"a.one\",\"colour\":\"red\"}\n{\"topic\":\"a.two\"}\n";
    char err[256];
    size_t consumed = 0;

    Liaison__Intel *m = json_to_intel(lines, strlen(lines), &consumed, err, sizeof err);
    assert_null(m);
    assert_string_equal(err, "unknown key \"colour\"");
    assert_int_equal(consumed, strlen("{\"topic\":\"a.one\",\"colour\":\"red\"}"));

    size_t more = 0;
    m = json_to_intel(lines + consumed, strlen(lines) - consumed, &more, err, sizeof err);
    assert_non_null(m);
    assert_string_equal(m->topic, "a.two");
    wire_intel_free(&m);
}

static void test_json_renders_bad_utf8_from_the_wire_without_failing(void **state)
{
    (void)state;
    /* protobuf-c does not check UTF-8 in strings, so a stored field may hold
     * any bytes; the rendering must still be valid JSON. */
    char err[256];
    Liaison__Intel *m = parse("{}", err, sizeof err);
    assert_non_null(m);
    m->topic = strdup("a.b\xff");
    m->label->n_subjects = 1;
    m->label->subjects = malloc(sizeof(char *));
    m->label->subjects[0] = strdup("\xc3(");

    char *line = json_from_intel(m, 0);
    assert_string_equal(line, "{\"topic\":\"a.b\xef\xbf\xbd\",\"subjects\":[\"\xef\xbf\xbd(\"]}");
    Liaison__Intel *back = parse(line, err, sizeof err);
    assert_non_null(back);

    free(line);
    wire_intel_free(&back);
    wire_intel_free(&m);
}

static void test_json_forwards_a_delivered_line_with_its_stamps_ignored(void **state)
{
    (void)state;
    const char *line =
        "{\"seq\":42,\"topic\":\"alert.yorkshire.a\",\"msg_id\":\"hull-1\","
        "\"classification\":\"OFFICIAL\",\"grading\":\"2B\",\"handling\":\"P\","
        "\"risk\":\"LOW\",\"origin\":{\"agent\":\"hmp-hull\",\"agency\":\"HMP Hull\","
        "\"type\":\"prison\",\"region\":\"yorkshire\"},"
        "\"received_at\":\"2026-11-25T10:00:00Z\",\"body\":\"x\"}";
    char err[256];
    size_t used;
    assert_null(json_to_intel(line, strlen(line), &used, err, sizeof err));
    Liaison__Intel *m = json_to_intel_forwarded(line, strlen(line), 1, &used, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(m->seq, 0); /* stamped again by the broker */
    assert_int_equal(m->received_at_us, 0);
    assert_string_equal(m->topic, "alert.yorkshire.a");
    assert_string_equal(m->msg_id, "hull-1");
    wire_intel_free(&m);
    const char *notice = "{\"seq\":3,\"topic\":\"alert.y.a\",\"risk\":\"LOW\",\"notice\":true}";
    assert_null(json_to_intel_forwarded(notice, strlen(notice), 1, &used, err, sizeof err));
    assert_non_null(strstr(err, "notice cannot be forwarded"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_parses_full_design_example),
        cmocka_unit_test(test_json_renders_design_example_as_one_compact_line),
        cmocka_unit_test(test_json_round_trips_every_field),
        cmocka_unit_test(test_json_renders_broker_stamps),
        cmocka_unit_test(test_json_notice_omits_body_subjects_caveats_grading),
        cmocka_unit_test(test_json_notice_of_binary_body_has_no_body_base64),
        cmocka_unit_test(test_json_reads_json_lines_one_by_one),
        cmocka_unit_test(test_json_reads_concatenated_objects_without_separators),
        cmocka_unit_test(test_json_only_whitespace_is_end_of_input),
        cmocka_unit_test(test_json_reads_only_len_bytes),
        cmocka_unit_test(test_json_reports_line_and_column),
        cmocka_unit_test(test_json_reports_truncated_object),
        cmocka_unit_test(test_json_rejects_unknown_key),
        cmocka_unit_test(test_json_error_stays_on_one_line_whatever_the_key),
        cmocka_unit_test(test_json_rejects_stamped_keys),
        cmocka_unit_test(test_json_forwards_a_delivered_line_with_its_stamps_ignored),
        cmocka_unit_test(test_json_rejects_root_that_is_not_an_object),
        cmocka_unit_test(test_json_rejects_wrong_types),
        cmocka_unit_test(test_json_rejects_unknown_enum_names),
        cmocka_unit_test(test_json_accepts_every_classification_spelling),
        cmocka_unit_test(test_json_rejects_bad_grading),
        cmocka_unit_test(test_json_rejects_malformed_review_date),
        cmocka_unit_test(test_json_rejects_duplicate_keys),
        cmocka_unit_test(test_json_binary_body_uses_base64),
        cmocka_unit_test(test_json_text_with_nul_or_bad_utf8_goes_out_as_base64),
        cmocka_unit_test(test_json_reads_body_base64),
        cmocka_unit_test(test_json_rejects_bad_base64),
        cmocka_unit_test(test_json_rejects_body_and_body_base64_together),
        cmocka_unit_test(test_json_rejects_body_that_is_not_utf8_text),
        cmocka_unit_test(test_json_keeps_unicode_body_as_text),
        cmocka_unit_test(test_json_accepts_empty_arrays_and_absent_keys),
        cmocka_unit_test(test_json_leaves_label_rules_to_label_validate),
        cmocka_unit_test(test_json_bad_object_in_stream_can_be_skipped),
        cmocka_unit_test(test_json_renders_bad_utf8_from_the_wire_without_failing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
