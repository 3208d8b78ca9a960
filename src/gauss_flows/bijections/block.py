"""The interface every Gaussianization block implements.

A Gaussianization flow's Gaussianizer (:class:`~gauss_flows.bijections.GaussianizationStack`)
holds one block module whose array leaves carry a leading depth axis. The stack, model
files, the recipe and inspection only talk to blocks through this interface: how to run a
whole stacked depth, where the block keeps its rotation, and which builder (with which
size arguments) rebuilds a stack of such blocks. A new kind of block plugs in by
implementing it; nothing else needs to learn its layout.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, PyTree

__all__ = ["AbstractGaussianizationBlock"]


class AbstractGaussianizationBlock(AbstractBijection):
    """One block of a Gaussianization flow: a rotation, then monotone per-dimension maps.

    Concrete blocks are final classes. ``builder`` names the public flow builder of
    :mod:`gauss_flows.flows` that builds a stack of such blocks; :meth:`architecture`
    gives that builder's size arguments, read from a stacked block (the stack adds
    ``n_dims`` and ``n_layers``).

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> blocks = layout.blocks(gf.gaussianization_flow(jr.key(0), n_dims=2, n_components=3))
        >>> blocks.builder, blocks.architecture()
        ('gaussianization_flow', {'n_components': 3})
    """

    builder: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def stacked_transform_and_log_det(self, x: Array) -> tuple[Array, Array]:
        """Apply every block of a stack (leaves with a leading depth axis) in order."""

    @abc.abstractmethod
    def stacked_inverse_and_log_det(self, z: Array) -> tuple[Array, Array]:
        """Undo every block of a stack, last block first."""

    @abc.abstractmethod
    def rotation_parts(self) -> PyTree:
        """The sub-trees of this block that hold its rotation's trainable arrays.

        Usable as ``equinox.tree_at``'s ``where`` on any pytree with the block's
        structure (for instance a filter spec of booleans).
        """

    @abc.abstractmethod
    def sub_steps(self) -> tuple[AbstractBijection, ...]:
        """This block's layers, in the order they apply, as flowjax bijections of their own.

        A view for inspection, for one block (not a stack): each layer is rebuilt from
        the block's current arrays, the rotation as a
        :class:`~gauss_flows.bijections.FixedRotation` holding its current matrix. Their
        composition is exactly the block's map; training acts on the block, not on them.
        """

    @abc.abstractmethod
    def architecture(self) -> dict[str, Any]:
        """Keyword arguments of :attr:`builder` (besides ``n_dims`` and ``n_layers``)."""
