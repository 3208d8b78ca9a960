"""A scikit-learn density estimator and transformer built on Gaussianization flows.

:class:`GaussianizationDensity` fits a flow with one of several strategies and exposes
the scikit-learn API: ``score_samples`` (log-density per row), ``score`` (mean
log-likelihood, so ``GridSearchCV`` can tune it), ``sample``, and ``transform`` /
``inverse_transform`` between the data and the Gaussian latent. All of it works in the
user's units: the fitted flow standardises internally and keeps that affine map.

Float width: JAX computes in 32 bits unless 64-bit mode is on
(``jax.config.update("jax_enable_x64", True)``). A pickled estimator carries the mode of
the process that pickled it, and an unpickled copy computes in that mode, so the
parallel workers of ``GridSearchCV(..., n_jobs=2)`` or ``cross_validate`` fit and score
exactly as the parent would (:func:`gauss_flows._precision.float_mode`).
"""

from __future__ import annotations

import numbers
import warnings
from functools import partial
from typing import Any, NamedTuple

import jax.random as jr
import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    DensityMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state as numpy_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from gauss_flows import layout
from gauss_flows._arrays import column_moments
from gauss_flows._precision import float_mode, x64_enabled
from gauss_flows._progress import show_progress
from gauss_flows._rows import compute_dtype, draw, from_latent, log_density, to_latent
from gauss_flows._validation import as_host_matrix, check_int, check_number, check_representable
from gauss_flows.fit import fit_rbig, fit_rbig_coupling
from gauss_flows.flows import coupling_gaussianization_flow, gaussianization_flow
from gauss_flows.io import from_bytes, to_bytes
from gauss_flows.recipe import DEFAULT_PATIENCE, check_val_fraction, fit_density
from gauss_flows.train import train_flow

__all__ = ["STRATEGIES", "GaussianizationDensity"]

#: The values :class:`GaussianizationDensity` takes for ``strategy``.
STRATEGIES = ("rbig", "warm", "cold", "coupling_warm", "coupling_cold")

_COLD_STEPS, _COLD_LR = 2000, 3e-3
_COUPLING_WARM_STEPS, _COUPLING_WARM_LR = 1000, 1e-3
_COLD_LAYERS = 8


def _integer_random_state(random_state: Any) -> int:
    """The integer random state of a scikit-learn ``random_state``.

    An integer is used as it is; ``None`` or a ``numpy.random.RandomState`` draws one.
    """
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(numpy_random_state(random_state).randint(2**31 - 1))


class _Settings(NamedTuple):
    """The estimator's parameters as checked in ``fit``, integers as ``int``."""

    n_layers: int | None
    n_components: int
    steps: int | None
    peak_lr: float | None
    batch: int
    val_fraction: float
    nn_width: int
    nn_depth: int
    patience: int
    progress: bool


class ModelFilePickling:
    """Pickling for an estimator whose fitted ``flow_`` travels in the model-file format.

    The flow is written with :func:`~gauss_flows.io.to_bytes` and read back with
    :func:`~gauss_flows.io.from_bytes` in the float mode it was fitted in (``_x64()``), so a
    worker process (e.g. scikit-learn's parallel search) gets exactly the parent's model.

    Example:
        >>> import pickle
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_normal((200, 2))
        >>> est = gf.GaussianizationDensity(strategy="rbig", n_layers=1).fit(X)
        >>> bool(np.allclose(pickle.loads(pickle.dumps(est)).score_samples(X), est.score_samples(X)))
        True
    """

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_jax_x64"] = self._x64()
        if "flow_" in state:
            state["flow_"] = to_bytes(state["flow_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        x64 = state.get("_jax_x64")
        if isinstance(state.get("flow_"), bytes):
            with float_mode(x64_enabled() if x64 is None else bool(x64)):
                state["flow_"] = from_bytes(state["flow_"])
        self.__dict__.update(state)


class GaussianizationDensity(
    ModelFilePickling, ClassNamePrefixFeaturesOutMixin, DensityMixin, TransformerMixin, BaseEstimator
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
        val_fraction: Held-out share of the rows for depth choice and early stopping
            (``"warm"``), in ``[0, 1)``; the rows are held out by
            :func:`gauss_flows.recipe.held_out_rows` (none when too few).
        nn_width: Hidden width of the coupling conditioners.
        nn_depth: Hidden layers of the coupling conditioners.
        random_state: Integer random state of rotations, initialisation and minibatches;
            ``None`` or a ``numpy.random.RandomState`` draws one (scikit-learn's rule).
        progress: Show progress bars while fitting (the greedy blocks and the training
            steps); ``None`` shows them only when standard error is a terminal and the
            ``CI`` environment variable is not set.
        patience: Gradient steps without held-out improvement before fine-tuning stops
            (``"warm"``; see :func:`gauss_flows.fit_density`).

    Attributes:
        flow_: The fitted flowjax ``Transformed`` distribution (save it with
            :func:`gauss_flows.save`).
        n_features_in_: Number of columns seen in ``fit``.
        n_layers_: Depth of the fitted flow.
        n_components_: Mixture components per dimension actually used.
        train_nll_: Minibatch training NLL of the trained strategies, one entry per
            record of :func:`gauss_flows.train_flow` (``None`` for ``"rbig"`` and
            ``"warm"``).

    Example:
        >>> import numpy as np
        >>> from gauss_flows import GaussianizationDensity
        >>> X = np.random.default_rng(0).standard_exponential((300, 2))
        >>> est = GaussianizationDensity(strategy="rbig", n_layers=3).fit(X)
        >>> est.score_samples(X[:2]).shape, est.sample(5, random_state=0).shape
        ((2,), (5, 2))

    References:
        Laparra, V., Camps-Valls, G. & Malo, J. (2011). Iterative Gaussianization: from
        ICA to random rotations. IEEE Transactions on Neural Networks 22(4).
        Meng, C., Song, Y., Song, J. & Ermon, S. (2020). Gaussianization flows. AISTATS.
    """

    # The float mode (64-bit or not) of the process that pickled this estimator; ``None``
    # until it is unpickled, when the estimator follows its own process's mode.
    _jax_x64: bool | None = None

    # scikit-learn's convention: every parameter is stored as given, checked in ``fit``.
    def __init__(
        self,
        strategy="warm",
        n_layers=None,
        n_components=8,
        steps=None,
        peak_lr=None,
        batch=512,
        val_fraction=0.1,
        nn_width=32,
        nn_depth=1,
        random_state=0,
        progress=False,
        patience=DEFAULT_PATIENCE,
    ):
        self.strategy, self.n_layers, self.n_components = strategy, n_layers, n_components
        self.steps, self.peak_lr, self.batch = steps, peak_lr, batch
        self.val_fraction, self.patience = val_fraction, patience
        self.nn_width, self.nn_depth = nn_width, nn_depth
        self.random_state, self.progress = random_state, progress

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
        settings = self._check_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=3)
        with float_mode(self._x64()):
            # Range and resolution are checked before the cast to the compute dtype.
            X = as_host_matrix(X, min_rows=3)
            n_components = max(1, min(settings.n_components, X.shape[0] // 2))
            if n_components < settings.n_components:
                warnings.warn(
                    f"n_components={settings.n_components} needs at least "
                    f"{2 * settings.n_components} rows; with {X.shape[0]} rows {n_components} "
                    "components per dimension are used (see n_components_)",
                    UserWarning,
                    stacklevel=2,
                )
            random_state = _integer_random_state(self.random_state)
            flow, train_nll = _FITTERS[self.strategy](settings, X, n_components, random_state)
        self.flow_ = flow
        self.n_components_ = n_components
        self.n_layers_ = layout.n_layers(flow)
        self.train_nll_ = train_nll
        self._n_features_out = X.shape[1]
        return self

    def _check_params(self) -> _Settings:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}"
            )
        return _Settings(
            n_layers=None if self.n_layers is None else check_int("n_layers", self.n_layers),
            n_components=check_int("n_components", self.n_components),
            steps=None if self.steps is None else check_int("steps", self.steps),
            peak_lr=None if self.peak_lr is None else check_number("peak_lr", self.peak_lr),
            batch=check_int("batch", self.batch),
            val_fraction=check_val_fraction(self.val_fraction),
            nn_width=check_int("nn_width", self.nn_width),
            nn_depth=check_int("nn_depth", self.nn_depth, least=0),
            patience=check_int("patience", self.patience),
            progress=show_progress(self.progress),
        )

    def _x64(self) -> bool:
        """Whether this estimator computes in 64-bit: the mode it was pickled in, if any."""
        return x64_enabled() if self._jax_x64 is None else self._jax_x64

    # ---- using the fitted density ----------------------------------------------------

    def _input(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "flow_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        check_representable(X, compute_dtype(X.dtype))
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
        with float_mode(self._x64()):
            X = self._input(X)
            if X.shape[0] == 0:
                return np.zeros(0)
            return log_density(self.flow_, X).astype(np.float64)

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
            random_state: An integer or a ``numpy.random.RandomState`` (``None``: NumPy's
                global state), scikit-learn's rule; the JAX key of the draws is drawn
                from it.

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
        n_samples = check_int("n_samples", n_samples)
        with float_mode(self._x64()):
            key = jr.key(int(numpy_random_state(random_state).randint(2**31 - 1)))
            return draw(self.flow_, key, n_samples).astype(np.float64)

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
        with float_mode(self._x64()):
            X = self._input(X)
            if X.shape[0] == 0:
                return X.copy()
            return to_latent(self.flow_, X).astype(X.dtype)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Map latent rows back to data space (the inverse of :meth:`transform`).

        Args:
            X: Latent rows, shape ``(n_samples, n_features)``: rows of :meth:`transform`,
                or any points of the latent space.

        Returns:
            Data rows in the units of the fitted data, with the shape and floating dtype
            of ``X``.

        Example:
            >>> import numpy as np
            >>> from gauss_flows import GaussianizationDensity
            >>> data = np.random.default_rng(0).standard_exponential((200, 2))
            >>> est = GaussianizationDensity(strategy="rbig", n_layers=2).fit(data)
            >>> Z = est.transform(data)
            >>> bool(np.allclose(est.inverse_transform(Z), data, atol=1e-4))
            True
        """
        with float_mode(self._x64()):
            Z = self._input(X)
            if Z.shape[0] == 0:
                return Z.copy()
            return from_latent(self.flow_, Z).astype(Z.dtype)


# ---- strategies ------------------------------------------------------------------------


def _train(s: _Settings, flow: Any, X: np.ndarray, steps: int, lr: float, random_state: int):
    """Train ``flow`` with the estimator's settings; the log's losses become ``train_nll_``."""
    flow, log = train_flow(
        flow, X, steps=steps, peak_lr=lr, batch=min(s.batch, X.shape[0]),
        random_state=random_state + 1, log_every=max(1, min(25, steps)), progress=s.progress,
    )
    return flow, log.loss


def _fit_rbig(s: _Settings, X: np.ndarray, n_components: int, random_state: int):
    flow = fit_rbig(
        X, n_layers=s.n_layers, n_components=n_components, random_state=random_state,
        progress=s.progress,
    )
    return flow, None


def _fit_warm(s: _Settings, X: np.ndarray, n_components: int, random_state: int):
    flow = fit_density(
        X, n_layers=s.n_layers, n_components=n_components, steps=s.steps,
        peak_lr=s.peak_lr, val_fraction=s.val_fraction, patience=s.patience,
        random_state=random_state, progress=s.progress,
    )
    return flow, None


def _fit_coupling_warm(s: _Settings, X: np.ndarray, n_components: int, random_state: int):
    flow = fit_rbig_coupling(
        X, n_layers=s.n_layers, n_components=n_components, random_state=random_state,
        nn_width=s.nn_width, nn_depth=s.nn_depth, progress=s.progress,
    )
    steps = _COUPLING_WARM_STEPS if s.steps is None else s.steps
    return _train(s, flow, X, steps, s.peak_lr or _COUPLING_WARM_LR, random_state)


def _fit_cold(
    s: _Settings,
    X: np.ndarray,
    n_components: int,
    random_state: int,
    *,
    coupling: bool,
):
    """A random start standardised on ``X`` (diagonal or coupling blocks), then training."""
    loc, scale = column_moments(X)
    options = dict(
        n_dims=X.shape[1], n_layers=s.n_layers or _COLD_LAYERS, n_components=n_components,
        loc=loc, scale=scale,
    )
    if coupling:
        flow = coupling_gaussianization_flow(
            jr.key(random_state), nn_width=s.nn_width, nn_depth=s.nn_depth, **options
        )
    else:
        flow = gaussianization_flow(jr.key(random_state), **options)
    return _train(s, flow, X, s.steps or _COLD_STEPS, s.peak_lr or _COLD_LR, random_state)


_FITTERS = {
    "rbig": _fit_rbig,
    "warm": _fit_warm,
    "cold": partial(_fit_cold, coupling=False),
    "coupling_warm": _fit_coupling_warm,
    "coupling_cold": partial(_fit_cold, coupling=True),
}

__all__ = ["STRATEGIES", "GaussianizationDensity"]
