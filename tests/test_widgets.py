"""The flip widgets, driven from Python (no browser): setting a control's ``.value``
must redraw the right step with the right numbers."""

from __future__ import annotations

import numpy as np
import pytest

from .test_flip import predict, trained  # noqa: F401  (module fixture: the trained model)


@pytest.fixture(scope="module")
def explorer(trained):  # noqa: F811
    from genre_lib.widgets import flip_explorer

    model, genres, files = trained
    return flip_explorer(model, genres, files[:2], flip_kwargs={"max_steps": 120}), model, genres, files


def test_render_flip_step_draws_the_numbers_of_that_step(explorer):
    from matplotlib.figure import Figure

    from genre_lib.widgets import render_flip_step

    box, _, genres, _ = explorer
    result = box.result
    for k in (0, -1):
        fig, text = render_flip_step(result, k)
        assert isinstance(fig, Figure) and len(fig.axes) >= 3
        probs = result.trajectory_probs[k]
        assert all(f"{g} {p:.2f}" in text for g, p in zip(genres, probs))
    assert render_flip_step(result, 0)[1] != render_flip_step(result, -1)[1]
    with pytest.raises(IndexError):
        render_flip_step(result, len(result.trajectory_steps))


def test_explorer_slider_and_dropdowns_change_what_is_shown(explorer):
    from genre_lib.dataset import load_file
    from genre_lib.widgets import render_flip_step

    box, model, genres, files = explorer
    result = box.result
    assert box.slider.max == len(result.trajectory_steps) - 1 and box.slider.value == box.slider.max
    last_png = box.image.value
    box.slider.value = 0
    assert box.summary == render_flip_step(result, 0)[1]
    assert "step 0" in box.text.value and box.image.value != last_png
    # switching the target genre recomputes the flip towards that genre
    other = next(g for g in genres if g != box.target.value)
    box.target.value = other
    assert box.result.target == genres.index(other)
    assert box.slider.value == len(box.result.trajectory_steps) - 1
    # switching the file flips that file
    box.file.value = str(files[1])
    np.testing.assert_array_equal(box.result.original, load_file(files[1]))
    probs_shown = box.result.trajectory_probs[box.slider.value]
    assert all(f"{g} {p:.2f}" in box.summary for g, p in zip(genres, probs_shown))


def test_static_stack_has_one_page_per_frame_and_a_browser_link(explorer):
    import ipywidgets as w

    from genre_lib.widgets import flip_stack

    box, *_ = explorer
    view = flip_stack(box.result, max_frames=5)
    assert isinstance(view.stack, w.Stack)
    assert len(view.stack.children) == len(view.frames) <= 5
    assert view.frames[0] == 0 and view.frames[-1] == len(box.result.trajectory_steps) - 1
    assert view.slider.max == len(view.stack.children) - 1
    assert view.link.source == (view.slider, "value") and view.link.target == (view.stack, "selected_index")
    assert all(page.children[0].value[:4] == b"\x89PNG" for page in view.stack.children)
