/* lookup: the lookup service (DESIGN.md §2, §5.1) — nickname → home
 * lighthouse and nothing else, in SQLite. Fed by routed messages signed by
 * lighthouses: a nickname homed on one lighthouse cannot be claimed by
 * another. A module of `anosip node`, active on nodes with the lookup role.
 *
 * Config ([lookup] in the node config): database = lookup.db */
#ifndef ANOSIP_LOOKUP_H
#define ANOSIP_LOOKUP_H

#include "node/node.h"

extern const struct node_module lookup_module;

#endif
