r"""FFJORD: a free-form continuous normalizing flow solved with diffrax.

The map is the flow of the ODE :math:`\dot x = f_\theta(t, x)` from :math:`t_0` to
:math:`t_1`; its log-determinant follows the instantaneous change of variables,

.. math::
    \log\left|\det \frac{\partial x(t_1)}{\partial x(t_0)}\right|
    = \int_{t_0}^{t_1} \operatorname{tr}\!\left(\frac{\partial f_\theta}{\partial x}(t, x_t)\right) \mathrm{d}t,

integrated with the state as one augmented ODE. The inverse solves the same ODE from
:math:`t_1` back to :math:`t_0`, which negates the integral.

Example:
    >>> import jax.numpy as jnp
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=(8,))
    >>> flow = gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf)
    >>> y, log_det = flow.transform_and_log_det(jnp.array([0.3, -0.2]))
    >>> bool(jnp.allclose(flow.inverse(y), jnp.array([0.3, -0.2]), atol=1e-4))
    True

References:
    Chen, R. T. Q. et al. (2018). Neural ordinary differential equations. NeurIPS.
    Grathwohl, W. et al. (2019). FFJORD: free-form continuous dynamics for scalable
    reversible generative models. ICLR.
    Kidger, P. (2021). On neural differential equations. PhD thesis, Oxford.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, PRNGKeyArray

from gauss_flows._validation import check_int, check_number
from gauss_flows.continuous.divergence import (
    PROBE_DISTRIBUTIONS,
    probes,
    value_and_exact_divergence,
    value_and_hutchinson_divergence,
)
from gauss_flows.continuous.vector_field import AbstractVectorField

__all__ = ["ADJOINTS", "DIVERGENCE_MODES", "FFJORD", "SOLVERS"]

#: Solver names and the number of new vector-field evaluations per step (FSAL counted).
SOLVERS: dict[str, int] = {"tsit5": 6, "dopri5": 6, "bosh3": 3, "heun": 2}
#: How gradients pass through the solve.
ADJOINTS = ("recursive_checkpoint", "direct", "backsolve")
#: How the divergence is computed.
DIVERGENCE_MODES = ("exact", "hutchinson")


# States kept for backpropagation through a solve (per point).
_CHECKPOINTS = 32


def _diffrax() -> Any:
    # Imported on first use, so that importing gauss_flows does not import diffrax.
    import diffrax

    return diffrax


def _solver(name: str) -> Any:
    diffrax = _diffrax()
    return {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5, "bosh3": diffrax.Bosh3,
            "heun": diffrax.Heun}[name]()


def _adjoint(name: str, max_steps: int) -> Any:
    diffrax = _diffrax()
    if name == "recursive_checkpoint":
        # Solves that take at most _CHECKPOINTS steps are differentiated without
        # recomputation; longer ones recompute stretches between checkpoints (treeverse).
        return diffrax.RecursiveCheckpointAdjoint(checkpoints=min(max_steps, _CHECKPOINTS))
    if name == "direct":
        return diffrax.DirectAdjoint()
    return diffrax.BacksolveAdjoint()


def _choice(name: str, value: object, options) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value  # type: ignore[return-value]


class _Dynamics(eqx.Module):
    """The right-hand side of a solve: the state alone, or augmented with the log-det
    (and the two penalty integrals).

    A module with static fields rather than a fresh closure per call: equal settings give
    equal terms, so diffrax's compiled solve is reused from call to call.
    """

    mode: str = eqx.field(static=True)
    with_log_det: bool = eqx.field(static=True)
    penalties: bool = eqx.field(static=True)

    def __call__(self, t, y, args):
        vf, condition, eps = args
        if not self.with_log_det:
            return vf(t, y, condition)
        x = y[0]
        fn = lambda z: vf(t, z, condition)  # noqa: E731
        if not self.penalties:
            if self.mode == "exact":
                return value_and_exact_divergence(fn, x)
            return value_and_hutchinson_divergence(fn, x, eps)
        # With the penalties: the kinetic energy |f|^2 and the Jacobian's squared Frobenius
        # norm (exact from the columns, or |J eps|^2, which is unbiased for it).
        value, linear = jax.linearize(fn, x)
        if self.mode == "exact":
            columns = jax.vmap(linear)(jnp.eye(x.shape[0], dtype=x.dtype))
            div, frobenius = jnp.trace(columns), jnp.sum(columns**2)
        else:
            products = jax.vmap(linear)(eps)
            div = jnp.mean(jnp.sum(products * eps, axis=-1))
            frobenius = jnp.mean(jnp.sum(products**2, axis=-1))
        return value, div, jnp.sum(value**2), frobenius


class FFJORD(AbstractBijection):
    r"""A continuous normalizing flow: the flow map of a learned vector field.

    ``transform`` integrates :math:`t_0 \to t_1` (latent → data when used as
    ``Transformed(Normal(zeros(d)), ffjord)``), ``inverse`` integrates :math:`t_1 \to t_0`
    (data → latent, the Gaussianizing direction). The vector field needs no invertibility
    constraint. Solves use an adaptive step (a PID controller on ``rtol``/``atol``; the
    tolerances are raised to 100 times the machine epsilon of the data's dtype where they
    are finer); a solve that does not finish within ``max_steps`` returns NaN, which the
    training loops report as a non-finite loss.

    The divergence is exact (one Jacobian-vector product per dimension per evaluation) or
    Hutchinson's estimate with ``n_hutchinson_samples`` probes, drawn once from ``key`` and
    reused at every call and every step: the log-determinant is then a deterministic,
    differentiable function of the parameters, an unbiased estimate over probe draws.

    With ``control_dim > 0`` the layer is conditional: ``cond_shape`` is
    ``(1 + control_dim,)`` and the condition (``pack_time_control(t, control)``) is passed
    to the vector field at every step. With ``control_dim = 0`` ``cond_shape`` is ``None``
    and a condition passed to it is ignored.

    Args:
        key: Key of the Hutchinson probes (unused in exact mode).
        shape: The event shape ``(d,)``.
        vector_field: The drift, an :class:`AbstractVectorField` with ``in_dim == d``.
        control_dim: Dimension of the control signal; must match the vector field's.
        divergence_mode: ``"exact"`` or ``"hutchinson"``.
        n_hutchinson_samples: Number of probes in Hutchinson mode.
        probe_distribution: ``"rademacher"`` or ``"normal"``.
        solver: ``"tsit5"``, ``"dopri5"``, ``"bosh3"`` or ``"heun"``.
        adjoint: ``"recursive_checkpoint"`` (discretise then differentiate), ``"direct"``
            (also forward-mode differentiable) or ``"backsolve"`` (the continuous adjoint).
        rtol: Relative tolerance of the step-size controller.
        atol: Absolute tolerance of the step-size controller.
        max_steps: Most solver steps per solve.
        t_span: The integration interval ``(t0, t1)``.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from flowjax.distributions import Normal, Transformed
        >>> import gauss_flows as gf
        >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=(8,), zero_output=True)
        >>> flow = Transformed(Normal(jnp.zeros(2)), gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf))
        >>> round(float(flow.log_prob(jnp.zeros(2))), 4)  # a zero drift is the identity
        -1.8379

    References:
        Grathwohl, W. et al. (2019). FFJORD: free-form continuous dynamics for scalable
        reversible generative models. ICLR.
    """

    vector_field: AbstractVectorField
    trace_key: Array  # the probes' key, as its raw uint32 data (storable in model files)
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] | None = eqx.field(static=True)
    control_dim: int = eqx.field(static=True)
    divergence_mode: str = eqx.field(static=True)
    n_hutchinson_samples: int = eqx.field(static=True)
    probe_distribution: str = eqx.field(static=True)
    solver: str = eqx.field(static=True)
    adjoint: str = eqx.field(static=True)
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    t_span: tuple[float, float] = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        shape: tuple[int, ...],
        vector_field: AbstractVectorField,
        control_dim: int = 0,
        divergence_mode: str = "exact",
        n_hutchinson_samples: int = 1,
        probe_distribution: str = "rademacher",
        solver: str = "tsit5",
        adjoint: str = "recursive_checkpoint",
        rtol: float = 1e-6,
        atol: float = 1e-6,
        max_steps: int = 4096,
        t_span: tuple[float, float] = (0.0, 1.0),
    ):
        shape = tuple(shape)
        if len(shape) != 1:
            raise ValueError(f"FFJORD acts on vectors: shape must be (d,); got {shape}")
        self.shape = (check_int("shape[0]", shape[0]),)
        if not isinstance(vector_field, AbstractVectorField):
            raise ValueError(
                f"vector_field must be an AbstractVectorField (e.g. DiffeqMLP); got {type(vector_field).__name__}"
            )
        if vector_field.in_dim != self.shape[0]:
            raise ValueError(
                f"the vector field has in_dim={vector_field.in_dim}; the flow's shape is {self.shape}"
            )
        self.control_dim = check_int("control_dim", control_dim, least=0)
        if vector_field.control_dim != self.control_dim:
            raise ValueError(
                f"control_dim={self.control_dim} but the vector field has control_dim={vector_field.control_dim}"
            )
        self.cond_shape = (1 + self.control_dim,) if self.control_dim else None
        self.vector_field = vector_field
        self.trace_key = jr.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else jnp.asarray(key)
        self.divergence_mode = _choice("divergence_mode", divergence_mode, DIVERGENCE_MODES)
        self.n_hutchinson_samples = check_int("n_hutchinson_samples", n_hutchinson_samples)
        self.probe_distribution = _choice("probe_distribution", probe_distribution, PROBE_DISTRIBUTIONS)
        self.solver = _choice("solver", solver, tuple(SOLVERS))
        self.adjoint = _choice("adjoint", adjoint, ADJOINTS)
        self.rtol = check_number("rtol", rtol)
        self.atol = check_number("atol", atol)
        self.max_steps = check_int("max_steps", max_steps)
        t0, t1 = (check_number(f"t_span[{i}]", t, low=-math.inf) for i, t in enumerate(t_span))
        if t0 == t1:
            raise ValueError(f"t_span must be an interval of non-zero length; got {t_span}")
        self.t_span = (t0, t1)

    # The dynamics and the solve ---------------------------------------------------------

    def _probes(self, dtype) -> Array | None:
        if self.divergence_mode == "exact":
            return None
        return probes(jr.wrap_key_data(self.trace_key), self.n_hutchinson_samples, self.shape[0], self.probe_distribution, dtype)

    def _solve(
        self, x: Array, condition, *, forward: bool, with_log_det: bool, stats: bool = False,
        penalties: bool = False,
    ):
        diffrax = _diffrax()
        dtype = x.dtype
        t0, t1 = self.t_span if forward else self.t_span[::-1]
        condition = condition if self.control_dim else None
        floor = 100.0 * float(jnp.finfo(dtype).eps)
        zero = jnp.zeros((), dtype)
        y0 = x
        if with_log_det:
            y0 = (x, zero, zero, zero) if penalties else (x, zero)
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(_Dynamics(self.divergence_mode, with_log_det, penalties)),
            _solver(self.solver),
            t0=t0,
            t1=t1,
            dt0=None,
            y0=y0,
            args=(self.vector_field, condition, self._probes(dtype)),
            stepsize_controller=diffrax.PIDController(
                rtol=max(self.rtol, floor), atol=max(self.atol, floor)
            ),
            adjoint=_adjoint(self.adjoint, self.max_steps),
            max_steps=self.max_steps,
            throw=False,
        )
        failed = sol.result != diffrax.RESULTS.successful
        end = jax.tree.map(lambda a: jnp.where(failed, jnp.nan, a[-1]).astype(dtype), sol.ys)
        if stats:
            return end, sol.stats
        return end

    # The bijection ------------------------------------------------------------------------

    def transform(self, x, condition=None):
        """The flow map from ``t0`` to ``t1`` (no log-determinant is integrated)."""
        return self._solve(*self._checked(x, condition), forward=True, with_log_det=False)

    def inverse(self, y, condition=None):
        """The flow map from ``t1`` back to ``t0``."""
        return self._solve(*self._checked(y, condition), forward=False, with_log_det=False)

    def transform_and_log_det(self, x, condition=None):
        return self._solve(x, condition, forward=True, with_log_det=True)

    def inverse_and_log_det(self, y, condition=None):
        return self._solve(y, condition, forward=False, with_log_det=True)

    def inverse_and_penalties(self, y: Array, condition: Array | None = None) -> tuple[Array, Array, Array, Array]:
        r"""The inverse, its log-determinant and the two regularisation integrals at ``y``.

        Returns:
            ``(x, log_det, kinetic, jacobian)``: the latent point and the inverse's
            log-determinant (as :meth:`inverse_and_log_det`), the kinetic energy
            :math:`\int \|f\|^2 \mathrm{d}t` and the Jacobian's squared Frobenius norm
            :math:`\int \|\partial f / \partial x\|_F^2 \mathrm{d}t` along the path (the
            latter estimated with the Hutchinson probes in that mode).

        Example:
            >>> import jax.numpy as jnp
            >>> import jax.random as jr
            >>> import gauss_flows as gf
            >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=(8,), zero_output=True)
            >>> flow = gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf)
            >>> [abs(float(v)) for v in flow.inverse_and_penalties(jnp.ones(2))[1:]]
            [0.0, 0.0, 0.0]

        References:
            Finlay, C. et al. (2020). How to train your neural ODE: the world of Jacobian
            and kinetic regularization. ICML.
        """
        y, condition = self._checked(y, condition)
        x, log_det, kinetic, jacobian = self._solve(
            y, condition, forward=False, with_log_det=True, penalties=True
        )
        # Integrated from t1 back to t0, the integrals of |f|^2 and |J|^2 carry dt's sign.
        sign = 1.0 if self.t_span[0] > self.t_span[1] else -1.0
        return x, log_det, sign * kinetic, sign * jacobian

    def _checked(self, x, condition):
        # transform and inverse are not wrapped by flowjax's argument check; the same rules.
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(float)
        if x.shape != self.shape:
            raise ValueError(f"Expected input shape {self.shape}; got {x.shape}")
        if self.cond_shape is not None:
            if condition is None:
                raise ValueError("Expected condition to be provided.")
            condition = jnp.asarray(condition)
            if condition.shape != self.cond_shape:
                raise ValueError(f"Expected condition.shape {self.cond_shape}; got {condition.shape}")
        return x, condition

    def with_options(self, **options: Any) -> FFJORD:
        """The same vector field and probe key with other solver options (e.g. ``rtol``).

        Example:
            >>> import jax.random as jr
            >>> import gauss_flows as gf
            >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=(8,))
            >>> gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf).with_options(rtol=1e-7).rtol
            1e-07
        """
        current = {
            "shape": self.shape, "vector_field": self.vector_field, "control_dim": self.control_dim,
            "divergence_mode": self.divergence_mode, "n_hutchinson_samples": self.n_hutchinson_samples,
            "probe_distribution": self.probe_distribution, "solver": self.solver,
            "adjoint": self.adjoint, "rtol": self.rtol, "atol": self.atol,
            "max_steps": self.max_steps, "t_span": self.t_span,
        }
        unknown = set(options) - set(current) - {"key"}
        if unknown:
            raise ValueError(f"unknown FFJORD options: {', '.join(sorted(unknown))}")
        key = options.pop("key", jr.wrap_key_data(self.trace_key))
        return FFJORD(key, **(current | options))

    def solve_stats(self, x: Array, condition: Array | None = None, *, inverse: bool = True) -> dict[str, Array]:
        """Solver statistics of one log-density solve at the point ``x``.

        Returns:
            ``num_steps`` (accepted and rejected), ``num_accepted_steps``,
            ``num_rejected_steps`` and ``nfe``, the number of vector-field evaluations
            (the solver's new stages per step, and two for the initial step size).

        Example:
            >>> import jax.numpy as jnp
            >>> import jax.random as jr
            >>> import gauss_flows as gf
            >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=(8,), zero_output=True)
            >>> flow = gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf)
            >>> int(flow.solve_stats(jnp.zeros(2))["num_steps"]) >= 1
            True
        """
        x, condition = self._checked(x, condition)
        _, stats = self._solve(x, condition, forward=not inverse, with_log_det=True, stats=True)
        out = {k: stats[k] for k in ("num_steps", "num_accepted_steps", "num_rejected_steps")}
        out["nfe"] = stats["num_steps"] * SOLVERS[self.solver] + 2
        return out
