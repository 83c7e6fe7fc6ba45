"""Plain numpy references of the papers' equations (float64), for the tests to compare
against. Written from the papers (Algorithm 2 and Supp. A.4 of arXiv:1806.01603; docs/faithfulness.md), independently
of the package's keras.ops code."""

import numpy as np


def layca(p, s, rho, eps=1e-7):
    """Operations 1-4 of Layca for kernel p and descent step s."""
    shape = np.shape(p)
    p = np.asarray(p, np.float64).ravel()
    s = np.asarray(s, np.float64).ravel()
    s = s - (s @ p) / (p @ p) * p
    s = s * np.linalg.norm(p) / np.linalg.norm(s) if np.linalg.norm(s) > eps else np.zeros_like(s)
    q = p - rho * s
    return (q * np.linalg.norm(p) / np.linalg.norm(q)).reshape(shape)


def lars(p, s, rho, p0_norm, growth=1e-4):
    """LARS mode of the authors' code (operations 1 and 4 disabled, growth cap)."""
    shape = np.shape(p)
    p = np.asarray(p, np.float64).ravel()
    s = np.asarray(s, np.float64).ravel()
    s_norm = np.linalg.norm(s)
    s = s * np.linalg.norm(p) / s_norm if s_norm > 0 else np.zeros_like(s)
    q = p - rho * s
    cap = growth * p0_norm
    if np.linalg.norm(q) - np.linalg.norm(p) > cap:
        q = q * (np.linalg.norm(p) + cap) / np.linalg.norm(q)
    return q.reshape(shape)


def tan_angle(a, b):
    a = np.ravel(a).astype(np.float64)
    b = np.ravel(b).astype(np.float64)
    cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return np.sqrt(max(1.0 / cos**2 - 1.0, 0.0))


def cosine_distance(a, b):
    a = np.ravel(a).astype(np.float64)
    b = np.ravel(b).astype(np.float64)
    return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def alpha_profile(num_layers, alpha):
    """The authors' profile: exponent 5, forward order (docs/faithfulness.md)."""
    i = np.arange(num_layers)
    last = num_layers - 1
    if alpha > 0:
        return (1 - alpha) ** (5 * (last - i) / last)
    return (1 + alpha) ** (5 * i / last)


def per_unit(update, p, s, *args):
    """`update` (layca or lars) applied to each output unit's weight vector: the kernel's
    last axis indexes the units, every other axis their inputs."""
    p, s = np.asarray(p, np.float64), np.asarray(s, np.float64)
    flat_p, flat_s = p.reshape(-1, p.shape[-1]), s.reshape(-1, s.shape[-1])
    columns = [update(flat_p[:, u], flat_s[:, u], *(a[u] if np.ndim(a) else a for a in args))
               for u in range(p.shape[-1])]
    return np.stack(columns, axis=1).reshape(p.shape)
