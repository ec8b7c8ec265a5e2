"""make bench: accuracy (ULP against correctly rounded mpmath) and speed vs numpy, scipy, torch.

Prints markdown to stdout (progress goes to stderr), so that

    .venv/bin/python benchmarks/run.py > benchmarks/RESULTS.md

records a run. The exit status is 0 even when a bound of issue 3 fails: this is a report, not a
test; failed bounds are printed as FAIL. See benchmarks/README.md for how to read the tables.
"""

from __future__ import annotations

import os

# Single-threaded everything, before numpy or torch are imported.
for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import torch  # noqa: E402

import nllkit  # noqa: E402

torch.set_num_threads(1)

from candidates import CANDIDATES, LIBRARIES, NOTES, Candidate, to_native, to_numpy  # noqa: E402
from grids import (  # noqa: E402
    bce_grid,
    class_targets,
    distribution_grid,
    elementwise_grid,
    long_row_grid,
    probability_grid,
    probability_targets,
    row_grid,
    speed_inputs,
)

DTYPES = (np.float64, np.float32)

# ---------------------------------------------------------------------------------------------
# accuracy
# ---------------------------------------------------------------------------------------------


def accuracy_input_sets(dtype: type) -> list[dict[str, np.ndarray]]:
    """The accuracy grids: one set of everything, and a second set of rows of 1000."""
    z, y = bce_grid(dtype)
    rows, long_rows = row_grid(dtype), long_row_grid(dtype)
    p_rows, q_rows = distribution_grid(dtype)
    short = {
        "x": elementwise_grid(dtype),
        "p": probability_grid(dtype),
        "z": z,
        "y": y,
        "rows": rows,
        "k": class_targets(rows),
        "t": probability_targets(rows),
        "p_rows": p_rows,
        "q_rows": q_rows,
    }
    long = {"rows": long_rows, "k": class_targets(long_rows), "t": probability_targets(long_rows)}
    return [short, long]


def _arrays_for(cand: Candidate, sets: list[dict[str, np.ndarray]], dtype: type) -> list[list]:
    """The argument lists ``cand`` is measured on: one per input set that has its inputs."""
    out = []
    for i, inputs in enumerate(sets):
        if not all(name in inputs for name in cand.inputs):
            continue
        if cand.name == "logsumexp" and i == 0:  # the only one defined on an all -inf row
            out.append([row_grid(dtype, all_neg_inf=True)])
        else:
            out.append([inputs[name] for name in cand.inputs])
    return out


def ulp_errors(impl: Any, library: str, arrays: list[list], refs: list[np.ndarray]) -> Any:
    """(max, median, dtype note, worst point) ULP error of ``impl`` over the input sets, or a
    short string saying what went wrong."""
    dists, note, where = [], "", None
    for i, (args, ref) in enumerate(zip(arrays, refs, strict=True)):
        try:
            with np.errstate(all="ignore"):
                out = to_numpy(impl(*to_native(library, args)))
        except Exception as exc:  # a report, not a test: show what went wrong and carry on
            return f"raises {type(exc).__name__}"
        if out.shape != ref.shape:
            return f"shape {out.shape}"
        note = note or ("" if out.dtype == ref.dtype else f" ({out.dtype})")
        out = out.astype(ref.dtype)
        dist = nllkit.ulp_distance(out, ref)
        worst = np.unravel_index(np.argmax(dist), dist.shape)
        if where is None or dist[worst] > where["ulp"]:
            where = {"set": i, "index": worst, "ulp": dist[worst]}
            where.update(result=out[worst], reference=ref[worst])
        dists.append(dist.ravel())
    dist = np.concatenate(dists)
    return float(np.max(dist)), float(np.median(dist)), note, where


def measure_accuracy() -> dict[tuple[str, str], dict[str, Any]]:
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for dtype in DTYPES:
        sets = accuracy_input_sets(dtype)
        dname = np.dtype(dtype).name
        for cand in CANDIDATES:
            arrays = _arrays_for(cand, sets, dtype)
            start = time.perf_counter()
            refs = [cand.reference(*args) for args in arrays]
            seconds = time.perf_counter() - start
            size = sum(ref.size for ref in refs)
            print(
                f"  reference {cand.name} {dname}: {size} values in {seconds:.1f} s",
                file=sys.stderr,
            )
            results[cand.name, dname] = {
                lib: None if impl is None else ulp_errors(impl, lib, arrays, refs)
                for lib, impl in cand.impls.items()
            }
            results[cand.name, dname]["_size"] = size
            results[cand.name, dname]["_inputs"] = arrays
    return results


def _fmt_ulp(value: float) -> str:
    if value == np.inf:
        return "∞"
    if value >= 1e5:
        return f"{value:.1e}".replace("e+", "e")
    return f"{value:g}"


def _fmt_acc(entry: Any) -> str:
    if entry is None:
        return "—"
    if isinstance(entry, str):
        return entry
    worst, median, note, _ = entry
    return f"{_fmt_ulp(worst)} / {_fmt_ulp(median)}{note}"


def accuracy_table(results: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    lines = [
        "| function | dtype | points | " + " | ".join(LIBRARIES) + " |",
        "|---|---|--:|" + "--:|" * len(LIBRARIES),
    ]
    for cand in CANDIDATES:
        for dtype in DTYPES:
            dname = np.dtype(dtype).name
            entry = results[cand.name, dname]
            cells = [_fmt_acc(entry[lib]) for lib in LIBRARIES]
            lines.append(
                f"| {cand.name} | {dname} | {entry['_size']} | " + " | ".join(cells) + " |"
            )
    return lines


def _describe_input(arrays: list[np.ndarray], index: tuple[int, ...], names: tuple[str, ...]):
    """The input behind result ``index``: the element, or the whole row for row functions."""
    parts = []
    for name, a in zip(names, arrays, strict=True):
        value = np.asarray(a[index[0]])
        text = np.array2string(
            value, precision=17, separator=", ", max_line_width=10**4, threshold=16, edgeitems=4
        )
        parts.append(f"{name}={text}")
    if len(index) > 1:
        parts.append(f"entry {index[1]}")
    return "; ".join(parts)


def worst_points(results: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Where nllkit misses a ULP bound: the worst input, nllkit's result and the reference."""
    lines = []
    for cand in CANDIDATES:
        for dname, bound in cand.ulp_bound.items():
            entry = results[cand.name, dname]
            ours = entry["nllkit"]
            if not isinstance(ours, tuple) or ours[0] <= bound:
                continue
            where = ours[3]
            names = ("rows",) if cand.name == "logsumexp" else cand.inputs
            grid = ("the main grid", "the grid of rows of 1000")[where["set"]]
            position = tuple(int(i) for i in where["index"])
            lines.append(
                f"- {cand.name} {dname}, {_fmt_ulp(ours[0])} ULP at result {position} of {grid}, "
                f"{_describe_input(entry['_inputs'][where['set']], where['index'], names)}: "
                f"nllkit {float(where['result'])!r}, reference {float(where['reference'])!r}"
            )
    return lines or ["- none: nllkit meets every ULP bound on these grids"]


# ---------------------------------------------------------------------------------------------
# speed
# ---------------------------------------------------------------------------------------------

SPEED_KEYS = {"z": "x"}  # BCE's logits are the elementwise x


Timings = dict[str, list[float]]  # library -> CPU seconds of each repeat, in repeat order


def measure_speed(repeats: int) -> dict[str, Timings]:
    """CPU seconds per call on 10**6 float64 elements, ``repeats`` times per library.

    CPU time of this process (``time.process_time``: every thread, though all run one thread)
    rather than wall-clock time, because issue 3 states its bounds in CPU time and because on a
    shared machine the wall clock also counts the time other processes held the core. The
    libraries take turns within each repeat, in an order that rotates from repeat to repeat, so
    that a drift in the machine's state (clock frequency, caches and cores shared with other
    work) affects them alike; ratios are taken between calls of the same repeat."""
    data = speed_inputs()
    results: dict[str, Timings] = {}
    for cand in CANDIDATES:
        arrays = [data[SPEED_KEYS.get(name, name)] for name in cand.inputs]
        calls = []
        for lib, impl in cand.impls.items():
            if impl is None:
                continue
            native = to_native(lib, arrays)
            try:
                for _ in range(2):  # warm-up
                    impl(*native)
            except Exception as exc:
                print(f"  {cand.name} {lib} raises {exc!r}", file=sys.stderr)
                continue
            calls.append((lib, impl, native))
        times: Timings = {lib: [] for lib, _, _ in calls}
        for r in range(repeats):
            for lib, impl, native in calls[r % len(calls) :] + calls[: r % len(calls)]:
                start = time.process_time()
                impl(*native)
                times[lib].append(time.process_time() - start)
        results[cand.name] = times
        print(f"  timed {cand.name}", file=sys.stderr)
    return results


def median_time(times: Timings, lib: str) -> float | None:
    return statistics.median(times[lib]) if lib in times else None


def paired_ratio(times: Timings, lib: str, other: str) -> float | None:
    """Median over repeats of time(lib) / time(other) measured in the same repeat."""
    if lib not in times or other not in times:
        return None
    return statistics.median(a / b for a, b in zip(times[lib], times[other], strict=True))


def speed_table(results: dict[str, Timings]) -> list[str]:
    lines = [
        "| function | " + " | ".join(f"{lib} ms (× torch)" for lib in LIBRARIES) + " |",
        "|---|" + "--:|" * len(LIBRARIES),
    ]
    for cand in CANDIDATES:
        times = results[cand.name]
        cells = []
        for lib in LIBRARIES:
            t, ratio = median_time(times, lib), paired_ratio(times, lib, "torch")
            if t is None:
                cells.append("—")
            else:
                cells.append(f"{t * 1e3:.2f}" + ("" if ratio is None else f" ({ratio:.2f}×)"))
        lines.append(f"| {cand.name} | " + " | ".join(cells) + " |")
    return lines


# ---------------------------------------------------------------------------------------------
# the bounds of issue 3
# ---------------------------------------------------------------------------------------------


def check_bounds(accuracy: dict, speed: dict[str, Timings]) -> list[str]:
    lines = []

    def verdict(ok: bool, text: str) -> None:
        lines.append(f"- {'PASS' if ok else '**FAIL**'} {text}")

    for cand in CANDIDATES:
        for dname, bound in cand.ulp_bound.items():
            entry = accuracy[cand.name, dname]["nllkit"]
            if not isinstance(entry, tuple):
                verdict(False, f"{cand.name} {dname}: nllkit {_fmt_acc(entry)}")
                continue
            worst = entry[0]
            verdict(worst <= bound, f"{cand.name} {dname}: max {_fmt_ulp(worst)} ULP ≤ {bound}")
    for cand in CANDIDATES:
        times = speed[cand.name]
        if cand.torch_ratio is not None:
            ratio = paired_ratio(times, "nllkit", "torch")
            if ratio is None:
                verdict(False, f"{cand.name}: speed against torch not measured")
            else:
                verdict(
                    ratio <= cand.torch_ratio,
                    f"{cand.name}: {ratio:.2f}× torch ≤ {cand.torch_ratio}×",
                )
        if cand.beat_scipy:
            ratio = paired_ratio(times, "nllkit", "scipy")
            if ratio is None:
                verdict(False, f"{cand.name}: speed against scipy not measured")
            else:
                verdict(ratio < 1, f"{cand.name}: {ratio:.2f}× scipy < 1×")
    return lines


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_revision() -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{rev}{' + uncommitted changes in src/' if dirty else ''}" if rev else "unknown"


def _load() -> str:
    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "unknown"


def header(repeats: int, load: str) -> list[str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        "# nllkit benchmark: accuracy and speed",
        "",
        f"- date: {now}",
        f"- machine: {_cpu_model()}, {cores} cores available, {platform.system()} "
        f"{platform.machine()}; every library single-threaded",
        f"- versions: python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, torch {torch.__version__}, mpmath {mpmath.__version__}, "
        f"nllkit {nllkit.__version__} (git {_git_revision()})",
        f"- speed: CPU time (time.process_time), median of {repeats} interleaved runs per library; "
        f"load average {load} when the run started",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31, help="timed runs per function")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated function names to measure (default: all), e.g. logsumexp,logit",
    )
    args = parser.parse_args(argv)
    if args.only:
        global CANDIDATES
        names = set(args.only.split(","))
        unknown = names - {cand.name for cand in CANDIDATES}
        if unknown:
            parser.error(f"--only: no such function {sorted(unknown)}")
        CANDIDATES = tuple(cand for cand in CANDIDATES if cand.name in names)
    load = _load()
    print("accuracy: computing mpmath references …", file=sys.stderr)
    accuracy = measure_accuracy()
    print("speed …", file=sys.stderr)
    speed = measure_speed(args.repeats)
    out = [
        *header(args.repeats, load),
        "",
        "## Accuracy: max / median ULP error against the correctly rounded mpmath reference",
        "",
        "Grids: benchmarks/grids.py (|x| up to 800, ±inf, NaN, subnormal results, a logit "
        "leading by up to 800, rows with -inf, constant rows up to 1e300; the row functions on "
        "rows of 8 and of 1000). ∞: a NaN or an "
        "infinity where the reference is finite (or the reverse). A dtype in brackets: the "
        "library returned that dtype.",
        "",
        *accuracy_table(accuracy),
        "",
        "## Speed: median CPU milliseconds per 10⁶ float64 elements (rows of 1000), one thread",
        "",
        *speed_table(speed),
        "",
        "## Bounds of issue 3 (nllkit)",
        "",
        *check_bounds(accuracy, speed),
        "",
        "## nllkit's worst inputs where it misses a ULP bound",
        "",
        *worst_points(accuracy),
        "",
        "## What each column computes",
        "",
        *(f"- {note}" for note in NOTES),
        "- nllkit: the library's own function (losses with reduction='none').",
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
