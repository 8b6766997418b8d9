"""Benchmark: how far the committed model's training reproduces under different CPU kernel settings.

    python benchmarks/bench_repro.py [--data DIR] [--settings default,no-onednn,...] [--repeats 2] [--out DIR]

Every training is ``train_run`` with ``MAIN_CONFIG`` on the group split, seed 0 (what
``models/jazz-electronic`` was made with), each in a new process, because the kernel
settings are fixed when TensorFlow starts. A setting is ``default`` or tokens joined
by ``+``:

* ``no-onednn``: ``TF_ENABLE_ONEDNN_OPTS=0`` (TensorFlow's own operations instead of
  oneDNN's; their matrix multiplies still call oneDNN, see below);
* ``threads=N``: ``N`` intra-op and ``N`` inter-op threads (TensorFlow's default is one
  per core); ``one-thread`` is ``threads=1``;
* ``isa=NAME``: ``ONEDNN_MAX_CPU_ISA=NAME`` (e.g. ``AVX2``): oneDNN picks its kernels
  as on a CPU without the newer instructions, the one part of "another CPU" that can be
  imitated on this machine;
* ``both`` is ``no-onednn+threads=1``.

Why ``isa`` matters even with ``no-onednn``: TensorFlow's x86 build lets Eigen's matrix
multiplications call oneDNN's matrix multiply, whose kernels are generated at run time
for the instruction set the CPU reports; ``TF_ENABLE_ONEDNN_OPTS`` only chooses between
oneDNN's whole operations and TensorFlow's own. The machine line says which instruction
set each setting runs.

Prints the machine (CPU, cores, TensorFlow version, whether oneDNN is on, the
instruction set oneDNN uses under each setting), then per training: the wall time of
the process and of the fit, the largest absolute weight difference to the committed
model and to the same setting's first repeat, the held-out accuracies (RNN under
``file`` and ``first100``, RNN + baseline under ``file``), and on how many held-out
files its RNN's label differs from the committed model's (all judged in this process,
so a difference comes from the weights); then the committed model against the first
default training layer by layer; then the trainings grouped by identical weights, and
how far apart the groups are. The default settings with two repeats are twelve
trainings of a few minutes each; run folders go to ``--out`` (kept, and reused when the
command runs again) or a temporary folder. No timed asserts: the figures are the result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from genre_lib.paths import SHARED_MIDI  # noqa: E402
from genre_lib.locations import REAL_RUN_DIR  # noqa: E402

GENRES = ["jazz", "electronic"]
ALIASES = {"one-thread": "threads=1", "both": "no-onednn+threads=1"}
DEFAULT_SETTINGS = "default,one-thread,no-onednn,no-onednn+threads=4,isa=AVX2,isa=AVX2+threads=1"


def parse_setting(setting: str) -> tuple[dict[str, str], int | None]:
    """The environment variables and thread count of a setting name (see the module
    docstring); ``ValueError`` names the token it does not know."""
    env: dict[str, str] = {}
    threads = None
    expanded = ALIASES.get(setting, setting)
    for token in expanded.split("+"):
        if token == "default":
            continue
        if token == "no-onednn":
            env["TF_ENABLE_ONEDNN_OPTS"] = "0"
        elif token.startswith("threads=") and token[8:].isdigit() and int(token[8:]) > 0:
            threads = int(token[8:])
        elif token.startswith("isa=") and token[4:]:
            env["ONEDNN_MAX_CPU_ISA"] = token[4:].upper()
        else:
            raise ValueError(f"setting {setting!r}: unknown part {token!r} (use default, no-onednn, threads=N, isa=NAME, "
                             f"or {', '.join(ALIASES)})")
    return env, threads


def child(data_dir: Path, out: Path, threads: int | None) -> None:
    """One training in this process (started by :func:`train_once`); writes the run
    folder ``out`` and ``out.json`` beside it with what TensorFlow ran with."""
    import tensorflow as tf

    if threads is not None:  # before any op runs, or TensorFlow refuses
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tensorflow.python.util import _pywrap_util_port

    from genre_lib.dataset import load_dataset
    from genre_lib.configs import MAIN_CONFIG
    from genre_lib.train import train_run

    data = load_dataset(data_dir, GENRES, progress=False)
    run = train_run(data, out, config=MAIN_CONFIG, seed=0, split="group")
    info = {"onednn": bool(_pywrap_util_port.IsMklEnabled()),
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "fit_seconds": run.meta["train_seconds"]}
    out.with_suffix(".json").write_text(json.dumps(info))


def onednn_isa(setting: str) -> str:
    """The instruction set oneDNN dispatches to under ``setting``, as its verbose mode
    names it. TensorFlow's x86 build calls oneDNN's matrix multiply from its own (Eigen)
    kernels too, so this holds with ``no-onednn`` as well."""
    env, _ = parse_setting(setting)
    probe = "import tensorflow as tf; tf.matmul(tf.ones((8, 8)), tf.ones((8, 8)))"
    result = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **env, "ONEDNN_VERBOSE": "1"},
                            capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        if ",cpu,isa:" in line:
            return line.split(",cpu,isa:", 1)[1].strip()
    return "not reported"


def train_once(setting: str, out: Path, data_dir: Path) -> dict:
    """Train in a new process under ``setting`` into ``out`` unless it exists; returns
    the child's info with the process's wall time (``reused``: trained by an earlier call)."""
    env, threads = parse_setting(setting)
    info_path = out.with_suffix(".json")
    if out.exists() and info_path.exists():
        return {**json.loads(info_path.read_text()), "reused": True}
    start = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", str(out), "--data", str(data_dir)]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    subprocess.run(cmd, env={**os.environ, **env}, check=True)
    wall = time.perf_counter() - start
    info = {**json.loads(info_path.read_text()), "wall": wall}
    info_path.write_text(json.dumps(info))
    return {**info, "reused": False}


def max_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Largest absolute difference between two models' weights."""
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def machine() -> str:
    """CPU, cores, TensorFlow version and oneDNN state of this machine, in one line."""
    from tensorflow.python.util import _pywrap_util_port

    from genre_lib.machine import one_line

    onednn = _pywrap_util_port.IsMklEnabled()
    return f"{one_line()}; oneDNN {'on' if onednn else 'off'} in this process"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_MIDI)
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help=f"comma-separated (default {DEFAULT_SETTINGS})")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, help="keep run folders here (and reuse those that exist)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.data, args.child, args.threads)
        return
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    for s in settings:  # refuse a typo before hours of training
        try:
            parse_setting(s)
        except ValueError as exc:
            parser.error(str(exc))
    if not args.data.is_dir():
        sys.exit(f"{args.data}: no such data folder")

    print(machine())
    for s in settings:
        print(f"  {s}: oneDNN kernels for {onednn_isa(s)}")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        runs: dict[tuple[str, int], tuple[Path, dict]] = {}
        for s in settings:
            for r in range(1, args.repeats + 1):
                folder = out / f"{s.replace('=', '').replace('+', '_')}-{r}"
                runs[s, r] = folder, train_once(s, folder, args.data)
        report(runs, args.data)


def report(runs: dict, data_dir: Path) -> None:
    """Print the table of trainings and the comparisons (see the module docstring)."""
    from genre_lib.dataset import load_dataset
    from genre_lib.runs import load_run

    committed = load_run(REAL_RUN_DIR)
    data = load_dataset(data_dir, GENRES, progress=False)
    test = committed.held_out(data.paths)
    tables = data.tables(test)
    # every model judged here, with this process's kernels, so label differences come from the weights
    labels, weights, layers = {}, {}, {}
    for key, run in [("committed", committed)] + [(k, load_run(folder)) for k, (folder, _) in runs.items()]:
        weights[key] = run.model.get_weights()
        layers[key] = [v.path for v in run.model.weights]
        labels[key] = {p: run.verdict("rnn", p).predict(tables) for p in ("file", "first100")}
        if key != "committed":
            runs[key][1]["metrics"] = run.metrics
    c = committed.metrics
    print(f"committed {REAL_RUN_DIR.name}: RNN file {c['rnn']['protocols']['file']['accuracy']:.3f}, first100 "
          f"{c['rnn']['protocols']['first100']['accuracy']:.3f}, combined file {c['combined']['accuracy']:.3f} "
          f"on {len(test)} held-out files; fit {committed.meta['train_seconds']:.0f} s when it was made")
    print(f"{'setting':<28}{'rep':>4}{'wall s':>8}{'fit s':>7}{'onednn':>7}{'thr':>4}  {'vs committed':>12}"
          f"{'vs rep 1':>10}  {'file':>6}{'first100':>9}{'comb':>6}  {'labels≠committed file/first100':>30}")
    print("  (wall with r: trained by an earlier call into --out; thr all: TensorFlow's default, one per core)")
    for (s, r), (_, info) in runs.items():
        m = info["metrics"]
        first = weights[s, 1]
        wall = f"{info['wall']:.0f}" + ("r" if info["reused"] else "")
        diff_c = max_difference(weights[s, r], weights["committed"])
        diff_1 = "" if r == 1 else f"{max_difference(weights[s, r], first):.3g}"
        changed = "/".join(str(int((labels[s, r][p] != labels["committed"][p]).sum())) for p in ("file", "first100"))
        print(f"{s:<28}{r:>4}{wall:>8}{info['fit_seconds']:>7.0f}{'on' if info['onednn'] else 'off':>7}"
              f"{info['intra_op'] or 'all':>4}  {diff_c:>12.3g}{diff_1:>10}  "
              f"{m['rnn']['protocols']['file']['accuracy']:>6.3f}{m['rnn']['protocols']['first100']['accuracy']:>9.3f}"
              f"{m['combined']['accuracy']:>6.3f}  {changed:>30}")

    if ("default", 1) in runs:
        a, b = weights["default", 1], weights["committed"]
        print("\ncommitted vs default-1, layer by layer (largest absolute difference / largest absolute weight):")
        for name, x, z in zip(layers["committed"], a, b, strict=True):
            print(f"  {name:<48}{float(np.abs(x - z).max()):>10.3g} / {float(np.abs(z).max()):.3g}")
    groups: list[list] = []  # trainings with identical weights
    for key in ["committed", *runs]:
        for group in groups:
            if max_difference(weights[key], weights[group[0]]) == 0:
                group.append(key)
                break
        else:
            groups.append([key])
    print("\ntrainings with identical weights:")
    for i, group in enumerate(groups, 1):
        print(f"  {i}: {', '.join(k if k == 'committed' else f'{k[0]}#{k[1]}' for k in group)}")
    print("between groups: largest weight difference; held-out files labelled differently (file/first100)")
    for i, g1 in enumerate(groups, 1):
        for j, g2 in enumerate(groups[i:], i + 1):
            k1, k2 = g1[0], g2[0]
            changed = "/".join(str(int((labels[k1][p] != labels[k2][p]).sum())) for p in ("file", "first100"))
            print(f"  {i} vs {j}: {max_difference(weights[k1], weights[k2]):.3g}  {changed}")

if __name__ == "__main__":
    main()
