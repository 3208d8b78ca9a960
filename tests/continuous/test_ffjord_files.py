"""FFJORD flows in model files: saved, loaded, identical densities; bad files refused."""

import json
import zipfile

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import gauss_flows as gf
from gauss_flows.continuous import ffjord_flow, warm_start_ffjord


@pytest.mark.parametrize("mode", ["exact", pytest.param("hutchinson", marks=pytest.mark.slow)])
def test_ffjord_flow_round_trips_through_a_model_file(tmp_path, mode):
    flow = ffjord_flow(jr.key(3), n_dims=2, hidden=(8, 4), divergence_mode=mode,
                       n_hutchinson_samples=2, rtol=1e-6, atol=1e-6)
    path = tmp_path / "ffjord.gflow"
    gf.save(path, flow)
    header = gf.read_header(path)
    assert header["builder"] == "ffjord_flow" and header["arguments"]["hidden"] == [8, 4]
    same = gf.load(path)
    X = jr.normal(jr.key(4), (5, 2))
    np.testing.assert_array_equal(same.log_prob(X), flow.log_prob(X))
    assert isinstance(same.bijection, gf.FFJORD) and same.bijection.divergence_mode == mode


def test_a_series_style_ffjord_saves_and_tampered_files_are_refused(tmp_path):
    from flowjax.distributions import Normal, Transformed

    vf = gf.DiffeqMLP(jr.key(0), in_dim=2, control_dim=0, hidden=(8, 8))
    flow = Transformed(Normal(jnp.zeros(2)), gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf, rtol=1e-4, atol=1e-4))
    path = tmp_path / "series.gflow"
    gf.save(path, flow)
    np.testing.assert_array_equal(gf.load(path).log_prob(jnp.ones(2)), flow.log_prob(jnp.ones(2)))
    # an argument that is not a list of sizes
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = json.loads(members["header.json"])
    header["arguments"]["hidden"] = [8, -1]
    members["header.json"] = json.dumps(header).encode()
    bad = tmp_path / "bad.gflow"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(gf.ModelFileError, match="hidden"):
        gf.load(bad)


@pytest.mark.parametrize("greedy_fit", ["fit_rbig", pytest.param("fit_rbig_coupling", marks=pytest.mark.slow)])
def test_a_trained_warm_started_ffjord_round_trips_through_a_model_file(tmp_path, greedy_fit):
    import equinox as eqx

    X = jr.normal(jr.key(0), (100, 2)) ** 3
    greedy = getattr(gf, greedy_fit)(X, n_layers=1, n_components=2)
    warm = warm_start_ffjord(greedy, jr.key(1), hidden=(4,), rtol=1e-5, atol=1e-5)
    # a drift moved off its zero start, as training leaves it
    last = lambda f: f.bijection.bijections[0].vector_field.layers[-1].weight  # noqa: E731
    trained = eqx.tree_at(last, warm, 0.3 * jr.normal(jr.key(2), last(warm).shape))
    path = tmp_path / "warm.gflow"
    gf.save(path, trained)
    assert gf.read_header(path)["builder"] == "ffjord_after_" + (
        "gaussianization_flow" if greedy_fit == "fit_rbig" else "coupling_gaussianization_flow")
    same = gf.load(path)
    np.testing.assert_array_equal(same.log_prob(X[:5]), trained.log_prob(X[:5]))
    # the loaded drift is the moved one, not the zero field the skeleton starts from
    np.testing.assert_array_equal(last(same), last(trained))
    assert np.abs(last(same)).max() > 0


def test_unsupported_continuous_models_are_refused_by_name(tmp_path):
    from flowjax.bijections import Chain
    from flowjax.distributions import Transformed

    X = jr.normal(jr.key(0), (100, 2))
    warm = warm_start_ffjord(gf.fit_rbig(X, n_layers=1, n_components=2), jr.key(1), hidden=(4,))
    ffjord = warm.bijection.bijections[0]
    twice = Transformed(warm.base_dist, Chain([ffjord, ffjord]))
    with pytest.raises(ValueError, match="cannot save"):
        gf.save(tmp_path / "twice.gflow", twice)
