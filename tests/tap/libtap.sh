# SPDX-License-Identifier: MIT
# tests/tap/libtap.sh: TAP for kpop's shell tests.  Source it, then:
#   plan N | plan_lazy        announce the count (lazy: printed at exit)
#   ok "what" CMD [ARG...]    run CMD; pass if it exits 0
#   not_ok "what" CMD [ARG...] run CMD; pass if it exits non-zero
#   is "got" "wanted" "what"  compare two strings
#   like "got" "ERE" "what"   pass if got matches the extended regex
#   diag "text"               a comment line
#   bail "why"                stop the whole test at once
# At exit the script exits non-zero if a test failed or the count is off.

_tap_planned=0
_tap_lazy=0
_tap_run=0
_tap_failed=0

_tap_finish() {
	local rc=$?
	[ "$_tap_lazy" = 1 ] && echo "1..$_tap_run"
	if [ "$_tap_lazy" = 0 ] && [ "$_tap_run" != "$_tap_planned" ]; then
		echo "# planned $_tap_planned tests but ran $_tap_run" >&2
		exit 255
	fi
	if [ "$_tap_failed" -gt 0 ]; then
		echo "# failed $_tap_failed of $_tap_run tests" >&2
		exit 1
	fi
	exit "$rc"
}
trap _tap_finish EXIT

plan() { _tap_planned=$1; echo "1..$1"; }
plan_lazy() { _tap_lazy=1; }

_tap_result() {
	_tap_run=$((_tap_run + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_tap_run - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_run - $2"
	fi
}

ok() {
	local what=$1 rc
	shift
	"$@"
	rc=$?
	_tap_result "$rc" "$what"
	return "$rc"
}

not_ok() {
	local what=$1 rc
	shift
	if "$@"; then rc=1; else rc=0; fi
	_tap_result "$rc" "$what"
	return "$rc"
}

is() {
	if [ "$1" = "$2" ]; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		printf '#      got: %s\n#   wanted: %s\n' "$1" "$2"
		return 1
	fi
}

like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_tap_result 0 "$3"
	else
		_tap_result 1 "$3"
		printf '#      got: %s\n#  pattern: %s\n' "$1" "$2"
		return 1
	fi
}

diag() { printf '# %s\n' "$*"; }

bail() {
	echo "Bail out! $*"
	trap - EXIT
	exit 255
}
