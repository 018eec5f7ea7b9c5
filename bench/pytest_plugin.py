"""What textrelay's pytest plugin costs a pytest run that uses none of its fixtures.

    .venv/bin/python bench/pytest_plugin.py [--runs 15]

pytest loads every installed plugin (entry point `pytest11`) in every run, so the plugin's
import time is paid by every test run of an environment where textrelay is installed. This
times, in fresh interpreters taking turns, `import pytest` alone and `import pytest` followed
by `import textrelay.pytest_plugin`, and prints the median of each and their difference: the
plugin's cost. The issue's ceiling is 0.2 s (issue 14 #4).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

_TIMED = (
    "import time\n"
    "start = time.perf_counter()\n"
    "import pytest\n"
    "{extra}"
    "print(time.perf_counter() - start)\n"
)
CEILING_S = 0.2


def _time(extra: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(extra=extra)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return float(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="interpreters for each (1-100)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 100:
        parser.error("keep --runs in [1, 100]")
    bare, with_plugin = [], []
    for _ in range(args.runs):
        bare.append(_time(""))
        with_plugin.append(_time("import textrelay.pytest_plugin\n"))
    base, loaded = statistics.median(bare), statistics.median(with_plugin)
    cost = loaded - base
    print(
        f"import pytest:                          median {base * 1000:7.1f} ms ({args.runs} runs)"
    )
    print(f"import pytest + textrelay.pytest_plugin: median {loaded * 1000:7.1f} ms")
    verdict = "under" if cost < CEILING_S else "OVER"
    print(f"the plugin's cost: {cost * 1000:.1f} ms ({verdict} the {CEILING_S:g} s ceiling)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
