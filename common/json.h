/* json.h — the one JSON mapping of a message (DESIGN.md "A message as
 * JSON"), shared by liaison-agent and liaisonctl: label fields flat at the
 * top level, for agency systems that know nothing of protobuf.
 * The only module that includes jansson.h (with the status/audit JSON
 * helpers that later modules add here).
 * Not responsible for: deciding whether a label is acceptable beyond its
 * shape (label_validate and the broker do that). */
#ifndef LIAISON_JSON_H
#define LIAISON_JSON_H

#include <stddef.h>

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

/* Renders a message as one line of JSON (no trailing newline), including
 * "seq", "origin" and "received_at" when the broker has stamped them. With
 * notice set, adds "notice": true and omits body, subjects, caveats and
 * grading. Caller owns the string (free()). */
char *json_from_intel(const Liaison__Intel *m, int notice);

/* One delivery as a line of JSON: json_from_intel of its message, and for a
 * sanitised notice also "subject_count" and "contact". Caller frees. */
char *json_from_delivery(const Liaison__Deliver *d);

/* One audit record as a line of JSON (hashes in hex). Caller frees. */
char *json_from_audit_record(const Liaison__AuditRecord *r);

#endif
