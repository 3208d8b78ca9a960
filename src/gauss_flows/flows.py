"""Builders of Gaussianization flows: flowjax ``Transformed`` distributions over N(0, I)."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.distributions import AbstractDistribution, Transformed
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._validation import check_int

from gauss_flows.bijections import GaussianizationStack, HouseholderRotation
from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.coupling import MixtureGaussianCDFCoupling
from gauss_flows.bijections.coupling_block import CouplingGaussianizationBlock
from gauss_flows.bijections.diagonal_block import GaussianizationBlock
from gauss_flows.bijections.families import (
    MARGINAL_FAMILIES,
    ROTATION_FAMILIES,
    make_marginal,
    make_rotation,
)
from gauss_flows.bijections.flowjax_couplings import RQSplineCoupling
from gauss_flows.bijections.rotation_marginal_block import RotationMarginalBlock
from gauss_flows.bijections.spline_coupling_block import SplineCouplingBlock
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.conditional_stack import ConditionalGaussianizationStack
from gauss_flows.layout import assemble_conditional_flow, assemble_flow, gaussianizer


def gaussianization_flow(
    key: PRNGKeyArray,
    *,
    n_dims: int,
    n_layers: int = 8,
    n_components: int = 8,
    rotation: str = "householder",
    n_reflections: int | None = None,
    marginal: str = "mixture",
    n_bins: int = 16,
    interval: float = 5.0,
    base_dist: AbstractDistribution | None = None,
    loc: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    mean_scale: float = 1.0,
    log_scale_center: float = -0.5,
    log_scale_spread: float = 0.5,
) -> Transformed:
    """A randomly initialised, trainable Gaussianization flow.

    The density is ``Transformed(base, Invert(G))`` where the Gaussianizer ``G`` (a
    :class:`GaussianizationStack`) first standardises (a fixed affine map) and then applies
    ``n_layers`` blocks, each a rotation then a per-dimension marginal Gaussianization,
    stacked along depth and applied in one scan. With the defaults (Householder
    rotations, Gaussian-mixture marginals) the blocks are :class:`GaussianizationBlock`;
    other families give :class:`RotationMarginalBlock`. :func:`fit_rbig` with the same
    sizes and marginal family returns the same pytree structure, so a greedy fit can
    replace this random start.

    Args:
        key: JAX random key.
        n_dims: Data dimension.
        n_layers: Number of blocks.
        n_components: Mixture components per dimension in each block (the mixture
            families).
        rotation: Rotation family: ``"householder"`` (products of trainable Householder
            reflections) or ``"orthogonal"`` (the Cayley map of a skew-symmetric matrix,
            always a proper rotation).
        n_reflections: Reflections per Householder rotation (default ``n_dims``).
        marginal: Marginal family: ``"mixture"`` (Gaussian-mixture CDFs),
            ``"logistic_mixture"``, ``"histogram"`` (histogram CDFs with exponential
            tails) or ``"spline"`` (rational-quadratic splines with identity tails).
        n_bins: Bins per dimension of the histogram and spline families.
        interval: Half-width of the spline family's domain.
        base_dist: The latent distribution, a flowjax distribution of shape
            ``(n_dims,)``; ``None`` is the standard normal. Model files store the
            standard normal only.
        loc: Per-dimension location of the standardisation (defaults to 0).
        scale: Per-dimension scale of the standardisation (defaults to 1).
        mean_scale: Spread of the random component means (mixture family).
        log_scale_center: Centre of the random component log scales (mixture family).
        log_scale_spread: Spread of the random component log scales (mixture family).

    Returns:
        A flowjax ``Transformed`` distribution with ``log_prob`` and ``sample``.

    Raises:
        ValueError: For a size that is not a positive integer or an unknown family.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=4)
        >>> flow.sample(jr.key(1), (5,)).shape
        (5, 2)
        >>> spline = gf.gaussianization_flow(jr.key(0), n_dims=2, marginal="spline", n_bins=8)

    References:
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """
    n_dims, n_layers, n_components = check_sizes(
        n_dims=n_dims, n_layers=n_layers, n_components=n_components
    )
    if rotation not in ROTATION_FAMILIES:
        raise ValueError(
            f"unknown rotation family {rotation!r}; choose one of {', '.join(ROTATION_FAMILIES)}"
        )
    if marginal not in MARGINAL_FAMILIES:
        raise ValueError(
            f"unknown marginal family {marginal!r}; choose one of {', '.join(MARGINAL_FAMILIES)}"
        )
    fast = rotation == "householder" and marginal == "mixture" and n_reflections in (None, n_dims)

    def make_block(k: PRNGKeyArray) -> AbstractGaussianizationBlock:
        k_rot, k_marg = jr.split(k)
        if fast:
            return GaussianizationBlock(
                HouseholderRotation.random(k_rot, n_dims=n_dims),
                MixtureGaussianCDF.random(
                    k_marg,
                    n_dims=n_dims,
                    n_components=n_components,
                    mean_scale=mean_scale,
                    log_scale_center=log_scale_center,
                    log_scale_spread=log_scale_spread,
                ),
            )
        return RotationMarginalBlock(
            make_rotation(rotation, k_rot, n_dims=n_dims, n_reflections=n_reflections),
            make_marginal(
                marginal,
                k_marg,
                n_dims=n_dims,
                n_components=n_components,
                n_bins=n_bins,
                interval=interval,
            ),
        )

    flow = _stacked_flow(key, n_layers, loc, scale, make_block)
    return flow if base_dist is None else with_base(flow, base_dist)


def conditional_gaussianization_flow(
    key: PRNGKeyArray,
    *,
    n_dims: int,
    cond_dim: int,
    n_layers: int = 8,
    n_components: int = 8,
    nn_width: int = 32,
    nn_depth: int = 1,
    nn_activation: Callable[[Array], Array] = jax.nn.silu,
    output_scale: float = 0.0,
    offset_bound: float = 3.0,
    log_scale_bound: float = 3.0,
    loc: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    cond_loc: ArrayLike | None = None,
    cond_scale: ArrayLike | None = None,
    architecture: str = "diagonal",
    input_bound: float = 4.0,
) -> Transformed:
    r"""A trainable conditional Gaussianization flow :math:`p(x \mid y)` (a cold start).

    The diagonal flow of :func:`gaussianization_flow` (Householder rotations, mixture-CDF
    marginals) whose every block's marginal parameters are moved by bounded offsets from
    a network of the standardised condition
    (:class:`~gauss_flows.bijections.ConditionalGaussianizationStack`). It has the
    structure of ``fit_rbig(X, condition=Y)`` with the same sizes. With
    ``architecture="coupling"`` each block's networks also read one part of the rotated
    point (conditional coupling blocks), the structure of
    ``fit_rbig(X, condition=Y, architecture="coupling")``.

    Args:
        key: JAX random key.
        n_dims: Data dimension.
        cond_dim: Condition dimension.
        n_layers: Number of blocks.
        n_components: Mixture components per dimension.
        nn_width: Hidden width of each block's condition network.
        nn_depth: Hidden layers of each block's condition network.
        nn_activation: Hidden activation of the condition networks.
        output_scale: Factor on the networks' initial output weights.
        offset_bound: Bound of the offsets to logits and means.
        log_scale_bound: Bound of the offsets to log scales.
        loc: Per-dimension location of the data's standardisation (default 0).
        scale: Per-dimension scale of the data's standardisation (default 1).
        cond_loc: Per-column location of the condition's standardisation (default 0).
        cond_scale: Per-column scale of the condition's standardisation (default 1).
        architecture: ``"diagonal"`` or ``"coupling"`` blocks (see
            :class:`~gauss_flows.bijections.ConditionalGaussianizationStack`).
        input_bound: Soft clip of the point's part a coupling network reads.

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.conditional_gaussianization_flow(jr.key(0), n_dims=2, cond_dim=1, n_layers=2)
        >>> flow.log_prob(jnp.zeros((3, 2)), condition=jnp.ones((3, 1))).shape
        (3,)
    """
    k_flow, k_net = jr.split(key)
    cond_dim = check_int("cond_dim", cond_dim)
    flow = gaussianization_flow(
        k_flow, n_dims=n_dims, n_layers=n_layers, n_components=n_components, loc=loc, scale=scale
    )
    cond_loc = jnp.zeros(cond_dim) if cond_loc is None else cond_loc
    cond_scale = jnp.ones(cond_dim) if cond_scale is None else cond_scale
    stack = ConditionalGaussianizationStack(
        k_net, gaussianizer(flow), cond_loc, cond_scale, nn_width=nn_width, nn_depth=nn_depth,
        nn_activation=nn_activation, output_scale=output_scale, offset_bound=offset_bound,
        log_scale_bound=log_scale_bound, architecture=architecture, input_bound=input_bound,
    )
    return assemble_conditional_flow(stack)


def with_base(flow: Transformed, base_dist: AbstractDistribution) -> Transformed:
    """The same flow over another latent distribution of the same shape.

    Raises:
        ValueError: If ``base_dist`` has another shape or is conditional.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from flowjax.distributions import StudentT
        >>> import gauss_flows as gf
        >>> from gauss_flows.flows import with_base
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> type(with_base(flow, StudentT(jnp.full(2, 5.0))).base_dist).__name__
        'StudentT'
    """
    if not isinstance(base_dist, AbstractDistribution):
        raise TypeError(f"base_dist must be a flowjax distribution; got {type(base_dist).__name__}")
    if base_dist.shape != flow.shape or base_dist.cond_shape is not None:
        raise ValueError(
            f"base_dist must be unconditional with shape {flow.shape}; got shape "
            f"{base_dist.shape} and cond_shape {base_dist.cond_shape}"
        )
    return Transformed(base_dist, flow.bijection)


def check_sizes(*, n_dims: int, n_layers: int, n_components: int) -> tuple[int, int, int]:
    """The flow's sizes as ``int``; a ``ValueError`` names the first that is not a positive integer.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.flows import check_sizes
        >>> check_sizes(n_dims=2, n_layers=np.int64(4), n_components=8)
        (2, 4, 8)
    """
    return (
        check_int("n_dims", n_dims),
        check_int("n_layers", n_layers),
        check_int("n_components", n_components),
    )


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
    n_components: int | None = None,
    n_bins: int | None = None,
    interval: float = 5.0,
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

    Two coupling families: mixture-CDF couplings (the default, and the structure
    :func:`fit_rbig_coupling` warm-starts) and rational-quadratic spline couplings
    (``n_bins`` given). The spline flow's blocks are a Householder rotation and one
    :class:`RQSplineCoupling` each (:class:`SplineCouplingBlock`); the conditioners'
    ``nn_*`` sizes and activation apply to both families, the mixture options
    (``n_components``, ``output_scale``, the bounds, the random-base spreads) to the
    mixture family only.

    The density is ``Transformed(N(0, I), Invert(G))``: the Gaussianizer ``G`` (a
    :class:`GaussianizationStack`) standardises (a fixed affine map) and then applies
    ``n_layers`` blocks, stacked along depth and applied in one scan, each a
    Householder rotation followed by two :class:`MixtureGaussianCDFCoupling` layers: the first
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
        n_components: Mixture components per dimension in each coupling (default 8);
            mixture family only.
        n_bins: Spline bins per dimension: builds the spline coupling flow instead.
        interval: Half-width of the splines' domain (spline family).
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
        >>> spline = gf.coupling_gaussianization_flow(jr.key(0), n_dims=2, n_layers=2, n_bins=8)

    References:
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """
    if n_bins is not None:
        if n_components is not None:
            raise ValueError(
                "give n_components (mixture-CDF couplings) or n_bins (spline couplings), not both"
            )
        return _spline_coupling_flow(
            key, n_dims=n_dims, n_layers=n_layers, n_bins=n_bins, interval=interval,
            nn_width=nn_width, nn_depth=nn_depth, nn_activation=nn_activation, loc=loc,
            scale=scale,
        )
    n_components = 8 if n_components is None else n_components
    n_dims, n_layers, n_components = check_sizes(
        n_dims=n_dims, n_layers=n_layers, n_components=n_components
    )
    n_dims, nn_width, nn_depth = check_coupling_sizes(
        n_dims=n_dims, nn_width=nn_width, nn_depth=nn_depth
    )
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
            MixtureGaussianCDFCoupling.random(k_first, cond_first=True, **options),
            MixtureGaussianCDFCoupling.random(k_second, cond_first=False, **options),
        )

    return _stacked_flow(key, n_layers, loc, scale, make_block)


def _spline_coupling_flow(
    key: PRNGKeyArray,
    *,
    n_dims: int,
    n_layers: int,
    n_bins: int,
    interval: float,
    nn_width: int,
    nn_depth: int,
    nn_activation: Callable[[Array], Array],
    loc: ArrayLike | None,
    scale: ArrayLike | None,
) -> Transformed:
    """:func:`coupling_gaussianization_flow`'s spline family."""
    n_layers, n_bins = check_int("n_layers", n_layers), check_int("n_bins", n_bins)
    n_dims, nn_width, nn_depth = check_coupling_sizes(
        n_dims=n_dims, nn_width=nn_width, nn_depth=nn_depth
    )

    def make_block(k: PRNGKeyArray) -> SplineCouplingBlock:
        k_rot, k_coupling = jr.split(k)
        return SplineCouplingBlock(
            HouseholderRotation.random(k_rot, n_dims=n_dims),
            RQSplineCoupling(
                k_coupling, shape=(n_dims,), n_bins=n_bins, interval=interval,
                nn_width=nn_width, nn_depth=nn_depth, nn_activation=nn_activation,
            ),
        )

    return _stacked_flow(key, n_layers, loc, scale, make_block)


def check_coupling_sizes(*, n_dims: int, nn_width: int, nn_depth: int) -> tuple[int, int, int]:
    """The coupling sizes as ``int``; a ``ValueError`` for sizes a coupling flow cannot have.

    Example:
        >>> from gauss_flows.flows import check_coupling_sizes
        >>> check_coupling_sizes(n_dims=2, nn_width=32, nn_depth=1)
        (2, 32, 1)
    """
    n_dims = check_int("n_dims", n_dims)
    if n_dims < 2:
        raise ValueError(
            f"a coupling flow needs at least 2 dimensions; got n_dims={n_dims} "
            "(use gaussianization_flow for 1-D data)"
        )
    return n_dims, check_int("nn_width", nn_width), check_int("nn_depth", nn_depth, least=0)
