"""Built-in offline dataset: procedurally drawn synthetic disaster scenes in four classes.

Every image is a pure function of ``(index, resolution, seed)``: the scene is laid out in
normalised coordinates from ``np.random.default_rng([seed, index])`` (never the global RNG),
drawn with Pillow on a supersampled canvas and box-downsampled, so the 64 px and the
256 px renders of one index are the same picture. The label is ``index % 4``, in the order of
`CLASS_NAMES`. The classes differ in dominant colour and structure (night-time blocks with
flames and smoke, orange-hazy hills with a fire line, dusty tilted buildings with rubble and
cracks, grey sky over a brown/blue waterline) and vary within a class in layout, counts,
palette, lighting and horizon height.

A dataset spec string ``"procedural:N"`` names the first N images of this dataset wherever a
folder of images is accepted (see `parse_spec`).

Example:
    >>> image, label = render_scene(5, resolution=64)        # uint8 [64, 64, 3], label 1
    >>> images, labels = generate(100, resolution=64, classes=["flood"])
"""

import concurrent.futures
import math
import multiprocessing
import os
import re
from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASS_NAMES = ("building_fire", "wildfire", "earthquake", "flood")
MIN_RESOLUTION = 16
MAX_RESOLUTION = 512

SPEC_PREFIX = "procedural"
# Scenes are drawn at least this large, then downsampled: small outputs stay anti-aliased and
# the thin details (windows, cracks, ripples) average into the right colours.
_MIN_CANVAS = 128
_SUPERSAMPLE = 2
# Soft layers (smoke, glow, dust, clouds) are blurred at this size whatever the canvas.
_BLUR_CANVAS = 128
# Below this many images per worker a pool costs more to start than it saves: a spawned
# worker re-imports the main script, TensorFlow included when the script imports it (seconds).
_MIN_IMAGES_PER_SPAWN_WORKER = 512
_SPEC_PATTERN = re.compile(r"procedural:([0-9]+)")

_FLAME_RED = np.array([215.0, 55.0, 20.0])
_FLAME_ORANGE = np.array([250.0, 140.0, 30.0])
_FLAME_YELLOW = np.array([255.0, 230.0, 120.0])


# === Colour helpers ===


def _rgb(colour, alpha=None):
    """A Pillow fill tuple from a float colour (and alpha), rounded and clipped to [0, 255]."""
    # Plain Python: this runs thousands of times a scene, where np.clip costs ~5 us a call.
    values = colour.tolist() if isinstance(colour, np.ndarray) else list(colour)
    if alpha is not None:
        values.append(float(alpha))
    return tuple(min(255, max(0, int(v + 0.5))) for v in values)


def _mix(a, b, t):
    return np.asarray(a, dtype=float) * (1.0 - t) + np.asarray(b, dtype=float) * t


def _jitter(rng, colour, amount):
    return np.asarray(colour, dtype=float) + rng.uniform(-amount, amount, 3)


def _pick(rng, palette):
    return np.asarray(palette[rng.integers(len(palette))], dtype=float)


# === Canvas ===


class _Canvas:
    """A square Pillow image addressed in normalised coordinates ((0, 0) top-left, (1, 1)
    bottom-right), so a scene's layout is independent of the pixel size it is drawn at.

    An "RGB" canvas blends RGBA fills onto what is below; an "RGBA" canvas is a layer whose
    pixels are replaced, later blurred and pasted onto the scene with `composite`.
    """

    def __init__(self, size, mode="RGB", background=(0, 0, 0)):
        self.size = size
        self.image = Image.new(mode, (size, size), tuple(background))
        self.draw = ImageDraw.Draw(self.image, "RGBA")

    def _points(self, points):
        s = self.size
        if isinstance(points, np.ndarray):
            return [tuple(p) for p in (points * s).tolist()]
        return [(x * s, y * s) for x, y in points]

    def polygon(self, points, fill):
        self.draw.polygon(self._points(points), fill=fill)

    def ellipse(self, cx, cy, rx, ry, fill):
        s = self.size
        self.draw.ellipse([(cx - rx) * s, (cy - ry) * s, (cx + rx) * s, (cy + ry) * s], fill=fill)

    def rect(self, x0, y0, x1, y1, fill):
        s = self.size
        self.draw.rectangle([x0 * s, y0 * s, x1 * s, y1 * s], fill=fill)

    def line(self, points, fill, width):
        self.draw.line(self._points(points), fill=fill, width=max(1, round(width * self.size)))

    def gradient(self, y0, y1, stops):
        """Fills the band y0..y1 with a vertical gradient through `stops` [(t, colour)...],
        t in [0, 1] from the top of the band to its bottom."""
        s = self.size
        r0, r1 = max(0, round(y0 * s)), min(s, round(y1 * s))
        if r1 <= r0:
            return
        t = ((np.arange(r0, r1) + 0.5) / s - y0) / max(y1 - y0, 1e-6)
        pos = [p for p, _ in stops]
        cols = np.stack([np.interp(t, pos, [c[k] for _, c in stops]) for k in range(3)], -1)
        band = np.broadcast_to(np.clip(cols, 0, 255).astype(np.uint8)[:, None], (r1 - r0, s, 3))
        self.image.paste(Image.fromarray(np.ascontiguousarray(band)), (0, r0))

    def layer(self, colour):
        """A transparent layer the size of this canvas; `colour` is what its blurred edges fade
        through (use the layer's main colour so edges do not darken)."""
        return _Canvas(self.size, "RGBA", tuple(int(c) for c in colour) + (0,))

    def composite(self, layer, blur=0.0):
        """Pastes a layer over the canvas, first blurred by `blur` (normalised radius)."""
        *colour, alpha = layer.image.split()
        colour = Image.merge("RGB", colour)
        if blur > 0:
            # A blurred layer has no detail finer than the blur, so blur it at a fixed small
            # size and scale it back: ~30x cheaper on a 1024 px canvas, same at every size.
            # Colour and alpha are filtered apart: Pillow filters RGBA premultiplied in 8 bits,
            # which rings at the faint edges of smoke.
            factor = max(1, self.size // _BLUR_CANVAS)
            size = (self.size, self.size)
            radius = blur * self.size / factor
            colour, alpha = (
                _soften(colour, factor, radius, size),
                _soften(alpha, factor, radius, size),
            )
        self.image.paste(colour, (0, 0), alpha)

    def tint(self, colour, alpha):
        """Blends a uniform colour over everything (haze, dust, colour of the light)."""
        self.draw.rectangle([0, 0, self.size, self.size], fill=_rgb(colour, alpha))


def _soften(image, factor, radius, size):
    """Box-reduces `image` by `factor`, Gaussian-blurs it, scales it back up to `size`."""
    if factor > 1:
        image = image.reduce(factor)
    image = image.filter(ImageFilter.GaussianBlur(radius))
    if factor > 1:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image


# === Shared elements ===


def _ridge(rng, n, base, amplitude, octaves=3):
    """Heights (normalised y) of a hill line at n evenly spaced x in [-0.05, 1.05]."""
    x = np.linspace(-0.05, 1.05, n)
    y = np.full(n, float(base))
    for k in range(octaves):
        freq = rng.uniform(1.0, 2.5) * 2**k
        y += amplitude / 2**k * np.sin(2 * np.pi * freq * x + rng.uniform(0, 2 * np.pi))
    y += rng.normal(0.0, amplitude * 0.08, n)
    return x, y


def _flame(canvas, glow, rng, x, base, width, height, heat=1.0):
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
            x, base - 0.3 * height, 1.3 * width, 0.9 * height, _rgb(_FLAME_ORANGE, 150 * heat)
        )
    red = _jitter(rng, _FLAME_RED, 20)
    scales = np.array([1.0, 0.7, 0.42])[:, None]
    layers = np.stack([x + u * width * scales, base - v * height * scales], -1)
    for pts, colour in zip(layers, (red, _FLAME_ORANGE, _FLAME_YELLOW), strict=True):
        canvas.polygon(pts, _rgb(colour, 235 * heat))


def _plume(layer, rng, x, y, top, spread, drift, colour, alpha, puffs=None):
    """A smoke plume of overlapping puffs rising from (x, y) to `top`, widening as it goes."""
    n = int(puffs or rng.integers(7, 13))
    t = np.linspace(0.0, 1.0, n)
    cx = x + drift * t**1.5 + rng.normal(0.0, 0.02, n)
    cy = y - (y - top) * t
    r = spread * (0.35 + 1.0 * t) * rng.uniform(0.8, 1.2, n)
    shade = rng.uniform(-15, 15, n)
    for i in range(n):
        layer.ellipse(cx[i], cy[i], r[i], 0.8 * r[i], _rgb(colour + shade[i], alpha))


def _window_grid(rng, x0, x1, y0, y1, cols_per_unit, rows_per_unit):
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


def _tree(canvas, rng, x, base, size, colour, kind):
    """A conifer (kind 0: stacked triangles) or a broadleaf tree (kind 1: round canopy)."""
    trunk = _rgb(_mix(colour, (40, 25, 15), 0.6))
    if kind == 0:
        canvas.rect(x - 0.06 * size, base - 0.2 * size, x + 0.06 * size, base, trunk)
        for k in range(3):
            w = size * (0.45 - 0.1 * k)
            yb = base - size * (0.15 + 0.28 * k)
            canvas.polygon(
                [(x - w, yb), (x + w, yb), (x, yb - size * 0.5)], _rgb(colour * (1.0 + 0.08 * k))
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
                _rgb(colour * (0.9 + 0.07 * k)),
            )


def _transform(points, origin, angle):
    """Local (u right, v up) points rotated by `angle` (radians, positive leans right) and
    placed with their local origin at `origin` (normalised image coordinates)."""
    points = np.asarray(points, dtype=float)
    c, s = math.cos(angle), math.sin(angle)
    x = points[..., 0] * c + points[..., 1] * s
    y = -points[..., 0] * s + points[..., 1] * c
    return np.stack([origin[0] + x, origin[1] - y], -1)


def _crack_polygon(rng, x, y, steps, length, width, heading, flatten=1.0):
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


def _rubble_pile(canvas, rng, cx, base, width, height, palette, count):
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


# === Scenes ===


def _draw_building_fire(canvas, rng):
    """Burning city blocks: windows and roofs in flames, grey and black smoke, dark sky."""
    horizon = rng.uniform(0.68, 0.86)
    time = rng.choice(3, p=[0.5, 0.3, 0.2])  # night, dusk, smoky day
    light = (0.4, 0.65, 0.85)[time]
    sky = (
        [(0, (8, 10, 26)), (0.55, (30, 22, 42)), (1, (150, 60, 25))],
        [(0, (40, 32, 66)), (0.5, (110, 55, 60)), (1, (215, 105, 45))],
        [(0, (105, 105, 112)), (0.6, (140, 125, 115)), (1, (190, 150, 110))],
    )[time]
    sky = [(t, _jitter(rng, c, 12)) for t, c in sky]
    canvas.gradient(0, horizon, sky)
    street = _jitter(rng, (55, 52, 55), 10) * (0.6 + 0.4 * light)
    canvas.gradient(horizon, 1, [(0, street * 0.8), (1, street * 0.45)])
    canvas.rect(0, horizon, 1, horizon + 0.02, _rgb(street * 1.3))

    # Far skyline: silhouettes with a few lit windows.
    far = _mix(sky[-1][1], (20, 18, 25), 0.75)
    x = -0.05
    while x < 1.05:
        w = rng.uniform(0.05, 0.12)
        top = horizon - rng.uniform(0.12, 0.32)
        canvas.rect(x, top, x + w, horizon, _rgb(far))
        if time == 0:
            for wx0, wy0, wx1, wy1 in _window_grid(
                rng, x + 0.01, x + w - 0.01, top + 0.02, horizon - 0.02, 60, 40
            ):
                if rng.random() < 0.25:
                    canvas.rect(wx0, wy0, wx1, wy1, _rgb((200, 170, 90)))
        x += w

    glow = canvas.layer(_FLAME_ORANGE)
    flames = canvas.layer(_FLAME_ORANGE)
    smoke = canvas.layer((60, 60, 60))
    palette = [(150, 62, 45), (172, 150, 122), (112, 112, 118), (92, 72, 62), (135, 100, 70)]
    x = rng.uniform(-0.12, 0.0)
    buildings = []
    while x < 1.0:
        w = rng.uniform(0.15, 0.34)
        buildings.append((x, x + w, horizon - rng.uniform(0.25, 0.6)))
        x += w + (rng.uniform(0.02, 0.08) if rng.random() < 0.3 else 0.0)
    burning = set(rng.choice(len(buildings), size=max(1, len(buildings) // 2), replace=False))
    for i, (x0, x1, top) in enumerate(buildings):
        colour = _jitter(rng, _pick(rng, palette), 12) * light
        canvas.rect(x0, top, x1, horizon + 0.005, _rgb(colour))
        canvas.rect(x0 - 0.005, top - 0.012, x1 + 0.005, top, _rgb(colour * 0.7))
        on_fire = i in burning
        fire_rate = rng.uniform(0.25, 0.6) if on_fire else 0.0
        for wx0, wy0, wx1, wy1 in _window_grid(
            rng, x0 + 0.015, x1 - 0.015, top + 0.03, horizon - 0.03, 28, 16
        ):
            r = rng.random()
            if r < fire_rate:
                canvas.rect(wx0, wy0, wx1, wy1, _rgb((255, 150, 40)))
                if rng.random() < 0.6:
                    _flame(
                        flames,
                        glow,
                        rng,
                        (wx0 + wx1) / 2,
                        wy1,
                        (wx1 - wx0) * 1.4,
                        (wy1 - wy0) * rng.uniform(1.5, 2.8),
                    )
            elif time == 0 and r < fire_rate + 0.15:
                canvas.rect(wx0, wy0, wx1, wy1, _rgb((190, 160, 90)))
            else:
                canvas.rect(wx0, wy0, wx1, wy1, _rgb(_jitter(rng, (32, 32, 42), 8)))
        if on_fire:
            for fx in np.linspace(x0 + 0.02, x1 - 0.02, int(rng.integers(2, 5))):
                _flame(
                    flames,
                    glow,
                    rng,
                    fx + rng.uniform(-0.02, 0.02),
                    top + 0.005,
                    rng.uniform(0.06, 0.12),
                    rng.uniform(0.08, 0.22),
                )
            # Smoke is black or, lit by the fire below, a warm grey.
            dark = rng.random() < 0.4
            smoke_colour = _jitter(rng, (30, 28, 30) if dark else (125, 115, 110), 12)
            _plume(
                smoke,
                rng,
                (x0 + x1) / 2,
                top - 0.06,
                rng.uniform(-0.25, 0.0),
                max(0.07, (x1 - x0) * 0.55),
                rng.uniform(-0.35, 0.35),
                smoke_colour,
                235,
            )
    # Street lit by the fire.
    glow.ellipse(0.5, horizon + 0.05, 0.7, 0.08, _rgb(_FLAME_ORANGE, 90))
    canvas.composite(glow, 0.04)
    canvas.composite(smoke, 0.025)
    canvas.composite(flames)
    # Embers.
    n = int(rng.integers(10, 40))
    ex, ey = rng.uniform(0, 1, n), rng.uniform(0.1, horizon, n)
    for i in range(n):
        canvas.ellipse(ex[i], ey[i], 0.003, 0.003, _rgb((255, 180, 60), 200))


def _draw_wildfire(canvas, rng):
    """Forest fire: ridges and trees under an orange haze, a line of flames, brown smoke."""
    horizon = rng.uniform(0.42, 0.65)
    time = rng.choice(3, p=[0.55, 0.3, 0.15])  # hazy day, red dusk, night
    sky = (
        [(0, (150, 95, 60)), (0.6, (225, 140, 60)), (1, (250, 185, 95))],
        [(0, (95, 40, 40)), (0.5, (200, 80, 40)), (1, (250, 150, 60))],
        [(0, (30, 14, 18)), (0.6, (110, 40, 25)), (1, (220, 90, 30))],
    )[time]
    sky = [(t, _jitter(rng, c, 15)) for t, c in sky]
    canvas.gradient(0, horizon + 0.1, sky)
    if rng.random() < 0.6:
        sun = _mix(sky[-1][1], (255, 90, 50), 0.5)
        canvas.ellipse(
            rng.uniform(0.1, 0.9), rng.uniform(0.12, horizon - 0.1), 0.05, 0.05, _rgb(sun, 200)
        )

    glow = canvas.layer(_FLAME_ORANGE)
    flames = canvas.layer(_FLAME_ORANGE)
    smoke_colour = _jitter(rng, (115, 92, 80) if time < 2 else (70, 50, 45), 12)
    smoke = canvas.layer(smoke_colour)
    haze = sky[-1][1]
    layers = int(rng.integers(2, 4))
    ground = _jitter(rng, (38, 48, 26), 10) * (1.0 if time < 2 else 0.5)
    for k in range(layers):
        depth = k / max(layers - 1, 1)  # 0 far, 1 near
        base = horizon + 0.05 + depth * rng.uniform(0.12, 0.22)
        xs, ys = _ridge(rng, 33, base, 0.03 + 0.03 * (1 - depth))
        colour = _mix(haze * 0.75, ground, 0.35 + 0.65 * depth)
        canvas.polygon([*zip(xs, ys, strict=True), (1.05, 1.05), (-0.05, 1.05)], _rgb(colour))
        trees = int(rng.integers(8, 20))
        tx = np.sort(rng.uniform(-0.02, 1.02, trees))
        tree_colour = _mix(haze * 0.6, _jitter(rng, (20, 36, 20), 8), 0.5 + 0.5 * depth)
        size = 0.07 + 0.14 * depth
        for x in tx:
            base_y = np.interp(x, xs, ys) + size * 0.1
            kind = int(rng.random() < 0.3)
            burnt = rng.random() < 0.25 * depth
            c = tree_colour * 0.35 if burnt else tree_colour * rng.uniform(0.8, 1.2)
            _tree(canvas, rng, x, base_y, size * rng.uniform(0.7, 1.3), c, kind)
            if depth > 0 and rng.random() < 0.35:
                _flame(
                    flames,
                    glow,
                    rng,
                    x,
                    base_y - size * 0.2,
                    size * 0.6,
                    size * rng.uniform(0.6, 1.2),
                )
    # The fire line across the ground, charred ground in front of it.
    y_left, y_right = rng.uniform(0.72, 0.9, 2)
    x_start, x_end = rng.uniform(-0.1, 0.3), rng.uniform(0.7, 1.1)
    canvas.polygon(
        [(-0.05, y_left), (1.05, y_right), (1.05, 1.05), (-0.05, 1.05)],
        _rgb(_jitter(rng, (30, 24, 20), 6)),
    )
    fx = x_start
    while fx < x_end:
        fy = y_left + (y_right - y_left) * (fx + 0.05) / 1.1
        _flame(flames, glow, rng, fx, fy + 0.01, rng.uniform(0.04, 0.08), rng.uniform(0.05, 0.2))
        if rng.random() < 0.2:
            # Plumes start above the ridges so the trees stay visible through them.
            _plume(
                smoke,
                rng,
                fx,
                horizon - 0.02,
                rng.uniform(-0.3, 0.1),
                rng.uniform(0.06, 0.12),
                rng.uniform(-0.4, 0.4),
                smoke_colour,
                170,
                puffs=int(rng.integers(5, 9)),
            )
        fx += rng.uniform(0.02, 0.05)
    glow.polygon(
        [
            (-0.05, y_left - 0.12),
            (1.05, y_right - 0.12),
            (1.05, y_right + 0.04),
            (-0.05, y_left + 0.04),
        ],
        _rgb(_FLAME_ORANGE, 110),
    )
    canvas.composite(smoke, 0.03)
    canvas.composite(glow, 0.04)
    canvas.composite(flames)
    canvas.tint(haze, rng.uniform(5, 30))


def _building_outline(rng, w, h, broken):
    """Local outline (u right, v up, origin bottom-left) of a facade; a broken roof gets a
    jagged notch. Returns the polygon and the roof height function samples (u, v)."""
    roof_u = np.linspace(w, 0.0, 7)
    roof_v = np.full(7, h) + np.linspace(0, rng.uniform(-0.2, 0.2) * h, 7)
    if broken:
        centre, depth = rng.uniform(0.2, 0.8) * w, rng.uniform(0.15, 0.45) * h
        roof_v -= depth * np.clip(1.0 - np.abs(roof_u - centre) / (0.35 * w), 0.0, 1.0)
        roof_v += rng.uniform(-0.04, 0.04, 7) * h
    outline = np.concatenate([[(0.0, 0.0), (w, 0.0)], np.stack([roof_u, roof_v], -1)])
    return outline, (roof_u[::-1], roof_v[::-1])


def _draw_earthquake(canvas, rng):
    """Earthquake aftermath: tilted and broken buildings, rubble, cracked ground, dust."""
    horizon = rng.uniform(0.5, 0.72)
    # Dust-laden daylight: beige to grey, one brightness jitter so the hue stays warm.
    sky_top = _mix((172, 166, 152), (150, 150, 150), rng.uniform(0, 1)) * rng.uniform(0.9, 1.08)
    sky = [(0, sky_top), (1, _jitter(rng, (214, 196, 164), 6) * rng.uniform(0.92, 1.05))]
    canvas.gradient(0, horizon, sky)
    ground = _jitter(rng, (155, 132, 100), 14)
    canvas.gradient(horizon, 1, [(0, ground * 1.05), (1, ground * 0.8)])
    dust = _mix(sky[1][1], (180, 150, 110), 0.4)

    # Distant intact buildings, hazy.
    far = _mix(sky[1][1], (120, 115, 110), 0.45)
    x = -0.05
    while x < 1.05:
        w = rng.uniform(0.06, 0.14)
        if rng.random() < 0.7:
            canvas.rect(x, horizon - rng.uniform(0.05, 0.2), x + w, horizon + 0.01, _rgb(far))
        x += w

    palette = [
        (175, 170, 160),
        (150, 146, 140),
        (188, 176, 158),
        (132, 122, 112),
        (152, 98, 78),
        (170, 160, 130),
    ]
    rubble_palette = [
        (150, 145, 138),
        (120, 112, 104),
        (170, 158, 138),
        (110, 90, 72),
        (140, 100, 80),
        (90, 86, 84),
    ]
    count = int(rng.integers(2, 5))
    slots = (np.arange(count) + rng.uniform(0.15, 0.85, count)) / count
    dust_layer = canvas.layer(dust)
    for cx in slots:
        w = rng.uniform(0.14, 0.28)
        h = rng.uniform(0.22, 0.48)
        base = horizon + rng.uniform(0.04, 0.16)
        colour = _jitter(rng, _pick(rng, palette), 10)
        if rng.random() < 0.3:
            # Pancake collapse: slabs stacked askew.
            y = base
            for _ in range(int(rng.integers(3, 6))):
                t = rng.uniform(0.02, 0.04)
                a = rng.uniform(-0.2, 0.2)
                slab = _transform(
                    [(0, 0), (w, 0), (w, t), (0, t)], (cx - w / 2 + rng.uniform(-0.03, 0.03), y), a
                )
                canvas.polygon(slab, _rgb(colour * rng.uniform(0.75, 1.0)))
                canvas.line(slab[[0, 1]], _rgb(colour * 0.45), 0.004)
                y -= t * rng.uniform(0.6, 1.0)
        else:
            angle = rng.choice([-1, 1]) * rng.uniform(0.08, 0.4)
            outline, (ru, rv) = _building_outline(rng, w, h, rng.random() < 0.75)
            origin = (cx - w / 2, base)
            canvas.polygon(_transform(outline, origin, angle), _rgb(colour))
            side = _transform(
                [(w, 0), (w + 0.02, 0.01), (w + 0.02, h * 0.8), (w, h * 0.8)], origin, angle
            )
            canvas.polygon(side, _rgb(colour * 0.7))
            for u0, v0, u1, v1 in _window_grid(rng, 0.015, w - 0.015, 0.03, h - 0.03, 26, 15):
                if v1 > np.interp((u0 + u1) / 2, ru, rv) - 0.02 or rng.random() < 0.15:
                    continue
                win = _transform([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], origin, angle)
                broken_glass = rng.random() < 0.4
                canvas.polygon(win, _rgb((35, 32, 30) if broken_glass else (85, 95, 105)))
            for _ in range(int(rng.integers(1, 4))):
                # Local v points up, so heading -pi/2 runs the crack down the facade.
                crack, _ = _crack_polygon(
                    rng, rng.uniform(0.2, 0.8) * w, h * 0.6, 6, h * 0.5, 0.006, -np.pi / 2
                )
                canvas.polygon(_transform(crack, origin, angle), _rgb((45, 40, 36)))
        _rubble_pile(
            canvas,
            rng,
            cx + rng.uniform(-0.05, 0.05),
            base + 0.02,
            w * rng.uniform(1.2, 1.8),
            rng.uniform(0.05, 0.14),
            rubble_palette,
            int(rng.integers(60, 130)),
        )
        _plume(
            dust_layer,
            rng,
            cx,
            base - 0.05,
            base - rng.uniform(0.2, 0.4),
            0.1,
            rng.uniform(-0.2, 0.2),
            dust,
            150,
            puffs=5,
        )

    # Foreground rubble and cracks in the ground.
    for _ in range(int(rng.integers(1, 3))):
        _rubble_pile(
            canvas,
            rng,
            rng.uniform(0, 1),
            rng.uniform(0.9, 1.02),
            rng.uniform(0.3, 0.6),
            rng.uniform(0.06, 0.14),
            rubble_palette,
            int(rng.integers(30, 70)),
        )
    for _ in range(int(rng.integers(2, 5))):
        y = rng.uniform(horizon + 0.12, 0.95)
        heading = rng.choice([0.0, np.pi]) + rng.uniform(-0.6, 0.6)
        poly, path = _crack_polygon(
            rng,
            rng.uniform(0.0, 1.0),
            y,
            12,
            rng.uniform(0.35, 0.8),
            0.02 + 0.04 * (y - horizon),
            heading,
            flatten=0.5,
        )
        canvas.polygon(poly + (0, 0.004), _rgb(ground * 1.15))
        canvas.polygon(poly, _rgb((40, 32, 26)))
        if rng.random() < 0.6:
            j = int(rng.integers(2, 8))
            branch, _ = _crack_polygon(
                rng,
                path[j, 0],
                path[j, 1],
                6,
                0.15,
                0.01,
                heading + rng.choice([-1, 1]) * 0.7,
                flatten=0.5,
            )
            canvas.polygon(branch, _rgb((40, 32, 26)))
    canvas.composite(dust_layer, 0.03)
    canvas.tint(dust, rng.uniform(15, 55))


def _draw_flood(canvas, rng):
    """Flood: houses and trees half under brown/blue water, reflections, overcast sky."""
    waterline = rng.uniform(0.5, 0.72)
    grey = rng.uniform(100, 140)
    sky_top = _jitter(rng, (grey - 8, grey - 2, grey + 8), 6)
    sky_bottom = _jitter(rng, (grey + 55, grey + 60, grey + 65), 8)
    canvas.gradient(0, waterline, [(0, sky_top), (1, sky_bottom)])
    # Broken cloud bands.
    clouds = canvas.layer(sky_top)
    for _ in range(int(rng.integers(3, 8))):
        c = _jitter(rng, sky_top * rng.uniform(0.8, 1.15), 5)
        clouds.ellipse(
            rng.uniform(0, 1),
            rng.uniform(0.0, waterline * 0.6),
            rng.uniform(0.15, 0.4),
            rng.uniform(0.03, 0.07),
            _rgb(c, 200),
        )
    canvas.composite(clouds, 0.03)
    # Distant tree line on the far shore.
    xs, ys = _ridge(rng, 33, waterline - rng.uniform(0.02, 0.06), 0.012)
    shore = _mix(sky_bottom, (60, 80, 55), 0.45)
    canvas.polygon(
        [*zip(xs, ys, strict=True), (1.05, waterline + 0.01), (-0.05, waterline + 0.01)],
        _rgb(shore),
    )

    walls = [(222, 216, 200), (210, 190, 140), (140, 152, 162), (152, 82, 62), (190, 175, 160)]
    roofs = [(92, 42, 36), (62, 62, 68), (112, 82, 62), (80, 70, 60)]
    light = rng.uniform(0.75, 1.0)
    objects = int(rng.integers(4, 8))
    xs = (np.arange(objects) + rng.uniform(0.0, 1.0, objects)) / objects * 1.1 - 0.05
    houses = rng.random(objects) < 0.65
    houses[rng.integers(objects)] = True
    for i in rng.permutation(objects):
        x = xs[i]
        depth = rng.uniform(0.0, 1.0)
        scale = 0.8 + 0.8 * depth
        if houses[i]:
            w = rng.uniform(0.12, 0.2) * scale
            above = rng.uniform(-0.02, 0.2) * scale  # wall showing above the water
            top = waterline - above
            wall = _jitter(rng, _pick(rng, walls), 10) * light
            roof_colour = _jitter(rng, _pick(rng, roofs), 8) * light
            canvas.rect(x - w / 2, top, x + w / 2, waterline + 0.2, _rgb(wall))
            canvas.polygon(
                [
                    (x - w / 2 - 0.015, top),
                    (x + w / 2 + 0.015, top),
                    (x, top - rng.uniform(0.05, 0.1) * scale),
                ],
                _rgb(roof_colour),
            )
            for wx0, wy0, wx1, wy1 in _window_grid(
                rng, x - w / 2 + 0.012, x + w / 2 - 0.012, top + 0.015, waterline + 0.1, 25, 18
            ):
                canvas.rect(wx0, wy0, wx1, wy1, _rgb(_jitter(rng, (55, 60, 70), 8)))
            # Dirty-water stain line on the wall.
            canvas.rect(x - w / 2, waterline - 0.012, x + w / 2, waterline, _rgb(wall * 0.75))
        else:
            size = rng.uniform(0.12, 0.22) * scale
            colour = _jitter(rng, (58, 88, 50), 12) * light
            _tree(canvas, rng, x, waterline + size * 0.25, size, colour, int(rng.random() < 0.7))

    # Water: colour between muddy brown and grey-blue, lighter where it meets the sky.
    water = _mix(
        _jitter(rng, (128, 102, 70), 10), _jitter(rng, (82, 98, 112), 10), rng.uniform(0.0, 1.0)
    )
    size = canvas.size
    top_row = round(waterline * size)
    above = np.asarray(canvas.image)[max(0, 2 * top_row - size) : top_row][::-1].astype(float)
    canvas.gradient(waterline, 1, [(0, _mix(water, sky_bottom, 0.3)), (1, water * 0.75)])
    # Rippled reflection: the picture above the waterline, flipped, rows shifted by a wave
    # whose phase depends on normalised height so every resolution ripples alike.
    rows = np.asarray(canvas.image)[top_row : top_row + len(above)].astype(float)
    y_norm = (np.arange(len(above)) + 0.5) / size
    freq, phase, amp = rng.uniform(60, 120), rng.uniform(0, 2 * np.pi), rng.uniform(0.004, 0.01)
    shift = np.round(amp * size * (1 + 4 * y_norm) * np.sin(freq * y_norm + phase)).astype(int)
    cols = (np.arange(size)[None, :] - shift[:, None]) % size
    reflected = np.take_along_axis(above, cols[..., None], axis=1)
    strength = rng.uniform(0.25, 0.45) * np.exp(-y_norm / 0.25)[:, None, None]
    rows = rows * (1 - strength) + reflected * strength
    canvas.image.paste(Image.fromarray(rows.astype(np.uint8)), (0, top_row))
    # Ripples, denser towards the horizon as perspective would make them.
    light_ripple = _rgb(_mix(water, sky_bottom, 0.55), 150)
    dark_ripple = _rgb(water * 0.6, 150)
    n = int(rng.integers(30, 60))
    ry = waterline + 0.01 + (1 - waterline) * rng.uniform(0, 1, n) ** 1.6
    rx = rng.uniform(-0.05, 1.0, n)
    length = rng.uniform(0.03, 0.15, n) * (0.5 + ry)
    for i in range(n):
        canvas.line(
            [(rx[i], ry[i]), (rx[i] + length[i], ry[i])],
            light_ripple if i % 2 else dark_ripple,
            0.004 * (0.5 + ry[i]),
        )
    canvas.line([(-0.05, waterline), (1.05, waterline)], _rgb(_mix(water, sky_bottom, 0.6)), 0.004)
    # Floating debris.
    for _ in range(int(rng.integers(2, 8))):
        dx, dy = rng.uniform(0, 1), rng.uniform(waterline + 0.03, 0.98)
        s = 0.01 + 0.03 * (dy - waterline)
        canvas.polygon(
            _transform(
                [(-s, 0), (s, 0), (s * 0.8, s * 0.5), (-s, s * 0.4)],
                (dx, dy),
                rng.uniform(-0.3, 0.3),
            ),
            _rgb(_jitter(rng, (70, 55, 40), 10)),
        )
    if rng.random() < 0.35:
        rain = _rgb(_mix(sky_bottom, (255, 255, 255), 0.3), 70)
        n = int(rng.integers(40, 100))
        x0, y0 = rng.uniform(-0.1, 1.0, n), rng.uniform(-0.05, 1.0, n)
        slant = rng.uniform(-0.03, 0.03)
        for i in range(n):
            canvas.line([(x0[i], y0[i]), (x0[i] + slant, y0[i] + 0.06)], rain, 0.002)


_SCENES = (_draw_building_fire, _draw_wildfire, _draw_earthquake, _draw_flood)


# === Public API ===


def _check_resolution(resolution):
    valid = (
        isinstance(resolution, (int, np.integer))
        and not isinstance(resolution, bool)
        and MIN_RESOLUTION <= resolution <= MAX_RESOLUTION
        and resolution & (resolution - 1) == 0
    )
    if not valid:
        raise ValueError(
            f"`resolution` must be a power of two in [{MIN_RESOLUTION}, {MAX_RESOLUTION}]. "
            f"Received resolution={resolution!r}"
        )
    return int(resolution)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer. Received seed={seed!r}")
    return int(seed)


def _check_index(index):
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"`index` must be a non-negative integer. Received index={index!r}")
    return int(index)


def render_scene(index: int, resolution: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Draws one synthetic disaster scene.

    The scene is a pure function of its arguments: the layout is drawn from
    `np.random.default_rng([seed, index])` in normalised coordinates, rendered on a canvas
    at least twice (and at least 128 px) as large as asked, and box-downsampled, so
    renders of one index at different resolutions show the same picture.

    Args:
        index: int >= 0. Which scene; its class is `index % 4` (see `CLASS_NAMES`).
        resolution: int. Output height and width in pixels, a power of two in
            [`MIN_RESOLUTION`, `MAX_RESOLUTION`] = [16, 512].
        seed: int >= 0, default 0. Selects a different dataset of the same classes.

    Returns:
        A tuple `(image, label)`: `image` is a uint8 NumPy array of shape
        `[resolution, resolution, 3]` (RGB) and `label` the int class id `index % 4`.

    Raises:
        ValueError: if `resolution` is not a power of two in [16, 512], or `index` or
            `seed` is negative or not an integer.

    Example:
        >>> image, label = render_scene(7, resolution=64)
        >>> image.shape, image.dtype, CLASS_NAMES[label]
        ((64, 64, 3), dtype('uint8'), 'flood')
    """
    index = _check_index(index)
    resolution = _check_resolution(resolution)
    seed = _check_seed(seed)
    label = index % len(CLASS_NAMES)
    rng = np.random.default_rng([seed, index])
    canvas = _Canvas(max(_MIN_CANVAS, _SUPERSAMPLE * resolution))
    _SCENES[label](canvas, rng)
    # Box filter = the mean over each block of supersamples: exact anti-aliasing, and fast.
    image = canvas.image.reduce(canvas.size // resolution)
    # Exposure and white balance of the "camera", per scene.
    grade = rng.uniform(0.88, 1.1) * rng.uniform(0.95, 1.05, 3)
    pixels = np.clip(np.asarray(image, dtype=np.float32) * grade.astype(np.float32), 0, 255)
    return np.round(pixels).astype(np.uint8), label


def _class_ids(classes):
    """Sorted unique class ids from names or ids; None means all classes."""
    if classes is None:
        return list(range(len(CLASS_NAMES)))
    if isinstance(classes, (str, int, np.integer)):
        classes = [classes]
    ids = set()
    for c in classes:
        if isinstance(c, str) and c in CLASS_NAMES:
            ids.add(CLASS_NAMES.index(c))
        elif (
            isinstance(c, (int, np.integer))
            and not isinstance(c, bool)
            and 0 <= c < len(CLASS_NAMES)
        ):
            ids.add(int(c))
        else:
            raise ValueError(
                f"Unknown class {c!r}. Valid classes are names {list(CLASS_NAMES)} "
                f"or ids 0..{len(CLASS_NAMES) - 1}."
            )
    if not ids:
        raise ValueError(f"`classes` is empty. Valid classes are {list(CLASS_NAMES)}.")
    return sorted(ids)


def _render_batch(indices, resolution, seed):
    images = np.empty((len(indices), resolution, resolution, 3), np.uint8)
    labels = np.empty(len(indices), np.int32)
    for i, index in enumerate(indices):
        images[i], labels[i] = render_scene(index, resolution, seed)
    return images, labels


def generate(
    num_images: int,
    resolution: int,
    seed: int = 0,
    classes: Iterable[str | int] | str | int | None = None,
    num_workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws the first `num_images` scenes of the procedural dataset.

    Image i is `render_scene(index_i, resolution, seed)`, where index_i is the i-th scene
    index whose class is kept, so class counts stay balanced (round-robin over the kept
    classes) and a filtered dataset is a subset of the unfiltered one. Large requests are
    spread over a pool of spawned worker processes; the result does not depend on
    `num_workers`.

    Args:
        num_images: int >= 1. How many images to draw.
        resolution: int. Height and width, a power of two in [16, 512].
        seed: int >= 0, default 0. Which dataset (see `render_scene`).
        classes: optional iterable of class names (see `CLASS_NAMES`) or ids to keep;
            default None keeps all four.
        num_workers: optional int >= 1, default None (= `os.cpu_count()`). Worker
            processes; 1 draws in this process.

    Returns:
        A tuple `(images, labels)`: uint8 array `[num_images, resolution, resolution, 3]`
        and int32 array `[num_images]` of class ids.

    Raises:
        ValueError: for `num_images` < 1, a bad `resolution`, `seed` or `num_workers`, or a
            class that is not in `CLASS_NAMES`.

    Example:
        >>> images, labels = generate(8, resolution=32, classes=["wildfire", "flood"])
        >>> images.shape, labels.tolist()
        ((8, 32, 32, 3), [1, 3, 1, 3, 1, 3, 1, 3])
    """
    if (
        isinstance(num_images, bool)
        or not isinstance(num_images, (int, np.integer))
        or num_images < 1
    ):
        raise ValueError(
            f"`num_images` must be a positive integer. Received num_images={num_images!r}"
        )
    resolution = _check_resolution(resolution)
    seed = _check_seed(seed)
    ids = _class_ids(classes)
    if num_workers is None:
        num_workers = os.cpu_count() or 1
    if (
        isinstance(num_workers, bool)
        or not isinstance(num_workers, (int, np.integer))
        or num_workers < 1
    ):
        raise ValueError(
            f"`num_workers` must be a positive integer. Received num_workers={num_workers!r}"
        )
    n = int(num_images)
    k = len(ids)
    indices = [(i // k) * len(CLASS_NAMES) + ids[i % k] for i in range(n)]
    context = _pool_context()
    workers = min(int(num_workers), n // _MIN_IMAGES_PER_SPAWN_WORKER)
    # A daemonic process (e.g. a multiprocessing worker) may not start children.
    if workers <= 1 or multiprocessing.current_process().daemon:
        return _render_batch(indices, resolution, seed)
    # Processes, not threads: drawing is pure Python + Pillow calls that hold the GIL, so a
    # thread pool measured slower than one thread. Several chunks per worker balance the load.
    chunks = [c.tolist() for c in np.array_split(np.asarray(indices), workers * 4)]
    images = np.empty((n, resolution, resolution, 3), np.uint8)
    labels = np.empty(n, np.int32)
    start = 0
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        results = pool.map(_render_batch, chunks, [resolution] * len(chunks), [seed] * len(chunks))
        for chunk_images, chunk_labels in results:
            images[start : start + len(chunk_labels)] = chunk_images
            labels[start : start + len(chunk_labels)] = chunk_labels
            start += len(chunk_labels)
    return images, labels


def _pool_context():
    """Always "spawn": forking a process whose TensorFlow runtime has started its thread
    pools can deadlock the child (seen here: a benchmark process hung in forked workers after
    training). A spawned worker re-imports the package (seconds), so pools are only used for
    at least `_MIN_IMAGES_PER_SPAWN_WORKER` images per worker."""
    return multiprocessing.get_context("spawn")


def is_procedural(spec: object) -> bool:
    """Whether a dataset spec names the procedural dataset.

    True for any string of the form "procedural" or "procedural:...", well formed or not,
    so a caller can route it to `parse_spec`, which then reports a malformed spec.

    Args:
        spec: anything; only strings can be procedural specs.

    Returns:
        bool.

    Example:
        >>> is_procedural("procedural:2000"), is_procedural("photos/flood")
        (True, False)
    """
    return isinstance(spec, str) and spec.split(":", 1)[0] == SPEC_PREFIX


def parse_spec(spec: str) -> int | None:
    """Reads the image count from a "procedural:N" dataset spec.

    Args:
        spec: str. A dataset source as given on the command line: "procedural:N" for the
            first N images of this dataset, anything else for a folder or shards.

    Returns:
        N (int >= 1) for "procedural:N"; None for a string that is not a procedural spec
        (its part before the first ":" is not "procedural"), e.g. a folder path.

    Raises:
        ValueError: for a malformed procedural spec, e.g. "procedural", "procedural:abc" or
            "procedural:0", naming the spec and the expected form.

    Example:
        >>> parse_spec("procedural:2000"), parse_spec("data/floods")
        (2000, None)
    """
    if not is_procedural(spec):
        return None
    match = _SPEC_PATTERN.fullmatch(spec)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            f"Malformed procedural dataset spec {spec!r}: expected 'procedural:N' with N a "
            "positive integer number of images, e.g. 'procedural:2000'."
        )
    return int(match.group(1))
