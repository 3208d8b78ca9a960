"""GaussianizationBlock and GaussianizationStack: the flat layout of every flow's Gaussianizer."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from flowjax.bijections import Chain, Scan

import gauss_flows as gf
from gauss_flows.bijections import (
    GaussianizationBlock,
    GaussianizationStack,
    HouseholderRotation,
    MixtureGaussianCDF,
)
from gauss_flows._compile_mode import native_reductions


def _block(key, n_dims=3, n_components=4):
    k_rot, k_marg = jr.split(key)
    return GaussianizationBlock(
        HouseholderRotation.random(k_rot, n_dims=n_dims),
        MixtureGaussianCDF.random(k_marg, n_dims=n_dims, n_components=n_components),
    )


@pytest.fixture(scope="module")
def stack():
    blocks = eqx.filter_vmap(_block)(jr.split(jr.key(0), 4))
    return GaussianizationStack(jnp.array([1.0, -2.0, 0.5]), jnp.array([2.0, 0.5, 3.0]), blocks)


@pytest.fixture(scope="module")
def points():
    return jr.normal(jr.key(1), (16, 3)) * 2.0 + jnp.array([1.0, -2.0, 0.5])


def test_block_is_its_rotation_then_its_marginal_map(points):
    block = _block(jr.key(3))
    as_chain = Chain([block.rotation, block.marginal])
    for x in points[:4]:
        z, log_det = block.transform_and_log_det(x)
        z_ref, log_det_ref = as_chain.transform_and_log_det(x)
        np.testing.assert_allclose(z, z_ref, rtol=1e-13)
        np.testing.assert_allclose(log_det, log_det_ref, rtol=1e-13)
        x_back, inv_log_det = block.inverse_and_log_det(z)
        np.testing.assert_allclose(x_back, x, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(inv_log_det, -log_det, rtol=1e-10)
        jac = jax.jacobian(block.transform)(x)
        np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jac)[1], rtol=1e-10)


def test_stack_equals_standardiser_then_scan_of_blocks(stack, points):
    reference = stack.as_chain()
    z, log_det = jax.vmap(stack.transform_and_log_det)(points)
    z_ref, log_det_ref = jax.vmap(reference.transform_and_log_det)(points)
    np.testing.assert_allclose(z, z_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(log_det, log_det_ref, rtol=1e-12)
    with native_reductions():  # train_flow's tracing: the blocks' matrices inside the loop
        z_native, log_det_native = jax.vmap(stack.transform_and_log_det)(points)
    np.testing.assert_allclose(z_native, z, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(log_det_native, log_det, rtol=1e-12)
    x_back, inv_log_det = jax.vmap(stack.inverse_and_log_det)(z)
    x_ref, inv_log_det_ref = jax.vmap(reference.inverse_and_log_det)(z)
    np.testing.assert_allclose(x_back, points, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(x_back, x_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(inv_log_det, inv_log_det_ref, rtol=1e-12)
    np.testing.assert_allclose(inv_log_det, -log_det, rtol=1e-9)


def test_stack_log_det_matches_jacobian_and_gradients_match_the_scan(stack, points):
    x = points[2]
    z, log_det = stack.transform_and_log_det(x)
    np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jax.jacobian(stack.transform)(x))[1], rtol=1e-10)

    def loss(s, layout):
        s = s.as_chain() if layout == "scan" else s
        return jnp.sum(jax.vmap(lambda p: s.transform_and_log_det(p)[1])(points))

    grads = eqx.filter_grad(loss)(stack, "stack")
    grads_scan = eqx.filter_grad(loss)(stack, "scan")
    # as_chain() reuses the same block arrays, so their gradients must agree.
    for name in ("vectors", "logits", "means", "log_scales"):
        np.testing.assert_allclose(
            getattr(grads.blocks, name), getattr(grads_scan.blocks, name), rtol=1e-10, atol=1e-12
        )


def test_standardisation_is_exact_and_fixed(stack, points):
    np.testing.assert_allclose(stack.loc, [1.0, -2.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(stack.scale, [2.0, 0.5, 3.0], rtol=1e-15)
    np.testing.assert_allclose(
        stack.standardizer.transform(points[0]), (points[0] - stack.loc) / stack.scale, rtol=1e-15
    )
    grads = eqx.filter_grad(lambda s: jnp.sum(jax.vmap(s.transform)(points)))(stack)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(grads.moments))


def test_n_blocks_and_block_slices(stack):
    assert stack.n_layers == 4
    flow = gf.layout.assemble_flow(stack)
    one = gf.inspect.block(flow, 1)
    assert isinstance(one, GaussianizationBlock)
    np.testing.assert_array_equal(one.rotation.params[::-1], stack.blocks.vectors[1])
    assert isinstance(Scan(stack.blocks).bijection, GaussianizationBlock)


def test_mismatched_shapes_are_refused():
    blocks = eqx.filter_vmap(_block)(jr.split(jr.key(0), 2))
    with pytest.raises(ValueError, match="loc and scale must have the blocks' shape"):
        GaussianizationStack(jnp.zeros(2), jnp.ones(3), blocks)
    with pytest.raises(ValueError, match="rotation acts on shape"):
        GaussianizationBlock(
            HouseholderRotation.random(jr.key(0), n_dims=2),
            MixtureGaussianCDF.identity(n_dims=3, n_components=2),
        )


@pytest.mark.parametrize(
    "loc, scale, message",
    [
        (0.0, 0.0, "scale must be finite and positive"),
        (0.0, -1.0, "scale must be finite and positive"),
        (0.0, float("inf"), "scale must be finite and positive"),
        (float("nan"), 1.0, "loc must be finite"),
    ],
)
def test_bad_standardisation_is_refused(loc, scale, message):
    for build in (gf.gaussianization_flow, gf.coupling_gaussianization_flow):
        with pytest.raises(ValueError, match=message):
            build(jr.key(0), n_dims=2, n_layers=1, loc=loc, scale=scale)


def test_both_builders_use_the_flat_layout():
    diagonal = gf.gaussianization_flow(jr.key(0), n_dims=3, n_layers=2, n_components=3)
    coupling = gf.coupling_gaussianization_flow(jr.key(0), n_dims=3, n_layers=2, n_components=3, nn_width=4)
    assert isinstance(gf.layout.gaussianizer(diagonal), GaussianizationStack)
    assert isinstance(gf.layout.gaussianizer(diagonal).blocks, GaussianizationBlock)
    assert isinstance(gf.layout.gaussianizer(coupling), GaussianizationStack)
    assert isinstance(gf.layout.gaussianizer(coupling).blocks, gf.bijections.CouplingGaussianizationBlock)


def test_with_blocks_keeps_the_stored_standardisation_exactly():
    # loc/scale -> (shift, multiplier) -> loc/scale is not exact in floating point, so the
    # stack must keep its stored arrays rather than rebuild them from loc and scale.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) * np.array([0.3, 7.0, 25.0]) + np.array([-40.0, 3.0, 11.0])
    greedy = gf.fit_rbig(X, n_layers=2, n_components=3)
    coupling = gf.fit_rbig_coupling(X, n_layers=2, n_components=3)
    for flow in (coupling, gf.layout.with_blocks(greedy, gf.layout.blocks(greedy))):
        for a, b in zip(
            jax.tree.leaves(gf.layout.gaussianizer(flow).moments),
            jax.tree.leaves(gf.layout.gaussianizer(greedy).moments),
        ):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="AbstractGaussianizationBlock"):
        gf.layout.gaussianizer(greedy).with_blocks(gf.HouseholderRotation.random(jr.key(0), n_dims=3))
