"""Behaviour of the rotation, structured linear and normalisation layers (SERIES_API B, D)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import paramax
import pytest

from gauss_flows.bijections import (
    ActNorm,
    ActNorm1D,
    FixedRotation,
    GaussianizationBlock,
    HouseholderRotation,
    Invertible1x1Conv,
    MixtureGaussianCDF,
    OrthogonalRotation,
    householder_product,
)


def _effective(layer, d):
    """The matrix of a linear layer, read off as its images of the basis vectors."""
    return np.asarray(jax.vmap(layer.transform)(jnp.eye(d)).T)


def _reflection(v):
    v = np.asarray(v, np.float64)
    return np.eye(v.size) - 2.0 * np.outer(v, v) / (v @ v)


def _explicit_product(params, signs=None):
    """H(p_{K-1}) ⋯ H(p_0) · diag(signs), one factor at a time."""
    params = np.asarray(params)
    q = np.eye(params.shape[1]) if signs is None else np.diag(np.asarray(signs, np.float64))
    for p in params:  # row 0 first: each later reflection multiplies from the left
        q = _reflection(p) @ q
    return q


# --- HouseholderRotation -------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_householder_determinant_is_minus_one_to_the_k(k):
    rot = HouseholderRotation(n_reflections=k, shape=(3,))
    assert rot.params.shape == (k, 3) and rot.signs is None
    q = _effective(rot, 3)
    assert np.linalg.det(q) == pytest.approx((-1) ** k, abs=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-14)
    x = jr.normal(jr.key(0), (3,))
    z, log_det = rot.transform_and_log_det(x)
    back, inv_log_det = rot.inverse_and_log_det(z)
    assert log_det.shape == () and float(log_det) == 0.0 and float(inv_log_det) == 0.0
    np.testing.assert_allclose(back, x, atol=1e-14)


def test_householder_applies_row_zero_first():
    params = jr.normal(jr.key(1), (3, 3))
    rot = HouseholderRotation(params=params)
    np.testing.assert_allclose(_effective(rot, 3), _explicit_product(params), atol=1e-14)
    np.testing.assert_allclose(rot.matrix, _explicit_product(params), atol=1e-14)
    signs = jnp.array([-1, 1, -1])
    signed = HouseholderRotation(params=params, signs=signs)
    np.testing.assert_allclose(_effective(signed, 3), _explicit_product(params, signs), atol=1e-14)
    # The inverse undoes the reflections in reverse order: Qᵀ.
    y = jnp.array([0.3, -1.2, 2.0])
    np.testing.assert_allclose(signed.inverse(y), _explicit_product(params, signs).T @ y, atol=1e-14)


@pytest.mark.parametrize("k", [4, 5, 7, 20])
def test_householder_takes_more_reflections_than_dimensions(k):
    params = jr.normal(jr.key(k), (k, 3))
    rot = HouseholderRotation(n_reflections=k, shape=(3,), params=params)
    q = _effective(rot, 3)
    np.testing.assert_allclose(q, _explicit_product(params), atol=1e-13)
    assert np.linalg.det(q) == pytest.approx((-1) ** k, abs=1e-12)
    x = jnp.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(rot.inverse(rot.transform(x)), x, atol=1e-13)


def test_householder_params_can_be_replaced_with_tree_at():
    rot = HouseholderRotation(n_reflections=5, shape=(3,))
    new = jr.normal(jr.key(2), rot.params.shape)
    moved = eqx.tree_at(lambda r: r.params, rot, new)
    np.testing.assert_array_equal(moved.params, new)
    np.testing.assert_allclose(_effective(moved, 3), _explicit_product(new), atol=1e-13)
    # Rows need not be unit vectors: scaling a row leaves the map unchanged.
    scaled = eqx.tree_at(lambda r: r.params, rot, new * jnp.array([[3.0], [0.1], [1.0], [7.0], [2.0]]))
    np.testing.assert_allclose(_effective(scaled, 3), _effective(moved, 3), atol=1e-13)


def test_householder_default_is_deterministic_and_non_degenerate():
    a, b = HouseholderRotation(n_reflections=4, shape=(3,)), HouseholderRotation(n_reflections=4, shape=(3,))
    np.testing.assert_array_equal(a.params, b.params)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    square = HouseholderRotation(shape=(3,))
    assert square.params.shape == (3, 3) and square.n_reflections == 3
    # Distinct rows, any three of them linearly independent, no zero row.
    rows = np.asarray(a.params)
    assert len({tuple(r) for r in rows}) == 4
    for drop in range(4):
        assert abs(np.linalg.det(np.delete(rows, drop, axis=0))) > 1e-3
    # Even K is not the identity at init.
    assert np.abs(_effective(HouseholderRotation(n_reflections=2, shape=(3,)), 3) - np.eye(3)).max() > 0.1


def test_householder_old_form_warns_and_keeps_its_matrix():
    vectors = jr.normal(jr.key(3), (3, 3))
    signs = jnp.array([1, -1, -1])
    with pytest.warns(DeprecationWarning, match="deprecated"):
        old = HouseholderRotation(vectors, signs)
    np.testing.assert_array_equal(old.params, vectors[::-1])
    np.testing.assert_array_equal(old.matrix, householder_product(vectors, signs))
    with pytest.warns(DeprecationWarning):
        unsigned = HouseholderRotation(vectors)
    np.testing.assert_array_equal(unsigned.signs, np.ones(3))
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(old.vectors, vectors)


@pytest.mark.parametrize("seed", range(4))
def test_householder_from_matrix_is_exact(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(4, 4)))
    q = q if seed % 2 else q @ np.diag([1.0, 1.0, 1.0, -1.0])  # both determinants
    for target in (q, np.eye(4), np.eye(4)[[2, 0, 3, 1]]):
        rot = HouseholderRotation.from_matrix(target)
        assert rot.params.shape == (4, 4) and rot.signs is not None
        np.testing.assert_allclose(_effective(rot, 4), target, atol=1e-14)


def test_householder_factors_feed_the_diagonal_block():
    marginal = MixtureGaussianCDF(n_components=3, shape=(3,))
    x = jnp.array([0.4, -1.0, 1.5])
    for rot in (
        HouseholderRotation(n_reflections=5, shape=(3,)),
        HouseholderRotation(params=jr.normal(jr.key(4), (3, 3))),
        HouseholderRotation(params=jr.normal(jr.key(5), (3, 3)), signs=jnp.array([-1, 1, 1])),
    ):
        vectors, signs = rot.householder_factors()
        np.testing.assert_allclose(householder_product(vectors, signs), rot.matrix, atol=1e-13)
        block = GaussianizationBlock(rot, marginal)
        np.testing.assert_allclose(block.rotation.matrix, rot.matrix, atol=1e-13)
        np.testing.assert_allclose(block.transform(x), marginal.transform(rot.transform(x)), atol=1e-12)


def test_householder_rejects_inconsistent_arguments():
    with pytest.raises(ValueError, match="shape"):
        HouseholderRotation(n_reflections=2)
    with pytest.raises(ValueError, match="n_reflections"):
        HouseholderRotation(n_reflections=2, params=jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        HouseholderRotation(shape=(2,), params=jnp.ones((3, 3)))
    with pytest.raises(ValueError, match="signs"):
        HouseholderRotation(shape=(3,), signs=jnp.array([1, 2, 1]))
    with pytest.raises(ValueError, match="n_reflections"):
        HouseholderRotation(n_reflections=0, shape=(3,))


# --- OrthogonalRotation --------------------------------------------------------------------


def test_orthogonal_rotation_is_the_identity_at_init():
    rot = OrthogonalRotation(shape=(3,))
    assert rot.skew_params.shape == (3,)
    x = jr.normal(jr.key(0), (3,))
    z, log_det = rot.transform_and_log_det(x)
    np.testing.assert_array_equal(z, x)
    assert log_det.shape == () and float(log_det) == 0.0


@pytest.mark.parametrize("d", [2, 3, 5])
def test_orthogonal_rotation_stays_proper(d):
    for seed in range(3):
        params = 3.0 * jr.normal(jr.key(seed), (d * (d - 1) // 2,))
        rot = eqx.tree_at(lambda r: r.skew_params, OrthogonalRotation(shape=(d,)), params)
        q = _effective(rot, d)
        np.testing.assert_allclose(q.T @ q, np.eye(d), atol=1e-13)
        assert np.linalg.det(q) == pytest.approx(1.0, abs=1e-12)
        y = jnp.arange(d, dtype=float)
        np.testing.assert_allclose(rot.inverse(y), q.T @ np.asarray(y), atol=1e-13)


# --- FixedRotation -------------------------------------------------------------------------


def _correlated(n=2000):
    mixing = np.array([[3.0, 0.0, 0.0], [1.0, 1.0, 0.0], [-0.5, 0.8, 0.3]])
    return np.random.default_rng(0).normal(size=(n, 3)) @ mixing + 4.0


@pytest.mark.parametrize("as_jax", [False, True])
def test_fixed_rotation_from_data_decorrelates(as_jax):
    X = _correlated()
    rot = FixedRotation.from_data(jnp.asarray(X) if as_jax else X)
    assert type(rot).__name__ == "FixedRotation"
    q = np.asarray(rot.matrix)
    assert isinstance(rot.matrix, jax.Array) and q.shape == (3, 3) and q.dtype == np.float64
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-14)
    Y = np.asarray(jax.vmap(rot.transform)(jnp.asarray(X)))
    np.testing.assert_allclose(Y, X @ q.T, atol=1e-12)  # y = Q x: no centring, no scaling
    cov = np.cov(Y.T)
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 1e-12
    assert np.all(np.diff(np.diag(cov)) < 0)
    _, log_det = rot.transform_and_log_det(jnp.asarray(X[0]))
    assert float(log_det) == 0.0
    np.testing.assert_allclose(rot.inverse(rot.transform(X[0])), X[0], atol=1e-13)


def test_fixed_rotation_is_frozen_and_validated():
    rot = FixedRotation.from_data(_correlated(300))
    assert isinstance(rot.frozen_matrix, paramax.NonTrainable)
    grad = jax.grad(lambda r: jnp.sum(r.transform(jnp.ones(3)) ** 2))(rot)
    assert float(jnp.abs(grad.frozen_matrix.tree).max()) == 0.0
    np.testing.assert_array_equal(FixedRotation(rot.matrix).matrix, rot.matrix)
    with pytest.raises(ValueError, match="orthogonal"):
        FixedRotation(jnp.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        FixedRotation(jnp.ones((2, 3)))


# --- Invertible1x1Conv ---------------------------------------------------------------------


def test_conv1x1_is_near_identity_at_init():
    conv = Invertible1x1Conv(jr.key(0), n_channels=4)
    np.testing.assert_array_equal(conv.log_diag_u, np.zeros(4))
    w = _effective(conv, 4)
    assert 0 < np.abs(w - np.eye(4)).max() < 0.1
    np.testing.assert_allclose(w, conv.matrix, atol=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_conv1x1_log_det_matches_dense_slogdet(seed):
    conv = Invertible1x1Conv(jr.key(seed), n_channels=4)
    params, static = eqx.partition(conv, eqx.is_inexact_array)
    leaves, tree = jax.tree.flatten(params)
    keys = jr.split(jr.key(100 + seed), len(leaves))
    perturbed = eqx.combine(
        jax.tree.unflatten(tree, [a + 0.8 * jr.normal(k, a.shape) for a, k in zip(leaves, keys)]), static
    )
    w = _effective(perturbed, 4)
    sign, dense = np.linalg.slogdet(w)
    x = jr.normal(jr.key(7), (4,))
    z, log_det = perturbed.transform_and_log_det(x)
    assert sign == 1.0
    assert float(log_det) == float(jnp.sum(perturbed.log_diag_u))
    assert float(log_det) == pytest.approx(dense, abs=1e-12)
    back, inv_log_det = perturbed.inverse_and_log_det(z)
    np.testing.assert_allclose(back, x, atol=1e-12)
    assert float(inv_log_det) == -float(log_det)


def test_conv1x1_log_diag_u_can_be_set():
    conv = Invertible1x1Conv(jr.key(0), n_channels=4)
    conv = eqx.tree_at(lambda m: m.log_diag_u, conv, jnp.array([0.5, -0.3, 0.2, 0.1]))
    _, log_det = conv.transform_and_log_det(jnp.ones(4))
    assert float(log_det) == pytest.approx(0.5, abs=1e-15)
    assert np.linalg.slogdet(_effective(conv, 4))[1] == pytest.approx(0.5, abs=1e-12)


# --- ActNorm -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [ActNorm, ActNorm1D])
def test_actnorm_formula_is_exact(cls):
    layer = cls(shape=(4,))
    np.testing.assert_array_equal(layer.loc, np.zeros(4))
    np.testing.assert_array_equal(layer.log_scale, np.zeros(4))
    loc, log_scale = jnp.array([0.5, -1.0, 2.0, 0.0]), jnp.array([-2.0, 0.0, 1.5, 8.0])
    layer = eqx.tree_at(lambda m: (m.loc, m.log_scale), layer, (loc, log_scale))
    x = jnp.array([1.0, 2.0, -3.0, 0.25])
    s = jax.nn.softplus(log_scale) + 1e-5
    y, log_det = layer.transform_and_log_det(x)
    np.testing.assert_array_equal(y, (x - loc) / s)
    assert float(log_det) == float(-jnp.sum(jnp.log(s)))
    back, inv_log_det = layer.inverse_and_log_det(y)
    np.testing.assert_allclose(back, x, atol=1e-14)
    assert float(inv_log_det) == -float(log_det)


@pytest.mark.parametrize("cls", [ActNorm, ActNorm1D])
def test_actnorm_from_data_standardises(cls):
    X = _correlated(500)
    layer = cls.from_data(X)
    Y = np.asarray(jax.vmap(layer.transform)(jnp.asarray(X)))
    np.testing.assert_allclose(Y.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Y.std(0), 1.0, rtol=1e-10)


def test_actnorm_broadcasts_over_positions():
    layer = ActNorm(shape=(2, 2, 3), loc=jnp.array([0.1, 0.2, 0.3]), log_scale=jnp.array([1.0, -1.0, 0.5]))
    x = jr.normal(jr.key(0), (2, 2, 3))
    y, log_det = layer.transform_and_log_det(x)
    one = ActNorm1D(shape=(3,), loc=layer.loc, log_scale=layer.log_scale)
    np.testing.assert_allclose(y.reshape(-1, 3), jax.vmap(one.transform)(x.reshape(-1, 3)), atol=1e-15)
    assert float(log_det) == pytest.approx(4 * float(one.transform_and_log_det(x[0, 0])[1]), rel=1e-14)
    jacobian = jax.jacobian(layer.transform)(x).reshape(12, 12)
    assert float(log_det) == pytest.approx(np.linalg.slogdet(jacobian)[1], abs=1e-12)
    from_data = ActNorm.from_data(jr.normal(jr.key(1), (50, 2, 2, 3)) * 2.0 + 1.0)
    assert from_data.shape == (2, 2, 3) and from_data.loc.shape == (3,)
