#!/usr/bin/env bash
# Regenerate the seed corpus: fuzz/corpus/{mbuf,skb,convert}/seed-*.
#
#     bash fuzz/make_corpus.sh
#
# A fuzz input is a program (fuzz_common.h): each step is an opcode byte (low
# five bits: the operation; top three bits all set: a fault step) followed
# by the bytes its choices read. Any byte string is a valid program, so the
# seeds are deterministic pseudo-random steps (bash's RANDOM, seeded): for
# each target, one seed per operation that repeats that operation, a few
# with every step a fault step, and mixed ones of several lengths. About
# 10 KB per target; libFuzzer grows its own corpus from them (in a copy:
# CI never writes into the repository).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

# emit FILE SEED STEPS OPS MODE: MODE is an operation number, "mixed" or "faults".
emit() {
	local file=$1 seed=$2 steps=$3 nops=$4 mode=$5 out="" b s p
	RANDOM=$seed
	for ((s = 0; s < steps; s++)); do
		case $mode in
		mixed) b=$((RANDOM % 256)) ;;
		faults) b=$((0xE0 | (RANDOM % nops))) ;;
		*) b=$(( s == 0 ? 0 : (mode + 32 * (RANDOM % 7)) )) ;; # top bits 0-6: never a fault
		esac
		out+=$(printf '\\x%02x' "$b")
		for ((p = 0; p < 4 + RANDOM % 12; p++)); do
			out+=$(printf '\\x%02x' $((RANDOM % 256)))
		done
	done
	printf "$out" >"$file"
}

# make TARGET NOPS: NOPS is how many operations the opcode's low bits choose from.
make() {
	local target=$1 nops=$2 dir="$here/corpus/$1" k
	mkdir -p "$dir"
	rm -f "$dir"/seed-*
	for ((k = 0; k < nops; k++)); do
		emit "$dir/seed-op$(printf '%02d' "$k")" $((1000 + k)) 12 "$nops" "$k"
	done
	for k in 1 2 3 4; do
		emit "$dir/seed-faults$k" $((2000 + k)) $((8 * k)) "$nops" faults
	done
	for k in 1 2 3 4 5 6 7 8 9 10; do
		emit "$dir/seed-mixed$(printf '%02d' "$k")" $((3000 + k)) $((4 * k)) "$nops" mixed
	done
}

# The operation counts of tests/mbuf_model.h (NR_MBUF_OPS), skb_model.h
# (NR_SKB_OPS) and fuzz_convert.c (32 world choices).
make mbuf 13
make skb 18
make convert 32
echo "corpus: $(cat "$here"/corpus/*/seed-* | wc -c) bytes in $(ls "$here"/corpus/*/seed-* | wc -l) files"
