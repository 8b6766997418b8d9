"""Benchmark: flip real held-out files to another genre.

    python benchmarks/bench_flip.py [--run models/jazz-electronic] [--data ../shared/midi] [--n 0]
    python benchmarks/bench_flip.py --n 40 --seed 0 --freeze drum program
    python benchmarks/bench_flip.py --run models/four-genres --n 80 --targets each --json results/flip-four-genres.json

Files: the run's own held-out test files (``run.json`` -> ``split.test_files``, paths
relative to the data folder), never files the model was trained or validated on. With
``--n N`` a seeded sample of N of them, half from each genre as far as the split allows;
``--n 0`` (the default) takes them all.

For each file: read the first 100 notes, flip to the genre the model does *not* choose
(``--targets other``, the default: with more than two genres the runner-up) or to every
genre but the file's own (``--targets each``: a flip to each genre, from files of the
other genres; a file the model already gives the target is counted apart, not as a
flip) (:func:`genre_lib.flip.optimize_delta` with its default settings unless
overridden), write the
result to MIDI, read it back and classify it again (the flip counts only if that
re-read file is the target genre). Prints the success rate after the round trip (all
and per source genre), the median notes changed (of 100), the median l1 (scaled units,
see ``genre_lib.changes.SCALES``), seconds per flip (median, max), which features the
optimizer moved (share of all change in scaled units), where the changed notes are (the
share among the last 10 and the last 2 of the table), the same per target genre
(:func:`genre_lib.flip.flip_summary`), and the files that did not flip.

Bars (issue 5): success after the round trip >= 95 %, median notes changed a minority
of the 100, a few seconds per flip at most; with ``--targets each``, >= 95 % for each
target genre (the issues of more genres). Exit status 1 if a success bar is missed.

**Second opinions** (``--judges``, issue 20)::

    python benchmarks/bench_flip.py --judges --n 40 --seed 0 --json results/flip-judges.json

flips the same sample of held-out files under each setting of :data:`SETTINGS` (or
``--settings``): the default flip of the first 100 notes, and the same with a logit
margin of 1 or 2 instead of 0.3; the same three against two networks at once (the
committed model and its seed-1 sibling, ``models/jazz-electronic-seed1``); and a flip
of the whole file's vote. Each flip targets the genre the committed model
does not give the file under the setting's protocol. Every flip's whole file (the rest
kept) is written, read back and judged by the panel of :mod:`genre_lib.opinions`: the
committed run's RNN, baseline and RNN + baseline, the seed-1 and seed-2 networks (seed 2
is never optimised against), each under both protocols, and the plausibility measure
(:mod:`genre_lib.plausibility`, fitted on the run's training files; its AUC on the run's
held-out test files is computed here too, so the JSON holds the one computation
notebooks and the README read). Prints, per setting: the share flipped (after the
round trip, by every network it was optimised against), notes changed (median; share of
the table; seconds of music touched), the share of flips each judge agrees with (the
share that already gave the target before the flip beside it), plausibility before and
after, and the length in seconds before and after; then a paired bootstrap interval
(over files) of how much more often each multi-judge setting convinces the unseen
seed-2 network than the default does.

With ``--ear EAR.json`` (``results/ear-<run>.json``, written by ``scripts/ear_eval.py``)
the panel also asks the audio judge of :mod:`genre_lib.ear`, calibrated as stored there:
the flipped file played and tagged by a model trained on recordings (``ear``, under both
protocols: the first 100 notes heard, or 4 of the 16 windows the RNN's vote reads)::

    python benchmarks/bench_flip.py --judges --ear results/ear-jazz-electronic.json --n 40 --seed 0 \
        --settings default two-networks-margin2 file-vote --json results/flip-ear.json

Every judge's agreement then has a 95 % bootstrap interval over files (``agrees_95``),
beside ``rose``, the share of flips after which the judge gives the target genre a
higher probability than before, and ``p_change``, the mean change of that probability,
each with its interval (``rose_95``, ``p_change_95``).

With ``--reuse OLD.json`` (an earlier ``--judges`` JSON of the same run, sample size and
seed), the rows of every setting whose protocol, networks and optimiser settings are
those of :data:`SETTINGS` are taken from it instead of flipped again (a flip and its
opinions are deterministic: the same file, settings and networks give the same row), so
adding a setting costs only that setting; the JSON names the file reused and how many
rows came from it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from genre_lib.paths import MODELS_DIR, SHARED_MIDI as DEFAULT_DATA  # noqa: E402


def held_out_files(run, data: Path, n: int, seed: int, files: list[str] | None = None) -> list[Path]:
    """The run's test files, or ``files`` (paths relative to ``data``) when given: all
    when ``n`` is 0, else a seeded, genre-balanced sample."""
    test = list(run.meta["split"]["test_files"]) if files is None else list(files)
    by = {g: [p for p in test if Path(p).parts[0].lower() == g.lower()] for g in run.genres}
    if n:
        rng = np.random.default_rng(seed)
        want = {g: min(len(by[g]), n // len(by)) for g in by}
        left = n - sum(want.values())  # what one genre lacks, the others give
        for g in by:
            extra = min(left, len(by[g]) - want[g])
            want[g], left = want[g] + extra, left - extra
        by = {g: sorted(rng.permutation(by[g])[: want[g]].tolist()) for g in by}
    return [data / p for g in run.genres for p in by[g]]


def flip_one(model, table, target: int, settings, genres, rel: str, p, positions) -> tuple[dict, object]:
    """Flip one file to ``target``, print its line and return its row and its
    :class:`genre_lib.flip.FlipResult`; adds the changed notes' positions to ``positions``."""
    from genre_lib.changes import changed_notes
    from genre_lib.flip import optimize_delta
    from genre_lib.verdicts import RNNVerdict

    t0 = time.perf_counter()
    r = optimize_delta(RNNVerdict(model, genres, "first100"), table, target, settings)
    sec = time.perf_counter() - t0
    p_after = float(r.probs_reparsed[target]) if r.probs_reparsed is not None else float("nan")
    positions += changed_notes(r.base, r.modified).tolist()
    print(f"  {rel[:50]:50s} -> {genres[target]:10s} flipped={int(r.flipped)} notes={r.notes_changed:3d} "
          f"l1={r.l1:7.2f} steps={r.steps:3d} {sec:5.2f}s p_target {p[target]:.2f}->{p_after:.2f}", flush=True)
    return {"file": rel, "genre": Path(rel).parts[0], "to": genres[target], "flipped": bool(r.flipped),
            "success_before_round_trip": bool(r.success), "notes_changed": int(r.notes_changed),
            "l1": float(r.l1), "steps": int(r.steps), "seconds": sec,
            "p_target_before": float(p[target]), "p_target_after": p_after}, r


#: the flip settings ``--judges`` compares: the networks a flip must convince (the
#: committed model, plus the run folders named, beside it) under which protocol, and
#: the optimiser's settings (record_every: no trajectory is needed)
SETTINGS: dict[str, dict] = {
    "default": dict(protocol="first100", convince=(), params={}),
    "default-margin1": dict(protocol="first100", convince=(), params={"margin": 1.0}),
    "default-margin2": dict(protocol="first100", convince=(), params={"margin": 2.0}),
    "two-networks": dict(protocol="first100", convince=("seed1",), params={}),
    "two-networks-margin1": dict(protocol="first100", convince=("seed1",), params={"margin": 1.0}),
    "two-networks-margin2": dict(protocol="first100", convince=("seed1",), params={"margin": 2.0}),
    "file-vote": dict(protocol="file", convince=(), params={}),
}
#: the settings a plain ``--judges`` run measures: all of them (the margins alone, without
#: a second network, tell how much of a setting's gain is the margin's)
JUDGES_DEFAULT = tuple(SETTINGS)
#: the seed siblings of the run (folders ``<run>-seed<N>`` beside it) the panel asks
SIBLINGS = ("seed1", "seed2")


def _share(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.mean(v)) if v else None


def _median(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


def judges_summary(rows: list[dict], verdicts: list[str]) -> dict:
    """Per-setting figures of the rows of :func:`judges_main` (see the module docstring)."""
    from genre_lib.metrics import bootstrap_interval
    from genre_lib.protocols import PROTOCOLS

    ok = [r for r in rows if r["flipped"]]
    out = {
        "n": len(rows),
        "flipped": _share(r["flipped"] for r in rows),
        "n_flipped": len(ok),
        "median_notes_changed": _median(r["notes_changed"] for r in ok),
        "max_notes_changed": max((r["notes_changed"] for r in ok), default=None),
        "median_share_of_table": _median(r["share_changed"] for r in ok),
        "median_share_of_file": _median(r["notes_changed"] / r["file_notes"] for r in ok),
        "median_seconds_touched": _median(r["seconds_touched"] for r in ok),
        "median_wall_seconds": _median(r["wall_seconds"] for r in rows),
        "agrees": {v: {p: _share(r["opinions"]["verdicts"][v][p]["agrees"] for r in ok) for p in PROTOCOLS}
                   for v in verdicts},
        "agreed_before": {v: {p: _share(r["opinions"]["verdicts"][v][p]["agreed_before"] for r in ok)
                              for p in PROTOCOLS} for v in verdicts},
        # intervals over files (one flip per file and setting): how sure each share is
        "agrees_95": {v: {p: bootstrap_interval([r["opinions"]["verdicts"][v][p]["agrees"] for r in ok])
                          for p in PROTOCOLS} for v in verdicts},
        "rose": {v: {p: _share(_rose(r, v, p) for r in ok) for p in PROTOCOLS} for v in verdicts},
        "rose_95": {v: {p: bootstrap_interval([_rose(r, v, p) for r in ok]) for p in PROTOCOLS} for v in verdicts},
        "p_change": {v: {p: _share(_change(r, v, p) for r in ok) for p in PROTOCOLS} for v in verdicts},
        "p_change_95": {v: {p: bootstrap_interval([_change(r, v, p) for r in ok]) for p in PROTOCOLS}
                        for v in verdicts},
        "seconds": {k: _median(r["opinions"]["seconds"][k] for r in ok)
                    for k in ("excerpt_before", "excerpt_after", "file_before", "file_after")},
        "file_length_changed": _share(abs(r["opinions"]["seconds"]["file_after"] - r["opinions"]["seconds"]["file_before"]) > 0.05
                                      for r in ok),
        "median_file_seconds_added": _median(r["opinions"]["seconds"]["file_after"] - r["opinions"]["seconds"]["file_before"]
                                             for r in ok),
    }
    if ok and "plausibility" in ok[0]["opinions"]:
        out["plausibility"] = {p: {
            "median_score_before": _median(r["opinions"]["plausibility"][p]["score_before"] for r in ok),
            "median_score_after": _median(r["opinions"]["plausibility"][p]["score_after"] for r in ok),
            "plausible_before": _share(r["opinions"]["plausibility"][p]["score_before"] > 0 for r in ok),
            "plausible_after": _share(r["opinions"]["plausibility"][p]["plausible"] for r in ok),
            "median_typicality_after": _median(r["opinions"]["plausibility"][p]["typicality_after"] for r in ok),
        } for p in PROTOCOLS}
    return out


def _change(row: dict, verdict: str, protocol: str) -> float:
    """How much more probability the judge gives the flip's target after it than before."""
    v = row["opinions"]["verdicts"][verdict][protocol]
    return v["p_target_after"] - v["p_target_before"]


def _rose(row: dict, verdict: str, protocol: str) -> bool:
    """The judge gives the flip's target a higher probability after it than before."""
    return _change(row, verdict, protocol) > 0


def _setting_record(name: str) -> dict:
    """How a setting is stored in a ``--judges`` JSON (its ``settings`` block)."""
    from genre_lib.flip import FlipSettings

    spec = SETTINGS[name]
    return {"protocol": spec["protocol"], "convince": ["rnn", *(f"rnn-{c}" for c in spec["convince"])],
            "params": FlipSettings(**spec["params"]).to_dict()}


def reusable_rows(args, names: list[str], n_files: int) -> dict:
    """``{(file, setting): row}`` of an earlier ``--judges`` JSON (``--reuse``) for the
    settings of ``names`` it ran exactly as :data:`SETTINGS` defines them; exits with a
    one-line message if it was made for another run, sample size or seed."""
    try:
        old = json.loads(args.reuse.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        sys.exit(f"bench_flip: --reuse {args.reuse}: cannot be read ({exc})")
    made = (old.get("run"), old.get("files"), old.get("sample_seed"))
    if made != (args.run.name, n_files, args.seed):
        sys.exit(f"bench_flip: --reuse {args.reuse}: made for run, files, seed {made}, not {(args.run.name, n_files, args.seed)}")
    same = {n for n in names if old.get("settings", {}).get(n) == _setting_record(n)}
    return {(r["file"], r["setting"]): r for r in old.get("rows", []) if r["setting"] in same}


def judges_main(args) -> None:
    """``--judges``: second opinions on flips under several settings (module docstring)."""
    from genre_lib import plausibility as P
    from genre_lib.evaluate import run_data
    from genre_lib.flip import FlipSettings, optimize_delta
    from genre_lib.metrics import bootstrap_interval
    from genre_lib.opinions import Panel, ask
    from genre_lib.runs import RunError, load_run
    from genre_lib.verdicts import RNNVerdict

    run = load_run(args.run)
    siblings = {name: load_run(args.run.parent / f"{args.run.name}-{name}") for name in SIBLINGS}
    measures = P.load(args.run)
    data, y = run_data(run, args.data)
    try:
        test, unseen = run.split(data).test, False
    except RunError:
        # a folder the run was not trained on (e.g. a reviewer's files by other artists):
        # every file of it is held out
        test, unseen = np.arange(len(data)), True
    validation = {m.protocol: P.validate(m, data.tables(test), y[test]) for m in measures}
    # the audio judge, calibrated on the run's training files by scripts/ear_eval.py, where asked
    ears = ()
    if args.ear:
        from genre_lib.ear import load_ears

        ears = tuple(load_ears(args.ear, run.genres).values())
    panel = Panel.of_run(run, list(siblings.values()), measures, also=ears)
    verdicts = list(dict.fromkeys(v.name for v in panel.verdicts))
    wanted = {str(p) for p in held_out_files(run, args.data, args.n, args.seed,
                                             files=list(data.paths) if unseen else None)}
    index = [i for i in test if str(args.data / data.paths[i]) in wanted]
    names = args.settings or list(JUDGES_DEFAULT)
    reused = reusable_rows(args, names, len(index)) if args.reuse else {}
    print(f"model: {args.run.name} (+ {', '.join(f'{args.run.name}-{s}' for s in SIBLINGS)}); genres {run.genres}")
    print(f"files: {len(index)} of " + (f"the {len(test)} files of {args.data}, none seen in training" if unseen
                                         else f"the run's {len(test)} held-out test files")
          + (f" (seeded sample, seed {args.seed})" if args.n else ""))
    print("plausibility AUC on the held-out test files (every file x genre; own genre positive): "
          + ", ".join(f"{p} {v['auc']:.3f}" for p, v in validation.items()), flush=True)
    rows = []
    for i in index:
        whole, rel = data.table(i), data.paths[i]
        before = panel.judge(whole) if any((rel, name) not in reused for name in names) else None
        for name in names:
            if (rel, name) in reused:
                rows.append(reused[rel, name])
                print(f"  {rel[:40]:40s} {name:20s} reused from {args.reuse.name}", flush=True)
                continue
            spec = SETTINGS[name]
            judges = [run.verdict("rnn", spec["protocol"])] + [
                RNNVerdict(siblings[c].model, run.genres, spec["protocol"], name=f"rnn-{c}") for c in spec["convince"]]
            table = whole if spec["protocol"] == "file" else whole[: run.max_notes]
            p = before["verdicts"]["rnn"][spec["protocol"]]
            target = int(np.argsort(p)[-2])
            settings = FlipSettings(**{"record_every": 10**6, **spec["params"]})
            t0 = time.perf_counter()
            r = optimize_delta(judges[0], table, target, settings, also=judges[1:])
            opinions = ask(panel, whole, r, before).to_dict() if r.reparsed is not None else None
            row = {"file": rel, "genre": Path(rel).parts[0], "setting": name, "to": run.genres[target],
                   "flipped": bool(r.flipped and opinions is not None), "success_before_round_trip": bool(r.success),
                   "notes_changed": int(r.notes_changed), "table_notes": len(table), "file_notes": len(whole),
                   "share_changed": float(r.share_changed), "seconds_touched": float(r.seconds_touched),
                   "l1": float(r.l1), "steps": int(r.steps), "wall_seconds": time.perf_counter() - t0,
                   "opinions": opinions}
            rows.append(row)
            agrees = "" if opinions is None else " ".join(
                f"{v}:{''.join('+' if opinions['verdicts'][v][q]['agrees'] else '-' for q in ('first100', 'file'))}"
                for v in verdicts)
            print(f"  {rel[:40]:40s} {name:20s} -> {run.genres[target]:10s} flipped={int(row['flipped'])} "
                  f"notes={r.notes_changed:4d} {row['wall_seconds']:6.1f}s {agrees}", flush=True)

    summary = {name: judges_summary([r for r in rows if r["setting"] == name], verdicts) for name in names}
    # how much more often a setting convinces the network none was optimised against
    # than the default does, paired over files (a failed flip convinces no one)
    def convinced(name: str, protocol: str) -> dict:
        return {r["file"]: float(r["flipped"] and r["opinions"]["verdicts"]["rnn-seed2"][protocol]["agrees"])
                for r in rows if r["setting"] == name}

    comparisons = {}
    if "default" in names:
        for name in names:
            if name == "default":
                continue
            protocol = SETTINGS[name]["protocol"]
            a, b = convinced(name, protocol), convinced("default", protocol)
            files = sorted(set(a) & set(b))
            diff = np.array([a[f] - b[f] for f in files])
            comparisons[name] = {
                "judge": f"rnn-seed2/{protocol}", "files": len(files),
                "convinced": float(np.mean([a[f] for f in files])), "default_convinced": float(np.mean([b[f] for f in files])),
                "difference": float(diff.mean()), "interval_95": bootstrap_interval(diff, seed=args.seed),
            }
    for name, s in summary.items():
        print(f"\n{name} ({SETTINGS[name]['protocol']}, convinces rnn{''.join(' + ' + c for c in SETTINGS[name]['convince'])}): "
              f"{s['n_flipped']} of {s['n']} flipped ({s['flipped']:.0%}) after the round trip; "
              f"notes changed median {s['median_notes_changed']} (max {s['max_notes_changed']}), "
              f"{s['median_share_of_table']:.1%} of the table, {s['median_share_of_file']:.2%} of the file, "
              f"{s['median_seconds_touched']:.1f} s touched; median {s['median_wall_seconds']:.1f} s per flip")
        for v in verdicts:
            print(f"  {v:14s} agrees: " + ", ".join(
                f"{p} {s['agrees'][v][p]:.0%} (before {s['agreed_before'][v][p]:.0%})" for p in s["agrees"][v]))
        if "plausibility" in s:
            print("  plausibility as the target (score > 0): " + ", ".join(
                f"{p} {v['plausible_before']:.0%} -> {v['plausible_after']:.0%} (median score {v['median_score_before']:+.2f} "
                f"-> {v['median_score_after']:+.2f}, typicality after {v['median_typicality_after']:.2f})"
                for p, v in s["plausibility"].items()))
        sec = s["seconds"]
        print(f"  seconds (median): flipped notes {sec['excerpt_before']:.1f} -> {sec['excerpt_after']:.1f}, file "
              f"{sec['file_before']:.1f} -> {sec['file_after']:.1f}; file length changed for {s['file_length_changed']:.0%}")
    for name, c in comparisons.items():
        print(f"\n{name} convinces {c['judge']} (never optimised against) for {c['convinced']:.0%} of {c['files']} files, "
              f"the default {c['default_convinced']:.0%}: difference {c['difference']:+.0%} "
              f"[{c['interval_95'][0]:+.0%}, {c['interval_95'][1]:+.0%}] (paired bootstrap over files)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "run": args.run.name, "command": "python benchmarks/bench_flip.py " + " ".join(sys.argv[1:]),
            "siblings": {k: f"{args.run.name}-{k}" for k in SIBLINGS},
            "ear": str(args.ear) if args.ear else None,
            "files": len(index), "n_test": len(test), "sample_seed": args.seed,
            "data": args.data.name, "unseen_folder": unseen,
            "reused": {"from": args.reuse.name, "rows": sum(1 for r in rows if (r["file"], r["setting"]) in reused)}
            if args.reuse else None,
            "plausibility_validation": validation, "plausibility_k": measures[0].k,
            "settings": {n: _setting_record(n) for n in names},
            "summary": summary, "compared_with_default": comparisons, "rows": rows,
        }, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=MODELS_DIR / "jazz-electronic")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="the data folder the run was trained on (its held-out files are flipped), or with --judges "
                         "a folder of files it never saw (all of them are)")
    ap.add_argument("--n", type=int, default=0, help="files (0: every held-out test file)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the sample when --n is set")
    ap.add_argument("--freeze", nargs="*", help="features never changed (default: genre_lib.flip.FROZEN)")
    ap.add_argument("--params", default="{}", help="JSON of other genre_lib.flip.FlipSettings fields")
    ap.add_argument("--targets", choices=("other", "each"), default="other",
                    help="other: the genre the model does not choose (the runner-up); each: every genre but the file's own")
    ap.add_argument("--json", type=Path, help="also write per-file rows and the summary here")
    ap.add_argument("--judges", action="store_true", help="second opinions on flips under several settings (issue 20)")
    ap.add_argument("--settings", nargs="+", choices=list(SETTINGS), help=f"with --judges (default: {' '.join(JUDGES_DEFAULT)})")
    ap.add_argument("--reuse", type=Path, help="with --judges: an earlier --judges JSON whose rows of unchanged settings are kept")
    ap.add_argument("--ear", type=Path, help="with --judges: the audio judge also asked, calibrated as in this "
                                             "results/ear-<run>.json (scripts/ear_eval.py)")
    args = ap.parse_args()
    if args.judges:
        if not args.data.is_dir():
            sys.exit(f"bench_flip: data folder {args.data} not found (the run's test files are relative to it)")
        judges_main(args)
        return

    from genre_lib.dataset import MidiError, load_file
    from genre_lib.flip import FROZEN, FlipSettings, flip_summary
    from genre_lib.inference import predict_proba
    from genre_lib.runs import load_run

    if not args.data.is_dir():
        sys.exit(f"bench_flip: data folder {args.data} not found (the run's test files are relative to it)")
    run = load_run(args.run)
    model, genres = run.model, tuple(run.genres)
    files = held_out_files(run, args.data, args.n, args.seed)
    params = dict(json.loads(args.params))
    params["frozen"] = tuple(args.freeze) if args.freeze is not None else FROZEN
    settings = FlipSettings(**params)
    n_test = len(run.meta["split"]["test_files"])
    print(f"model: {args.run.name}; genres {genres}")
    print(f"files: {len(files)} of the run's {n_test} held-out test files"
          + (f" (seeded sample, seed {args.seed})" if args.n else ""))
    print(f"params: {settings.to_dict()}")

    rows, results, already, positions = [], [], [], []
    folder_genre = {g.lower(): i for i, g in enumerate(genres)}
    for path in files:
        rel = str(Path(path).relative_to(args.data))
        try:
            table = load_file(path, run.max_notes)
        except MidiError as exc:
            print(f"  skip {rel}: {exc.reason}")
            continue
        p = predict_proba(model, table)[0]
        own = folder_genre[Path(rel).parts[0].lower()]
        if args.targets == "other":
            targets = [int(np.argsort(p)[-2])]
        else:
            targets = [t for t in range(len(genres)) if t != own]
        for target in targets:
            if int(np.argmax(p)) == target:  # only with --targets each: "other" is never the model's choice
                already.append({"file": rel, "to": genres[target]})
                print(f"  {rel[:50]:50s} -> {genres[target]:10s} already the model's choice (p {p[target]:.2f}): not a flip")
                continue
            row, result = flip_one(model, table, target, settings, genres, rel, p, positions)
            rows.append(row)
            results.append(result)

    def flip_rate(rs):
        return float(np.mean([r["flipped"] for r in rs])) if rs else float("nan")

    overall = flip_summary(results)
    ok = np.array([r["flipped"] for r in rows])
    notes = np.array([r["notes_changed"] for r in rows])
    secs = np.array([r["seconds"] for r in rows])
    summary = {
        "n": len(rows),
        "files": len({r["file"] for r in rows}),
        "success_after_round_trip": float(ok.mean()),
        "success_before_round_trip": float(np.mean([r["success_before_round_trip"] for r in rows])),
        "success_by_genre": {g: flip_rate([r for r in rows if r["genre"] == g]) for g in sorted({r["genre"] for r in rows})},
        "success_by_target": {g: flip_rate([r for r in rows if r["to"] == g]) for g in genres if any(r["to"] == g for r in rows)},
        "n_by_target": {g: sum(r["to"] == g for r in rows) for g in genres if any(r["to"] == g for r in rows)},
        "already_target": already,
        "n_by_genre": {g: sum(r["genre"] == g for r in rows) for g in sorted({r["genre"] for r in rows})},
        "median_notes_changed": float(np.median(notes)),
        "max_notes_changed": int(notes.max()),
        "median_l1": float(np.median([r["l1"] for r in rows])),
        "median_steps": float(np.median([r["steps"] for r in rows])),
        "seconds_median": float(np.median(secs)),
        "seconds_max": float(secs.max()),
        "share_of_change": overall["share_of_change"],
        # per target genre: success, notes changed and which features moved (genre_lib.flip.flip_summary)
        "by_target": {g: flip_summary([res for res, r in zip(results, rows) if r["to"] == g])
                      for g in genres if any(r["to"] == g for r in rows)},
        "not_flipped": [r["file"] for r in rows if not r["flipped"]],
        # where in the note table the changes fall (a recurrent model remembers the end best)
        "changed_in_last_10": float(np.mean(np.array(positions) >= run.max_notes - 10)),
        "changed_in_last_2": float(np.mean(np.array(positions) >= run.max_notes - 2)),
    }
    by_genre = ", ".join(f"from {g} {summary['success_by_genre'][g]:.1%} of {summary['n_by_genre'][g]}"
                         for g in summary["success_by_genre"])
    print(
        f"\n{summary['n']} flips of {summary['files']} files: success after round trip {summary['success_after_round_trip']:.1%} ({by_genre}; "
        f"before round trip {summary['success_before_round_trip']:.1%})\n"
        f"median notes changed {summary['median_notes_changed']:.0f}/100 (max {summary['max_notes_changed']}); "
        f"median l1 {summary['median_l1']:.2f}; median steps {summary['median_steps']:.0f}\n"
        f"seconds per flip: median {summary['seconds_median']:.2f}, max {summary['seconds_max']:.2f}\n"
        f"share of all change (scaled units): "
        + ", ".join(f"{f} {v:.0%}" for f, v in summary["share_of_change"].items())
        + f"\nchanged notes among the last 10 of {run.max_notes}: {summary['changed_in_last_10']:.0%} "
        f"(last 2: {summary['changed_in_last_2']:.0%})"
    )
    if args.targets == "each":
        print("success by target genre: " + ", ".join(
            f"to {g} {summary['success_by_target'][g]:.1%} of {summary['n_by_target'][g]}" for g in summary["success_by_target"])
            + f"; {len(already)} file-target pairs skipped: the model already chose the target")
    for g, t in summary["by_target"].items():
        print(f"to {g}: {t['n']} flips, {t['flipped']:.1%} survive the round trip, median notes changed "
              f"{t['median_notes_changed']:.0f} (max {t['max_notes_changed']}); share of change: "
              + ", ".join(f"{f} {v:.0%}" for f, v in t["share_of_change"].items()))
    if summary["not_flipped"]:
        print("not flipped: " + "; ".join(summary["not_flipped"]))
    if args.json:
        command = "python benchmarks/bench_flip.py " + " ".join(sys.argv[1:])
        args.json.write_text(json.dumps({"run": args.run.name, "command": command, "summary": summary,
                                         "params": settings.to_dict(), "rows": rows}, indent=1) + "\n")
    each_missed = args.targets == "each" and min(summary["success_by_target"].values()) < 0.95
    if summary["success_after_round_trip"] < 0.95 or each_missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
