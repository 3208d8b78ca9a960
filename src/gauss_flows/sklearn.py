"""A scikit-learn density estimator and transformer built on Gaussianization flows.

:class:`GaussianizationDensity` fits a flow with one of several strategies and exposes
the scikit-learn API: ``score_samples`` (log-density per row), ``score`` (mean
log-likelihood, so ``GridSearchCV`` can tune it), ``sample``, and ``transform`` /
``inverse_transform`` between the data and the Gaussian latent. All of it works in the
user's units: the fitted flow standardises internally and keeps that affine map.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import paramax
from jaxtyping import Array
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    DensityMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from gauss_flows import layout

STRATEGIES = ("rbig", "warm", "cold", "coupling_warm", "coupling_cold")

_COLD_STEPS, _COLD_LR = 2000, 3e-3
_COUPLING_WARM_STEPS, _COUPLING_WARM_LR = 1000, 1e-3
_COLD_LAYERS = 8


@eqx.filter_jit
def _log_prob(flow: Any, X: Array) -> Array:
    return flow.log_prob(X)


_to_latent = eqx.filter_jit(layout.to_latent)
_from_latent = eqx.filter_jit(layout.from_latent)


def draw(flow: Any, key: Array, n: int) -> np.ndarray:
    """``n`` rows from a flow: base normal draws pushed through the inverse Gaussianizer.

    The same distribution as ``flow.sample(key, (n,))``; it reuses the compiled
    :meth:`GaussianizationDensity.inverse_transform` instead of compiling sampling anew.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> draw(flow, jr.key(1), 3).shape
        (3, 2)
    """
    Z = np.asarray(jr.normal(key, (n, *flow.shape)))
    return _rowwise(_from_latent, flow, Z)


_CHUNK = 1 << 15
_MIN_ROWS = 512


def _rowwise(fn: Any, flow: Any, X: np.ndarray) -> np.ndarray:
    """Apply a jitted row-wise function in chunks whose sizes are powers of two.

    Padding the rows (with copies of the first row) to a few fixed sizes (512, 1024, ...)
    means a new number of rows rarely triggers a new compilation; rows never interact, so
    the padding does not change the results.
    """
    X = jnp.asarray(X, dtype=_jax_float(X.dtype))
    out = []
    for start in range(0, X.shape[0], _CHUNK):
        chunk = X[start : start + _CHUNK]
        n = chunk.shape[0]
        size = max(_MIN_ROWS, 1 << (n - 1).bit_length())
        padded = jnp.concatenate([chunk, jnp.broadcast_to(chunk[:1], (size - n, *chunk.shape[1:]))])
        out.append(np.asarray(fn(flow, padded))[:n])
    return np.concatenate(out)


def _jax_float(dtype: np.dtype) -> np.dtype:
    """The floating dtype JAX will compute in for data of ``dtype``."""
    if dtype == np.float64 and jax.config.jax_enable_x64:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


class GaussianizationDensity(
    ClassNamePrefixFeaturesOutMixin, DensityMixin, TransformerMixin, BaseEstimator
):
    """Density estimation by Gaussianization, as a scikit-learn estimator.

    Strategies:

    * ``"warm"`` (recommended): greedy RBIG fit, then gradient fine-tuning early-stopped
      on held-out rows (:func:`gauss_flows.fit_density`).
    * ``"rbig"``: the greedy fit alone, no gradients (fast).
    * ``"cold"``: a randomly initialised flow trained by maximum likelihood.
    * ``"coupling_warm"`` / ``"coupling_cold"``: the same with coupling blocks (MLP
      conditioners), greedy start or random start.

    Args:
        strategy: One of the strategies above.
        n_layers: Number of blocks; ``None`` lets the greedy fit choose (``"rbig"``,
            ``"warm"``, ``"coupling_warm"``) or uses 8 (cold strategies).
        n_components: Mixture components per dimension, capped at ``n_samples // 2``.
        steps: Gradient steps (``None``: the strategy's default).
        peak_lr: Peak learning rate (``None``: the strategy's default).
        batch: Minibatch size of the trained strategies (not used by ``"warm"``, whose
            recipe sets its own).
        val_fraction: Held-out share of the rows for early stopping (``"warm"``).
        nn_width: Hidden width of the coupling conditioners.
        nn_depth: Hidden layers of the coupling conditioners.
        random_state: Seed of rotations, initialisation and minibatches.
        progress: Show progress bars while training.

    Attributes:
        flow_: The fitted flowjax ``Transformed`` distribution (save it with
            :func:`gauss_flows.save`).
        n_features_in_: Number of columns seen in ``fit``.
        n_layers_: Depth of the fitted flow.
        n_components_: Mixture components per dimension actually used.
        train_nll_: Training NLL trajectory of the trained strategies (``None`` for
            ``"rbig"`` and ``"warm"``).

    Example:
        >>> import numpy as np
        >>> from gauss_flows import GaussianizationDensity
        >>> X = np.random.default_rng(0).standard_exponential((300, 2))
        >>> est = GaussianizationDensity(strategy="rbig", n_layers=3).fit(X)
        >>> est.score_samples(X[:2]).shape, est.sample(5, random_state=0).shape
        ((2,), (5, 2))
    """

    def __init__(
        self,
        strategy: str = "warm",
        n_layers: int | None = None,
        n_components: int = 8,
        steps: int | None = None,
        peak_lr: float | None = None,
        batch: int = 512,
        val_fraction: float = 0.1,
        nn_width: int = 32,
        nn_depth: int = 1,
        random_state: int | None = 0,
        progress: bool = False,
    ):
        self.strategy = strategy
        self.n_layers = n_layers
        self.n_components = n_components
        self.steps = steps
        self.peak_lr = peak_lr
        self.batch = batch
        self.val_fraction = val_fraction
        self.nn_width = nn_width
        self.nn_depth = nn_depth
        self.random_state = random_state
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ---- fitting ---------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> "GaussianizationDensity":
        """Fit the density to the rows of ``X``.

        Args:
            X: Data, shape ``(n_samples, n_features)``.
            y: Ignored.

        Returns:
            The fitted estimator.

        Raises:
            ValueError: For invalid settings or data (NaN/inf, constant columns, too few
                rows).

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> X = np.random.default_rng(0).normal(size=(200, 2))
            >>> GaussianizationDensity(strategy="rbig", n_layers=2).fit(X).n_layers_
            2
        """
        self._check_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=3)
        X = np.asarray(X, dtype=_jax_float(X.dtype))
        n_components = max(1, min(self.n_components, X.shape[0] // 2))
        if n_components < self.n_components:
            warnings.warn(
                f"n_components={self.n_components} needs at least {2 * self.n_components} rows; "
                f"with {X.shape[0]} rows {n_components} components per dimension are used "
                "(see n_components_)",
                UserWarning,
                stacklevel=2,
            )
        seed = self._seed()
        flow, train_nll = _FITTERS[self.strategy](self, X, n_components, seed)
        self.flow_ = flow
        self.n_components_ = n_components
        self.n_layers_ = int(jax.tree.leaves(_blocks(flow))[0].shape[0])
        self.train_nll_ = train_nll
        self._n_features_out = X.shape[1]
        return self

    def _seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _check_params(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}")
        checks = [("n_components", self.n_components, False), ("batch", self.batch, False),
                  ("nn_width", self.nn_width, False), ("nn_depth", self.nn_depth, True),
                  ("n_layers", self.n_layers, None), ("steps", self.steps, None)]
        for name, value, zero_ok in checks:
            if value is None and zero_ok is None:
                continue
            least = 0 if zero_ok else 1
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}; got {value!r}")
        if self.peak_lr is not None and not (
            isinstance(self.peak_lr, numbers.Real) and np.isfinite(self.peak_lr) and self.peak_lr > 0
        ):
            raise ValueError(f"peak_lr must be a positive number; got {self.peak_lr!r}")
        if not (isinstance(self.val_fraction, numbers.Real) and 0 < self.val_fraction < 1):
            raise ValueError(f"val_fraction must lie strictly between 0 and 1; got {self.val_fraction!r}")

    # ---- pickling: the flow travels in gauss_flows' own file format ----------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if "flow_" in state:
            from gauss_flows.io import to_bytes

            state["flow_"] = to_bytes(state["flow_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if isinstance(state.get("flow_"), bytes):
            from gauss_flows.io import from_bytes

            state["flow_"] = from_bytes(state["flow_"])
        self.__dict__.update(state)

    # ---- using the fitted density ----------------------------------------------------

    def _input(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "flow_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X

    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of each row, in the data's units.

        Args:
            X: Data, shape ``(n_samples, n_features)``.

        Returns:
            Array of shape ``(n_samples,)``.

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> X = np.random.default_rng(0).normal(size=(200, 2))
            >>> est = GaussianizationDensity(strategy="rbig", n_layers=2).fit(X)
            >>> est.score_samples(X[:3]).shape
            (3,)
        """
        X = self._input(X)
        if X.shape[0] == 0:
            return np.zeros(0)
        return _rowwise(_log_prob, self.flow_, X).astype(np.float64)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean log-likelihood of the rows (higher is better), for model selection.

        Args:
            X: Data, shape ``(n_samples, n_features)``.
            y: Ignored.

        Returns:
            The mean of :meth:`score_samples`.

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> X = np.random.default_rng(0).normal(size=(200, 2))
            >>> est = GaussianizationDensity(strategy="rbig", n_layers=2).fit(X)
            >>> est.score(X) < 0
            True
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """Draw rows from the fitted density.

        Args:
            n_samples: Number of rows.
            random_state: Seed or ``numpy.random.RandomState`` (``None``: NumPy's global
                state).

        Returns:
            Array of shape ``(n_samples, n_features)``.

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> X = np.random.default_rng(0).normal(size=(200, 2))
            >>> est = GaussianizationDensity(strategy="rbig", n_layers=2).fit(X)
            >>> est.sample(4, random_state=0).shape
            (4, 2)
        """
        check_is_fitted(self, "flow_")
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}")
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        return draw(self.flow_, jr.key(seed), int(n_samples)).astype(np.float64)

    def transform(self, X: Any) -> np.ndarray:
        """Map rows to the Gaussian latent (approximately N(0, I) for the fitted data).

        Args:
            X: Data, shape ``(n_samples, n_features)``.

        Returns:
            Latent rows, same shape and floating dtype as ``X``.

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> X = np.random.default_rng(0).standard_exponential((200, 2))
            >>> Z = GaussianizationDensity(strategy="rbig", n_layers=2).fit_transform(X)
            >>> Z.shape
            (200, 2)
        """
        X = self._input(X)
        if X.shape[0] == 0:
            return X.copy()
        return _rowwise(_to_latent, self.flow_, X).astype(X.dtype)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map latent rows back to data space (the inverse of :meth:`transform`).

        Args:
            X: Latent rows, shape ``(n_samples, n_features)``.

        Returns:
            Data rows, same shape and floating dtype as ``X``.

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> X = np.random.default_rng(0).standard_exponential((200, 2))
            >>> est = GaussianizationDensity(strategy="rbig", n_layers=2).fit(X)
            >>> bool(np.allclose(est.inverse_transform(est.transform(X)), X, atol=1e-4))
            True
        """
        Z = self._input(X)
        if Z.shape[0] == 0:
            return Z.copy()
        return _rowwise(_from_latent, self.flow_, Z).astype(Z.dtype)


# ---- strategies ------------------------------------------------------------------------


def _blocks(flow: Any) -> Any:
    return eqx.filter(layout.blocks(flow), eqx.is_inexact_array)


def _train(est: GaussianizationDensity, flow: Any, X: np.ndarray, steps: int, lr: float, seed: int):
    from gauss_flows.train import train_flow

    batch = min(est.batch, X.shape[0])
    log_every = max(1, min(25, steps))
    flow, nll = train_flow(
        flow, X, steps=steps, peak_lr=lr, batch=batch, seed=seed + 1,
        log_every=log_every, progress=est.progress,
    )
    return flow, nll


def _fit_rbig(est: GaussianizationDensity, X: np.ndarray, n_components: int, seed: int):
    from gauss_flows.fit import fit_rbig

    return fit_rbig(X, n_layers=est.n_layers, n_components=n_components, random_state=seed), None


def _fit_warm(est: GaussianizationDensity, X: np.ndarray, n_components: int, seed: int):
    try:
        from gauss_flows.recipe import fit_density
    except ImportError:
        raise ValueError(
            "strategy 'warm' needs gauss_flows.recipe.fit_density, which this installation "
            "lacks; use strategy='rbig' or 'cold'"
        ) from None

    flow = fit_density(
        X, n_layers=est.n_layers, n_components=n_components, steps=est.steps,
        peak_lr=est.peak_lr, val_fraction=est.val_fraction, random_state=seed,
        progress=est.progress,
    )
    return flow, None


def _fit_cold(est: GaussianizationDensity, X: np.ndarray, n_components: int, seed: int):
    from gauss_flows.flows import gaussianization_flow

    flow = gaussianization_flow(
        jr.key(seed), n_dims=X.shape[1], n_layers=est.n_layers or _COLD_LAYERS,
        n_components=n_components, loc=X.mean(axis=0), scale=_spread(X),
    )
    return _train(est, flow, X, est.steps or _COLD_STEPS, est.peak_lr or _COLD_LR, seed)


def _fit_coupling_warm(est: GaussianizationDensity, X: np.ndarray, n_components: int, seed: int):
    from gauss_flows.fit import fit_rbig_coupling

    flow = fit_rbig_coupling(
        X, key=jr.key(seed), n_layers=est.n_layers, n_components=n_components,
        random_state=seed, nn_width=est.nn_width, nn_depth=est.nn_depth,
    )
    steps = _COUPLING_WARM_STEPS if est.steps is None else est.steps
    return _train(est, flow, X, steps, est.peak_lr or _COUPLING_WARM_LR, seed)


def _fit_coupling_cold(est: GaussianizationDensity, X: np.ndarray, n_components: int, seed: int):
    from gauss_flows.flows import coupling_gaussianization_flow

    flow = coupling_gaussianization_flow(
        jr.key(seed), n_dims=X.shape[1], n_layers=est.n_layers or _COLD_LAYERS,
        n_components=n_components, nn_width=est.nn_width, nn_depth=est.nn_depth,
        loc=X.mean(axis=0), scale=_spread(X),
    )
    return _train(est, flow, X, est.steps or _COLD_STEPS, est.peak_lr or _COLD_LR, seed)


def _spread(X: np.ndarray) -> np.ndarray:
    """Column standard deviations; a constant column is rejected as in the greedy fit."""
    std = X.std(axis=0)
    constant = np.flatnonzero(std == 0)
    if constant.size:
        raise ValueError(
            f"X has constant column(s) {constant.tolist()}: a density needs spread in every "
            "dimension (drop the column or add noise)"
        )
    return std


_FITTERS = {
    "rbig": _fit_rbig,
    "warm": _fit_warm,
    "cold": _fit_cold,
    "coupling_warm": _fit_coupling_warm,
    "coupling_cold": _fit_coupling_cold,
}

__all__ = ["STRATEGIES", "GaussianizationDensity"]
