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
# FUNCTION and run it with TEST(FUNCTION). The index, docs/bad-inputs/README.md,
# must give each table's counts of rows and of rows marked "not checked".
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

# Every manual page's first .In header and its .Nm names, read once (one
# awk over all pages, not a few processes per page and header): lines
# "HEADER NAME PAGE". .so pages are aliases and skipped.
manmap=$(awk '
	FNR == 1 { skip = ($1 == ".so"); inc = ""; page = FILENAME; sub(/.*\//, "", page); sub(/\.3$/, "", page) }
	skip { next }
	$1 == ".In" && inc == "" { inc = $2; for (i = 0; i < n; i++) print inc, nm[i], page; n = 0 }
	$1 == ".Nm" && NF >= 2 { if (inc == "") nm[n++] = $2; else print inc, $2, page }
' "$root"/man/man3/*.3)

# A table row (not the header line or the separator).
rows_of() { grep -E '^\|' "$1" | grep -v -E '^\|[ :-]*\|' | grep -v -E '^\| *(function|names?) *\|' || true; }

total=0 rows=0 proofs=
for h in "$@"; do
	b=${h%.h}
	t=$docs/$b.md
	hdr=$root/include/pktmem/$h
	[ -f "$hdr" ] || { err "$h: no such header"; continue; }
	[ -f "$t" ] || { err "$h: $t is missing"; continue; }
	# required names: the header's PKTMEM_API functions and objects, and the
	# .Nm names of the pages whose first .In is this header (the page's own
	# name counts only if the header declares it as a function)
	req=$(
		perl -0ne 'while (/PKTMEM_API\b[^;{]*?([A-Za-z_][A-Za-z0-9_]*)\s*\(/g) { print "$1\n" }
		           while (/PKTMEM_API\s+(?:extern\s+)?(?:const\s+)?[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;/g) { print "$1\n" }' "$hdr"
		printf '%s\n' "$manmap" | awk -v inc="pktmem/$h" '$1 == inc { print $2, $3 }' |
			perl -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $hdr = <$f>; $/ = "\n";
			         while (<STDIN>) { my ($nm, $page) = split; next if $nm eq $page && $hdr !~ /\b\Q$nm\E *\(/; print "$nm\n" }' "$hdr"
	)
	req=$(printf '%s\n' "$req" | grep -v '^$' | sort -u)
	# names in the first column of table rows
	have=$(rows_of "$t" | awk -F'|' '{print $2}' |
		{ grep -o '`[^`]*`' || true; } | tr -d '`' | sed 's/(.*//; s/^ *//; s/ *$//' | sort -u)
	missing=$(comm -23 <(printf '%s\n' "$req") <(printf '%s\n' "$have"))
	n=$(printf '%s\n' "$req" | grep -c . || true)
	total=$((total + n))
	if [ -n "$missing" ]; then
		err "$b.md does not name $(printf '%s\n' "$missing" | wc -l) of the $n public names of $h:"
		printf '%s\n' "$missing" | sed 's/^/    /'
	fi
	# proofs: the last cell of each row, its `FILE:FUNCTION` items, or an em dash
	out=$(rows_of "$t" | awk -F'|' -v tab="$b.md" '
		{ rows++; cell = $(NF - 1); n = 0
		  while (match(cell, /`[^`]*`/)) { print "P", substr(cell, RSTART + 1, RLENGTH - 2), tab; cell = substr(cell, RSTART + RLENGTH); n++ }
		  if (n == 0 && $(NF - 1) !~ /—/) print "E", $0 }
		END { print "N", rows + 0 }')
	rows=$((rows + $(printf '%s\n' "$out" | awk '$1 == "N" {print $2}')))
	while IFS= read -r bad; do
		[ -n "$bad" ] && err "$b.md: row without proof: ${bad#E }"
	done < <(printf '%s\n' "$out" | grep '^E ' || true)
	proofs+=$(printf '%s\n' "$out" | awk '$1 == "P" { print $2, $3 }')$'\n'
	# the index's row for this table gives its counts of rows and of rows "not checked"
	nrows=$(rows_of "$t" | wc -l)
	nnot=$(rows_of "$t" | grep -ci 'not checked' || true)
	want="| \`<pktmem/$h>\` | [$b.md]($b.md) | $nrows | $nnot |"
	grep -qxF -- "$want" "$docs/README.md" ||
		err "README.md: the row of $b.md should read: $want"
done

# Each cited test file read once: the functions it defines and the ones it runs.
while read -r file; do
	[ -n "$file" ] || continue
	items=$(printf '%s' "$proofs" | awk -v f="$file" '{ split($1, a, ":") } a[1] == f { print }' | sort -u)
	if [ ! -f "$root/$file" ]; then
		printf '%s\n' "$items" | while read -r it tab; do echo "FAIL: $tab: $file does not exist ($it)"; done
		fail=1
		continue
	fi
	defined=$(grep -oE '^(static )?(void|int) [A-Za-z_0-9]+\(' "$root/$file" | sed -E 's/.* ([A-Za-z_0-9]+)\($/\1/' | sort -u)
	run=$(grep -oE 'TEST\([A-Za-z_0-9]+\)' "$root/$file" | sed -E 's/TEST\((.*)\)/\1/' | sort -u)
	while read -r it tab; do
		fn=${it#*:}
		# here-strings, not pipes: grep -q would stop the writer early (SIGPIPE under pipefail)
		grep -qxF -- "$fn" <<<"$defined" || err "$tab: $file does not define $fn()"
		grep -qxF -- "$fn" <<<"$run" || err "$tab: $file does not run TEST($fn)"
	done <<<"$items"
done < <(printf '%s' "$proofs" | awk '{ n = split($1, a, ":"); if (n < 2) { print "FORM", $1, $2 } else print a[1] }' |
	awk '$1 != "FORM"' | sort -u)
while read -r _ it tab; do
	err "$tab: proof '$it' is not FILE:FUNCTION"
done < <(printf '%s' "$proofs" | awk '$1 !~ /:/ && NF { print "FORM", $1, $2 }')

echo "$# headers, $total public names, $rows rows checked"
exit $fail
