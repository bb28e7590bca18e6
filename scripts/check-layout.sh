#!/bin/sh
# Checks the include rules between parts (DESIGN.md §8): a part includes
# only its own headers and the public headers of the parts below it, and
# never another part's private header. Prints "N passed, M failed".
set -u
cd "$(dirname "$0")/.."

# Each part and the parts it may use.
allowed() {
	case $1 in
	util) echo "" ;;
	db) echo "util" ;;
	keys) echo "util" ;;
	topo) echo "util keys" ;;
	link) echo "util keys" ;;
	circuit) echo "util keys" ;;
	sip) echo "util" ;;
	node) echo "util db keys topo link" ;;
	router) echo "util keys topo link node" ;;
	lookup) echo "util db keys topo link node router" ;;
	iddir) echo "util db keys topo link circuit node router" ;;
	lighthouse) echo "util db keys topo link circuit sip node router lookup" ;;
	ua) echo "util db keys topo link circuit sip node" ;;
	sim) echo "util keys topo" ;;
	cli) echo "util db keys topo link circuit sip node router lighthouse lookup iddir ua" ;;
	*) echo "" ;;
	esac
}

passed=0
failed=0
for part in util db keys topo link circuit sip node router lookup iddir lighthouse ua sim cli; do
	ok=1
	for f in "$part"/*.c "$part"/*.h; do
		[ -e "$f" ] || continue
		for inc in $(sed -n 's/^#include "\([a-z_]*\)\/\([a-z_]*\.h\)"/\1\/\2/p' "$f"); do
			dep=${inc%%/*}
			header=${inc#*/}
			[ "$dep" = "$part" ] && continue
			case " $(allowed "$part") " in
			*" $dep "*) ;;
			*)
				echo "layout: $f includes $inc: $part may not use $dep"
				ok=0
				continue
				;;
			esac
			if [ "$header" != "$dep.h" ]; then
				echo "layout: $f includes $inc: only $dep/$dep.h is public"
				ok=0
			fi
		done
	done
	if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "layout: $passed passed, $failed failed"
[ $failed -eq 0 ]
