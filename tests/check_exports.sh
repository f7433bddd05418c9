#!/usr/bin/env bash
# libpktmem.so exports the public API and nothing else.
#
# usage: check_exports.sh LIBPKTMEM_SO VERSION_SCRIPT PUBLIC_HEADER_DIR SOVERSION [LIBPKTMEM_A]
#
# Asserts:
#  1. the SONAME is libpktmem.so.SOVERSION;
#  2. every exported (defined, dynamic) symbol matches a `global:` pattern of
#     the version script and carries its version node;
#  3. no internal name is exported (diag, fault_*, stats_*, arena_*, node_*,
#     ... -- the names src/internal.h uses), whatever the script says;
#  4. every function or object declared PKTMEM_API in the public headers is
#     exported -- so a new public name that the version script's patterns do
#     not cover (and would silently hide) is caught here;
#  5. the static archive, if given, defines no global symbol outside the
#     public patterns either (internals are localized there), so a program
#     linking it statically cannot clash with our internal names.
set -euo pipefail

lib=$1 map=$2 hdrdir=$3 soversion=$4 archive=${5:-}
fail=0
err() { echo "FAIL: $*"; fail=1; }

command -v nm >/dev/null || { echo "nm not found"; exit 1; }
command -v readelf >/dev/null || { echo "readelf not found"; exit 1; }

# 1. SONAME
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libpktmem.so.$soversion" ] || err "SONAME is '$soname', want libpktmem.so.$soversion"

# Version node and global patterns from the script (comments stripped).
script=$(perl -0pe 's{/\*.*?\*/}{ }gs' "$map" | tr '\n' ' ')
node=$(grep -o '[A-Za-z_][A-Za-z0-9_]*[[:space:]]*{' <<<"$script" | head -1 | tr -d ' {')
globals=$(sed -n 's/.*global:\(.*\)local:.*/\1/p' <<<"$script" | tr ';' '\n' | tr -d ' \t')
mapfile -t patterns < <(grep -v '^$' <<<"$globals")
[ ${#patterns[@]} -gt 0 ] || { echo "no global: patterns in $map"; exit 1; }

# Exported symbols: "name@@NODE" (binutils >= 2.35 prints versions), or bare.
mapfile -t exported < <(nm -D --defined-only "$lib" | awk '{print $NF}' | LC_ALL=C sort -u)

internal_re='^(diag|diag_.*|fault_.*|stats_.*|arena_.*|node_.*|depot_.*|magazine_.*|mag_.*|slab_.*|internal_.*|likely|unlikely)$'
declare -A have=()
count=0
for ent in "${exported[@]}"; do
	sym=${ent%%@*}
	ver=${ent#"$sym"}
	ver=${ver##*@}
	# The version node itself appears as an absolute symbol.
	[ "$sym" = "$node" ] && continue
	count=$((count + 1))
	have[$sym]=1
	# 2. public name, right version
	ok=0
	for p in "${patterns[@]}"; do
		# shellcheck disable=SC2053
		[[ $sym == $p ]] && { ok=1; break; }
	done
	[ $ok -eq 1 ] || err "exported symbol '$sym' matches no public pattern in $(basename "$map")"
	if [ -n "$ver" ] && [ "$ver" != "$node" ]; then
		err "symbol '$sym' has version '$ver', want $node"
	fi
	# 3. internals never
	[[ $sym =~ $internal_re ]] && err "internal symbol '$sym' is exported"
done

# 4. everything declared PKTMEM_API is exported.
# Comments and preprocessor lines out, then one declaration per line.
declared=$(cat "$hdrdir"/*.h | perl -0pe 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g' |
	grep -v '^[[:space:]]*#' | tr '\n' ' ' | sed 's/;/;\n/g' | grep 'PKTMEM_API' |
	sed -e 's/.*PKTMEM_API//' |
	awk '{
		s = $0
		if (match(s, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) {
			n = substr(s, RSTART, RLENGTH); sub(/[ \t]*\($/, "", n); print n
		} else if (match(s, /[A-Za-z_][A-Za-z0-9_]*[ \t]*(\[[^]]*\])?[ \t]*;/)) {
			n = substr(s, RSTART, RLENGTH); sub(/[ \t]*(\[[^]]*\])?[ \t]*;$/, "", n); print n
		}
	}' | LC_ALL=C sort -u)
ndecl=0
for d in $declared; do
	ndecl=$((ndecl + 1))
	[ -n "${have[$d]:-}" ] || err "'$d' is declared PKTMEM_API but not exported (not defined, or its name matches no pattern in $(basename "$map"))"
done

# 5. the static archive
nstatic=0
if [ -n "$archive" ]; then
	while read -r sym; do
		# Sanitizer instrumentation adds its own globals (ODR indicators).
		[[ $sym == __odr_asan* || $sym == __asan_* || $sym == __tsan_* ]] && continue
		nstatic=$((nstatic + 1))
		ok=0
		for p in "${patterns[@]}"; do
			# shellcheck disable=SC2053
			[[ $sym == $p ]] && { ok=1; break; }
		done
		[ $ok -eq 1 ] || err "$(basename "$archive") defines global symbol '$sym', which is not public"
	done < <(nm --defined-only -g "$archive" 2>/dev/null | awk 'NF == 3 {print $3}' | LC_ALL=C sort -u)
fi

echo "SONAME $soname; $count symbols exported under $node; $ndecl PKTMEM_API declarations checked; $nstatic global symbols in the archive"
exit $fail
