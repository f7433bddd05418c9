#!/bin/sh
# bench/run.sh — the benchmark suite: pktmem beside DPDK, glibc, jemalloc
# and mimalloc (whichever are installed: bench/install-peers.sh), every row
# of issue #6, with its goal and whether it is met.
#
#   bench/run.sh                  build (Release, build-bench/), 5 timed processes + 1 callgrind run
#   bench/run.sh -k 9             9 timed processes
#   bench/run.sh --no-callgrind   no instruction counts
#   bench/run.sh --callgrind-only only the instruction counts (stable on a noisy machine)
#   bench/run.sh -o DIR           results in DIR (default build-bench/results)
#   bench/run.sh -- --ms 20       options after -- go to every bench_suite process
#   bench/run.sh -t bench_mbuf    a single-file benchmark instead (bench/run-one.sh; also -b BINARY)
#
# Prints the Markdown table and writes DIR/bench-suite.md (ready to paste
# into docs/PERFORMANCE.md) and DIR/bench-suite.json; each process's own
# JSON and the callgrind dumps stay in DIR/runs/. Timings on a shared VM
# flip between processes: the table gives the median over the processes of
# each process's median, and each row's ratio is the median of the
# per-process ratios with their range. Instruction counts do not flip.
# Needs sh, python3 and (to build) cmake and a C compiler; valgrind for
# the instruction counts.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

for a in "$@"; do
	case $a in
	-t | -b | -t* | -b*) exec "$root/bench/run-one.sh" "$@" ;;
	--) break ;;
	esac
done

usage() {
	sed -n '2,21s/^# \{0,1\}//p' "$0"
	exit "$1"
}

procs=5
callgrind=yes
timed=yes
build=${BUILD_DIR:-$root/build-bench}
out=
while [ $# -gt 0 ]; do
	case $1 in
	-k) procs=${2:?-k needs a number}; shift 2 ;;
	-o) out=${2:?-o needs a directory}; shift 2 ;;
	--no-callgrind) callgrind=no; shift ;;
	--callgrind-only) timed=no; shift ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	*) usage 2 >&2 ;;
	esac
done
case $procs in '' | *[!0-9]* | 0) echo "run.sh: -k needs a positive number" >&2; exit 2 ;; esac
out=${out:-$build/results}

echo "building bench_suite (Release) in $build ..." >&2
log=${TMPDIR:-/tmp}/run.sh.$$.log
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
	cmake --build "$build" --target bench_suite -j2; } >"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	exit 1
fi
grep 'bench_suite' "$log" >&2 || true
rm -f "$log"
bin=$build/bench_suite

rm -rf "$out/runs"
mkdir -p "$out/runs"
# jemalloc is dlopen()ed; its initial-exec TLS needs spare static TLS.
GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.rtld.optional_static_tls=16384
export GLIBC_TUNABLES

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
if [ "$timed" = yes ]; then
	i=1
	while [ "$i" -le "$procs" ]; do
		printf 'process %d/%d ...\n' "$i" "$procs" >&2
		"$bin" --quiet --json "$out/runs/run.$i.json" "$@"
		i=$((i + 1))
	done
fi

cg_arg=
if [ "$callgrind" = yes ]; then
	if command -v valgrind >/dev/null 2>&1; then
		echo "callgrind run (instructions per op) ..." >&2
		mkdir -p "$out/runs/callgrind"
		valgrind --tool=callgrind --collect-atstart=no -q \
			--callgrind-out-file="$out/runs/callgrind/cg.%p" \
			"$bin" --callgrind --json "$out/runs/callgrind/cg.json" "$@" >&2
		cg_arg="--callgrind $out/runs/callgrind"
	else
		echo "valgrind not installed: no instruction counts (bench/install-peers.sh)" >&2
	fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

if [ "$timed" = no ]; then
	# The callgrind run's JSON has the ops and rows (with no timings): report from it.
	cp "$out/runs/callgrind/cg.json" "$out/runs/run.1.json"
fi

git=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$git" != unknown ] && ! git -C "$root" diff --quiet HEAD -- 2>/dev/null; then
	git="$git (with local changes)"
fi
cmd="bench/run.sh"
[ "$procs" != 5 ] && cmd="$cmd -k $procs"
[ "$callgrind" = no ] && cmd="$cmd --no-callgrind"
[ "$timed" = no ] && cmd="$cmd --callgrind-only"
[ $# -gt 0 ] && cmd="$cmd -- $*"

# shellcheck disable=SC2086
python3 "$root/bench/suite/report.py" --runs "$out/runs" $cg_arg \
	--md "$out/bench-suite.md" --json "$out/bench-suite.json" \
	--git "$git" --command "$cmd" --load-before "$load_before" --load-after "$load_after"
echo "written: $out/bench-suite.md and $out/bench-suite.json (per-process data in $out/runs/)" >&2
