"""Builders of Gaussianization flows: flowjax ``Transformed`` distributions over N(0, I)."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.distributions import Transformed
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._validation import check_int

from gauss_flows.bijections import GaussianizationStack, HouseholderRotation
from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.coupling import MixtureCDFCoupling
from gauss_flows.bijections.coupling_block import CouplingGaussianizationBlock
from gauss_flows.bijections.diagonal_block import GaussianizationBlock
from gauss_flows.bijections.marginal import MixtureCDFGaussianization
from gauss_flows.layout import assemble_flow


def gaussianization_flow(
    key: PRNGKeyArray,
    *,
    n_dims: int,
    n_layers: int = 8,
    n_components: int = 8,
    loc: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    mean_scale: float = 1.0,
    log_scale_center: float = -0.5,
    log_scale_spread: float = 0.5,
) -> Transformed:
    """A randomly initialised, trainable Gaussianization flow.

    The density is ``Transformed(N(0, I), Invert(G))`` where the Gaussianizer ``G`` (a
    :class:`GaussianizationStack`) first standardises (a fixed affine map) and then applies
    ``n_layers`` blocks of Householder rotation + mixture-CDF marginal Gaussianization
    (:class:`GaussianizationBlock`), stacked along depth and applied in one scan. ``fit_rbig``
    with the same sizes returns the same pytree structure, so a greedy fit can replace
    this random start.

    Args:
        key: JAX random key.
        n_dims: Data dimension.
        n_layers: Number of blocks.
        n_components: Mixture components per dimension in each block.
        loc: Per-dimension location of the standardisation (defaults to 0).
        scale: Per-dimension scale of the standardisation (defaults to 1).
        mean_scale: Spread of the random component means.
        log_scale_center: Centre of the random component log scales.
        log_scale_spread: Spread of the random component log scales.

    Returns:
        A flowjax ``Transformed`` distribution with ``log_prob`` and ``sample``.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=4)
        >>> flow.sample(jr.key(1), (5,)).shape
        (5, 2)

    References:
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """
    check_sizes(n_dims=n_dims, n_layers=n_layers, n_components=n_components)

    def make_block(k: PRNGKeyArray) -> GaussianizationBlock:
        k_rot, k_marg = jr.split(k)
        return GaussianizationBlock(
            HouseholderRotation.random(k_rot, n_dims=n_dims),
            MixtureCDFGaussianization.random(
                k_marg,
                n_dims=n_dims,
                n_components=n_components,
                mean_scale=mean_scale,
                log_scale_center=log_scale_center,
                log_scale_spread=log_scale_spread,
            ),
        )

    return _stacked_flow(key, n_layers, loc, scale, make_block)


def check_sizes(*, n_dims: int, n_layers: int, n_components: int) -> None:
    """A ``ValueError`` naming the first of the flow's sizes that is not a positive integer.

    Example:
        >>> from gauss_flows.flows import check_sizes
        >>> check_sizes(n_dims=2, n_layers=4, n_components=8)
    """
    check_int("n_dims", n_dims)
    check_int("n_layers", n_layers)
    check_int("n_components", n_components)


def _stacked_flow(
    key: PRNGKeyArray,
    n_layers: int,
    loc: ArrayLike | None,
    scale: ArrayLike | None,
    make_block: Callable[[PRNGKeyArray], AbstractGaussianizationBlock],
) -> Transformed:
    """The flow of ``n_layers`` blocks from ``make_block``, behind the standardisation.

    ``loc`` and ``scale`` are broadcast to the blocks' shape; 0 and 1 where not given.
    """
    blocks = eqx.filter_vmap(make_block)(jr.split(key, n_layers))
    moments = [0.0 if loc is None else loc, 1.0 if scale is None else scale]
    loc, scale = (jnp.broadcast_to(jnp.asarray(v, float), blocks.shape) for v in moments)
    return assemble_flow(GaussianizationStack(loc, scale, blocks))


# ---- coupling Gaussianization flows ----


def coupling_gaussianization_flow(
    key: PRNGKeyArray,
    *,
    n_dims: int,
    n_layers: int = 4,
    n_components: int = 8,
    nn_width: int = 32,
    nn_depth: int = 1,
    nn_activation: Callable[[Array], Array] = jax.nn.silu,
    loc: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    output_scale: float = 0.1,
    input_bound: float = 4.0,
    offset_bound: float = 3.0,
    log_scale_bound: float = 2.0,
    mean_scale: float = 1.0,
    log_scale_center: float = -0.5,
    log_scale_spread: float = 0.5,
) -> Transformed:
    """A randomly initialised, trainable coupling Gaussianization flow.

    The density is ``Transformed(N(0, I), Invert(G))``: the Gaussianizer ``G`` (a
    :class:`GaussianizationStack`) standardises (a fixed affine map) and then applies
    ``n_layers`` blocks, stacked along depth and applied in one scan, each a
    Householder rotation followed by two :class:`MixtureCDFCoupling` layers: the first
    ``n_dims // 2`` dimensions condition the mixture-CDF maps of the rest, then the rest
    condition the first. :func:`fit_rbig_coupling` with the same sizes returns the same
    pytree structure, set to the greedy RBIG fit (the warm start).

    The defaults (4 blocks, i.e. 8 coupling layers; 8 components; conditioners with one
    hidden layer of 32 SiLU units) train well from this cold start with
    ``train_flow(..., peak_lr=3e-3)``, and from the greedy warm start with ``peak_lr=1e-3``
    (``docs/design.md``, "Coupling flows").

    Args:
        key: JAX random key.
        n_dims: Data dimension, at least 2.
        n_layers: Number of blocks (each holds two coupling layers).
        n_components: Mixture components per dimension in each coupling.
        nn_width: Hidden width of each conditioner MLP.
        nn_depth: Hidden layers of each conditioner MLP.
        nn_activation: Hidden activation of the conditioners.
        loc: Per-dimension location of the standardisation (defaults to 0).
        scale: Per-dimension scale of the standardisation (defaults to 1).
        output_scale: Factor on the conditioners' initial output weights.
        input_bound: Soft clip of the conditioners' inputs.
        offset_bound: Bound of the conditioners' offsets to logits and means.
        log_scale_bound: Bound of the conditioners' offsets to log scales.
        mean_scale: Spread of the random base component means.
        log_scale_center: Centre of the random base component log scales.
        log_scale_spread: Spread of the random base component log scales.

    Returns:
        A flowjax ``Transformed`` distribution with ``log_prob`` and ``sample``.

    Raises:
        ValueError: If ``n_dims < 2`` or a size is not a positive integer.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.coupling_gaussianization_flow(jr.key(0), n_dims=3, n_layers=2)
        >>> bool(flow.log_prob(flow.sample(jr.key(1), (5,))).shape == (5,))
        True

    References:
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """
    check_sizes(n_dims=n_dims, n_layers=n_layers, n_components=n_components)
    check_coupling_sizes(n_dims=n_dims, nn_width=nn_width, nn_depth=nn_depth)
    options = dict(
        n_dims=n_dims,
        n_components=n_components,
        nn_width=nn_width,
        nn_depth=nn_depth,
        nn_activation=nn_activation,
        output_scale=output_scale,
        input_bound=input_bound,
        offset_bound=offset_bound,
        log_scale_bound=log_scale_bound,
        mean_scale=mean_scale,
        log_scale_center=log_scale_center,
        log_scale_spread=log_scale_spread,
    )

    def make_block(k: PRNGKeyArray) -> CouplingGaussianizationBlock:
        k_rot, k_first, k_second = jr.split(k, 3)
        return CouplingGaussianizationBlock(
            HouseholderRotation.random(k_rot, n_dims=n_dims),
            MixtureCDFCoupling.random(k_first, cond_first=True, **options),
            MixtureCDFCoupling.random(k_second, cond_first=False, **options),
        )

    return _stacked_flow(key, n_layers, loc, scale, make_block)


def check_coupling_sizes(*, n_dims: int, nn_width: int, nn_depth: int) -> None:
    """A ``ValueError`` for sizes a coupling flow cannot have (fewer than 2 dimensions).

    Example:
        >>> from gauss_flows.flows import check_coupling_sizes
        >>> check_coupling_sizes(n_dims=2, nn_width=32, nn_depth=1)
    """
    if n_dims < 2:
        raise ValueError(
            f"a coupling flow needs at least 2 dimensions; got n_dims={n_dims} "
            "(use gaussianization_flow for 1-D data)"
        )
    check_int("nn_width", nn_width)
    check_int("nn_depth", nn_depth, least=0)
