#!/usr/bin/env bash
# The manual pages lint clean and cover the public API.
#
# usage: check_man.sh MAN3_DIR HEADER...
#
#   MAN3_DIR  the man/man3 directory of the source tree
#   HEADER    the public headers whose API must be documented (paths). Pass
#             only the headers that have manual pages: a face still being
#             written is left out until its pages exist.
#
# Asserts:
#  1. every page that is not a link lints clean with
#     `mandoc -Tlint -W warning` (nothing printed);
#  2. every link page is the one line ".so man3/PAGE.3", PAGE.3 is a real
#     page (not another link), and PAGE.3 lists the link's name in its NAME
#     section (`.Nm name`), so `man name` shows the right page;
#  3. every function or object declared PKTMEM_API in the given headers has
#     MAN3_DIR/<name>.3 (a page or a link); the missing ones are listed.
#
# Link pages are not given to mandoc -Tlint: mandoc warns about every .so
# request (".so is fragile, better use ln(1)"), although .so links are what
# man-db and mandoc's man(1) both resolve and what Debian installs.
#
# Exit status: 0 pass, 1 fail, 77 skipped (mandoc is not installed; CTest
# reports the test as skipped through SKIP_RETURN_CODE 77).
set -euo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 MAN3_DIR HEADER..." >&2
	exit 2
fi
man3=$(cd "$1" && pwd)
shift
mandir=$(dirname "$man3")
section=$(basename "$man3") # man3

if ! command -v mandoc >/dev/null 2>&1; then
	echo "mandoc not found: skipped (Debian: apt-get install mandoc)"
	exit 77
fi
command -v perl >/dev/null || { echo "perl not found"; exit 1; }

fail=0
err() { echo "FAIL: $*"; fail=1; }

shopt -s nullglob
all=("$man3"/*.3)
[ ${#all[@]} -gt 0 ] || { echo "FAIL: no pages in $man3"; exit 1; }

is_link() { head -c 4 "$1" | grep -q '^\.so '; }

pages=() links=()
for f in "${all[@]}"; do
	if is_link "$f"; then links+=("$f"); else pages+=("$f"); fi
done

# 1. lint the real pages, from the man directory so paths read man3/x.3
lint=$(cd "$mandir" && mandoc -Tlint -W warning "${pages[@]/#$mandir\//}" 2>&1) || true
if [ -n "$lint" ]; then
	err "mandoc -Tlint -W warning is not clean:"
	printf '%s\n' "$lint" | sed 's/^/    /'
fi

# 2. link pages
for f in "${links[@]}"; do
	name=$(basename "$f" .3)
	if [ "$(wc -l <"$f")" -ne 1 ]; then
		err "$section/$name.3: a link page must be the single line '.so $section/PAGE.3'"
		continue
	fi
	line=$(cat "$f")
	if ! [[ $line =~ ^\.so\ $section/([A-Za-z0-9_.-]+)\.3$ ]]; then
		err "$section/$name.3: '$line' is not '.so $section/PAGE.3'"
		continue
	fi
	target=${BASH_REMATCH[1]}
	t="$man3/$target.3"
	if [ ! -f "$t" ]; then
		err "$section/$name.3 links to $section/$target.3, which does not exist"
	elif is_link "$t"; then
		err "$section/$name.3 links to $section/$target.3, which is itself a link"
	elif ! grep -Eq "^\.Nm $name( ,)?\$" "$t"; then
		err "$section/$name.3 links to $section/$target.3, whose NAME section does not list $name"
	fi
done

# 3. coverage of the PKTMEM_API declarations (same parser as check_exports.sh)
missing=()
ndecl=0
if [ $# -gt 0 ]; then
	for h in "$@"; do
		[ -f "$h" ] || { err "header $h not found"; continue; }
	done
	declared=$(cat "$@" | perl -0pe 's{/\*.*?\*/}{ }gs; s{//[^\n]*}{}g' |
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
	for d in $declared; do
		ndecl=$((ndecl + 1))
		[ -f "$man3/$d.3" ] || missing+=("$d")
	done
fi
if [ ${#missing[@]} -gt 0 ]; then
	err "${#missing[@]} PKTMEM_API names have no $section/<name>.3 page or link:"
	printf '    %s\n' "${missing[@]}"
fi

echo "${#pages[@]} pages linted, ${#links[@]} links checked, $ndecl PKTMEM_API names covered from $# headers"
exit $fail
