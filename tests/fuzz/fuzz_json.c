/* fuzz_json.c — libFuzzer harness for the JSON mapping of a message
 * (common/json.c), what agency systems drop into an agent's spool and
 * liaisonctl pub reads: the input is walked as a stream of objects (JSON
 * lines or concatenated), as the agent walks a spool file, with
 * json_to_intel from where the last object ended.
 * Invariants beyond "no crash, no leak":
 * - a refusal names its reason on one line; NULL without a reason happens
 *   only at the end of the input (nothing but whitespace left), and every
 *   call consumes at least one byte and never more than it was given;
 * - an accepted object maps to an Intel that packs and decodes back to the
 *   same bytes (what the broker stores), and label_validate either accepts
 *   it or names why;
 * - json_from_intel of it parses back through json_to_intel to an Intel
 *   that packs to the same bytes: the mapping loses nothing a publisher
 *   can set (json_to_intel never stamps seq, origin or received_at, so
 *   the rendering holds no key the parser refuses);
 * - its sanitised rendering (notice) parses as JSON and holds none of
 *   body, body_base64, subjects, caveats, grading, conditions,
 *   sanitisation, risk_basis.
 * Not responsible for: the broker's acceptance of a label (fuzz_envelope.c
 * checks label_validate's verdicts on the wire form).
 *
 *   make fuzz          at length, corpus in build/fuzz/corpus/json
 *   make fuzz-smoke    FUZZ_RUNS runs over tests/fuzz/seeds/json */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "label.h"
#include "log.h"
#include "wire.h"

/* Objects read from one input: a spool file is walked the same way, and
 * more than this adds nothing a mutation of one object does not. */
#define MAX_OBJECTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

/* Like assert, but never compiled out, and names the broken invariant. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_json.c:%d: invariant failed: %s\n", __LINE__, #ok);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The stored form of m; caller frees. */
static uint8_t *packed(const Liaison__Intel *m, size_t *len)
{
    size_t n = wire_intel_size(m);
    uint8_t *out = malloc(n ? n : 1);
    check(out != NULL);
    check(wire_intel_pack(m, out) == n);
    /* The hand encoder writes protobuf-c's own bytes. */
    uint8_t *theirs = malloc(n ? n : 1);
    check(theirs != NULL);
    check(liaison__intel__get_packed_size(m) == n && liaison__intel__pack(m, theirs) == n);
    check(memcmp(theirs, out, n) == 0);
    free(theirs);
    *len = n;
    return out;
}

/* Keys a notice must never carry: they say something about the content. */
static const char *const secret_keys[] = {"body",    "body_base64", "subjects",     "caveats",
                                          "grading", "conditions",  "sanitisation", "risk_basis"};

static void accepted(const Liaison__Intel *m)
{
    char why[256];
    why[0] = '\0';
    if (label_validate(m, 255, why, sizeof why) != LIAISON__ERROR_CODE__ERROR_NONE)
        check(why[0] != '\0' && strchr(why, '\n') == NULL);

    /* Packs, and decodes to the same bytes. */
    size_t n;
    uint8_t *bytes = packed(m, &n);
    Liaison__Intel *back = wire_intel_decode(bytes, n);
    check(back != NULL);
    size_t n2;
    uint8_t *again = packed(back, &n2);
    check(n2 == n && memcmp(again, bytes, n) == 0);
    free(again);
    wire_intel_free(&back);

    /* Renders, and the rendering parses back to the same message. */
    char *text = json_from_intel(m, 0);
    check(text != NULL && strchr(text, '\n') == NULL);
    char err[256];
    size_t used = 0;
    Liaison__Intel *round = json_to_intel(text, strlen(text), &used, err, sizeof err);
    if (round == NULL)
        fprintf(stderr, "re-parse refused: %s\n", err);
    check(round != NULL);
    check(used == strlen(text));
    uint8_t *rb = packed(round, &n2);
    check(n2 == n && memcmp(rb, bytes, n) == 0);
    free(rb);
    wire_intel_free(&round);
    free(text);

    /* The notice form holds nothing of the content. */
    char *notice = json_from_intel(m, 1);
    check(notice != NULL);
    json_doc_t *doc = json_doc_parse(notice, err, sizeof err);
    check(doc != NULL);
    for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++)
        check(json_doc_get(doc, secret_keys[i]) == NULL);
    check(json_doc_bool(json_doc_get(doc, "notice")) == 1);
    json_doc_free(&doc);
    free(notice);
    free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t off = 0;
    for (int i = 0; i < MAX_OBJECTS && off < size; i++) {
        char err[256];
        size_t used = 0;
        memset(err, 'x', sizeof err); /* the parser must write its own reason */
        Liaison__Intel *m = json_to_intel(buf + off, size - off, &used, err, sizeof err);
        check(used <= size - off);
        check(memchr(err, '\0', sizeof err) != NULL);
        if (m == NULL) {
            if (err[0] == '\0')
                check(used == size - off); /* only whitespace was left */
            else
                check(strchr(err, '\n') == NULL);
        } else {
            accepted(m);
            wire_intel_free(&m);
        }
        check(used > 0);
        off += used;
    }
    return 0;
}
