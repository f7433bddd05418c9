#!/usr/bin/env bash
# README.md's "Quick start" gives exactly two one-line commands -- the demo
# and the test suite -- and .ci/run runs that same test command, character
# for character.
#
# usage: check_readme_ci.sh SOURCE_DIR
set -euo pipefail

root=$1
readme=$root/README.md ci=$root/.ci/run
fail=0
err() { echo "FAIL: $*"; fail=1; }

[ -f "$readme" ] || { echo "FAIL: no README.md"; exit 1; }
[ -f "$ci" ] || { echo "FAIL: no .ci/run"; exit 1; }

first=$(grep -m1 '^## ' "$readme" || true)
[ "$first" = "## Quick start" ] || err "README's first section is '$first', want '## Quick start'"

# The fenced lines of the Quick start section.
mapfile -t cmds < <(awk '
	/^## / { insec = ($0 == "## Quick start"); next }
	insec && /^```/ { fence = !fence; next }
	insec && fence && NF { print }
' "$readme")
if [ ${#cmds[@]} -ne 2 ]; then
	err "Quick start has ${#cmds[@]} command lines, want exactly 2"
	printf '   %s\n' "${cmds[@]}"
	exit 1
fi
demo=${cmds[0]} suite=${cmds[1]}
# The demo is an example program: --target NAME builds it, ./build/NAME runs it.
target=$(sed -n 's/.*--target \([A-Za-z0-9_-]*\).*/\1/p' <<<"$demo")
[ -n "$target" ] && [ -f "$root/examples/$target.c" ] && [[ $demo == *"/$target"* ]] ||
	err "first command does not build and run an example from examples/: $demo"
[[ $suite == *ctest* ]] || err "second command does not run ctest: $suite"

# .ci/run must contain the suite command as a line of its own. (Not a
# pipe into grep -q: grep stops at the match, and under pipefail the
# writer's SIGPIPE would fail the check at random.)
if ! grep -qxF -- "$suite" < <(sed 's/^[[:space:]]*//' "$ci"); then
	err ".ci/run does not run the README's test command verbatim: $suite"
fi
[ $fail -eq 0 ] && echo "README quick start and .ci/run agree: $suite"
exit $fail
