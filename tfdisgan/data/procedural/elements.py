"""Scene elements shared by the procedural classes: hill lines, flames, smoke plumes, window
grids, trees, cracks and rubble, drawn on a `Canvas` in normalised coordinates."""

import math

import numpy as np

from tfdisgan.data.procedural.canvas import jitter, mix, rgb

FLAME_RED = np.array([215.0, 55.0, 20.0])
FLAME_ORANGE = np.array([250.0, 140.0, 30.0])
FLAME_YELLOW = np.array([255.0, 230.0, 120.0])


# === Shared elements ===


def ridge(rng, n, base, amplitude, octaves=3):
    """Heights (normalised y) of a hill line at n evenly spaced x in [-0.05, 1.05]."""
    x = np.linspace(-0.05, 1.05, n)
    y = np.full(n, float(base))
    for k in range(octaves):
        freq = rng.uniform(1.0, 2.5) * 2**k
        y += amplitude / 2**k * np.sin(2 * np.pi * freq * x + rng.uniform(0, 2 * np.pi))
    y += rng.normal(0.0, amplitude * 0.08, n)
    return x, y


def flame(canvas, glow, rng, x, base, width, height, heat=1.0):
    """A flickering flame: nested red, orange and yellow tongues rising from (x, base)."""
    n = int(rng.integers(2, 5))
    tongue_u = np.sort(rng.uniform(-0.35, 0.35, n))
    tongue_v = rng.uniform(0.45, 1.0, n)
    tongue_v[rng.integers(n)] = 1.0
    valley_v = rng.uniform(0.2, 0.45, n + 1)
    lean = rng.uniform(-0.25, 0.25)
    # Bottom arc from the right edge to the left, then tongues from left to right.
    arc = np.linspace(0.0, np.pi, 7)
    u = [*(0.5 * np.cos(arc)), -0.5]
    v = [*(-0.1 * np.sin(arc)), valley_v[0] * 0.5]
    for i in range(n):
        u += [
            tongue_u[i] + lean * tongue_v[i],
            (tongue_u[i] + (tongue_u[i + 1] if i + 1 < n else 0.5)) / 2,
        ]
        v += [tongue_v[i], valley_v[i + 1]]
    u += [0.5]
    v += [valley_v[-1] * 0.5]
    u, v = np.asarray(u), np.asarray(v)
    if glow is not None:
        glow.ellipse(
            x, base - 0.3 * height, 1.3 * width, 0.9 * height, rgb(FLAME_ORANGE, 150 * heat)
        )
    red = jitter(rng, FLAME_RED, 20)
    scales = np.array([1.0, 0.7, 0.42])[:, None]
    layers = np.stack([x + u * width * scales, base - v * height * scales], -1)
    for pts, colour in zip(layers, (red, FLAME_ORANGE, FLAME_YELLOW), strict=True):
        canvas.polygon(pts, rgb(colour, 235 * heat))


def plume(layer, rng, x, y, top, spread, drift, colour, alpha, puffs=None):
    """A smoke plume of overlapping puffs rising from (x, y) to `top`, widening as it goes."""
    n = int(puffs or rng.integers(7, 13))
    t = np.linspace(0.0, 1.0, n)
    cx = x + drift * t**1.5 + rng.normal(0.0, 0.02, n)
    cy = y - (y - top) * t
    r = spread * (0.35 + 1.0 * t) * rng.uniform(0.8, 1.2, n)
    shade = rng.uniform(-15, 15, n)
    for i in range(n):
        layer.ellipse(cx[i], cy[i], r[i], 0.8 * r[i], rgb(colour + shade[i], alpha))


def window_grid(rng, x0, x1, y0, y1, cols_per_unit, rows_per_unit):
    """Window rectangles (x0, y0, x1, y1) on a facade, as an [n, 4] array."""
    cols = max(1, int((x1 - x0) * cols_per_unit))
    rows = max(1, int((y1 - y0) * rows_per_unit))
    cw, rh = (x1 - x0) / cols, (y1 - y0) / rows
    fill_w, fill_h = rng.uniform(0.4, 0.65), rng.uniform(0.45, 0.65)
    gx, gy = np.meshgrid(np.arange(cols), np.arange(rows))
    wx = x0 + (gx.ravel() + 0.5) * cw
    wy = y0 + (gy.ravel() + 0.5) * rh
    return np.stack(
        [wx - cw * fill_w / 2, wy - rh * fill_h / 2, wx + cw * fill_w / 2, wy + rh * fill_h / 2], -1
    )


def tree(canvas, rng, x, base, size, colour, kind):
    """A conifer (kind 0: stacked triangles) or a broadleaf tree (kind 1: round canopy)."""
    trunk = rgb(mix(colour, (40, 25, 15), 0.6))
    if kind == 0:
        canvas.rect(x - 0.06 * size, base - 0.2 * size, x + 0.06 * size, base, trunk)
        for k in range(3):
            w = size * (0.45 - 0.1 * k)
            yb = base - size * (0.15 + 0.28 * k)
            canvas.polygon(
                [(x - w, yb), (x + w, yb), (x, yb - size * 0.5)], rgb(colour * (1.0 + 0.08 * k))
            )
    else:
        canvas.rect(x - 0.05 * size, base - 0.45 * size, x + 0.05 * size, base, trunk)
        offsets = rng.uniform(-0.22, 0.22, (4, 2)) * size
        for k in range(4):
            r = size * rng.uniform(0.22, 0.32)
            canvas.ellipse(
                x + offsets[k, 0],
                base - 0.7 * size + offsets[k, 1],
                r,
                r * 0.9,
                rgb(colour * (0.9 + 0.07 * k)),
            )


def transform(points, origin, angle):
    """Local (u right, v up) points rotated by `angle` (radians, positive leans right) and
    placed with their local origin at `origin` (normalised image coordinates)."""
    points = np.asarray(points, dtype=float)
    c, s = math.cos(angle), math.sin(angle)
    x = points[..., 0] * c + points[..., 1] * s
    y = -points[..., 0] * s + points[..., 1] * c
    return np.stack([origin[0] + x, origin[1] - y], -1)


def crack_polygon(rng, x, y, steps, length, width, heading, flatten=1.0):
    """A zigzag tapering crack as a polygon, starting at (x, y) along `heading` radians;
    `flatten` < 1 squashes it vertically, as a crack on the ground seen at a low angle."""
    zigzag = np.where(np.arange(steps) % 2, 1.0, -1.0) * rng.uniform(0.3, 0.8, steps)
    angles = heading + np.cumsum(rng.normal(0.0, 0.12, steps)) + zigzag
    seg = rng.uniform(0.5, 1.0, steps) * length / steps
    px = x + np.concatenate([[0.0], np.cumsum(seg * np.cos(angles))])
    py = y + flatten * np.concatenate([[0.0], np.cumsum(seg * np.sin(angles))])
    w = width * np.linspace(1.0, 0.15, steps + 1) * rng.uniform(0.6, 1.2, steps + 1)
    normal = np.concatenate([angles[:1], angles]) + np.pi / 2
    left = np.stack([px + np.cos(normal) * w / 2, py + np.sin(normal) * w / 2], -1)
    right = np.stack([px - np.cos(normal) * w / 2, py - np.sin(normal) * w / 2], -1)
    return np.concatenate([left, right[::-1]]), np.stack([px, py], -1)


def rubble_pile(canvas, rng, cx, base, width, height, palette, count):
    """A mound of small irregular debris polygons, drawn back to front."""
    u = rng.uniform(-1.0, 1.0, count)
    top = height * (1.0 - u**2)
    ys = base - rng.uniform(0.0, 1.0, count) ** 0.7 * top
    xs = cx + u * width / 2
    order = np.argsort(ys)
    sizes = rng.uniform(0.01, 0.038, count) * (0.6 + 0.6 * (ys - (base - height)) / height)
    verts = int(rng.integers(4, 7))
    angles = np.sort(rng.uniform(0, 2 * np.pi, (count, verts)), axis=1)
    radii = rng.uniform(0.5, 1.0, (count, verts))
    colours = np.asarray(palette, dtype=float)[rng.integers(0, len(palette), count)]
    colours = np.clip(colours * rng.uniform(0.65, 1.15, (count, 1)) + 0.5, 0, 255).astype(int)
    pts = np.stack(
        [
            xs[:, None] + np.cos(angles) * radii * sizes[:, None],
            ys[:, None] + np.sin(angles) * radii * sizes[:, None] * 0.8,
        ],
        -1,
    )
    pts = (pts[order] * canvas.size).tolist()
    colours = colours[order].tolist()
    for poly, colour in zip(pts, colours, strict=True):
        canvas.draw.polygon([tuple(p) for p in poly], fill=tuple(colour))
