"""How good an ear: the audio judge (genre_lib.ear) on a run's held-out test files, beside its RNN and baseline.

    python scripts/ear_eval.py --run models/jazz-electronic --cv results/cv-jazz-electronic.json \\
        --json results/ear-jazz-electronic.json
    python scripts/ear_eval.py --run models/four-genres --cv results/cv-four-genres.json \\
        --json results/ear-four-genres.json

For the run's data folder (``--data``, default ``../shared/midi``) and its split
(``run.json``): every file's notes are played (tinysoundfont through pretty_midi's
General MIDI SoundFont, 16 kHz) and tagged by musicnn's MSD tagger, hearing what each
protocol reads: the first 100 notes (``first100``), or 4 evenly spaced windows of 100
notes, 4 of the 16 the RNN's vote reads (``file``); each window at most 30 s, its tags
averaged over 3-s patches, the windows' tags averaged. The ear is calibrated on the
run's training files only (a logistic regression on the logits of the tags named as the
run's genres) and judged on its test files, with the run's RNN and baseline on the same
files: accuracy with a 95 % bootstrap interval over files, chance (1 / genres) and the
majority genre's share, recall per genre, the AUC of every pair of genres (files of the
two genres; score: log p(a) - log p(b)) and the paired difference ear - RNN. Beside the
ear, two variants: ``tags-argmax``, the genre whose tag is highest, uncalibrated (no
fitting at all), and ``tags-all``, the logistic regression on all 50 tags.

With ``--cv`` (a cross-validation result of the same data and genres, per-file
predictions of every fold): the ear cross-validated on the same folds (calibrated on the
other folds' files), and what it says of the files the RNN and the baseline both get
wrong (``genre_lib.crossval.shared_errors``): does it side with the collection's label?

The cost: CPU seconds per file on one thread (rendering, tagging) of 20 seeded test
files heard afresh. Tags are cached in ``data/cache/ear``: the first run hears every file
(about 0.65 CPU seconds a file: 25 minutes of one core for the four genres' 2,147), a
rerun takes a minute or two. The calibrated ears are stored in the JSON
(``calibration``), which ``genre-lib evaluate RUN DATA --ear JSON`` reads.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

for _k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_k, "1")  # the cost is measured on one core; the machine is shared
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from genre_lib.paths import SHARED_MIDI, shown, write_json  # noqa: E402
from genre_lib.protocols import PROTOCOLS  # noqa: E402



def pair_auc(rows: np.ndarray) -> np.ndarray:
    """The ROC AUC of ``rows[..., 0]`` (a score) for ``rows[..., 1] > 0``, over the last
    file axis (Mann-Whitney, ties halved): one value, or one per bootstrap resample; NaN
    where a resample holds one class only."""
    from scipy.stats import rankdata

    ranks, positive = rankdata(rows[..., 0], axis=-1), rows[..., 1] > 0
    n1 = positive.sum(axis=-1)
    n0 = positive.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n1 * n0 > 0, ((ranks * positive).sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0), np.nan)


def judged(proba: np.ndarray, y: np.ndarray, genres: tuple, seed: int, pair_score=None) -> dict:
    """Accuracy, recall per genre and per-pair AUC, with 95 % bootstrap intervals over files."""
    from genre_lib.metrics import bootstrap_interval

    right = (proba.argmax(1) == y).astype(float)
    logp = np.log(np.clip(proba, 1e-12, 1)) if pair_score is None else pair_score
    pairs = {}
    for a in range(len(genres)):
        for b in range(a + 1, len(genres)):
            keep = (y == a) | (y == b)
            rows = np.stack([logp[keep, a] - logp[keep, b], y[keep] == a], axis=1)
            pairs[f"{genres[a]} vs {genres[b]}"] = {
                "auc": float(pair_auc(rows)), "auc_95": bootstrap_interval(rows, pair_auc, seed=seed)}
    return {"accuracy": float(right.mean()), "accuracy_95": bootstrap_interval(right, seed=seed),
            "recall": {g: float(right[y == k].mean()) for k, g in enumerate(genres)}, "pair_auc": pairs,
            "confusion": [[int(((y == t) & (proba.argmax(1) == p)).sum()) for p in range(len(genres))]
                          for t in range(len(genres))]}


def all_tags(scores_train, y_train, scores_test, genres) -> np.ndarray:
    """The ``tags-all`` variant: the ear calibrated on all 50 tags."""
    from genre_lib.ear import EarVerdict

    ear = EarVerdict(genres, tags="all").fit([], y_train, scores=scores_train)
    return ear.predict_proba([], scores=scores_test)


def tags_argmax(scores: np.ndarray, genres) -> tuple[np.ndarray, np.ndarray]:
    """The ``tags-argmax`` variant: the run's genre tags, normalised (no fitting), and their logits."""
    from genre_lib.ear import EarVerdict, msd_tags

    tags = [t.lower() for t in msd_tags()]
    p = np.asarray(scores)[:, [tags.index(g.lower()) for g in genres]]
    return p / p.sum(axis=1, keepdims=True), EarVerdict(genres).features(scores)


def cost(tables: list, seed: int) -> dict:
    """CPU seconds per file (one thread) of hearing ``tables`` afresh: rendering, tagging."""
    from genre_lib import ear
    from genre_lib.audio import render_audio
    from genre_lib.windows import even_windows

    ear.tag_patches(np.zeros((1, ear.PATCH, ear.N_MELS), np.float32))  # TensorFlow's first call is set-up
    spent = {p: {"render": 0.0, "tag": 0.0} for p in PROTOCOLS}
    for t in tables:
        for p in PROTOCOLS:
            for w in [t[:100]] if p == "first100" else list(even_windows([t], ear.EAR_WINDOWS, 100)[0]):
                c = time.process_time()
                wave = render_audio(w, fs=ear.FS, seconds=ear.WINDOW_SECONDS)
                spent[p]["render"] += time.process_time() - c
                c = time.process_time()
                ear.tag_patches(ear.patches(ear.log_mel(wave)))
                spent[p]["tag"] += time.process_time() - c
    return {p: {**{k: round(v / len(tables), 3) for k, v in s.items()},
                "total": round(sum(s.values()) / len(tables), 3)} for p, s in spent.items()} | {
        "files": len(tables), "sample_seed": seed, "threads": 1,
        "note": "CPU seconds per file (time.process_time), TensorFlow on one thread, on a shared 2-core machine"}


def port_check() -> dict:
    """How far the port's tags are from musicnn's own on its reference clips (tests/test_ear.py)."""
    from musicnn_reference import OUT, test_clip

    from genre_lib import ear

    ref = json.loads(OUT.read_text())
    diff = max(float(np.abs(ear.tag_patches(ear.patches(ear.log_mel(test_clip(int(k)), loudest=None)))
                            - np.array(c["taggram"])).max()) for k, c in ref["clips"].items())
    return {"reference": "tests/data/musicnn_reference.json", "versions": ref["versions"],
            "clips": len(ref["clips"]), "max_abs_tag_difference": diff}


def cv_shared(cv_path: Path, data, scores: dict, genres: tuple, seed: int) -> dict:
    """The ear cross-validated on the folds of ``cv_path``, and what it says where the RNN
    and the baseline are both wrong."""
    from genre_lib.crossval import file_probabilities, load_cv, shared_errors
    from genre_lib.ear import EarVerdict
    from genre_lib.metrics import bootstrap_interval, shared_mistakes

    result = load_cv(cv_path)
    if tuple(result["data"]["genres"]) != tuple(genres):
        sys.exit(f"ear_eval: {cv_path}: genres {result['data']['genres']}, not {list(genres)}")
    where = {p: i for i, p in enumerate(data.paths)}
    files = result["files"]
    index = np.array([where[f["path"]] for f in files])
    fold = np.array([f["fold"] for f in files])
    y = np.array([list(genres).index(f["true"]) for f in files])
    out = {"cv": shown(cv_path), "files": len(files), "folds": int(fold.max() + 1),
           "calibrated_on": "the files of the other folds (the CV's training and validation files)"}
    for p in PROTOCOLS:
        s = scores[p][index]
        ear = np.zeros((len(files), len(genres)))
        for k in range(fold.max() + 1):
            e = EarVerdict(genres, p).fit([], y[fold != k], scores=s[fold != k])
            ear[fold == k] = e.predict_proba([], scores=s[fold == k])
        rnn, base = (file_probabilities(result, p, who).argmax(1) for who in ("rnn", "baseline"))
        pe = ear.argmax(1)
        both = (rnn != y) & (base != y)
        right = (pe == y).astype(float)

        def share(mask: np.ndarray, hit: np.ndarray) -> dict:
            v = hit[mask].astype(float)
            return {"n": int(mask.sum()), "share": float(v.mean()), "share_95": bootstrap_interval(v, seed=seed)}

        out[p] = {
            "ear_accuracy": share(np.ones(len(y), bool), right),
            "ear_right_where_both_right": share(~(rnn != y) & ~(base != y), right),
            "ear_right_where_both_wrong": share(both, right),
            "ear_says_the_rnn_answer_where_both_wrong": share(both, pe == rnn),
            "ear_says_the_shared_wrong_answer": share(both & (rnn == base), pe == rnn),
            "shared_errors_rnn_baseline": shared_errors(result, p),
            "shared_mistakes_ear_rnn": shared_mistakes(pe, rnn, y, seed=seed),
            "shared_mistakes_ear_baseline": shared_mistakes(pe, base, y, seed=seed),
            "files_both_wrong": [{"path": files[i]["path"], "true": genres[y[i]], "rnn": genres[rnn[i]],
                                  "baseline": genres[base[i]], "ear": genres[pe[i]],
                                  "ear_p": [round(float(v), 4) for v in ear[i]]} for i in np.nonzero(both)[0]],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=SHARED_MIDI)
    ap.add_argument("--cv", type=Path, help="a cross-validation result of the same data and genres")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--seed", type=int, default=0, help="bootstrap and cost sample seed")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    if args.json and args.json.exists() and not args.overwrite:
        sys.exit(f"ear_eval: {args.json} exists; not replaced (pass --overwrite)")

    from genre_lib.ear import EarVerdict
    from genre_lib.evaluate import run_data
    from genre_lib.runs import load_run
    from genre_lib.verdicts import judge

    run = load_run(args.run)
    genres = tuple(run.genres)
    data, y = run_data(run, args.data)
    split = run.split(data)
    train, test = split.train, split.test
    need = np.arange(len(data)) if args.cv else np.concatenate([train, test])
    t0 = time.time()
    scores = {p: np.full((len(data), 50), np.nan) for p in PROTOCOLS}
    for k, i in enumerate(need):
        for p in PROTOCOLS:
            scores[p][i] = EarVerdict(genres, p).tag_scores([data.table(i)])[0]
        if k % 200 == 0:
            print(f"  heard {k} of {len(need)} files ({time.time() - t0:.0f} s)", flush=True)

    base = judge([v for p in PROTOCOLS for v in run.verdicts(p)], data.tables(test))  # {protocol: {name: probabilities}}
    report = {"run": args.run.name, "command": "python scripts/ear_eval.py " + " ".join(sys.argv[1:]),
              "data": args.data.name, "genres": list(genres),
              "how": {"render": "genre_lib.audio: tinysoundfont 0.3.7 playing pretty_midi's TimGM6mb.sf2, 16 kHz",
                      "heard": {"first100": "the first 100 notes",
                                "file": "4 evenly spaced windows of 100 notes (4 of the RNN's 16), tags averaged"},
                      "window_seconds_max": 30, "level": "loudest mel band at 6.0 (genre_lib.ear.LOUDEST)",
                      "tagger": "musicnn 0.1.0 MSD_musicnn, ported to TensorFlow 2 (tests/test_ear.py)",
                      "calibration": f"logistic regression (C=1) on the standardised logits of the tags "
                                     f"{list(genres)}, fitted on the run's {len(train)} training files",
                      "rnn_baseline": "the run's own, on the same files (genre_lib.verdicts.judge)"},
              "n_train": int(len(train)), "n_test": int(len(test)),
              "chance": 1 / len(genres), "majority_share": float(np.bincount(y[test]).max() / len(test)),
              "calibration": {}, "test": {}, "ear_minus_rnn": {}, "test_files": {}}
    from genre_lib.metrics import bootstrap_interval

    for p in PROTOCOLS:
        ear = EarVerdict(genres, p).fit([], y[train], scores=scores[p][train])
        report["calibration"][p] = dataclasses.asdict(ear)
        s = scores[p][test]
        probs = {**base[p], "ear": ear.predict_proba([], scores=s),
                 "ear tags-all": all_tags(scores[p][train], y[train], s, genres)}
        raw, logit = tags_argmax(s, genres)
        report["test"][p] = {who: judged(pr, y[test], genres, args.seed) for who, pr in probs.items()}
        report["test"][p]["ear tags-argmax"] = judged(raw, y[test], genres, args.seed, pair_score=logit)
        for k, i in enumerate(test):
            report["test_files"].setdefault(data.paths[i], {"true": genres[y[i]]})[f"ear_{p}"] = [
                round(float(v), 4) for v in probs["ear"][k]]
        diff = (probs["ear"].argmax(1) == y[test]).astype(float) - (probs["rnn"].argmax(1) == y[test])
        report["ear_minus_rnn"][p] = {"difference": float(diff.mean()),
                                      "interval_95": bootstrap_interval(diff, seed=args.seed)}
    report["port_check"] = port_check()
    if args.cv:
        report["cv_shared_mistakes"] = cv_shared(args.cv, data, scores, genres, args.seed)
    rng = np.random.default_rng(args.seed)
    report["cost_per_file"] = cost([data.table(i) for i in rng.choice(test, 20, replace=False)], args.seed)

    for p in PROTOCOLS:
        print(f"\n{p}: {len(test)} held-out test files (chance {report['chance']:.2f}, majority "
              f"{report['majority_share']:.2f})")
        for who, m in report["test"][p].items():
            lo, hi = m["accuracy_95"]
            print(f"  {who:16s} accuracy {m['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]  pair AUC " +
                  ", ".join(f"{k} {v['auc']:.2f}" for k, v in m["pair_auc"].items()))
    if args.cv:
        for p in PROTOCOLS:
            c = report["cv_shared_mistakes"][p]
            print(f"\nCV {p}: ear right on {c['ear_accuracy']['share']:.2f} of all {c['ear_accuracy']['n']} files, "
                  f"{c['ear_right_where_both_right']['share']:.2f} where RNN and baseline are right, "
                  f"{c['ear_right_where_both_wrong']['share']:.2f} of the {c['ear_right_where_both_wrong']['n']} "
                  f"both get wrong {c['ear_right_where_both_wrong']['share_95']}")
    print("\ncost per file:", report["cost_per_file"])
    if args.json:
        print(f"wrote {write_json(args.json, report, args.overwrite)}")


if __name__ == "__main__":
    main()
