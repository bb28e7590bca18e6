#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of tests/fuzz/ (STYLE.md §9).
#
# Usage: scripts/fuzz.sh build
#        scripts/fuzz.sh run [TARGET...]
#        scripts/fuzz.sh repro TARGET FILE...
#        scripts/fuzz.sh seeds
#   build  compile the real sources of the library's parts (the Makefile's
#          LIB_PARTS: util/ keys/ topo/ link/ node/ router/ ...), the
#          protobuf-c code generated from proto/, and every
#          tests/fuzz/fuzz_*.c with clang -fsanitize=fuzzer,address,undefined
#          into build/fuzz/
#   run    build, replay tests/fuzz/regressions/<target>/, then fuzz each target
#          (all by default) for FUZZ_SECONDS seconds from a copy of its seed
#          corpus in build/fuzz/corpus/<target>; prints executions and
#          coverage per target and "N passed, M failed"; exits 1 if any failed
#   repro  run one target once on the given inputs (a crash file, say)
#   seeds  regenerate the seed corpus tests/fuzz/corpus/ with seedgen.c
#
# Environment:
#   FUZZ_SECONDS=20      seconds per target for run
#   FUZZ_CC=clang        compiler (clang 14 or later, with libFuzzer)
#   FUZZ_KEEP_CORPUS=1   keep build/fuzz/corpus/<target> from earlier runs
#                        instead of starting again from the seeds
#   V=1                  show every command
set -eu

cd "$(dirname "$0")/.."

OUT=build/fuzz
GEN=$OUT/gen
OBJ=$OUT/obj
BIN=$OUT/bin
SRC_DIR=tests/fuzz
SEEDS=$SRC_DIR/corpus
REGRESSIONS=$SRC_DIR/regressions
# The library's parts, as the Makefile lists them (LIB_PARTS).
PARTS=$(sed -n 's/^LIB_PARTS *:= *//p' Makefile)
PARTS=${PARTS:-util keys topo link node router}
# Programs kept in a part's folder (their main() is not the library's).
PROGRAMS=$(sed -n 's/^SIM_PROG *:= *//p' Makefile)
PKGS="libsodium libuv libprotobuf-c inih libosip2"
LIB_PKGS="$PKGS sqlite3"

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
V=${V:-0}

die() {
	echo "fuzz.sh: $*" >&2
	exit 2
}

say() {
	if [ "$V" = 1 ]; then
		echo "$*"
	fi
}

find_cc() {
	if [ -n "${FUZZ_CC:-}" ]; then
		CC=$FUZZ_CC
	elif command -v clang >/dev/null 2>&1; then
		CC=clang
	elif command -v clang-14 >/dev/null 2>&1; then
		CC=clang-14
	else
		die "clang not found (scripts/install-deps.sh installs it)"
	fi
	command -v "$CC" >/dev/null 2>&1 || die "compiler $CC not found"
	command -v protoc-c >/dev/null 2>&1 || die "protoc-c not found"
}

setup_flags() {
	# shellcheck disable=SC2086 # lists of package names
	PKG_CFLAGS=$(pkg-config --cflags $PKGS) || die "pkg-config: missing $PKGS"
	# shellcheck disable=SC2086
	PKG_LIBS=$(pkg-config --libs $LIB_PKGS) || die "pkg-config: missing $LIB_PKGS"
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
	BASE_CFLAGS="-std=c17 -D_GNU_SOURCE -I. -I$GEN $PKG_CFLAGS -g -O1 -fno-omit-frame-pointer \
$SAN -fsanitize=fuzzer-no-link"
	# Our own code is held to the project's warnings; the project's code is
	# warned about but not failed on, since it is built with gcc day to day.
	PROJECT_WARN="-Wall -Wextra -Wno-unused-parameter"
	FUZZ_WARN="-Wall -Wextra -Werror -Wno-unused-parameter -Wmissing-prototypes"
	LDFLAGS_FUZZ="$SAN -fsanitize=fuzzer"
	LDFLAGS_TOOL="$SAN"
}

# True when $1 (an object) is missing or older than any file in its .d list.
stale() {
	obj=$1
	dep=${obj%.o}.d
	[ -f "$obj" ] && [ -f "$dep" ] || return 0
	# shellcheck disable=SC2013 # a .d file is a list of words
	for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
		if [ ! -e "$f" ] || [ "$f" -nt "$obj" ]; then
			return 0
		fi
	done
	return 1
}

# compile SOURCE OBJECT WARNINGS
compile() {
	if stale "$2"; then
		mkdir -p "$(dirname "$2")"
		echo "  CC      $1"
		say "$CC $BASE_CFLAGS $3 -MMD -MP -c $1 -o $2"
		# shellcheck disable=SC2086
		$CC $BASE_CFLAGS $3 -MMD -MP -c "$1" -o "$2"
	fi
	OBJECTS_BUILT="$OBJECTS_BUILT $2"
}

# link OUTPUT LDFLAGS OBJECTS...
link() {
	out=$1
	ldflags=$2
	shift 2
	need=0
	if [ ! -f "$out" ]; then
		need=1
	else
		for o in "$@"; do
			if [ "$o" -nt "$out" ]; then
				need=1
				break
			fi
		done
	fi
	if [ "$need" = 1 ]; then
		mkdir -p "$(dirname "$out")"
		echo "  LD      $out"
		# shellcheck disable=SC2086
		$CC $ldflags -o "$out" "$@" $PKG_LIBS -lm
	fi
}

list_targets() {
	for f in "$SRC_DIR"/fuzz_*.c; do
		[ -f "$f" ] || continue
		basename "$f" .c
	done
}

generate_protos() {
	mkdir -p "$GEN"
	regen=0
	for p in proto/*.proto; do
		c=$GEN/$(basename "$p" .proto).pb-c.c
		if [ ! -f "$c" ] || [ "$p" -nt "$c" ]; then
			regen=1
		fi
	done
	if [ "$regen" = 1 ]; then
		echo "  PROTOC  proto/*.proto"
		protoc-c --proto_path=proto --c_out="$GEN" proto/*.proto
	fi
}

do_build() {
	find_cc
	setup_flags
	# Objects built with other flags must not be mixed in.
	stamp="$CC $BASE_CFLAGS $PROJECT_WARN $FUZZ_WARN $LDFLAGS_FUZZ $PKG_LIBS"
	if [ ! -f "$OUT/flags" ] || [ "$(cat "$OUT/flags")" != "$stamp" ]; then
		rm -rf "$OBJ" "$BIN"
		mkdir -p "$OUT"
		printf '%s\n' "$stamp" >"$OUT/flags"
	fi
	generate_protos

	OBJECTS_BUILT=""
	for part in $PARTS; do
		for src in "$part"/*.c; do
			[ -f "$src" ] || continue
			case " $PROGRAMS " in *" $src "*) continue ;; esac
			compile "$src" "$OBJ/${src%.c}.o" "$PROJECT_WARN"
		done
	done
	for src in "$GEN"/*.pb-c.c; do
		compile "$src" "$OBJ/gen/$(basename "$src" .c).o" "-w"
	done
	compile "$SRC_DIR/harness.c" "$OBJ/$SRC_DIR/harness.o" "$FUZZ_WARN"
	LIB_OBJECTS=$OBJECTS_BUILT

	for t in $(list_targets); do
		OBJECTS_BUILT=""
		compile "$SRC_DIR/$t.c" "$OBJ/$SRC_DIR/$t.o" "$FUZZ_WARN"
		# shellcheck disable=SC2086
		link "$BIN/$t" "$LDFLAGS_FUZZ" $OBJECTS_BUILT $LIB_OBJECTS
	done
}

build_seedgen() {
	OBJECTS_BUILT=""
	compile "$SRC_DIR/seedgen.c" "$OBJ/$SRC_DIR/seedgen.o" "$FUZZ_WARN"
	# shellcheck disable=SC2086
	link "$OUT/seedgen" "$LDFLAGS_TOOL" $OBJECTS_BUILT $LIB_OBJECTS
}

do_seeds() {
	do_build
	build_seedgen
	for t in $(list_targets); do
		rm -rf "${SEEDS:?}/$t"
		mkdir -p "$SEEDS/$t"
	done
	"$OUT/seedgen" "$SEEDS"
	for t in $(list_targets); do
		echo "  SEEDS   $SEEDS/$t: $(find "$SEEDS/$t" -type f | wc -l) files"
	done
}

check_target() {
	[ -f "$SRC_DIR/$1.c" ] || die "no target $1 (have: $(list_targets | tr '\n' ' '))"
}

# The first value of libFuzzer's final lines, or "-".
field() {
	v=$(sed -n "$1" "$2" | tail -n 1)
	echo "${v:--}"
}

# Extra libFuzzer options of one target.
target_options() {
	case $1 in
	# A config is a few short lines; longer inputs only repeat them.
	fuzz_config | fuzz_ua_config) echo "-max_len=4096" ;;
	# The control socket reads at most 4096 bytes of one line.
	fuzz_control) echo "-max_len=4096" ;;
	esac
}

RESULTS=""
PASSED=0
FAILED=0

# run_target TARGET: fuzzes one target, records one line for the summary.
run_target() {
	t=$1
	bin=$BIN/$t
	corpus=$OUT/corpus/$t
	art=$OUT/artifacts/$t
	log=$OUT/logs/$t.log
	mkdir -p "$OUT/logs"
	rm -rf "$art"
	mkdir -p "$art"
	if [ "${FUZZ_KEEP_CORPUS:-0}" != 1 ]; then
		rm -rf "$corpus"
	fi
	mkdir -p "$corpus"
	if [ -d "$SEEDS/$t" ]; then
		cp "$SEEDS/$t"/* "$corpus"/ 2>/dev/null || true
	fi

	status=ok
	# Inputs that once crashed must keep passing.
	if [ -d "$REGRESSIONS/$t" ] && [ -n "$(ls "$REGRESSIONS/$t")" ]; then
		if ! "$bin" "$REGRESSIONS/$t"/* >"$OUT/logs/$t.regressions.log" 2>&1; then
			status=regression
			echo "FAIL $t: a regression input fails again, see $OUT/logs/$t.regressions.log"
			grep -E 'SUMMARY|ERROR|invariant|Running:' "$OUT/logs/$t.regressions.log" |
				tail -n 4 | sed 's/^/    /'
		fi
	fi

	echo "  FUZZ    $t for ${FUZZ_SECONDS}s"
	rc=0
	# timeout is a backstop: libFuzzer stops itself after max_total_time.
	# shellcheck disable=SC2046 # a list of options
	timeout -k 10 $((FUZZ_SECONDS + 120)) "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=5 \
		-rss_limit_mb=2048 -print_final_stats=1 $(target_options "$t") \
		-artifact_prefix="$art/" "$corpus" >"$log" 2>&1 || rc=$?

	crash=$(find "$art" -type f 2>/dev/null | head -n 1)
	if [ "$rc" -ne 0 ] || [ -n "$crash" ]; then
		status=crash
		if [ -n "$crash" ]; then
			echo "FAIL $t: crash input $crash (log $log)"
		elif [ "$rc" -ge 124 ]; then
			echo "FAIL $t: did not stop (exit $rc), log $log"
		else
			echo "FAIL $t: exit $rc, log $log"
		fi
		grep -E 'SUMMARY|ERROR: |fuzz invariant|runtime error' "$log" | head -n 4 |
			sed 's/^/    /'
	fi

	execs=$(field 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log")
	if [ "$execs" = - ]; then
		execs=$(field 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log")
	fi
	cov=$(field '/DONE/s/.* cov: \([0-9][0-9]*\).*/\1/p' "$log")
	ft=$(field '/DONE/s/.* ft: \([0-9][0-9]*\).*/\1/p' "$log")
	corp=$(field '/DONE/s/.* corp: \([0-9][0-9]*\)\/.*/\1/p' "$log")
	if [ "$cov" = - ]; then
		# No DONE line (it crashed): the last coverage it reported.
		cov=$(field 's/.* cov: \([0-9][0-9]*\).*/\1/p' "$log")
	fi
	if [ "$status" = ok ]; then
		PASSED=$((PASSED + 1))
	else
		FAILED=$((FAILED + 1))
	fi
	RESULTS="$RESULTS$(printf '%-18s %10s %6s %7s %7s  %s' "$t" "$execs" "$cov" "$ft" "$corp" \
		"$status")
"
}

do_run() {
	case $FUZZ_SECONDS in
	'' | *[!0-9]* | 0) die "FUZZ_SECONDS must be a positive whole number, not '$FUZZ_SECONDS'" ;;
	esac
	if [ $# -gt 0 ]; then
		for t in "$@"; do
			check_target "$t"
		done
		targets=$*
	else
		targets=$(list_targets)
	fi
	[ -n "$targets" ] || die "no targets in $SRC_DIR"
	do_build
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	export UBSAN_OPTIONS
	for t in $targets; do
		run_target "$t"
	done
	echo
	printf '%-18s %10s %6s %7s %7s  %s\n' target execs cov ft corpus result
	printf '%s' "$RESULTS"
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

do_repro() {
	[ $# -ge 2 ] || die "usage: scripts/fuzz.sh repro TARGET FILE..."
	t=$1
	shift
	check_target "$t"
	do_build
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
	export UBSAN_OPTIONS
	"$BIN/$t" "$@"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
build) do_build ;;
run) do_run "$@" ;;
repro) do_repro "$@" ;;
seeds) do_seeds ;;
*)
	sed -n '2,26s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
