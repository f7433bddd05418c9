#!/usr/bin/env bash
# The bad-input tables in docs/bad-inputs/ cover the public API, and every
# test they cite exists and is run.
#
# usage: check_bad_inputs.sh REPO_ROOT [HEADER...]
#
#   HEADER  header names under include/pktmem (mbuf.h, skbuff.h, ...);
#           default: every header that has a table.
#
# For each HEADER, docs/bad-inputs/<header without .h>.md must exist, and its
# tables (rows "| names | bad input | what pktmem does | proved by |") must
# name, in backticks in the first column, every PKTMEM_API function or object
# of the header and every .Nm name of the manual pages whose first .In is that
# header. Each "proved by" cell holds `tests/FILE.c:FUNCTION` items (or an
# em dash when the row says no input can be bad); FILE must exist, define
# FUNCTION and run it with TEST(FUNCTION).
set -euo pipefail
root=$(cd "${1:?usage: $0 REPO_ROOT [HEADER...]}" && pwd)
shift
docs=$root/docs/bad-inputs
fail=0
err() { echo "FAIL: $*"; fail=1; }

if [ $# -eq 0 ]; then
	set --
	for f in "$docs"/*.md; do
		b=$(basename "$f" .md)
		[ -f "$root/include/pktmem/$b.h" ] && set -- "$@" "$b.h"
	done
fi
[ $# -gt 0 ] || { echo "FAIL: no tables in $docs"; exit 1; }

total=0 rows=0
for h in "$@"; do
	b=${h%.h}
	t=$docs/$b.md
	hdr=$root/include/pktmem/$h
	[ -f "$hdr" ] || { err "$h: no such header"; continue; }
	[ -f "$t" ] || { err "$h: $t is missing"; continue; }
	# required names
	req=$(
		perl -0ne 'while (/PKTMEM_API\b[^;{]*?([A-Za-z_][A-Za-z0-9_]*)\s*\(/g) { print "$1\n" }
		           while (/PKTMEM_API\s+(?:extern\s+)?(?:const\s+)?[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/g) { print "$1\n" }' "$hdr"
		for p in "$root"/man/man3/*.3; do
			head -c 4 "$p" | grep -q '^\.so ' && continue
			first=$(grep -m1 '^\.In ' "$p" | awk '{print $2}')
			[ "$first" = "pktmem/$h" ] || continue
			# the page's own name is a function only if the header declares it
			grep '^\.Nm ' "$p" | awk '{print $2}' | while read -r nm; do
				if [ "$nm" = "$(basename "$p" .3)" ] && ! grep -Eq "\b$nm *\(" "$hdr"; then continue; fi
				echo "$nm"
			done
		done
	)
	req=$(printf '%s\n' "$req" | grep -v '^$' | sort -u)
	# names in the first column of table rows
	have=$(grep -E '^\|' "$t" | grep -v -E '^\|[ :-]*\|' | awk -F'|' '{print $2}' |
		{ grep -o '`[^`]*`' || true; } | tr -d '`' | sed 's/(.*//; s/^ *//; s/ *$//' | sort -u)
	missing=$(comm -23 <(printf '%s\n' "$req") <(printf '%s\n' "$have"))
	n=$(printf '%s\n' "$req" | grep -c . || true)
	total=$((total + n))
	if [ -n "$missing" ]; then
		err "$b.md does not name $(printf '%s\n' "$missing" | wc -l) of the $n public names of $h:"
		printf '%s\n' "$missing" | sed 's/^/    /'
	fi
	# proofs
	while IFS= read -r row; do
		rows=$((rows + 1))
		proof=$(printf '%s\n' "$row" | awk -F'|' '{print $(NF-1)}')
		items=$(printf '%s\n' "$proof" | grep -o '`[^`]*`' | tr -d '`' || true)
		if [ -z "$items" ]; then
			printf '%s' "$proof" | grep -q '—' || err "$b.md: row without proof: $row"
			continue
		fi
		for it in $items; do
			file=${it%%:*} fn=${it#*:}
			[ "$file" != "$it" ] || { err "$b.md: proof '$it' is not FILE:FUNCTION"; continue; }
			[ -f "$root/$file" ] || { err "$b.md: $file does not exist ($it)"; continue; }
			grep -Eq "^(static )?(void|int) $fn\(" "$root/$file" ||
				err "$b.md: $file does not define $fn()"
			grep -Eq "TEST\($fn\)" "$root/$file" || err "$b.md: $file does not run TEST($fn)"
		done
	done < <(grep -E '^\|' "$t" | grep -v -E '^\|[ :-]*\|' | grep -v -E '^\| *(function|names?) *\|')
done
echo "$# headers, $total public names, $rows rows checked"
exit $fail
