/* A small strict JSON parser (RFC 8259): the tests parse what the
 * formatters write and check every field, so anything a strict consumer
 * would refuse (bad escapes, raw control characters, invalid UTF-8,
 * duplicate keys, trailing bytes) must be refused here too. `loopguard
 * report` reads logs with it (tools/report-read.c), one line at a time. */
#ifndef LG_TEST_JSON_H
#define LG_TEST_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
};

struct json {
    enum json_type type;
    char *key;           /* member name inside an object, else NULL */
    int boolean;         /* JSON_BOOL */
    double num;          /* JSON_NUMBER */
    char *raw;           /* JSON_NUMBER: its text, for exact integers */
    char *str;           /* JSON_STRING: decoded, NUL-terminated */
    size_t len;          /* JSON_STRING: bytes (may hold \0) */
    struct json **items; /* JSON_ARRAY / JSON_OBJECT, in order */
    size_t n;            /* entries of items[] */
};

/* Parses exactly one value (surrounding whitespace allowed) from text[0..len).
 * Returns NULL on any error and, when err is not NULL, a message with the
 * byte offset. Free the tree with json_free(). */
struct json *json_parse(const char *text, size_t len, char *err, size_t errcap);
/* The same; on error *errpos is the byte offset of the error (len when the
 * text ended before the value did). */
struct json *json_parse_at(const char *text, size_t len, char *err,
                           size_t errcap, size_t *errpos);
void json_free(struct json *j);

/* Lookups return NULL for a missing member, an index out of range, or a node
 * of the wrong type, so a chain of them needs one check at the end. */
const struct json *json_get(const struct json *obj, const char *key);
const struct json *json_at(const struct json *arr, size_t i);
size_t json_count(const struct json *j); /* items; 0 if not a container */
int json_is(const struct json *j, enum json_type t);
const char *json_str(const struct json *j); /* NULL if not a string */

/* Exact integers: 1 when j is a number written as an integer that fits. */
int json_u64(const struct json *j, uint64_t *out);
int json_i64(const struct json *j, int64_t *out);
/* 1 when j is a string "0x" followed by 1-16 lowercase hex digits. */
int json_hex(const struct json *j, uint64_t *out);

#endif /* LG_TEST_JSON_H */
