/* room.c — the floor disclosures leave, the pause after a refused commit
 * and its backoff, and the two lines that say so.
 *
 * Why a floor: every delivery writes its disclosure record, so replays of
 * a full store (or many subscribers) can use its reserve up. Used to the
 * last page, the store can no longer free room in place: LMDB copies each
 * page a transaction changes, so even erasing one message needs free
 * pages, and retention could not erase anything (measured on a 1 MiB map:
 * a batch of one erasure was refused like one of 2000). Disclosures stop
 * at the floor instead; what is left lets retention erase (a few at a
 * time, room_erase_budget) and cursors and consultation records be
 * written.
 * Why a backoff: a commit refused whole is planned again by the next
 * pass, and refused again, as fast as the loop turns (the CPU busy and
 * nothing delivered). Paused, the loop plans nothing that writes until a
 * try is due, and a try is a batch of its own, so its refusal takes
 * nothing else with it.
 * Why a tick first: the room LMDB reports counts the pages the newest
 * commit freed, which it reuses only after one more commit. Near the
 * floor a retention pass can be refused for want of them, and a refused
 * try commits nothing, so they would stay locked for ever; the tick, one
 * small record, is that one more commit.
 * Not responsible for: refusing publishes (ingest.c) or ending batches
 * (commit.c). */
#include "room.h"

#include <limits.h>

#include "log.h"
#include "util.h"

/* What a retention pass may take: for each erasure its record (a few
 * hundred bytes) and its share of the pages its deletes copy, and for the
 * pass the paths it copies in each database it changes (on a 1 MiB map at
 * the floor: 32 erasures a pass). */
#define ERASE_COST  2048
#define ERASE_FIXED (64u << 10)
/* At most one store_exhausted line a minute, should room come and go. */
#define LOG_SPACING_MS 60000

uint64_t room_left(const broker_t *b)
{
    uint64_t pending = store_wset_estimate(b->open->w) + audit_gather_bytes(b->audit);
    if (b->inflight)
        pending += store_wset_estimate(b->inflight->w);
    uint64_t room = store_room(b->store);
    return room > pending ? room - pending : 0;
}

uint64_t room_floor(const broker_t *b)
{
    uint64_t f = store_map_bytes(b->store) / 32;
    if (f < 128u << 10)
        f = 128u << 10;
    if (f > 128u << 20)
        f = 128u << 20;
    return f;
}

/* Something now waits for room: the start of a pause, said once. */
static void begin(broker_t *b, const char *why, const char *waits)
{
    struct broker_pause *p = &b->pause;
    if (p->on || p->held)
        return; /* already said */
    int64_t now = util_mono_ms();
    p->since_ms = now;
    p->logged = p->logged_ms == 0 || now - p->logged_ms >= LOG_SPACING_MS;
    if (!p->logged)
        return;
    p->logged_ms = now;
    log_warn("event=store_exhausted why=%s room=%llu floor=%llu map=%llu waits=%s "
             "action=\"raise map_size_mb and restart, or tighten retention in broker.cfg and "
             "reload (SIGHUP) so old messages are erased; meanwhile publishes are refused, "
             "status, acks and heartbeats answered, and what waits goes on by itself once "
             "there is room\"",
             why, (unsigned long long)store_room(b->store), (unsigned long long)room_floor(b),
             (unsigned long long)store_map_bytes(b->store), log_q(waits));
}

/* Nothing waits any more. */
static void end(broker_t *b)
{
    struct broker_pause *p = &b->pause;
    if (p->logged)
        log_info("event=store_resumed paused_s=%.1f tries=%u room=%llu "
                 "action=\"deliveries, retention and cursor writes go on\"",
                 (double)(util_mono_ms() - p->since_ms) / 1000.0, p->tries,
                 (unsigned long long)store_room(b->store));
    p->logged = 0;
    p->tries = 0;
}

int room_to_disclose(broker_t *b)
{
    if (room_left(b) > room_floor(b))
        return 1;
    if (!b->pause.held) {
        begin(b, "reserve_used",
              "deliveries, notices, redeliveries and replays; the rest of the reserve is kept "
              "for erasures, cursors and consultation records");
        b->pause.held = 1;
    }
    return 0;
}

void room_unhold(broker_t *b)
{
    if (!b->pause.held || room_left(b) <= room_floor(b))
        return;
    b->pause.held = 0;
    if (!b->pause.on)
        end(b);
}

int room_erase_budget(const broker_t *b)
{
    uint64_t left = room_left(b);
    uint64_t n = left > ERASE_FIXED ? (left - ERASE_FIXED) / ERASE_COST : 0;
    /* The room counted includes the pages the last commit freed, which
     * LMDB reuses only after one more commit: each refused try erases
     * half as many, until one is small enough to commit and free them. */
    if (b->pause.on)
        n >>= b->pause.tries < 63 ? b->pause.tries + 1 : 63;
    if (n < 1)
        return 1; /* a try: if even that is refused, the backoff spaces the tries */
    return n > INT_MAX ? INT_MAX : (int)n;
}

enum room_plan room_plan(broker_t *b, int64_t now_ms)
{
    struct broker_pause *p = &b->pause;
    if (!p->on)
        return ROOM_PLAN_ALL;
    /* A try is a batch of its own: what the handlers put in the open batch
     * goes first, and nothing is built on a try while it commits
     * (room_trying), so a refused try takes nothing else with it. */
    if (now_ms < p->retry_ms || b->inflight || !batch_empty(b->open))
        return ROOM_PLAN_WAIT;
    b->open->try_kind = p->ticked ? ROOM_PLAN_TRY : ROOM_PLAN_TICK;
    return (enum room_plan)b->open->try_kind;
}

int room_trying(const broker_t *b)
{
    return b->inflight && b->inflight->try_kind;
}

int64_t room_retry_ms(const broker_t *b)
{
    return b->pause.on && b->inflight == NULL ? b->pause.retry_ms : INT64_MAX;
}

void room_try_empty(broker_t *b)
{
    int kind = b->open->try_kind;
    b->open->try_kind = 0;
    /* A try after a tick that planned nothing: the store writes (the tick
     * committed) and nothing else waits for it, or waits at the floor
     * (held) without a try. Were the pause kept, each try would add a tick
     * record for nothing. */
    if (kind == ROOM_PLAN_TRY)
        room_committed(b, ROOM_PLAN_TRY);
    else
        b->pause.retry_ms = util_mono_ms() + b->pause.delay_ms;
}

void room_refused(broker_t *b, int try_kind)
{
    struct broker_pause *p = &b->pause;
    if (p->on && !try_kind)
        return; /* something small did not fit either: the tries go on as planned */
    if (!p->on) {
        begin(b, "map_full",
              "every write: deliveries, retention, cursors, audit checkpoints; tried again "
              "after 50 ms, the wait doubling to 5 s");
        p->on = 1;
        p->delay_ms = ROOM_RETRY_FIRST_MS;
    } else {
        p->tries++;
        p->delay_ms = p->delay_ms * 2 < ROOM_RETRY_MAX_MS ? p->delay_ms * 2 : ROOM_RETRY_MAX_MS;
    }
    p->ticked = 0; /* the next try starts with a tick */
    p->retry_ms = util_mono_ms() + p->delay_ms;
}

void room_committed(broker_t *b, int try_kind)
{
    struct broker_pause *p = &b->pause;
    if (!try_kind || !p->on)
        return;
    if (try_kind == ROOM_PLAN_TICK) {
        p->ticked = 1; /* the store writes again: the work is tried at once */
        p->retry_ms = util_mono_ms();
        return;
    }
    p->on = 0;
    p->ticked = 0;
    p->delay_ms = 0;
    if (!p->held)
        end(b);
}

int room_paused(const broker_t *b)
{
    return b->pause.on || b->pause.held;
}
