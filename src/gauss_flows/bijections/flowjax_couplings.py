"""Coupling layers built on flowjax's ``Coupling``: affine, rational-quadratic spline and
sum-of-sigmoids transformers.

Every layer here wraps one ``flowjax.bijections.Coupling`` at ``layer._coupling``. The
first ``d // 2`` coordinates are passive: they are copied unchanged and, with the
condition when the layer is conditional, feed the conditioner, an ``equinox.nn.MLP``
(``layer._coupling.conditioner``). The conditioner's output is added to the scalar
transformer's initial unconstrained parameters to give the transformer of every active
coordinate, so the Jacobian is lower block-triangular and the log-determinant is the sum
of the active coordinates' log-derivatives. The MLP's final layer is random (equinox's
default initialisation, with a bias), so a fresh layer already couples.

An unconditional layer (``cond_dim=None``, ``cond_shape is None``) drops any condition it
is given: flowjax's ``Chain`` and ``Transformed`` hand one condition to every layer, and
flowjax's ``Coupling`` would otherwise concatenate it onto the conditioner's input.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.nn as jnn
import jax.numpy as jnp
import numpy as np
import paramax
from flowjax.bijections import Affine, Coupling, RationalQuadraticSpline
from flowjax.bijections.bijection import AbstractBijection
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, PRNGKeyArray
from paramax.utils import inv_softplus

from gauss_flows._validation import check_int
from gauss_flows.bijections.sum_of_sigmoids import SumOfSigmoids

__all__ = ["AbstractFlowjaxCoupling", "AffineCoupling", "DeepSigmoidCoupling", "RQSplineCoupling"]

#: The affine scale is ``softplus(B · tanh(r / B))`` with this ``B``: it lies in
#: ``[softplus(-B), softplus(B)] ≈ [3.4e-4, 8.0]`` for every raw value ``r``.
AFFINE_RAW_SCALE_BOUND = 8.0


class _TransformerFromFlat(eqx.Module):
    """Rebuilds the scalar transformer from a flat vector of conditioner outputs.

    The transformer's parameters are its initial unconstrained parameters plus the
    conditioner's output, exactly as in flowjax's own constructor. The initial parameters
    are held here as a ``paramax.NonTrainable`` array leaf rather than inside a closure,
    so that casting the layer's arrays (to float32, say) casts them too and the layer
    computes in one dtype.
    """

    initial: Any  # paramax.NonTrainable holding a flat float array
    rebuild: Callable[[Array], AbstractBijection] = eqx.field(static=True)

    def __init__(self, transformer: AbstractBijection):
        params, static = eqx.partition(
            transformer,
            eqx.is_inexact_array,
            is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable),
        )
        flat, unravel = ravel_pytree(params)
        self.initial = paramax.NonTrainable(flat)
        self.rebuild = _Rebuild(unravel, static, params)

    def __call__(self, flat: Array) -> AbstractBijection:
        return self.rebuild(flat + paramax.unwrap(self.initial))


class _Rebuild:
    """``flat ↦ combine(unravel(flat), static)``: a static field, equal by structure.

    Two rebuilds are equal when they rebuild the same structure (parameter shapes,
    static fields and non-array leaves), so layers built separately with the same sizes
    have equal tree structures: they stack, share compilations, and a model file's
    rebuilt skeleton matches the saved model.
    """

    def __init__(self, unravel: Callable[[Array], Any], static: Any, params: Any):
        self._unravel, self._static = unravel, static
        leaves, treedef = jax.tree.flatten(static)
        shapes = tuple(tuple(a.shape) for a in jax.tree.leaves(params))
        self._key = (jax.tree.structure(params), shapes, treedef, tuple(map(_hashable, leaves)))

    def __call__(self, flat: Array) -> AbstractBijection:
        return eqx.combine(self._unravel(flat), self._static)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rebuild) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)


def _hashable(leaf: Any) -> Any:
    """A static leaf as a hashable key (arrays by their bytes)."""
    if isinstance(leaf, (np.ndarray, jax.Array)):
        host = np.asarray(leaf)
        return (host.shape, str(host.dtype), host.tobytes())
    if isinstance(leaf, types.FunctionType):
        # flowjax builds some functions (a lambda per spline) afresh in every layer: equal
        # when their code and captured values are.
        cells = tuple(_hashable(cell.cell_contents) for cell in leaf.__closure__ or ())
        return (leaf.__module__, leaf.__qualname__, leaf.__code__, cells)
    return leaf


def _flowjax_coupling(
    key: PRNGKeyArray,
    transformer: AbstractBijection,
    *,
    shape: tuple[int, ...],
    nn_width: int,
    nn_depth: int,
    nn_activation: Callable[[Array], Array],
    cond_dim: int | None,
) -> Coupling:
    """flowjax's ``Coupling`` with passive half ``d // 2`` and a dtype-following transformer."""
    dim = _event_dim(shape)
    cond_dim = None if cond_dim is None else check_int("cond_dim", cond_dim)
    coupling = Coupling(
        key,
        transformer=transformer,
        untransformed_dim=dim // 2,
        dim=dim,
        cond_dim=cond_dim,
        nn_width=check_int("nn_width", nn_width),
        nn_depth=check_int("nn_depth", nn_depth, least=0),
        nn_activation=nn_activation,
    )
    return eqx.tree_at(
        lambda c: c.transformer_constructor, coupling, _TransformerFromFlat(transformer)
    )


def _event_dim(shape: tuple[int, ...]) -> int:
    shape = tuple(shape)
    if len(shape) != 1:
        raise ValueError(f"a coupling layer needs a 1-D event shape (d,); got {shape!r}")
    dim = check_int("shape[0]", shape[0])
    if dim < 2:
        raise ValueError(f"a coupling layer needs d >= 2 dimensions; got shape {shape!r}")
    return dim


def _bounded_softplus(raw: Array) -> Array:
    """``softplus(B · tanh(raw / B))``: a positive scale in ``[3.4e-4, 8.0]`` for ``B = 8``."""
    bound = AFFINE_RAW_SCALE_BOUND
    return jnn.softplus(bound * jnp.tanh(raw / bound))


def _bounded_affine() -> Affine:
    """flowjax's scalar ``Affine`` (identity at zero offset) with a bounded positive scale."""
    bound = AFFINE_RAW_SCALE_BOUND
    raw_identity = bound * jnp.arctanh(inv_softplus(1.0) / bound)
    return eqx.tree_at(
        lambda a: a.scale, Affine(0.0, 1.0), paramax.Parameterize(_bounded_softplus, raw_identity)
    )


class AbstractFlowjaxCoupling(AbstractBijection):
    """A coupling layer that runs one flowjax ``Coupling``, held at ``_coupling``.

    Subclasses build the ``Coupling`` with their transformer; this base runs it. An
    unconditional layer passes ``None`` on instead of the condition. The results are cast
    to the type of the input and the conditioner's weights: paramax builds the spline's
    interval end points as default-precision arrays, which would otherwise lift a float32
    layer's spline outputs to float64 when 64-bit mode is on.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import AffineCoupling
        >>> AffineCoupling(jr.key(0), shape=(4,), nn_width=8).untransformed_dim
        2

    References:
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """

    _coupling: eqx.AbstractVar[Coupling]

    @property
    def untransformed_dim(self) -> int:
        """Number of passive (copied) leading coordinates, ``d // 2``."""
        return self._coupling.untransformed_dim

    def _run(
        self,
        method: Callable[[Array, Array | None], tuple[Array, Array]],
        x: Array,
        condition: Array | None,
    ) -> tuple[Array, Array]:
        condition = None if self.cond_shape is None else condition
        dtype = jnp.result_type(x.dtype, self._coupling.conditioner.layers[0].weight.dtype)
        y, log_det = method(x, condition)
        return y.astype(dtype), log_det.astype(dtype)

    def transform_and_log_det(self, x, condition=None):
        return self._run(self._coupling.transform_and_log_det, x, condition)

    def inverse_and_log_det(self, y, condition=None):
        return self._run(self._coupling.inverse_and_log_det, y, condition)


class AffineCoupling(AbstractFlowjaxCoupling):
    r"""Affine coupling: :math:`z_B = s(x_A)\,x_B + t(x_A)` with a positive scale.

    The passive half :math:`x_A` (the first ``d // 2`` coordinates) is copied; each
    active coordinate is scaled and shifted by amounts the conditioner computes from
    :math:`x_A` (and the condition). The transformer is flowjax's ``Affine``, its scale a
    bounded softplus, :math:`s = \mathrm{softplus}(8 \tanh(r / 8)) \in [3.4\cdot10^{-4},
    8.0]`, so a single layer can neither collapse nor blow up volume by more than that
    factor per coordinate, which keeps deep stacks finite; the log-determinant is
    :math:`\sum_B \log s`. At zero conditioner output the transformer is the identity.
    The inverse is exact.

    Args:
        key: JAX random key (the conditioner's initialisation).
        shape: Event shape ``(d,)``, ``d >= 2``.
        nn_width: Hidden width of the conditioner MLP.
        nn_depth: Number of hidden layers of the conditioner MLP.
        cond_dim: Size of the condition concatenated onto the conditioner's input;
            ``None`` for an unconditional layer (which ignores any condition).
        nn_activation: Hidden activation of the conditioner.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import AffineCoupling
        >>> layer = AffineCoupling(jr.key(0), shape=(4,), nn_width=16)
        >>> x = jnp.array([0.5, -1.0, 2.0, 0.1])
        >>> z, log_det = layer.transform_and_log_det(x)
        >>> bool(jnp.all(z[:2] == x[:2])), bool(jnp.allclose(layer.inverse(z), x))
        (True, True)

    References:
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """

    _coupling: Coupling
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] | None = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        shape: tuple[int, ...],
        nn_width: int = 64,
        nn_depth: int = 2,
        cond_dim: int | None = None,
        nn_activation: Callable[[Array], Array] = jnn.relu,
    ):
        self._coupling = _flowjax_coupling(
            key,
            _bounded_affine(),
            shape=shape,
            nn_width=nn_width,
            nn_depth=nn_depth,
            nn_activation=nn_activation,
            cond_dim=cond_dim,
        )
        self.shape = self._coupling.shape
        self.cond_shape = self._coupling.cond_shape


class RQSplineCoupling(AbstractFlowjaxCoupling):
    r"""Rational-quadratic spline coupling: each active coordinate through a monotone spline.

    The transformer is flowjax's ``RationalQuadraticSpline`` with ``n_bins`` bins on
    ``[-interval, interval]`` (``n_bins - 1`` inner knots) and the identity outside; the
    conditioner sets the bin widths, heights and knot derivatives of every active
    coordinate from the passive half (and the condition). Forward, inverse (closed form)
    and log-determinant are exact.

    Args:
        key: JAX random key (the conditioner's initialisation).
        shape: Event shape ``(d,)``, ``d >= 2``.
        n_bins: Number of spline bins.
        interval: Half-width of the spline's interval.
        nn_width: Hidden width of the conditioner MLP.
        nn_depth: Number of hidden layers of the conditioner MLP.
        cond_dim: Size of the condition concatenated onto the conditioner's input;
            ``None`` for an unconditional layer (which ignores any condition).
        nn_activation: Hidden activation of the conditioner.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import RQSplineCoupling
        >>> layer = RQSplineCoupling(jr.key(0), shape=(2,), n_bins=8, interval=4.0, cond_dim=1)
        >>> layer.cond_shape
        (1,)
        >>> x, c = jnp.array([0.3, -1.2]), jnp.array([0.5])
        >>> bool(jnp.allclose(layer.inverse(layer.transform(x, c), c), x))
        True

    References:
        Durkan, Bekasov, Murray and Papamakarios (2019), "Neural spline flows", NeurIPS.
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """

    _coupling: Coupling
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] | None = eqx.field(static=True)
    n_bins: int = eqx.field(static=True)
    interval: float = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        shape: tuple[int, ...],
        n_bins: int = 8,
        interval: float = 5.0,
        nn_width: int = 64,
        nn_depth: int = 2,
        cond_dim: int | None = None,
        nn_activation: Callable[[Array], Array] = jnn.relu,
    ):
        n_bins = check_int("n_bins", n_bins)
        if not interval > 0:
            raise ValueError(f"interval must be positive; got {interval!r}")
        spline = RationalQuadraticSpline(knots=n_bins - 1, interval=float(interval))
        self._coupling = _flowjax_coupling(
            key,
            spline,
            shape=shape,
            nn_width=nn_width,
            nn_depth=nn_depth,
            nn_activation=nn_activation,
            cond_dim=cond_dim,
        )
        self.shape = self._coupling.shape
        self.cond_shape = self._coupling.cond_shape
        self.n_bins = n_bins
        self.interval = float(interval)


class DeepSigmoidCoupling(AbstractFlowjaxCoupling):
    r"""Sum-of-sigmoids coupling: each active coordinate through a monotone sigmoid sum.

    The transformer is :class:`~gauss_flows.bijections.SumOfSigmoids`,
    :math:`T(x) = \alpha x + \sum_k w_k (\sigma(a_k x + b_k) - \tfrac12)` with
    :math:`\alpha, w_k, a_k` positive through softplus, whose ``4K + 1`` unconstrained
    parameters per active coordinate the conditioner sets from the passive half (and the
    condition). It is strictly increasing with linear tails, so it is invertible on the
    whole real line; the inverse is a bracketed, safeguarded Newton solve with
    implicit-function gradients.

    Args:
        key: JAX random key (the conditioner's initialisation).
        shape: Event shape ``(d,)``, ``d >= 2``.
        n_components: Number of sigmoid units, ``K``.
        nn_width: Hidden width of the conditioner MLP.
        nn_depth: Number of hidden layers of the conditioner MLP.
        cond_dim: Size of the condition concatenated onto the conditioner's input;
            ``None`` for an unconditional layer (which ignores any condition).
        nn_activation: Hidden activation of the conditioner.
        max_inverse_steps: Iteration cap of the inverse's solver.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import DeepSigmoidCoupling
        >>> layer = DeepSigmoidCoupling(jr.key(0), shape=(2,), nn_width=32, n_components=8)
        >>> x = jnp.array([0.7, -1.5])
        >>> bool(jnp.allclose(layer.inverse(layer.transform(x)), x))
        True

    References:
        Huang, Krueger, Lacoste and Courville (2018), "Neural autoregressive flows", ICML.
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """

    _coupling: Coupling
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] | None = eqx.field(static=True)
    n_components: int = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        shape: tuple[int, ...],
        n_components: int = 8,
        *,
        nn_width: int = 64,
        nn_depth: int = 2,
        cond_dim: int | None = None,
        nn_activation: Callable[[Array], Array] = jnn.relu,
        max_inverse_steps: int = 100,
    ):
        transformer = SumOfSigmoids(n_components, max_inverse_steps=max_inverse_steps)
        self._coupling = _flowjax_coupling(
            key,
            transformer,
            shape=shape,
            nn_width=nn_width,
            nn_depth=nn_depth,
            nn_activation=nn_activation,
            cond_dim=cond_dim,
        )
        self.shape = self._coupling.shape
        self.cond_shape = self._coupling.cond_shape
        self.n_components = n_components
