#!/bin/sh
# make demo: a 13-node network on loopback, and routed messages crossing it.
# Usage: scripts/demo.sh PATH/TO/anosip
set -eu
anosip=$(readlink -f "${1:?usage: scripts/demo.sh PATH/TO/anosip}")
dir=$(mktemp -d /tmp/anosip-demo-XXXXXX)
trap '"$anosip" testbed down --dir "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT INT TERM

step() { printf '\n== %s\n' "$*"; }
forwarded() { "$anosip" ctl -s "$dir/$1.sock" metrics | sed -n 's/^routed_forwarded //p'; }

step "1. keys, a network authority, a signed directory, 13 nodes (tree 2x3) on 127.0.0.1,
   and two user agents, each with a circuit through a portal to its home lighthouse"
"$anosip" testbed up --tree 2x3 --dir "$dir" --users 2

step "2. the directory every node checked before it started"
"$anosip" directory show --authority "$dir/authority.pub" "$dir/directory.bin"

step "3. node-4's links: its parent node-1 and its ring siblings node-5, node-6"
"$anosip" ctl -s "$dir/node-4.sock" links | cut -d' ' -f1-5

step "4. a routed ping from node-4 to node-12: up to node-1, along the ring to node-3, down"
before=""
for n in $(seq 0 12); do before="$before $(forwarded node-$n)"; done
"$anosip" ctl -s "$dir/node-4.sock" ping node-12 3
echo "nodes that forwarded (routed_forwarded grew):"
i=0
for b in $before; do
	a=$(forwarded node-$i)
	[ "$a" -gt "$b" ] && echo "  node-$i forwarded $((a - b)) messages"
	i=$((i + 1))
done

step "5. user-2's circuit: anonymous link to a portal, end-to-end keys with its lighthouse"
"$anosip" ctl -s "$dir/ua-user-2.sock" circuit
"$anosip" ctl -s "$dir/ua-user-2.sock" echo 100
portal=$(sed -n 's/^portal //p' <<EOF2
$("$anosip" ctl -s "$dir/ua-user-2.sock" circuit)
EOF2
)
echo "what the portal $portal holds: link and circuit ids, no nickname"
"$anosip" ctl -s "$dir/$portal.sock" circuits
echo "what the lighthouse node-2 holds: the nickname, bound to a circuit (a link id, not an address)"
"$anosip" ctl -s "$dir/node-2.sock" bindings
echo "what the lookup service node-0 holds: nickname -> lighthouse, nothing else"
"$anosip" ctl -s "$dir/node-0.sock" homes

step "6. what an eavesdropper sees: every frame 512 bytes, sealed"
"$anosip" ctl -s "$dir/node-1.sock" metrics | grep -E '^(frames|bytes)_(in|out) '

step "7. kill node-3 (-9), and the routes through it fail"
kill -9 "$(cat "$dir/node-3.pid")"
sleep 0.3
"$anosip" ctl -s "$dir/node-4.sock" ping node-12 || true

step "8. restart node-3: its neighbours accept it again, the route comes back"
"$anosip" testbed start --dir "$dir" node-3
"$anosip" testbed wait --dir "$dir" --timeout 20
"$anosip" ctl -s "$dir/node-4.sock" ping node-12
"$anosip" ctl -s "$dir/node-0.sock" links | cut -d" " -f1-3,12

step "9. stop the network"
"$anosip" testbed down --dir "$dir"
echo "demo: done (later issues turn this into an anonymous call between two nicknames)"
