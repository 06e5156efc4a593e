#!/usr/bin/env bash
# tradekit's engine against backtesting.py, in a separate environment (bench/.venv) that holds backtesting.py.
#
#   bench/run_engine_benchmark.sh [--bars N] [--repeat N] [--profile auto|always|never] [--source FILE]
#
# PYTHON picks the interpreter that makes the environment (default python3, 3.11 or newer).
# Set BENCH_REINSTALL=1 to reinstall into an existing bench/.venv.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(dirname "$bench_dir")"
venv="$bench_dir/.venv"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
    BENCH_REINSTALL=1
fi
if [[ "${BENCH_REINSTALL:-0}" == "1" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$repo_root" -r "$bench_dir/requirements.txt"
fi

cd "$bench_dir"
exec "$venv/bin/python" "$bench_dir/engine_vs_backtestingpy.py" "$@"
