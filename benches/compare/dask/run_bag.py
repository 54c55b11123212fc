"""Dask's side of `benches/compare/run` for the dask.bag workloads.

Usage: python run_bag.py --workload NAME [--workload NAME ...]
                         [--scheduler sync|threads] [--reps N] [--warmup N] [--data DIR]
       python run_bag.py --list | --versions

Workloads (the Barrow counterparts are workloads of benches/src/bin/compare/):

  bag-mapfilter            db.from_sequence(range(2_000_000), npartitions=40)
                             .map(lambda x: x * 3 + 1).filter(lambda x: x % 7 == 0).count()
                           checked against the count of i in [0, 2e6) with (3i + 1) % 7 == 0
                           (counted here in plain Python); throughput in M items/s
  bag-text-frequencies     db.read_text(f"{DIR}/plain/*.txt", blocksize=8_000_000)
                             .str.split().flatten().frequencies().topk(10, key=lambda kv: kv[1])
                           checked against "top10" of DIR/expected.json; throughput in MB/s
                           (1e6 bytes) of text
  bag-text-frequencies-gz  the same over f"{DIR}/gz/*.txt.gz" with blocksize=None (gzip is not
                           splittable: one partition per file); MB/s of UNcompressed text

DIR is the corpus benches/compare/gen_text.py writes (--data; needed by the
text workloads).

One JSON line per workload, with the fields of run_graph.py where they apply:

  {"system": "dask", "workload", "scheduler", "workers", "reps", "warmup",
   "tasks" (graph length before optimization), "tasks_optimized", "partitions",
   "items" (mapfilter) or "bytes" (text: uncompressed), "seconds" (median), "times",
   "throughput", "throughput_unit" ("M items/s" or "MB/s"), "build_seconds",
   "peak_rss_mb", "result", "expected", "ok", "optimize_graph"}  (or "ok": false, "error")

Timing: the bag expression is built warmup + reps times (median of the last
reps is `build_seconds`; for the text workloads this includes read_text's
listing of the files), then `.compute()` runs warmup times untimed and reps
times timed on the last one built, with time.perf_counter around the call
only. compute() is Dask's ordinary one, with its default graph optimization
(fusing the per-partition steps: `tasks_optimized`), since that is how bags
are used; `scheduler="sync"`, or `scheduler="threads", num_workers=2`. Every
result is checked. `peak_rss_mb` is VmHWM, as in run_graph.py.

Exit status: 0 when every workload ran and matched, 1 when one failed (its
JSON line says why), 2 on a usage error.
"""
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run_graph import peak_rss_mb, runner_main  # noqa: E402

MAPFILTER_ITEMS = 2_000_000
MAPFILTER_PARTITIONS = 40
# 8 MB. read_bytes cuts a file of `size` bytes into max(1, size // blocksize) blocks of
# equal size (rounding the count down), each then moved to line boundaries: the default
# corpus's 8 files of just under 25e6 bytes give 3 blocks each, 24 partitions (8 MiB
# would give 2 each, 16).
TEXT_BLOCKSIZE = 8_000_000


class Setup(Exception):
    """A workload cannot start (missing data): reported as its error."""


def mapfilter(data):
    import dask.bag as db

    expected = sum(1 for i in range(MAPFILTER_ITEMS) if (3 * i + 1) % 7 == 0)

    def build():
        bag = db.from_sequence(range(MAPFILTER_ITEMS), npartitions=MAPFILTER_PARTITIONS)
        out = bag.map(lambda x: x * 3 + 1).filter(lambda x: x % 7 == 0).count()
        return out, bag.npartitions

    return build, expected, lambda res: res, {"items": MAPFILTER_ITEMS}, ("items", "M items/s")


def text_frequencies(pattern, blocksize):
    def workload(data):
        import dask.bag as db

        if data is None:
            raise Setup("--data DIR is needed (the corpus of benches/compare/gen_text.py)")
        data = Path(data)
        try:
            exp = json.loads((data / "expected.json").read_text())
            expected = [[w, c] for w, c in exp["top10"]]
            nbytes = exp["bytes"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise Setup(f"{data}/expected.json unreadable ({e}); "
                        f"run benches/compare/gen_text.py --out {data}") from None
        if pattern.startswith("plain/"):
            on_disk = sum(p.stat().st_size for p in (data / "plain").glob("*.txt"))
            if on_disk != nbytes:
                raise Setup(f"{data}/plain holds {on_disk} bytes, expected.json says {nbytes}")
        urlpath = str(data / pattern)

        def build():
            bag = db.read_text(urlpath, blocksize=blocksize)
            out = bag.str.split().flatten().frequencies().topk(10, key=lambda kv: kv[1])
            return out, bag.npartitions

        def result(res):
            return [[w, c] for w, c in res]

        return build, expected, result, {"bytes": nbytes}, ("bytes", "MB/s")

    return workload


WORKLOADS = {
    "bag-mapfilter": mapfilter,
    "bag-text-frequencies": text_frequencies("plain/*.txt", TEXT_BLOCKSIZE),
    "bag-text-frequencies-gz": text_frequencies("gz/*.txt.gz", None),
}


def bag_graph_sizes(coll):
    """Tasks of a bag collection before and after Dask's graph optimization."""
    import dask

    tasks = len(dict(coll.__dask_graph__()))
    (optimized,) = dask.optimize(coll)
    return tasks, len(dict(optimized.__dask_graph__()))


def measure(name, sched, reps, warmup, data):
    """Builds, warms up, times and checks one bag workload; returns the JSON record."""
    return measure_in(WORKLOADS, bag_graph_sizes, name, sched, reps, warmup, data)


def measure_in(workloads, graph_sizes, name, sched, reps, warmup, data):
    """Builds, warms up, times and checks workload `name` of `workloads` (whose
    graph sizes `graph_sizes(collection)` gives); returns the JSON record. Shared
    with run_dataframe.py."""
    build, expected, normalize, size, (size_key, unit) = workloads[name](data)
    kwargs = {"scheduler": sched}
    close, start = None, {}
    if sched == "distributed":
        from run_graph import start_cluster

        client, close, seconds = start_cluster()
        kwargs = {"scheduler": client}
        start = {"start_seconds": seconds}
    if sched in ("threads", "processes"):
        kwargs["num_workers"] = 2
    build_times = []
    coll = partitions = None
    for i in range(warmup + reps):
        coll = None  # drop the previous one first
        t0 = time.perf_counter()
        coll, partitions = build()
        if i >= warmup:
            build_times.append(time.perf_counter() - t0)
    tasks, tasks_optimized = graph_sizes(coll)
    for _ in range(warmup):
        res = normalize(coll.compute(**kwargs))
        if res != expected:
            raise AssertionError(f"warm-up gave {res}, expected {expected}")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        raw = coll.compute(**kwargs)
        times.append(time.perf_counter() - t0)
        res = normalize(raw)
        if res != expected:
            break
    if close is not None:
        close()
    med = statistics.median(times)
    ok = res == expected
    record = {
        "tasks": tasks,
        "tasks_optimized": tasks_optimized,
        "partitions": partitions,
        **size,
        "seconds": round(med, 6),
        "times": [round(t, 6) for t in times],
        "throughput": round(size[size_key] / med / 1e6, 4),
        "throughput_unit": unit,
        "build_seconds": round(statistics.median(build_times), 6),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "result": res,
        "expected": expected,
        "ok": ok,
        "optimize_graph": True,
        **start,
    }
    if not ok:
        record["error"] = f"result {res} != expected {expected}"
    return record


def main(argv=None):
    return runner_main(argv, __doc__.split("\n")[0], WORKLOADS, measure, "a bag workload",
                       data=True, setup_error=Setup)


if __name__ == "__main__":
    sys.exit(main())
