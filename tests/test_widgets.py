"""The flip widgets, driven from Python (no browser) on the run trained on the demo
corpus: setting a control's ``.value`` must redraw the right frame, and the numbers
shown must be the model's own on that frame's MIDI file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from genre_lib.midi_io import read_midi, write_midi

from .flip_helpers import demo, model_probs  # noqa: F401  (module fixture: the demo run and held-out files)


@pytest.fixture(scope="module")
def explorer(demo):  # noqa: F811
    """The explorer over one held-out file of each genre."""
    from genre_lib.flip import FlipSettings
    from genre_lib.widgets import flip_explorer

    files = [demo.files[0], demo.files[-1]]
    box = flip_explorer(demo.model, demo.genres, files, root=demo.root, settings=FlipSettings(max_steps=150))
    return box, demo, files


def shown_probs(text: str, genres) -> np.ndarray:
    """The probabilities a summary line shows, in genre order."""
    return np.array([float(re.search(rf"\b{g} (\d\.\d\d)\b", text).group(1)) for g in genres])


def frame_probs(model, table: np.ndarray, tmp: Path) -> np.ndarray:
    """The model's probabilities on ``table`` written to MIDI and read back."""
    path = write_midi(table, tmp / "frame.mid", overwrite=True)
    return model_probs(model, read_midi(path)[:100])


def test_render_flip_step_draws_that_frame(explorer, tmp_path: Path):
    from matplotlib.figure import Figure

    from genre_lib.widgets import render_flip_step

    box, demo, _ = explorer
    result = box.result
    n = len(result.trajectory_steps)
    for k in (0, n // 2, n - 1):
        fig, text = render_flip_step(result, k)
        assert isinstance(fig, Figure) and len(fig.axes) >= 3
        table = result.trajectory_tables[k]
        probs = frame_probs(demo.model, table, tmp_path)
        np.testing.assert_allclose(shown_probs(text, demo.genres), probs, atol=0.006)
        bars = fig.axes[2].patches  # the probability panel draws one bar per genre
        np.testing.assert_allclose([b.get_height() for b in bars], probs, atol=1e-5)
        changed = int((np.abs(table - result.base) > 1e-6).any(axis=1).sum())
        assert f"{changed} notes changed" in text
        assert re.match(rf"step {result.trajectory_steps[k]}\b", fig.axes[1].get_title())
        # the changed notes, and only they, are outlined on the modified panel
        outlined = (np.asarray(fig.axes[1].collections[0].get_linewidths()) > 0).sum()
        assert outlined == changed
    assert render_flip_step(result, 0)[1] != render_flip_step(result, -1)[1]
    with pytest.raises(IndexError):
        render_flip_step(result, n)


@pytest.mark.slow
def test_explorer_controls_redraw_the_right_frame_and_flip(explorer, tmp_path: Path):
    from genre_lib.dataset import load_file
    from genre_lib.widgets import figure_png, render_flip_step

    box, demo, files = explorer
    genres = demo.genres
    # it opens on the first file, aimed at the genre the model does not give it, last frame
    assert box.file.value == str(files[0])
    assert repr(box).startswith("flip explorer") and str(demo.root) not in repr(box)  # stored as the cell's text
    assert box.target.value == genres[1 - demo.predicted[0]]
    result = box.result
    assert result.target == genres.index(box.target.value)
    np.testing.assert_array_equal(result.original, load_file(files[0]))
    assert box.slider.max == len(result.trajectory_steps) - 1 == box.slider.value
    assert box.image.value == figure_png(render_flip_step(result, box.slider.value, genres)[0])
    last = shown_probs(box.summary, genres)
    assert genres[int(np.argmax(last))] == box.target.value  # the flip is shown as done

    box.slider.value = 0
    assert box.image.value == figure_png(render_flip_step(result, 0, genres)[0])
    assert "step 0" in box.text.value and box.summary == render_flip_step(result, 0)[1]
    np.testing.assert_allclose(shown_probs(box.summary, genres), frame_probs(demo.model, result.base, tmp_path), atol=0.006)
    assert genres[int(np.argmax(shown_probs(box.summary, genres)))] != box.target.value

    box.slider.value = box.slider.max // 2
    middle = result.trajectory_tables[box.slider.value]
    np.testing.assert_allclose(shown_probs(box.summary, genres), frame_probs(demo.model, middle, tmp_path), atol=0.006)
    # the step's notes are heard: the sound is the listen of that step's table, and another step sounds otherwise
    from genre_lib.audio import listen

    assert box.sound.value == listen(middle, seconds=None).data
    box.slider.value = 0
    assert box.sound.value == listen(result.trajectory_tables[0], seconds=None).data != listen(middle, seconds=None).data

    # the other target genre: the file's own genre, nothing to flip, and the widget says so
    own = genres[demo.predicted[0]]
    box.target.value = own
    assert box.result.target == genres.index(own) and "nothing to flip" in box.text.value
    assert box.slider.value == box.slider.max == len(box.result.trajectory_steps) - 1

    # another file: the widget flips that file, aimed at the genre the model does not give it
    box.file.value = str(files[1])
    np.testing.assert_array_equal(box.result.original, load_file(files[1]))
    assert box.target.value == genres[1 - demo.predicted[-1]] and box.result.target == genres.index(box.target.value)
    table = box.result.trajectory_tables[box.slider.value]
    np.testing.assert_allclose(shown_probs(box.summary, genres), frame_probs(demo.model, table, tmp_path), atol=0.006)
    assert box.image.value == figure_png(render_flip_step(box.result, box.slider.value, genres)[0])
    verdict = "(flipped)" if box.result.flipped else "(not flipped)"
    assert verdict in box.text.value and Path(files[1]).name in box.file.label


def test_static_stack_has_one_page_per_frame_and_a_browser_link(explorer):
    import html

    import ipywidgets as w

    from genre_lib.widgets import figure_png, render_flip_step

    box, *_ = explorer
    result = box.result
    view = flip_stack_of(result)
    assert isinstance(view.stack, w.Stack)
    assert len(view.stack.children) == len(view.frames) <= 5
    assert view.frames[0] == 0 and view.frames[-1] == len(result.trajectory_steps) - 1
    assert view.slider.max == len(view.stack.children) - 1 == view.slider.value == view.stack.selected_index
    assert view.link.source == (view.slider, "value") and view.link.target == (view.stack, "selected_index")
    for k, page in zip(view.frames, view.stack.children):
        fig, line = render_flip_step(result, int(k))
        assert page.children[0].value == figure_png(fig)
        assert html.escape(line) in page.children[1].value


def flip_stack_of(result):
    from genre_lib.widgets import flip_stack

    return flip_stack(result, max_frames=5)
