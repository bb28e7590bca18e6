#!/bin/sh
# Benchmarks for `make bench`: frames and bytes per second through one link
# and through a 6-hop routed path, each next to a ceiling measured in the
# same run, and the ratios; the table goes to stdout and docs/benchmarks.md.
#
# Usage: scripts/bench.sh BUILD_DIR
#   BUILD_DIR holds anosip and bench/anosip-bench (the Makefile builds both).
#
#   1. In process (bench/anosip-bench all): the raw AEAD rate for one frame
#      (the ceiling), the link codec, one forwarding hop, the routed
#      message's crypto and the router's own seal/open code.
#   2. Live: a 6x1 testbed (a chain node-0 ... node-6 on loopback) in a
#      temporary folder, always taken down again. Floods of link Discards
#      over node-0 -> node-1 and back, and of routed Discards over 1 hop
#      (node-0 -> node-1) and 6 hops (node-0 -> node-6). A run is timed from
#      the ctl call until the receiver's counter has grown by the count
#      (polled every 50 ms, with a stall and an overall timeout); the CPU
#      each node used comes from /proc/PID/schedstat.
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
set -eu

cd "$(dirname "$0")/.."

BUILD=${1:?usage: scripts/bench.sh BUILD_DIR}
ANOSIP=$BUILD/anosip
BENCH=$BUILD/bench/anosip-bench
RUNS=${BENCH_RUNS:-3}
TARGET_S=${BENCH_TARGET_SECONDS:-2}
OUT=${BENCH_OUT:-docs/benchmarks.md}
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

for f in "$ANOSIP" "$BENCH"; do
	if [ ! -x "$f" ]; then
		echo "bench: $f is missing (run make bench)" >&2
		exit 1
	fi
done

say() {
	echo "bench: $*" >&2
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
cleanup() {
	if [ -f "$DIR/authority.pub" ]; then
		"$ANOSIP" testbed down --dir "$DIR" >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. in process ---------------------------------------------------------

LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
say "in-process: aead, codec, forward, routed-crypto, routed-codec ($RUNS runs each)"
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

document() {
	cat <<EOF
# Benchmarks

Written by \`make bench\` (\`scripts/bench.sh\` and \`bench/anosip-bench.c\`);
run \`make bench\` again to refresh it rather than editing it by hand.

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
echo "bench: written to $OUT"
echo "bench: done"
