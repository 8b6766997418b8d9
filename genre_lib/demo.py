"""The generated demo corpus: seeded jazz-like and electronic-like MIDI files, **not real
music**, so every notebook runs without a download and the genre cues are known. Each of a
piece's six :data:`PARTS` plays its genre's style or, with probability :data:`BORROW_P`, the
other's; eight fake sequencers per genre have habits. The folder's ``README.md`` says more."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .paths import DEMO_DIR
from .midi_io import DRUM, PITCH, PROGRAM, notes_from_events, same_key_ends, write_midi

#: Bump when the generator changes what it writes, so an old corpus is regenerated.
DEMO_VERSION = 2
GENERATOR = "genre_lib.demo"
MANIFEST = "demo.json"
README = "README.md"
GENRES: tuple[str, ...] = ("jazz", "electronic")

#: General MIDI drum keys used by the generator.
KICK, SNARE, CLAP, CLOSED_HAT, PEDAL_HAT, RIDE = 36, 38, 39, 42, 44, 51

#: Drum keys :func:`planted_cue_mask` counts: kick, closed and pedal hi-hat, ride.
CUE_DRUM_PITCHES: frozenset[int] = frozenset({KICK, CLOSED_HAT, PEDAL_HAT, RIDE})
#: Programs :func:`planted_cue_mask` counts: synth bass 1-2 and synth leads/pads 80-90.
SYNTH_PROGRAMS: frozenset[int] = frozenset({38, 39, *range(80, 91)})

#: The parts of a piece, each played in a jazz or an electronic *style*. A piece plays
#: each part in its own genre's style, except that it borrows the other genre's style
#: for each part independently with probability :data:`BORROW_P`.
PARTS: tuple[str, ...] = ("timing", "drums", "bass", "lead", "harmony", "dynamics")
#: The cue a jazz piece borrows when it plays a part the electronic way, by part.
JAZZ_BORROWS: tuple[str, ...] = ("straight", "four_on_the_floor", "synth_bass", "synth_lead", "triads", "steady_velocity")
#: The cue an electronic piece borrows when it plays a part the jazz way, by part.
ELECTRONIC_BORROWS: tuple[str, ...] = ("swing", "ride", "walking_bass", "sax_lead", "seventh_chords", "human_velocity")
#: Chance that a piece plays one part in the other genre's style. Six parts borrowed
#: independently: a piece borrows three or more (it looks more like the other genre,
#: or undecided) with probability about 0.10, so no model can be right on every file.
BORROW_P = 0.2

N_GROUPS = 8
SEQUENCERS = ("jb", "mk", "rt", "ew", "dl", "hp", "ac", "gn")
#: Notes in a normal piece: several 100-note windows, so a file is more than its start.
PIECE_NOTES = (200, 450)
SHORT_NOTES = 40
HABIT_SHARE = 0.75
#: Bars per section; a piece alternates plain sections with cue sections, one of every
#: ``period`` sections (``period`` drawn from this tuple per piece, with a random phase).
SECTION_BARS = 2
CUE_PERIODS = (3, 4)
#: Instruments of the plain sections, shared by both genres (none is a planted cue).
PLAIN_KICK = 35  # acoustic bass drum
PICKED_BASS = 34
STRINGS = 48
VIBRAPHONE = 11

_JAZZ_WORDS = (
    ("blue", "minor", "late", "smoky", "quiet", "velvet", "lazy", "bright",
     "autumn", "midnight", "easy", "crooked", "silver", "soft", "early", "round"),
    ("walk", "step", "bop", "stroll", "ballad", "groove", "changes", "blues",
     "mood", "street", "corner", "dream", "sketch", "line", "turn", "room"),
)
_ELECTRONIC_WORDS = (
    ("Neon", "Digital", "Midnight", "Chrome", "Electric", "Hyper", "Solar", "Crystal",
     "Deep", "Infinite", "Lunar", "Static", "Binary", "Pulsar", "Glass", "Night"),
    ("Pulse", "Drive", "Circuit", "Signal", "Horizon", "Motion", "Echo", "Voltage",
     "Rush", "Grid", "Orbit", "Tides", "Cascade", "Prism", "Vector", "Runner"),
)

_SEVENTHS = {"maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10), "7": (0, 4, 7, 10), "m7b5": (0, 3, 6, 10)}
_JAZZ_LOOPS = (
    ((2, "m7"), (7, "7"), (0, "maj7"), (0, "maj7")),  # ii V I I
    ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "7")),  # I vi ii V
    ((4, "m7"), (9, "7"), (2, "m7"), (7, "7")),  # iii VI ii V
    ((2, "m7b5"), (7, "7"), (0, "m7"), (0, "m7")),  # minor ii V i
    ((0, "7"), (5, "7"), (0, "7"), (7, "7")),  # blues-like
)
# (onset, length) in beats on the straight grid; off-beats get swung later
_COMP_RHYTHMS = (
    ((0.0, 1.5),),
    ((0.0, 0.5), (1.5, 1.0)),  # Charleston
    ((1.5, 0.5), (3.5, 0.5)),
    ((0.5, 1.0), (2.5, 1.0)),
    ((1.0, 0.5), (2.5, 1.5)),
    ((0.0, 2.0), (2.0, 1.5)),
)
_TRIADS = {"m": (0, 3, 7), "M": (0, 4, 7), "5": (0, 7, 12)}
_ELECTRONIC_LOOPS = (
    ((0, "m"), (8, "M"), (3, "M"), (10, "M")),  # i VI III VII
    ((0, "m"), (5, "m"), (8, "M"), (7, "M")),  # i iv VI V
    ((0, "m"), (10, "M"), (8, "M"), (10, "M")),  # i VII VI VII
    ((9, "m"), (5, "M"), (0, "M"), (7, "M")),  # vi IV I V
    ((0, "m"), (0, "m"), (8, "M"), (7, "M")),
)


class _Events:

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, int, int, int, int]] = []

    def add(self, start: float, length: float, pitch: int, velocity: float, program: int = 0, drum: bool = False):
        velocity = min(max(int(round(velocity)), 1), 127)
        self.rows.append((start, start + length, int(pitch), velocity, int(drum), 0 if drum else int(program)))


def _swing(t: np.ndarray, swing: float) -> np.ndarray:
    # piecewise-linear warp of each beat: the off-beat eighth 0.5 moves to `swing`,
    # sixteenths move proportionally; monotonic, so note order and lengths stay sane
    beat = np.floor(t)
    f = t - beat
    return beat + np.where(f < 0.5, f * 2 * swing, swing + (f - 0.5) * 2 * (1 - swing))


def _to_table(ev: _Events, n_notes: int, bpm: float, swing: float, jitter: float, rng) -> np.ndarray:
    rows = np.array(ev.rows, dtype=np.float64)
    start, end, pitch, vel, drum, program = rows.T
    order = np.lexsort((pitch, program, drum, start))[:n_notes]
    start, end, pitch, vel, drum, program = (c[order] for c in (start, end, pitch, vel, drum, program))
    start, end = _swing(start, swing), _swing(end, swing)
    shift = np.clip(rng.normal(0.0, jitter, len(start)), -2.5 * jitter, 2.5 * jitter) if jitter else 0.0
    # the first downbeat stays at exactly 0 s: onsets read back from a file count from its
    # first note, and they should stay on the piece's beat grid
    shift = np.where(start == 0.0, 0.0, shift)
    start, end = np.maximum(start + shift, 0.0), end + shift
    # an audible gap (in beats) before the next note of the same key, which MIDI needs
    end = same_key_ends(start, end, drum, program, pitch, gap=0.02, min_length=0.02)
    seconds = 60.0 / bpm
    table = notes_from_events(start * seconds, end * seconds, pitch, vel, drum, program)
    assert len(table) == len(order), "generator produced a note of zero length"
    return table


def _velocity(rng, level: float, offset: float, human: bool) -> float:
    if human:
        return min(max(level + offset + rng.normal(0.0, 15.0), 20.0), 127.0)
    return min(max(level + offset + int(rng.integers(-2, 3)), 1.0), 127.0)


def _choose(rng, habit: dict | None, key: str, options):
    # a sequencer mostly sticks to its favourite, sometimes not; a borrowed style has no
    # habit behind it (None), so any of the options
    if habit is not None and rng.random() < HABIT_SHARE:
        return habit[key]
    return options[int(rng.integers(len(options)))]


def _habit(rng, genre: str) -> dict:
    if genre == "jazz":
        return {
            "bpm": float(rng.uniform(115, 185)),
            "lead": int(rng.choice([65, 56, 66])),
            "comp": int(rng.choice([0, 0, 4])),
            "bass": int(rng.choice([32, 33])),
            "velocity": float(rng.uniform(-10, 10)),
            "loop": int(rng.integers(len(_JAZZ_LOOPS))),
            "backbeat": int(rng.choice([SNARE, SNARE, CLAP])),
        }
    return {
        "bpm": float(rng.uniform(121, 137)),
        "lead": int(rng.integers(80, 88)),
        "pad": int(rng.integers(88, 91)),
        "bass": int(rng.choice([38, 39])),
        "backbeat": int(rng.choice([CLAP, SNARE])),
        "bass_style": str(rng.choice(["offbeat", "eighths"])),
        "chord": str(rng.choice(["triad", "power"])),
        "velocity": float(rng.uniform(-8, 8)),
        "loop": int(rng.integers(len(_ELECTRONIC_LOOPS))),
    }


def styles_of(genre: str, borrowed: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The style in which a piece of ``genre`` plays each of :data:`PARTS`, given the cues
    it borrowed (as ``demo.json`` lists them)."""
    cues = JAZZ_BORROWS if genre == "jazz" else ELECTRONIC_BORROWS
    other = "electronic" if genre == "jazz" else "jazz"
    return {part: other if cue in borrowed else genre for part, cue in zip(PARTS, cues)}


def _settings(rng, genre: str, habit: dict, borrowed: tuple[str, ...]) -> dict:
    style = styles_of(genre, borrowed)
    mine = {part: habit if s == genre else None for part, s in style.items()}
    if style["timing"] == "jazz":
        centre = habit["bpm"] if mine["timing"] and rng.random() < HABIT_SHARE else rng.uniform(100, 200)
        bpm = float(np.clip(centre + rng.normal(0, 12), 100, 200))
        swing, jitter = float(rng.uniform(0.62, 0.70)), 0.025
    else:
        centre = habit["bpm"] if mine["timing"] and rng.random() < HABIT_SHARE else rng.uniform(118, 140)
        bpm = float(np.clip(centre + rng.normal(0, 4), 118, 140))
        swing, jitter = 0.5, 0.004
    s = {"style": style, "bpm": bpm, "swing": swing, "jitter": jitter, "human": style["dynamics"] == "jazz",
         "voff": habit["velocity"] + rng.uniform(-6, 6), "jazz_harmony": style["harmony"] == "jazz"}
    loops = _JAZZ_LOOPS if s["jazz_harmony"] else _ELECTRONIC_LOOPS
    s["loop"] = loops[_choose(rng, mine["harmony"], "loop", range(len(loops)))]
    s["chords"] = dict(_SEVENTHS) if s["jazz_harmony"] else dict(_TRIADS)
    s["comp"] = _choose(rng, mine["harmony"], "comp", [0, 4]) if s["jazz_harmony"] else 0
    s["pad"] = 0 if s["jazz_harmony"] else _choose(rng, mine["harmony"], "pad", [88, 89, 90])
    s["power"] = not s["jazz_harmony"] and _choose(rng, mine["harmony"], "chord", ["triad", "power"]) == "power"
    jazz_bass = style["bass"] == "jazz"
    s["bass"] = _choose(rng, mine["bass"], "bass", [32, 33] if jazz_bass else [38, 39])
    s["bass_style"] = "walking" if jazz_bass else _choose(rng, mine["bass"], "bass_style", ["offbeat", "eighths"])
    s["jazz_lead"] = style["lead"] == "jazz"
    s["lead_program"] = _choose(rng, mine["lead"], "lead", [65, 56, 66] if s["jazz_lead"] else list(range(80, 88)))
    s["backbeat"] = _choose(rng, habit, "backbeat", [CLAP, SNARE])
    s["key"] = int(rng.integers(12))
    s["low"], s["high"] = {65: (61, 84), 56: (58, 82), 66: (54, 77)}.get(s["lead_program"], (60, 84))
    s["lead"] = int(rng.integers(s["low"] + 4, s["high"] - 4))
    # a one-bar riff (the electronic lead): sixteenth slots, each a chord tone and an octave
    slots = np.sort(rng.choice(16, size=int(rng.integers(4, 9)), replace=False))
    s["riff"] = [(int(x), int(rng.integers(3)), int(rng.integers(2))) for x in slots]
    # cue sections recur every `period` sections from a random one, so the cues are
    # spread through the piece and some 100-note windows hold none
    s["period"] = int(rng.choice(CUE_PERIODS))
    s["phase"] = int(rng.integers(s["period"]))
    return s


def _drums(ev: _Events, s: dict, t: float, cue: bool, vel) -> None:
    if cue and s["style"]["drums"] == "jazz":
        for pos, level in ((0, 80), (1, 92), (1.5, 68), (2, 80), (3, 92), (3.5, 68)):
            ev.add(t + pos, 0.4, RIDE, vel(level), drum=True)
        for pos in (1, 3):
            ev.add(t + pos, 0.2, PEDAL_HAT, vel(62), drum=True)
    elif cue:
        for pos in range(4):
            ev.add(t + pos, 0.25, KICK, vel(116), drum=True)
        for k in range(16):
            ev.add(t + k / 4, 0.1, CLOSED_HAT, vel((92, 60, 76, 60)[k % 4]), drum=True)
    else:
        for pos in (0, 2):
            ev.add(t + pos, 0.25, PLAIN_KICK, vel(96), drum=True)
    if not cue or s["style"]["drums"] == "electronic":
        for pos in (1, 3):
            ev.add(t + pos, 0.2, s["backbeat"], vel(100), drum=True)


def _bass_and_harmony(ev: _Events, rng, s: dict, t: float, cue: bool, pc: int, intervals, next_degree: int, vel) -> None:
    root = 36 + pc if 36 + pc <= 44 else 24 + pc
    if s["bass_style"] == "walking":
        # root, two chord tones, a chromatic approach to the next root
        tones = [root + i for i in intervals] + [root + 12]
        target = 36 + (s["key"] + next_degree) % 12
        line = [root, int(rng.choice(tones[1:])), int(rng.choice(tones)), target + int(rng.choice([-1, 1, -5]))]
        for pos, p in enumerate(line):
            ev.add(t + pos, 0.85, p, vel(82), program=s["bass"])
    else:
        program = s["bass"] if cue else PICKED_BASS
        if s["bass_style"] == "offbeat":
            for pos in range(4):
                ev.add(t + pos + 0.5, 0.4, root, vel(100), program=program)
        else:
            for k in range(8):
                ev.add(t + k / 2, 0.35, root + 12 * (k % 2), vel((100, 88)[k % 2]), program=program)
    if s["jazz_harmony"]:
        # piano comp: rootless 4-note voicing (3rd, 5th, 7th, 9th) around middle C
        voicing = sorted(48 + pc + i for i in (intervals[1], intervals[2], intervals[3], 14))
        while voicing[0] < 52:
            voicing = [v + 12 for v in voicing]
        for pos, length in _COMP_RHYTHMS[int(rng.integers(len(_COMP_RHYTHMS)))]:
            level = vel(60)
            for p in voicing:
                ev.add(t + pos, 0.9 * length, p, level + rng.normal(0, 4), program=s["comp"])
    else:
        for i in (_TRIADS["5"] if s["power"] else intervals):
            ev.add(t, 3.9, 48 + pc + i, vel(72), program=s["pad"] if cue else STRINGS)


def _lead(ev: _Events, rng, s: dict, t: float, cue: bool, pc: int, intervals, vel) -> None:
    if not s["jazz_lead"]:
        for j, (x, tone, octave) in enumerate(s["riff"]):
            nxt = s["riff"][j + 1][0] if j + 1 < len(s["riff"]) else 16
            p = 60 + (pc + intervals[tone]) % 12 + 12 * octave
            ev.add(t + x / 4, max(0.8 * (nxt - x) / 4, 0.2), p, vel(96 if x % 4 == 0 else 84),
                   program=s["lead_program"] if cue else VIBRAPHONE)
        return
    if rng.random() <= 0.2:
        return
    beats = np.flatnonzero(rng.random(8) < 0.55)
    if len(beats) < 2:
        beats = np.array([0, 1])
    allowed = {(pc + i) % 12 for i in intervals}
    passing = allowed | {(pc + i) % 12 for i in (2, 5, 9)}
    low, high = s["low"], s["high"]
    for j, x in enumerate(beats):
        pcs = allowed if x % 2 == 0 else passing
        near = [p for p in range(max(low, s["lead"] - 5), min(high, s["lead"] + 5) + 1) if p % 12 in pcs and p != s["lead"]]
        s["lead"] = int(rng.choice(near)) if near else int(np.clip(s["lead"], low, high))
        gap = (beats[j + 1] - x) / 2 if j + 1 < len(beats) else (8 - x) / 2
        ev.add(t + x / 2, 0.9 * min(gap, 1.5), s["lead"], vel(86 + 6 * (x % 2)), program=s["lead_program"])


def _piece(
    rng, genre: str, habit: dict, borrowed: tuple[str, ...], n_notes: int, drums_only: bool = False
) -> tuple[np.ndarray, dict]:
    s = _settings(rng, genre, habit, borrowed)
    ev = _Events()

    def vel(level: float) -> float:
        return _velocity(rng, level, s["voff"], s["human"])

    bar = 0
    while len(ev.rows) < n_notes:
        t = 4.0 * bar
        cue = (bar // SECTION_BARS) % s["period"] == s["phase"]
        degree, quality = s["loop"][bar % 4]
        pc = (s["key"] + degree) % 12
        _drums(ev, s, t, cue, vel)
        if not drums_only:
            _bass_and_harmony(ev, rng, s, t, cue, pc, s["chords"][quality], s["loop"][(bar + 1) % 4][0], vel)
            _lead(ev, rng, s, t, cue, pc, s["chords"][quality], vel)
        bar += 1
    table = _to_table(ev, n_notes, s["bpm"], s["swing"], s["jitter"], rng)
    return table, {"bpm": round(s["bpm"], 2), "swing": round(s["swing"], 3), "cue_period": s["period"]}


def _plan(per_genre: int, seed: int) -> list[dict]:
    plan = []
    for g, genre in enumerate(GENRES):
        rng = np.random.default_rng([seed, g, 1])
        broken = ["short"] if genre == "jazz" else ["short", "drums_only"]
        kinds = ["piece"] * per_genre + broken
        n_files = len(kinds)
        groups = rng.permutation(np.arange(n_files) % N_GROUPS)  # balanced within one file
        cues = JAZZ_BORROWS if genre == "jazz" else ELECTRONIC_BORROWS
        # each part of each piece is borrowed independently; a broken file borrows nothing
        draws = rng.random((per_genre, len(cues))) < BORROW_P
        borrowed = {i: tuple(c for c, hit in zip(cues, draws[i]) if hit) for i in range(per_genre)}
        words = _JAZZ_WORDS if genre == "jazz" else _ELECTRONIC_WORDS
        combos = [(a, b) for a in words[0] for b in words[1]]
        titles = [combos[int(k)] for k in rng.permutation(len(combos))]
        width = max(2, len(str(per_genre)))
        for i, kind in enumerate(kinds):
            group = int(groups[i])
            if genre == "jazz":
                number = "short" if kind == "short" else f"{i + 1:0{width}d}"
                name = f"{'_'.join(titles[i % len(titles)])}_{number}_{SEQUENCERS[group]}.mid"
            else:
                title = {"short": "Short Sketch", "drums_only": "Drums Only"}.get(kind) or (
                    " ".join(titles[i % len(titles)]) + (f" {i // len(titles) + 1}" if i >= len(titles) else ""))
                name = f"Demo Artist {group + 1} - {title}.mid"
            plan.append({"path": f"{genre}/{name}", "genre": genre, "group": group, "kind": kind,
                         "borrowed": list(borrowed.get(i, ())), "rng": [seed, g, 2, i]})
    return plan


def _generate(plan: list[dict], seed: int) -> list[tuple[dict, np.ndarray]]:
    habits = {
        (genre, k): _habit(np.random.default_rng([seed, g, 3, k]), genre)
        for g, genre in enumerate(GENRES)
        for k in range(N_GROUPS)
    }
    out = []
    for entry in plan:
        rng = np.random.default_rng(entry["rng"])
        habit = habits[(entry["genre"], entry["group"])]
        n_notes = SHORT_NOTES if entry["kind"] == "short" else int(rng.integers(PIECE_NOTES[0], PIECE_NOTES[1] + 1))
        table, meta = _piece(rng, entry["genre"], habit, tuple(entry["borrowed"]), n_notes, entry["kind"] == "drums_only")
        group = SEQUENCERS[entry["group"]] if entry["genre"] == "jazz" else f"Demo Artist {entry['group'] + 1}"
        out.append(({"path": entry["path"], "genre": entry["genre"], "group": group, "kind": entry["kind"],
                     "n_notes": len(table), **meta, "borrowed": entry["borrowed"]}, table))
    out.sort(key=lambda item: item[0]["path"])
    return out


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("generator") != GENERATOR:
        return None
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
        return None
    return manifest


def _safe_rel(rel: str) -> bool:
    # a manifest is only trusted to name .mid files inside the corpus folder
    parts = Path(rel).parts
    return rel.endswith(".mid") and not Path(rel).is_absolute() and ".." not in parts and len(parts) == 2


def _listing(out_dir: Path) -> list[str]:
    if not out_dir.is_dir():
        return []
    return sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
                  if not p.is_dir() and not any(part.startswith(".") for part in p.relative_to(out_dir).parts))


def _manifest_text(per_genre: int, seed: int, records: list[dict], complete: bool) -> str:
    manifest = {"generator": GENERATOR, "version": DEMO_VERSION, "seed": seed, "per_genre": per_genre,
                "complete": complete, "note": "Generated demo corpus, NOT real music (see README.md).",
                "files": records}
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def _readme_text(per_genre: int, seed: int, records: list[dict]) -> str:
    mixed = [sum(len(r["borrowed"]) >= 3 for r in records if r["kind"] == "piece" and r["genre"] == g) for g in GENRES]
    broken = ", ".join(f"`{r['path']}`" for r in records if r["kind"] != "piece")
    return f"""# Generated demo corpus: NOT real music

Written by `genre_lib.demo.make_demo_corpus` (generator version {DEMO_VERSION}, seed {seed}, {per_genre} pieces per
genre) so that the notebooks run without a download; its accuracies say nothing about real music (for that,
`make data`, or `GENRE_DATA` set to a folder `<folder>/<genre>/*.mid`). `genre-lib demo-data <folder> --seed {seed}
--per-genre {per_genre}` writes the same files again; `demo.json` lists each with its genre, group (one of 8 fake
sequencers per genre, with habits), tempo, swing, cue period and borrowed cues.

Each piece plays six parts (timing, drums, bass, lead, harmony, dynamics), each in its genre's style or, with
probability {BORROW_P}, the other's ({mixed[0]} jazz and {mixed[1]} electronic pieces borrow three or more). Jazz:
swing, ride cymbal and pedal hi-hat, walking bass, a sax or trumpet line, seventh chords on piano, loose
velocities. Electronic: straight time, a four-on-the-floor kick (drum 36) and closed hi-hat, synth bass, lead and
pad, fixed velocities. The drum and synth cues play in one of every 3 or 4 two-bar sections, the others share a
plain beat; `genre_lib.demo.planted_cue_mask` marks the notes that show a cue on their own (drums 36, 42, 44, 51;
programs 38, 39, 80-90). Unusable on purpose (the readers skip them): {broken}.
"""


def make_demo_corpus(
    out_dir: str | Path, per_genre: int = 150, seed: int = 0, overwrite: bool = False
) -> list[Path]:
    """Write the demo corpus to ``out_dir``: ``per_genre`` pieces per genre, the unusable
    files, ``README.md`` and ``demo.json``; the same seed gives the same bytes. A complete
    corpus of the same settings is left as it is, one of other settings replaced (only the
    files its manifest lists). Returns the MIDI paths, sorted.

    Raises:
        FileExistsError: ``out_dir`` holds files this module did not write."""
    out_dir = Path(out_dir)
    for name, value, least in (("per_genre", per_genre, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    per_genre, seed = int(per_genre), int(seed)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"{out_dir}: exists and is not a folder")

    old = _read_manifest(out_dir)
    if old is not None and not overwrite:
        same = (old.get("version"), old.get("seed"), old.get("per_genre"), old.get("complete")) == (
            DEMO_VERSION, seed, per_genre, True)
        paths = [out_dir / f["path"] for f in old["files"]]
        if same and all(p.is_file() for p in paths):
            return sorted(paths)

    owned_midi = {f["path"] for f in old["files"] if _safe_rel(f["path"])} if old else set()
    owned = owned_midi | {MANIFEST, README} if old else set()
    foreign = [rel for rel in _listing(out_dir)
               if rel not in owned and not (rel.endswith(".part") and rel[: -len(".part")] in owned_midi)]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        if old is None:
            raise FileExistsError(
                f"{out_dir}: folder is not empty and is not a demo corpus written by genre_lib.demo "
                f"(no {MANIFEST}; it holds {shown}); refusing to write into it. "
                "Choose a new or empty folder for the demo corpus."
            )
        raise FileExistsError(
            f"{out_dir}: holds files genre_lib.demo did not write ({shown}); refusing to "
            "regenerate the demo corpus there. Move them away or choose another folder."
        )

    # generate everything before touching the folder, so a failure leaves it as it was
    generated = _generate(_plan(per_genre, seed), seed)
    records = [record for record, _ in generated]
    new = {r["path"] for r in records}
    for rel in sorted(owned_midi - new):
        (out_dir / rel).unlink(missing_ok=True)
    # the manifest goes first, marked incomplete: an interrupted run leaves a folder that
    # is still recognisably ours and is regenerated next time, never refused
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST).write_text(_manifest_text(per_genre, seed, records, False), encoding="utf-8")
    paths = [write_midi(table, out_dir / record["path"], overwrite=True) for record, table in generated]
    (out_dir / README).write_text(_readme_text(per_genre, seed, records), encoding="utf-8")
    (out_dir / MANIFEST).write_text(_manifest_text(per_genre, seed, records, True), encoding="utf-8")
    return sorted(paths)


def ensure_demo_data(out_dir: str | Path | None = None, per_genre: int = 150, seed: int = 0) -> Path:
    """The demo corpus folder (default :data:`genre_lib.paths.DEMO_DIR`), made if missing."""
    folder = Path(out_dir) if out_dir is not None else DEMO_DIR
    make_demo_corpus(folder, per_genre=per_genre, seed=seed)
    return folder


def is_demo_corpus(folder: str | Path) -> bool:
    """True if ``folder`` holds a complete corpus of this module and nothing else: how the
    data rule recognises it wherever it lies."""
    folder = Path(folder)
    manifest = _read_manifest(folder)
    if manifest is None or manifest.get("complete") is not True:
        return False
    listed = {f["path"] for f in manifest["files"]}
    return set(_listing(folder)) - {MANIFEST, README} == listed


def planted_cue_mask(table: np.ndarray) -> np.ndarray:
    """The notes that carry a planted cue on their own: drums 36, 42, 44, 51 and programs
    38, 39, 80-90 (swing and other timing cues are not in it)."""
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[1] <= max(PITCH, DRUM, PROGRAM):
        raise ValueError(f"expected a note table of shape (n_notes, features), got {table.shape}")
    drum = table[:, DRUM] >= 0.5
    pitch = np.rint(table[:, PITCH]).astype(int)
    program = np.rint(table[:, PROGRAM]).astype(int)
    return (drum & np.isin(pitch, sorted(CUE_DRUM_PITCHES))) | (~drum & np.isin(program, sorted(SYNTH_PROGRAMS)))


# --- planted musical concepts ------------------------------------------------------------

#: the instrument each family concept is planted with (the plain example plays vibraphone, GM 11)
CONCEPT_PROGRAMS = {"piano": 0, "organ": 16, "guitar": 25, "strings": 48, "brass_reeds": 65, "synth": 81}


def concept_examples(out_dir: str | Path, seed: int = 0, overwrite: bool = False) -> dict[str, tuple[Path, Path]]:
    """Write ``<concept>-without.mid`` and ``<concept>-with.mid`` for each concept of
    :data:`genre_lib.concepts.CONCEPTS` to ``out_dir`` (8 bars at 120 bpm, not real music):
    a plain vibraphone melody, triads, bass and drums, and the same with one thing changed."""
    from .concepts import CONCEPTS, FIELDS, Piece
    from .edits import write_piece

    rng = np.random.default_rng(seed)
    roots, minor, scale = 48 + rng.permutation(12)[:8], rng.random(8) < 0.5, np.array([0, 2, 4, 5, 7, 9, 11])

    def piece(change: str = "") -> Piece:
        q, loop, notes = 480, change == "repetition", []

        def add(start, end, pitch, program=11, drum=False, track=0, velocity=90):
            notes.append((int(start), int(end), int(pitch), velocity, program, drum, track))

        program = CONCEPT_PROGRAMS.get(change, 11)
        for bar in range(8):
            b, at = (0 if loop else bar), bar * 4 * q
            root, third = roots[b], 3 if minor[b] else 4
            chord = [root + 12, root + 12 + third, root + 19] + ([root + 22 + (not minor[b])] if change == "sevenths" else [])
            push = -q // 2 if change == "syncopation" and bar else 0
            for p in chord:
                add(at + push, at + 4 * q - 10, p, program, track=1)
            step = q // 4 if change == "density" else q // 2
            for k, t in enumerate(range(0, 4 * q, step)):  # chord tones on the beats, the scale between
                late = q // 6 if change == "swing" and t % q == q // 2 else 0
                add(at + t + late, at + t + step - 10, chord[k % 3] + 12 if t % q == 0 else root + 24 + scale[(7 * b + k) % 7],
                    program)
            walk = [0, 2, third, 5] if change == "walking_bass" else None
            for beat in range(4) if walk else (0, 2):
                add(at + beat * q, at + beat * q + (q if walk else 2 * q) - 10, root - 12 + (walk[beat] if walk else 0), 33, track=2)
            for beat in range(4) if change != "drums-less" else ():
                kick, snare = beat in (0, 2) or change == "four_on_floor", beat in (1, 3) and change == "backbeat"
                for sound in [36] * kick + [38] * snare + [42]:
                    add(at + beat * q, at + beat * q + 60, sound, 0, True, 3, 70 if sound == 42 else 90)
        n = {k: np.array(c, bool if k == "drum" else np.int64) for k, c in zip(FIELDS, zip(*notes))}
        if change == "looseness":
            times, at = np.unique(n["start"], return_inverse=True)  # notes struck together stay together
            jitter = np.rint(rng.normal(0, 0.04, len(times)) * q).astype(np.int64)[at]
            n["start"], n["end"] = np.maximum(n["start"] + jitter, 0), n["end"] + jitter
        return Piece(n, q, np.array([[0, 400000 if change == "tempo" else 500000]]), np.array([[0, 4, 4]]))

    pairs = {c: (piece("drums-less"), piece()) if c == "drums" else (piece(), piece(c)) for c in CONCEPTS}
    return {c: tuple(write_piece(p, Path(out_dir) / f"{c}-{kind}.mid", overwrite=overwrite)
                     for p, kind in zip(pair, ("without", "with"))) for c, pair in pairs.items()}
