/* lighthouse: the lighthouse role (DESIGN.md §2, §4.3–4.4) — the end of
 * every user's circuit. It knows *who* (accounts, nickname certificates,
 * the binding table nickname → circuit handle, all in SQLite) and never
 * *where*: a circuit handle names a link to a neighbour and a circuit id,
 * not an address. Claims nicknames at the lookup service. A module of
 * `anosip node`, active on nodes the directory gives the lighthouse role.
 *
 * Config ([lighthouse] in the node config):
 *   database = lighthouse.db   open_signup = yes|no
 *   binding_ttl_s = 3600       certificate_ttl_s = 2592000
 *   realm = anosip             digest_md5 = yes|no (offer MD5 digest too) */
#ifndef ANOSIP_LIGHTHOUSE_H
#define ANOSIP_LIGHTHOUSE_H

/* The store is public for the operator's `anosip lighthouse user`. */
#include "lighthouse/store.h"
#include "node/node.h"

extern const struct node_module lh_module;

#endif
