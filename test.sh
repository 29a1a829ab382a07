#!/usr/bin/env bash
# Runs the whole test suite once per Keras backend, then builds the docs (strict);
# fails if any backend or the docs build fails.
#   ./test.sh [pytest args...]      e.g. ./test.sh -k neurons
set -uo pipefail
cd "$(dirname "$0")"
python=.venv/bin/python
[ -x "$python" ] || python=python3
# Test files run in parallel worker processes (pytest-xdist), a whole file per worker
# so that its module fixtures are built once; SNNKD_TEST_WORKERS=0 runs in-process.
workers=${SNNKD_TEST_WORKERS:-2}
failed=()
for backend in tensorflow jax torch; do
    echo "=== KERAS_BACKEND=$backend ==="
    start=$(date +%s)
    KERAS_BACKEND=$backend "$python" -m pytest -q -p no:cacheprovider \
        -n "$workers" --dist loadfile "$@" || failed+=("$backend")
    echo "=== $backend: $(( $(date +%s) - start )) s ==="
done
echo "=== docs: mkdocs build --strict ==="
site=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 "$python" -m mkdocs build --strict --quiet -d "$site" || failed+=("docs")
rm -rf "$site"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED on: ${failed[*]}"
    exit 1
fi
echo "All backends passed."
