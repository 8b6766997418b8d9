"""What machine and software a run was trained on: the one place that reads them. The
same seed gives the same weights on one machine only (oneDNN generates kernels for the
CPU's instruction set, ``benchmarks/bench_repro.py``), so a run records the CPU, its
vector flags, the kernel settings and the library versions.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

#: the CPU flags that change which kernels oneDNN generates
VECTOR_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
#: environment variables that set how many threads TensorFlow (and OpenMP in oneDNN) use
THREAD_ENV = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
#: environment variables that change TensorFlow's CPU kernels or their threads
KERNEL_ENV = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", *THREAD_ENV)
#: the libraries whose version can change a trained model or its figures, each with the
#: distributions that install it (TensorFlow comes as ``tensorflow`` or ``tensorflow-cpu``)
PACKAGES = {"tensorflow": ("tensorflow", "tensorflow-cpu"), "keras": ("keras",), "numpy": ("numpy",),
            "scikit-learn": ("scikit-learn",), "pretty_midi": ("pretty_midi",)}


def cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """The CPU's model name and which of :data:`VECTOR_FLAGS` it reports (Linux reads
    ``/proc/cpuinfo``; elsewhere the platform's processor name and no flags)."""
    name = platform.processor() or platform.machine()
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return name, []
    name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), name)
    have = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
    return name, [f for f in VECTOR_FLAGS if f in have]


def versions() -> dict[str, str | None]:
    """Installed versions of :data:`PACKAGES` and Python (None: not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name, distributions in PACKAGES.items():
        found[name] = None
        for dist in distributions:
            try:
                found[name] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def describe() -> dict:
    """The machine as a run folder records it: CPU, flags, cores, kernel settings set in
    the environment, and library versions."""
    name, flags = cpu()
    return {"cpu": name, "cpu_flags": flags, "cores": os.cpu_count(),
            "kernel_env": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ},
            "versions": versions()}


def one_line(machine: dict | None = None) -> str:
    """:func:`describe` (or a recorded one) in one line, for benchmarks and reports."""
    m = describe() if machine is None else machine
    env = ", ".join(f"{k}={v}" for k, v in m.get("kernel_env", {}).items()) or "default kernel settings"
    v = m.get("versions", {})
    return (f"{m.get('cpu')} ({' '.join(m.get('cpu_flags', []))}), {m.get('cores')} cores; "
            f"TensorFlow {v.get('tensorflow')}, Keras {v.get('keras')}; {env}")


def share_cores(processes: int, environ: dict[str, str] | None = None) -> str:
    """Set :data:`THREAD_ENV` in ``environ`` (default ``os.environ``, inherited by
    processes started from here) to the cores divided among ``processes`` side by side,
    unless already set; returns the count. TensorFlow sizes its pools for every core, and
    processes sharing cores fight over them (the weights do not depend on it).
    """
    env = os.environ if environ is None else environ
    threads = str(max(1, (os.cpu_count() or 1) // max(1, processes)))
    for name in THREAD_ENV:
        env.setdefault(name, threads)
    return threads
