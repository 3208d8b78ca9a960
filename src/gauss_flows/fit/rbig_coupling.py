"""The greedy RBIG fit written as a coupling Gaussianization flow (its warm start)."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.random as jr
from flowjax.distributions import Transformed
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows import layout
from gauss_flows._validation import as_data_matrix
from gauss_flows.bijections import (
    CouplingGaussianizationBlock,
    GaussianizationBlock,
    HouseholderRotation,
    MixtureGaussianCDFCoupling,
)
from gauss_flows.fit.marginal_families import KDEFit
from gauss_flows.fit.marginal_fit import MixtureFit
from gauss_flows.fit.rbig import _fit_greedy, _greedy_settings, greedy_defaults
from gauss_flows.flows import check_coupling_sizes


def fit_rbig_coupling(
    X: ArrayLike,
    key: PRNGKeyArray | None = None,
    *,
    n_layers: int | None = 4,
    n_components: int = 8,
    random_state: int | None = 0,
    nn_width: int = 32,
    nn_depth: int = 1,
    nn_activation: Callable[[Array], Array] = jax.nn.silu,
    input_bound: float = 4.0,
    offset_bound: float = 3.0,
    log_scale_bound: float = 2.0,
    **fit_rbig_options: object,
) -> Transformed:
    """Fit RBIG greedily and write the result as a trainable coupling Gaussianization flow.

    The greedy fit is that of :func:`fit_rbig` with ``n_layers``, ``n_components``,
    ``random_state`` and ``fit_rbig_options``. Each of its blocks, rotation +
    per-dimension mixture-CDF map, becomes a block of
    :func:`coupling_gaussianization_flow`: the same rotation, then two
    :class:`MixtureGaussianCDFCoupling` layers whose base mixtures are the fitted mixtures of the
    dimensions they transform and whose conditioners have zero output weights (hidden
    layers random from ``key``). So the returned flow computes exactly the greedy map,
    has the pytree structure of ``coupling_gaussianization_flow`` with the same sizes,
    and gradient training (:func:`train_flow`) starts from the greedy fit.

    With ``component_counts`` (a :func:`fit_rbig` option) the dimensions that take fewer
    components hold them in repeated slots. Repeated components get equal gradients, so
    they stay equal under training and the chosen counts hold during fine-tuning: a
    regulariser of the trained flow.

    Args:
        X: Data, shape ``(n_samples, n_dims)`` with ``n_dims >= 2``.
        key: JAX random key for the conditioners' hidden layers; ``None`` means
            ``jax.random.key(random_state)``.
        n_layers: Number of blocks (``None``: chosen by the greedy fit's depth rule).
        n_components: Mixture components per dimension.
        random_state: Integer random state of the greedy fit (``None``: 0).
        nn_width: Hidden width of each conditioner MLP.
        nn_depth: Hidden layers of each conditioner MLP.
        nn_activation: Hidden activation of the conditioners.
        input_bound: Soft clip of the conditioners' inputs.
        offset_bound: Bound of the conditioners' offsets to logits and means.
        log_scale_bound: Bound of the conditioners' offsets to log scales.
        **fit_rbig_options: Further keyword arguments of :func:`fit_rbig` (``rotation``,
            ``marginal``, ``val_data``, ``component_counts``, ``progress``, ...), with its
            defaults.

    Returns:
        A flowjax ``Transformed`` distribution: ``Transformed(N(0, I), Invert(G))``.

    Raises:
        ValueError: For bad data (as :func:`fit_rbig`), data with fewer than 2 columns,
            or invalid settings.
        TypeError: For keywords :func:`fit_rbig` does not take.

    Example:
        >>> import jax.random as jr
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((500, 2))
        >>> flow = gf.fit_rbig_coupling(X, jr.key(0), n_layers=2, n_components=4)
        >>> flow.log_prob(X[:3]).shape
        (3,)

    References:
        Laparra, Camps-Valls & Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).

        Dinh, Sohl-Dickstein & Bengio (2017), "Density estimation using Real NVP", ICLR.
    """
    # fit_rbig's own defaults for the options not given; the sizes are this function's.
    if fit_rbig_options.get("condition") is not None:
        raise ValueError(
            "fit_rbig_coupling fits unconditional flows; for p(x | y) use "
            "fit_rbig(X, condition=Y) or fit_density(X, condition=Y)"
        )
    fit_rbig_options.pop("condition", None)
    options = {**greedy_defaults(), **fit_rbig_options}
    options.update(n_layers=n_layers, n_components=n_components, random_state=random_state)
    settings = _greedy_settings("fit_rbig_coupling", **options)
    if not isinstance(settings.marginal, (MixtureFit, KDEFit)):
        raise ValueError(
            "fit_rbig_coupling writes Gaussian-mixture marginals into its couplings; give a "
            f"mixture or KDE marginal, not {settings.marginal!r}"
        )
    X = as_data_matrix(X, min_rows=settings.min_rows)
    n_dims = X.shape[1]
    n_dims, nn_width, nn_depth = check_coupling_sizes(
        n_dims=n_dims, nn_width=nn_width, nn_depth=nn_depth
    )
    key = jr.key(settings.random_state) if key is None else key
    greedy = _fit_greedy(X, settings)
    conditioner = dict(
        n_dims=n_dims, nn_width=nn_width, nn_depth=nn_depth, nn_activation=nn_activation,
        input_bound=input_bound, offset_bound=offset_bound, log_scale_bound=log_scale_bound,
    )

    def couple(k: PRNGKeyArray, block: GaussianizationBlock) -> CouplingGaussianizationBlock:
        k_first, k_second = jr.split(k)
        split = n_dims // 2
        mixtures = (block.logits, block.means, block.log_scales)
        tail, head = [p[split:] for p in mixtures], [p[:split] for p in mixtures]
        return CouplingGaussianizationBlock(
            HouseholderRotation(params=block.vectors[::-1], signs=block.signs),
            MixtureGaussianCDFCoupling.from_mixture(k_first, *tail, cond_first=True, **conditioner),
            MixtureGaussianCDFCoupling.from_mixture(
                k_second, *head, cond_first=False, **conditioner
            ),
        )

    fitted = layout.blocks(greedy)
    keys = jr.split(key, layout.n_layers(greedy))
    return layout.with_blocks(greedy, eqx.filter_vmap(couple)(keys, fitted))
