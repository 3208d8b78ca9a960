"""Numerics of the mixture-CDF Gaussianization map, shared by every layer that uses it.

The map sends a scalar ``x`` to ``z = Φ⁻¹(F(x))`` where ``F(x) = Σ_k w_k Φ((x − μ_k)/σ_k)``
is the CDF of a ``K``-component Gaussian mixture. Everything is computed in log space:
``log F`` and ``log(1 − F)`` come from ``log Φ`` of each component, and ``Φ⁻¹`` is taken
from whichever tail is smaller, so the map and its log-derivative stay finite far outside
the data in float32 and float64.

The functions here act elementwise: ``x`` has shape ``(...)`` and each parameter array has
shape ``(..., K)``. Layers call them with one sample's vector of dimensions.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from gauss_flows._compile_mode import native_reductions_enabled

_LOG_HALF = math.log(0.5)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def normal_logpdf(z: Array) -> Array:
    """Log density of the standard normal, elementwise."""
    return -0.5 * z * z - _HALF_LOG_2PI


def saturation_point(dtype) -> float:
    """Largest ``|t|``, in standard deviations of a component, that the map resolves.

    ``t²/2`` must stay finite: ``1e18`` in float32 (``t² = 1e36`` against a largest float
    of ``3.4e38``), ``1e150`` in float64, and a tenth of the square root of the largest
    float in narrower floats.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections.mixture_cdf import saturation_point
        >>> saturation_point(jnp.float32), saturation_point(jnp.float64)
        (1e+18, 1e+150)
    """
    dtype = jnp.dtype(dtype)
    if dtype == jnp.float64:
        return 1e150
    if dtype == jnp.float32:
        return 1e18
    return math.sqrt(float(jnp.finfo(dtype).max)) / 10


def saturate(t: Array) -> Array:
    """``t`` clamped to ``±``:func:`saturation_point` of its dtype.

    A point farther than that from every component maps where the saturation point does,
    so the map is monotone (flat there) and finite for every finite input; where some
    component is within reach, the clamped components' mass is exactly zero and nothing
    changes.
    """
    cap = saturation_point(t.dtype)
    return jnp.clip(t, -cap, cap)


# Below this z the lower tail uses its asymptotic series, whose relative error at |z| ≥ 12
# is under 1e-9; above it erfc is accurate and, at 2e-33, still a normal float32.
_TAIL_Z = -12.0


def _series(z: Array) -> Array:
    """``|z| Φ(z)/φ(z) ≈ Σ (−1)^k (2k−1)!! / z^{2k}``, the asymptotic Mills-ratio series."""
    u = 1.0 / (z * z)
    return 1.0 - u * (1.0 - u * (3.0 - u * (15.0 - u * (105.0 - u * 945.0))))


def _lower_tail(z: Array) -> tuple[Array, Array]:
    """``(log Φ(z), Φ(z)/φ(z))`` for ``z ≤ 0``: erfc in the bulk, a series far out."""
    far = z < _TAIL_Z
    z_bulk = jnp.where(far, _TAIL_Z, z)
    log_cdf_bulk = jnp.log(0.5 * jax.lax.erfc(-z_bulk * _INV_SQRT2))
    mills_bulk = jnp.exp(log_cdf_bulk - normal_logpdf(z_bulk))
    z_far = jnp.where(far, z, _TAIL_Z)
    mills_far = _series(z_far) / -z_far
    log_cdf_far = normal_logpdf(z_far) + jnp.log(mills_far)
    return jnp.where(far, log_cdf_far, log_cdf_bulk), jnp.where(far, mills_far, mills_bulk)


def mills_ratio(z: Array) -> Array:
    """``Φ(z) / φ(z)`` for ``z ≤ 0``, accurate deep in the tail where both underflow."""
    return _lower_tail(jnp.minimum(z, 0.0))[1]


# Cephes ndtri: a rational in (p − ½)² for p > e^{−2}, and beyond, with x = √(−2 log p),
# z = −(x − log(x)/x − R(1/x)/x), R rational (one set for x < 8, one beyond).
_NDTRI_P0 = (
    -5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1,
    1.39312609387279679503e1, -1.23916583867381258016e0,
)
_NDTRI_Q0 = (
    1.0, 1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1,
    -2.25462687854119370527e2, 2.00260212380060660359e2, -8.20372256168333339912e1,
    1.59056225126211695515e1, -1.18331621121330003142e0,
)
_NDTRI_P1 = (
    4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1,
    4.40805073893200834700e1, 1.46849561928858024014e1, 2.18663306850790267539e0,
    -1.40256079171354495875e-1, -3.50424626827848203418e-2, -8.57456785154685413611e-4,
)
_NDTRI_Q1 = (
    1.0, 1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1,
    1.50425385692907503408e1, 2.50464946208309415979e0, -1.42182922854787788574e-1,
    -3.80806407691578277194e-2, -9.33259480895457427372e-4,
)
_NDTRI_P2 = (
    3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0,
    1.33303460815807542389e0, 2.01485389549179081538e-1, 1.23716634817820021358e-2,
    3.01581553508235416007e-4, 2.65806974686737550832e-6, 6.23974539184983293730e-9,
)
_NDTRI_Q2 = (
    1.0, 6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0,
    2.16236993594496635890e-1, 1.34204006088543189037e-2, 3.28014464682127739104e-4,
    2.89247864745380683936e-6, 6.79019408009981274425e-9,
)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _log_ndtri_lower(log_p: Array, p: Array | None = None) -> Array:
    """``Φ⁻¹(exp(log_p))`` for ``log_p ≤ log ½`` (the lower half), without derivatives.

    Cephes' ``ndtri`` written in ``log p``: the tail branch needs only ``√(−2 log p)``, so it
    holds where ``exp`` underflows (``log_p = −5e7`` gives ``z ≈ −1e4``; relative error
    below 1e-12 over ``z ∈ [−1e4, 0]`` in float64). A caller that has ``p`` itself passes
    it, which saves the exponential of the central branch (there ``p > e⁻²``).
    """
    central = log_p > -2.0
    p_central = jnp.exp(jnp.where(central, log_p, _LOG_HALF)) if p is None else p
    y = jnp.where(central, p_central, 0.5) - 0.5
    y2 = y * y
    x = jnp.sqrt(-2.0 * jnp.where(central, -2.0, log_p))
    v = 1.0 / x
    near = x < 8.0
    num = jnp.where(near, _horner(_NDTRI_P1, v), _horner(_NDTRI_P2, v))
    den = jnp.where(near, _horner(_NDTRI_Q1, v), _horner(_NDTRI_Q2, v))
    # Both branches as one fraction, so the whole function needs a single division:
    # central z = √(2π) y (Q0 + y² P0) / Q0, tail z = −(x − log(x)/x − num/(x den)).
    q0 = _horner(_NDTRI_Q0, y2)
    numerator = jnp.where(
        central, _SQRT_2PI * y * (q0 + y2 * _horner(_NDTRI_P0, y2)), (jnp.log(x) - x * x) * den + num
    )
    return numerator / jnp.where(central, q0, x * den)


@jax.custom_jvp
def log_ndtri(log_p: Array) -> Array:
    """Inverse standard-normal CDF of ``exp(log_p)`` for ``log_p ≤ log ½``.

    Accurate where ``exp(log_p)`` underflows (``log_p = -5e7`` gives ``z ≈ -1e4``). Its
    derivative comes from the inverse-function rule, not from differentiating the
    rational approximations.
    """
    return _log_ndtri_lower(jnp.minimum(log_p, _LOG_HALF))


@log_ndtri.defjvp
def _log_ndtri_jvp(primals, tangents):
    (log_p,), (dlog_p,) = primals, tangents
    z = log_ndtri(log_p)
    # dz/dlog_p = Φ(z) / φ(z), the Mills ratio at z.
    return z, dlog_p * mills_ratio(z)


# erfcx(y) = exp(y²) erfc(y) for y ≥ 0, with no exponential: (1 + 2y) erfcx(y) is smooth
# on [0, ∞) and, in t = (y − K)/(y + K) ∈ [−1, 1) with K = 3.75 (Shepherd & Laframboise,
# Math. Comp. 36, 1981), a degree-21 polynomial; its fit at Chebyshev nodes, written in
# powers of t, has relative error below 3e-15 over [0, 1e150] (3e-7 in float32).
_ERFCX_K = 3.75
_ERFCX_POLY = (
    -1.954192025883242e-09, 1.7583371026025172e-08, 1.8797327170517627e-08,
    -2.1445898205936188e-07, -5.088713211307971e-08, 1.6963105943787502e-06,
    -9.791707633050405e-07, -1.1400086521241136e-05, 2.2387462071731556e-05,
    5.162626530897359e-05, -0.0002901552839703089, 0.0002937213232416099,
    0.0017556261379707994, -0.009746581166744919, 0.02836227737848684,
    -0.058693398391869586, 0.09230432116345673, -0.10880393015423877,
    0.08227673849004752, 0.00358541548577207, -0.1402405985855466,
    1.2375126308378266,
)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)


def _horner(coeffs, x):
    """``Σ c_i x^(n−i)`` for coefficients given from the highest power down."""
    acc = coeffs[0] * jnp.ones_like(x)
    for c in coeffs[1:]:
        acc = acc * x + c
    return acc


def _erfcx(y: Array) -> Array:
    """``exp(y²) erfc(y)`` for ``y ≥ 0``, by one polynomial and two divisions."""
    # Past the cap the value is that of the cap, too large by y/cap: this matters only
    # where the callers' t² overflows in float32 (y > 1.8e19) and nowhere in float64.
    cap = 1e19 if y.dtype == jnp.float32 else 1e150
    y = jnp.minimum(y, cap)
    t = (y - _ERFCX_K) / (y + _ERFCX_K)
    # A division at the root: XLA materialises the result once instead of re-deriving the
    # polynomial inside every consumer, as it does for cheaper roots.
    return _horner(_ERFCX_POLY, t) / (2.0 * y + 1.0)


def _upper_mills(a: Array) -> Array:
    """``Φ(−a) / φ(a)`` for ``a ≥ 0``: the Mills ratio, with no exponential."""
    return _SQRT_HALF_PI * _erfcx(a * _INV_SQRT2)


def _sum_components(a: Array) -> Array:
    """Sum over the last (component) axis as a product with a vector of ones.

    On CPU, XLA runs a short-axis reduction as a kernel of its own that costs more than a
    matrix-vector product (``docs/design.md``, "Mixture-CDF numerics").
    """
    return jnp.matmul(a, jnp.ones(a.shape[-1], a.dtype), precision="highest")


def _sum_over(axis: int, a: Array) -> Array:
    """Sum over the component axis: a matrix-vector product when it is the last axis."""
    return _sum_components(a) if axis == -1 else jnp.sum(a, axis=axis)


def _sum_over_unrolled(axis: int, a: Array) -> Array:
    """Sum over the component axis as a chain of additions when it is not the last axis.

    For summands with a per-component parameter factor (``p_k/σ_k``): handed to YNNPACK
    as a reduction, XLA first materialises the broadcast factors and the products, and the
    reduction itself is slow; as additions of slices the products and the sum are one
    loop. For the other sums the reduction is the better choice (``docs/design.md``,
    "Mixture-CDF numerics").
    """
    if axis == -1:
        return _sum_components(a)
    axis = axis % a.ndim
    total = jax.lax.index_in_dim(a, 0, axis, keepdims=False)
    for k in range(1, a.shape[axis]):
        total = total + jax.lax.index_in_dim(a, k, axis, keepdims=False)
    return total


def _gaussianize_parts(x, logits, means, log_scales, axis=-1):
    """Forward pass of the mixture map and the pieces its derivative needs.

    With ``e_k = log w_k − t_k²/2``, ``m = max_k e_k`` and ``p_k = exp(e_k − m)`` (the only
    exponential per component), ``w_k φ(t_k) = κ p_k`` with ``κ = e^m/√(2π)``, and the
    smaller tail of each component is ``w_k Φ(−|t_k|) = κ p_k M_k`` with the Mills ratio
    ``M_k`` from a polynomial approximation. Each mixture tail is the sum of components on
    its small side, kept scaled by ``1/κ`` so it cannot underflow, plus those on its large
    side, which are at least half their weight; one logarithm of the combination gives the
    log tail.

    ``axis`` is the component axis of the parameters: −1, or −2 when a batch axis comes
    last (see :func:`_gaussianize_parts_batch_minor`).
    """
    log_w = jax.nn.log_softmax(logits, axis=axis)
    w = jnp.exp(log_w)
    inv_s = jnp.exp(-log_scales)
    t = saturate((jnp.expand_dims(x, axis) - means) * inv_s)
    e = log_w - 0.5 * t * t
    m = jnp.max(e, axis=axis, keepdims=True)
    p = jnp.exp(e - m)
    mills = _upper_mills(jnp.abs(t))
    # Materialise the per-component values once: without the barrier XLA re-derives them
    # inside every reduction that consumes them, which multiplies code size and compile time.
    t, p, mills = jax.lax.optimization_barrier((t, p, mills))
    s_hat = p * mills  # w_k Φ(−|t_k|) / κ
    kappa = jnp.exp(m - _HALF_LOG_2PI)
    big = w - kappa * s_hat  # w_k Φ(|t_k|) ≥ w_k / 2
    neg = t < 0
    zero = jnp.zeros_like(s_hat)
    m0 = jnp.squeeze(m, axis)
    shift = m0 - _HALF_LOG_2PI  # log κ
    # Each tail is B + κ S: the weights B of the components on their large side plus the
    # scaled masses S of those on their small side.
    big_lower = _sum_over(axis, jnp.where(neg, zero, big))  # large-side part, lower tail
    big_upper = _sum_over(axis, jnp.where(neg, big, zero))
    small_lower = _sum_over(axis, jnp.where(neg, s_hat, zero))
    small_upper = _sum_over(axis, jnp.where(neg, zero, s_hat))
    # The smaller tail T = B + κ S is found in linear space, and only its logarithm is
    # taken. When some component is on its large side (B > 0), κ S can underflow only
    # where it is negligible: κ ≤ 1/√(2π) while B is at least half that component's
    # weight. With every component on its small side, T = κ S is kept as log κ + log S.
    kappa0 = jnp.squeeze(kappa, axis)
    use_lower = big_lower + kappa0 * small_lower <= big_upper + kappa0 * small_upper
    big_sum = jnp.where(use_lower, big_lower, big_upper)
    small_sum = jnp.where(use_lower, small_lower, small_upper)
    tail = big_sum + kappa0 * small_sum
    has_big = big_sum > 0
    tail_or_scaled = jnp.where(has_big, tail, small_sum)  # T, or T/κ when B = 0
    log_tail = jnp.log(tail_or_scaled) + jnp.where(has_big, 0.0, shift)
    pdf_terms = p * inv_s
    pdf_sum = _sum_over_unrolled(axis, pdf_terms)
    # Σ_k p_k t_k / σ_k², which the derivative with respect to x needs.
    pdf_slope_sum = _sum_over_unrolled(axis, pdf_terms * inv_s * t)
    log_pdf = shift + jnp.log(pdf_sum)
    # The central branch of Φ⁻¹ (T > e⁻², far from underflow) takes T itself.
    z_tail = _log_ndtri_lower(jnp.minimum(log_tail, _LOG_HALF), jnp.minimum(tail, 0.5))
    z = jnp.where(use_lower, z_tail, -z_tail)
    log_dz_dx = log_pdf - normal_logpdf(z)
    parts = (
        w, inv_s, t, p, mills, neg, pdf_sum, use_lower, kappa0, z_tail, big_sum, tail_or_scaled,
        pdf_slope_sum,
    )
    return z, log_dz_dx, parts


def _batch_last(x: Array) -> Array:
    """``x`` with its leading (batch) axis moved last, materialised as a contraction.

    A plain transpose would be fused into every per-component loop that reads it, which
    then reads across rows instead of along them; a product with the identity is not
    fused, so those loops read one contiguous array.
    """
    if x.ndim < 2:
        return x
    eye = jnp.eye(x.shape[-1], dtype=x.dtype)
    return jnp.einsum("cj,b...j->...cb", eye, x, precision="highest")


@jax.custom_batching.custom_vmap
def _gaussianize_parts_batch_minor(x, logits, means, log_scales):
    """:func:`_gaussianize_parts`, batched with the batch as the fastest-varying axis.

    Under ``vmap`` the batch axis would come first and the component axis last, so every
    per-component loop on CPU runs over only ``K`` contiguous values; computed with the
    batch axis last instead, those loops are long and vectorise. The results are handed
    back in the usual layout.
    """
    return _gaussianize_parts(x, logits, means, log_scales)


@_gaussianize_parts_batch_minor.def_vmap
def _gaussianize_parts_batch_minor_rule(axis_size, in_batched, x, logits, means, log_scales):
    x_batched, *params_batched = in_batched
    if not (x_batched or any(params_batched)):
        # Reached with nothing batched when JAX differentiates this function inside a vmap
        # over tangents only (forward-mode Jacobians, Hessians): nothing to batch.
        out = _gaussianize_parts(x, logits, means, log_scales)
        return out, jax.tree.map(lambda _: False, out)
    x = _batch_last(x) if x_batched else x[..., None]
    params = [
        jnp.moveaxis(a, 0, -1) if batched else a[..., None]
        for a, batched in zip((logits, means, log_scales), params_batched, strict=True)
    ]
    z, log_dz_dx, parts = _gaussianize_parts(x, *params, axis=-2)
    w_batched, inv_s_batched = params_batched[0], params_batched[2]

    def standard(a, batched=True):
        if not batched:  # a parameter-only value: drop the size-one batch axis
            return a[..., 0]
        return jnp.moveaxis(jnp.broadcast_to(a, a.shape[:-1] + (axis_size,)), -1, 0)

    w, inv_s, *rest = parts
    out = (
        standard(z),
        standard(log_dz_dx),
        (standard(w, w_batched), standard(inv_s, inv_s_batched), *map(standard, rest)),
    )
    out_batched = (True, True, (w_batched, inv_s_batched, *[True] * len(rest)))
    return out, out_batched


@jax.custom_jvp
def _mixture_gaussianize(x, logits, means, log_scales):
    z, log_dz_dx, _ = _gaussianize_parts_batch_minor(x, logits, means, log_scales)
    return z, log_dz_dx


@_mixture_gaussianize.defjvp
def _mixture_gaussianize_jvp(primals, tangents):
    x, logits, means, log_scales = primals
    dx, dlogits, dmeans, dlog_scales = tangents
    z, log_dz_dx, parts = _gaussianize_parts_batch_minor(x, logits, means, log_scales)
    (w, inv_s, t, p, mills, neg, pdf_sum, use_lower, kappa, z_tail, big_sum,
     tail_or_scaled, pdf_slope_sum) = parts
    # dz = dF / φ(z). With tail mass T and 1/φ(z) = M(z)/T (M the Mills ratio at the tail's
    # z), E = κ/φ(z) = M κ/T: ∂F/∂t_k / φ(z) = E p_k, and ∂F/∂log w_k / φ(z)
    # is w_k Φ(t_k)/φ(z) (lower tail) or, equivalently because Σ w_k d log w_k = 0,
    # −w_k Φ(−t_k)/φ(z) (upper tail): whichever avoids the huge 1/φ(z) of the other tail.
    # On its small side a component contributes E p_k M_k; on its large side (the "wrong"
    # ones) w_k Φ(|t_k|)/φ(z) = w_k/T · M(z) − E p_k M_k, and the large-side weights are
    # carried as shares of their total B ≤ T, so every factor stays bounded.
    #
    # Factors that depend only on (sample, dimension) multiply the sums over components
    # rather than each component: XLA would otherwise recompute their polynomials inside
    # every per-component loop that consumes them.
    mills_z = _upper_mills(-z_tail)
    sign = jnp.where(use_lower, 1.0, -1.0)
    has_big = big_sum > 0
    # With B > 0 the tail is T = B + κ S, so κ/φ(z) = M κ/T and B/φ(z) = M B/T; with B = 0
    # it is κ S, and κ/φ(z) = M/S.
    mills_over_tail = mills_z / tail_or_scaled
    e_small = mills_over_tail * jnp.where(has_big, kappa, 1.0)  # κ / φ(z)
    e_big = mills_over_tail * big_sum  # B / φ(z)
    wrong = jnp.where(use_lower[..., None], ~neg, neg)  # this tail is the component's large side
    share = jnp.where(wrong, w / jnp.where(has_big, big_sum, 1.0)[..., None], 0.0)
    signed_mills = jnp.where(wrong, -mills, mills)
    dlog_w = dlogits - _sum_components(w * dlogits)[..., None]
    if native_reductions_enabled():
        dt = inv_s * (dx[..., None] - dmeans) - t * dlog_scales
        dz = (sign * e_big) * _sum_components(share * dlog_w) + e_small * _sum_components(
            p * (sign[..., None] * signed_mills * dlog_w + dt)
        )
        dlog_pdf = _sum_components(p * (inv_s * (dlog_w - t * dt - dlog_scales))) / pdf_sum
        return (z, log_dz_dx), (dz, dlog_pdf + z * dz)
    # For library reductions: one coefficient per component for dlog_w, contracted with it,
    # so the gradient's sum over the batch is a contraction rather than a broadcast-multiply-
    # reduce; and dx enters only through per-sample factors (Σ_k p_k/σ_k, Σ_k p_k t_k/σ_k²),
    # so its cotangent needs no sum over components. dt_k = dx/σ_k + dt_params_k.
    dt_params = -inv_s * dmeans - t * dlog_scales
    dlog_w_coef = (sign * e_big)[..., None] * share + (sign * e_small)[..., None] * (
        p * signed_mills
    )
    dz = (
        (e_small * pdf_sum) * dx
        + jnp.einsum("...k,...k->...", dlog_w_coef, dlog_w, precision="highest")
        + e_small * _sum_components(p * dt_params)
    )
    dlog_pdf = (
        _sum_components(p * (inv_s * (dlog_w - t * dt_params - dlog_scales)))
        - pdf_slope_sum * dx
    ) / pdf_sum
    return (z, log_dz_dx), (dz, dlog_pdf + z * dz)


def mixture_gaussianize(
    x: Array, logits: Array, means: Array, log_scales: Array
) -> tuple[Array, Array]:
    """The map ``z = Φ⁻¹(F(x))`` and its elementwise log-derivative ``log dz/dx``.

    One exponential per component (a shared max-shift serves the density and both tails,
    and the Mills ratio is a rational function), and a hand-written derivative rule, so
    neither the forward pass nor its gradient repeats work.

    Args:
        x: Points, shape ``(...)``.
        logits: Unnormalised log weights, shape ``(..., K)``.
        means: Component means, shape ``(..., K)``.
        log_scales: Log standard deviations, shape ``(..., K)``.

    Returns:
        ``(z, log_dz_dx)``, both of shape ``(...)``.
    """
    x = jnp.asarray(x)
    dtype = jnp.result_type(x, logits, means, log_scales)
    x, logits, means, log_scales = (
        jnp.asarray(a, dtype) for a in (x, logits, means, log_scales)
    )
    return _mixture_gaussianize(x, logits, means, log_scales)


def _bracket(z: Array, means: Array, log_scales: Array) -> tuple[Array, Array]:
    """An interval sure to hold ``F⁻¹(Φ(z))``.

    At ``x = min_k(μ_k + σ_k z)`` every component CDF is at most ``Φ(z)``, so ``F(x) ≤ Φ(z)``;
    symmetrically at the maximum. The root lies between.
    """
    candidates = means + jnp.exp(log_scales) * z[..., None]
    return candidates.min(axis=-1), candidates.max(axis=-1)


def _solve_inverse(
    z: Array, logits: Array, means: Array, log_scales: Array, max_steps: int
) -> Array:
    """Safeguarded Newton–bisection solve of ``Φ⁻¹(F(x)) = z`` for ``x``."""
    dtype = z.dtype
    tol = 8 * float(jnp.finfo(dtype).eps)
    lo, hi = _bracket(z, means, log_scales)
    x0 = 0.5 * (lo + hi)

    def residual(x):
        zx, log_dz_dx = mixture_gaussianize(x, logits, means, log_scales)
        return zx - z, log_dz_dx

    def cond(state):
        _, _, _, step_size, i = state
        return jnp.logical_and(i < max_steps, jnp.any(step_size > 0))

    def body(state):
        x, lo, hi, _, i = state
        r, log_dz_dx = residual(x)
        lo = jnp.where(r < 0, x, lo)
        hi = jnp.where(r > 0, x, hi)
        newton = x - r * jnp.exp(-log_dz_dx)
        inside = (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        x_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        converged = (r == 0) | (jnp.abs(x_new - x) <= tol * (1.0 + jnp.abs(x)))
        x_new = jnp.where(converged, x, x_new)
        step_size = jnp.where(converged, 0.0, jnp.abs(x_new - x))
        return x_new, lo, hi, step_size, i + 1

    init = (x0, lo, hi, jnp.ones_like(x0), jnp.asarray(0))
    x, *_ = jax.lax.while_loop(cond, body, init)
    return x


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _mixture_inverse(
    z: Array, logits: Array, means: Array, log_scales: Array, max_steps: int
) -> Array:
    return _solve_inverse(z, logits, means, log_scales, max_steps)


@_mixture_inverse.defjvp
def _mixture_inverse_jvp(max_steps, primals, tangents):
    # Implicit function theorem: z(x(z, θ), θ) = z, so
    # dx = (dz − ∂z/∂θ · dθ) / (∂z/∂x).
    z, logits, means, log_scales = primals
    dz, dlogits, dmeans, dlog_scales = tangents
    x = _mixture_inverse(z, logits, means, log_scales, max_steps)

    def forward_z(params):
        return mixture_gaussianize(x, *params)[0]

    params = (logits, means, log_scales)
    _, dz_dtheta = jax.jvp(forward_z, (params,), ((dlogits, dmeans, dlog_scales),))
    _, log_dz_dx = mixture_gaussianize(x, logits, means, log_scales)
    return x, (dz - dz_dtheta) * jnp.exp(-log_dz_dx)


def mixture_degaussianize(
    z: ArrayLike,
    logits: Array,
    means: Array,
    log_scales: Array,
    *,
    max_steps: int = 100,
) -> tuple[Array, Array]:
    """The inverse map ``x = F⁻¹(Φ(z))`` and its log-derivative ``log dx/dz``.

    Solved by Newton steps safeguarded by bisection inside an exact bracket; gradients
    with respect to ``z`` and the parameters come from the implicit function theorem.

    Args:
        z: Latent points, shape ``(...)``.
        logits: Unnormalised log weights, shape ``(..., K)``.
        means: Component means, shape ``(..., K)``.
        log_scales: Log standard deviations, shape ``(..., K)``.
        max_steps: Iteration cap of the solver.

    Returns:
        ``(x, log_dx_dz)``, both of shape ``(...)``.
    """
    # Latents beyond the saturation point, which the forward map never reaches, are
    # brought back to it: the solver's bracket would overflow past it in float32.
    z = saturate(jnp.asarray(z))
    x = _mixture_inverse(z, logits, means, log_scales, max_steps)
    _, log_dz_dx = mixture_gaussianize(x, logits, means, log_scales)
    return x, -log_dz_dx
