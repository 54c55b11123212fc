"""Dask's side of `benches/compare/run` for the raw task graphs.

Usage: python run_graph.py --workload NAME [--workload NAME ...]
                           [--scheduler sync|threads] [--reps N] [--warmup N]
       python run_graph.py --list | --versions

The counterpart of Barrow's `compare` binary (benches/src/bin/compare/), with
the same arguments and the same JSON fields, one line per workload:

  {"system": "dask", "workload", "scheduler", "workers", "reps", "warmup",
   "tasks", "seconds" (median), "times", "us_per_task", "build_seconds",
   "peak_rss_mb", "result", "expected", "ok"}      (or "ok": false, "error")

The graphs and the scheduler calls are those of the project's anchor script
bench_graph.py (copied beside this file, unchanged): `WORKLOADS` builds the
legacy dict graph, `make_runner` gives `dask.get` for sync and
`dask.threaded.get(..., num_workers=2)` for threads; neither optimizes the
graph, so the figure is pure scheduling, as `optimize_graph=False`.

Timing: the graph is built warmup + reps times (median of the last reps is
`build_seconds`; the previous graph is dropped before the next is built), then
the scheduler call runs warmup times untimed and reps times timed, with
time.perf_counter around the call only. Every result is checked against the
closed form. `peak_rss_mb` is the process's high-water mark (VmHWM in
/proc/self/status, as Barrow's binary reads it), so give one workload per
process for a per-workload figure (benches/compare/run does).

Exit status: 0 when every workload ran and matched, 1 when one failed (its
JSON line says why), 2 on a usage error.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_graph import WORKLOADS, make_runner  # noqa: E402

SCHEDULERS = ("sync", "threads", "processes", "distributed")


def peak_rss_mb():
    """High-water mark of this process's RSS in MiB (VmHWM), else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def positive(minimum):
    def parse(text):
        try:
            n = int(text)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"a whole number >= {minimum}, not {text!r}")
        return n

    return parse


def measure(name, sched, reps, warmup):
    """Builds, warms up, times and checks one workload; returns the JSON record."""
    build = WORKLOADS[name]
    build_times = []
    built = None
    for i in range(warmup + reps):
        built = None  # drop the previous graph first, so the peak holds one graph
        t0 = time.perf_counter()
        built = build()
        if i >= warmup:
            build_times.append(time.perf_counter() - t0)
    dsk, key, expected = built
    # "distributed": a LocalCluster of 2 worker processes x 1 thread (bench_graph.py's
    # dist-proc), started once per process; its start is timed apart (start_seconds).
    get, cleanup, info = make_runner("dist-proc" if sched == "distributed" else sched)
    if "cluster_startup_s" in info:
        info = {"start_seconds": info.pop("cluster_startup_s"), **info}
    try:
        for _ in range(warmup):
            res = get(dsk, key)
            if res != expected:
                raise AssertionError(f"warm-up gave {res}, expected {expected}")
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            res = get(dsk, key)
            times.append(time.perf_counter() - t0)
            if res != expected:
                break
    finally:
        cleanup()
    med = statistics.median(times)
    ok = res == expected
    record = {
        "tasks": len(dsk),
        "seconds": round(med, 6),
        "times": [round(t, 6) for t in times],
        "us_per_task": round(med / len(dsk) * 1e6, 3),
        "build_seconds": round(statistics.median(build_times), 6),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "result": res,
        "expected": expected,
        "ok": ok,
        **info,
    }
    if not ok:
        record["error"] = f"result {res} != expected {expected}"
    return record


def start_cluster():
    """A LocalCluster of 2 worker processes x 1 thread and its client, as Barrow's side
    starts its own; returns (client, close, seconds the start took)."""
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    seconds = time.perf_counter() - t0

    def close():
        client.close()
        cluster.close()

    return client, close, round(seconds, 3)


def runner_main(argv, description, workloads, measure, what, data=False, setup_error=None):
    """The command line every Dask runner shares: parses the options, runs
    each --workload through `measure(name, scheduler, reps, warmup[, data])`
    and prints one JSON line per workload, recording a failure and going on.

    `what` names a workload in --help ("a graph shape"); `data` adds --data;
    an exception of type `setup_error` is reported by its message alone.
    Returns the exit status: 0 when every workload ran and matched, else 1.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workload", action="append", default=[],
                        help=f"{what} (repeat or separate with commas)")
    parser.add_argument("--scheduler", default="sync", choices=SCHEDULERS)
    parser.add_argument("--reps", type=positive(1), default=3)
    parser.add_argument("--warmup", type=positive(0), default=1)
    if data:
        parser.add_argument("--data", default=None,
                            help="the text corpus directory (benches/compare/gen_text.py --out)")
    parser.add_argument("--list", action="store_true", help="print the known workloads")
    parser.add_argument("--versions", action="store_true", help="print Python and Dask versions")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(workloads))
        return 0
    if args.versions:
        from common import versions

        print(json.dumps(versions()))
        return 0
    names = [n for arg in args.workload for n in arg.split(",") if n]
    if not names:
        parser.error(f"no --workload given; known: {', '.join(workloads)}")
    unknown = [n for n in names if n not in workloads]
    if unknown:
        parser.error(f"unknown workload {unknown[0]!r}; known: {', '.join(workloads)}")
    extra = (args.data,) if data else ()
    all_ok = True
    for name in names:
        head = {
            "system": "dask",
            "workload": name,
            "scheduler": args.scheduler,
            "workers": None if args.scheduler == "sync" else 2,
            "reps": args.reps,
            "warmup": args.warmup,
        }
        try:
            record = {**head, **measure(name, args.scheduler, args.reps, args.warmup, *extra)}
        except Exception as e:  # noqa: BLE001 - record and go on
            if setup_error is not None and isinstance(e, setup_error):
                error = str(e)
            else:
                error = f"{type(e).__name__}: {str(e)[:300]}"
            record = {**head, "seconds": None, "peak_rss_mb": round(peak_rss_mb(), 1),
                      "ok": False, "error": error}
        all_ok &= record["ok"]
        print(json.dumps(record), flush=True)
    return 0 if all_ok else 1


def main(argv=None):
    return runner_main(argv, __doc__.split("\n")[0], WORKLOADS, measure, "a graph shape")


if __name__ == "__main__":
    sys.exit(main())
