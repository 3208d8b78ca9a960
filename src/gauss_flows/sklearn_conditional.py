"""A scikit-learn estimator of the conditional density ``p(y | X)`` of targets given features.

The targets ``y`` (one column or several) are the flow's data and the features ``X`` its
condition: :class:`ConditionalGaussianizationDensity` fits ``p(y | X)`` with the
conditional recipe (``fit_density(y, condition=X)``), scores pairs, draws targets for
given features, and gives quantiles and central intervals of a scalar target.

Example:
    >>> import numpy as np
    >>> from gauss_flows import ConditionalGaussianizationDensity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (300, 1)); y = X[:, 0] + 0.1 * rng.normal(size=300)
    >>> est = ConditionalGaussianizationDensity(strategy="rbig", n_layers=2).fit(X, y)
    >>> est.score_samples(X[:3], y[:3]).shape, est.sample(X[:3], random_state=0).shape
    ((3,), (3,))
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state as numpy_random_state
from sklearn.utils.validation import check_is_fitted

from gauss_flows import layout
from gauss_flows._conditions import as_condition_matrix
from gauss_flows._precision import float_mode, x64_enabled
from gauss_flows.sklearn import ModelFilePickling
from gauss_flows._validation import check_int, check_number
from gauss_flows.fit import fit_rbig
from gauss_flows.recipe import DEFAULT_PATIENCE, check_val_fraction, fit_density

__all__ = ["ConditionalGaussianizationDensity", "CONDITIONAL_STRATEGIES"]

#: ``"warm"``: the conditional recipe (greedy start, fine-tuning on held-out pairs);
#: ``"rbig"``: the greedy start alone (no dependence on the features).
CONDITIONAL_STRATEGIES = ("warm", "rbig")


class ConditionalGaussianizationDensity(ModelFilePickling, BaseEstimator):
    """Conditional density estimation ``p(y | X)`` by conditional Gaussianization.

    Args:
        strategy: ``"warm"`` (:func:`gauss_flows.fit_density` with ``condition=X``) or
            ``"rbig"`` (:func:`gauss_flows.fit_rbig` with ``condition=X``: the greedy
            start, equal to the unconditional fit of ``y``).
        n_layers: Number of blocks (``None``: chosen on held-out pairs).
        n_components: Mixture components per target dimension (``None``: the recipe's
            choice, :func:`gauss_flows.fit_density`'s; 8 for ``"rbig"``).
        steps: Fine-tuning steps (``None``: the recipe's default).
        nn_width: Hidden width of the condition networks.
        val_fraction: Held-out share of the pairs, in ``[0, 1)``.
        patience: Gradient steps without held-out improvement before fine-tuning stops.
        time_budget: Seconds of fine-tuning at most (``None``: no limit).
        random_state: Integer random state (split, networks, minibatches).

    Attributes:
        flow_: The fitted conditional flow (save it with :func:`gauss_flows.save`).
        n_features_in_: Number of feature columns seen in ``fit``.
        n_targets_: Number of target columns.

    Example:
        >>> import numpy as np
        >>> from gauss_flows import ConditionalGaussianizationDensity
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(-1, 1, (300, 1)); y = 2 * X[:, 0] + 0.1 * rng.normal(size=300)
        >>> est = ConditionalGaussianizationDensity(strategy="rbig", n_layers=2).fit(X, y)
        >>> est.predict_interval(X[:2], coverage=0.9, random_state=0).shape
        (2, 2)

    References:
        Laparra, V., Camps-Valls, G. & Malo, J. (2011). Iterative Gaussianization.
        Winkler, C. et al. (2019). Learning likelihoods with conditional normalizing flows.
    """

    _jax_x64: bool | None = None

    def __init__(
        self,
        strategy="warm",
        n_layers=None,
        n_components=None,
        steps=None,
        nn_width=32,
        val_fraction=0.1,
        patience=DEFAULT_PATIENCE,
        time_budget=None,
        random_state=0,
    ):
        self.strategy, self.n_layers, self.n_components = strategy, n_layers, n_components
        self.steps, self.nn_width, self.val_fraction = steps, nn_width, val_fraction
        self.patience, self.time_budget, self.random_state = patience, time_budget, random_state

    # ---- fitting ---------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> "ConditionalGaussianizationDensity":
        """Fit ``p(y | X)`` to the pairs ``(X[i], y[i])``.

        Raises:
            ValueError: For a missing ``y``, NaN/inf in ``X`` or ``y``, mismatched row
                counts, or invalid settings.
        """
        if y is None:
            raise ValueError("y is missing: ConditionalGaussianizationDensity fits p(y | X)")
        if self.strategy not in CONDITIONAL_STRATEGIES:
            raise ValueError(
                f"strategy must be one of {', '.join(CONDITIONAL_STRATEGIES)}; got {self.strategy!r}"
            )
        with float_mode(self._x64()):
            targets = self._targets(y, None)
            features = as_condition_matrix(X, n_rows=targets.shape[0], name="X")
            common = dict(
                n_layers=None if self.n_layers is None else check_int("n_layers", self.n_layers),
                n_components=None if self.n_components is None else check_int(
                    "n_components", self.n_components
                ),
                random_state=int(self.random_state) if self.random_state is not None else 0,
            )
            if self.strategy == "rbig":
                common["n_components"] = common["n_components"] or 8
                flow = fit_rbig(
                    targets, condition=features, nn_width=check_int("nn_width", self.nn_width),
                    progress=False, **common,
                )
            else:
                flow = fit_density(
                    targets, condition=features, steps=self.steps,
                    nn_width=check_int("nn_width", self.nn_width),
                    val_fraction=check_val_fraction(self.val_fraction),
                    patience=check_int("patience", self.patience), progress=False,
                    time_budget=None if self.time_budget is None else check_number(
                        "time_budget", self.time_budget
                    ),
                    **common,
                )
        self.flow_ = flow
        self.n_features_in_ = int(features.shape[1])
        self.n_targets_ = int(targets.shape[1])
        self._scalar_target = np.ndim(y) == 1
        return self

    def _x64(self) -> bool:
        return x64_enabled() if self._jax_x64 is None else self._jax_x64

    def _targets(self, y: Any, n_rows: int | None) -> jax.Array:
        cond_dim = None if not hasattr(self, "n_targets_") else self.n_targets_
        return as_condition_matrix(y, n_rows=n_rows, cond_dim=cond_dim, name="y")

    def _features(self, X: Any) -> jax.Array:
        check_is_fitted(self, "flow_")
        return as_condition_matrix(X, cond_dim=self.n_features_in_, name="X")

    # ---- using the fitted density ----------------------------------------------------

    def score_samples(self, X: Any, y: Any) -> np.ndarray:
        """``log p(y[i] | X[i])`` of every pair, in the targets' units."""
        with float_mode(self._x64()):
            features = self._features(X)
            targets = self._targets(y, features.shape[0])
            dtype = layout.conditional_gaussianizer(self.flow_).stack.blocks.logits.dtype
            out = self.flow_.log_prob(targets.astype(dtype), condition=features.astype(dtype))
            return np.asarray(out, dtype=np.float64)

    def score(self, X: Any, y: Any) -> float:
        """Mean conditional log-likelihood of the pairs (higher is better; GridSearchCV's score)."""
        return float(np.mean(self.score_samples(X, y)))

    def sample(self, X: Any, n_samples: int | None = None, random_state: Any = None) -> np.ndarray:
        """Targets drawn from ``p(y | X[i])``: one per row, or ``n_samples`` per row.

        Returns:
            Shape ``(n_rows, n_targets)`` (``(n_rows,)`` for a 1-D ``y`` in ``fit``), or
            ``(n_rows, n_samples, ...)`` with ``n_samples``.
        """
        with float_mode(self._x64()):
            features = self._features(X)
            m = 1 if n_samples is None else check_int("n_samples", n_samples)
            key = jr.key(int(numpy_random_state(random_state).randint(2**31 - 1)))
            dtype = layout.conditional_gaussianizer(self.flow_).stack.blocks.logits.dtype
            draws = self.flow_.sample(key, (m,), condition=features.astype(dtype))  # (m, n, k)
            out = np.moveaxis(np.asarray(draws, dtype=np.float64), 0, 1)
        if n_samples is None:
            out = out[:, 0]
        return out[..., 0] if self._scalar_target else out

    def predict_quantiles(
        self, X: Any, quantiles: Any = (0.05, 0.5, 0.95), *, n_draws: int = 2000,
        random_state: Any = 0,
    ) -> np.ndarray:
        """Quantiles of a scalar target given each row, from ``n_draws`` draws per row.

        Returns:
            Shape ``(n_rows, len(quantiles))``.

        Raises:
            ValueError: For several target columns, or quantiles outside ``(0, 1)``.
        """
        check_is_fitted(self, "flow_")
        if self.n_targets_ != 1:
            raise ValueError(f"quantiles need a scalar target; this model has {self.n_targets_}")
        q = np.asarray(quantiles, dtype=float)
        if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
            raise ValueError(f"quantiles must be a 1-D list of numbers in (0, 1); got {quantiles!r}")
        draws = self.sample(X, n_samples=n_draws, random_state=random_state).reshape(
            np.shape(X)[0], n_draws
        )
        return np.quantile(draws, q, axis=1).T

    def predict_interval(self, X: Any, coverage: float = 0.9, **options: Any) -> np.ndarray:
        """The central interval of a scalar target holding ``coverage`` of ``p(y | X[i])``.

        Returns:
            Shape ``(n_rows, 2)``: lower and upper ends.
        """
        coverage = check_number("coverage", coverage, high=1.0)
        tail = (1.0 - coverage) / 2
        return self.predict_quantiles(X, (tail, 1.0 - tail), **options)

    def predict(self, X: Any, **options: Any) -> np.ndarray:
        """The conditional median of a scalar target given each row."""
        return self.predict_quantiles(X, (0.5,), **options)[:, 0]
