"""Orthogonal rotations for greedy Gaussianization blocks, and the rules that choose them.

A block of the greedy fit rotates its data, then Gaussianizes every rotated dimension on
its own. How the rotation is chosen is a rotation rule: a small, hashable value
(:class:`AbstractRotationRule`) with no array fields, so it can be a static argument of
compiled code. The rule says how many ``d × d`` matrices of N(0, 1) draws it needs
(:meth:`~AbstractRotationRule.n_draws`; the fit makes them with NumPy outside compiled
code) and turns the data and those draws into a rotation
(:meth:`~AbstractRotationRule.choose`).

The rules are :class:`PCARule`, :class:`RandomRule`, :class:`SlicedRule`,
:class:`MaxSlicedRule` and :class:`ICARule`; the names in :data:`ROTATIONS` are their
shorthands, mapped to rules by :func:`as_rotation_rule` alone.

References:
    Laparra, Camps-Valls & Malo (2011), "Iterative Gaussianization: from ICA to random
    rotations", IEEE Transactions on Neural Networks 22(4).

    Dai & Seljak (2021), "Sliced iterative normalizing flows", ICML.

    Hyvärinen (1999), "Fast and robust fixed-point algorithms for independent component
    analysis", IEEE Transactions on Neural Networks 10(3).

    Mezzadri (2007), "How to generate random matrices from the classical compact groups",
    Notices of the AMS 54(5).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import ndtri
from jaxtyping import Array, Float, PRNGKeyArray

from gauss_flows._validation import check_int, check_number, plain_int
from gauss_flows.fit._sort import sort_floats


def _standardised_columns(x: Array) -> Array:
    return (x - x.mean(axis=0)) / x.std(axis=0)


def pca_rotation(y: Float[Array, "n d"]) -> Float[Array, "d d"]:
    """Rows are the principal directions of ``y``, by decreasing variance.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import pca_rotation
        >>> pca_rotation(jr.normal(jr.key(0), (100, 3))).shape
        (3, 3)
    """
    centered = y - y.mean(axis=0)
    cov = jnp.matmul(centered.T, centered, precision="highest") / y.shape[0]
    _, vectors = jnp.linalg.eigh(cov)
    return vectors[:, ::-1].T


def random_rotation(key: PRNGKeyArray, n_dims: int, dtype=float) -> Float[Array, "d d"]:
    """A Haar-distributed random orthogonal matrix (QR of a Gaussian matrix, signs fixed).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import random_rotation
        >>> random_rotation(jr.key(0), 4).shape
        (4, 4)
    """
    return haar_rotation(jr.normal(key, (n_dims, n_dims), dtype))


def haar_rotation(gaussian: Float[Array, "d d"]) -> Float[Array, "d d"]:
    """The Haar-distributed rotation made from a matrix of independent N(0, 1) draws.

    The Q factor of its QR decomposition with the signs of R's diagonal moved into Q
    (Mezzadri 2007), so the result is uniform on the orthogonal group. Taking the draws
    as an argument lets callers produce them outside compiled code.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit.rotations import haar_rotation
        >>> q = haar_rotation(np.random.default_rng(0).standard_normal((3, 3)))
        >>> bool(np.allclose(q @ q.T, np.eye(3), atol=1e-5))
        True
    """
    q, r = jnp.linalg.qr(gaussian)
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)


def wasserstein_to_normal(projections: Float[Array, "n d"]) -> Float[Array, " d"]:
    """Squared 2-Wasserstein distance of each standardised column to N(0, 1).

    The sorted, standardised column is compared with the normal quantiles at
    ``(i + ½)/n``. Zero for a Gaussian column up to sampling noise; it sees every kind of
    non-Gaussianity (several modes, skew, light or heavy tails).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import wasserstein_to_normal
        >>> wasserstein_to_normal(jr.exponential(jr.key(0), (500, 2))).shape
        (2,)
    """
    n = projections.shape[0]
    u = _standardised_columns(projections)
    levels = (jnp.arange(n, dtype=projections.dtype) + 0.5) / n
    gaps = sort_floats(u, axis=0) - ndtri(levels)[:, None]
    return jnp.mean(gaps * gaps, axis=0)


#: Rows used to score candidate rotations.
_SCORE_ROWS = 4096

#: Rows used to run ICA.
_ICA_ROWS = 4096


def _strided_rows(y: Array, most: int) -> Array:
    """At most ``most`` evenly strided rows of ``y``."""
    return y[:: -(-y.shape[0] // most)]


#: Budget, in d³ units, for the QR factorisations of one block's random candidates.
_CANDIDATE_FLOPS = 10**9


def sliced_rotation(
    key: PRNGKeyArray,
    y: Float[Array, "n d"],
    *,
    n_candidates: int = 48,
    reduce: str = "sum",
) -> Float[Array, "d d"]:
    """The candidate rotation whose projected marginals are least Gaussian.

    The candidates are the identity, the PCA rotation and ``n_candidates`` Haar-random
    rotations (fewer in high dimension: :func:`candidate_count`); each is scored by the
    2-Wasserstein distances of its projections to the normal
    (:func:`wasserstein_to_normal`, on at most 4,096 evenly strided rows).
    ``reduce="sum"`` picks the rotation whose directions are least Gaussian in total,
    the most a block's marginal Gaussianization can gain; ``reduce="max"`` picks the
    rotation holding the single least-Gaussian direction, the max-sliced idea of
    sliced iterative Gaussianization (Dai & Seljak 2021).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import sliced_rotation
        >>> sliced_rotation(jr.key(0), jr.exponential(jr.key(1), (200, 2))).shape
        (2, 2)
    """
    d = y.shape[1]
    draws = jr.normal(key, (candidate_count(d, n_candidates), d, d), y.dtype)
    return best_sliced_rotation(y, draws, reduce=reduce)


def candidate_count(n_dims: int, n_candidates: int = 48) -> int:
    """Random candidates a sliced rotation scores in ``n_dims`` dimensions.

    Each costs a ``d × d`` QR, so their number is ``n_candidates`` capped at
    ``10⁹ / d³`` (and at least 2).

    Example:
        >>> from gauss_flows.fit.rotations import candidate_count
        >>> candidate_count(2), candidate_count(784)
        (48, 2)
    """
    return int(min(n_candidates, max(2, _CANDIDATE_FLOPS // n_dims**3)))


def best_sliced_rotation(
    y: Float[Array, "n d"], draws: Float[Array, "c d d"], *, reduce: str = "sum"
) -> Float[Array, "d d"]:
    """:func:`sliced_rotation` with its random candidates made from Gaussian ``draws``.

    The identity, the PCA rotation and one :func:`haar_rotation` per ``d × d`` slice of
    ``draws`` are scored; the best is returned.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit.rotations import best_sliced_rotation
        >>> y, draws = jr.exponential(jr.key(0), (200, 2)), jr.normal(jr.key(1), (4, 2, 2))
        >>> best_sliced_rotation(y, draws, reduce="max").shape
        (2, 2)
    """
    if reduce not in ("sum", "max"):
        raise ValueError(f'reduce must be "sum" or "max"; got {reduce!r}')
    d = y.shape[1]
    rows = _strided_rows(y, _SCORE_ROWS)
    candidates = jnp.concatenate(
        [jnp.eye(d, dtype=y.dtype)[None], pca_rotation(y)[None], jax.vmap(haar_rotation)(draws)],
        axis=0,
    )
    combine = {"sum": jnp.sum, "max": jnp.max}[reduce]
    scores = jax.vmap(
        lambda q: combine(wasserstein_to_normal(jnp.matmul(rows, q.T, precision="highest")))
    )(candidates)
    return candidates[jnp.argmax(scores)]


def ica_rotation(
    y: Float[Array, "n d"], *, n_steps: int = 100, tol: float = 1e-4
) -> Float[Array, "d d"]:
    """An orthogonal ICA rotation: symmetric FastICA with the log-cosh contrast.

    Starting from the PCA rotation, each step applies Hyvärinen's fixed-point update
    ``W ← E[g(Wy) yᵀ] − diag(E g'(Wy)) W`` (``g = tanh``) to the centred data and
    projects ``W`` back onto the orthogonal matrices (``W ← U Vᵀ`` from its SVD), so the
    rotation stays orthogonal and the block keeps its exact structure. Rows are the
    independent directions. On whitened data this is FastICA itself; on correlated data
    it is the orthogonal rotation that FastICA's iteration settles on.

    The iteration stops when no direction moves by more than ``tol``
    (``max |1 − |⟨wᵢ_new, wᵢ_old⟩|| < tol``, FastICA's test) or after ``n_steps`` steps.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import ica_rotation
        >>> ica_rotation(jr.uniform(jr.key(0), (500, 2))).shape
        (2, 2)

    References:
        Hyvärinen (1999), "Fast and robust fixed-point algorithms for independent
        component analysis", IEEE Transactions on Neural Networks 10(3).
    """
    return fastica_iterations(y, n_steps=n_steps, tol=tol)[0]


def fastica_iterations(y: Array, *, n_steps: int, tol: float) -> tuple[Array, Array]:
    """:func:`ica_rotation` and the number of fixed-point steps it took.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit.rotations import fastica_iterations
        >>> w, steps = fastica_iterations(jr.uniform(jr.key(0), (500, 2)), n_steps=5, tol=0.0)
        >>> int(steps)
        5
    """
    rows = _strided_rows(y - y.mean(axis=0), _ICA_ROWS)

    def orthogonalise(w):
        u, _, vt = jnp.linalg.svd(w)
        return u @ vt

    def step(carry):
        i, w, _ = carry
        s = jnp.matmul(rows, w.T, precision="highest")
        g = jnp.tanh(s)
        update = jnp.matmul(g.T, rows, precision="highest") / rows.shape[0]
        new = orthogonalise(update - jnp.mean(1.0 - g * g, axis=0)[:, None] * w)
        change = jnp.max(jnp.abs(1.0 - jnp.abs(jnp.sum(new * w, axis=1))))
        return i + 1, new, change

    def going_on(carry):
        i, _, change = carry
        return (i < n_steps) & (change >= tol)

    start = (jnp.asarray(0), pca_rotation(y), jnp.asarray(jnp.inf, y.dtype))
    steps, w, _ = jax.lax.while_loop(going_on, step, start)
    return w, steps


# ---- rotation rules ----


class AbstractRotationRule(eqx.Module):
    """How a greedy block chooses its rotation from the data it receives.

    A rule is a value: it has only static fields, so it is hashable and compares by its
    settings, and the compiled block fit takes it as a static argument. Subclasses
    implement :meth:`n_draws` and :meth:`choose`; the library's rules are final.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.fit import AbstractRotationRule
        >>> class Identity(AbstractRotationRule):
        ...     def n_draws(self, n_dims):
        ...         return 0
        ...     def choose(self, y, draws):
        ...         return jnp.eye(y.shape[1], dtype=y.dtype)
        >>> Identity().choose(jnp.zeros((5, 2)), None).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """

    @abc.abstractmethod
    def n_draws(self, n_dims: int) -> int:
        """How many ``d × d`` matrices of N(0, 1) draws :meth:`choose` takes (0: none)."""

    @abc.abstractmethod
    def choose(
        self, y: Float[Array, "n d"], draws: Float[Array, "c d d"] | None
    ) -> Float[Array, "d d"]:
        """The rotation for data ``y``: a ``(d, d)`` orthogonal matrix, rows the new axes.

        ``draws`` holds :meth:`n_draws` matrices of N(0, 1) draws (``None`` when that is 0).
        """


class _AbstractDeterministicRule(AbstractRotationRule):
    """A rule that takes no random draws: its rotation is a function of the data."""

    def n_draws(self, n_dims: int) -> int:
        return 0


class PCARule(_AbstractDeterministicRule):
    """The principal axes of the block's data (:func:`pca_rotation`).

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.fit import PCARule
        >>> y = jnp.array([[0.0, 2.0], [0.0, -2.0], [1.0, 0.0], [-1.0, 0.0]])
        >>> PCARule().choose(y, None).tolist()  # the axis of largest variance first
        [[0.0, 1.0], [1.0, 0.0]]
    """

    def choose(self, y: Array, draws: Array | None) -> Array:
        return pca_rotation(y)


class RandomRule(AbstractRotationRule):
    """A Haar-random rotation (:func:`haar_rotation`), independent of the data.

    Example:
        >>> from gauss_flows.fit import RandomRule
        >>> RandomRule().n_draws(3)
        1
    """

    def n_draws(self, n_dims: int) -> int:
        return 1

    def choose(self, y: Array, draws: Array | None) -> Array:
        return haar_rotation(draws[0])


class _AbstractSlicedRule(AbstractRotationRule):
    """A rule choosing among scored candidate rotations (:func:`best_sliced_rotation`)."""

    n_candidates: eqx.AbstractVar[int]
    reduce: eqx.AbstractClassVar[str]

    def __check_init__(self):
        check_int("n_candidates", self.n_candidates)

    def n_draws(self, n_dims: int) -> int:
        return candidate_count(n_dims, self.n_candidates)

    def choose(self, y: Array, draws: Array | None) -> Array:
        return best_sliced_rotation(y, draws, reduce=self.reduce)


class SlicedRule(_AbstractSlicedRule):
    """The candidate rotation whose directions are least Gaussian in total.

    The candidates are the identity, the PCA rotation and ``n_candidates`` Haar-random
    rotations (fewer in high dimension, :func:`candidate_count`), scored by the summed
    2-Wasserstein distances of their projections to the normal
    (:func:`sliced_rotation` with ``reduce="sum"``).

    Args:
        n_candidates: Random candidates per block.

    Example:
        >>> from gauss_flows.fit import SlicedRule
        >>> SlicedRule().n_draws(2), SlicedRule(n_candidates=8).n_draws(2)
        (48, 8)
    """

    n_candidates: int = eqx.field(static=True, default=48, converter=plain_int)
    reduce: ClassVar[str] = "sum"


class MaxSlicedRule(_AbstractSlicedRule):
    """The candidate rotation holding the single least-Gaussian direction.

    The candidates of :class:`SlicedRule`, each scored by its largest 2-Wasserstein
    distance to the normal (:func:`sliced_rotation` with ``reduce="max"``): the
    max-sliced idea of sliced iterative Gaussianization (Dai & Seljak 2021).

    Args:
        n_candidates: Random candidates per block.

    Example:
        >>> from gauss_flows.fit import MaxSlicedRule
        >>> MaxSlicedRule(n_candidates=16).n_draws(2)
        16
    """

    n_candidates: int = eqx.field(static=True, default=48, converter=plain_int)
    reduce: ClassVar[str] = "max"


class ICARule(_AbstractDeterministicRule):
    """An orthogonal FastICA rotation of the block's data (:func:`ica_rotation`).

    Args:
        n_steps: Most fixed-point steps.
        tol: FastICA's convergence test on the change of direction.

    Example:
        >>> from gauss_flows.fit import ICARule
        >>> ICARule(n_steps=50).n_draws(3)
        0

    References:
        Hyvärinen (1999), "Fast and robust fixed-point algorithms for independent
        component analysis", IEEE Transactions on Neural Networks 10(3).
    """

    n_steps: int = eqx.field(static=True, default=100, converter=plain_int)
    tol: float = eqx.field(static=True, default=1e-4)

    def __check_init__(self):
        check_int("n_steps", self.n_steps)
        check_number("tol", self.tol, low_open=False)

    def choose(self, y: Array, draws: Array | None) -> Array:
        return ica_rotation(y, n_steps=self.n_steps, tol=self.tol)


#: The rules the shorthand names stand for.
_SHORTHANDS: dict[str, AbstractRotationRule] = {
    "pca": PCARule(),
    "random": RandomRule(),
    "sliced": SlicedRule(),
    "max-sliced": MaxSlicedRule(),
    "ica": ICARule(),
}

#: The shorthand names of the rotation rules, as :func:`as_rotation_rule` accepts them.
ROTATIONS = tuple(_SHORTHANDS)


def as_rotation_rule(spec: str | AbstractRotationRule) -> AbstractRotationRule:
    """The rotation rule a shorthand name stands for; a rule is returned as it is.

    ``"pca"``: :class:`PCARule`, ``"random"``: :class:`RandomRule`, ``"sliced"``:
    :class:`SlicedRule`, ``"max-sliced"``: :class:`MaxSlicedRule`, ``"ica"``:
    :class:`ICARule`, each with its default settings.

    Raises:
        ValueError: For any other value, naming the choices.

    Example:
        >>> from gauss_flows.fit import as_rotation_rule
        >>> as_rotation_rule("max-sliced")
        MaxSlicedRule()
    """
    if isinstance(spec, AbstractRotationRule):
        return spec
    if isinstance(spec, str) and spec in _SHORTHANDS:
        return _SHORTHANDS[spec]
    raise ValueError(
        f"unknown rotation {spec!r}; choose one of {ROTATIONS} or an AbstractRotationRule"
    )
