/* ctl.h — liaisonctl's commands: one function per command, each taking its
 * own arguments (argv[0] is the command's name; flags are read with
 * ctl/opts.h) and the config path given before the command or by
 * LIAISON_CONFIG (NULL when neither), returning the exit status (0 done,
 * 1 refused or failed with a message naming why, 2 bad usage).
 * Not responsible for: the wire (common/link.c) or JSON (common/json.c). */
#ifndef LIAISON_CTL_H
#define LIAISON_CTL_H

#include "link.h"

#define CTL_OK    0
#define CTL_FAIL  1
#define CTL_USAGE 2

/* How long to wait for the broker's Welcome, and for each answer. */
#define CTL_CONNECT_MS 5000

/* Loads agent.cfg and opens the link to the broker (Hello/Welcome done).
 * Returns the link (caller closes), or NULL after printing why. */
link_t *ctl_connect(const char *config, const char *client);

/* An operator's request answered with a StatusReply: connects, sends env,
 * and prints the reply's JSON as it is (json) or through show(ctx, JSON);
 * an Error is printed as a refusal. Returns the exit status. */
typedef int (*ctl_show_fn)(const void *ctx, const char *json);
int ctl_json_request(const char *config, const char *client, Liaison__Envelope *env, int json,
                     ctl_show_fn show, const void *ctx);

int ctl_keygen(const char *config, int argc, char **argv);
int ctl_pub(const char *config, int argc, char **argv);
int ctl_sub(const char *config, int argc, char **argv);
int ctl_status(const char *config, int argc, char **argv);
int ctl_agents(const char *config, int argc, char **argv);
int ctl_subs(const char *config, int argc, char **argv);
int ctl_topics(const char *config, int argc, char **argv);
int ctl_watch(const char *config, int argc, char **argv);
int ctl_audit(const char *config, int argc, char **argv);
int ctl_deadletters(const char *config, int argc, char **argv);
int ctl_query(const char *config, int argc, char **argv);
int ctl_hits(const char *config, int argc, char **argv);
int ctl_links(const char *config, int argc, char **argv);
int ctl_whoami(const char *config, int argc, char **argv);
/* Durable feeds (issue 15). */
int ctl_durables(const char *config, int argc, char **argv);

#endif
