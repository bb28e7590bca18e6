/* iddir: the ID Directory role (DESIGN.md §5.5, paper §4.3): a trusted
 * third party holding <nickname, real ID> tuples in SQLite, read only by
 * authenticated, authorised nicknames, every read logged for the owner.
 * Queries come as routed messages from lighthouses (sealed to this node,
 * signed by the asking nickname); answers are signed and sealed to the
 * asker. It never learns an address. A module of `anosip node`, active on
 * nodes the directory gives the iddir role.
 *
 * Config ([iddir] in the node config): database = iddir.db */
#ifndef ANOSIP_IDDIR_H
#define ANOSIP_IDDIR_H

/* The store is public for the operator's `anosip iddir inspect|purge|add`. */
#include "iddir/store.h"
#include "node/node.h"

extern const struct node_module iddir_module;

#endif
