#!/usr/bin/env bash
# Verifies the integrity of one or more checkpoint directories with `upcycle verify --json`
# and fails (exit 1) on any problem. Use it as a pre-commit hook or a CI step:
#
#   examples/ci/check-checkpoints.sh models/my-moe models/other
#
# Environment:
#   UPCYCLE   the upcycle launcher (default: scripts/upcycle of this repository)
#   AGAINST   optional dense checkpoint: also checks step-0 functional equivalence
# Exit code: 0 all checkpoints pass, otherwise the worst exit code of `upcycle verify`
# (1 a check failed, 3 malformed input, 4 I/O problem).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
upcycle="${UPCYCLE:-$here/../../scripts/upcycle}"
if [ "$#" -eq 0 ]; then
  echo "usage: $0 CHECKPOINT_DIR..." >&2
  exit 2
fi
worst=0
errfile="$(mktemp)"
trap 'rm -f "$errfile"' EXIT
for dir in "$@"; do
  args=(verify "$dir" --json)
  [ -n "${AGAINST:-}" ] && args+=(--against "$AGAINST")
  report="$("$upcycle" "${args[@]}" 2>"$errfile")"
  code=$?
  if [ "$code" -eq 0 ]; then
    echo "ok      $dir"
  else
    echo "FAILED  $dir (exit $code)"
    # Show the failed checks of the JSON report (name, summary, problems), or the one-line error.
    if [ -n "$report" ]; then
      printf '%s\n' "$report" | awk '
        /"name":/            { name = $0; show = 0 }
        /"status": "fail"/   { show = 1; print name }
        show && (/"summary":/ || /^ *"[^"]*",?$/) { print }
      ' | sed -e 's/^ */        /' | head -40
    fi
    sed 's/^/        /' "$errfile"
    [ "$code" -gt "$worst" ] && worst=$code
  fi
done
exit "$worst"
