r"""Steady lid-driven cavity, Navier–Stokes in stream-function/pressure form (PAPER §6).

Outputs $(\psi, p)$ on $[0,1]^2$, $u = \psi_y$, $v = -\psi_x$ (continuity holds exactly):

$$ r_u = u u_x + v u_y + p_x - \tfrac{1}{Re}(u_{xx}+u_{yy}),\qquad
   r_v = u v_x + v v_y + p_y - \tfrac{1}{Re}(v_{xx}+v_{yy}) . $$

Lid $y = 1$: $(u, v) = (1, 0)$; the other walls no slip; one weight group ``"bc"``
whose edge losses average over the two velocity components (as the official code).
The observable is the velocity magnitude $\sqrt{u^2+v^2}$, compared on a 100x100 grid
with pinnsight's own finite-difference solution (`pinnsight.reference.cavity_reference`).
Annealing uses the official cavity code's layer-wise statistic by default.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..autodiff import directional_taylor
from ..geometry import Box
from ..problem import Condition, Problem, Reference
from ..reference.cavity import cavity_reference
from . import register


def velocity(u):
    r"""$x\mapsto(u, v) = (\psi_y, -\psi_x)$ from the network point function $(\psi, p)$."""

    def uv(x: jax.Array) -> jax.Array:
        dpsi = jax.jacfwd(lambda y: u(y)[0])(x)
        return jnp.stack([dpsi[1], -dpsi[0]])

    return uv


def lid_corner_weight(x: jax.Array, radius: float) -> jax.Array:
    r"""$w(x) = \min(1, d(x)/\delta)$, $d$ the distance to the nearer end of the lid, (0, 1) or (1, 1).

    The lid's unit speed meets the no-slip walls there: the velocity has no limit at those
    two points and, near them, depends on the angle only (Taylor's scraper flow), so the
    pressure gradient and viscous terms grow like $1/d^2$ (Moffatt, J. Fluid Mech. 18, 1964).
    No smooth network fits them; scaling the residual and the wall misfits by $w$ keeps
    those unfittable terms from dominating the loss and its gradient noise. The problem
    is unchanged: the exact solution still makes every weighted term zero. Measured with
    M4 at Re = 100 (docs/RESULTS.md §10): worse, 0.115 against 0.073 at $\delta = 0.05$,
    because the lid's drag near its ends is what drives the vortex.
    """
    d = jnp.minimum(jnp.hypot(x[0], 1.0 - x[1]), jnp.hypot(1.0 - x[0], 1.0 - x[1]))
    return jnp.minimum(1.0, d / radius)


# Taylor's scraper flow in the corner between a wall sliding at unit speed and a fixed one
# at right angles: psi = r F(phi), F = B sin + C phi cos + D phi sin (A = 0), from
# F(0) = F(pi/2) = 0, F'(0) = -1, F'(pi/2) = 0 (Taylor 1960; Moffatt 1964).
_C = 4.0 / (math.pi**2 - 4.0)
_D = 2.0 * math.pi / (math.pi**2 - 4.0)
_B = -(math.pi**2) / (math.pi**2 - 4.0)
_TINY = 1e-9  # keeps r and phi differentiable at the corner node itself (u = lid speed there)


def scraper_flow(xi: jax.Array, eta: jax.Array, Re: float) -> tuple[jax.Array, jax.Array]:
    r"""Stokes flow $(\psi, p)$ near the left end of the lid, in local coordinates.

    $\xi = x$ along the lid, $\eta = 1 - y$ into the cavity, $r, \phi$ polar about (0, 1):

    $$ \psi = r\,(B\sin\phi + C\phi\cos\phi + D\phi\sin\phi),\qquad
       p = -\frac{2\,(C\cos\phi + D\sin\phi)}{Re\, r}, $$

    $C = 4/(\pi^2-4)$, $D = \pi C/2$, $B = -\pi^2 C/4$: $\psi = 0$ on both walls, $u = 1$
    on the lid ($\phi = 0$), $u = v = 0$ on the wall ($\phi = \pi/2$), and $\Delta u/Re =
    \nabla p$ exactly (Taylor 1960, "Similarity solutions of hydrodynamic problems"). The
    velocity depends on $\phi$ alone: the lid's discontinuity, which no smooth network fits.
    """
    r = jnp.sqrt(xi**2 + eta**2 + _TINY**2)
    # phi = atan2(eta, xi) by the half-angle formula: the Taylor-mode jet of atan2(a, b)
    # divides by b, so atan2(eta, xi) is nan on the side wall itself (xi = 0, which uniform
    # sampling draws now and then); r + xi > 0 everywhere. On the corner node itself phi = 0
    # and d(phi)/d(eta) = 1/_TINY, so that u there is the lid's speed
    at_corner = (xi == 0) & (eta == 0)
    phi = 2.0 * jnp.arctan2(eta, r + jnp.where(at_corner, _TINY, xi))
    psi = r * (_B * jnp.sin(phi) + _C * phi * jnp.cos(phi) + _D * phi * jnp.sin(phi))
    return psi, -2.0 * (_C * jnp.cos(phi) + _D * jnp.sin(phi)) / (Re * r)


def _smoothstep3(t: jax.Array) -> jax.Array:
    """0 for t <= 0, 1 for t >= 1, three times continuously differentiable between."""
    t = jnp.clip(t, 0.0, 1.0)
    return t**4 * (35.0 - 84.0 * t + 70.0 * t**2 - 20.0 * t**3)


def lid_corner_flow(x: jax.Array, Re: float, radius: float = 0.0) -> jax.Array:
    r"""$(\psi_s, p_s)(x)$: `scraper_flow` at each end of the lid, blended or confined.

    ``radius`` = 0: $\psi_s = (1-\chi)\,\psi_L + \chi\,\psi_R$, $\chi(x)$ rising from 0 at
    $x = 1/4$ to 1 at $x = 3/4$ (C³), $\psi_R(x, y) = \psi_L(1-x, y)$, $p_R(x, y) =
    -p_L(1-x, y)$. Within a quarter of either end the Stokes flow is exact; on the whole lid
    $u_s = 1$ and $\psi_s = 0$. Added to the network's $(\psi, p)$ it carries the velocity's
    discontinuity: the subtraction of singular terms of Botella & Peyret's cavity benchmark
    (Computers & Fluids 27, 1998), here for a PINN. Its inertial term, $\propto 1/r$ and O(1)
    far from the ends, is left to the network over the whole square; measured with M4 at
    Re = 100 (docs/RESULTS.md §10) that costs more than the corners it fixes: 0.25 against
    0.064 at 20,000 steps.

    ``radius`` $R > 0$: each end's flow is confined to its own neighbourhood,
    $\psi_s = c(r_L/R)\,\psi_L + c(r_R/R)\,\psi_R$ (and $p_s$ alike), $r_L, r_R$ the
    distances to the two ends and the cutoff $c$ equal to 1 up to $1/2$ and 0 from 1 on (C³
    between). Within $R/2$ of an end the Stokes flow is exact as before; beyond $R$ the
    network alone carries the flow, so the Stokes field's inertial term is left to the
    network only within $R$ of the ends. On the lid $\psi_s = 0$ and $u_s = c(r/R)$, $r$ the
    distance to the nearer end; on the side walls $u_s = v_s = 0$. Between $R/2$ and $R$ the
    cutoff adds a forcing of order $1/R^2$ that is not Stokes: a small $R$ costs more than it
    gives. Measured with `best` at Re = 100 (docs/RESULTS.md §10, seed 0): $R = 0.2$ takes
    the error from 3.2e-2 to 6.5e-3; $R = 0.05$ sticks near 0.28.
    """
    psi_l, p_l = scraper_flow(x[0], 1.0 - x[1], Re)
    psi_r, p_r = scraper_flow(1.0 - x[0], 1.0 - x[1], Re)
    if radius > 0:
        w_l = _cutoff(jnp.sqrt(x[0] ** 2 + (1.0 - x[1]) ** 2 + _TINY**2) / radius)
        w_r = _cutoff(jnp.sqrt((1.0 - x[0]) ** 2 + (1.0 - x[1]) ** 2 + _TINY**2) / radius)
        return jnp.stack([w_l * psi_l + w_r * psi_r, w_l * p_l - w_r * p_r])
    chi = _smoothstep3((x[0] - 0.25) / 0.5)
    return jnp.stack([(1.0 - chi) * psi_l + chi * psi_r, (1.0 - chi) * p_l - chi * p_r])


def _cutoff(s: jax.Array) -> jax.Array:
    """1 for s <= 1/2, 0 for s >= 1, three times continuously differentiable between."""
    return 1.0 - _smoothstep3(2.0 * s - 1.0)


def _reference(Re: float, grid: int) -> Reference:
    """The speed of `cavity_reference` on a 100x100 grid of the unit square."""
    sol = cavity_reference(Re, grid)
    xs = np.linspace(0.0, 1.0, 100)
    return Reference.on_grid(
        (xs, xs),
        lambda X, Y: np.hypot(*sol.velocity(X, Y)),
        label=f"|velocity|, finite differences {grid}x{grid}",
    )


def _check_singular(singular_corners: bool, singular_radius: float) -> None:
    if singular_radius and not singular_corners:
        raise ValueError(
            f"singular_radius = {singular_radius} only applies to the corner flow: "
            "add singular_corners=true, or set singular_radius=0."
        )


# The cavity's `best` before the corner flow (the comment at `recipes=` below says what each
# key is for); `corner_flow` is it with the corner flow in every stage.
_BEST_WITHOUT_CORNER_FLOW = {
    "net.kind": "pirate",
    "optim.kind": "soap",
    "optim.warmup_steps": 2000,
    "weighting.kind": "grad_norm",
    "problem.params.corner_radius": 0.01,
    "run.curriculum": {
        "Re": (100.0, 400.0, 1000.0),
        "steps": (40_000, 40_000, 40_000),
        "learning_rate": (1e-3, 3e-4, 1e-4),
        "batch_size": (None, None, {"residual": 512}),
    },
}
# Taylor's Stokes flow at each end of the lid, within 0.2 of it (`lid_corner_flow`).
_CORNER_FLOW = {"singular_corners": True, "singular_radius": 0.2}
# The Re = 1000 stage's own balancer: the wall weight held at 10 (the residual's at 1).
# Grad-norm's wall weight climbs there (≈ 265 at its end) and holds the network in a
# tighter-walled minimum whose flow turns too slowly; at 10 the run goes to the
# looser-walled, lower-residual flow (docs/RESULTS.md §10).
_FIXED_WALL_WEIGHT = {"kind": "fixed", "weights": {"bc": 10.0}}
# `best`: the corner flow within 0.3 of each end in a run that ends at Re = 100 only
# (`final_params`), not as a warm start for Re = 400 and 1000, where it does not pay; and
# the Re = 1000 stage with the fixed wall weight, its schedule starting at 2e-4.
_BEST = {
    **_BEST_WITHOUT_CORNER_FLOW,
    "run.curriculum": {
        **_BEST_WITHOUT_CORNER_FLOW["run.curriculum"],
        "learning_rate": (1e-3, 3e-4, 2e-4),
        "final_params": ({**_CORNER_FLOW, "singular_radius": 0.3}, None, None),
        "weighting": (None, None, _FIXED_WALL_WEIGHT),
    },
}


@register(
    "cavity",
    "steady lid-driven cavity (Navier-Stokes), outputs (psi, p), Re parameter (paper §6)",
    defaults={"net.layers": (2, 50, 50, 50, 2), "weighting.statistic": "layerwise"},
    rules={"Re": "positive", "grid": (16, 1024), "corner_radius": (0.0, 0.5), "singular_radius": (0.0, 0.5)},
    recipes={
        # The set-up behind the cavity's numbers in docs/RESULTS.md §10: M4's settings (40,000
        # steps, 128 points per term, the paper's learning-rate schedule) with three of the later
        # cures: a PirateNet (one block, width 50, Fourier features, RWF), SOAP and grad-norm
        # weights (2.75e-2 at Re = 100, 3 seeds, against M4's 8.25e-2; one stage there;
        # 2.85e-2 with the warm-up and corner weight added at the end of this note). Above
        # Re = 100 a Reynolds curriculum of such stages, each 40,000 steps and warm-started
        # (Re = 1000 is 100 -> 400 -> 1000); the Re = 400 stage starts its schedule at 3e-4 and
        # the Re = 1000 stage at 1e-4, not 1e-3, so as to keep their warm starts (3 seeds:
        # median 0.120, 0.090 - 0.193; 0.256 with Re = 400 from 1e-3; 0.446 with every stage
        # from 1e-3), and the Re = 1000 stage draws 512 residual points per step, not 128
        # (from the same Re = 400 networks, 4 of 5 seeds lower: 0.157 / 0.094 against
        # 0.193 / 0.120 on one machine, median 0.189 against 0.219 on another; about 55 min a
        # run on one core; docs/RESULTS.md §10). Every stage warms its rate up over its first
        # 2,000 steps, and the residual and wall misfits within 0.01 of the lid's ends are
        # scaled by d/0.01 (`lid_corner_weight`): the Re = 400 stage then no longer sticks
        # near 0.2 (3 seeds: 0.038 / 0.080 / 0.049 against 0.036 / 0.194 / 0.069), and
        # Re = 1000 ends at 0.0803 / 0.194 / 0.0976 against 0.0888 / 0.406 / 0.1895 (median
        # 0.0976 against 0.189), ≈ 56 min a run on one core; Re = 100 pays a little (median
        # 2.85e-2 against 2.66e-2 on the same machine). A run that ends at Re = 100 adds
        # Taylor's Stokes flow at each end of the lid, confined to within 0.3 of it
        # (`lid_corner_flow`, through the curriculum's `final_params`): the sum carries the
        # lid's discontinuity and the 1/r pressure that no smooth network fits. 3 seeds:
        # median 5.61e-3 (5.35e-3 - 6.26e-3; 8.60e-3 within 0.2) against 2.85e-2 without it.
        # Since 2026-12-08 the Re = 1000 stage holds the wall weight at 10 instead of
        # grad-norm's (`'weighting'` in the curriculum) and starts its schedule at 2e-4: 3 seeds
        # 0.0457 / 0.0758 / 0.0448 (median 0.0457, the run 47 min on one core) against grad-norm's
        # 0.0576 / - / 0.1098 from the same Re = 400 networks (docs/RESULTS.md §10).
        "best": _BEST,
        # The corner flow within 0.2 of each end in every stage: at Re = 100 median 8.60e-3,
        # above it worse than `best` (Re = 1000, seeds 0 and 1: 0.139 / 0.199 against 0.0803 /
        # 0.194, docs/RESULTS.md §10).
        "corner_flow": {
            **_BEST_WITHOUT_CORNER_FLOW,
            **{f"problem.params.{k}": v for k, v in _CORNER_FLOW.items()},
        },
        # Untuned (no number behind it): the literature's recipe (jaxpi's ldc example and Wang
        # et al., "An expert's guide to training PINNs", arXiv:2308.08468: a modified MLP,
        # grad-norm weights, large batches, a Reynolds curriculum 100 -> 400 -> 1000), a
        # starting point for issue 10 (Re = 100: 1e-2 in 20 min; Re = 1000: 5e-2 in 60 min).
        "curriculum": {
            "net.kind": "modified_mlp",
            "net.layers": (2, 128, 128, 128, 128, 2),
            "weighting.kind": "grad_norm",
            "weighting.every": 100,
            "sampling.batch_size": 1024,
            "optim.decay_steps": 2000,
            "run.steps": 30_000,
            # the stages *before* the run's Re: none at Re = 100, 100 -> 400 -> 1000 at Re = 1000
            "run.curriculum": {"Re": (100.0, 400.0, 1000.0), "steps": (20_000, 20_000, 20_000)},
        },
    },
)
def make(
    Re: float = 100.0,
    grid: int = 160,
    corner_radius: float = 0.0,
    singular_corners: bool = False,
    singular_radius: float = 0.0,
) -> Problem:
    r"""The cavity at Reynolds number ``Re``; ``grid`` cells per side for the reference solver;
    ``corner_radius`` > 0 scales residuals and wall misfits within that distance of the lid's
    ends by `lid_corner_weight` (0: the paper's unweighted losses); ``singular_corners`` adds
    `lid_corner_flow` to the network's $(\psi, p)$ (the same problem, another ansatz), confined
    to within ``singular_radius`` of each end when that is > 0 (0: blended over the whole lid)."""
    _check_singular(singular_corners, singular_radius)

    def flow(term):
        if not singular_corners:
            return term
        return lambda u, x: term(lambda y: u(y) + lid_corner_flow(y, Re, singular_radius), x)

    def weighted(term):
        if corner_radius == 0:
            return term
        return lambda u, x: lid_corner_weight(x, corner_radius) * term(u, x)

    def residual(u, x):
        # Taylor mode along e_x, e_y, e_x + e_y, e_x - e_y gives psi's derivatives up to
        # third order (mixed ones by polarisation) and grad p in four jet passes.
        taylor = directional_taylor(u, 3)
        ex = jnp.array([1.0, 0.0], dtype=x.dtype)
        ey = jnp.array([0.0, 1.0], dtype=x.dtype)
        _, dx1, dx2, dx3 = taylor(x, ex)
        _, dy1, dy2, dy3 = taylor(x, ey)
        _, _, dp2, dp3 = taylor(x, ex + ey)
        _, _, _, dm3 = taylor(x, ex - ey)
        psi_x, psi_y, psi_xx, psi_yy = dx1[0], dy1[0], dx2[0], dy2[0]
        psi_xy = 0.5 * (dp2[0] - psi_xx - psi_yy)
        psi_xxx, psi_yyy = dx3[0], dy3[0]
        psi_xyy = (dp3[0] + dm3[0] - 2.0 * psi_xxx) / 6.0
        psi_xxy = (dp3[0] - dm3[0] - 2.0 * psi_yyy) / 6.0
        u_, v_ = psi_y, -psi_x
        r_u = u_ * psi_xy + v_ * psi_yy + dx1[1] - (psi_xxy + psi_yyy) / Re
        r_v = -u_ * psi_xx - v_ * psi_xy + dy1[1] + (psi_xxx + psi_xyy) / Re
        return jnp.stack([r_u, r_v])

    # The wall misfits carry a factor 1/sqrt(2) so that each edge's loss is the mean over
    # points *and* both velocity components, mean((u - g_u)^2 + (v - g_v)^2) / 2, as in
    # the official cavity code (the residual loss is mean(r_u^2) + mean(r_v^2) there and here).
    def lid(u, x):
        return (velocity(u)(x) - jnp.array([1.0, 0.0], dtype=x.dtype)) / jnp.sqrt(2.0)

    def wall(u, x):
        return velocity(u)(x) / jnp.sqrt(2.0)

    def speed(u, x):
        return jnp.linalg.norm(velocity(u)(x))[None]

    domain = Box((0.0, 0.0), (1.0, 1.0))
    return Problem(
        name="cavity",
        domain=domain,
        residual=weighted(flow(residual)),
        conditions={
            "lid": Condition(domain.face("y", "hi"), weighted(flow(lid)), group="bc"),
            "bottom": Condition(domain.face("y", "lo"), flow(wall), group="bc"),
            "left": Condition(domain.face("x", "lo"), weighted(flow(wall)), group="bc"),
            "right": Condition(domain.face("x", "hi"), weighted(flow(wall)), group="bc"),
        },
        reference=functools.partial(_reference, Re, grid),
        observable=flow(speed),
        output_dim=2,
        params={
            "Re": Re,
            **({"corner_radius": corner_radius} if corner_radius else {}),
            **({"singular_corners": True} if singular_corners else {}),
            **({"singular_radius": singular_radius} if singular_radius else {}),
        },
    )
