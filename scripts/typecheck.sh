#!/usr/bin/env bash
# mypy --strict over the package and the web UI, as the package `telegraf_lutron` (with
# `telegraf_lutron.webui`), with the settings of [tool.mypy] in pyproject.toml.
#
# The web UI lives in webui/ and ships as telegraf_lutron.webui through setuptools' package-dir;
# mypy cannot follow the editable install's import hook, so this builds a tree of symbolic links
# (build/mypy-src/telegraf_lutron/: one link per entry of telegraf_lutron/, plus webui) that
# mypy reads as the installed package, and prints mypy's findings with the real paths.
# Extra arguments go to mypy. Needs .venv (scripts/test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."

tree=build/mypy-src
rm -rf "$tree"
mkdir -p "$tree/telegraf_lutron"
for entry in telegraf_lutron/*; do
    [ "$(basename "$entry")" = __pycache__ ] && continue
    ln -s "$PWD/$entry" "$tree/telegraf_lutron/"
done
ln -s "$PWD/webui" "$tree/telegraf_lutron/webui"

status=0
MYPYPATH="$tree" .venv/bin/mypy -p telegraf_lutron "$@" >build/mypy.out 2>&1 || status=$?
sed -e "s#^$tree/telegraf_lutron/webui/#webui/#" -e "s#^$tree/##" build/mypy.out
exit "$status"
