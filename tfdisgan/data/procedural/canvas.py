"""Drawing primitives of the procedural scenes: colour helpers and `Canvas`, a Pillow image
addressed in normalised coordinates."""

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Soft layers (smoke, glow, dust, clouds) are blurred at this size whatever the canvas.
_BLUR_CANVAS = 128


# === Colour helpers ===


def rgb(colour, alpha=None):
    """A Pillow fill tuple from a float colour (and alpha), rounded and clipped to [0, 255]."""
    # Plain Python: this runs thousands of times a scene, where np.clip costs ~5 us a call.
    values = colour.tolist() if isinstance(colour, np.ndarray) else list(colour)
    if alpha is not None:
        values.append(float(alpha))
    return tuple(min(255, max(0, int(v + 0.5))) for v in values)


def mix(a, b, t):
    return np.asarray(a, dtype=float) * (1.0 - t) + np.asarray(b, dtype=float) * t


def jitter(rng, colour, amount):
    return np.asarray(colour, dtype=float) + rng.uniform(-amount, amount, 3)


def pick(rng, palette):
    return np.asarray(palette[rng.integers(len(palette))], dtype=float)


# === Canvas ===


class Canvas:
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
        return Canvas(self.size, "RGBA", tuple(int(c) for c in colour) + (0,))

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
        self.draw.rectangle([0, 0, self.size, self.size], fill=rgb(colour, alpha))


def _soften(image, factor, radius, size):
    """Box-reduces `image` by `factor`, Gaussian-blurs it, scales it back up to `size`."""
    if factor > 1:
        image = image.reduce(factor)
    image = image.filter(ImageFilter.GaussianBlur(radius))
    if factor > 1:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image
