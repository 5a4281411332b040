/* json.h — the one JSON mapping of a message (docs/design.md "A message as
 * JSON"), shared by liaison-agent and liaisonctl: label fields flat at the
 * top level, for agency systems that know nothing of protobuf.
 * The only module that includes jansson.h (with the status/audit JSON
 * helpers that later modules add here).
 * Not responsible for: deciding whether a label is acceptable beyond its
 * shape (label_validate and the broker do that). */
#ifndef LIAISON_JSON_H
#define LIAISON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Parses the first JSON object in buf[0..len) into a message. Skips leading
 * whitespace; sets *consumed to the bytes used, so JSON lines or a stream of
 * objects can be read by calling again from buf + *consumed.
 * Returns the message (caller owns; wire_intel_free), or NULL with a one-line
 * reason in err: invalid JSON (with line and column), not an object, unknown
 * key, wrong type, unknown classification/handling/risk, bad grading, bad
 * review date, body not valid UTF-8 text... Broker-stamped keys ("seq",
 * "origin", "received_at", "notice") are rejected on input.
 * When buf holds only whitespace, returns NULL with *consumed = len and
 * err[0] == '\0' (end of input). */
Liaison__Intel *json_to_intel(const char *buf, size_t len, size_t *consumed, char *err,
                              size_t errlen);
/* The same; with forwarding set, a delivered message as liaisonctl sub
 * printed it is accepted: "seq", "origin" and "received_at" are ignored
 * (the broker stamps them again), and a notice is refused. */
Liaison__Intel *json_to_intel_forwarded(const char *buf, size_t len, int forwarding,
                                        size_t *consumed, char *err, size_t errlen);

/* Renders a message as one line of JSON (no trailing newline), including
 * "seq", "origin" and "received_at" when the broker has stamped them. With
 * notice set, adds "notice": true and omits body, subjects, caveats and
 * grading. Caller owns the string (free()). */
char *json_from_intel(const Liaison__Intel *m, int notice);

/* One delivery as a line of JSON: json_from_intel of its message, and for a
 * sanitised notice also "subject_count" and "contact". Caller frees. */
char *json_from_delivery(const Liaison__Deliver *d);

/* One audit record as a line of JSON (hashes and a query's tokens in
 * hex). Caller frees. */
char *json_from_audit_record(const Liaison__AuditRecord *r);

/* One answer of a subject query: a whole message as json_from_intel, or a
 * hit {"hit": true, "seq", "topic", "risk", "origin", "received_at",
 * "reference", "contact"} with nothing else. Caller frees. */
char *json_from_query_result(const Liaison__QueryResult *r);
/* A hit notice: {"hit_notice": {"seq", "topic", "asker_agency",
 * "asker_contact", "time", "hit"}}. Caller frees. */
char *json_from_hit_notice(const Liaison__HitNotice *n);

/* ---- documents: the operator views -----------------------------------------
 * A small tree API over one JSON value (object, array, string, number,
 * boolean, null), so the broker can build its status replies and liaisonctl
 * read them back for its tables without either including jansson.
 * Building: json_doc_object/array return a value the caller owns (free with
 * json_doc_free) until it is handed to json_doc_set or json_doc_push, which
 * take ownership. Keys keep their insertion order when dumped. */
typedef struct json_doc json_doc_t;

json_doc_t *json_doc_object(void);
json_doc_t *json_doc_array(void);
/* Sets obj[key], replacing any value there; takes ownership of v. */
void json_doc_set(json_doc_t *obj, const char *key, json_doc_t *v);
/* s NULL sets null; bytes that are not UTF-8 become U+FFFD. */
void json_doc_set_str(json_doc_t *obj, const char *key, const char *s);
void json_doc_set_int(json_doc_t *obj, const char *key, int64_t v);
void json_doc_set_real(json_doc_t *obj, const char *key, double v);
void json_doc_set_bool(json_doc_t *obj, const char *key, int v);
void json_doc_set_null(json_doc_t *obj, const char *key);
/* Appends v to arr; takes ownership of v. */
void json_doc_push(json_doc_t *arr, json_doc_t *v);
void json_doc_push_str(json_doc_t *arr, const char *s);
/* Compact one-line text. Caller frees. */
char *json_doc_dump(const json_doc_t *doc);
void json_doc_free(json_doc_t **doc);

/* Reading. parse returns the value (caller owns; json_doc_free) or NULL with
 * a one-line reason. The accessors return values borrowed from their
 * parent, valid until it is freed; they return NULL (or 0, or -1) when the
 * value is absent or of another type, so callers can chain them. */
json_doc_t *json_doc_parse(const char *text, char *err, size_t errlen);
const json_doc_t *json_doc_get(const json_doc_t *obj, const char *key);
size_t json_doc_len(const json_doc_t *arr);
const json_doc_t *json_doc_at(const json_doc_t *arr, size_t i);
const char *json_doc_str(const json_doc_t *v);
/* 0 and *out set when v is a number (integer or real), else -1. */
int json_doc_num(const json_doc_t *v, double *out);
/* 1 for true, 0 for false, -1 when not a boolean. */
int json_doc_bool(const json_doc_t *v);

#endif
