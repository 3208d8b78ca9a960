"""Row-sharded data: fit and training run data parallel with one device's results.

JAX fixes its device count at start-up, so the check runs in a fresh interpreter with
four forced CPU devices.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import gauss_flows as gf
    from gauss_flows.train._data import row_sharding

    assert jax.device_count() == 4, jax.devices()
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_exponential((1024, 3)) + rng.normal(size=(1024, 3)))
    mesh = Mesh(np.array(jax.devices()), ("rows",))
    Xs = jax.device_put(X, NamedSharding(mesh, P("rows", None)))
    assert row_sharding(Xs, 128) is not None and row_sharding(X, 128) is None

    one = gf.fit_rbig(X, n_layers=3, n_components=4)
    many = gf.fit_rbig(Xs, n_layers=3, n_components=4)
    # Equal up to reassociated sums; SQUAREM's extrapolated EM jumps can magnify a
    # last-bit difference a few dozen times, hence 1e-7 rather than machine precision.
    np.testing.assert_allclose(many.log_prob(X), one.log_prob(X), rtol=1e-7, atol=1e-7)

    t_one, log_one = gf.train_flow(one, X, steps=40, peak_lr=1e-3, batch=128, log_every=10)
    t_many, log_many = gf.train_flow(many, Xs, steps=40, peak_lr=1e-3, batch=128, log_every=10)
    np.testing.assert_allclose(log_many.loss, log_one.loss, rtol=1e-7)
    np.testing.assert_allclose(t_many.log_prob(X), t_one.log_prob(X), rtol=1e-7, atol=1e-7)
    print("sharded ok")
    """
)


def test_row_sharded_fit_and_training_match_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "sharded ok" in out.stdout
