#!/usr/bin/env bash
# Every public header must stand on its own (issue 2, "Interface facts"):
# it compiles alone, included twice, and before or after any other public
# header, under plain -std=c11 -pedantic without feature macros, with every
# compiler given (the build's own, gcc and clang when present).
#
# usage: check_headers.sh INCLUDE_DIR CC [CC...]
#
# Each check is one tiny translation unit. Order: every header alone and
# twice; every ordered pair (A then B) -- which covers "in any order" for
# dependencies between two headers -- and all headers forwards and backwards.
set -euo pipefail

incdir=$1; shift
[ $# -gt 0 ] || { echo "usage: $0 INCLUDE_DIR CC [CC...]" >&2; exit 2; }

flags=(-std=c11 -pedantic -Wall -Wextra -Werror -I"$incdir")

mapfile -t headers < <(cd "$incdir" && find pktmem -maxdepth 1 -name '*.h' | LC_ALL=C sort)
[ ${#headers[@]} -gt 0 ] || { echo "no headers under $incdir/pktmem" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Resolve compilers to real binaries so cc and gcc are not checked twice.
declare -A seen=()
ccs=()
for cc in "$@"; do
	path=$(command -v "$cc" 2>/dev/null) || { echo "skip: $cc not found"; continue; }
	real=$(readlink -f "$path")
	[ -z "${seen[$real]:-}" ] || continue
	seen[$real]=1
	ccs+=("$path")
done

fails=0
checks=0
n=0
# check NAME HEADER... : compile a TU that includes the headers in order.
check() {
	local name=$1; shift
	n=$((n + 1))
	local src="$tmp/tu$n.c"
	{
		echo "/* $name */"
		for h in "$@"; do echo "#include <$h>"; done
		echo "int main(void) { return 0; }"
	} > "$src"
	for cc in "${ccs[@]}"; do
		checks=$((checks + 1))
		if ! out=$("$cc" "${flags[@]}" -c "$src" -o "$tmp/tu$n.o" 2>&1); then
			fails=$((fails + 1))
			echo "FAIL [$cc] $name:"
			sed 's/^/    /' <<<"$out"
		fi
	done
}

for h in "${headers[@]}"; do
	check "$h alone" "$h"
	check "$h twice" "$h" "$h"
done
for a in "${headers[@]}"; do
	for b in "${headers[@]}"; do
		[ "$a" = "$b" ] || check "$a then $b" "$a" "$b"
	done
done
check "all, sorted" "${headers[@]}"
mapfile -t reversed < <(printf '%s\n' "${headers[@]}" | tac)
check "all reversed, then all again" "${reversed[@]}" "${headers[@]}"

echo "headers: ${#headers[@]}, compilers: ${ccs[*]}, compilations: $checks, failed: $fails"
[ "$fails" -eq 0 ]
