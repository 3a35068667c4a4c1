#!/bin/bash
# Old tree, then new tree, back to back on the same machine, for each benchmark.
# usage: benchmarks/pairs.sh OLD_CHECKOUT [NEW_CHECKOUT]   (each with its own .venv: make venv)
# The figures go to stdout; compare them pair by pair (docs/performance.md).
set -u
old=${1:?give the checkout of the tree before the change}
new=${2:-$(cd "$(dirname "$0")/.." && pwd)}
for b in "bench_centre.py --duration 6" "bench_kiosk.py --taps 100" "bench_display.py" "bench_search.py"; do
  for tree in "$old" "$new"; do
    echo "=== $tree $b"
    (cd "$tree" && timeout 600 xvfb-run -a .venv/bin/python benchmarks/$b 2>&1); echo "exit $?"
  done
done
