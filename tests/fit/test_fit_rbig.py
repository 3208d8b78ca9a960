"""The greedy fit: reproducible, a good density, validated input, a depth rule that stops."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows.fit import ROTATIONS, MixtureFit, fit_mixture_em, mixture_log_likelihood
from gauss_flows.layout import blocks as blocks_of


def moons(n=800, seed=0):
    X, _ = make_moons(n_samples=n, noise=0.08, random_state=seed)
    return (X - X.mean(0)) / X.std(0)


def mean_nll(flow, X):
    return -float(jnp.mean(flow.log_prob(jnp.asarray(X))))


def test_reproducible_from_random_state():
    X = moons()
    a = gf.fit_rbig(X, n_layers=3, n_components=4, random_state=7)
    b = gf.fit_rbig(X, n_layers=3, n_components=4, random_state=7)
    c = gf.fit_rbig(X, n_layers=3, n_components=4, random_state=8)
    for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(la), np.asarray(lb))
    assert mean_nll(a, X) != mean_nll(c, X)


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_each_rotation_fits_and_keeps_structure(rotation):
    X = moons()
    flow = gf.fit_rbig(X, n_layers=4, n_components=4, rotation=rotation)
    cold = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=4, n_components=4)
    assert jax.tree.structure(flow) == jax.tree.structure(cold)
    gaussian_nll = 0.5 * 2 * np.log(2 * np.pi * np.e)  # N(0, I) on standardised data
    assert mean_nll(flow, X) < gaussian_nll - 0.5


def test_fitted_rotations_are_orthogonal():
    X = moons()
    flow = gf.fit_rbig(X, n_layers=3, n_components=4)
    for i in range(3):
        q = gf.inspect.block(flow, i).rotation.matrix
        np.testing.assert_allclose(q @ q.T, np.eye(2), atol=1e-12)


def test_greedy_beats_moons_seed_number():
    X = moons(3000)
    flow = gf.fit_rbig(X, n_layers=8, n_components=8, random_state=0)
    assert mean_nll(flow, X) <= 1.96


def test_depth_rule_stops_and_adds_layers_when_needed():
    rng = np.random.default_rng(0)
    gauss = rng.normal(size=(1000, 3))
    shallow = gf.fit_rbig(gauss, n_layers=None, n_components=4, max_layers=30)
    depth = lambda f: blocks_of(f).logits.shape[0]
    assert depth(shallow) <= 3  # nothing to Gaussianize: stops at once
    deep = gf.fit_rbig(moons(1500), n_layers=None, n_components=6, max_layers=40)
    assert 4 <= depth(deep) < 40


def test_em_recovers_a_known_mixture():
    key = jr.key(0)
    k1, k2 = jr.split(key)
    left = jr.normal(k1, (4000, 2)) * 0.5 - 2.0
    right = jr.normal(k2, (4000, 2)) * 0.5 + 2.0
    y = jnp.concatenate([left, right])
    params = fit_mixture_em(y, n_components=2, max_steps=200)
    means = jnp.sort(params.means, axis=1)
    np.testing.assert_allclose(means, [[-2.0, 2.0], [-2.0, 2.0]], atol=0.05)
    np.testing.assert_allclose(jnp.exp(params.log_scales), 0.5, atol=0.03)
    assert bool(jnp.all(jnp.isfinite(mixture_log_likelihood(y, params))))



@pytest.mark.parametrize("chunk_elements", [None, 7 * 3 * 4])
def test_em_step_matches_the_textbook_m_step(chunk_elements):
    """The one-pass M step (sums of r·t and r·t² about the current means) gives the
    textbook weighted means, variances about the new means and log-likelihood, whether
    the rows go in one chunk or in 428 chunks of 7 and a rest of 4."""
    from gauss_flows.fit import em

    with jax.enable_x64(True):
        y = jr.gamma(jr.key(1), 2.0, (3000, 3), dtype=jnp.float64)
        params = em._initial_params(y, 4)
        options = {} if chunk_elements is None else {"chunk_elements": chunk_elements}
        data = em._chunk_rows(y, 4, **options)
        n_chunks, rows, rest = (1, 3000, None) if chunk_elements is None else (428, 7, (4, 3))
        assert data.chunks.shape == (n_chunks, rows, 3)
        assert (None if data.rest is None else data.rest.shape) == rest
        zero = jnp.zeros(3, jnp.float64)
        new, log_lik = em._em_step(data, params, zero, 0.0, zero, 0.0)
        log_joint = em._component_log_density(y, params)
        resp = jnp.exp(log_joint - jax.nn.logsumexp(log_joint, axis=-1, keepdims=True))
        counts = resp.sum(0)
        means = jnp.einsum("ndk,nd->dk", resp, y) / counts
        var = jnp.einsum("ndk,ndk->dk", resp, (y[..., None] - means) ** 2) / counts
        np.testing.assert_allclose(new.means, means, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(jnp.exp(2 * new.log_scales), var, rtol=1e-9)
        np.testing.assert_allclose(jax.nn.softmax(new.logits), counts / y.shape[0], rtol=1e-10)
        np.testing.assert_allclose(log_lik, mixture_log_likelihood(y, params), rtol=1e-12)


def test_em_rejects_empty_data():
    with pytest.raises(ValueError, match="at least one row"):
        fit_mixture_em(jnp.zeros((0, 3)), n_components=2)


def test_accelerated_em_reaches_plain_em_likelihood_in_fewer_steps():
    """SQUAREM never ends below plain EM at the same budget and, run to convergence,
    reaches at least the likelihood plain EM reaches with four times the steps."""
    with jax.enable_x64(True):
        X = jnp.asarray(moons(3000))
        fit = lambda steps, acc: mixture_log_likelihood(
            X, fit_mixture_em(X, n_components=8, max_steps=steps, tol=1e-9, accelerate=acc)
        )
        plain_100, fast_100 = fit(100, False), fit(100, True)
        assert bool(jnp.all(fast_100 >= plain_100 - 1e-9))
        assert bool(jnp.all(fit(400, True) >= fit(1600, False) - 1e-6))


def test_ica_rotation_unmixes_independent_sources():
    """Two independent uniform sources mixed by a 30° rotation: the ICA rotation undoes
    the mixing up to sign and order, and stays orthogonal."""
    from gauss_flows.fit import ica_rotation

    with jax.enable_x64(True):
        sources = jr.uniform(jr.key(0), (4000, 2), jnp.float64, -1.7, 1.7)
        angle = np.pi / 6
        mixing = jnp.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        w = ica_rotation(sources @ mixing.T)
        np.testing.assert_allclose(w @ w.T, np.eye(2), atol=1e-10)
        recovered = np.abs(np.asarray(w @ mixing))  # a signed permutation when unmixed
        np.testing.assert_allclose(np.sort(recovered, axis=1), [[0, 1], [0, 1]], atol=0.03)


def test_ica_rotation_stops_once_converged():
    """FastICA's test ends the iteration early on easy data; ``tol=0`` runs every step
    and lands on the same rotation."""
    from gauss_flows.fit.rotations import fastica_iterations

    with jax.enable_x64(True):
        sources = jr.uniform(jr.key(0), (4000, 3), jnp.float64, -1.7, 1.7)
        mixed = sources @ gf.fit.random_rotation(jr.key(1), 3, jnp.float64).T
        w_early, steps_early = fastica_iterations(mixed, n_steps=100, tol=1e-4)
        w_full, steps_full = fastica_iterations(mixed, n_steps=100, tol=0.0)
        assert 1 < int(steps_early) < 100
        assert int(steps_full) == 100
        # tol bounds each step's turn by arccos(1 - 1e-4) ≈ 0.014 rad.
        np.testing.assert_allclose(np.abs(w_early @ w_full.T), np.eye(3), atol=0.015)


def test_wasserstein_score_ranks_non_gaussian_columns_higher():
    from gauss_flows.fit import wasserstein_to_normal

    key1, key2, key3 = jr.split(jr.key(0), 3)
    columns = jnp.stack(
        [
            jr.normal(key1, (5000,)),
            jr.uniform(key2, (5000,)),
            jnp.where(jr.bernoulli(key3, 0.5, (5000,)), -2.0, 2.0) + 0.3 * jr.normal(key1, (5000,)),
        ],
        axis=1,
    )
    score = np.asarray(wasserstein_to_normal(columns))
    assert score[0] < 1e-3 < score[1] < score[2]
    # Invariant to shift and scale: shape only.
    np.testing.assert_allclose(wasserstein_to_normal(3.0 * columns - 7.0), score, rtol=1e-4)


def test_sliced_rotation_names_an_unknown_reduction():
    from gauss_flows.fit import sliced_rotation

    with pytest.raises(ValueError, match="reduce"):
        sliced_rotation(jr.key(0), jr.normal(jr.key(1), (100, 2)), reduce="mean")


def test_max_sliced_picks_the_direction_of_the_bimodal_slice():
    """A bimodal direction at 40° in otherwise Gaussian 2-D data: the max-sliced rotation
    has a row within a few degrees of it."""
    from gauss_flows.fit import sliced_rotation

    with jax.enable_x64(True):
        k1, k2, k3 = jr.split(jr.key(1), 3)
        modes = jnp.where(jr.bernoulli(k1, 0.5, (4000,)), -2.0, 2.0) + 0.4 * jr.normal(k2, (4000,))
        other = jr.normal(k3, (4000,))
        angle = np.deg2rad(40.0)
        u = jnp.array([np.cos(angle), np.sin(angle)])
        v = jnp.array([-np.sin(angle), np.cos(angle)])
        y = modes[:, None] * u + other[:, None] * v
        q = sliced_rotation(jr.key(0), y, reduce="max", n_candidates=256)
        assert float(jnp.max(jnp.abs(q @ u))) > np.cos(np.deg2rad(6.0))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]] * 20), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]] * 20), "inf"),
        (np.zeros(50), "2-D"),
        (np.zeros((2, 3, 4)), "2-D"),
        (np.random.default_rng(0).normal(size=(5, 2)), "rows"),
        (np.column_stack([np.arange(40.0), np.ones(40)]), "constant column"),
        (np.array([["a", "b"]] * 40), "real numbers"),
        (np.empty((0, 2)), "rows"),
    ],
)
def test_bad_input_names_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        gf.fit_rbig(bad, n_layers=2, n_components=4)


def test_bad_settings_are_rejected():
    X = moons(100)
    with pytest.raises(ValueError, match="rotation"):
        gf.fit_rbig(X, rotation="nope")
    with pytest.raises(ValueError, match="n_components"):
        gf.fit_rbig(X, n_components=0)
    with pytest.raises(ValueError, match="patience"):
        gf.fit_rbig(X, n_layers=None, patience=0)
    with pytest.raises(ValueError, match="max_layers"):
        gf.fit_rbig(X, n_layers=None, max_layers=0)
    with pytest.raises(ValueError, match="tol"):
        gf.fit_rbig(X, n_layers=None, tol=-1.0)
    with pytest.raises(ValueError, match="fit_rows"):
        gf.fit_rbig(X, n_components=4, fit_rows=7)
    with pytest.raises(ValueError, match="random_state"):
        gf.fit_rbig(X, random_state=1.5)
    with pytest.raises(TypeError, match="n_blocks"):
        gf.fit_rbig(X, n_blocks=3)


def test_fit_rows_subsample_keeps_quality():
    X = moons(3000)
    full = gf.fit_rbig(X, n_layers=4, n_components=6)
    sub = gf.fit_rbig(X, n_layers=4, n_components=6, fit_rows=1500)
    assert abs(mean_nll(full, X) - mean_nll(sub, X)) < 0.1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_integer_key_sort_and_quantiles_match_jax(dtype):
    from gauss_flows.fit._sort import _sort_float_bits, quantiles, sort_floats

    with jax.enable_x64(dtype == "float64"):
        x = jr.normal(jr.key(0), (2001, 3), dtype) * jnp.array([1e-30, 1.0, 1e30], dtype)
        x = x.at[0].set(jnp.array([0.0, -0.0, jnp.inf], dtype))
        x = x.at[1].set(jnp.array([-jnp.inf, 1e-40, -1e-40], dtype))
        np.testing.assert_array_equal(sort_floats(x, axis=0), jnp.sort(x, axis=0))
        # The sort used off CPU, where no NumPy callback is made.
        np.testing.assert_array_equal(_sort_float_bits(x, axis=-2), jnp.sort(x, axis=0))
        finite = x[2:]
        levels = jnp.linspace(0.0, 1.0, 17, dtype=dtype)
        np.testing.assert_allclose(
            quantiles(finite, levels), jnp.quantile(finite, levels, axis=0), rtol=1e-6
        )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sort_floats_matches_jax_under_jit_vmap_and_grad(dtype):
    from gauss_flows.fit._sort import sort_floats

    with jax.enable_x64(dtype == "float64"):
        x = jr.normal(jr.key(1), (4, 301, 3), dtype)  # no zeros: NumPy's float sort on CPU
        expected = jnp.sort(x, axis=1)
        np.testing.assert_array_equal(jax.jit(sort_floats, static_argnums=1)(x, 1), expected)
        np.testing.assert_array_equal(jax.vmap(lambda a: sort_floats(a, axis=0))(x), expected)
        np.testing.assert_array_equal(
            jax.vmap(lambda a: sort_floats(a, axis=-1), in_axes=2, out_axes=2)(x), expected
        )

        def lowest_squares(sort):
            return lambda a: jnp.sum(sort(a, axis=1)[:, :20] ** 2)

        np.testing.assert_array_equal(
            jax.grad(lowest_squares(sort_floats))(x), jax.grad(lowest_squares(jnp.sort))(x)
        )


def test_haar_rotation_is_orthogonal_and_uniform_in_the_mean():
    from gauss_flows.fit.rotations import haar_rotation

    draws = np.random.default_rng(0).standard_normal((4000, 3, 3))
    q = jax.vmap(haar_rotation)(jnp.asarray(draws, jnp.float32))
    np.testing.assert_allclose(q @ jnp.swapaxes(q, 1, 2), np.broadcast_to(np.eye(3), q.shape), atol=1e-5)
    # Haar: every entry has mean 0 and second moment 1/d.
    np.testing.assert_allclose(q.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose((q**2).mean(axis=0), 1 / 3, atol=0.02)


def test_spread_components_keeps_the_mixture():
    from gauss_flows.bijections.mixture_cdf import mixture_gaussianize
    from gauss_flows.fit.em import MixtureParams
    from gauss_flows.fit.marginal_fit import spread_components

    params = MixtureParams(
        jnp.array([[0.3, -0.2, 0.5]]), jnp.array([[-1.0, 0.2, 1.5]]), jnp.array([[-0.5, 0.1, -1.0]])
    )
    spread = spread_components(params, 8)  # 3 components in 8 slots: 3, 3 and 2 copies
    assert spread.logits.shape == (1, 8)
    x = jnp.linspace(-6.0, 6.0, 41)[:, None]
    z, log_det = mixture_gaussianize(x, *params)
    z8, log_det8 = mixture_gaussianize(x, *spread)
    np.testing.assert_allclose(z8, z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(log_det8, log_det, rtol=1e-12, atol=1e-12)


def test_component_counts_are_chosen_on_held_out_rows():
    rng = np.random.default_rng(0)
    gaussian = rng.normal(size=(1600, 1))
    four_modes = rng.choice([-6.0, -2.0, 2.0, 6.0], (1600, 1)) + 0.3 * rng.normal(size=(1600, 1))

    def distinct_components(X):
        flow = gf.fit_rbig(X[:1200], n_layers=1, n_components=8, component_counts=(1, 4, 8))
        marginal = blocks_of(flow)
        pairs = zip(np.asarray(marginal.means[0, 0]), np.asarray(marginal.log_scales[0, 0]))
        ref = gf.fit_rbig(X[:1200], n_layers=1, n_components=8)
        assert jax.tree.structure(flow) == jax.tree.structure(ref)
        # Held out, the chosen count is at least as good as always using all eight.
        assert mean_nll(flow, X[1200:]) <= mean_nll(ref, X[1200:]) + 0.005
        return len({(round(float(m), 9), round(float(s), 9)) for m, s in pairs})

    assert distinct_components(gaussian) == 1
    assert distinct_components(four_modes) >= 4


def test_component_counts_must_fit_in_the_slots():
    X = moons(300)
    with pytest.raises(ValueError, match="component_counts"):
        gf.fit_rbig(X, n_components=4, val_data=X, component_counts=(2, 8))
    with pytest.raises(ValueError, match="component_counts"):
        gf.fit_rbig(X, n_components=4, val_data=X, component_counts=())
    with pytest.raises(ValueError, match="component_counts"):
        gf.fit_rbig(X, n_components=4, component_counts=(2.5, 4))
    with pytest.raises(ValueError, match="component_counts"):
        gf.fit_rbig(X, n_components=4, component_counts=("two",))


def test_host_side_start_matches_the_compiled_one():
    # Single-CPU data is standardised in NumPy; device-resident or sharded data take the
    # compiled path. Both must give the same numbers.
    from gauss_flows.fit.rbig import (
        _standardise,
        _standardise_compiled,
        _start_held_out,
        _start_held_out_compiled,
    )

    X = jnp.asarray(np.random.default_rng(0).standard_exponential((500, 3)) * [1.0, 10.0, 0.1])
    X_val = jnp.asarray(np.random.default_rng(1).standard_exponential((80, 3)))
    host, compiled = _standardise(X), _standardise_compiled(X)
    for a, b in zip(host, compiled, strict=True):
        assert isinstance(a, jax.Array)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    loc, scale = host[0], host[1]
    *host_val, host_ll = _start_held_out(X_val, loc, scale)
    *compiled_val, compiled_ll = _start_held_out_compiled(X_val, loc, scale)
    for a, b in zip(host_val, compiled_val, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert host_ll == pytest.approx(float(compiled_ll), rel=1e-12)


# ---- the marginal-fit settings as one value, and the former keywords ----

OLD_KEYWORDS = dict(
    em_steps=20, em_tol=1e-5, em_accelerate=False, min_scale=1e-2, prior_count=1.0, tail_weight=0.2
)
SAME_AS_OLD = MixtureFit(
    em_steps=20, em_tol=1e-5, accelerate=False, min_scale=1e-2, prior_count=1.0, tail_weight=0.2
)


def assert_same_flow(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(la), np.asarray(lb))


def test_mixture_fit_defaults_are_the_fits_defaults():
    X = moons(300)
    assert_same_flow(
        gf.fit_rbig(X, n_layers=2, n_components=3),
        gf.fit_rbig(X, n_layers=2, n_components=3, marginal=MixtureFit()),
    )
    assert MixtureFit() == MixtureFit(
        em_steps=100, em_tol=1e-7, accelerate=True, min_scale=1e-3, prior_count=0.5, tail_weight=0.1
    )


def test_mixture_fit_is_a_static_value():
    """No array leaves, hashable and compared by its settings: a static jit argument."""
    assert jax.tree.leaves(MixtureFit()) == []
    assert hash(MixtureFit()) == hash(MixtureFit(em_steps=100))
    assert MixtureFit() != MixtureFit(em_steps=50)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(em_steps=-1), "em_steps"),
        (dict(em_steps=2.5), "em_steps"),
        (dict(em_tol=-1e-3), "em_tol"),
        (dict(accelerate="yes"), "accelerate"),
        (dict(min_scale=-1.0), "min_scale"),
        (dict(prior_count=float("nan")), "prior_count"),
        (dict(tail_weight=1.0), "tail_weight"),
    ],
)
def test_mixture_fit_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        MixtureFit(**settings)


def test_mixture_fit_runs_em_with_its_settings():
    """One count: fit_mixture_em with the settings (no pinned tail for one component)."""
    with jax.enable_x64(True):
        y = jnp.asarray(moons(400))
        fit = MixtureFit(em_steps=30, tail_weight=0.2)
        for k, tail_weight in ((3, 0.2), (1, 0.0)):
            expected = fit_mixture_em(
                y, n_components=k, max_steps=30, tol=1e-7, min_scale=1e-3, prior_count=0.5,
                tail_weight=tail_weight,
            )
            for a, b in zip(fit.fit(y, k), expected, strict=True):
                np.testing.assert_array_equal(a, b)


def test_old_marginal_keywords_warn_and_give_the_same_fit():
    X = moons(300)
    new = gf.fit_rbig(X, n_layers=2, n_components=3, marginal=SAME_AS_OLD)
    with pytest.warns(DeprecationWarning, match=r"marginal=MixtureFit\(") as record:
        old = gf.fit_rbig(X, n_layers=2, n_components=3, **OLD_KEYWORDS)
    assert_same_flow(old, new)
    assert len(record) == 1 and record[0].filename == __file__  # points at the caller
    with pytest.warns(DeprecationWarning, match="em_steps") as record:
        gf.fit_rbig_coupling(X, n_layers=1, n_components=3, em_steps=20)
    assert record[0].filename == __file__


def test_old_marginal_keywords_cannot_be_mixed_with_marginal():
    X = moons(100)
    with pytest.raises(TypeError, match="marginal"):
        gf.fit_rbig(X, marginal=MixtureFit(), em_steps=5)
    with pytest.raises(TypeError, match="marginal-fit value"):
        gf.fit_rbig(X, marginal={"em_steps": 5})
    with pytest.raises(TypeError, match="fit_rbig_coupling.*nn_widht"):
        gf.fit_rbig_coupling(X, nn_widht=8)


# ---- one set of defaults, one validation, the coupling fit's key ----


def test_fit_rbig_coupling_takes_fit_rbig_defaults():
    """fit_rbig_coupling's greedy part is fit_rbig's fit, with fit_rbig's defaults for the
    options it forwards (here the marginal fit and the depth rule's settings)."""
    X = moons(300)
    coupled = gf.fit_rbig_coupling(X, n_layers=None, n_components=3, max_layers=4)
    greedy = gf.fit_rbig(X, n_layers=None, n_components=3, max_layers=4)
    np.testing.assert_allclose(coupled.log_prob(X), greedy.log_prob(X), rtol=1e-10, atol=1e-10)


def test_data_is_validated_once_per_call(monkeypatch):
    from gauss_flows.fit import rbig, rbig_coupling

    checked = []

    def counting(X, **options):
        checked.append(options.get("name", "X"))
        return real(X, **options)

    real = rbig.as_data_matrix
    monkeypatch.setattr(rbig, "as_data_matrix", counting)
    monkeypatch.setattr(rbig_coupling, "as_data_matrix", counting)
    X = moons(200)
    gf.fit_rbig(X, n_layers=1, n_components=2, val_data=X[:50])
    assert checked == ["X", "val_data"]
    checked.clear()
    gf.fit_rbig_coupling(X, n_layers=1, n_components=2)
    assert checked == ["X"]


def test_coupling_key_is_positional_and_defaults_to_the_random_state():
    X = moons(200)
    sizes = dict(n_layers=1, n_components=2, nn_width=4)
    implicit = gf.fit_rbig_coupling(X, random_state=3, **sizes)
    explicit = gf.fit_rbig_coupling(X, jr.key(3), random_state=3, **sizes)
    assert_same_flow(implicit, explicit)
    other = gf.fit_rbig_coupling(X, jr.key(4), random_state=3, **sizes)
    conditioner_weights = lambda f: jax.tree.leaves(eqx.filter(blocks_of(f).first, eqx.is_array))
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(conditioner_weights(implicit), conditioner_weights(other), strict=True)
    )


# ---- NumPy integers, 32-bit precision, float16 and progress ----


def test_numpy_integer_settings_give_the_same_fit():
    import warnings

    X = moons(200)
    plain = gf.fit_rbig(X, n_layers=1, n_components=2, patience=3, max_layers=5)
    numpy = gf.fit_rbig(
        X, n_layers=np.int64(1), n_components=np.int64(2), patience=np.int64(3),
        max_layers=np.int32(5), marginal=MixtureFit(em_steps=np.int64(100)),
    )
    assert_same_flow(plain, numpy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy sizes as static fields would warn
        gf.fit_rbig_coupling(X, n_layers=1, n_components=2, nn_width=np.int64(4), nn_depth=np.int64(1))
    for bad in (np.float64(2.0), True):
        with pytest.raises(ValueError, match="n_components must be a positive integer"):
            gf.fit_rbig(X, n_components=bad)


def test_float32_errors_name_precision():
    from gauss_flows._precision import float_mode

    X = moons(200)
    with float_mode(False):
        with pytest.raises(ValueError, match=r"up to 1.*e\+300, beyond float32's range.*jax_enable_x64"):
            gf.fit_rbig(X * 1e300, n_layers=1)
        with pytest.raises(ValueError, match=r"float32 cannot resolve.*centre the data.*jax_enable_x64"):
            gf.fit_rbig(X + 1e9, n_layers=1)
        with pytest.raises(ValueError, match="constant column"):  # constant in any precision
            gf.fit_rbig(np.column_stack([X[:, 0], np.full(200, 1e9)]), n_layers=1)
    gf.fit_rbig(X + 1e9, n_layers=1, n_components=2)  # resolved in 64-bit mode


def test_float32_fits_data_at_extreme_scales():
    """Moments whose squares overflow or underflow float32 are taken scaled."""
    from gauss_flows._precision import float_mode

    X = moons(200)
    with float_mode(False):
        reference = float(jnp.mean(gf.fit_rbig(X, n_layers=1, n_components=2).log_prob(X)))
        for scale in (1e20, 1e-30):
            flow = gf.fit_rbig(X * scale, n_layers=1, n_components=2)
            mean = float(jnp.mean(flow.log_prob(X * scale)))
            assert mean + 2 * np.log(scale) == pytest.approx(reference, abs=1e-3)


def test_float16_data_is_fitted_in_float32():
    X = moons(200)
    flow = gf.fit_rbig(X.astype(np.float16), n_layers=1, n_components=2)
    params = jax.tree.leaves(eqx.filter(blocks_of(flow), eqx.is_inexact_array))
    assert {leaf.dtype for leaf in params} == {jnp.dtype(jnp.float32)}
    assert bool(jnp.all(jnp.isfinite(flow.log_prob(jnp.asarray(X, jnp.float32)))))


def test_greedy_progress_bar(capsys):
    X = moons(200)
    gf.fit_rbig(X, n_layers=2, n_components=2)  # stderr is not a terminal: no bar
    assert "greedy fit" not in capsys.readouterr().err
    gf.fit_rbig(X, n_layers=2, n_components=2, progress=True)
    err = capsys.readouterr().err
    assert "greedy fit" in err and "2/2" in err and "gain=" in err
    gf.fit_rbig(X, n_layers=None, max_layers=3, n_components=2, val_data=X[:50], progress=True)
    assert "held_out=" in capsys.readouterr().err


# ---- fit_rows: each block fitted on a bounded subset of rows ----


def _recorded_block_rows(monkeypatch):
    """Patch the block fit to record the ``rows`` it is given (None: every row)."""
    from gauss_flows.fit import rbig

    seen, fit_block = [], rbig._fit_block

    def recording(z, val, draws, rows, **options):
        seen.append(None if rows is None else np.asarray(rows))
        return fit_block(z, val, draws, rows, **options)

    monkeypatch.setattr(rbig, "_fit_block", recording)
    return seen


def test_fit_rows_default_is_the_documented_bound():
    from gauss_flows.fit.rbig import FIT_ROWS

    assert gf.fit_rbig.__kwdefaults__["fit_rows"] == FIT_ROWS == 2**15


@pytest.mark.parametrize("bad", [0, 7, 2.5, "many", True])
def test_fit_rows_is_validated(bad):
    with pytest.raises(ValueError, match="fit_rows"):
        gf.fit_rbig(moons(100), n_components=4, fit_rows=bad)


def test_fit_rows_at_or_above_the_data_fits_every_row_exactly(monkeypatch):
    with jax.enable_x64(True):
        X = moons(300)
        seen = _recorded_block_rows(monkeypatch)
        every = gf.fit_rbig(X, n_layers=3, n_components=4, fit_rows=None)
        default = gf.fit_rbig(X, n_layers=3, n_components=4)
        bound = gf.fit_rbig(X, n_layers=3, n_components=4, fit_rows=300)
        assert all(rows is None for rows in seen)
        for flow in (default, bound):
            np.testing.assert_array_equal(flow.log_prob(X), every.log_prob(X))


def test_fit_rows_below_the_data_fits_a_fresh_subset_per_block(monkeypatch):
    X = moons(500)
    seen = _recorded_block_rows(monkeypatch)
    flow = gf.fit_rbig(X, n_layers=3, n_components=4, fit_rows=200)
    assert [rows.shape for rows in seen] == [(200,)] * 3
    assert all(len(np.unique(rows)) == 200 and rows.max() < 500 for rows in seen)
    assert not np.array_equal(seen[0], seen[1])
    # Every row is still Gaussianized: the flow's density is finite on all of them.
    assert np.isfinite(np.asarray(flow.log_prob(X))).all()


# ---- n_layers=None without val_data: depth chosen on rows held out of X ----


def _recorded_depth_curves(monkeypatch):
    """Patch the depth rule to record its held-out curve (None: the training-gain rule)."""
    from gauss_flows.fit import rbig

    curves, decide = [], rbig.depth_decision

    def recording(gains, held_out, **options):
        curves.append(None if held_out is None else list(held_out))
        return decide(gains, held_out, **options)

    monkeypatch.setattr(rbig, "depth_decision", recording)
    return curves


def test_self_held_out_depth_is_the_argmax_of_its_held_out_curve(monkeypatch):
    from gauss_flows.layout import n_layers

    curves = _recorded_depth_curves(monkeypatch)
    flow = gf.fit_rbig(moons(600), n_layers=None, n_components=4, max_layers=12)
    held = [c for c in curves if c is not None]
    assert held, "the depth was not chosen on held-out rows"
    curve = held[-1]
    assert n_layers(flow) == max(int(np.argmax(curve)), 1)
    # The held-out fit saw one more block for each entry after the empty flow; the refit
    # on every row (the last calls) runs at the fixed chosen depth with no held-out rows.
    assert curves[-n_layers(flow):] == [None] * n_layers(flow)


def test_self_held_out_depth_is_deterministic_for_a_random_state():
    X = moons(600)
    a = gf.fit_rbig(X, n_layers=None, n_components=4, max_layers=8, random_state=3)
    b = gf.fit_rbig(X, n_layers=None, n_components=4, max_layers=8, random_state=3)
    np.testing.assert_array_equal(a.log_prob(X), b.log_prob(X))


def test_self_held_out_split_is_seeded_and_keeps_enough_rows():
    from gauss_flows.fit.rbig import _greedy_settings, _held_out_split, greedy_defaults

    options = {**greedy_defaults(), "n_layers": None, "n_components": 4}
    s = _greedy_settings("fit_rbig", **options)
    X = np.arange(200.0)[:, None]
    train, held = _held_out_split(X, s)
    assert (len(train), len(held)) == (160, 40)
    assert sorted(np.r_[train[:, 0], held[:, 0]]) == list(X[:, 0])
    again = _held_out_split(X, s)
    np.testing.assert_array_equal(again[1], held)
    other = _held_out_split(X, s._replace(random_state=1))
    assert not np.array_equal(other[1], held)
    # The rows fitted never drop below the fit's fewest rows; none held out if none spare.
    assert len(_held_out_split(X[:10], s)[0]) == s.min_rows
    assert _held_out_split(X[: s.min_rows], s) is None


def test_val_fraction_zero_keeps_the_training_gain_rule(monkeypatch):
    curves = _recorded_depth_curves(monkeypatch)
    gf.fit_rbig(moons(400), n_layers=None, n_components=4, max_layers=6, val_fraction=0)
    assert curves and all(c is None for c in curves)


@pytest.mark.parametrize("bad", [-0.1, 1.0, "a"])
def test_val_fraction_is_validated(bad):
    with pytest.raises(ValueError, match="val_fraction"):
        gf.fit_rbig(moons(100), n_layers=None, n_components=4, val_fraction=bad)


def test_default_patience_is_five_on_self_held_out_rows_and_three_on_val_data():
    X, val = moons(250), moons(100, seed=5)
    logp = lambda f: np.asarray(f.log_prob(X[:20]))  # noqa: E731
    kw = dict(n_layers=None, n_components=2, max_layers=7)
    np.testing.assert_array_equal(logp(gf.fit_rbig(X, **kw)), logp(gf.fit_rbig(X, patience=5, **kw)))
    np.testing.assert_array_equal(logp(gf.fit_rbig(X, val_data=val, **kw)),
                                  logp(gf.fit_rbig(X, val_data=val, patience=3, **kw)))
