#!/bin/sh
# bench/run-one.sh — run one single-file benchmark (bench_mem, bench_mbuf,
# bench_skb, bench_blk) in K separate processes and report, for every
# workload, the median over the processes of each process's median.
# (bench/run.sh runs the whole suite, and hands -t/-b over to this script.)
#
#   bench/run-one.sh                      build (Release, in build-bench/) and run 5 processes
#   bench/run-one.sh -t bench_mbuf        the same for another benchmark
#   bench/run-one.sh -k 9 -- --ms 100     9 processes, options after -- go to the benchmark
#   bench/run-one.sh -b build/bench_mem   use an existing binary
#   bench/run-one.sh -j result.json       also write the aggregate as JSON
#   bench/run-one.sh -d runs/             keep each process's JSON in runs/
#
# Timings on a shared VM flip between processes, so one process proves
# little: compare the medians printed here. "ratio" is the median over the
# processes of each process's pktmem/glibc ratio (both sides measured in the
# same process, interleaved); "ratio range" is its lowest and highest.
# Needs only sh, awk and (to build) cmake and a C compiler.
set -eu

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0"
	exit "$1"
}

root=$(cd "$(dirname "$0")/.." && pwd)
procs=5
target=bench_mem
bin=
json_out=
keep_dir=
while getopts k:b:t:j:d:h opt; do
	case $opt in
	k) procs=$OPTARG ;;
	t) target=$OPTARG ;;
	b) bin=$OPTARG ;;
	j) json_out=$OPTARG ;;
	d) keep_dir=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 >&2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
case $procs in '' | *[!0-9]* | 0) echo "run.sh: -k needs a positive number" >&2; exit 2 ;; esac

if [ -z "$bin" ]; then
	build=${BUILD_DIR:-$root/build-bench}
	echo "building $target in $build ..." >&2
	log=${TMPDIR:-/tmp}/run.sh.$$.log
	if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
		cmake --build "$build" --target "$target" -j2; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
	bin=$build/$target
fi
name=$(basename "$bin")
[ -x "$bin" ] || { echo "run.sh: $bin is not an executable" >&2; exit 1; }

if [ -n "$keep_dir" ]; then
	mkdir -p "$keep_dir"
	dir=$keep_dir
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
	trap 'rm -rf "$dir"' EXIT INT TERM
fi

i=1
while [ "$i" -le "$procs" ]; do
	printf 'process %d/%d ...\n' "$i" "$procs" >&2
	"$bin" --json "$@" >"$dir/run.$i.json"
	i=$((i + 1))
done

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
printf '%s, %d processes: %s %s\n' "$name" "$procs" "$bin" "$*"
printf '%s; %s CPUs (%s); %s\n\n' "$(uname -sr)" "$(getconf _NPROCESSORS_ONLN)" "${cpu:-unknown CPU}" "$(date -u '+%Y-%m-%d %H:%M UTC')"

# Each result is one line of the JSON the benchmark writes.
awk -v json_out="$json_out" -v procs="$procs" -v name="$name" '
function field(name,   r) {
	if (!match($0, "\"" name "\": *[-+0-9.eE]+"))
		return ""
	r = substr($0, RSTART, RLENGTH)
	sub(/^[^:]*: */, "", r)
	return r + 0
}
function text(name,   r) {
	if (!match($0, "\"" name "\": *\"[^\"]*\""))
		return ""
	r = substr($0, RSTART, RLENGTH)
	sub(/^[^:]*: *"/, "", r)
	sub(/"$/, "", r)
	return r
}
# Median of v[1..n], sorting a copy (insertion sort: n is small).
function median(v, n,   s, i, j, t) {
	for (i = 1; i <= n; i++) {
		t = v[i]
		for (j = i - 1; j >= 1 && s[j] > t; j--)
			s[j + 1] = s[j]
		s[j + 1] = t
	}
	return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
}
/"id":/ {
	k = text("id") SUBSEP field("size")
	if (!(k in n)) {
		order[++rows] = k
		id[k] = text("id")
		size[k] = field("size")
		what[k] = text("what")
	}
	c = ++n[k]
	pk[k, c] = field("pktmem_ns")
	gl[k, c] = field("glibc_ns")
	ra[k, c] = field("ratio")
}
END {
	printf "| %-13s | %5s | %10s | %10s | %8s | %13s | %8s | %8s |\n",
		"workload", "size", "pktmem", "glibc", "ratio", "ratio range", "pktmem", "glibc"
	printf "| %-13s | %5s | %10s | %10s | %8s | %13s | %8s | %8s |\n",
		"", "B", "ns/op", "ns/op", "pk/glibc", "min-max", "Mop/s", "Mop/s"
	print "|---------------|------:|-----------:|-----------:|---------:|--------------:|---------:|---------:|"
	if (json_out != "")
		printf "{\"bench\": \"%s\", \"processes\": %d, \"unit\": \"ns/op\", \"results\": [\n", name, procs > json_out
	for (r = 1; r <= rows; r++) {
		k = order[r]
		m = n[k]
		lo = hi = ra[k, 1]
		for (i = 1; i <= m; i++) {
			a[i] = pk[k, i]; b[i] = gl[k, i]; q[i] = ra[k, i]
			if (q[i] < lo) lo = q[i]
			if (q[i] > hi) hi = q[i]
		}
		p = median(a, m); g = median(b, m); x = median(q, m)
		printf "| %-13s | %5s | %10.2f | %10.2f | %8.3f | %13s | %8.1f | %8.1f |\n",
			id[k], size[k], p, g, x, sprintf("%.2f-%.2f", lo, hi), 1000 / p, 1000 / g
		if (json_out != "")
			printf "%s  {\"id\": \"%s\", \"size\": %s, \"what\": \"%s\", \"pktmem_ns\": %.3f, \"glibc_ns\": %.3f, \"ratio\": %.4f, \"ratio_min\": %.4f, \"ratio_max\": %.4f, \"processes\": %d}",
				(r > 1 ? ",\n" : ""), id[k], size[k], what[k], p, g, x, lo, hi, m > json_out
	}
	if (json_out != "")
		print "\n]}" > json_out
	print ""
	print "ns/op: median over processes of the per-process median. ratio = pktmem/glibc, median of the"
	print "per-process ratios: below 1 pktmem is faster. Mop/s = 1000/(ns/op); for xthread rows, millions"
	print "of buffers per second moved from one thread to the other (higher is better)."
}' "$dir"/run.*.json
