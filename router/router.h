/* router: routed node messages (docs/protocol.md §2) — sealed to the
 * destination node, signed by the source, forwarded hop by hop with
 * topo_next_hop and a hop limit — and the ping that tests and operators
 * use to check any path. A module of `anosip node` (node/node.h). */
#ifndef ANOSIP_ROUTER_H
#define ANOSIP_ROUTER_H

#include "node/node.h"

extern const struct node_module router_module;

/* Hop limit a message starts with unless told otherwise. */
#define ROUTER_DEFAULT_HOP_LIMIT 64
/* Messages older (or further in the future) than this are refused. */
#define ROUTER_MAX_AGE_MS 60000

#endif
