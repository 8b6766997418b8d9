"""Interactive views (ipywidgets) for the notebooks: a pure rendering function per
view (tested without a browser) with thin widget wiring around it. Figures are PNG
``Image`` widgets, so they live in the widget state and survive static HTML.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from .changes import change_size
from .flip import FlipResult, FlipSettings


def render_flip_step(result: FlipResult, step: int, genres: Sequence[str] | None = None, values=None):
    """Frame ``step`` of a flip's trajectory (negative counts from the end): a new
    ``Figure`` (note map and probabilities) and a one-line summary.
    """
    from .plots import flip_frame_figure

    n_frames = len(result.trajectory_steps)
    if not -n_frames <= step < n_frames:
        raise IndexError(f"step {step} out of range: the flip has {n_frames} frames")
    step = step % n_frames
    names = list(genres) if genres is not None else result.genre_names
    table = result.trajectory_tables[step]
    probs = result.trajectory_probs[step]
    size = change_size(result.base, table)
    opt_step = int(result.trajectory_steps[step])
    phase = result.trajectory_phase[step]
    title = f"step {opt_step}" + (", pruning" if phase == "prune" else "")
    fig = flip_frame_figure(result.base, table, probs, result.probs_before, result.target, names, title, values)
    probs_text = ", ".join(f"{g} {p:.2f}" for g, p in zip(names, probs))
    text = (
        f"step {opt_step} ({phase}): {probs_text} | "
        f"{size['notes_changed']} notes changed, l1 {size['l1']:.2f}"
    )
    return fig, text


def figure_png(fig) -> bytes:
    """PNG bytes of a matplotlib figure (for an ``ipywidgets.Image``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


_VIEW_CLASS: list = []


def _view(children, label: str):
    # a notebook stores a widget's repr as its text output; the default lists the dropdown's full paths
    if not _VIEW_CLASS:
        import ipywidgets as w

        class LabelledView(w.VBox):
            def __repr__(self) -> str:
                return self._label

        _VIEW_CLASS.append(LabelledView)
    box = _VIEW_CLASS[0](children)
    box._label = label
    return box


def _file_dropdown(files: Sequence[str | Path], root: str | Path | None):
    import ipywidgets as w

    labels = [(str(Path(f).relative_to(root)) if root else Path(f).name, str(f)) for f in files]
    return w.Dropdown(options=labels, description="file")


def _frame_indices(n_frames: int, max_frames: int) -> np.ndarray:
    if n_frames <= max_frames:
        return np.arange(n_frames)
    return np.unique(np.round(np.linspace(0, n_frames - 1, max_frames)).astype(int))


def _cached_flip(cache: dict, judge, path: str, target: int, settings: FlipSettings) -> FlipResult | str:
    from .dataset import load_file
    from .flip import optimize_delta
    from .midi_io import MidiError

    if (path, target) not in cache:
        try:
            cache[path, target] = optimize_delta(judge, load_file(path, judge.length), target, settings)
        except MidiError as exc:
            cache[path, target] = f"cannot use this file: {exc.reason}"
    return cache[path, target]


def _reread(res: FlipResult, genres: Sequence[str]) -> str:
    if res.probs_reparsed is None:
        return "round trip failed"
    return f"re-read file: {genres[int(np.argmax(res.probs_reparsed))]} ({'flipped' if res.flipped else 'not flipped'})"


def _other_genre(model, genres: Sequence[str], path: str) -> str | None:
    from .dataset import load_file
    from .inference import n_notes, predict_proba
    from .midi_io import MidiError

    try:
        predicted = int(np.argmax(predict_proba(model, load_file(path, n_notes(model)))[0]))
    except MidiError:
        return None
    return next(g for k, g in enumerate(genres) if k != predicted)


def flip_explorer(model, genres: Sequence[str], files: Sequence[str | Path], *, root: str | Path | None = None,
                  settings: FlipSettings = FlipSettings()):
    """A widget to flip a file's first notes (``model`` of ``genres``) to a chosen genre
    and step through the flip with :func:`render_flip_step` (flips computed on first use
    and cached; labels of ``files`` relative to ``root``). Returns an ``ipywidgets.VBox``
    whose controls are attributes code can drive: ``.file``, ``.target``, ``.slider``,
    and read: ``.image``, ``.sound`` (the step's notes played, :func:`genre_lib.audio.listen`),
    ``.text``, ``.result`` (the flip), ``.summary``."""
    import html

    import ipywidgets as w

    from .audio import listen
    from .verdicts import RNNVerdict

    judge = RNNVerdict(model, genres, "first100")
    file_dd = _file_dropdown(files, root)
    target_dd = w.Dropdown(options=list(genres), description="target", value=None)
    slider = w.IntSlider(min=0, max=0, value=0, description="step", continuous_update=False)
    image = w.Image(format="png")
    sound = w.Audio(format="wav", autoplay=False)
    text = w.HTML()
    box = _view([w.HBox([file_dd, target_dd]), slider, image, sound, text],
                f"flip explorer: {len(files)} files, target genres {', '.join(genres)}")
    cache: dict[tuple[str, str], FlipResult | str] = {}
    box.result = None
    box.summary = ""

    def redraw(*_):
        res = box.result
        if not isinstance(res, FlipResult):
            return
        fig, line = render_flip_step(res, slider.value, genres)
        image.value = figure_png(fig)
        sound.value = listen(res.trajectory_tables[slider.value], seconds=None).data  # the whole excerpt: flips change its end
        box.summary = line
        text.value = f"<code>{html.escape(line)}</code><br>{html.escape(_reread(res, genres))}"

    def refresh(*_):
        res = _cached_flip(cache, judge, file_dd.value, list(genres).index(target_dd.value), settings)
        if isinstance(res, str):
            box.result, box.summary = None, res
            image.value = b""
            text.value = f"<b>{html.escape(res)}</b>"
            slider.max, slider.value = 0, 0
            return
        box.result = res
        last = len(res.trajectory_steps) - 1
        with slider.hold_trait_notifications():
            slider.max = last
            slider.value = last
        redraw()
        if int(np.argmax(res.probs_before)) == res.target:
            text.value += "<br>already classified as the target: nothing to flip"

    def new_file(*_):
        # aim at a genre the file can flip to; setting the target redraws, else redraw here
        target = _other_genre(model, genres, file_dd.value)
        if target is not None and target != target_dd.value:
            target_dd.value = target
        else:
            refresh()

    file_dd.observe(new_file, names="value")
    target_dd.observe(refresh, names="value")
    slider.observe(redraw, names="value")
    box.file, box.target, box.slider, box.image, box.sound, box.text = file_dd, target_dd, slider, image, sound, text
    target_dd.value = _other_genre(model, genres, file_dd.value) or genres[0]
    refresh()
    return box


def flip_stack(result: FlipResult, genres: Sequence[str] | None = None, max_frames: int = 12):
    """A flip's frames pre-rendered into an ipywidgets ``Stack`` driven by a slider linked
    in the browser (``jslink``), for pages without a kernel: at most ``max_frames`` frames,
    evenly spaced; ``.stack``, ``.slider``, ``.frames`` and ``.link`` are attributes.
    """
    import html

    import ipywidgets as w

    frames = _frame_indices(len(result.trajectory_steps), max_frames)
    pages = []
    for k in frames:
        fig, line = render_flip_step(result, int(k), genres)
        pages.append(w.VBox([w.Image(value=figure_png(fig), format="png"), w.HTML(f"<code>{html.escape(line)}</code>")]))
    stack = w.Stack(pages, selected_index=len(pages) - 1)
    slider = w.IntSlider(min=0, max=len(pages) - 1, value=len(pages) - 1, description="frame")
    link = w.jslink((slider, "value"), (stack, "selected_index"))
    box = _view([slider, stack], f"flip of {len(result.trajectory_steps)} frames, {len(pages)} pre-rendered")
    box.stack, box.slider, box.frames, box.link = stack, slider, frames, link
    return box


def render_saliency(model, table: np.ndarray, method: str, genres: Sequence[str], baseline: np.ndarray | None = None,
                    feature_std: np.ndarray | None = None, title: str = "", target: int | None = None):
    """One file's map (:func:`genre_lib.plots.saliency_figure`) for ``target`` (None: the
    predicted genre) by the method named ``method``, and a summary line naming the
    prediction, the genre explained and the top note.
    """
    from .plots import saliency_figure
    from .saliency import method_named

    smap = method_named(method, model).explain(table, target, baseline=baseline, feature_scale=feature_std)
    fig = saliency_figure(table, smap, genres, title)
    top = smap.top_notes(1)[0]
    predicted = int(np.argmax(smap.probs))
    line = f"{method}: predicted {genres[predicted]} (p={smap.probs[predicted]:.2f})"
    if target is not None:
        line += f"; map for {genres[smap.target]} (p={smap.probs[smap.target]:.2f})"
    line += f"; most important note {top['note']}" + (f" ({top['feature']})" if len(smap.features) > 1 else "")
    if smap.complete is False:
        line += "; fails completeness"
    return fig, line


def saliency_explorer(model, files: Sequence[str | Path], genres: Sequence[str], baseline: np.ndarray,
                      root: str | Path | None = None):
    """Dropdowns of files, methods and the genre to explain ("predicted" or any), the
    chosen map drawn below (needs a kernel); ``.file``, ``.method``, ``.target``, ``.image``,
    ``.text`` and ``.summary`` are attributes.
    """
    import html

    import ipywidgets as w

    from . import saliency as S
    from .dataset import load_file
    from .inference import n_notes
    from .midi_io import MidiError

    file_dd = _file_dropdown(files, root)
    method_dd = w.Dropdown(options=list(S.METHODS), value="gradient", description="method")
    # "predicted" explains the genre the model chooses; a value of None would read as
    # "nothing selected" to ipywidgets, so the choices are names
    target_dd = w.Dropdown(options=["predicted", *genres], value="predicted", description="genre")
    image, text = w.Image(format="png"), w.HTML()
    box = _view([w.HBox([file_dd, method_dd, target_dd]), image, text],
                f"saliency explorer: {len(files)} files, methods {', '.join(S.METHODS)}")
    std = S.feature_std(model)
    max_notes = n_notes(model)

    def redraw(*_):
        try:
            table = load_file(file_dd.value, max_notes)
        except MidiError as exc:
            box.summary = f"cannot use this file: {exc.reason}"
            image.value, text.value = b"", f"<b>{html.escape(box.summary)}</b>"
            return
        fig, box.summary = render_saliency(model, table, method_dd.value, genres, baseline, std, Path(file_dd.value).name,
                                           target=None if target_dd.value == "predicted" else list(genres).index(target_dd.value))
        image.value = figure_png(fig)
        text.value = f"<code>{html.escape(box.summary)}</code>"

    file_dd.observe(redraw, names="value")
    method_dd.observe(redraw, names="value")
    target_dd.observe(redraw, names="value")
    box.file, box.method, box.target, box.image, box.text = file_dd, method_dd, target_dd, image, text
    redraw()
    return box
