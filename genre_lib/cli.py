"""The ``genre-lib`` command line (also ``python -m genre_lib``).

Each subcommand is a small function ``_cmd_<name>(args) -> int`` registered in
:func:`build_parser`. Errors the user can fix (a missing folder, an unknown genre, a
bad file) print one line naming the cause and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .dataset import MAX_NOTES, DataError, load_dataset
from .midi_io import MidiError


def _print_json(obj: dict) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="genre-lib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo-data", help="write the generated demo corpus (not real music)")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--per-genre", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo_data)

    p = sub.add_parser("preprocess", help="read a data folder and report files found, used and skipped")
    p.add_argument("data_dir", type=Path, help="folder laid out as DATA_DIR/<genre>/*.mid")
    p.add_argument("--genres", nargs="+", help="genres to load (default: every genre folder)")
    p.add_argument("--max-notes", type=int, default=MAX_NOTES, help="notes kept per file (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_preprocess)

    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, MidiError, FileExistsError, FileNotFoundError) as exc:
        print(f"genre-lib {args.command}: error: {exc}", file=sys.stderr)
        return 2
