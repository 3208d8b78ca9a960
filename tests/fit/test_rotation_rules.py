"""Rotation rules: values naming how a greedy block chooses its rotation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows.fit import ROTATIONS, AbstractRotationRule, as_rotation_rule
from gauss_flows.fit.rotations import (
    ICARule,
    MaxSlicedRule,
    PCARule,
    RandomRule,
    SlicedRule,
    best_sliced_rotation,
    candidate_count,
    haar_rotation,
    ica_rotation,
    pca_rotation,
)

SHORTHANDS = {
    "pca": PCARule(),
    "random": RandomRule(),
    "sliced": SlicedRule(),
    "max-sliced": MaxSlicedRule(),
    "ica": ICARule(),
}


def data(n=600, d=3):
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.standard_exponential((n, d)) @ rng.normal(size=(d, d)))


def test_every_shorthand_names_its_rule():
    assert ROTATIONS == tuple(SHORTHANDS)
    for name, rule in SHORTHANDS.items():
        assert as_rotation_rule(name) == rule
        assert type(as_rotation_rule(name)) is type(rule)


def test_a_rule_is_its_own_rotation_rule():
    rule = SlicedRule(n_candidates=5)
    assert as_rotation_rule(rule) is rule


@pytest.mark.parametrize("spec", ["PCA", "nope", None, 3])
def test_unknown_rotations_name_the_choices(spec):
    with pytest.raises(ValueError, match="choose one of .*'max-sliced'.*AbstractRotationRule"):
        as_rotation_rule(spec)


def test_rules_are_static_values():
    """No array leaves, hashable, compared by their settings: static jit arguments."""
    for rule in SHORTHANDS.values():
        assert jax.tree.leaves(rule) == []
        hash(rule)
    assert SlicedRule() == SlicedRule(n_candidates=48)
    assert hash(SlicedRule()) == hash(SlicedRule(n_candidates=48))
    assert SlicedRule(n_candidates=8) != SlicedRule()
    assert ICARule(tol=1e-3) != ICARule()
    assert SlicedRule() != MaxSlicedRule()


def test_the_abstract_rule_cannot_be_made():
    with pytest.raises(TypeError):
        AbstractRotationRule()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SlicedRule(n_candidates=0), "n_candidates"),
        (lambda: MaxSlicedRule(n_candidates=2.5), "n_candidates"),
        (lambda: ICARule(n_steps=0), "n_steps"),
        (lambda: ICARule(tol=-1.0), "tol"),
    ],
)
def test_bad_rule_settings_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_draw_counts():
    for d in (2, 50, 784):
        assert PCARule().n_draws(d) == ICARule().n_draws(d) == 0
        assert RandomRule().n_draws(d) == 1
        assert SlicedRule().n_draws(d) == MaxSlicedRule().n_draws(d) == candidate_count(d)
    assert SlicedRule(n_candidates=7).n_draws(2) == 7
    assert MaxSlicedRule(n_candidates=7).n_draws(784) == 2


def test_rules_choose_the_rotation_of_their_function():
    with jax.enable_x64(True):
        y = data()
        rng = np.random.default_rng(1)
        draws = jnp.asarray(rng.standard_normal((6, 3, 3)))
        same = np.testing.assert_array_equal
        same(PCARule().choose(y, None), pca_rotation(y))
        same(RandomRule().choose(y, draws[:1]), haar_rotation(draws[0]))
        same(SlicedRule(n_candidates=6).choose(y, draws), best_sliced_rotation(y, draws))
        same(
            MaxSlicedRule(n_candidates=6).choose(y, draws),
            best_sliced_rotation(y, draws, reduce="max"),
        )
        same(ICARule(n_steps=7, tol=0.0).choose(y, None), ica_rotation(y, n_steps=7, tol=0.0))


def test_every_rule_gives_an_orthogonal_rotation():
    with jax.enable_x64(True):
        y = data()
        draws = jnp.asarray(np.random.default_rng(2).standard_normal((48, 3, 3)))
        for rule in SHORTHANDS.values():
            q = rule.choose(y, draws[: rule.n_draws(3)] if rule.n_draws(3) else None)
            np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-10)


def moons():
    X, _ = make_moons(n_samples=400, noise=0.08, random_state=0)
    return (X - X.mean(0)) / X.std(0)


def test_fit_rbig_takes_a_rule_as_its_shorthand():
    X = moons()
    for name in ("pca", "max-sliced"):
        a = gf.fit_rbig(X, n_layers=2, n_components=3, rotation=name)
        b = gf.fit_rbig(X, n_layers=2, n_components=3, rotation=as_rotation_rule(name))
        for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(np.asarray(la), np.asarray(lb))


def test_fit_rbig_takes_a_rule_of_ones_own():
    """A user's rule: the identity rotation, so every block's rotation is the identity."""

    class Identity(AbstractRotationRule):
        def n_draws(self, n_dims):
            return 0

        def choose(self, y, draws):
            return jnp.eye(y.shape[1], dtype=y.dtype)

    flow = gf.fit_rbig(moons(), n_layers=2, n_components=3, rotation=Identity())
    for i in range(2):
        q = gf.inspect.block(flow, i).rotation.matrix
        np.testing.assert_allclose(q, np.eye(2), atol=1e-12)


def test_fit_rbig_uses_the_rules_settings():
    X = moons()
    few = gf.fit_rbig(X, n_layers=2, n_components=3, rotation=SlicedRule(n_candidates=1))
    many = gf.fit_rbig(X, n_layers=2, n_components=3, rotation=SlicedRule())
    assert any(
        not np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(jax.tree.leaves(few), jax.tree.leaves(many), strict=True)
    )
