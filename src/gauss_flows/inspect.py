"""Look inside a Gaussianization flow: the data after every block, and per-block diagnostics.

Works for every flow of the library's layout (:mod:`gauss_flows.layout`): diagonal and
coupling flows, greedy fits and trained flows alike. The stacked blocks are sliced by
depth and every block's ``transform_and_log_det`` is applied to all rows, so nothing here
depends on what a block is made of.

Example:
    >>> import numpy as np
    >>> import gauss_flows as gf
    >>> X = np.random.default_rng(0).standard_exponential((300, 2))
    >>> flow = gf.fit_rbig(X, n_layers=2, n_components=4)
    >>> gf.inspect.n_layers(flow), len(gf.inspect_layers(flow, X, tc_method="gaussian"))
    (2, 3)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import paramax
from flowjax.bijections import Invert
from flowjax.bijections.bijection import AbstractBijection
from flowjax.distributions import Transformed
from jax.scipy.special import ndtr
from jaxtyping import Array, ArrayLike

from gauss_flows import layout
from gauss_flows._conditions import as_condition_matrix
from gauss_flows._information.entropy1d import (
    check_spacing,
    negentropy,
    negentropy_null,
    spacing_entropy,
)
from gauss_flows._information.gaussian import correlation, gaussian_tc, normal_scores
from gauss_flows._information.remainder import scores_total_correlation
from gauss_flows._validation import as_data_matrix
from gauss_flows.bijections import AbstractGaussianizationBlock, GaussianizationStack
from gauss_flows.information import MIN_SAMPLES, InformationSettings
from gauss_flows.layout import n_layers

__all__ = [
    "COLUMNS",
    "Intermediates",
    "LayerTable",
    "block",
    "forward_with_intermediates",
    "inspect_layers",
    "n_blocks",
    "n_layers",
]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Intermediates(NamedTuple):
    """The data on its way through a flow's Gaussianizer (data → latent).

    ``states[0]`` is the data after the fixed standardisation and ``states[b]`` the data
    after block ``b``; the last state is the latent. ``log_dets[b]`` is the cumulative
    ``log |det ∂states[b]/∂x|`` from the raw data ``x``, row by row.

    Example:
        >>> import numpy as np, gauss_flows as gf
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> out = gf.forward_with_intermediates(gf.fit_rbig(X, n_layers=2, n_components=2), X)
        >>> out.states.shape, out.log_dets.shape
        ((3, 200, 2), (3, 200))
    """

    states: Array
    """Shape ``(n_layers + 1, n_samples, n_dims)``."""
    log_dets: Array
    """Shape ``(n_layers + 1, n_samples)``."""


def _gaussianizer(flow: Transformed) -> GaussianizationStack:
    """The flow's Gaussianizer with every parametrisation unwrapped."""
    return paramax.unwrap(layout.gaussianizer(flow))


def n_blocks(flow: Transformed) -> int:
    """Deprecated name of :func:`n_layers` (:func:`gauss_flows.layout.n_layers`), kept for
    one release.

    Example:
        >>> import warnings
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)
        >>> with warnings.catch_warnings(record=True):
        ...     gf.inspect.n_blocks(flow)
        3
    """
    warnings.warn(
        "gauss_flows.inspect.n_blocks is deprecated and will be removed in the next release; "
        "use gauss_flows.inspect.n_layers",
        DeprecationWarning,
        stacklevel=2,
    )
    return n_layers(flow)


def block(flow: Transformed, index: int) -> AbstractGaussianizationBlock:
    """Block ``index`` of a flow's stacked blocks, as a bijection of its own.

    Raises:
        TypeError: If ``flow`` does not have the library's layout.
        ValueError: If ``index`` is out of range.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)
        >>> gf.inspect.block(flow, 1).shape
        (2,)
    """
    count = n_layers(flow)
    if not -count <= index < count:
        raise ValueError(f"block index {index} out of range for a flow with {count} blocks")
    blocks = _gaussianizer(flow).blocks
    return jax.tree.map(lambda a: a[index] if eqx.is_array(a) else a, blocks)


def _apply_rows(layer: AbstractBijection, z: Array) -> tuple[Array, Array]:
    return jax.vmap(layer.transform_and_log_det)(z)


@eqx.filter_jit
def _forward(stack: GaussianizationStack, x: Array) -> tuple[Array, Array]:
    x, ld = _apply_rows(stack.standardizer, x)
    log_det = jnp.zeros(x.shape[0], x.dtype) + ld
    params, static = eqx.partition(stack.blocks, eqx.is_array)

    def step(carry, p):
        z, total = carry
        z, ld = _apply_rows(eqx.combine(p, static), z)
        total = total + ld
        return (z, total), (z, total)

    _, (zs, lds) = jax.lax.scan(step, (x, log_det), params)
    return jnp.concatenate([x[None], zs]), jnp.concatenate([log_det[None], lds])


@eqx.filter_jit
def _forward_conditional(stack, x: Array, condition: Array) -> tuple[Array, Array]:
    states, log_dets = jax.vmap(stack.transform_with_intermediates)(x, condition)
    return jnp.swapaxes(states, 0, 1), jnp.swapaxes(log_dets, 0, 1)


def _states(flow: Transformed, X: Array, condition: ArrayLike | None) -> tuple[Array, Array]:
    """The data after every block (library flows, given ``condition`` for a conditional one)
    or after every data -> latent layer (other flowjax flows)."""
    if layout.is_conditional_flow(flow):
        if condition is None:
            raise ValueError("the flow is conditional: pass condition=, one row per data row")
        C = as_condition_matrix(condition, n_rows=X.shape[0], cond_dim=flow.cond_shape[0])
        stack = paramax.unwrap(layout.conditional_gaussianizer(flow))
        return _forward_conditional(stack, X, C.astype(X.dtype))
    if condition is not None:
        raise ValueError("the flow is unconditional, so it takes no condition")
    if layout.is_gaussianization_flow(flow):
        return _forward(_gaussianizer(flow), X)
    states, log_dets = [X], [jnp.zeros(X.shape[0], X.dtype)]
    for layer in layout.data_to_latent_layers(flow):
        if isinstance(layer, Invert) and isinstance(layer.bijection, GaussianizationStack):
            zs, lds = _forward(paramax.unwrap(layer.bijection), states[-1])
            states.extend(zs)
            log_dets.extend(log_dets[-1] + lds)
        else:
            z, ld = _inverse_rows(layer, states[-1])
            states.append(z)
            log_dets.append(log_dets[-1] + ld)
    return jnp.stack(states), jnp.stack(log_dets)


@eqx.filter_jit
def _inverse_rows(layer: AbstractBijection, x: Array) -> tuple[Array, Array]:
    return jax.vmap(layer.inverse_and_log_det)(x)


def forward_with_intermediates(
    flow: Transformed, X: ArrayLike, condition: ArrayLike | None = None
) -> Intermediates:
    """Push data through a flow's Gaussianizer, keeping the data after every block.

    Args:
        flow: A Gaussianization flow (from :func:`gaussianization_flow`,
            :func:`fit_rbig`, the coupling builders, or training).
        X: Data, shape ``(n_samples, n_dims)``.
        condition: For a conditional flow, one condition row per data row.

    Returns:
        :class:`Intermediates` with ``states`` of shape ``(n_layers + 1, n, d)`` and
        cumulative ``log_dets`` of shape ``(n_layers + 1, n)``; the last state is the
        latent, and ``base.log_prob(states[-1]) + log_dets[-1]`` is ``flow.log_prob(X)``.

    Raises:
        TypeError: If ``flow`` does not have the library's layout.
        ValueError: For NaN/inf or wrongly shaped data.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> flow = gf.fit_rbig(X, n_layers=3, n_components=4)
        >>> gf.forward_with_intermediates(flow, X).states.shape
        (4, 200, 2)
    """
    X = as_data_matrix(X, n_dims=flow.shape[0], min_rows=1, check_constant=False)
    return Intermediates(*_states(flow, X, condition))


#: The column names of a :class:`LayerTable`, in table order.
COLUMNS = (
    "block",
    "nongaussianity",
    "information_reduction",
    "negentropy",
    "total_correlation",
    "mean_error",
    "cov_error",
    "ks",
    "log_det",
)

_DESCRIPTIONS = {
    "block": "0 = standardised data, b = after block b",
    "nongaussianity": "KL(p_b ‖ N(0, I)), nats: distance of the data from the target",
    "information_reduction": "non-Gaussianity removed by the block, nats",
    "negentropy": "sum of marginal negentropies (shape non-Gaussianity), nats",
    "total_correlation": "total correlation estimate, nats",
    "mean_error": "‖mean‖₂",
    "cov_error": "‖cov − I‖_F",
    "ks": "largest marginal Kolmogorov–Smirnov distance to N(0, 1)",
    "log_det": "mean log|det J| of the block, nats",
}


@dataclass(frozen=True)
class LayerTable:
    """Per-block diagnostics of a flow on some data; one row per state, one array per column.

    Columns (each a NumPy array, see :data:`COLUMNS`): ``block``, ``nongaussianity``,
    ``information_reduction``, ``negentropy``, ``total_correlation``, ``mean_error``,
    ``cov_error``, ``ks``, ``log_det``. Print it for a table; :meth:`as_dict` and
    :meth:`to_pandas` hand the data on.

    Example:
        >>> import numpy as np, gauss_flows as gf
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> table = gf.inspect_layers(gf.fit_rbig(X, n_layers=2, n_components=2), X)
        >>> table["block"].tolist()
        [0, 1, 2]
    """

    columns: dict[str, np.ndarray] = field(repr=False)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; columns are {list(self.columns)}")
        return self.columns[name]

    def __len__(self) -> int:
        return len(self.columns["block"])

    def as_dict(self) -> dict[str, np.ndarray]:
        """The columns as a dict of arrays (copies)."""
        return {k: v.copy() for k, v in self.columns.items()}

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (needs pandas, an optional dependency)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("LayerTable.to_pandas needs pandas; use as_dict() without it") from err
        return pd.DataFrame(self.as_dict()).set_index("block")

    def to_string(self, digits: int = 4) -> str:
        """A fixed-width text table."""
        names = list(self.columns)
        cells = [[_fmt(self.columns[k][i], digits) for k in names] for i in range(len(self))]
        widths = [max(len(k), *(len(r[j]) for r in cells)) for j, k in enumerate(names)]
        lines = ["  ".join(k.rjust(w) for k, w in zip(names, widths))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_string()

    @staticmethod
    def describe() -> dict[str, str]:
        """What each column means."""
        return dict(_DESCRIPTIONS)


def _fmt(value, digits: int) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return "—" if not np.isfinite(value) else f"{value:.{digits}f}"


@jax.jit
def _moments(z: Array) -> tuple[Array, Array, Array]:
    mean = z.mean(axis=0)
    c = z - mean
    cov = jnp.matmul(c.T, c, precision="highest") / z.shape[0]
    second = jnp.mean(jnp.sum(z * z, axis=1))
    return jnp.linalg.norm(mean), jnp.linalg.norm(cov - jnp.eye(z.shape[1], dtype=z.dtype)), second


@jax.jit
def _max_ks(z: Array) -> Array:
    """Largest two-sided Kolmogorov–Smirnov distance of any column to N(0, 1)."""
    n = z.shape[0]
    cdf = ndtr(jnp.sort(z, axis=0))
    i = jnp.arange(1, n + 1, dtype=z.dtype)[:, None]
    return jnp.max(jnp.maximum(i / n - cdf, cdf - (i - 1) / n))


def inspect_layers(
    flow: Transformed,
    X: ArrayLike,
    *,
    tc_method: str = "rbig",
    spacing: int | None = None,
    random_state: int = 0,
    condition: ArrayLike | None = None,
) -> LayerTable:
    """Per-block diagnostics of a flow on data, as a printable :class:`LayerTable`.

    Row ``b`` describes the data ``z_b`` after block ``b`` (row 0: after the standardiser).
    Other flows built from flowjax layers, such as an FFJORD or a greedy Gaussianizer
    followed by one (``Transformed(base, Chain([...]))``), get one row per layer of their
    data → latent direction, a library Gaussianizer among them one per block (row 0: the
    data).
    Its non-Gaussianity ``J_b = KL(p_b ‖ N(0, I)) = Σᵢ KL(p_{b,i} ‖ N(0, 1)) + TC(z_b)`` is
    estimated afresh from the samples (bias-corrected 1-D entropies and
    :func:`total_correlation`), so it does not share the fit's in-sample optimism; the
    information reduction of block ``b`` is ``J_{b−1} − J_b``.

    Args:
        flow: A Gaussianization flow.
        X: Data, shape ``(n_samples, n_dims)``, at least 20 rows.
        tc_method: ``"rbig"`` estimates each state's total correlation in full;
            ``"gaussian"`` keeps only its closed-form Gaussian part ``−½ log det R``
            (faster, blind to non-Gaussian dependence).
        spacing: Spacing of the 1-D entropy estimator (``None``: automatic).
        random_state: Integer that fixes the rotations of the total-correlation estimates.
        condition: For a conditional flow, one condition row per data row (each row is
            Gaussianized given its own condition).

    Returns:
        The table.

    Raises:
        TypeError: If ``flow`` does not have the library's layout.
        ValueError: For bad data, an unknown ``tc_method`` or bad settings.

    References:
        Laparra, Camps-Valls & Malo (2011) for the information reduction of a block;
        see :mod:`gauss_flows.information` for the estimators.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((500, 2))
        >>> table = gf.inspect_layers(gf.fit_rbig(X, n_layers=3, n_components=4), X)
        >>> len(table)
        4
    """
    if tc_method not in ("rbig", "gaussian"):
        raise ValueError(f"tc_method must be 'rbig' or 'gaussian'; got {tc_method!r}")
    settings = InformationSettings(spacing=spacing, random_state=random_state)
    if not isinstance(flow, Transformed):
        raise TypeError(
            f"expected a Gaussianization flow or another flowjax Transformed distribution; "
            f"got {type(flow).__name__}"
        )
    X = as_data_matrix(X, n_dims=flow.shape[0], min_rows=MIN_SAMPLES)
    states, log_dets = _states(flow, X, condition)
    n, d = X.shape
    m = check_spacing(spacing, n)
    j_bias = negentropy_null(n, m, str(X.dtype))[0]

    rows = {k: [] for k in COLUMNS}
    for b in range(states.shape[0]):
        z = states[b]
        mean_err, cov_err, second = (float(v) for v in _moments(z))
        marginal_kl = 0.5 * second + d * _HALF_LOG_2PI - float(jnp.sum(spacing_entropy(z, m)))
        if d == 1:
            tc = 0.0
        elif tc_method == "rbig":
            tc = scores_total_correlation(normal_scores(z), settings)
        else:
            tc = gaussian_tc(correlation(normal_scores(z)), n)
        nongauss = marginal_kl + tc
        rows["block"].append(b)
        rows["nongaussianity"].append(nongauss)
        reduction = np.nan if b == 0 else rows["nongaussianity"][-2] - nongauss
        rows["information_reduction"].append(reduction)
        rows["negentropy"].append(float(jnp.sum(negentropy(z, m) - j_bias)))
        rows["total_correlation"].append(tc)
        rows["mean_error"].append(mean_err)
        rows["cov_error"].append(cov_err)
        rows["ks"].append(float(_max_ks(z)))
        step = log_dets[b] - (log_dets[b - 1] if b > 0 else 0.0)
        rows["log_det"].append(float(jnp.mean(step)))
    columns = {k: np.asarray(v, dtype=int if k == "block" else float) for k, v in rows.items()}
    return LayerTable(columns)
