"""``python -m bench [NAME ...]``: list the benchmarks, or run the named ones with their defaults.

Each benchmark is a module ``bench/bench_<name>.py`` with its own ``--help``; run one with options as
``python -m bench.bench_<name> --help``.  Figures and how to read them: docs/benchmarks.md.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> dict[str, str]:
    """name -> first line of the module's docstring, read without importing the module."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name.startswith("bench_"):
            text = (Path(__file__).parent / f"{info.name}.py").read_text(encoding="utf-8")
            first = text.split('"""', 2)[1].strip().splitlines()[0] if text.startswith('"""') else ""
            found[info.name.removeprefix("bench_")] = first
    return dict(sorted(found.items()))


def main(argv: list[str]) -> int:
    benches = available()
    if not argv:
        print("benchmarks (run: python -m bench NAME ..., or python -m bench.bench_NAME --help):")
        for name, line in benches.items():
            print(f"  {name:16} {line}")
        return 0
    unknown = [name for name in argv if name not in benches]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(benches)})", file=sys.stderr)
        return 2
    status = 0
    for name in argv:
        print(f"=== {name}")
        module = importlib.import_module(f"bench.bench_{name}")
        sys.argv = [f"bench_{name}"]  # every benchmark with its defaults
        result = module.main()
        status = max(status, result if isinstance(result, int) else 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
