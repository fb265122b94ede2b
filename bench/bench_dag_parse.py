"""Parse time of the whole ``dags/`` folder (every route's DAG), as Airflow's DAG processor parses it.

Each repetition runs in a fresh process with Airflow already imported (as in the DAG processor's
parsing child) and times ``DagBag(dags/)``: cold (the first parse imports ``lienthong.airflow``) and
warm (a second parse in the same process).  Side by side, the same measure for a baseline folder with
one trivial DAG, so the figure reads as a ratio on a busy machine too.  Aim: the whole folder < 1 s.

    .venv/bin/python bench/bench_dag_parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIM_SECONDS = 1.0

CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
from airflow.dag_processing.dagbag import DagBag
times = []
for _ in range(2):
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    times.append(time.perf_counter() - started)
assert not bag.import_errors, bag.import_errors
print(json.dumps({"cold": times[0], "warm": times[1], "dags": len(bag.dags)}))
"""

BASELINE_DAG = """
import pendulum
from airflow.sdk import dag, task


@dag(dag_id="baseline", schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False)
def baseline():
    @task
    def one():
        return 1

    one()


baseline()
"""


def parse(folder: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-airflow-home-"))
    baseline = home / "baseline_dags"
    baseline.mkdir()
    (baseline / "baseline.py").write_text(BASELINE_DAG, encoding="utf-8")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(ROOT),
    }
    ours, base = [], []
    for _ in range(args.repeat):  # interleaved: both see the same machine load
        ours.append(parse(ROOT / "dags", env))
        base.append(parse(baseline, env))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    dags = int(ours[0]["dags"])
    print(f"dags/ folder: {dags} DAGs, {args.repeat} repetitions, medians")
    print(f"  cold parse (imports lienthong.airflow): {median(ours, 'cold'):.3f} s   baseline (1 trivial DAG): "
          f"{median(base, 'cold'):.3f} s   ratio {median(ours, 'cold') / median(base, 'cold'):.2f}x")  # fmt: skip
    print(f"  warm parse:                             {median(ours, 'warm'):.3f} s   baseline: "
          f"{median(base, 'warm'):.3f} s   ratio {median(ours, 'warm') / median(base, 'warm'):.2f}x")  # fmt: skip
    verdict = "met" if median(ours, "cold") < AIM_SECONDS else "NOT met"
    print(f"aim: whole folder < {AIM_SECONDS:.0f} s (cold) -> {verdict}")


if __name__ == "__main__":
    main()
