"""Run once: convert committed cross-validation results (results/cv-*.json written by
genre_lib.crossval before issue 29) from flat ``f"{verdict}_{protocol}"`` keys to
``[verdict][protocol]`` nests, values unchanged. Files of another layout are left alone."""

import json
import sys
from pathlib import Path

VERDICTS, PROTOCOLS = ("rnn", "baseline", "combined"), ("first100", "file")


def nest(flat: dict, suffix: str = "") -> dict:
    """``{who: {p: flat[f"{who}_{p}{suffix}"]}}`` of the keys present, removed from ``flat``."""
    out = {}
    for who in VERDICTS:
        for p in PROTOCOLS:
            if f"{who}_{p}{suffix}" in flat:
                out.setdefault(who, {})[p] = flat.pop(f"{who}_{p}{suffix}")
    return out


def convert_rows(row: dict) -> dict:
    order = {p: row.pop(f"rnn_{p}_order_effect") for p in PROTOCOLS if f"rnn_{p}_order_effect" in row}
    recall, loss = nest(row, "_recall"), nest(row, "_loss")
    new = {**{k: row[k] for k in ("fold", "n_test", "epochs", "train_seconds") if k in row},
           "accuracy": nest(row), "loss": loss, "recall": recall}
    new.update({k: v for k, v in row.items() if k not in new})
    if order:
        new["order_effect"] = order
    return new


def convert(result: dict) -> dict:
    result["folds"] = [convert_rows(r) for r in result["folds"]]
    s = result["summary"]
    order = {p: s.pop(f"rnn_{p}_order_effect") for p in PROTOCOLS if f"rnn_{p}_order_effect" in s}
    summary = {"accuracy": nest(s)}
    if order:
        summary["order_effect"] = order
    summary.update(s)
    result["summary"] = summary
    result["recall"] = nest(dict(result["recall"]))
    for f in result["files"]:
        f["probabilities"] = nest(f)
    return result


if __name__ == "__main__":
    for path in map(Path, sys.argv[1:]):
        result = json.loads(path.read_text())
        if "rnn_file" not in result.get("summary", {}):
            print(f"{path}: not the old cross-validation layout; left alone")
            continue
        path.write_text(json.dumps(convert(result), indent=1) + "\n")
        print(f"{path}: converted")
