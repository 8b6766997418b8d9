"""Running a model (genre_lib.inference): the one cache of compiled functions, and
logits, probabilities and gradients checked against the Keras model itself."""

import numpy as np
import pytest

from genre_lib.inference import CompiledCache, gradient, logits, predict_proba, softmax


def test_compiled_cache_builds_once_per_model_and_keeps_only_the_last_few():
    class Model:  # any object: the cache keys on identity
        pass

    cache, built = CompiledCache(size=2), []

    def make(tag):
        return lambda: built.append(tag) or tag

    a, b, c = Model(), Model(), Model()
    assert cache.get(a, make("a")) == "a" and cache.get(a, make("a2")) == "a"
    assert cache.get(a, make("a-k"), "k") == "a-k"  # extra key: another entry
    cache.get(b, make("b"))  # size 2: drops a (least recently used)
    assert cache.get(a, make("a3")) == "a3"
    cache.get(c, make("c"))
    assert built == ["a", "a-k", "b", "a3", "c"]


def test_probabilities_are_the_softmax_of_the_logits_and_the_models_own(demo_run, demo_data):
    X = demo_data.X[:6]
    z = logits(demo_run.model, X)
    assert z.shape == (6, 2)
    np.testing.assert_allclose(predict_proba(demo_run.model, X), softmax(z), rtol=1e-12)
    np.testing.assert_allclose(predict_proba(demo_run.model, X), np.asarray(demo_run.model(X, training=False)), atol=1e-6)


def test_each_objective_is_the_gradient_of_its_own_formula(demo_run, demo_data):
    """"margin" and "logit_diff" are the target's logit gradient minus the other genre's
    (two genres: the best other and the mean of the others are the other)."""
    X, t = demo_data.X[:4], np.array([0, 1, 0, 1])
    z, g_t = gradient(demo_run.model, X, t, "logit")
    _, g_o = gradient(demo_run.model, X, 1 - t, "logit")
    np.testing.assert_allclose(z, logits(demo_run.model, X), rtol=1e-5)
    _, g_margin = gradient(demo_run.model, X, t, "margin")
    np.testing.assert_allclose(g_margin, g_t - g_o, rtol=1e-4, atol=1e-6 * np.abs(g_t).max())
    _, g_diff = gradient(demo_run.model, X, t, "logit_diff")
    np.testing.assert_allclose(g_diff, g_t - g_o, rtol=1e-4, atol=1e-6 * np.abs(g_t).max())
    with pytest.raises(ValueError, match="objective"):
        gradient(demo_run.model, X, t, "loss")
    with pytest.raises(ValueError, match="out of range"):
        gradient(demo_run.model, X, 2, "logit")
