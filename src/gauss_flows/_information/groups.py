"""Total correlations of column groups of one set of normal scores, all by one path.

Every dependence measure is a signed sum of total correlations of column groups:
``TC(X)`` itself, ``I(X; Y) = TC(XY) − TC(X) − TC(Y)``, conditional MI, interaction
information, dual total correlation, O-information, the pairwise MI matrix. Their
estimates agree with one another only if every group is measured the same way, so the
way is decided once, on the joint scores:

* where the elliptical-copula candidate beats the Gaussian copula on held-out rows
  (:func:`~gauss_flows._information.elliptical.choose_elliptical`), every group is
  measured under that elliptical family (the ν chosen on the joint) on the same folds,
  so the biases of the groups' estimates largely cancel from the signed sum;
* otherwise every group is the closed-form Gaussian part (a sub-block of one
  correlation matrix, its exact bias removed) plus the rank-RBIG remainder of its
  columns.

Each group's remainder takes its own ``salt`` (its own rotations).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Array

from gauss_flows._information.elliptical import (
    Elliptical,
    choose_elliptical,
    elliptical_parts,
    elliptical_total_correlation,
)
from gauss_flows._information.gaussian import correlation, gaussian_tc
from gauss_flows._information.remainder import Remainder, remainder_of_scores, remainder_value
from gauss_flows._information.settings import InformationSettings


class GroupTotalCorrelations:
    """Total correlations of column groups of the normal scores ``z``, one path for all.

    Args:
        z: Normal scores of the joint sample, shape ``(n, d)``.
        settings: How to estimate.

    Attributes:
        chosen: The elliptical candidate chosen on all of ``z``, or ``None`` (the
            Gaussian part plus rank-RBIG remainder for every group).
        r: The correlation matrix of ``z``, whose sub-blocks are the Gaussian parts.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.groups import GroupTotalCorrelations
        >>> from gauss_flows.information import InformationSettings
        >>> z = np.random.default_rng(0).normal(size=(1000, 3))
        >>> groups = GroupTotalCorrelations(z, InformationSettings())
        >>> groups.chosen is None, abs(groups.tc([0, 1], salt=1)) < 0.05
        (True, True)
    """

    def __init__(self, z: Array, settings: InformationSettings) -> None:
        self.z = z
        self.s = settings
        self.n, self.d = z.shape
        self.r = correlation(z)
        self.chosen: Elliptical | None = choose_elliptical(z, settings)

    def _all(self, cols: np.ndarray) -> bool:
        return cols.size == self.d and bool(np.all(cols == np.arange(self.d)))

    def tc(self, cols, salt: int = 0) -> float:
        """Total correlation of the columns ``cols`` (0 for fewer than two).

        ``salt`` keys the rotations of the group's remainder.
        """
        cols = np.asarray(cols, dtype=int).reshape(-1)
        if cols.size < 2:
            return 0.0
        if self.chosen is not None:
            every = self._all(cols)
            z = self.z if every else self.z[:, cols]
            heldout = self.chosen.heldout if every else None
            return elliptical_total_correlation(z, self.chosen.nu, self.s, salt, heldout)
        gaussian, rest = self._gaussian_path(cols, salt)
        return gaussian + rest

    def _gaussian_path(self, cols: np.ndarray, salt: int) -> tuple[float, float]:
        """The Gaussian part (a sub-block of ``r``) and rank-RBIG remainder of ``cols``."""
        every = self._all(cols)
        r = self.r if every else self.r[np.ix_(cols, cols)]
        z = self.z if every else self.z[:, cols]
        return gaussian_tc(r, self.n), remainder_value(z, self.s, salt)

    def signed_sum(self, terms) -> float:
        """``Σ c · TC(cols)`` over ``terms``, triples ``(c, cols, salt)``.

        On the Gaussian path the closed-form parts are summed first and the remainders
        after, so the exactly computed part is not rounded into the noisy one.
        """
        if self.chosen is not None:
            return float(sum(c * self.tc(cols, salt) for c, cols, salt in terms))
        gaussian, rest = 0.0, 0.0
        for c, cols, salt in terms:
            cols = np.asarray(cols, dtype=int).reshape(-1)
            if cols.size < 2:
                continue
            g, r = self._gaussian_path(cols, salt)
            gaussian, rest = gaussian + c * g, rest + c * r
        return float(gaussian + rest)

    def parts(self, salt: int = 0) -> tuple[float, float, Remainder]:
        """The total correlation of all columns in parts: Gaussian, radial, remainder.

        The Gaussian part is ``−½ log det R`` (bias removed). Where the elliptical
        candidate is chosen, the radial part is what its radial Gaussianization removed
        beyond the Gaussian part, and the remainder is that of the radially Gaussianized
        rows; otherwise the radial part is 0 and the remainder is that of the scores. The
        sum of the three (remainder: its ``value``) is :meth:`tc` of all columns.
        """
        gaussian = float(gaussian_tc(self.r, self.n))
        if self.chosen is None:
            return gaussian, 0.0, remainder_of_scores(self.z, self.s, salt)
        radial, rest = elliptical_parts(self.z, self.chosen.nu, self.s, salt, self.chosen.heldout)
        return gaussian, float(radial) - gaussian, rest
