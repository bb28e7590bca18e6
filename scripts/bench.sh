#!/bin/sh
# Benchmarks for `make bench`: frames and bytes per second through one link
# and through a 6-hop routed path, each next to a ceiling measured in the
# same run, and the ratios; circuit builds per second, their latency and the
# memory a circuit costs at each hop; the tables go to stdout and
# docs/benchmarks.md.
#
# Usage: scripts/bench.sh BUILD_DIR
#   BUILD_DIR holds anosip and bench/anosip-bench (the Makefile builds both).
#
#   1. In process (bench/anosip-bench all): the raw AEAD rate for one frame
#      (the ceiling), the link codec, one forwarding hop, the routed
#      message's crypto, the router's own seal/open code, and the crypto of
#      one circuit build (client, lighthouse, certificate).
#   2. Live: a 6x1 testbed (a chain node-0 ... node-6 on loopback) in a
#      temporary folder, always taken down again. Floods of link Discards
#      over node-0 -> node-1 and back, and of routed Discards over 1 hop
#      (node-0 -> node-1) and 6 hops (node-0 -> node-6). A run is timed from
#      the ctl call until the receiver's counter has grown by the count
#      (polled every 50 ms, with a stall and an overall timeout); the CPU
#      each node used comes from /proc/PID/schedstat.
#   3. Circuits (bench/anosip-bench circuit-load, bench/circuit_load.c): a
#      3x2 testbed, portal node-11 and lighthouse node-1, three hops apart
#      (node-11 -> node-5 -> node-2 -> node-1). Each phase gets a fresh
#      testbed: (a) memory: 10,000 circuits open at once over 625 client
#      links, every node's memory before, with the links and with the
#      circuits, the CPU it costs to keep them open for a while (longer than
#      the lighthouse's 10-second binding refresh) and to tear them down;
#      (b) rate: 100 builds/s for 10 s, open loop, latency
#      percentiles, first with sign-ups and then with the accounts made;
#      (c) max: 2,000 builds with 32 CREATEs in flight, as fast as they go.
#   4. SIP (scripts/bench_sip.py): SIPp REGISTER at 10 calls/s for 30 s
#      through ua, portal, router and lighthouse (the paper's Table 1);
#      INVITE -> 302 across two lighthouses; latency at microsecond
#      resolution; the highest sustained REGISTER and INVITE rates; each
#      next to the same SIPp scenario against Kamailio (registrar with
#      digest auth, redirect server; scripts/bench_kamailio.py,
#      bench/kamailio/*.cfg) in the same run.
#   5. The simulator (scripts/bench_sim.py): anosip-sim on a 111,111-node
#      hierarchy with 1,000,000 users, 100 trials of 10,000 targets, two
#      threads next to one; how the cost grows with the lighthouses.
#   6. Hops (scripts/bench_hops.py): REGISTER and INVITE -> 302 latency
#      through chains of 1 to 6 hops between portal and lighthouse, and
#      the growth per hop.
#   7. Users (scripts/bench_users.py): the lighthouse's memory and SQLite
#      files with 1,000, 10,000 and 100,000 registered users.
#   8. The report (scripts/bench_report.py): bench/report.md and its
#      gnuplot figures, from the figures of 1-7 (each part leaves a
#      machine-readable file in the work folder).
#
# The machine may be shared and noisy: every figure is the median of
# BENCH_RUNS runs, runs of the four floods are interleaved, each flood is
# sized by a short calibration run to last about BENCH_TARGET_SECONDS, and
# ratios only compare numbers taken in this same run.
#
# Environment:
#   BENCH_RUNS=3              runs per figure
#   BENCH_TARGET_SECONDS=2    length of one live run
#   BENCH_OUT=docs/benchmarks.md
#   BENCH_CIRCUIT_RATE=100    offered builds/s in the rate phase
#   BENCH_CIRCUIT_SECONDS=10  length of one rate round
#   BENCH_CIRCUIT_COUNT=2000  builds per max-rate round
#   BENCH_CIRCUIT_WINDOW=32   CREATEs in flight in the max and memory phases
#   BENCH_CIRCUIT_MEMORY=10000  circuits open at once in the memory phase
#   BENCH_CIRCUIT_HOLD=10.5   seconds they then stay open (the CPU that costs)
#   BENCH_REPORT_DIR=bench    where report.md and its PNGs go
#   BENCH_SIP_*, BENCH_KAMAILIO_*, BENCH_HOPS*, BENCH_USERS*: see the scripts
set -eu

cd "$(dirname "$0")/.."

BUILD=${1:?usage: scripts/bench.sh BUILD_DIR}
ANOSIP=$BUILD/anosip
SIM=$BUILD/anosip-sim
BENCH=$BUILD/bench/anosip-bench
RUNS=${BENCH_RUNS:-3}
TARGET_S=${BENCH_TARGET_SECONDS:-2}
OUT=${BENCH_OUT:-docs/benchmarks.md}
REPORT_DIR=${BENCH_REPORT_DIR:-bench}
NODES="node-0 node-1 node-2 node-3 node-4 node-5 node-6"
HOPS=6
DISCARD_BYTES=400     # link Discard data: one frame, as ctl send-discard sends
POLL_S=0.05
STALL_NS=3000000000   # no progress for this long: the rest was lost
RUN_LIMIT_S=60        # no run may take longer than this
CALIBRATE_LINK=30000  # messages in a calibration run
CALIBRATE_ROUTED=2000
MIN_LINK=20000
MAX_LINK=1000000
MIN_ROUTED=1000
MAX_ROUTED=200000
HZ=$(getconf CLK_TCK)

for f in "$ANOSIP" "$BENCH" "$SIM"; do
	if [ ! -x "$f" ]; then
		echo "bench: $f is missing (run make bench)" >&2
		exit 1
	fi
done

say() {
	echo "bench: $*" >&2
}

# mark PART: the seconds since the last mark go to timing.txt (the report
# shows how long each part took against the 20-minute budget).
T_MARK=$(date +%s)
mark() {
	t=$(date +%s)
	echo "$1 $((t - T_MARK))" >>"$WORK/timing.txt"
	T_MARK=$t
}

# Floating-point arithmetic: calc FORMAT EXPRESSION.
calc() {
	awk "BEGIN { printf \"$1\", ($2) }"
}

now_ns() {
	date +%s%N
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/anosip-bench.XXXXXX")
DIR=$WORK/tb
CDIR=$WORK/ct # the circuit phases' testbeds, one at a time
CLOAD_PID=    # a running circuit-load (under timeout), stopped on the way out
cleanup() {
	if [ -n "$CLOAD_PID" ]; then
		kill "$CLOAD_PID" 2>/dev/null || true
		wait "$CLOAD_PID" 2>/dev/null || true
	fi
	for d in "$DIR" "$CDIR"; do
		if [ -f "$d/authority.pub" ]; then
			"$ANOSIP" testbed down --dir "$d" >/dev/null 2>&1 || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. in process ---------------------------------------------------------

LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
say "in-process: aead, codec, forward, routed-crypto, routed-codec, circuit-crypto ($RUNS runs each)"
"$BENCH" --runs "$RUNS" all >"$WORK/inproc.txt"

# Value of KEY in a "key value" file.
get() {
	awk -v k="$2" '$1 == k { print $2; found = 1; exit } END { if (!found) exit 1 }' "$1" ||
		{
			echo "bench: no $2 in $1" >&2
			exit 1
		}
}
inproc() {
	get "$WORK/inproc.txt" "$1"
}

ROUTED_PAYLOAD=$(inproc routed_fit_payload)
mark in-process

# --- 2. live ------------------------------------------------------------------

say "starting a 6x1 testbed in $DIR"
if ! "$ANOSIP" testbed up --tree 6x1 --dir "$DIR" --log-level warn >"$WORK/up.txt" 2>&1; then
	cat "$WORK/up.txt" >&2
	exit 1
fi

ctl() {
	node=$1
	shift
	"$ANOSIP" ctl -s "$DIR/$node.sock" "$@"
}

metric() {
	ctl "$1" -t 10 metrics | awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }'
}

drops_all() {
	total=0
	for n in $NODES; do
		d=$(ctl "$n" -t 10 metrics | awk '/^drop_/ { s += $2 } END { print s + 0 }')
		total=$((total + d))
	done
	echo "$total"
}

# CPU time each node has used: 7 totals in ns (schedstat; ticks when the
# kernel has no schedstat), then 7 user and 7 kernel times in clock ticks.
cpu_all() {
	for n in $NODES; do
		pid=$(cat "$DIR/$n.pid")
		if [ -r "/proc/$pid/schedstat" ]; then
			awk '{ printf "%s ", $1 }' "/proc/$pid/schedstat"
		else
			awk -v hz="$HZ" '{ printf "%.0f ", ($14 + $15) * 1e9 / hz }' "/proc/$pid/stat"
		fi
	done
	for field in 14 15; do
		for n in $NODES; do
			awk -v f="$field" '{ printf "%s ", $f }' "/proc/$(cat "$DIR/$n.pid")/stat"
		done
	done
	echo
}

# flood KIND SRC DST COUNT BYTES: one timed run. KIND is discard (a link
# flood to the neighbour DST) or routed (routed Discards to node DST).
# Prints: elapsed_ns delivered frames_in_at_dst drops, then the 21 cpu_all
# figures' growth over the run.
flood() {
	kind=$1 src=$2 dst=$3 count=$4 bytes=$5
	if [ "$kind" = discard ]; then
		key=discard_in
	else
		key=routed_discard_in
	fi
	start=$(metric "$dst" "$key")
	frames0=$(metric "$dst" frames_in)
	drops0=$(drops_all)
	cpu0=$(cpu_all)
	t0=$(now_ns)
	# Answers once every message is queued at the source.
	if ! ctl "$src" -t "$RUN_LIMIT_S" "send-$kind" "$dst" "$count" "$bytes" >"$WORK/ctl.txt"; then
		say "$src send-$kind $dst $count $bytes failed: $(cat "$WORK/ctl.txt")"
		exit 1
	fi
	t_prev=$(now_ns)
	target=$((start + count))
	last=$start
	t_progress=$t_prev
	deadline=$((t0 + RUN_LIMIT_S * 1000000000))
	while :; do
		t=$(now_ns)
		got=$(metric "$dst" "$key")
		if [ "$got" -ge "$target" ]; then
			# It completed between the last two polls.
			t_end=$(((t_prev + t) / 2))
			break
		fi
		if [ "$got" -gt "$last" ]; then
			last=$got
			t_progress=$t
		elif [ $((t - t_progress)) -gt "$STALL_NS" ] || [ "$t" -gt "$deadline" ]; then
			t_end=$t_progress
			break
		fi
		t_prev=$t
		sleep "$POLL_S"
	done
	cpu1=$(cpu_all)
	frames1=$(metric "$dst" frames_in)
	drops1=$(drops_all)
	delivered=$((got - start))
	if [ "$delivered" -lt "$count" ]; then
		say "$kind $src -> $dst: $delivered of $count arrived ($((drops1 - drops0)) drops)"
	fi
	if [ "$delivered" -le 0 ]; then
		say "$kind $src -> $dst: nothing arrived; see $DIR/*.log"
		tail -n 5 "$DIR"/*.log >&2 || true
		exit 1
	fi
	echo "$((t_end - t0)) $delivered $((frames1 - frames0)) $((drops1 - drops0)) $cpu0 $cpu1" |
		awk '{ printf "%s %s %s %s", $1, $2, $3, $4
		       for (i = 0; i < 21; i++) printf " %s", $(26 + i) - $(5 + i)
		       printf "\n" }'
}

# The four floods: name kind src dst bytes min max calibration-count.
SERIES="link01 discard node-0 node-1 $DISCARD_BYTES $MIN_LINK $MAX_LINK $CALIBRATE_LINK
link10 discard node-1 node-0 $DISCARD_BYTES $MIN_LINK $MAX_LINK $CALIBRATE_LINK
routed1 routed node-0 node-1 $ROUTED_PAYLOAD $MIN_ROUTED $MAX_ROUTED $CALIBRATE_ROUTED
routed6 routed node-0 node-6 $ROUTED_PAYLOAD $MIN_ROUTED $MAX_ROUTED $CALIBRATE_ROUTED"

# Calibration: a short run of each, then a count that lasts about TARGET_S.
: >"$WORK/counts.txt"
echo "$SERIES" | while read -r name kind src dst bytes min max cal; do
	r=$(flood "$kind" "$src" "$dst" "$cal" "$bytes")
	n=$(echo "$r" | awk -v s="$TARGET_S" -v lo="$min" -v hi="$max" \
		'{ n = int($2 / ($1 / 1e9) * s / 1000) * 1000
		   if (n < lo) n = lo
		   if (n > hi) n = hi
		   print n }')
	say "$name: calibration $(echo "$r" | awk '{ printf "%.0f msgs/s", $2 / ($1 / 1e9) }'), $n per run"
	echo "$name $n" >>"$WORK/counts.txt"
done

# The runs, interleaved. Each line of runs.txt:
#   series run msgs_per_s frames_per_msg delivered count drops
#   cpu_us_per_msg_node0..6 user_ticks_node0..6 kernel_ticks_node0..6
: >"$WORK/runs.txt"
run=1
while [ "$run" -le "$RUNS" ]; do
	echo "$SERIES" | while read -r name kind src dst bytes _; do
		count=$(get "$WORK/counts.txt" "$name")
		r=$(flood "$kind" "$src" "$dst" "$count" "$bytes")
		echo "$r" | awk -v s="$name" -v run="$run" -v count="$count" \
			'{ printf "%s %d %.1f %.3f %d %d %d", s, run, $2 / ($1 / 1e9), $3 / $2, $2,
			          count, $4
			   for (i = 5; i <= 11; i++) printf " %.3f", $i / 1000 / $2
			   for (i = 12; i <= 25; i++) printf " %s", $i
			   printf "\n" }' >>"$WORK/runs.txt"
		say "$name run $run: $(tail -n 1 "$WORK/runs.txt" | awk '{ printf "%.0f msgs/s", $3 }')"
	done
	run=$((run + 1))
done

say "stopping the testbed"
"$ANOSIP" testbed down --dir "$DIR" >/dev/null 2>&1 || true
mark live-links

# --- 3. circuits ----------------------------------------------------------------

# In a 3x2 testbed node-0 is the lookup service, node-1 and node-2 the
# lighthouses, node-3 ... node-6 routers and node-7 ... node-14 portals.
# Portal node-11 hangs under node-5, under node-2, so a CREATE for node-1
# goes node-11 -> node-5 -> node-2 -> node-1 (topo_next_hop): three hops.
CIRC_TREE=3x2
CIRC_PORTAL=node-11
CIRC_LH=node-1
CIRC_RATE=${BENCH_CIRCUIT_RATE:-100}
CIRC_SECONDS=${BENCH_CIRCUIT_SECONDS:-10}
CIRC_COUNT=${BENCH_CIRCUIT_COUNT:-2000}
CIRC_WINDOW=${BENCH_CIRCUIT_WINDOW:-32}
CIRC_MEMORY=${BENCH_CIRCUIT_MEMORY:-10000}
CIRC_HOLD=${BENCH_CIRCUIT_HOLD:-10.5}
CIRC_LIMIT_S=240 # no circuit-load run may take longer
# circuit-load takes at most 9 runs. Each client link sends at most 16
# CREATEs, within the portal's per-client budget (ROUTER_CLIENT_CREATE_BURST).
CIRC_RUNS=$RUNS
[ "$CIRC_RUNS" -le 9 ] || CIRC_RUNS=9
CIRC_RATE_RUNS=$CIRC_RUNS
CIRC_MAX_COUNT=$CIRC_COUNT
CIRC_DROPS=0

# A fresh testbed in CDIR (whatever was there is taken down first).
circ_up() {
	circ_down
	if ! "$ANOSIP" testbed up --tree "$CIRC_TREE" --dir "$CDIR" --log-level warn \
		>"$WORK/cup.txt" 2>&1; then
		cat "$WORK/cup.txt" >&2
		exit 1
	fi
}

# Takes CDIR's testbed down, adding the drops its nodes counted to CIRC_DROPS.
circ_down() {
	if [ -f "$CDIR/authority.pub" ]; then
		for sock in "$CDIR"/node-*.sock; do
			[ -S "$sock" ] || continue
			d=$("$ANOSIP" ctl -s "$sock" -t 10 metrics | awk '/^drop_/ { s += $2 } END { print s + 0 }')
			CIRC_DROPS=$((CIRC_DROPS + d))
		done
		"$ANOSIP" testbed down --dir "$CDIR" >/dev/null 2>&1 || true
	fi
	rm -rf "$CDIR"
}

# TCP segments the connections of CDIR's testbed (those still open: the
# links between nodes) have retransmitted, both ends counted; "?" without ss.
circ_retrans() {
	if ! command -v ss >/dev/null 2>&1; then
		echo "?"
		return
	fi
	ports=$(sed -n 's/^address = 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$CDIR/topology.ini" | tr '\n' ' ')
	ss -tin state established 2>/dev/null | awk -v ports="$ports" '
		BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) want[p[i]] = 1 }
		/^[0-9]/ { split($3, a, ":"); split($4, b, ":"); mine = (a[2] in want) || (b[2] in want); next }
		mine && match($0, /retrans:[0-9]+\/[0-9]+/) {
			split(substr($0, RSTART + 8, RLENGTH - 8), r, "/"); s += r[2] }
		END { print s + 0 }'
}

# circ_load OUT ARGS...: one circuit-load run against CDIR, bounded in time.
circ_load() {
	out=$1
	shift
	# In the background, so an interrupted run can stop it (timeout puts it
	# in a process group of its own, out of reach of the terminal's ^C).
	timeout "$CIRC_LIMIT_S" "$BENCH" circuit-load --dir "$CDIR" --portal "$CIRC_PORTAL" \
		--lighthouse "$CIRC_LH" --run "$$" "$@" >"$out" 2>"$WORK/cload.txt" &
	CLOAD_PID=$!
	if ! wait "$CLOAD_PID"; then
		CLOAD_PID=
		cat "$WORK/cload.txt" >&2
		say "circuit-load $* failed; the nodes' last words:"
		tail -n 3 "$CDIR"/node-*.log >&2 || true
		exit 1
	fi
	CLOAD_PID=
}

say "circuits: a $CIRC_TREE testbed, $CIRC_PORTAL -> $CIRC_LH"
circ_up
# The hop count as the network itself sees it: a routed ping's hops.
PING_HOPS=$("$ANOSIP" ctl -s "$CDIR/$CIRC_PORTAL.sock" -t 10 ping "$CIRC_LH" 1 |
	sed -n 's/.*hops=\([0-9]*\)+\([0-9]*\).*/\1+\2/p')
say "circuits: memory with $CIRC_MEMORY circuits open"
circ_load "$WORK/cmem.txt" --mode memory --circuits "$CIRC_MEMORY" --window "$CIRC_WINDOW" \
	--hold "$CIRC_HOLD"
circ_up
say "circuits: $CIRC_RATE builds/s for $CIRC_SECONDS s, sign-up then existing accounts ($CIRC_RATE_RUNS runs)"
circ_load "$WORK/crate.txt" --mode rate --rate "$CIRC_RATE" --seconds "$CIRC_SECONDS" \
	--runs "$CIRC_RATE_RUNS" --window "$CIRC_WINDOW"
RATE_RETRANS=$(circ_retrans)
circ_up
say "circuits: max rate, $CIRC_MAX_COUNT builds, $CIRC_WINDOW in flight ($CIRC_RUNS runs)"
circ_load "$WORK/cmax.txt" --mode max --count "$CIRC_MAX_COUNT" --window "$CIRC_WINDOW" \
	--runs "$CIRC_RUNS"
circ_down
mark circuits

# --- 4. SIP -------------------------------------------------------------------

say "sip: the paper's experiment, INVITE -> 302, highest rates (scripts/bench_sip.py)"
python3 scripts/bench_sip.py "$ANOSIP" "$WORK/sip.md" >/dev/null
mark sip-and-kamailio

# --- 5. the simulator -----------------------------------------------------------

say "sim: anosip-sim at 111,111 nodes and 1,000,000 users (scripts/bench_sim.py)"
BENCH_RUNS=$RUNS python3 scripts/bench_sim.py "$SIM" "$WORK/sim.md" >/dev/null
mark simulator

# --- 6. hops --------------------------------------------------------------------

say "hops: SIP latency against the hops portal -> lighthouse (scripts/bench_hops.py)"
python3 scripts/bench_hops.py "$ANOSIP" "$WORK/hops.md" >/dev/null
mark hops

# --- 7. users -------------------------------------------------------------------

say "users: memory and SQLite against registered users (scripts/bench_users.py)"
python3 scripts/bench_users.py "$ANOSIP" "$BENCH" "$WORK/users.md" >/dev/null
mark users

# --- 3. figures ---------------------------------------------------------------

# med SERIES COLUMN: the median of that column over the series' runs.
med() {
	awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$WORK/runs.txt" | sort -g |
		awk '{ v[NR] = $1 }
		     END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# cpu SERIES NODE: CPU µs per message of node-NODE (column 8 + NODE).
cpu() {
	calc "%.2f" "$(med "$1" $((8 + $2)))"
}
# kshare SERIES FIRST LAST: percent of the CPU time of nodes FIRST..LAST
# spent in the kernel, over all runs of the series.
kshare() {
	awk -v s="$1" -v a="$2" -v b="$3" \
		'$1 == s { for (i = a; i <= b; i++) { u += $(15 + i); k += $(22 + i) } }
		 END { printf "%.0f", (u + k > 0 ? 100 * k / (u + k) : 0) }' "$WORK/runs.txt"
}
ratio() {
	calc "%.2f" "$1 / $2"
}
# bound TOTAL_US STAGE_US...: msgs/s that CPU per message allows on NCPU
# idle cores, no stage (process) faster than its own CPU per message.
bound() {
	total=$1
	shift
	echo "$*" | awk -v n="$NCPU" -v t="$total" \
		'{ r = n * 1e6 / t; for (i = 1; i <= NF; i++) if (1e6 / $i < r) r = 1e6 / $i
		   printf "%.0f", r }'
}
k() { # a rate, in thousands
	calc "%.1fk" "$1 / 1000"
}
mbs() { # frames per second -> MB/s on the wire
	calc "%.1f MB/s" "$1 * 512 / 1e6"
}
us() { # a rate -> µs per operation
	calc "%.2f" "1e6 / $1"
}

NCPU=$(nproc)
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[ -n "$CPU_MODEL" ] || CPU_MODEL=$(uname -m)
SODIUM=$(pkg-config --modversion libsodium 2>/dev/null || echo "?")
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	COMMIT="$COMMIT with uncommitted changes"
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

AEAD=$(inproc aead_pair_per_s)
AEAD_US=$(us "$(inproc aead_pair_per_cpu_s)")
AEAD_SEAL=$(inproc aead_seal_per_s)
AEAD_OPEN=$(inproc aead_open_per_s)
CODEC=$(inproc codec_per_s)
CODEC_PB=$(inproc codec_pb_per_s)
CODEC_PB_US=$(us "$(inproc codec_pb_per_cpu_s)")
FORWARD=$(inproc forward_per_s)
FORWARD_US=$(us "$(inproc forward_per_cpu_s)")
RC=$(inproc routed_crypto_msg_per_s)
RC_SLOW=$(calc "%.0f" "$(inproc routed_crypto_source_per_s) < $(inproc routed_crypto_dest_per_s) ? $(inproc routed_crypto_source_per_s) : $(inproc routed_crypto_dest_per_s)")
RC_SRC_US=$(us "$(inproc routed_crypto_source_per_cpu_s)")
RC_DST_US=$(us "$(inproc routed_crypto_dest_per_cpu_s)")
RCODEC=$(inproc routed_codec_msg_per_s)
RCODEC_SRC_US=$(us "$(inproc routed_codec_source_per_cpu_s)")
RCODEC_DST_US=$(us "$(inproc routed_codec_dest_per_cpu_s)")
BODY=$(inproc routed_crypto_body_bytes)

L01=$(med link01 3)
L10=$(med link10 3)
R1=$(med routed1 3)
R6=$(med routed6 3)
FPM1=$(calc "%.2f" "$(med routed1 4)")
FPM6=$(calc "%.2f" "$(med routed6 4)")
LOST=$(awk '{ l += $6 - $5 } END { print l + 0 }' "$WORK/runs.txt")
DROPS=$(awk '{ d += $7 } END { print d + 0 }' "$WORK/runs.txt")

# CPU per message, µs: link sender and receiver; routed source, forwarders
# (node-1 ... node-5), destination.
L01_TX=$(cpu link01 0)
L01_RX=$(cpu link01 1)
L01_CPU=$(calc "%.2f" "$L01_TX + $L01_RX")
L10_TX=$(cpu link10 1)
L10_RX=$(cpu link10 0)
L10_CPU=$(calc "%.2f" "$L10_TX + $L10_RX")
R1_SRC=$(cpu routed1 0)
R1_DST=$(cpu routed1 1)
R1_CPU=$(calc "%.1f" "$R1_SRC + $R1_DST")
R6_SRC=$(cpu routed6 0)
R6_DST=$(cpu routed6 6)
R6_FWD=$(calc "%.2f" "($(cpu routed6 1) + $(cpu routed6 2) + $(cpu routed6 3) + $(cpu routed6 4) + $(cpu routed6 5)) / 5")
R6_CPU=$(calc "%.1f" "$R6_SRC + $R6_DST + ($HOPS - 1) * $R6_FWD")

# What the 6-hop rate should be if the path gets the same CPU as the 1-hop
# path did and each of the 5 forwarders adds (a) its crypto and copies as
# measured in process, (b) that plus the socket work, at what one flooded
# link costs per frame sent and received.
ADD_CRYPTO=$(calc "%.2f" "($HOPS - 1) * $FORWARD_US * $FPM6")
ADD_IO=$(calc "%.2f" "($HOPS - 1) * $L01_CPU * $FPM6")
PRED_CRYPTO=$(calc "%.0f" "$R1 * $R1_CPU / ($R1_CPU + $ADD_CRYPTO)")
PRED_IO=$(calc "%.0f" "$R1 * $R1_CPU / ($R1_CPU + $ADD_IO)")

AIM=100000
if [ "$(calc "%d" "$L01 >= $AIM && $L10 >= $AIM")" = 1 ]; then
	AIM_TEXT="met"
else
	AIM_TEXT="NOT met"
fi

# --- circuit figures ---

cmem() { get "$WORK/cmem.txt" "$1"; }
crate() { get "$WORK/crate.txt" "$1"; }
cmax() { get "$WORK/cmax.txt" "$1"; }
# The Nth (1-based) of a comma-separated value.
nth() {
	echo "$1" | cut -d, -f"$2"
}
ms() { # milliseconds, two decimals
	calc "%.2f" "$1"
}

CC_BUILD=$(inproc circuit_crypto_build_per_s)
CC_BUILD_US=$(us "$(inproc circuit_crypto_build_per_cpu_s)")
CC_CREATE_US=$(us "$(inproc circuit_crypto_client_create_per_cpu_s)")
CC_SERVER_US=$(us "$(inproc circuit_crypto_server_per_cpu_s)")
CC_FINISH_US=$(us "$(inproc circuit_crypto_client_finish_per_cpu_s)")
CC_CERT_US=$(us "$(inproc circuit_crypto_certificate_per_cpu_s)")
CIRC_PATH=$(cmem path | sed 's/,/ → /g')
CIRC_HOPS=$(cmem path_hops)
MEM_NODES=$(cmem mem_nodes | tr , ' ')
MEM_N=$(cmem mem_circuits_ok)
MEM_LINKS=$(cmem mem_links)
MEM_FAILED=$(cmem mem_circuits_failed)
MEM_RATE=$(cmem mem_build_per_s)
CIRCUIT_STRUCT=$(cmem mem_circuit_struct_bytes)
LH_CIRCUIT_STRUCT=$(cmem mem_lh_circuit_struct_bytes)
CONN_STRUCT=$(cmem mem_conn_struct_bytes)
MEM_AIM=1024
RATE_AIM_MS=5

# The lighthouse's crypto per build: open and answer the CREATE, seal and
# sign the claim it sends the lookup service, open and check the answer;
# a sign-up also signs a certificate. The lookup service opens the claim
# and seals the answer. Each forwarder passes two cells (CREATE, CREATED).
LH_CRYPTO_SIGNUP_US=$(calc "%.1f" "$CC_SERVER_US + $RC_SRC_US + $RC_DST_US + $CC_CERT_US")
LOOKUP_CRYPTO_US=$(calc "%.1f" "$RC_SRC_US + $RC_DST_US")
FWD_CRYPTO_US=$(calc "%.1f" "2 * $FORWARD_US")
CIRC_FAILED=$(($(crate rate_signup_failed) + $(crate rate_existing_failed) + $(cmax max_signup_failed) + $(cmax max_existing_failed) + MEM_FAILED))

# circ_cpu FILE KEY: CPU µs per build of each node in MEM_NODES order (the
# path, then the lookup service), of the client, and their sum; KEY names
# the figure with %s for the node ("max_signup_cpu_us_%s").
circ_cpu() {
	all=0
	for n in $MEM_NODES client; do
		v=$(get "$1" "$(printf "$2" "$n")")
		printf "%s " "$v"
		all=$(calc "%.1f" "$all + $v")
	done
	echo "$all"
}
# circ_bound CPUS...: builds/s the CPU per build allows on NCPU idle cores.
circ_bound() {
	all=$(echo "$*" | awk '{ print $NF }')
	stages=$(echo "$*" | awk '{ $NF = ""; print }')
	bound "$all" $stages
}
CPU_MAX_SIGNUP=$(circ_cpu "$WORK/cmax.txt" max_signup_cpu_us_%s)
CPU_MAX_EXISTING=$(circ_cpu "$WORK/cmax.txt" max_existing_cpu_us_%s)
CPU_RATE_SIGNUP=$(circ_cpu "$WORK/crate.txt" rate_signup_cpu_us_%s)
CPU_RATE_EXISTING=$(circ_cpu "$WORK/crate.txt" rate_existing_cpu_us_%s)
CPU_MEM=$(circ_cpu "$WORK/cmem.txt" mem_%s_cpu_us)
MAX_SIGNUP=$(cmax max_signup_per_s)
MAX_EXISTING=$(cmax max_existing_per_s)
BOUND_SIGNUP=$(circ_bound $CPU_MAX_SIGNUP)
BOUND_EXISTING=$(circ_bound $CPU_MAX_EXISTING)
# The lighthouse's column (4th: portal, two routers, lighthouse).
LH_MAX_SIGNUP_US=$(echo "$CPU_MAX_SIGNUP" | awk '{ print $4 }')
LH_MAX_EXISTING_US=$(echo "$CPU_MAX_EXISTING" | awk '{ print $4 }')
LOOKUP_MAX_SIGNUP_US=$(echo "$CPU_MAX_SIGNUP" | awk '{ print $5 }')
ALL_MAX_SIGNUP_US=$(echo "$CPU_MAX_SIGNUP" | awk '{ print $NF }')
ALL_MAX_EXISTING_US=$(echo "$CPU_MAX_EXISTING" | awk '{ print $NF }')
LOOKUP_MAX_EXISTING_US=$(echo "$CPU_MAX_EXISTING" | awk '{ print $5 }')
# Does a build with an existing account involve the lookup service (a
# claim per build)? Decided by what the lookup service spent on it.
if [ "$(calc "%d" "$LOOKUP_MAX_EXISTING_US > 0.25 * $LOOKUP_MAX_SIGNUP_US")" = 1 ]; then
	CLAIM_EXISTING=1
	LH_CRYPTO_US=$(calc "%.1f" "$CC_SERVER_US + $RC_SRC_US + $RC_DST_US")
	LOOKUP_CRYPTO_EXISTING=$LOOKUP_CRYPTO_US
else
	CLAIM_EXISTING=0
	LH_CRYPTO_US=$CC_SERVER_US
	LOOKUP_CRYPTO_EXISTING=—
fi

# runq_sum FILE PREFIX: run-queue waits of a median round, ms, over the
# path and the lookup service.
runq_sum() {
	t=0
	for n in $MEM_NODES; do
		t=$(calc "%.1f" "$t + $(get "$1" "${2}_runq_wait_ms_$n")")
	done
	echo "$t"
}
RUNQ_SIGNUP=$(runq_sum "$WORK/crate.txt" rate_signup)
RUNQ_EXISTING=$(runq_sum "$WORK/crate.txt" rate_existing)
RUNQ_MAX_SIGNUP=$(runq_sum "$WORK/cmax.txt" max_signup)
# Nodes that hold another role on the path than their own (a lighthouse forwarding).
LH_FORWARDERS=
for n in $MEM_NODES; do
	if [ "$(cmem "mem_${n}_role")" = router ]; then
		case $(cmem "mem_${n}_roles") in
		*lighthouse*) LH_FORWARDERS="$LH_FORWARDERS $n" ;;
		esac
	fi
done
LH_FORWARDERS=${LH_FORWARDERS# }
# runs N: "1 run", "3 runs"
runs() {
	if [ "$1" = 1 ]; then echo "1 run"; else echo "$1 runs"; fi
}
RUNQ_WORST=$(for n in $MEM_NODES; do echo "$(crate "rate_signup_runq_wait_ms_$n") $n"; done |
	sort -g | tail -n 1 | awk '{ printf "%s ms at %s", $1, $2 }')
P99_SIGNUP=$(crate rate_signup_p99_ms)
P99_EXISTING=$(crate rate_existing_p99_ms)
RATE_OFFERED=$(calc "%g" "$(crate rate_offered_per_s)")
# The latest any of the rate rounds' CREATEs left, ms.
LATE_MAX=$( (crate rate_signup_late_max_ms_runs; crate rate_existing_late_max_ms_runs) |
	tr , '\n' | sort -g | tail -n 1)
if [ "$(calc "%d" "$P99_SIGNUP < $RATE_AIM_MS && $P99_EXISTING < $RATE_AIM_MS && $(crate rate_signup_failed) + $(crate rate_existing_failed) == 0 && $(crate rate_signup_per_s) >= 0.95 * $RATE_OFFERED && $(crate rate_existing_per_s) >= 0.95 * $RATE_OFFERED")" = 1 ]; then
	RATE_AIM_TEXT="met"
elif [ "$(calc "%d" "$P99_EXISTING < $RATE_AIM_MS && $(crate rate_existing_failed) == 0")" = 1 ]; then
	RATE_AIM_TEXT="met with existing accounts, NOT met with sign-ups"
else
	RATE_AIM_TEXT="NOT met"
fi
# The largest per-circuit figure on the path (the lookup service is not on it).
MEM_WORST=0
MEM_WORST_NODE=-
for n in $MEM_NODES; do
	[ "$(cmem "mem_${n}_role")" = lookup ] && continue
	b=$(cmem "mem_${n}_circuit_bytes")
	if [ "$(calc "%d" "$b > $MEM_WORST")" = 1 ]; then
		MEM_WORST=$b
		MEM_WORST_NODE=$n
	fi
done
# The lighthouse's heap and mmap shares per circuit, a router's mmap share
# (its hash tables), and what the lighthouse's mmaps add beyond those: its
# fixed-size replay memories, filling in.
MEM_ROUTER=$(for n in $MEM_NODES; do [ "$(cmem "mem_${n}_role")" = router ] && echo "$n"; done | head -n 1)
LH_HEAP=$(cmem "mem_${CIRC_LH}_circuit_heap_bytes")
LH_MMAP=$(cmem "mem_${CIRC_LH}_circuit_mmap_bytes")
ROUTER_MMAP=$(cmem "mem_${MEM_ROUTER:-$CIRC_PORTAL}_circuit_mmap_bytes")
LH_FIXED=$((LH_MMAP - ROUTER_MMAP))
if [ "$(calc "%d" "$MEM_WORST < $MEM_AIM")" = 1 ]; then
	MEM_AIM_TEXT="**met**: at most $MEM_WORST B ($MEM_WORST_NODE)"
elif [ "$MEM_WORST_NODE" = "$CIRC_LH" ] &&
	[ "$(calc "%d" "$MEM_WORST - $LH_FIXED < $MEM_AIM")" = 1 ]; then
	MEM_AIM_TEXT="**NOT met as measured**: $MEM_WORST B at $MEM_WORST_NODE, of which $LH_FIXED B are pages of its fixed-size replay memories filling in; without them $((MEM_WORST - LH_FIXED)) B, and every other hop at most $(for n in $MEM_NODES; do [ "$n" = "$CIRC_LH" ] || [ "$(cmem "mem_${n}_role")" = lookup ] || cmem "mem_${n}_circuit_bytes"; done | sort -g | tail -n 1) B"
else
	MEM_AIM_TEXT="**NOT met**: $MEM_WORST B at $MEM_WORST_NODE"
fi
MEM_LINK=$(cmem "mem_${CIRC_PORTAL}_link_bytes")

table() {
	cat <<EOF
| Figure | Measured | Baseline (same run) | Ratio |
|---|---|---|---|
| AEAD ceiling: ChaCha20-Poly1305 IETF seal + open of a 496 B plaintext (one 512 B frame), one core | $(k "$AEAD") frames/s, $(mbs "$AEAD"); $AEAD_US µs CPU per frame (seal alone $(k "$AEAD_SEAL")/s, open alone $(k "$AEAD_OPEN")/s) | — | — |
| Link codec: \`link_seal_message\` + \`link_open_frame\`, one-frame message, no I/O | $(k "$CODEC") msgs/s | AEAD ceiling | $(ratio "$CODEC" "$AEAD") |
| Link codec + protobuf pack/unpack (a node's per-message work, less I/O) | $(k "$CODEC_PB") msgs/s | AEAD ceiling | $(ratio "$CODEC_PB" "$AEAD") |
| **One link node-0 → node-1** (\`send-discard\`, ${DISCARD_BYTES} B Discard, 1 frame each) | **$(k "$L01") frames/s**, $(mbs "$L01") | AEAD ceiling | $(ratio "$L01" "$AEAD") |
| **One link node-1 → node-0** | **$(k "$L10") frames/s**, $(mbs "$L10") | AEAD ceiling | $(ratio "$L10" "$AEAD") |
| One link, CPU per frame, sender + receiver (ratio: the AEAD's share of it) | $L01_CPU µs (0 → 1), $L10_CPU µs (1 → 0) | AEAD seal + open: $AEAD_US µs | $(ratio "$AEAD_US" "$L01_CPU"), $(ratio "$AEAD_US" "$L10_CPU") |
| Aim: ≥ 100k frames/s per direction on one link | **$AIM_TEXT** | 100k frames/s | $(ratio "$L01" "$AIM"), $(ratio "$L10" "$AIM") |
| Routed crypto: \`crypto_box_seal\` + \`crypto_sign_detached\`, then \`crypto_box_seal_open\` + \`crypto_sign_verify_detached\`, ${BODY} B body, one core | $(k "$RC") msgs/s (source $RC_SRC_US µs, destination $RC_DST_US µs) | — | — |
| Router code: \`routed_seal\` + \`routed_open\` (crypto, protobuf, allocations) | $(k "$RCODEC") msgs/s | routed crypto | $(ratio "$RCODEC" "$RC") |
| One forwarding hop, no I/O: open a frame, decode, encode, seal | $(k "$FORWARD") msgs/s | AEAD ceiling | $(ratio "$FORWARD" "$AEAD") |
| **Routed, 1 hop** node-0 → node-1 (\`send-routed\`, ${ROUTED_PAYLOAD} B payload, $FPM1 frames/msg) | **$(k "$R1") msgs/s** | routed crypto, both ends on one core: $(k "$RC"); slower end alone: $(k "$RC_SLOW") | $(ratio "$R1" "$RC"); $(ratio "$R1" "$RC_SLOW") |
| **Routed, 6 hops** node-0 → node-6 ($FPM6 frames/msg on each link) | **$(k "$R6") msgs/s**; $(k "$(calc "%.0f" "$R6 * $FPM6")") frames/s on each link, $(k "$(calc "%.0f" "$R6 * $FPM6 * $HOPS")") in all | routed crypto, both ends on one core: $(k "$RC"); slower end alone: $(k "$RC_SLOW") | $(ratio "$R6" "$RC"); $(ratio "$R6" "$RC_SLOW") |
| 6 hops vs 1 hop | $(k "$R6") msgs/s | $(k "$R1") msgs/s | $(ratio "$R6" "$R1") |
| 6 hops vs 1 hop, messages per CPU second (all nodes) | $R6_CPU µs CPU per message | $R1_CPU µs | $(ratio "$R1_CPU" "$R6_CPU") |
| 6 hops vs 1 hop slowed by the forwarders' crypto and copies (+$ADD_CRYPTO µs CPU per message) | $(k "$R6") msgs/s | $(k "$PRED_CRYPTO") msgs/s | $(ratio "$R6" "$PRED_CRYPTO") |
| 6 hops vs 1 hop slowed by the forwarders' crypto, copies and socket I/O at one link's cost per frame (+$ADD_IO µs) | $(k "$R6") msgs/s | $(k "$PRED_IO") msgs/s | $(ratio "$R6" "$PRED_IO") |
EOF
}

cpu_table() {
	cat <<EOF
| CPU µs per message | Source / sender | Each forwarder | Destination / receiver | All nodes | Time in the kernel (source / forwarders / destination) | Cores used | Bound on $NCPU idle cores |
|---|---|---|---|---|---|---|---|
| One link node-0 → node-1, per frame | $L01_TX | — | $L01_RX | $L01_CPU | $(kshare link01 0 0)% / — / $(kshare link01 1 1)% | $(calc "%.2f" "$L01 * $L01_CPU / 1e6") | $(k "$(bound "$L01_CPU" "$L01_TX" "$L01_RX")")/s |
| One link node-1 → node-0, per frame | $L10_TX | — | $L10_RX | $L10_CPU | $(kshare link10 1 1)% / — / $(kshare link10 0 0)% | $(calc "%.2f" "$L10 * $L10_CPU / 1e6") | $(k "$(bound "$L10_CPU" "$L10_TX" "$L10_RX")")/s |
| Routed, 1 hop | $R1_SRC | — | $R1_DST | $R1_CPU | $(kshare routed1 0 0)% / — / $(kshare routed1 1 1)% | $(calc "%.2f" "$R1 * $R1_CPU / 1e6") | $(k "$(bound "$R1_CPU" "$R1_SRC" "$R1_DST")")/s |
| Routed, 6 hops | $R6_SRC | $R6_FWD | $R6_DST | $R6_CPU | $(kshare routed6 0 0)% / $(kshare routed6 1 5)% / $(kshare routed6 6 6)% | $(calc "%.2f" "$R6 * $R6_CPU / 1e6") | $(k "$(bound "$R6_CPU" "$R6_SRC" "$R6_DST" "$R6_FWD")")/s |
| In process, no I/O: \`routed_seal\` / forward / \`routed_open\` | $RCODEC_SRC_US | $FORWARD_US | $RCODEC_DST_US | — | — | — | — |
| In process, no I/O: link codec + protobuf, per frame | — | — | — | $CODEC_PB_US | — | — | — |

"Cores used" is the rate times the CPU per message: how much of the
machine the path got. "Bound on $NCPU idle cores" is what that CPU per
message would allow with the whole machine: $NCPU cores' worth, and no
process faster than its own CPU per message.
EOF
}

# Where the 6-hop path's time goes, in this run's numbers.
explain() {
	ends=$(calc "%.0f" "100 * ($R6_SRC + $R6_DST) / $R6_CPU")
	fwd_sys=$(calc "%.2f" "$R6_FWD * $(kshare routed6 1 5) / 100")
	fwd_user=$(calc "%.2f" "$R6_FWD - $fwd_sys")
	cores1=$(calc "%.2f" "$R1 * $R1_CPU / 1e6")
	cores6=$(calc "%.2f" "$R6 * $R6_CPU / 1e6")
	idle1=$(bound "$R1_CPU" "$R1_SRC" "$R1_DST")
	idle6=$(bound "$R6_CPU" "$R6_SRC" "$R6_DST" "$R6_FWD")
	idle6_crypto=$(bound "$(calc "%.2f" "$R1_CPU + $ADD_CRYPTO")" "$R1_SRC" "$R1_DST" "$FORWARD_US")
	cat <<EOF
One link: a frame costs the sender $L01_TX µs of CPU ($(kshare link01 0 0)%
of it system time) and the receiver $L01_RX µs ($(kshare link01 1 1)%),
against $AEAD_US µs to seal and open it and $CODEC_PB_US µs for the whole
codec with protobuf in process, so the AEAD is $(ratio "$AEAD_US" "$L01_CPU")
of the link's CPU per frame. The rest is socket work: \`node_send\` seals
each message into its connection's output buffer, which is written once
per event-loop turn (or at 16 KiB), so a burst of frames costs one
\`write()\`. How much the socket work costs still depends on batching at
the receiver: with a core to itself it wakes for every few frames and
every read sends the sender ACKs and window updates to process, while on a
busy machine frames pile up between its wakeups. So the per-frame cost can
be lower, and the rate higher, on a loaded machine than on an idle one (the
load average above says which this was).

A routed message is sealed and signed once, at the source, and opened and
verified once, at the destination; each node between only opens one link
frame, decodes it, takes one off the hop limit, encodes it and seals it
again. In this run a 6-hop message cost $R6_CPU µs of CPU over the seven
nodes: $R6_SRC µs at the source and $R6_DST µs at the destination ($ends%
of it; mostly the X25519 and Ed25519 work of \`crypto_box_seal\`,
\`crypto_sign_detached\` and their inverses, which take $RC_SRC_US and
$RC_DST_US µs in the raw libsodium figure) and $R6_FWD µs at each of the
five forwarders.

Of a forwarder's $R6_FWD µs, $fwd_sys µs ($(kshare routed6 1 5)%) are
system time and $fwd_user µs user time; its crypto, protobuf and copies
take $FORWARD_US µs in process. The rest is socket work: at $(k "$R6")
msgs/s a forwarder wakes for every message or few, so its reads and
writes carry far fewer frames each than on a flooded link.
EOF
	if [ "$(calc "%d" "$R6_FWD > 1.25 * $L01_CPU")" = 1 ]; then
		cat <<EOF
That is more than a flooded link pays per frame sent and received
($L01_CPU µs), which reads many frames per wakeup.
EOF
	else
		cat <<EOF
That is about what a flooded link pays per frame sent and received
($L01_CPU µs).
EOF
	fi
	cat <<EOF

The 6-hop path carried $(k "$R6") msgs/s, $(ratio "$R6" "$R1") of the 1-hop
path's $(k "$R1"), for $(ratio "$R6_CPU" "$R1_CPU") times the CPU per
message. Scaled from the 1-hop rate by the CPU the forwarders add, their
crypto and copies alone predict $(k "$PRED_CRYPTO") msgs/s and crypto,
copies and socket work at one link's cost per frame predict
$(k "$PRED_IO") msgs/s; the measured rate is $(ratio "$R6" "$PRED_CRYPTO")
and $(ratio "$R6" "$PRED_IO") of these.
EOF
	if [ "$(calc "%d" "$R6 >= 0.9 * $PRED_IO")" = 1 ]; then
		cat <<EOF
The path loses no more than the forwarders' extra work explains, and
most of that work is socket I/O rather than crypto and copies.
EOF
	else
		cat <<EOF
The path loses more than the forwarders' extra work explains; the rest is
the hand-over of every message through the kernel between seven
processes on $NCPU cores (wakeups and scheduling).
EOF
	fi
	cat <<EOF

The comparison scales by CPU because the machine may be shared: the 6-hop
path kept $cores6 cores busy against $cores1 for 1 hop.
EOF
	if [ "$(calc "%d" "$cores6 > $cores1 + 0.1")" = 1 ]; then
		echo "Seven busy processes get a larger share of a shared machine than two."
	fi
	cat <<EOF
On $NCPU idle cores the CPU per
message would bound 1 hop at $(k "$idle1") msgs/s (each end has a core to
itself) and 6 hops at $(k "$idle6") msgs/s (seven processes share the
cores), a ratio of $(ratio "$idle6" "$idle1"); with forwarders that cost
only their crypto and copies it would be $(ratio "$idle6_crypto" "$idle1").
The ends stay the slow stages, each needing about
$(calc "%.0f" "($R6_SRC + $R6_DST) / 2 / $R6_FWD") times a forwarder's CPU
per message.
EOF
}

circ_table() {
	cat <<EOF
| Figure | Measured | Baseline (same run) | Ratio |
|---|---|---|---|
| Circuit build crypto in process: \`circ_client_create\` + \`circ_server_open\` + \`circ_server_accept\` + \`circ_client_finish\`, one core | $(k "$CC_BUILD") builds/s, $CC_BUILD_US µs CPU (client create $CC_CREATE_US, lighthouse open + accept $CC_SERVER_US, client finish $CC_FINISH_US; a sign-up's certificate $CC_CERT_US more) | — | — |
| **Max build rate, sign-ups** ($CIRC_MAX_COUNT builds per run, $(runs "$CIRC_RUNS"), $CIRC_WINDOW CREATEs in flight) | **$(k "$MAX_SIGNUP") builds/s**; latency p50 $(ms "$(cmax max_signup_p50_ms)") ms, p99 $(ms "$(cmax max_signup_p99_ms)") ms | build crypto on one core: $(k "$CC_BUILD")/s; CPU per build on $NCPU idle cores: $(k "$BOUND_SIGNUP")/s | $(ratio "$MAX_SIGNUP" "$CC_BUILD"); $(ratio "$MAX_SIGNUP" "$BOUND_SIGNUP") |
| **Max build rate, existing accounts** | **$(k "$MAX_EXISTING") builds/s**$(if [ "$(calc "%d" "$MAX_EXISTING >= 0.9 * $(cmem limit_lh_create_rate)")" = 1 ]; then echo " (at the lighthouse's CREATE bound, $(cmem limit_lh_create_rate)/s: a round runs on its one-second burst)"; fi); p50 $(ms "$(cmax max_existing_p50_ms)") ms, p99 $(ms "$(cmax max_existing_p99_ms)") ms | build crypto on one core: $(k "$CC_BUILD")/s; CPU per build on $NCPU idle cores: $(k "$BOUND_EXISTING")/s | $(ratio "$MAX_EXISTING" "$CC_BUILD"); $(ratio "$MAX_EXISTING" "$BOUND_EXISTING") |
| **$RATE_OFFERED builds/s offered, sign-ups** ($CIRC_SECONDS s, $(runs "$CIRC_RATE_RUNS")): achieved | $(crate rate_signup_per_s) builds/s, $(crate rate_signup_failed) of $(crate rate_signup_builds) failed | offered: $RATE_OFFERED/s | $(ratio "$(crate rate_signup_per_s)" "$RATE_OFFERED") |
| latency p50 / p90 / **p99** / max | $(ms "$(crate rate_signup_p50_ms)") / $(ms "$(crate rate_signup_p90_ms)") / **$(ms "$P99_SIGNUP")** / $(ms "$(crate rate_signup_max_ms)") ms (p99 of each run: $(crate rate_signup_p99_ms_runs | sed 's/,/, /g')) | aim: p99 under $RATE_AIM_MS ms | $(ratio "$P99_SIGNUP" "$RATE_AIM_MS") |
| **$RATE_OFFERED builds/s offered, existing accounts**: achieved | $(crate rate_existing_per_s) builds/s, $(crate rate_existing_failed) of $(crate rate_existing_builds) failed | offered: $RATE_OFFERED/s | $(ratio "$(crate rate_existing_per_s)" "$RATE_OFFERED") |
| latency p50 / p90 / **p99** / max | $(ms "$(crate rate_existing_p50_ms)") / $(ms "$(crate rate_existing_p90_ms)") / **$(ms "$P99_EXISTING")** / $(ms "$(crate rate_existing_max_ms)") ms (p99 of each run: $(crate rate_existing_p99_ms_runs | sed 's/,/, /g')) | aim: p99 under $RATE_AIM_MS ms | $(ratio "$P99_EXISTING" "$RATE_AIM_MS") |
| Aim: p99 build latency under $RATE_AIM_MS ms at 100 builds/s on loopback (sign-ups, existing accounts) | **$RATE_AIM_TEXT** | $RATE_AIM_MS ms | $(ratio "$P99_SIGNUP" "$RATE_AIM_MS"), $(ratio "$P99_EXISTING" "$RATE_AIM_MS") |
EOF
	for n in $MEM_NODES; do
		role=$(cmem "mem_${n}_role")
		case $role in
		portal) what="portal $n (the circuit table; its client links are below)"
			base="\`struct circuit\`: $CIRCUIT_STRUCT B"
			b0=$CIRCUIT_STRUCT ;;
		router) what="router $n"
			case $(cmem "mem_${n}_roles") in
			*lighthouse*) what="$what (a lighthouse too, only forwarding these)" ;;
			esac
			base="\`struct circuit\`: $CIRCUIT_STRUCT B"
			b0=$CIRCUIT_STRUCT ;;
		lighthouse) what="lighthouse $n (circuit, keys, binding, account, certificate)"
			base="\`struct circuit\` + \`struct lh_circuit\`: $((CIRCUIT_STRUCT + LH_CIRCUIT_STRUCT)) B"
			b0=$((CIRCUIT_STRUCT + LH_CIRCUIT_STRUCT)) ;;
		*) what="lookup service $n (off the path: one home per sign-up)"
			base="—"
			b0= ;;
		esac
		cb=$(cmem "mem_${n}_circuit_bytes")
		echo "| **Memory per circuit**, $what | **$cb B**: heap $(cmem "mem_${n}_circuit_heap_bytes") B + mmaps $(cmem "mem_${n}_circuit_mmap_bytes") B (RSS: $(cmem "mem_${n}_circuit_rss_bytes") B; $(cmem "mem_${n}_circuits") circuits held) | $base | $([ -n "$b0" ] && ratio "$cb" "$b0" || echo —) |"
	done
	cat <<EOF
| Aim: under 1 KiB of state per circuit per hop ($MEM_N circuits on one portal) | $MEM_AIM_TEXT | $MEM_AIM B | $(ratio "$MEM_WORST" "$MEM_AIM") |
| Memory per client link at the portal, idle ($MEM_LINKS links, no circuit) | $MEM_LINK B (RSS: $(cmem "mem_${CIRC_PORTAL}_link_rss_bytes") B); $(calc "%.0f" "$MEM_LINK / 16") B per circuit when a link carries 16 | \`struct conn\`: $CONN_STRUCT B | $(ratio "$MEM_LINK" "$CONN_STRUCT") |
| Keeping the $MEM_N circuits and $MEM_LINKS links open, idle, $(cmem mem_hold_seconds) s: CPU per second | $(hold_text) | — | — |
| Tearing them down: all $MEM_LINKS links close at once, until no hop holds a circuit | $(calc "%.0f" "$(cmem mem_teardown_ms)") ms; CPU $(teardown_text) | — | — |
EOF
}

# "portal node-11 8.5 ms, ..." from the memory phase's KEY figures (%s: node).
node_list() {
	out=
	for n in $MEM_NODES; do
		out="$out, $(cmem "mem_${n}_role") $n $(calc "%.1f" "$(cmem "$(printf "$1" "$n")")") ms"
	done
	echo "${out#, }"
}
hold_text() {
	node_list "mem_%s_hold_cpu_ms_per_s"
}
teardown_text() {
	node_list "mem_%s_teardown_cpu_ms"
}

circ_cpu_table() {
	head="| CPU µs per build |"
	sep="|---|"
	for n in $MEM_NODES; do
		head="$head $(cmem "mem_${n}_role") $n |"
		sep="$sep---|"
	done
	echo "$head client (load generator) | All | Bound on $NCPU idle cores |"
	echo "$sep---|---|---|"
	row() {
		printf "| %s |" "$1"
		shift
		for v in "$@"; do
			printf " %s |" "$v"
		done
		echo " $(k "$(circ_bound "$@")")/s |"
	}
	row "Max rate, sign-ups" $CPU_MAX_SIGNUP
	row "Max rate, existing accounts" $CPU_MAX_EXISTING
	row "$RATE_OFFERED builds/s, sign-ups" $CPU_RATE_SIGNUP
	row "$RATE_OFFERED builds/s, existing accounts" $CPU_RATE_EXISTING
	row "$MEM_N circuits (memory phase, sign-ups)" $CPU_MEM
	printf "| In process, crypto only (sign-up / existing) |"
	for n in $MEM_NODES; do
		case $(cmem "mem_${n}_role") in
		portal | router) printf " %s |" "$FWD_CRYPTO_US" ;;
		lighthouse) printf " %s / %s |" "$LH_CRYPTO_SIGNUP_US" "$LH_CRYPTO_US" ;;
		*) printf " %s / %s |" "$LOOKUP_CRYPTO_US" "$LOOKUP_CRYPTO_EXISTING" ;;
		esac
	done
	echo " $CC_FINISH_US | — | — |"
	cat <<EOF

The crypto-only row: each forwarder opens, decodes, encodes and seals two
cells (CREATE, CREATED; the forward figure twice); the lighthouse opens and
answers the CREATE ($CC_SERVER_US µs) and, for a sign-up$([ "$CLAIM_EXISTING" = 1 ] && echo " (and, as measured, for an existing account too)"), seals and
signs the claim it sends the lookup service and opens its answer (a routed
message each way: $RC_SRC_US + $RC_DST_US µs) and signs a certificate
($CC_CERT_US µs, sign-ups only); the lookup service opens the claim and
seals the answer;
the load generator verifies the CREATED (\`circ_client_finish\`; its
CREATEs were made before the clock started). "Bound on $NCPU idle cores" is
what the CPU per build would allow with the whole machine and no process
faster than its own CPU per build. At $RATE_OFFERED builds/s the per-build
CPU includes every wakeup and the keep-alives of the idle links, which
max rate spreads over many builds.
EOF
}

circ_explain() {
	BT='`' # a backquote, for code names inside \$(...) below
	lh_share=$(calc "%.0f" "100 * $LH_MAX_SIGNUP_US / $ALL_MAX_SIGNUP_US")
	lh_rest=$(calc "%.0f" "$LH_MAX_EXISTING_US - $LH_CRYPTO_US")
	claim_share=$(calc "%.0f" "100 * ($RC_SRC_US + $RC_DST_US + $LOOKUP_CRYPTO_US) / $ALL_MAX_EXISTING_US")
	lh_alone=$(calc "%.0f" "1e6 / $LH_MAX_EXISTING_US")
	# router/circuit.c: 1024 buckets, doubled while circuits outnumber them.
	buckets=1024
	while [ "$buckets" -lt "$MEM_N" ]; do buckets=$((buckets * 2)); done
	chunk=$(( (CIRCUIT_STRUCT + 8 + 15) / 16 * 16 ))
	cat <<EOF
Path: $CIRC_PATH, $CIRC_HOPS hops as \`topo_next_hop\` routes a CREATE
for $CIRC_LH; a routed \`ctl ping $CIRC_LH\` from $CIRC_PORTAL counts
$PING_HOPS hops (there and back).$([ -z "$LH_FORWARDERS" ] || echo " $LH_FORWARDERS holds the lighthouse role too, but for these circuits only forwards.") A sign-up adds a routed round trip from
the lighthouse to the lookup service on node-0 (its parent) before the
CREATED goes back.

Where a build's time goes: at max rate a sign-up cost $ALL_MAX_SIGNUP_US µs
of CPU over all processes, $lh_share% of it at the lighthouse
($LH_MAX_SIGNUP_US µs, of which its crypto is $LH_CRYPTO_SIGNUP_US µs: the
CREATE, the claim at the lookup service and its answer, the certificate)
and $LOOKUP_MAX_SIGNUP_US µs at the lookup service, whose routed crypto is
$LOOKUP_CRYPTO_US µs. A build with an existing account cost
$ALL_MAX_EXISTING_US µs, $(ratio "$ALL_MAX_SIGNUP_US" "$ALL_MAX_EXISTING_US") times less than a sign-up; the lighthouse spent
$LH_MAX_EXISTING_US µs, of which its crypto is $LH_CRYPTO_US µs and the
remaining $lh_rest µs SQLite (a binding row), protobuf and socket work.
$(if [ "$CLAIM_EXISTING" = 1 ]; then
	echo "The lookup service spent $LOOKUP_MAX_EXISTING_US µs on it: the lighthouse claims a known nickname again on every build (${BT}on_create${BT}, lighthouse/lighthouse.c), so two routed messages' public keys — sealed, signed, opened and verified at both ends — are $claim_share% of the CPU of such a build."
else
	echo "The lookup service spent $LOOKUP_MAX_EXISTING_US µs on it: a lighthouse claims a nickname only when it signs it up (${BT}on_create${BT}, lighthouse/lighthouse.c)."
fi) The lighthouse alone would allow $(k "$lh_alone") builds/s with existing
accounts and $(k "$(calc "%.0f" "1e6 / $LH_MAX_SIGNUP_US")") sign-ups/s on a core of its own. The live rate is
$(ratio "$MAX_EXISTING" "$CC_BUILD") of the build crypto's rate on one
core; the machine has $NCPU cores for the load generator and the fifteen
nodes, and the whole build's CPU bounds it at $(k "$BOUND_EXISTING")/s,
$(ratio "$MAX_EXISTING" "$BOUND_EXISTING") of which it reached. In a
median sign-up round at max rate
($(calc "%.2f" "$(cmax max_signup_seconds)") s) the processes on the path
and the lookup service waited $RUNQ_MAX_SIGNUP ms in all on run queues for
a core that something else held.

Latency at $RATE_OFFERED builds/s: a build with an existing account took
$(ms "$(crate rate_existing_p50_ms)") ms at the median — eight link
traversals (client, portal, two routers, lighthouse and back), the
lighthouse's $CC_SERVER_US µs of circuit crypto and its SQLite write, the
client's check — and a sign-up
$(ms "$(crate rate_signup_p50_ms)") ms, the difference being the claim's
round trip to the lookup service and two more SQLite writes. Here $NCPU cores
carry the load generator and fifteen nodes, and whatever else runs on the
machine (see the load average above): in a median round the processes on
the path and the lookup service waited $RUNQ_SIGNUP ms in all on run
queues for a core (sign-ups; $RUNQ_EXISTING ms with existing accounts),
the most of them $RUNQ_WORST, and the load generator's own CREATEs left
up to $(ms "$LATE_MAX") ms after their time (of
all the rate rounds' CREATEs, $(crate rate_signup_late) with sign-ups and
$(crate rate_existing_late) with existing accounts more than 1 ms late). The raw output lists the slowest builds of every round with the
second they were sent and where that fell in the lighthouse's 10-second
database tick: a run of builds sent 10 ms apart that finish together is
one stalled process or link, not slow builds. The testbed's links between
nodes retransmitted $RATE_RETRANS TCP segment(s) during the rate phase (a
retransmission on loopback waits at least 200 ms).

Memory: each forwarding hop holds one \`struct circuit\` per circuit
($CIRCUIT_STRUCT B, $chunk B with malloc's header: the heap share) and its
share of two hash tables (\`by_in\`, \`by_out\` in router/circuit.c: a
pointer each per bucket, $buckets buckets for $MEM_N circuits,
$((2 * 8 * buckets / MEM_N)) B a circuit; malloc maps tables that large
with mmap), about $((chunk + 2 * 8 * buckets / MEM_N)) B in all. The
lighthouse's heap adds its \`struct lh_circuit\` ($LH_CIRCUIT_STRUCT B)
and, for a sign-up, the SQLite pages of an account, a certificate and a
binding (its page cache is bounded, 2 MiB by default, so this part stops
growing): $LH_HEAP B a circuit in all. Its mmaps grew by
$LH_MMAP B a circuit, $LH_FIXED B more than a router's: its two replay
memories, fixed-size tables whose pages become resident as random keys land
in them (\`util_replay_check\`, util/replay.c: two generations of 8-byte
slots, the older cleared with memset at each switch, which makes it all
resident) — the ephemeral keys of CREATEs (LH_SEEN_SLOTS,
$(cmem limit_lh_seen_slots) slots, $(calc "%.1f" "$(cmem limit_lh_seen_slots) * 8 / 1048576") MiB a generation, of which
$MEM_N random keys touch $(calc "%.0f" "100 * (1 - exp(-$MEM_N / ($(cmem limit_lh_seen_slots) * 8 / 4096)))")% of the pages) and the routed messages
addressed to it (REPLAY_SLOTS, $(cmem limit_routed_replay_slots) slots,
$(calc "%.1f" "$(cmem limit_routed_replay_slots) * 8 / 1048576") MiB a generation). Once they have filled in they stay
resident whatever the load, and a circuit then costs the lighthouse about
$((LH_HEAP + ROUTER_MMAP)) B. The lookup service keeps a home per nickname
in SQLite; its mmaps are its own routed replay memory filling in. The portal's client links cost more than the circuits on them:
$MEM_LINK B per idle link, \`struct conn\` ($CONN_STRUCT B) and the
pages of the 16 KiB output buffer each connection keeps once it has sent
anything (\`out_reserve\`, node/send.c; only the pages written so far are
resident, so under load it can hold all 16 KiB). A ua that keeps one
circuit on its own link costs the portal that much per user.

Keeping the circuits costs little CPU: the portal mostly sends and reads
keep-alives on its $MEM_LINKS client links, the lighthouse once every ten
seconds marks every live binding fresh in one UPDATE
(\`lh_store_bindings_refresh_epoch\`, from its timer in
lighthouse/lighthouse.c). Tearing them down costs more: for each circuit
the lighthouse marks its binding stale, one UPDATE
(\`lh_store_binding_mark_stale_circuit\` from \`on_destroy\`), and looks
for another live circuit of the nickname by walking all of them
(\`lh_circuit_other\`, lighthouse/circuits.c), so losing N circuits at
once costs it N × N/2 steps; and every hop runs \`circuit_on_link_down\` (router/circuit.c) for each link that
closes, which walks every circuit the hop holds, so a portal losing all its
clients at once does clients × circuits steps.

Bounds the load stays under: a portal takes at most
$(cmem limit_client_create_rate) CREATEs a second from one client link,
$(cmem limit_client_create_burst) in a burst
(\`circuit_table_client_allow_create\`, router/circuit.c:
ROUTER_CLIENT_CREATE_RATE, _BURST), and a lighthouse at most
$(cmem limit_lh_create_rate) a second (\`create_allowed\`,
lighthouse/lighthouse.c: LH_CREATE_RATE); beyond them CREATEs are refused
with DESTROY_LIMIT. No link here sends more than 16 CREATEs, and the max
rate above is $(ratio "$MAX_EXISTING" "$(cmem limit_lh_create_rate)") of
the lighthouse's bound.$(if [ "$(calc "%d" "$MAX_EXISTING >= 0.9 * $(cmem limit_lh_create_rate)")" = 1 ]; then
	echo " That is the bound itself: the lighthouse's budget holds one second's worth of CREATEs, so a round of $CIRC_MAX_COUNT builds runs on the burst, and a longer one would be held to $(cmem limit_lh_create_rate) builds/s."
fi)
EOF
}

# The key link and circuit figures, "key value" lines, for bench_report.py.
linkcircuit() {
	cat <<EOF
date $DATE
machine $CPU_MODEL, $NCPU cores available; $(uname -sr)
load_before $LOAD0
load_after $LOAD1
commit $COMMIT
aead $AEAD
link01 $L01
link10 $L10
routed1 $R1
routed6 $R6
routed_crypto $RC
link_aim $AIM_TEXT
circ_crypto $CC_BUILD
circ_max_signup $MAX_SIGNUP
circ_max_existing $MAX_EXISTING
circ_rate $RATE_OFFERED
circ_signup_p50 $(crate rate_signup_p50_ms)
circ_signup_p99 $P99_SIGNUP
circ_existing_p50 $(crate rate_existing_p50_ms)
circ_existing_p99 $P99_EXISTING
circ_rate_aim $RATE_AIM_TEXT
mem_worst $MEM_WORST
mem_worst_node $MEM_WORST_NODE
mem_aim $(echo "$MEM_AIM_TEXT" | tr -d '*' | tr '\n' ' ')
EOF
}

document() {
	cat <<EOF
# Benchmarks

Written by \`make bench\` (\`scripts/bench.sh\`, \`bench/anosip-bench.c\` and
\`bench/circuit_load.c\`); run \`make bench\` again to refresh it rather
than editing it by hand.

- Date: $DATE
- Machine: $CPU_MODEL, $NCPU cores available ($(nproc --all) installed);
  $(uname -sr); load average $LOAD0 before the run and $LOAD1 after
- libsodium $SODIUM; commit $COMMIT
- Method: every figure is the median of $RUNS runs taken in this one run of
  the benchmark, and every ratio compares figures from this run, because
  the machine is shared and its absolute speed moves with the load. The
  in-process figures (\`anosip-bench\`) run $(inproc bench_seconds) s each
  and are per wall-clock second; the raw output below also has them per CPU
  second. The live figures come from a 6x1 testbed — a chain node-0 …
  node-6, one process per node, TCP over loopback: a flood sized to last
  about $TARGET_S s, timed from the \`ctl\` call until the receiver's
  counter (\`discard_in\` or \`routed_discard_in\`) has grown by the count,
  polled every $POLL_S s. CPU per message is each node's CPU time
  (\`/proc/PID/schedstat\`) over the run divided by the messages delivered;
  the kernel's share comes from \`/proc/PID/stat\` (clock ticks, so rough).
- Frames are $(inproc aead_frame_bytes) B on the wire. Routed floods use
  the largest payload ($ROUTED_PAYLOAD B) whose message fits one frame
  whatever its random message id, so each hop carries one frame per
  message. (\`send-routed\`'s default of 400 B takes two.)
- Losses over all live runs: $LOST messages not delivered, $DROPS drops
  counted by the nodes.

## Results

$(table)

## Where the cost goes

$(cpu_table)

$(explain | fmt -w 78)

## Circuits

Command: \`make bench\` runs \`anosip-bench circuit-load\`
(\`bench/circuit_load.c\`), a single-process load generator (one epoll
loop) that links to portal $CIRC_PORTAL as anonymous clients, as a ua does,
and builds circuits to lighthouse $CIRC_LH, one nickname per circuit
(\`bench-RUN-I\`; its first build signs it up). It keeps the portal's
bounds: at most 4 CREATEs in flight and 16 circuits per client link, so a
round of N builds opens N/16 links, and circuits stay open until the round
ends. Topology: \`anosip testbed up --tree $CIRC_TREE\` — node-0 the lookup
service, node-1 and node-2 lighthouses, node-3 … node-6 routers, node-7 …
node-14 portals — started fresh for each of the three phases:

1. memory: $MEM_N circuits open at once over $MEM_LINKS client links (built
   with $CIRC_WINDOW CREATEs in flight, at $(k "$MEM_RATE") builds/s);
   \`Private_Dirty\` (and \`Rss\`) from \`/proc/PID/smaps_rollup\` of
   every node on the path and of the lookup service, before any link, with
   the links open and idle for 1.5 s, and 1.5 s after the last circuit was
   built; per link (second minus first) / links, per circuit (third minus
   second) / circuits; split by \`/proc/PID/smaps\` into the heap
   (malloc's small blocks) and anonymous mmaps (its blocks of 128 KiB and
   more: hash tables, replay memories); then the CPU of keeping them open
   $CIRC_HOLD s and of tearing them down;
2. rate: $RATE_OFFERED builds/s for $CIRC_SECONDS s on an open-loop
   schedule (build i is sent at i/$RATE_OFFERED s, whatever happened to the
   others), first with fresh nicknames (sign-ups), then the same nicknames
   again (existing accounts); $(runs "$CIRC_RATE_RUNS"), medians;
3. max: $CIRC_MAX_COUNT builds with $CIRC_WINDOW CREATEs in flight over all
   links, sign-ups then existing accounts; $(runs "$CIRC_RUNS"), medians.

A build's latency runs from the \`write()\` of its CREATE to the CREATED
verified by \`circ_client_finish\`; the CREATE requests of a round are made
before it starts. CPU per build comes from each process's
\`/proc/PID/schedstat\` over a round. Failed builds over all circuit
phases: $CIRC_FAILED; drops counted by the circuit testbeds' nodes:
$CIRC_DROPS.

$(circ_table)

$(circ_cpu_table)

$(circ_explain | fmt -w 78)

$(cat "$WORK/sip.md")

$(cat "$WORK/hops.md")

$(cat "$WORK/users.md")

$(cat "$WORK/sim.md")

## Raw output

In process (\`anosip-bench --runs $RUNS all\`):

\`\`\`
$(cat "$WORK/inproc.txt")
\`\`\`

Live runs: series, run, msgs/s, frames per message at the receiver,
delivered, sent, drops, CPU µs per message of node-0 … node-6, then the
user and the system clock ticks of node-0 … node-6.

\`\`\`
$(cat "$WORK/runs.txt")
\`\`\`

Circuits: memory (\`circuit-load --mode memory\`; the three kB figures are
before any link, with the links, with the circuits), then rate and max
(medians and each run's figures; the slowest builds of each round as
latency@second sent).

\`\`\`
$(cat "$WORK/cmem.txt")
\`\`\`

\`\`\`
$(grep -v '_run[0-9]*_' "$WORK/crate.txt"; grep '_run[0-9]*_slowest' "$WORK/crate.txt")
\`\`\`

\`\`\`
$(grep -v '_run[0-9]*_' "$WORK/cmax.txt"; grep '_run[0-9]*_slowest' "$WORK/cmax.txt")
\`\`\`
EOF
}

document >"$WORK/benchmarks.md"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/benchmarks.md" "$OUT"

echo
table
echo
cpu_table
echo
explain | fmt -w 78
echo
circ_table
echo
circ_cpu_table
echo
circ_explain | fmt -w 78
echo
echo
cat "$WORK/sip.md"
echo
cat "$WORK/hops.md"
echo
cat "$WORK/users.md"
echo
cat "$WORK/sim.md"
echo "bench: written to $OUT"

# --- 8. the report --------------------------------------------------------------

linkcircuit >"$WORK/linkcircuit.txt"
mark figures
say "report: $REPORT_DIR/report.md and its figures (scripts/bench_report.py)"
python3 scripts/bench_report.py "$WORK" "$REPORT_DIR" "$OUT"
echo "bench: report written to $REPORT_DIR/report.md"
echo "bench: done"
