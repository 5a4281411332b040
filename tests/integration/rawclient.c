/* rawclient.c — a test tool that speaks to the broker below liaisonctl:
 * it sends deliberately bad frames (garbage, truncated, oversized, wrong
 * version, no kind, broker-only kinds, multipart, requests before Hello)
 * and prints what the broker answered, one line per reply, then proves the
 * broker still serves by completing a Hello. Mode ackflood subscribes
 * (PATTERN, the third argument) and sends an Ack and a Nack of 5000
 * sequences each. Mode handshakes N tries N handshakes, each with a fresh
 * random key pair the broker does not know, and prints "handshakes done".
 * Mode linkpub AGENCY ORIGIN_BROKER ORIGIN_SEQ [VIA] publishes, as a
 * broker's link would, one labelled message whose origin claims AGENCY
 * and whose route is ORIGIN_BROKER, ORIGIN_SEQ (and VIA on the way); "-"
 * for ORIGIN_BROKER sends it without a route. It prints the Welcome and
 * the answer to the publish.
 * usage: rawclient AGENT.cfg MODE [MAX_FRAME_BYTES | ARGS...]
 * Not part of any installed program. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "client_config.h"
#include "wire.h"

static void *sock;

static void send_env(Liaison__Envelope *env)
{
    size_t n = wire_envelope_size(env);
    uint8_t *buf = malloc(n ? n : 1);
    wire_envelope_pack(env, buf);
    zmq_send(sock, buf, n, 0);
    free(buf);
}

/* Prints the next reply as "reply KIND [CODE]", or "no reply". */
static int print_reply(int timeout_ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) {
        printf("no reply\n");
        return -1;
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, 0);
    Liaison__ErrorCode code;
    Liaison__Envelope *env =
        wire_envelope_decode(zmq_msg_data(&m), zmq_msg_size(&m), 1u << 30, &code, NULL);
    zmq_msg_close(&m);
    if (env == NULL) {
        printf("reply undecodable %s\n", wire_error_name(code));
        return -1;
    }
    if (env->kind_case == LIAISON__ENVELOPE__KIND_ERROR)
        printf("reply ERROR %s\n", wire_error_name(env->error->code));
    else if (env->kind_case == LIAISON__ENVELOPE__KIND_WELCOME)
        printf("reply WELCOME %s\n", env->welcome->agent);
    else if (env->kind_case == LIAISON__ENVELOPE__KIND_PUB_ACK)
        printf("reply PUB_ACK seq %llu%s\n", (unsigned long long)env->pub_ack->seq,
               env->pub_ack->duplicate ? " duplicate" : "");
    else
        printf("reply kind %d\n", (int)env->kind_case);
    wire_envelope_free(&env);
    fflush(stdout);
    return 0;
}

static void hello(void)
{
    Liaison__Envelope env;
    Liaison__Hello h = LIAISON__HELLO__INIT;
    wire_envelope_init(&env, 7);
    env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
    env.hello = &h;
    send_env(&env);
}

static void publish(void)
{
    Liaison__Envelope env;
    Liaison__Publish p = LIAISON__PUBLISH__INIT;
    Liaison__Intel *m = wire_intel_new();
    wire_envelope_init(&env, 8);
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &p;
    p.intel = m;
    send_env(&env);
    wire_intel_free(&m);
}

/* A publish as a downstream broker's link sends it: the label whole, the
 * origin and the route filled in by the sender, not left to the broker. */
static void link_publish(int argc, char **argv)
{
    Liaison__Envelope env;
    Liaison__Publish p = LIAISON__PUBLISH__INIT;
    Liaison__Intel m = LIAISON__INTEL__INIT;
    Liaison__Label l = LIAISON__LABEL__INIT;
    Liaison__Origin o = LIAISON__ORIGIN__INIT;
    Liaison__Route r = LIAISON__ROUTE__INIT;
    char *via = argc > 6 ? argv[6] : NULL;
    char body[160], msg_id[64];
    snprintf(body, sizeof body, "claimed by %s", argv[3]);
    /* A msg_id of its own each time: a link's repeats are told by the
     * route, not by the msg_id. */
    snprintf(msg_id, sizeof msg_id, "linkpub-%ld", (long)getpid());
    l.classification = LIAISON__CLASSIFICATION__OFFICIAL;
    l.source_grade = 2;
    l.intel_grade = (char *)(uintptr_t) "B";
    l.handling = LIAISON__HANDLING__HANDLING_P;
    l.risk = LIAISON__RISK__LOW;
    o.agent = (char *)(uintptr_t) "intel-unit";
    o.agency = argv[3];
    o.type = (char *)(uintptr_t) "prison";
    o.region = (char *)(uintptr_t) "humberside";
    r.origin_broker = argv[4];
    r.origin_seq = strtoull(argv[5], NULL, 10);
    r.n_via = via ? 1 : 0;
    r.via = &via;
    m.topic = (char *)(uintptr_t) "alert.yorkshire.hmp-hull.linkpub";
    m.msg_id = msg_id;
    m.label = &l;
    m.content_type = (char *)(uintptr_t) "text/plain";
    m.body.data = (uint8_t *)body;
    m.body.len = strlen(body);
    m.origin = &o;
    m.route = strcmp(argv[4], "-") == 0 ? NULL : &r;
    wire_envelope_init(&env, 17);
    p.intel = &m;
    env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
    env.publish = &p;
    send_env(&env);
}

int main(int argc, char **argv)
{
    char err[512];
    if (argc < 3) {
        fprintf(stderr, "usage: rawclient AGENT.cfg MODE [MAX_FRAME_BYTES | ARGS...]\n");
        return 2;
    }
    client_config_t *cfg = client_config_load(argv[1], err, sizeof err);
    if (cfg == NULL) {
        fprintf(stderr, "rawclient: %s\n", err);
        return 1;
    }
    const char *mode = argv[2];
    void *ctx = zmq_ctx_new();
    if (strcmp(mode, "handshakes") == 0) {
        long n = argc > 3 ? strtol(argv[3], NULL, 10) : 10;
        for (long i = 0; i < n; i++) {
            char pub[41], sec[41];
            uint8_t pk[32], sk[32];
            zmq_curve_keypair(pub, sec);
            zmq_z85_decode(pk, pub);
            zmq_z85_decode(sk, sec);
            void *s = zmq_socket(ctx, ZMQ_DEALER);
            int zero = 0;
            zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, cfg->broker_public_key, 32);
            zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pk, 32);
            zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sk, 32);
            zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
            zmq_connect(s, cfg->broker);
            zmq_send(s, "x", 1, ZMQ_DONTWAIT);
            zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
            zmq_poll(&it, 1, 150); /* the handshake is refused: nothing comes */
            zmq_close(s);
        }
        printf("handshakes done\n");
        zmq_ctx_term(ctx);
        client_config_free(&cfg);
        return 0;
    }
    sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, cfg->broker_public_key, 32);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, cfg->public_key, 32);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, cfg->secret_key, 32);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(sock, cfg->broker);

    if (strcmp(mode, "nohello") == 0) {
        publish();
    } else if (strcmp(mode, "garbage") == 0) {
        const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
        zmq_send(sock, junk, sizeof junk, 0);
    } else if (strcmp(mode, "truncated") == 0) {
        Liaison__Envelope env;
        Liaison__Hello h = LIAISON__HELLO__INIT;
        wire_envelope_init(&env, 9);
        h.client = (char *)(uintptr_t) "a client name long enough to cut in half";
        env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
        env.hello = &h;
        uint8_t buf[256];
        size_t n = wire_envelope_pack(&env, buf);
        zmq_send(sock, buf, n / 2, 0);
    } else if (strcmp(mode, "oversize") == 0) {
        size_t n = (argc > 3 ? strtoul(argv[3], NULL, 10) : 1048576) + 1;
        uint8_t *big = calloc(1, n);
        zmq_send(sock, big, n, 0);
        free(big);
    } else if (strcmp(mode, "version") == 0) {
        Liaison__Envelope env;
        Liaison__Hello h = LIAISON__HELLO__INIT;
        wire_envelope_init(&env, 10);
        env.version = 99;
        env.kind_case = LIAISON__ENVELOPE__KIND_HELLO;
        env.hello = &h;
        send_env(&env);
    } else if (strcmp(mode, "empty") == 0) {
        Liaison__Envelope env;
        wire_envelope_init(&env, 11);
        send_env(&env);
    } else if (strcmp(mode, "brokerkind") == 0) {
        hello();
        print_reply(5000);
        Liaison__Envelope env;
        Liaison__PubAck a = LIAISON__PUB_ACK__INIT;
        wire_envelope_init(&env, 12);
        env.kind_case = LIAISON__ENVELOPE__KIND_PUB_ACK;
        env.pub_ack = &a;
        send_env(&env);
    } else if (strcmp(mode, "nolabel") == 0) {
        hello();
        print_reply(5000);
        Liaison__Envelope env;
        Liaison__Publish p = LIAISON__PUBLISH__INIT;
        Liaison__Intel m = LIAISON__INTEL__INIT;
        wire_envelope_init(&env, 13);
        m.topic = (char *)(uintptr_t) "alert.x";
        p.intel = &m;
        env.kind_case = LIAISON__ENVELOPE__KIND_PUBLISH;
        env.publish = &p;
        send_env(&env);
    } else if (strcmp(mode, "idle") == 0) {
        /* Connected, welcomed, subscribed to nothing, for a second. */
        hello();
        print_reply(5000);
        printf("idle\n");
        fflush(stdout);
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 1000);
    } else if (strcmp(mode, "ackflood") == 0) {
        hello();
        print_reply(5000);
        Liaison__Envelope env;
        Liaison__Subscribe sub = LIAISON__SUBSCRIBE__INIT;
        wire_envelope_init(&env, 14);
        sub.sub_id = 1;
        sub.pattern = argc > 3 ? argv[3] : (char *)(uintptr_t) "alert.>";
        env.kind_case = LIAISON__ENVELOPE__KIND_SUBSCRIBE;
        env.subscribe = &sub;
        send_env(&env);
        print_reply(5000);
        static uint64_t seqs[5000];
        for (size_t i = 0; i < 5000; i++)
            seqs[i] = 1000000 + i;
        Liaison__Ack a = LIAISON__ACK__INIT;
        wire_envelope_init(&env, 15);
        a.sub_id = 1;
        a.n_seqs = 5000;
        a.seqs = seqs;
        env.kind_case = LIAISON__ENVELOPE__KIND_ACK;
        env.ack = &a;
        send_env(&env);
        print_reply(5000);
        Liaison__Nack nk = LIAISON__NACK__INIT;
        wire_envelope_init(&env, 16);
        nk.sub_id = 1;
        nk.n_seqs = 5000;
        nk.seqs = seqs;
        env.kind_case = LIAISON__ENVELOPE__KIND_NACK;
        env.nack = &nk;
        send_env(&env);
    } else if (strcmp(mode, "linkpub") == 0) {
        if (argc < 6) {
            fprintf(stderr, "rawclient: linkpub AGENCY ORIGIN_BROKER ORIGIN_SEQ [VIA]\n");
            return 2;
        }
        hello();
        print_reply(5000);
        link_publish(argc, argv);
    } else if (strcmp(mode, "multipart") == 0) {
        zmq_send(sock, "a", 1, ZMQ_SNDMORE);
        zmq_send(sock, "b", 1, 0);
    } else {
        fprintf(stderr, "rawclient: unknown mode %s\n", mode);
        return 2;
    }
    print_reply(5000);
    /* Still serving? */
    hello();
    int rc = print_reply(5000) == 0 ? 0 : 1;
    zmq_close(sock);
    zmq_ctx_term(ctx);
    client_config_free(&cfg);
    return rc;
}
