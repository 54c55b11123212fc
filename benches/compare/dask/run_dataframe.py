"""Dask's side of `benches/compare/run` for the dask.dataframe workloads.

Usage: python run_dataframe.py --workload NAME [--scheduler sync|threads|processes]
                               [--reps N] [--warmup N] --data DIR
       python run_dataframe.py --list | --versions

Workloads (the Barrow counterparts are workloads of benches/src/bin/compare/):

  df-csv-groupby   dd.read_csv(f"{DIR}/csv/*.csv", blocksize=None)   (a partition per file)
                     [lambda d: d.x > 0.5].groupby(["k1", "k2"]).y.agg(["sum", "mean", "count"])
                   checked against DIR/expected.json (groups, rows kept, the sum of the
                   sums, group (0, "a")); throughput in MB/s (1e6 bytes) of CSV

DIR is the table benches/compare/gen_table.py writes. pandas reads the CSV with
its default (C) parser, as `dd.read_csv` does unless told otherwise.

One JSON line per workload, with the fields of run_bag.py ("bytes", MB/s).
Timing: the expression is built warmup + reps times, then `.compute()` runs
warmup times untimed and reps times timed, with time.perf_counter around the
call only; `scheduler="sync"`, or `"threads"` / `"processes"` with
num_workers=2. `peak_rss_mb` is VmHWM (for processes, the parent's alone).
"""
import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_bag import measure_in  # noqa: E402
from run_graph import runner_main  # noqa: E402


class Setup(Exception):
    """A workload cannot start (missing data): reported as its error."""


def summary(groups, count, total, g0):
    """What both sides compare: rounded so that float sums in another order agree."""
    return [groups, count, round(total, 2), round(g0[0], 4), g0[1]]


def csv_groupby(data):
    import dask.dataframe as dd

    if data is None:
        raise Setup("--data DIR is needed (the table of benches/compare/gen_table.py)")
    data = Path(data)
    try:
        exp = json.loads((data / "expected.json").read_text())
    except (OSError, ValueError) as e:
        raise Setup(f"{data}/expected.json unreadable ({e}); "
                    f"run benches/compare/gen_table.py --out {data}") from None
    expected = summary(exp["groups"], exp["count"], exp["sum"], exp["g_0_a"])
    pattern = str(data / "csv" / "*.csv")

    def build():
        df = dd.read_csv(pattern, blocksize=None)
        out = df[df.x > 0.5].groupby(["k1", "k2"]).y.agg(["sum", "mean", "count"])
        return out, df.npartitions

    def result(res):
        g0 = res.loc[(0, "a")]
        assert math.isclose(g0["mean"], g0["sum"] / g0["count"])
        return summary(len(res), int(res["count"].sum()), float(res["sum"].sum()),
                       [float(g0["sum"]), int(g0["count"])])

    return build, expected, result, {"bytes": exp["bytes"]}, ("bytes", "MB/s")


WORKLOADS = {"df-csv-groupby": csv_groupby}


def graph_sizes(coll):
    """Tasks after optimization, on both counts: dask-expr lowers a reduction only
    when optimized (dask.optimize and an unoptimized graph cannot)."""
    tasks = len(dict(coll.optimize().__dask_graph__()))
    return tasks, tasks


def measure(name, sched, reps, warmup, data):
    """Builds, warms up, times and checks one dataframe workload (run_bag.py's
    harness); returns the JSON record."""
    return measure_in(WORKLOADS, graph_sizes, name, sched, reps, warmup, data)


def main(argv=None):
    return runner_main(argv, __doc__.split("\n")[0], WORKLOADS, measure, "a dataframe workload",
                       data=True, setup_error=Setup)


if __name__ == "__main__":
    sys.exit(main())
