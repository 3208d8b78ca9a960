#!/usr/bin/env bash
# Build the documentation site: docs/_build/html/index.html.
# Fails on any warning: a dangling cross-reference, a tutorial cell that raises (or runs
# past two minutes), or a public name without documentation (the coverage check).
# Usage: bash docs/build.sh [extra sphinx-build options]
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/_build docs/api
python -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
echo "open docs/_build/html/index.html"
