/* arena.h — memory that is handed out in pieces and given back all at once:
 * for what lives exactly as long as one batch or one pass (the messages
 * decoded for it), so a steady stream costs no malloc and no free per
 * message, and a pass ends with one reset instead of a walk that frees
 * every string.
 * Not responsible for: what is put in it (proto/wire.c decodes into one,
 * broker/batch.c and broker/fanout.c own theirs). */
#ifndef LIAISON_ARENA_H
#define LIAISON_ARENA_H

#include <stddef.h>

typedef struct arena arena_t;

/* An empty arena; caller owns (arena_destroy). Never NULL. */
arena_t *arena_new(void);
/* Frees it and everything handed out from it; nulls *a. */
void arena_destroy(arena_t **a);
/* n bytes aligned for any type, uninitialised, valid until the next
 * arena_reset; out of memory aborts, as xmalloc does. n may be 0. */
void *arena_alloc(arena_t *a, size_t n);
/* A copy of s (NULL copies as ""), valid until the next arena_reset. */
char *arena_strdup(arena_t *a, const char *s);
/* Takes back everything handed out. Its first block is kept for the next
 * use, and any others while the last use needed them (it used more than
 * a quarter of what it holds); the rest goes back to the system. Under
 * AddressSanitizer what was handed out is poisoned, so a pointer kept
 * past the reset is caught. */
void arena_reset(arena_t *a);
/* Bytes handed out since the last reset, and bytes held from the system. */
size_t arena_used(const arena_t *a);
size_t arena_held(const arena_t *a);

#endif
