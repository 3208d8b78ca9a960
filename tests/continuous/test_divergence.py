"""The divergence estimators: exact trace, and Hutchinson's estimate unbiased within its error."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import gauss_flows as gf
from gauss_flows._src._divergence import exact_divergence, hutchinson_divergence


@pytest.fixture(scope="module")
def field():
    return gf.DiffeqMLP(jr.key(0), in_dim=5, control_dim=0, hidden=(16, 16))


def test_exact_divergence_is_the_trace_of_the_jacobian(field):
    x = jr.normal(jr.key(1), (5,))
    jac = jax.jacfwd(lambda y: field(0.3, y, None))(x)
    np.testing.assert_allclose(exact_divergence(field, 0.3, x, None), jnp.trace(jac), rtol=1e-12)


@pytest.mark.parametrize("distribution", ["rademacher", "normal"])
def test_hutchinson_is_unbiased_within_its_standard_error(field, distribution):
    x = jr.normal(jr.key(2), (5,))
    exact = float(exact_divergence(field, 0.7, x, None))
    keys = jr.split(jr.key(3), 1000)
    single = jax.vmap(
        lambda k: hutchinson_divergence(field, 0.7, x, None, key=k, distribution=distribution)
    )(keys)
    se = float(jnp.std(single)) / np.sqrt(1000)
    assert se > 0  # the estimate is random: the check has power
    assert abs(float(jnp.mean(single)) - exact) < 3 * se


def test_more_probes_average_the_single_probe_estimates(field):
    x = jr.normal(jr.key(4), (5,))
    many = hutchinson_divergence(field, 0.1, x, None, key=jr.key(5), n_samples=64)
    exact = exact_divergence(field, 0.1, x, None)
    single = jax.vmap(lambda k: hutchinson_divergence(field, 0.1, x, None, key=k))(jr.split(jr.key(6), 64))
    assert abs(float(many - exact)) < 4 * float(jnp.std(single)) / 8


def test_bad_inputs_are_named():
    f = lambda t, x, c: x  # noqa: E731
    with pytest.raises(ValueError, match="shape"):
        exact_divergence(f, 0.0, jnp.zeros((2, 2)), None)
    with pytest.raises(ValueError, match="probe distribution"):
        hutchinson_divergence(f, 0.0, jnp.zeros(2), None, key=jr.key(0), distribution="uniform")
    with pytest.raises(ValueError, match="n_samples"):
        hutchinson_divergence(f, 0.0, jnp.zeros(2), None, key=jr.key(0), n_samples=0)
