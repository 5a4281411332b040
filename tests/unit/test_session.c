/* test_session.c — the broker's table of connected peers and their
 * subscriptions (broker/session.c): many sessions sharing hash buckets,
 * iteration after removals, subscriptions by id, and each subscription's
 * credit window and unacked set (acks in any order, unknown acks refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "session.h"
#include "wire.h"

/* A ZeroMQ ROUTER routing id: a zero byte and a 32-bit number. */
static size_t rid_of(uint32_t n, uint8_t rid[5])
{
    rid[0] = 0;
    rid[1] = (uint8_t)(n >> 24);
    rid[2] = (uint8_t)(n >> 16);
    rid[3] = (uint8_t)(n >> 8);
    rid[4] = (uint8_t)n;
    return 5;
}

static void test_session_add_find_remove_one_peer(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    size_t len = rid_of(1, rid);

    session_t *s = sessions_add(t, rid, len, "humberside-police");
    assert_non_null(s);
    assert_string_equal(s->agent, "humberside-police");
    assert_int_equal(s->rid_len, len);
    assert_memory_equal(s->rid, rid, len);
    assert_false(s->welcomed);
    assert_false(s->dead);
    assert_int_equal(s->n_subs, 0);
    assert_int_equal(sessions_count(t), 1);
    assert_ptr_equal(sessions_find(t, rid, len), s);
    assert_ptr_equal(sessions_at(t, 0), s);

    sub_t *sub = session_sub_add(s, 7, "alert.yorkshire.>", NULL, 16, 1);
    assert_non_null(sub);
    assert_int_equal(sub_credit(sub), 16);

    sessions_remove(t, s);
    assert_int_equal(sessions_count(t), 0);
    assert_null(sessions_find(t, rid, len));
    assert_null(sessions_at(t, 0));
    sessions_free(&t);
    assert_null(t);
    sessions_free(&t); /* harmless twice */
}

static void test_session_find_tells_routing_ids_apart(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    const uint8_t a[] = {0, 1, 2, 3, 4}, a_short[] = {0, 1, 2, 3}, a_long[] = {0, 1, 2, 3, 4, 5};
    const uint8_t b[] = {0, 1, 2, 3, 5};
    session_t *sa = sessions_add(t, a, sizeof a, "a");
    assert_null(sessions_find(t, a_short, sizeof a_short));
    assert_null(sessions_find(t, a_long, sizeof a_long));
    assert_null(sessions_find(t, b, sizeof b));
    session_t *sl = sessions_add(t, a_long, sizeof a_long, "long");
    assert_ptr_equal(sessions_find(t, a, sizeof a), sa);
    assert_ptr_equal(sessions_find(t, a_long, sizeof a_long), sl);

    /* The longest routing id ZeroMQ gives. */
    uint8_t big[SESSION_RID_MAX];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31);
    session_t *sb = sessions_add(t, big, sizeof big, "big");
    assert_ptr_equal(sessions_find(t, big, sizeof big), sb);
    assert_int_equal(sessions_count(t), 3);
    sessions_free(&t);
}

static void test_session_table_holds_many_peers_sharing_buckets(void **state)
{
    (void)state;
    /* Far more peers than hash buckets, so chains are several long and
     * removals hit their heads, middles and tails. */
    enum { N = 5000 };
    sessions_t *t = sessions_new();
    session_t **byn = calloc(N, sizeof *byn);
    uint8_t rid[5];
    for (uint32_t i = 0; i < N; i++) {
        char agent[32];
        snprintf(agent, sizeof agent, "agent-%u", i);
        byn[i] = sessions_add(t, rid, rid_of(i * 2654435761u, rid), agent);
        byn[i]->published = i;
    }
    assert_int_equal(sessions_count(t), N);
    for (uint32_t i = 0; i < N; i++)
        assert_ptr_equal(sessions_find(t, rid, rid_of(i * 2654435761u, rid)), byn[i]);
    assert_null(sessions_find(t, rid, rid_of(1, rid)));

    /* Remove every third, in an order unlike insertion. */
    size_t removed = 0;
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = (k * 7919u) % N;
        if (i % 3 == 0) {
            sessions_remove(t, byn[i]);
            byn[i] = NULL;
            removed++;
        }
    }
    assert_int_equal(sessions_count(t), N - removed);
    for (uint32_t i = 0; i < N; i++) {
        session_t *s = sessions_find(t, rid, rid_of(i * 2654435761u, rid));
        if (i % 3 == 0) {
            assert_null(s);
        } else {
            assert_ptr_equal(s, byn[i]);
            char agent[32];
            snprintf(agent, sizeof agent, "agent-%u", i);
            assert_string_equal(s->agent, agent);
        }
    }

    /* Iteration visits each remaining session exactly once. */
    unsigned char *seen = calloc(N, 1);
    for (size_t i = 0; i < sessions_count(t); i++) {
        session_t *s = sessions_at(t, i);
        assert_non_null(s);
        assert_true(s->published < N);
        assert_int_not_equal(s->published % 3, 0);
        assert_int_equal(seen[s->published], 0);
        seen[s->published] = 1;
    }
    assert_null(sessions_at(t, sessions_count(t)));
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 3 != 0);

    /* A removed peer's routing id may come back as a new session. */
    session_t *again = sessions_add(t, rid, rid_of(0, rid), "agent-0-again");
    assert_ptr_equal(sessions_find(t, rid, rid_of(0, rid)), again);

    free(seen);
    free(byn);
    sessions_free(&t); /* frees the rest, with ASan watching */
}

static void test_session_iteration_while_removing_from_the_front(void **state)
{
    (void)state;
    /* The loop reaps dead sessions by walking sessions_at and removing. */
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    for (uint32_t i = 0; i < 100; i++) {
        session_t *s = sessions_add(t, rid, rid_of(i, rid), "x");
        s->dead = i % 2;
        s->published = i;
    }
    for (size_t i = 0; i < sessions_count(t);) {
        session_t *s = sessions_at(t, i);
        if (s->dead)
            sessions_remove(t, s);
        else
            i++;
    }
    assert_int_equal(sessions_count(t), 50);
    for (size_t i = 0; i < sessions_count(t); i++)
        assert_int_equal(sessions_at(t, i)->published % 2, 0);
    for (uint32_t i = 0; i < 100; i++) {
        session_t *s = sessions_find(t, rid, rid_of(i, rid));
        if (i % 2)
            assert_null(s);
        else
            assert_non_null(s);
    }
    sessions_free(&t);
}

static void test_session_subscriptions_by_id(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(9, rid), "yh-rocu");

    char pattern[32] = "alert.yorkshire.>";
    sub_t *sub = session_sub_add(s, 1, pattern, "yh-rocu/inbox", 8, 100);
    assert_non_null(sub);
    assert_int_equal(sub->id, 1);
    assert_int_equal(sub->window, 8);
    assert_int_equal(sub->next_seq, 100);
    assert_int_equal(sub->n_inflight, 0);
    assert_string_equal(sub->durable, "yh-rocu/inbox");
    /* The pattern is copied. */
    strcpy(pattern, "national.>");
    assert_string_equal(session_sub_find(s, 1)->pattern, "alert.yorkshire.>");

    assert_non_null(session_sub_add(s, 2, "national.>", NULL, 4, 1));
    assert_null(session_sub_find(s, 2)->durable);
    assert_non_null(session_sub_add(s, 0, "a.*", NULL, 4, 1));
    assert_non_null(session_sub_add(s, UINT32_MAX, "b.>", NULL, 4, 1));
    assert_int_equal(s->n_subs, 4);

    /* An id in use is refused and the original is untouched. */
    assert_null(session_sub_add(s, 2, "other.>", NULL, 4, 1));
    assert_int_equal(s->n_subs, 4);
    assert_string_equal(session_sub_find(s, 2)->pattern, "national.>");

    assert_null(session_sub_find(s, 3));
    session_sub_remove(s, 3); /* unknown: nothing happens */
    assert_int_equal(s->n_subs, 4);

    session_sub_remove(s, 1);
    assert_int_equal(s->n_subs, 3);
    assert_null(session_sub_find(s, 1));
    assert_string_equal(session_sub_find(s, 2)->pattern, "national.>");
    assert_string_equal(session_sub_find(s, 0)->pattern, "a.*");
    assert_string_equal(session_sub_find(s, UINT32_MAX)->pattern, "b.>");

    /* The id is free again. */
    sub = session_sub_add(s, 1, "alert.>", NULL, 2, 5);
    assert_non_null(sub);
    assert_string_equal(sub->pattern, "alert.>");

    session_sub_remove(s, UINT32_MAX);
    session_sub_remove(s, 0);
    session_sub_remove(s, 2);
    session_sub_remove(s, 1);
    assert_int_equal(s->n_subs, 0);
    assert_non_null(session_sub_add(s, 1, "alert.>", NULL, 2, 5));

    /* Removing the session frees its subscriptions (ASan checks). */
    sessions_remove(t, s);
    sessions_free(&t);
}

static void test_session_credit_counts_unacked_deliveries(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    sub_t *sub = session_sub_add(s, 1, "a.>", NULL, 3, 10);

    assert_int_equal(sub_credit(sub), 3);
    sub_sent(sub, 10, 1000);
    assert_int_equal(sub_credit(sub), 2);
    sub_sent(sub, 11, 1001);
    sub_sent(sub, 12, 1002);
    assert_int_equal(sub_credit(sub), 0);
    assert_int_equal(sub->n_inflight, 3);
    assert_int_equal(sub->delivered, 3);

    struct inflight *f = sub_inflight(sub, 11);
    assert_non_null(f);
    assert_int_equal(f->seq, 11);
    assert_int_equal(f->due_ms, 1001);
    assert_int_equal(f->attempts, 1);
    assert_null(sub_inflight(sub, 13));

    assert_int_equal(sub_ack(sub, 10), 0);
    assert_int_equal(sub_credit(sub), 1);
    assert_int_equal(sub->acked, 1);
    sessions_free(&t);
}

static void test_session_ack_out_of_order_keeps_send_order(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    sub_t *sub = session_sub_add(s, 1, "a.>", NULL, 5, 1);
    for (uint64_t seq = 1; seq <= 5; seq++)
        sub_sent(sub, seq * 10, (int64_t)seq);

    assert_int_equal(sub_ack(sub, 30), 0); /* the middle */
    assert_int_equal(sub_ack(sub, 50), 0); /* the end */
    assert_int_equal(sub->n_inflight, 3);
    assert_int_equal(sub->inflight[0].seq, 10);
    assert_int_equal(sub->inflight[1].seq, 20);
    assert_int_equal(sub->inflight[2].seq, 40);
    assert_int_equal(sub->inflight[2].due_ms, 4);
    assert_int_equal(sub_credit(sub), 2);

    /* Twice, never sent, and zero are all unknown. */
    assert_int_equal(sub_ack(sub, 30), -1);
    assert_int_equal(sub_ack(sub, 35), -1);
    assert_int_equal(sub_ack(sub, 0), -1);
    assert_int_equal(sub_ack(sub, UINT64_MAX), -1);
    assert_int_equal(sub->n_inflight, 3);
    assert_int_equal(sub->acked, 2);

    assert_int_equal(sub_ack(sub, 10), 0); /* the front */
    assert_int_equal(sub_ack(sub, 40), 0);
    assert_int_equal(sub_ack(sub, 20), 0);
    assert_int_equal(sub->n_inflight, 0);
    assert_int_equal(sub_credit(sub), 5);
    assert_int_equal(sub->acked, 5);
    assert_int_equal(sub->delivered, 5);
    assert_int_equal(sub_ack(sub, 20), -1);
    sessions_free(&t);
}

static void test_session_floor_is_below_the_oldest_unacked(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    sub_t *sub = session_sub_add(s, 1, "a.>", "x/d", 4, 10);
    assert_int_equal(sub_floor(sub, 1000), 9); /* nothing considered yet */

    sub_sent(sub, 10, 0);
    sub_sent(sub, 12, 0); /* 11 was not for this subscription */
    sub_sent(sub, 13, 0);
    sub->next_seq = 14;
    assert_int_equal(sub_floor(sub, 1000), 9);
    assert_int_equal(sub_ack(sub, 12), 0);
    assert_int_equal(sub_floor(sub, 1000), 9); /* 10 still unacked */
    assert_int_equal(sub_ack(sub, 10), 0);
    assert_int_equal(sub_floor(sub, 1000), 12);
    assert_int_equal(sub_ack(sub, 13), 0);
    assert_int_equal(sub_floor(sub, 1000), 13);
    sessions_free(&t);
}

static void test_session_window_resize_keeps_what_is_in_flight(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    sub_t *sub = session_sub_add(s, 1, "a.>", NULL, 2, 1);
    sub_sent(sub, 1, 0);
    sub_sent(sub, 2, 0);
    assert_int_equal(sub_credit(sub), 0);

    sub_set_window(sub, 100);
    assert_int_equal(sub->window, 100);
    assert_int_equal(sub_credit(sub), 98);
    for (uint64_t seq = 3; seq <= 100; seq++)
        sub_sent(sub, seq, 0);
    assert_int_equal(sub_credit(sub), 0);
    assert_int_equal(sub->inflight[99].seq, 100);

    /* Shrinking below what is in flight never forgets a delivery. */
    sub_set_window(sub, 10);
    assert_int_equal(sub->n_inflight, 100);
    assert_int_equal(sub_credit(sub), 0);
    assert_int_equal(sub->inflight[99].seq, 100);
    for (uint64_t seq = 1; seq <= 95; seq++)
        assert_int_equal(sub_ack(sub, seq), 0);
    assert_int_equal(sub->n_inflight, 5);
    sub_set_window(sub, 10);
    assert_int_equal(sub_credit(sub), 5);
    /* Below what is in flight: closed until acks bring it under, and
     * nothing in flight forgotten. */
    sub_set_window(sub, 2);
    assert_int_equal(sub->window, 2);
    assert_int_equal(sub_credit(sub), 0);
    assert_int_equal(sub->n_inflight, 5);
    assert_int_equal(sub_ack(sub, 96), 0);
    assert_int_equal(sub_ack(sub, 97), 0);
    assert_int_equal(sub_credit(sub), 0); /* 3 in flight, window 2 */
    assert_int_equal(sub_ack(sub, 98), 0);
    assert_int_equal(sub_credit(sub), 0);
    assert_int_equal(sub_ack(sub, 99), 0);
    assert_int_equal(sub_credit(sub), 1);
    sub_set_window(sub, 0);
    assert_int_equal(sub->window, 1);
    assert_int_equal(sub_credit(sub), 0);
    sessions_free(&t);
}

static void test_session_held_message_takes_no_credit_and_keeps_the_floor(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    sub_t *sub = session_sub_add(s, 1, "a.>", "x/d", 3, 5);

    /* A window of one with a message held still takes (and records) one
     * delivery. */
    sub_t *one = session_sub_add(s, 2, "b.>", NULL, 1, 5);
    sub_hold(one, 5, 9000);
    assert_int_equal(sub_credit(one), 1);
    sub_sent(one, 6, 100);
    assert_non_null(sub_inflight(one, 6));
    assert_int_equal(sub_credit(one), 0);
    assert_int_equal(sub_ack(one, 6), 0);

    /* An embargoed message waits, unsent and outside the window: messages
     * after it still flow. */
    sub_hold(sub, 5, 9000);
    sub_sent(sub, 6, 100);
    sub->next_seq = 7;
    assert_int_equal(sub_credit(sub), 2);
    assert_int_equal(sub->n_held, 1);
    assert_int_equal(sub->delivered, 1);
    struct inflight *f = sub_inflight(sub, 5);
    assert_non_null(f);
    assert_int_equal(f->attempts, 0);
    assert_int_equal(f->due_ms, 9000);
    assert_int_equal(sub_inflight(sub, 6)->attempts, 1);
    /* A durable resume must not skip it. */
    assert_int_equal(sub_floor(sub, 1000), 4);

    /* A delivery planned in a batch that did not commit is forgotten,
     * which is not an ack. */
    assert_int_equal(sub_forget(sub, 6), 0);
    assert_int_equal(sub_forget(sub, 6), -1);
    assert_int_equal(sub_forget(sub, 99), -1);
    assert_int_equal(sub->acked, 0);
    assert_int_equal(sub->n_inflight, 1);
    assert_int_equal(sub_credit(sub), 3);
    assert_int_equal(sub_inflight(sub, 5)->seq, 5);
    /* Sent at last, it takes credit; undone, it is held again. */
    sub_attempted(sub, sub_inflight(sub, 5));
    assert_int_equal(sub->n_held, 0);
    assert_int_equal(sub_credit(sub), 2);
    sub_unattempted(sub, sub_inflight(sub, 5));
    assert_int_equal(sub->n_held, 1);
    assert_int_equal(sub_forget(sub, 5), 0);
    assert_int_equal(sub->n_held, 0);
    assert_int_equal(sub_credit(sub), 3);
    assert_int_equal(sub_floor(sub, 1000), 6);
    sessions_free(&t);
}

static void test_session_a_refused_batch_puts_back_what_it_took_from_the_window(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    sub_t *sub = session_sub_add(s, 1, "a.>", "x/d", 4, 1);
    sub_sent(sub, 3, 100);
    sub_sent(sub, 8, 100);
    /* A dead letter (sent 5 times, nacked) taken out, then the batch
     * failed: it is back in order, as it was, due at once. */
    assert_int_equal(sub_restore(sub, 5, 5, 1), 0);
    assert_int_equal(sub_restore(sub, 5, 5, 1), -1);
    assert_int_equal(sub->n_inflight, 3);
    assert_int_equal(sub->inflight[1].seq, 5);
    assert_int_equal(sub->inflight[1].attempts, 5);
    assert_int_equal(sub->inflight[1].rejected, 1);
    assert_int_equal(sub->inflight[1].due_ms, 0);
    assert_int_equal(sub->n_held, 0);
    assert_int_equal(sub_credit(sub), 1);
    /* One never sent (held) is held again. */
    assert_int_equal(sub_restore(sub, 2, 0, 0), 0);
    assert_int_equal(sub->n_held, 1);
    assert_int_equal(sub_credit(sub), 1);
    /* What a failed walk planned from 5 on goes; what was there before
     * stays. */
    sub_hold(sub, 9, 9000);
    sub_forget_from(sub, 5);
    assert_int_equal(sub->n_inflight, 2);
    assert_int_equal(sub->inflight[0].seq, 2);
    assert_int_equal(sub->inflight[1].seq, 3);
    assert_int_equal(sub->n_held, 1);
    assert_int_equal(sub_credit(sub), 3);
    sub_forget_from(sub, 1);
    assert_int_equal(sub->n_inflight, 0);
    assert_int_equal(sub->n_held, 0);
    sessions_free(&t);
}

static void test_session_send_to_dead_peer_is_refused(void **state)
{
    (void)state;
    sessions_t *t = sessions_new();
    uint8_t rid[5];
    session_t *s = sessions_add(t, rid, rid_of(1, rid), "x");
    s->dead = 1;
    /* A dead session never reaches the socket. */
    assert_int_equal(session_send(NULL, s, "frame", 5), -2);
    sessions_free(&t);
}

/* The frame a dealer receives next (waiting), its size in *n. */
static void recv_frame(void *d, uint8_t *buf, size_t cap, size_t *n)
{
    int got = zmq_recv(d, buf, cap, 0);
    assert_true(got > 0);
    *n = (size_t)got;
}

/* A client that said in its first Hello that it reads Batch frames and in
 * a later one that it does not (found by fuzz_broker): what was gathered
 * for it before goes frame by frame, in order, never as a Batch. */
static void test_session_frames_gathered_before_batches_are_refused_go_alone(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int one = 1;
    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    assert_int_equal(zmq_bind(router, "inproc://gather"), 0);
    uint8_t rid[5];
    size_t rl = rid_of(7, rid);
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, rid, rl);
    assert_int_equal(zmq_connect(dealer, "inproc://gather"), 0);
    assert_true(zmq_send(dealer, "hi", 2, 0) == 2); /* the router learns the peer */
    uint8_t buf[256];
    assert_true(zmq_recv(router, buf, sizeof buf, 0) > 0);
    assert_true(zmq_recv(router, buf, sizeof buf, 0) > 0);

    sessions_t *t = sessions_new();
    session_t *s = sessions_add(t, rid, rl, "ops");
    s->batches = 1;
    session_gather(router, t, s, "first", 5);
    session_gather(router, t, s, "second", 6);
    session_set_batches(router, s, 0);
    session_gather(router, t, s, "third", 5); /* after the Hello: alone too */
    sessions_flush(t, router);
    const char *want[] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        size_t n;
        recv_frame(dealer, buf, sizeof buf, &n);
        assert_int_equal(n, strlen(want[i]));
        assert_memory_equal(buf, want[i], n);
    }
    assert_true(zmq_recv(dealer, buf, sizeof buf, ZMQ_DONTWAIT) < 0);
    /* And back on: gathered again. */
    session_set_batches(router, s, 1);
    session_gather(router, t, s, "fourth", 6);
    session_gather(router, t, s, "fifth", 5);
    sessions_flush(t, router);
    size_t n;
    recv_frame(dealer, buf, sizeof buf, &n);
    struct wire_span spans[4];
    assert_int_equal(wire_batch_split(buf, n, spans, 4), 2);
    sessions_free(&t);
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_add_find_remove_one_peer),
        cmocka_unit_test(test_session_find_tells_routing_ids_apart),
        cmocka_unit_test(test_session_table_holds_many_peers_sharing_buckets),
        cmocka_unit_test(test_session_iteration_while_removing_from_the_front),
        cmocka_unit_test(test_session_subscriptions_by_id),
        cmocka_unit_test(test_session_credit_counts_unacked_deliveries),
        cmocka_unit_test(test_session_ack_out_of_order_keeps_send_order),
        cmocka_unit_test(test_session_floor_is_below_the_oldest_unacked),
        cmocka_unit_test(test_session_window_resize_keeps_what_is_in_flight),
        cmocka_unit_test(test_session_held_message_takes_no_credit_and_keeps_the_floor),
        cmocka_unit_test(test_session_a_refused_batch_puts_back_what_it_took_from_the_window),
        cmocka_unit_test(test_session_send_to_dead_peer_is_refused),
        cmocka_unit_test(test_session_frames_gathered_before_batches_are_refused_go_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
