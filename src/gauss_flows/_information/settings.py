"""The settings shared by every information measure, as one validated value."""

from __future__ import annotations

from dataclasses import dataclass

from gauss_flows._validation import check_int, check_number, check_random_state

__all__ = ["InformationSettings"]


@dataclass(frozen=True)
class InformationSettings:
    """How the information measures estimate: 1-D entropy spacing and the RBIG remainder.

    One value passed as ``settings=`` to :func:`~gauss_flows.entropy`,
    :func:`~gauss_flows.total_correlation`, :func:`~gauss_flows.mutual_information` and
    :func:`~gauss_flows.kl_divergence`; the defaults are those of every measure. The
    values are checked when the settings are made.

    Attributes:
        spacing: Spacing ``m`` of the 1-D entropy estimator; ``None`` picks
            ``round(n^{1/3} / 2.5)`` (at least 2) for ``n`` rows. It must stay below
            ``n / 2``.
        max_layers: Most rank-RBIG layers used to measure the non-Gaussian part of the
            total correlation.
        threshold: A layer counts only if its information reduction exceeds this many
            standard deviations of the reduction measured on Gaussian data of equal size.
        patience: Stop after this many layers in a row that do not count.
        n_reference: Gaussian reference runs used to calibrate the layers (at least 2;
            computed once per data size and cached).
        random_state: Integer that fixes the random rotations and the random order
            given to tied values (``None``: 0).
        elliptical_max_dims: Largest number of columns for which the elliptical-copula
            candidate (radial Gaussianization of Student-t-marginal scores, kept when its
            held-out log-likelihood beats the Gaussian copula's by ``threshold``
            standard errors) is tried before the rank-RBIG remainder; ``0`` never.

    Raises:
        ValueError: If a setting is not of its kind (positive integers, a non-negative
            ``threshold``, an integer ``random_state``).

    Example:
        >>> import gauss_flows as gf
        >>> settings = gf.InformationSettings(max_layers=20, random_state=1)
        >>> settings.max_layers, settings.threshold, settings.spacing
        (20, 3.0, None)

    References:
        Laparra, V., Camps-Valls, G. & Malo, J. (2011). Iterative Gaussianization: from
        ICA to random rotations. IEEE Transactions on Neural Networks 22(4).
        Laparra, V., Johnson, J. E., Camps-Valls, G., Santos-Rodríguez, R. & Malo, J.
        (2020). Information theory measures via multidimensional Gaussianization.
        arXiv:2010.03807.
    """

    spacing: int | None = None
    max_layers: int = 50
    threshold: float = 3.0
    patience: int = 3
    n_reference: int = 16
    random_state: int = 0
    elliptical_max_dims: int = 20

    def __post_init__(self) -> None:
        checked = {
            "spacing": None if self.spacing is None else check_int("spacing", self.spacing),
            "max_layers": check_int("max_layers", self.max_layers),
            "threshold": check_number("threshold", self.threshold, low_open=False),
            "patience": check_int("patience", self.patience),
            "n_reference": check_int("n_reference", self.n_reference, least=2),
            "random_state": check_random_state(self.random_state),
            "elliptical_max_dims": check_int(
                "elliptical_max_dims", self.elliptical_max_dims, least=0
            ),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
