"""The layout of a Gaussianization flow: the one module that knows where its parts are.

Every flow the library builds or fits is ``Transformed(N(0, I), Invert(G))``, where the
Gaussianizer ``G`` is a :class:`~gauss_flows.bijections.GaussianizationStack`: a fixed
standardisation followed by blocks stacked along depth. Code that needs the Gaussianizer,
its blocks or its depth asks this module, so a change of layout is made here once.

Example:
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> from gauss_flows import layout
    >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)
    >>> layout.n_layers(flow)
    3
"""

from __future__ import annotations

import jax
import paramax
from flowjax.bijections import Chain, Invert
from flowjax.distributions import StandardNormal, Transformed
from jaxtyping import Array, ArrayLike

from gauss_flows.bijections import (
    AbstractGaussianizationBlock,
    ConditionalGaussianizationStack,
    GaussianizationStack,
)

__all__ = [
    "assemble_conditional_flow",
    "assemble_flow",
    "conditional_gaussianizer",
    "is_conditional_flow",
    "blocks",
    "data_to_latent_layers",
    "from_latent",
    "gaussianizer",
    "is_gaussianization_flow",
    "n_layers",
    "to_latent",
    "with_blocks",
]


def assemble_flow(stack: GaussianizationStack) -> Transformed:
    """Wrap a Gaussianizer (data → latent) as a density: ``Transformed(N(0, I), Invert(G))``.

    Args:
        stack: The Gaussianizer.

    Returns:
        The flow, whose ``log_prob`` runs the Gaussianizer forward.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> same = layout.assemble_flow(layout.gaussianizer(flow))
        >>> bool((same.log_prob(jr.normal(jr.key(1), (2,))) ==
        ...       flow.log_prob(jr.normal(jr.key(1), (2,)))).all())
        True
    """
    if not isinstance(stack, GaussianizationStack):
        raise TypeError(f"a flow is assembled from a GaussianizationStack; got {type(stack).__name__}")
    return Transformed(StandardNormal(stack.shape), Invert(stack))


def assemble_conditional_flow(stack: ConditionalGaussianizationStack) -> Transformed:
    """Wrap a conditional Gaussianizer as the density ``p(x | y)``: ``Transformed(N(0, I), Invert(G))``.

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> X, Y = jr.normal(jr.key(0), (200, 2)), jr.normal(jr.key(1), (200, 1))
        >>> flow = gf.fit_rbig(X, condition=Y, n_layers=2, n_components=3)
        >>> layout.is_conditional_flow(flow), flow.cond_shape
        (True, (1,))
    """
    if not isinstance(stack, ConditionalGaussianizationStack):
        raise TypeError(
            f"a conditional flow is assembled from a ConditionalGaussianizationStack; got "
            f"{type(stack).__name__}"
        )
    return Transformed(StandardNormal(stack.shape), Invert(stack))


def is_conditional_flow(flow: object) -> bool:
    """Whether ``flow`` is a conditional Gaussianization flow of the library's layout.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> rng = np.random.default_rng(0)
        >>> X, Y = rng.standard_normal((200, 2)), rng.standard_normal((200, 1))
        >>> layout.is_conditional_flow(gf.fit_rbig(X, condition=Y, n_layers=1))
        True
        >>> layout.is_conditional_flow(gf.fit_rbig(X, n_layers=1))
        False
    """
    return (
        isinstance(flow, Transformed)
        and isinstance(flow.bijection, Invert)
        and isinstance(flow.bijection.bijection, ConditionalGaussianizationStack)
    )


def conditional_gaussianizer(flow: Transformed) -> ConditionalGaussianizationStack:
    """The conditional flow's Gaussianizer ``G(x | y)`` (data → latent).

    Raises:
        TypeError: If ``flow`` is not a conditional flow of the library's layout.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> rng = np.random.default_rng(0)
        >>> X, Y = rng.standard_normal((200, 2)), rng.standard_normal((200, 1))
        >>> G = layout.conditional_gaussianizer(gf.fit_rbig(X, condition=Y, n_layers=1))
        >>> G.shape, G.cond_shape
        ((2,), (1,))
    """
    if not is_conditional_flow(flow):
        raise TypeError(
            "expected a conditional Gaussianization flow, "
            f"Transformed(N(0, I), Invert(ConditionalGaussianizationStack)); got {type(flow).__name__}"
        )
    return flow.bijection.bijection


def is_gaussianization_flow(flow: object) -> bool:
    """Whether ``flow`` has the layout of the library's flows.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> layout.is_gaussianization_flow(gf.gaussianization_flow(jr.key(0), n_dims=2))
        True
    """
    return (
        isinstance(flow, Transformed)
        and isinstance(flow.bijection, Invert)
        and isinstance(flow.bijection.bijection, GaussianizationStack)
    )


def gaussianizer(flow: Transformed) -> GaussianizationStack:
    """The flow's Gaussianizer ``G`` (data → latent), with its standardisation and blocks.

    Raises:
        TypeError: If ``flow`` does not have the library's layout.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, scale=2.0)
        >>> layout.gaussianizer(flow).scale.tolist()
        [2.0, 2.0]
    """
    if not is_gaussianization_flow(flow):
        raise TypeError(
            f"expected a Gaussianization flow, Transformed(N(0, I), Invert(GaussianizationStack)); "
            f"got {type(flow).__name__}"
        )
    return flow.bijection.bijection


def blocks(flow: Transformed) -> AbstractGaussianizationBlock:
    """The flow's blocks: one block module whose array leaves carry a leading depth axis.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)
        >>> type(layout.blocks(flow)).__name__
        'GaussianizationBlock'
    """
    return gaussianizer(flow).blocks


def n_layers(flow: Transformed) -> int:
    """The flow's depth: its number of blocks.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> layout.n_layers(gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=5))
        5
    """
    return gaussianizer(flow).n_layers


def with_blocks(flow: Transformed, new_blocks: AbstractGaussianizationBlock) -> Transformed:
    """The flow with its blocks replaced, standardisation kept.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)
        >>> layout.n_layers(layout.with_blocks(flow, layout.blocks(flow)))
        3
    """
    return assemble_flow(gaussianizer(flow).with_blocks(new_blocks))


def data_to_latent_layers(flow: Transformed) -> list:
    """The layers ``flow.log_prob`` applies (by their inverses), in the order it applies them.

    For ``Transformed(base, Chain([b_1, …, b_k]))`` that is ``[b_k, …, b_1]``; for any other
    bijection ``[bijection]`` (e.g. a library flow's ``[Invert(G)]``, or an FFJORD).

    Raises:
        TypeError: If ``flow`` is not a flowjax ``Transformed`` distribution.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> [type(b).__name__ for b in layout.data_to_latent_layers(gf.gaussianization_flow(jr.key(0), n_dims=2))]
        ['Invert']
    """
    if not isinstance(flow, Transformed):
        raise TypeError(f"expected a flowjax Transformed distribution; got {type(flow).__name__}")
    bijection = flow.bijection
    return list(bijection.bijections)[::-1] if isinstance(bijection, Chain) else [bijection]


def to_latent(flow: Transformed, X: ArrayLike) -> Array:
    """Map data rows to the Gaussian latent (the Gaussianizer forward), batched.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2)
        >>> layout.to_latent(flow, jnp.zeros((4, 2))).shape
        (4, 2)
    """
    stack = paramax.unwrap(gaussianizer(flow))
    return jax.vmap(stack.transform)(X)


def from_latent(flow: Transformed, Z: ArrayLike) -> Array:
    """Map latent rows back to data (the Gaussianizer's inverse), batched.

    Example:
        >>> import jax.random as jr
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2)
        >>> X = jr.normal(jr.key(1), (4, 2))
        >>> bool(np.allclose(layout.from_latent(flow, layout.to_latent(flow, X)), X, atol=1e-6))
        True
    """
    stack = paramax.unwrap(gaussianizer(flow))
    return jax.vmap(stack.inverse)(Z)
