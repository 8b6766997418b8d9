"""The ``genre-lib`` command line: one ``_cmd_<name>(args)`` per subcommand of
:func:`build_parser`. An error the user can fix is one line on stderr and exit status 2;
TensorFlow is imported only after the checks that need no model, quietly."""

from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Callable

from .dataset import MAX_NOTES, DataError, load_dataset
from .evaluate import GenreMismatchError
from .flip import FlipError, FlipSettings
from .midi_io import FEATURES, MidiError
from .protocols import FILE_WINDOWS, PROTOCOLS
from .runs import RunError
from .saliency import METHODS as SALIENCY_METHODS  # no TensorFlow at import time
from .saliency import OUTPUTS as SALIENCY_OUTPUTS
from .verdicts import LABELS, VERDICTS


class UnknownGenreError(ValueError):
    """A target genre the run was not trained on."""


def _fail(args: argparse.Namespace, message: str) -> int:
    one_line = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(f"genre-lib {args.command}: error: {one_line}", file=sys.stderr)
    return 2


def _import_tensorflow_quietly() -> None:
    # absl and oneDNN write to file descriptor 2 while loading: it points at /dev/null meanwhile
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                try:
                    import tensorflow  # noqa: F401  (the import is the point)
                finally:
                    os.dup2(saved, 2)
        finally:
            os.close(saved)
    import logging

    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _print_json(obj: dict) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _run_meta(run_dir: Path) -> dict:
    # what can be checked before TensorFlow is imported: run.json, and a model.keras that is a zip archive
    from .runs import read_run_meta

    try:
        meta = read_run_meta(run_dir)
    except (RunError, OSError) as exc:
        raise RunError(f"{run_dir}: cannot load run: {exc}") from None
    model = Path(run_dir) / "model.keras"
    if not zipfile.is_zipfile(model):  # a .keras file is a zip archive
        raise RunError(f"{run_dir}: cannot load run: {model}: cannot load the model (not a Keras archive)")
    return meta


def _load_run(run_dir: Path):
    from .runs import load_run

    _run_meta(run_dir)
    _import_tensorflow_quietly()
    try:
        return load_run(run_dir)
    except (RunError, OSError) as exc:
        raise RunError(f"{run_dir}: cannot load run: {exc}") from None


def _run_and_data(args: argparse.Namespace, genres: list[str] | None):
    meta = _run_meta(args.run_dir)
    data = load_dataset(args.data_dir, genres, max_notes=int(meta["max_notes"]),
                        progress=not getattr(args, "json", False))
    return _load_run(args.run_dir), data


def _files_to_judge(args: argparse.Namespace, run, data, max_files: int = 0):
    try:
        return run.files_to_judge(data.paths, args.split, max_files, getattr(args, "seed", 0))
    except ValueError as exc:
        raise DataError(f"{args.data_dir}: {exc}") from None


def _genre_index(genres: list[str] | tuple[str, ...], name: str) -> int:
    lowered = [g.lower() for g in genres]
    if name.lower() not in lowered:
        raise UnknownGenreError(f"unknown target genre {name!r}; this run knows: {', '.join(genres)}")
    return lowered.index(name.lower())


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from .demo import make_demo_corpus

    paths = make_demo_corpus(args.out_dir, per_genre=args.per_genre, seed=args.seed)
    print(f"{args.out_dir}: {len(paths)} generated demo MIDI files (not real music; seed {args.seed})")
    return 0


def _cmd_preprocess(args: argparse.Namespace) -> int:
    data = load_dataset(args.data_dir, args.genres, max_notes=args.max_notes, progress=not args.json)
    report = data.report()
    if args.json:
        _print_json(report)
        return 0
    print(f"{report['root']}: {report['found']} MIDI files found, {report['used']} used, {report['skipped']} skipped")
    for genre, n in report["used_per_genre"].items():
        print(f"  {genre}: {n} files x {report['max_notes']} notes")
    for s in data.skipped:
        print(f"  skipped {s.path}: {s.reason}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from .configs import ITERATIONS, ModelConfig
    from .train import check_genres, train_run

    settings = {f.name for f in fields(ModelConfig)}
    changes = {k: v for k, v in vars(args).items() if k in settings and v is not None}
    try:
        config = ITERATIONS[args.iteration].replace(**changes)
    except ValueError as exc:
        return _fail(args, str(exc))
    if args.out.exists() and not args.overwrite:  # train_run refuses too; this comes before the data is read
        return _fail(args, f"{args.out}: run folder exists; not replaced (choose another --out or pass --overwrite)")
    data = load_dataset(args.data_dir, args.genres, max_notes=args.max_notes, progress=True)  # DataError: one line
    check_genres(data)  # before TensorFlow: a folder of one genre fails at once
    _import_tensorflow_quietly()
    try:
        run = train_run(data, args.out, args.genres, config, seed=args.seed, split=args.split,
                        split_seed=args.split_seed, max_notes=args.max_notes, file_windows=args.file_windows,
                        overwrite=args.overwrite, progress=True, verbose=2 if args.verbose else 0)
    except FileExistsError as exc:
        return _fail(args, f"{exc} (choose another --out or pass --overwrite)")
    except DataError as exc:
        return _fail(args, str(exc))
    m = run.metrics
    print(f"{args.out}: {run.meta['epochs_trained']} epochs in {run.meta['train_seconds']:.0f} s; "
          f"{args.split}-split test files ({m['rnn']['protocols']['file']['n']}), accuracy judged by "
          f"{args.file_windows} windows / by the first 100 notes:")
    for who in VERDICTS:
        if who in m:
            acc = m[who]["protocols"]
            print(f"  {LABELS[who]:15} {acc['file']['accuracy']:.3f} / {acc['first100']['accuracy']:.3f}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_run

    run, data = _run_and_data(args, args.genres)
    extra = ()
    if args.ear:  # the audio judge beside the others (genre_lib.ear)
        from .ear import load_ears

        try:
            extra = tuple(load_ears(args.ear, run.genres).values())
        except (ImportError, OSError, ValueError, KeyError) as exc:
            return _fail(args, f"--ear {args.ear}: {exc}")
    try:
        result = evaluate_run(run, data, args.protocol, args.file_windows, extra)
    except GenreMismatchError as exc:
        return _fail(args, f"{exc} (pass --genres to pick them)")
    if args.json:
        _print_json(result)
        return 0
    k = result["protocols"]["file"]["windows"]
    print(f"{args.data_dir}: {result['n']} files ({len(data.skipped)} skipped)")
    for protocol, m in result["protocols"].items():
        how = f"a vote of {k} windows" if protocol == "file" else "the first 100 notes"
        print(f"  {protocol:8} (judged by {how}): RNN accuracy {m['accuracy']:.3f}, loss {m['loss']:.3f}")
        for genre, g in m["per_genre"].items():
            print(f"    {genre:12} n={g['n']:4}  precision {g['precision']:.3f}  recall {g['recall']:.3f}")
        print("    confusion (rows true, columns predicted):", m["confusion"])
    for who in (*VERDICTS[1:], *(v.name for v in extra)):
        if who in result:
            print(f"  {LABELS.get(who, who) + ':':16} " + ", ".join(f"{p} accuracy {m['accuracy']:.3f}"
                                                      for p, m in result[who]["protocols"].items()))
    if "baseline_problem" in result:
        print(f"  (no baseline or combined figures: {result['baseline_problem']})")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .dataset import check_usable
    from .midi_io import read_midi

    run = _load_run(args.run_dir)
    paths, tables, status = [], [], 0
    protocol = "file" if args.whole_file else "first100"
    for path in args.files:
        try:
            table = read_midi(path)
            check_usable(table, path, run.max_notes)
            tables.append(table)
            paths.append(path)
        except MidiError as exc:
            print(f"genre-lib predict: {path}: skipped: {exc.reason}", file=sys.stderr)
            status = 2
    try:
        verdict = run.verdict(args.verdict, protocol, args.file_windows)
    except ValueError as exc:  # a baseline verdict from a run without a usable baseline
        return _fail(args, str(exc))
    # one batched call for all files: a model call has a fixed overhead
    probs = verdict.predict_proba(tables) if tables else []
    rows = [
        {"path": str(path), "predicted": run.genres[int(p.argmax())],
         "probabilities": {g: round(float(v), 4) for g, v in zip(run.genres, p)}}
        for path, p in zip(paths, probs)
    ]
    if args.json:
        _print_json({"genres": list(run.genres), "protocol": protocol, "verdict": args.verdict, "files": rows})
    else:
        for r in rows:
            probs = "  ".join(f"{g} {v:.3f}" for g, v in r["probabilities"].items())
            print(f"{r['path']}: {r['predicted']}  ({probs})")
    return status


def _cmd_iterations(args: argparse.Namespace) -> int:
    from .runs import iterations_table

    table = iterations_table(args.runs_dir)
    if args.json:
        _print_json({"runs": json.loads(table.to_json(orient="records"))})
    elif table.empty:
        print(f"{args.runs_dir}: no run folders")
    else:
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def _cmd_flip(args: argparse.Namespace) -> int:
    from .midi_io import write_midi
    from .flip import flip_file

    src, out = Path(args.file), Path(args.out)
    if out.resolve() == src.resolve():
        return _fail(args, f"{out}: --out is the input file; the input is never overwritten, choose another path")
    if out.exists() and not args.overwrite:
        return _fail(args, f"{out}: already exists (pass --overwrite to replace it)")
    genres = [str(g) for g in _run_meta(args.run_dir)["genres"]]
    target = _genre_index(genres, args.target)
    run = _load_run(args.run_dir)
    settings = FlipSettings(l1=args.l1, l2=args.l2, lr=args.lr, margin=args.margin, max_steps=args.max_steps,
                            frozen=tuple(args.freeze), seed=args.seed)
    protocol = "file" if args.whole_file else "first100"
    flip = flip_file(run, src, target, settings, protocol, convince=args.convince, asked=args.ask,
                     file_windows=args.file_windows)  # RunError, MidiError, FlipError -> one line, exit 2
    result, table = flip.result, flip.table
    summary = flip.to_dict(out)
    how = "its vote of windows" if args.whole_file else "its first notes"
    if args.json:
        _print_json(summary)
    if not result.flipped:
        p = result.probs_reparsed if result.probs_reparsed is not None else result.probs_after
        return _fail(
            args,
            f"{src}: no flip to {genres[target]} within {args.max_steps} steps "
            f"(p={p[target]:.2f} after the MIDI round trip); nothing written"
        )
    write_midi(result.modified, out, overwrite=args.overwrite)
    if not args.json:
        before, after = result.probs_before, result.probs_reparsed
        print(
            f"{src.name}: {genres[int(before.argmax())]} (p={before.max():.2f}) -> {genres[target]} "
            f"(p={after[target]:.2f} re-reading {out.name}, judged by {how}); {result.notes_changed} of "
            f"{len(table)} notes changed ({result.share_changed:.1%}), {result.seconds_touched:.1f} s of music touched, "
            f"l1 {result.l1:.2f}, l2 {result.l2:.2f} (scaled units), {result.steps} steps"
        )
        for c in result.changes[:20]:
            print(f"  note {c['note']:3d}: {c['text']}")
        if len(result.changes) > 20:
            print(f"  ... {len(result.changes) - 20} more changes (see --json)")
        _print_opinions(summary.get("opinions"), summary.get("plausibility_problem"))
    return 0


def _print_opinions(opinions: dict | None, problem: str | None) -> None:
    if not opinions:
        return
    print(f"second opinions on the whole file, the rest kept (does the judge now say {opinions['target']}?):")
    for name, by in opinions["verdicts"].items():
        print(f"  {LABELS.get(name, name):15} " + ", ".join(
            f"{p}: {'yes' if v['agrees'] else 'no '} (p {v['p_target_before']:.2f} -> {v['p_target_after']:.2f})"
            for p, v in by.items()))
    plaus = opinions.get("plausibility")
    if plaus:
        print(f"  plausibility as {opinions['target']} (above 0: nearer its real files than the other genre's): "
              + ", ".join(f"{p} {v['score_before']:+.2f} -> {v['score_after']:+.2f}"
                          for p, v in plaus.items() if p != "measure"))
    elif problem:
        print(f"  (no plausibility: {problem})")
    sec = opinions["seconds"]
    print(f"  seconds: the flipped notes {sec['excerpt_before']:.1f} -> {sec['excerpt_after']:.1f}, "
          f"the file {sec['file_before']:.1f} -> {sec['file_after']:.1f}")


def _cmd_probe(args: argparse.Namespace) -> int:
    from .evaluate import align_labels
    from .probes import probe_report, text_table

    run, data = _run_and_data(args, args.genres)
    y = align_labels(data, run.genres)
    index = _files_to_judge(args, run, data)
    try:
        report = probe_report(run, data.tables(index), y[index], args.probes, repeats=args.repeats, seed=args.seed)
    except ValueError as exc:  # a probe that applies to none of the run's verdicts
        return _fail(args, f"{args.run_dir}: {exc}")
    report = {"run": str(args.run_dir), "data": str(args.data_dir), "split": args.split,
              "skipped": len(data.skipped), **report}
    if args.json:
        _print_json(report)
        return 0
    print(f"{args.data_dir}: {report['files']} files ({args.split}; {len(data.skipped)} skipped), "
          f"{args.repeats} repeats, seed {args.seed}; accuracy as is -> probed, effect [95 % interval over files]")
    print(text_table(report["results"]))
    inputs = report["dense_inputs"]
    if inputs:
        print(f"dense-layer inputs: {inputs['total']}, {inputs['order_free']} order-free "
              f"(the statistics part: {inputs['statistics']}; the recurrent state: {inputs['recurrent']})")
    if report["baseline_problem"]:
        print(f"  (no baseline: {report['baseline_problem']})")
    if args.probes is not None:  # what the default left out goes without saying
        for verdict, probes in report["not_applied"].items():
            print(f"  (not for the {verdict}: {', '.join(probes)}; it has no such part)")
    return 0


def _cmd_saliency(args: argparse.Namespace) -> int:
    from . import saliency as S
    from .dataset import load_file

    if args.out is not None and args.out.exists() and not args.overwrite:
        return _fail(args, f"{args.out}: already exists (pass --overwrite to replace it)")
    meta = _run_meta(args.run_dir)
    genres = [str(g) for g in meta["genres"]]
    target = None if args.target is None else _genre_index(genres, args.target)
    table = load_file(args.file, int(meta["max_notes"]))  # MidiError -> one line, exit 2
    run = _load_run(args.run_dir)
    smap = S.method_named(args.method, run.model, args.output, seed=args.seed).explain(table, target)
    if args.out is not None:
        from .plots import saliency_figure

        args.out.parent.mkdir(parents=True, exist_ok=True)
        saliency_figure(table, smap, genres, Path(args.file).name, top=10).savefig(args.out, dpi=110)
    described = smap.to_dict(genres)
    if args.json:
        _print_json({"file": str(args.file), **described, "out": str(args.out) if args.out is not None else None})
        return 0
    print(f"{Path(args.file).name}: predicted {described['predicted']} "
          + ", ".join(f"p({g})={p:.3f}" for g, p in zip(genres, smap.probs)))
    print(f"{smap.method} map of {described['explained']}; most important notes ({smap.unit}):")
    for row in smap.top_notes(10):
        print(f"  note {row['note']:3d}: |sum| {row['importance']:.4f}, signed {row['signed']:+.4f}, mostly {row['feature']}")
    if smap.completeness is not None:
        c = described["completeness"]
        print(f"completeness: the map sums to {c['sum']:.4f}, the output differs from the baseline's by "
              f"{c['difference']:.4f} ({'passes' if c['passes'] else 'FAILS'} at {c['tolerance']:.0%})")
    for item in smap.unattributed:
        print(f"gets no attribution: {item}")
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


def _cmd_saliency_check(args: argparse.Namespace) -> int:
    from .saliency_checks import check_methods

    meta = _run_meta(args.run_dir)
    run, data = _run_and_data(args, list(meta["genres"]))
    index = _files_to_judge(args, run, data, args.max_files)
    checks = check_methods(run.model, data.X[index], data.y[index], methods=(args.method,), output=args.output,
                           files=tuple(data.paths[i] for i in index), genres=tuple(run.genres), n_steps=args.n_steps,
                           flips=False, seed=args.seed)
    if args.json:
        _print_json({"run": str(args.run_dir), "data": str(args.data_dir), "files": args.split,
                     "skipped": len(data.skipped), **checks.summary()})
        return 0
    print(f"{args.data_dir}: {checks.n} files ({len(data.skipped)} skipped), method {args.method}, "
          f"explained output {args.output}")
    for line in checks.lines():
        print(line)
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from .download import LICENCE_NOTE, ManifestError, UnreachableError, download, read_manifest, select_genres

    try:
        entries = select_genres(read_manifest(args.manifest), args.genres)
        print(f"Licence: {LICENCE_NOTE}", flush=True)
        report = download(entries, args.dest, base_url=args.base_url, retries=args.retries,
                          backoff=args.backoff, progress=True)
    except (ManifestError, UnreachableError, ValueError) as exc:
        return _fail(args, str(exc))
    except OSError as exc:  # the destination, not the network: permissions, disk full
        return _fail(args, f"{getattr(exc, 'filename', None) or args.dest}: cannot write: {exc.strerror or exc}")
    print(report.summary())
    # 1, not 2: the command ran; some files are missing and a rerun may fetch them
    return 0 if report.ok else 1


def _cmd_concepts(args: argparse.Namespace) -> int:
    from .concept_study import concept_report, text_table

    run = _load_run(args.run_dir)
    others = {d.name: _load_run(d) for d in args.also}
    report = concept_report(run, args.data_dir, args.split, others, args.seed)
    if args.json:
        _print_json(report)
        return 0
    print(f"{args.data_dir}: {report['table']['files']} files ({args.split}; {len(report['skipped'])} skipped); share of "
          f"verdicts each edit changes and change of the margin ({report['table']['margin']}), 95 % intervals over files")
    print(text_table(report["table"]))
    print("\n".join(f"{who}: {text}" for who, text in report["answers"].items()))
    return 0


def _adder(sub) -> "Callable[..., argparse.ArgumentParser]":
    # parents: the options several subcommands share, each declared once
    P = {name: argparse.ArgumentParser(add_help=False) for name in ("json", "run", "data", "seed", "genres", "split",
                                                                    "output")}
    P["json"].add_argument("--json", action="store_true", help="print one JSON object")
    P["run"].add_argument("run_dir", type=Path, help="trained run folder (see genre_lib.runs)")
    P["data"].add_argument("data_dir", type=Path, help="folder laid out as DATA_DIR/<genre>/*.mid")
    P["genres"].add_argument("--genres", nargs="+", help="genres to use (default: every genre folder)")
    P["seed"].add_argument("--seed", type=int, default=0)
    P["split"].add_argument("--split", choices=("all", "test"), default="all",
                            help="test: only the run's held-out test files found in DATA_DIR (default: all files)")
    P["output"].add_argument("--method", choices=SALIENCY_METHODS, default="gradient",
                             help="attribution method (default gradient)")
    P["output"].add_argument("--output", choices=SALIENCY_OUTPUTS, default=SALIENCY_OUTPUTS[0],
                             help="what the map explains: the target's logit minus the mean of the others' "
                                  "(default) or its logit")

    def add(name: str, *parents: str, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[P[k] for k in parents], **kwargs)
        p.set_defaults(func=globals()["_cmd_" + name.replace("-", "_")])
        return p

    return add


def _add_train(add) -> None:
    from dataclasses import fields

    from .configs import ITERATIONS, MAIN_ITERATION, ModelConfig

    p = add("train", "data", "genres", help="train an RNN on a data folder, write a run folder")
    p.add_argument("--out", required=True, type=Path, help="run folder to create")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights and the batches, and the split unless --split-seed")
    p.add_argument("--split", choices=("group", "stratified"), default="group",
                   help="group: no artist/sequencer on two sides (default); stratified: random files")
    p.add_argument("--split-seed", type=int, help="seeds the split alone (default: --seed), e.g. for a seed sibling")
    p.add_argument("--max-notes", type=int, default=MAX_NOTES)
    p.add_argument("--file-windows", type=int, default=FILE_WINDOWS, help="windows per file of the file protocol")
    p.add_argument("--iteration", choices=list(ITERATIONS), default=MAIN_ITERATION,
                   help="settings to start from (default %(default)s); the flags below change them")
    p.add_argument("--cell", choices=("gru", "lstm"))
    for f in fields(ModelConfig):  # a flag per setting, help in ModelConfig's docstring
        kind = {"int": int, "float": float, "bool": argparse.BooleanOptionalAction}.get(str(f.type))
        if kind is not None:
            p.add_argument(f"--{f.name.replace('_', '-')}", **({"action": kind} if kind is argparse.BooleanOptionalAction
                                                               else {"type": kind}), help=f"ModelConfig.{f.name}")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument("--verbose", action="store_true", help="print every epoch")


def _add_flip(add) -> None:
    p = add("flip", "run", "json", "seed",
            help="change a file as little as possible so the model calls it another genre")
    p.add_argument("file", type=Path, help="MIDI file to flip (never modified)")
    p.add_argument("--target", required=True, help="genre to flip to")
    p.add_argument("--out", required=True, type=Path, help="where to write the flipped MIDI file")
    flip = FlipSettings()
    for name, kind, what in (("l1", float, "L1 weight (sparsity)"), ("l2", float, "L2 weight"),
                             ("lr", float, "step size (scaled units)"), ("margin", float, "logit margin"),
                             ("max-steps", int, "step budget")):
        p.add_argument(f"--{name}", type=kind, default=getattr(flip, name.replace("-", "_")),
                       help=f"{what}, default %(default)s")
    p.add_argument("--freeze", nargs="*", choices=FEATURES, default=list(flip.frozen),
                   help="features never changed (default: %(default)s)")
    p.add_argument("--whole-file", action="store_true",
                   help="flip the vote of windows over the whole file (default: the first notes, the study's)")
    p.add_argument("--file-windows", type=int, help="windows of the vote with --whole-file (default: the run's)")
    p.add_argument("--convince", nargs="*", type=Path, default=[], metavar="RUN_DIR",
                   help="other run folders whose network the flip must convince too")
    p.add_argument("--ask", nargs="*", type=Path, metavar="RUN_DIR",
                   help="other run folders asked for a second opinion (default: the run's seed siblings)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def _add_download(add) -> None:
    from .download import DEFAULT_BASE_URL
    from .paths import MANIFEST, REAL_DIR

    p = add("download", help="fetch the real MIDI files of data/sources/midi.csv (SHA-1 checked, resumable)")
    p.add_argument("--dest", type=Path, default=REAL_DIR, help="destination, DEST/<genre>/<name> (default: data/real)")
    p.add_argument("--genres", nargs="+", help="genres to fetch (default: every genre of the manifest)")
    p.add_argument("--manifest", type=Path, default=MANIFEST, help="the list of files (default: data/sources/midi.csv)")
    p.add_argument("--base-url", default=DEFAULT_BASE_URL, help="where the repositories are served (default %(default)s)")
    p.add_argument("--retries", type=int, default=2, help="further attempts per failed file (default %(default)s)")
    p.add_argument("--backoff", type=float, default=0.5, help="seconds before the first retry, doubled after")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    from .probes import PROBES, REPEATS

    parser = argparse.ArgumentParser(prog="genre-lib", description=__doc__.splitlines()[0])
    add = _adder(parser.add_subparsers(dest="command", required=True))

    p = add("demo-data", "seed", help="write the generated demo corpus (not real music)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--per-genre", type=int, default=150)

    p = add("preprocess", "data", "genres", "json", help="read a data folder and report files found, used and skipped")
    p.add_argument("--max-notes", type=int, default=MAX_NOTES, help="notes kept per file (default 100)")

    _add_train(add)

    p = add("evaluate", "run", "data", "genres", "json", help="score a run folder's model on a labelled data folder")
    p.add_argument("--protocol", choices=PROTOCOLS, default="file",
                   help="protocol of the top-level figures (default %(default)s; both are under 'protocols')")
    p.add_argument("--file-windows", type=int, help="windows per file (default: the run's)")
    p.add_argument("--ear", type=Path, metavar="JSON", help="also the audio judge (genre_lib.ear), calibrated as "
                   "in JSON (results/ear-<run>.json, made by scripts/ear_eval.py)")

    p = add("predict", "run", "json", help="genre probabilities of MIDI files")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--whole-file", action="store_true", help="judge by a vote of windows over all notes (default: the first 100)")
    p.add_argument("--file-windows", type=int, help="windows per file with --whole-file (default: the run's)")
    p.add_argument("--verdict", choices=VERDICTS, default="rnn", help="the RNN's (default), the baseline's or the two combined")

    add("iterations", "json", help="the iterations table of every run folder below RUNS_DIR").add_argument(
        "runs_dir", type=Path)

    _add_flip(add)

    p = add("saliency", "run", "output", "seed", "json",
            help="saliency map of one file: which notes and features the genre rests on")
    p.add_argument("file", type=Path, help="MIDI file to explain")
    p.add_argument("--target", help="genre to explain (default: the predicted one)")
    p.add_argument("--out", type=Path, help="write a PNG (heat map and piano roll)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    p = add("saliency-check", "run", "data", "output", "split", "seed", "json",
            help="randomization, deletion against chance, agreement with occlusion and IG completeness")
    p.add_argument("--max-files", type=int, default=200, help="files used, a seeded sample (default 200; 0 = all)")
    p.add_argument("--n-steps", type=int, default=20, help="points of the deletion curve after the first")

    p = add("probe", "run", "data", "genres", "split", "seed", "json",
            help="what a run's verdicts lose when note order or one attribute is destroyed")
    p.add_argument("--probes", nargs="+", choices=PROBES, help="probes to run (default: every one that applies)")
    p.add_argument("--repeats", type=int, default=REPEATS, help="draws of each random probe (default %(default)s)")

    add("concepts", "run", "data", "split", "seed", "json",
        help="what musical edits (swing, backbeat, instruments, ...) do to a run's verdicts").add_argument(
        "--also", nargs="+", type=Path, default=[], help="other run folders whose RNN judges too")

    _add_download(add)
    return parser


#: errors a user can fix, each printed as one line naming the file and the cause
_USER_ERRORS = (DataError, MidiError, RunError, GenreMismatchError, UnknownGenreError, FlipError, FileExistsError,
                FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    if not sys.stderr.isatty():
        # a progress bar in a log is noise; set before anything imports tqdm, which reads
        # its TQDM_* defaults once, at import
        os.environ.setdefault("TQDM_DISABLE", "1")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _USER_ERRORS as exc:
        return _fail(args, str(exc))
