#!/usr/bin/env bash
# The sans-IO layers (ARCHITECTURE.md, "Layers"): facts, diagnose, the probe's plan and the
# session analyzer import no I/O, no async runtime and no clock. Their unit tests (after
# `#[cfg(test)]`) may read fixture files.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\b(tokio|std::net|std::fs|std::thread|std::process|SystemTime|Instant|rustls|tokio_rustls|socket2)\b|\bpcap(_parser)?::'
bad=0
for f in $(find probe/src/facts probe/src/diagnose probe/src/active/plan probe/src/session probe/src/explain probe/src/report/watch.rs probe/src/report/fleet.rs -name '*.rs' | sort); do
  # The code before the first #[cfg(test)], comments dropped.
  if awk '/^#\[cfg\(test\)\]/{exit} {print}' "$f" | grep -v '^\s*//' | grep -nE "$pattern"; then
    echo "$f: a sans-IO layer must not use the items above" >&2
    bad=1
  fi
done
exit $bad
