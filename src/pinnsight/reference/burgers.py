r"""Exact viscous Burgers solution by the Cole–Hopf transform and Gauss–Hermite quadrature.

For $u_t + u u_x = \nu u_{xx}$ on $x\in[-1,1]$, $u(0,x) = -\sin\pi x$, $u(t,\pm1)=0$:

$$ u(t,x) = -\frac{\int \sin\big(\pi(x-\eta)\big)\, f(x-\eta)\, e^{-\eta^2/4\nu t}\,d\eta}
                {\int f(x-\eta)\, e^{-\eta^2/4\nu t}\,d\eta},\qquad
   f(y) = \exp\!\Big(-\frac{\cos \pi y}{2\pi\nu}\Big). $$

With $\eta = 2\sqrt{\nu t}\,z$ both integrals become $\int g(z) e^{-z^2}dz$, evaluated
with ``nodes`` Gauss–Hermite points; $f$ is handled in log space (it spans $e^{\pm 1/(2\pi\nu)}$).
"""

from __future__ import annotations

import numpy as np

__all__ = ["burgers_cole_hopf", "burgers_cole_hopf_point"]


def burgers_cole_hopf(t: np.ndarray, x: np.ndarray, nu: float = 0.01 / np.pi, nodes: int = 250) -> np.ndarray:
    """$u(t, x)$ at broadcast arrays ``t``, ``x`` (float64); agrees with the classic
    data set to ~4e-11 (``tests/test_reference.py``)."""
    if not 2 <= nodes <= 300:
        raise ValueError(f"`nodes` must be in [2, 300] (numpy's hermgauss overflows above), got {nodes}.")
    t, x = np.broadcast_arrays(np.asarray(t, float), np.asarray(x, float))
    z, w = np.polynomial.hermite.hermgauss(nodes)
    y = x[..., None] - 2.0 * np.sqrt(nu * t)[..., None] * z  # x - eta
    logf = -np.cos(np.pi * y) / (2.0 * np.pi * nu)
    logf -= logf.max(axis=-1, keepdims=True)
    fw = w * np.exp(logf)
    num = np.sum(np.sin(np.pi * y) * fw, axis=-1)
    den = np.sum(fw, axis=-1)
    return -num / den


def burgers_cole_hopf_point(point, nu: float = 0.01 / np.pi, nodes: int = 200):
    """The same formula for one point ``(t, x)`` in `jax.numpy`, differentiable by JAX
    (used to check the PINN residual on the exact solution); needs $t > 0$."""
    import jax.numpy as jnp

    z, w = np.polynomial.hermite.hermgauss(nodes)
    t, x = point[0], point[1]
    y = x - 2.0 * jnp.sqrt(nu * t) * z
    logf = -jnp.cos(jnp.pi * y) / (2.0 * jnp.pi * nu)
    fw = w * jnp.exp(logf - jnp.max(logf))
    return -jnp.sum(jnp.sin(jnp.pi * y) * fw) / jnp.sum(fw)
