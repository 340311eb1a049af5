#!/usr/bin/env bash
# The layers of ARCHITECTURE.md ("Layers"), checked on the code before each file's first
# `#[cfg(test)]` (unit tests may read fixture files and build reports), comments dropped:
# 1. the sans-IO layers (facts, diagnose, the probe's plan, clients and crypto, the capture's
#    RDP reader, explain, the watch and fleet summaries) import no I/O, no async runtime and no
#    clock;
# 2. each layer imports only the layers above it: facts knows nothing of diagnose, the fronts
#    or the report; diagnose, the plan and the RDP reader never import the report; the report
#    never imports a driver (the probe's driver, the capture pipeline, main).
# `.ci/check-layers.sh --self-test` plants an upward import in a copy and expects a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${CHECK_LAYERS_ROOT:-probe/src}

# The code of a file before its first #[cfg(test)], comments dropped (a `tests.rs` is a test
# module: nothing).
code() {
  [ "$(basename "$1")" = tests.rs ] && return 0
  awk '/^#\[cfg\(test\)\]/{exit} {print}' "$1" | grep -v '^\s*//' || true
}

bad=0
# check DIRS... -- PATTERN MESSAGE
check() {
  local pattern=$1 message=$2; shift 2
  local f
  for f in $(find "$@" -name '*.rs' 2>/dev/null | sort); do
    if code "$f" | grep -nE "$pattern"; then
      echo "$f: $message" >&2
      bad=1
    fi
  done
}

io='\b(tokio|std::net|std::fs|std::thread|std::process|SystemTime|Instant|rustls|tokio_rustls|socket2)\b|\bpcap(_parser)?::'
check "$io" "a sans-IO layer must not use the items above" \
  "$root/facts" "$root/diagnose" "$root/active/plan" "$root/active/client" "$root/active/crypto" \
  "$root/capture/rdp" "$root/capture/decrypt" "$root/capture/kerberos.rs" "$root/explain" "$root/report/watch.rs" \
  "$root/report/fleet.rs" "$root/report/metrics.rs" "$root/report/nagios.rs" "$root/exporter/allow.rs"
check '\bcrate::(diagnose|active|capture|report|explain|dissect)\b' \
  "facts/ is the bottom layer: it imports only rdp-proto and facts" "$root/facts"
check '\bcrate::(active|capture|report|dissect)\b' \
  "diagnose/ judges facts: it must not import a front or the report" "$root/diagnose"
check '\bcrate::report\b' \
  "the probe's plan and clients and the capture's RDP reader decide from facts, never from report DTOs" \
  "$root/active/plan" "$root/active/client" "$root/active/crypto" "$root/capture/rdp"
check '\bcrate::(active|capture|exporter)\b|\bcrate::main\b' \
  "the report is built at the edge from facts: it must not import a driver" "$root/report"

if [ "${1:-}" = "--self-test" ]; then
  # A planted upward import must fail the check.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp -r "$root" "$tmp/src"
  # First in the file, so it is outside #[cfg(test)].
  { echo 'use crate::report::probe::ProbeResult;'; cat "$root/active/plan/x224.rs"; } > "$tmp/src/active/plan/x224.rs"
  if CHECK_LAYERS_ROOT="$tmp/src" bash "$0" >/dev/null 2>&1; then
    echo "check-layers: a planted import of the report into the plan was not caught" >&2
    exit 1
  fi
  echo "check-layers: self-test ok (a planted upward import fails)"
fi
exit $bad
