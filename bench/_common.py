"""What every bench script needs: where things are, the machine description, result files, shared
arguments and the standard data sets.

Scripts in bench/ run as `python bench/<name>.py`, so this directory is on sys.path and they import
`_common` directly. The `slide` command has its own machine line (python/libslide/cli.py, `_machine`).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOCS = HERE.parent / "docs"
SHARED_DATA = HERE.parent.parent / "shared" / "data"  # the real data sets (debdeps, revdict), read-only
DEBDEPS_DIR = SHARED_DATA / "debdeps"


# ------------------------------------------------------------------------------------------ machine
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _library() -> tuple[str | None, str | None]:
    """libslide's version and kernel ISA. Imports libslide, which sets OMP_WAIT_POLICY in os.environ when
    unset: scripts that start child processes take their environment before calling machine()."""
    try:
        import libslide as sl
    except ImportError:
        return None, None
    return sl.__version__, sl.kernel_isa()


def machine(threads: int | None = None) -> dict:
    """The machine a result was measured on: CPU model, logical CPUs (and how many this process may use),
    memory, 1/5/15-minute load average now, OS, libslide version and kernel ISA, and the thread count."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    version, isa = _library()
    mem = _memory_gib()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": cpus,
        "usable_cpus": usable,
        "memory_gib": None if mem is None else round(mem, 1),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libslide": version,
        "kernel_isa": isa,
        "threads": threads,
    }


def describe(m: dict) -> str:
    """One line for tables and plot titles: 'AMD EPYC 7B13, 2 CPUs, 23.5 GiB, avx2, 2 threads'."""
    parts = [m["cpu"], f"{m['logical_cpus']} CPUs"]
    if m.get("memory_gib"):
        parts.append(f"{m['memory_gib']:.1f} GiB")
    if m.get("kernel_isa"):
        parts.append(m["kernel_isa"])
    if m.get("threads"):
        parts.append(f"{m['threads']} thread{'' if m['threads'] == 1 else 's'}")
    return ", ".join(parts)


def load_average_1min() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def peak_rss_mib() -> float:
    """This process's maximum resident set size so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------ results
def command_line() -> str:
    """The command as it was typed, for the result file: 'python bench/debdeps.py --threads 2', preceded by the
    library's SLIDE_* environment switches when any is set ('SLIDE_PREACT_PANEL=0 python bench/...')."""
    env = [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("SLIDE_")]
    return " ".join(env + ["python"] + sys.argv)


def utc_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def result_header(threads: int | None = None) -> dict:
    """The fields every result file starts with: command, machine (one line), machine_info, started_utc."""
    m = machine(threads)
    return {"command": command_line(), "machine": describe(m), "machine_info": m, "threads": threads,
            "started_utc": utc_now()}


def write_json(path, obj) -> Path:
    """Writes obj as indented JSON (numpy scalars as floats), creating the directory; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float))
    return path


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


# ------------------------------------------------------------------------------------------ arguments
def add_threads_arg(p, default: int = 2) -> None:
    p.add_argument("--threads", type=int, default=default, help="OpenMP threads (default %(default)s)")


def add_data_arg(p) -> None:
    p.add_argument("--data", default=str(DEBDEPS_DIR),
                   help="debdeps directory with train.txt.gz and test.txt.gz (default %(default)s)")


def add_out_arg(p, default_name: str | None, what: str = "results file") -> None:
    """--out; default bench/results/<default_name> (None: the script derives the name from its arguments)."""
    default = None if default_name is None else str(RESULTS / default_name)
    p.add_argument("--out", default=default,
                   help=f"{what} (default {default or 'derived from the arguments, in bench/results/'})")


# ------------------------------------------------------------------------------------------ data
def load_debdeps(path=DEBDEPS_DIR):
    """debdeps (Debian package descriptions -> dependencies, 33,150 features, 17,836 labels): (X, Y, Xt, Yt),
    the 43,774 training and 10,797 test points, read by the C XC reader."""
    import libslide as sl

    path = Path(path)
    X, Y = sl.load_xc(path / "train.txt.gz")
    Xt, Yt = sl.load_xc(path / "test.txt.gz")
    return X, Y, Xt, Yt


def load_amazon_shape(n_train: int = 490449, n_test: int = 20000, seed: int = 0, realistic: bool = True):
    """Generated data with Amazon-670K's dimensions (135,909 features, 670,091 labels, ~75 non-zeros per row):
    (X, Y, Xt, Yt) from libslide.datasets.amazon670k_shape. The default n_train is Amazon-670K's. realistic
    (default): topics, correlated and noisy labels, a long tail, P@1 near the real set's ~0.35 for a
    128-hidden network; False: the easy generator (P@1 ~0.9) the 0.3 measurements used."""
    import libslide as sl

    return sl.datasets.amazon670k_shape(n_train=n_train, n_test=n_test, seed=seed, realistic=realistic)


# ------------------------------------------------------------------------------------------ settings
def retrieval_lsh(*args, **kw):
    """An LSH whose active sets are filled by hash retrieval, one per sample, without logQ correction: what
    LSH() meant before 0.4, which the retrieval benchmarks (hash families, random shares, threads, bf16, the
    tuned vs_torch implementations) measure. Arguments given here override those three settings."""
    import libslide as sl

    base = dict(batch_shared=False, random_fraction=0.0, logq_correction=False)
    base.update(kw)
    return sl.LSH(*args, **base)
