"""The four class renderers of the procedural dataset: ``draw_<class>(canvas, rng)`` lays out
one scene from ``rng`` and draws it on ``canvas``; `SCENES` lists them in the order of
`CLASS_NAMES` (building fire, wildfire, earthquake, flood)."""

import numpy as np
from PIL import Image

from tfdisgan.data.procedural.canvas import jitter, mix, pick, rgb
from tfdisgan.data.procedural.elements import (
    FLAME_ORANGE,
    crack_polygon,
    flame,
    plume,
    ridge,
    rubble_pile,
    transform,
    tree,
    window_grid,
)

# === Scenes ===


def draw_building_fire(canvas, rng):
    """Burning city blocks: windows and roofs in flames, grey and black smoke, dark sky."""
    horizon = rng.uniform(0.68, 0.86)
    time = rng.choice(3, p=[0.5, 0.3, 0.2])  # night, dusk, smoky day
    light = (0.4, 0.65, 0.85)[time]
    sky = (
        [(0, (8, 10, 26)), (0.55, (30, 22, 42)), (1, (150, 60, 25))],
        [(0, (40, 32, 66)), (0.5, (110, 55, 60)), (1, (215, 105, 45))],
        [(0, (105, 105, 112)), (0.6, (140, 125, 115)), (1, (190, 150, 110))],
    )[time]
    sky = [(t, jitter(rng, c, 12)) for t, c in sky]
    canvas.gradient(0, horizon, sky)
    street = jitter(rng, (55, 52, 55), 10) * (0.6 + 0.4 * light)
    canvas.gradient(horizon, 1, [(0, street * 0.8), (1, street * 0.45)])
    canvas.rect(0, horizon, 1, horizon + 0.02, rgb(street * 1.3))

    # Far skyline: silhouettes with a few lit windows.
    far = mix(sky[-1][1], (20, 18, 25), 0.75)
    x = -0.05
    while x < 1.05:
        w = rng.uniform(0.05, 0.12)
        top = horizon - rng.uniform(0.12, 0.32)
        canvas.rect(x, top, x + w, horizon, rgb(far))
        if time == 0:
            for wx0, wy0, wx1, wy1 in window_grid(
                rng, x + 0.01, x + w - 0.01, top + 0.02, horizon - 0.02, 60, 40
            ):
                if rng.random() < 0.25:
                    canvas.rect(wx0, wy0, wx1, wy1, rgb((200, 170, 90)))
        x += w

    glow = canvas.layer(FLAME_ORANGE)
    flames = canvas.layer(FLAME_ORANGE)
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
        colour = jitter(rng, pick(rng, palette), 12) * light
        canvas.rect(x0, top, x1, horizon + 0.005, rgb(colour))
        canvas.rect(x0 - 0.005, top - 0.012, x1 + 0.005, top, rgb(colour * 0.7))
        on_fire = i in burning
        fire_rate = rng.uniform(0.25, 0.6) if on_fire else 0.0
        for wx0, wy0, wx1, wy1 in window_grid(
            rng, x0 + 0.015, x1 - 0.015, top + 0.03, horizon - 0.03, 28, 16
        ):
            r = rng.random()
            if r < fire_rate:
                canvas.rect(wx0, wy0, wx1, wy1, rgb((255, 150, 40)))
                if rng.random() < 0.6:
                    flame(
                        flames,
                        glow,
                        rng,
                        (wx0 + wx1) / 2,
                        wy1,
                        (wx1 - wx0) * 1.4,
                        (wy1 - wy0) * rng.uniform(1.5, 2.8),
                    )
            elif time == 0 and r < fire_rate + 0.15:
                canvas.rect(wx0, wy0, wx1, wy1, rgb((190, 160, 90)))
            else:
                canvas.rect(wx0, wy0, wx1, wy1, rgb(jitter(rng, (32, 32, 42), 8)))
        if on_fire:
            for fx in np.linspace(x0 + 0.02, x1 - 0.02, int(rng.integers(2, 5))):
                flame(
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
            smoke_colour = jitter(rng, (30, 28, 30) if dark else (125, 115, 110), 12)
            plume(
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
    glow.ellipse(0.5, horizon + 0.05, 0.7, 0.08, rgb(FLAME_ORANGE, 90))
    canvas.composite(glow, 0.04)
    canvas.composite(smoke, 0.025)
    canvas.composite(flames)
    # Embers.
    n = int(rng.integers(10, 40))
    ex, ey = rng.uniform(0, 1, n), rng.uniform(0.1, horizon, n)
    for i in range(n):
        canvas.ellipse(ex[i], ey[i], 0.003, 0.003, rgb((255, 180, 60), 200))


def draw_wildfire(canvas, rng):
    """Forest fire: ridges and trees under an orange haze, a line of flames, brown smoke."""
    horizon = rng.uniform(0.42, 0.65)
    time = rng.choice(3, p=[0.55, 0.3, 0.15])  # hazy day, red dusk, night
    sky = (
        [(0, (150, 95, 60)), (0.6, (225, 140, 60)), (1, (250, 185, 95))],
        [(0, (95, 40, 40)), (0.5, (200, 80, 40)), (1, (250, 150, 60))],
        [(0, (30, 14, 18)), (0.6, (110, 40, 25)), (1, (220, 90, 30))],
    )[time]
    sky = [(t, jitter(rng, c, 15)) for t, c in sky]
    canvas.gradient(0, horizon + 0.1, sky)
    if rng.random() < 0.6:
        sun = mix(sky[-1][1], (255, 90, 50), 0.5)
        canvas.ellipse(
            rng.uniform(0.1, 0.9), rng.uniform(0.12, horizon - 0.1), 0.05, 0.05, rgb(sun, 200)
        )

    glow = canvas.layer(FLAME_ORANGE)
    flames = canvas.layer(FLAME_ORANGE)
    smoke_colour = jitter(rng, (115, 92, 80) if time < 2 else (70, 50, 45), 12)
    smoke = canvas.layer(smoke_colour)
    haze = sky[-1][1]
    layers = int(rng.integers(2, 4))
    ground = jitter(rng, (38, 48, 26), 10) * (1.0 if time < 2 else 0.5)
    for k in range(layers):
        depth = k / max(layers - 1, 1)  # 0 far, 1 near
        base = horizon + 0.05 + depth * rng.uniform(0.12, 0.22)
        xs, ys = ridge(rng, 33, base, 0.03 + 0.03 * (1 - depth))
        colour = mix(haze * 0.75, ground, 0.35 + 0.65 * depth)
        canvas.polygon([*zip(xs, ys, strict=True), (1.05, 1.05), (-0.05, 1.05)], rgb(colour))
        trees = int(rng.integers(8, 20))
        tx = np.sort(rng.uniform(-0.02, 1.02, trees))
        tree_colour = mix(haze * 0.6, jitter(rng, (20, 36, 20), 8), 0.5 + 0.5 * depth)
        size = 0.07 + 0.14 * depth
        for x in tx:
            base_y = np.interp(x, xs, ys) + size * 0.1
            kind = int(rng.random() < 0.3)
            burnt = rng.random() < 0.25 * depth
            c = tree_colour * 0.35 if burnt else tree_colour * rng.uniform(0.8, 1.2)
            tree(canvas, rng, x, base_y, size * rng.uniform(0.7, 1.3), c, kind)
            if depth > 0 and rng.random() < 0.35:
                flame(
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
        rgb(jitter(rng, (30, 24, 20), 6)),
    )
    fx = x_start
    while fx < x_end:
        fy = y_left + (y_right - y_left) * (fx + 0.05) / 1.1
        flame(flames, glow, rng, fx, fy + 0.01, rng.uniform(0.04, 0.08), rng.uniform(0.05, 0.2))
        if rng.random() < 0.2:
            # Plumes start above the ridges so the trees stay visible through them.
            plume(
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
        rgb(FLAME_ORANGE, 110),
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


def draw_earthquake(canvas, rng):
    """Earthquake aftermath: tilted and broken buildings, rubble, cracked ground, dust."""
    horizon = rng.uniform(0.5, 0.72)
    # Dust-laden daylight: beige to grey, one brightness jitter so the hue stays warm.
    sky_top = mix((172, 166, 152), (150, 150, 150), rng.uniform(0, 1)) * rng.uniform(0.9, 1.08)
    sky = [(0, sky_top), (1, jitter(rng, (214, 196, 164), 6) * rng.uniform(0.92, 1.05))]
    canvas.gradient(0, horizon, sky)
    ground = jitter(rng, (155, 132, 100), 14)
    canvas.gradient(horizon, 1, [(0, ground * 1.05), (1, ground * 0.8)])
    dust = mix(sky[1][1], (180, 150, 110), 0.4)

    # Distant intact buildings, hazy.
    far = mix(sky[1][1], (120, 115, 110), 0.45)
    x = -0.05
    while x < 1.05:
        w = rng.uniform(0.06, 0.14)
        if rng.random() < 0.7:
            canvas.rect(x, horizon - rng.uniform(0.05, 0.2), x + w, horizon + 0.01, rgb(far))
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
        colour = jitter(rng, pick(rng, palette), 10)
        if rng.random() < 0.3:
            # Pancake collapse: slabs stacked askew.
            y = base
            for _ in range(int(rng.integers(3, 6))):
                t = rng.uniform(0.02, 0.04)
                a = rng.uniform(-0.2, 0.2)
                slab = transform(
                    [(0, 0), (w, 0), (w, t), (0, t)], (cx - w / 2 + rng.uniform(-0.03, 0.03), y), a
                )
                canvas.polygon(slab, rgb(colour * rng.uniform(0.75, 1.0)))
                canvas.line(slab[[0, 1]], rgb(colour * 0.45), 0.004)
                y -= t * rng.uniform(0.6, 1.0)
        else:
            angle = rng.choice([-1, 1]) * rng.uniform(0.08, 0.4)
            outline, (ru, rv) = _building_outline(rng, w, h, rng.random() < 0.75)
            origin = (cx - w / 2, base)
            canvas.polygon(transform(outline, origin, angle), rgb(colour))
            side = transform(
                [(w, 0), (w + 0.02, 0.01), (w + 0.02, h * 0.8), (w, h * 0.8)], origin, angle
            )
            canvas.polygon(side, rgb(colour * 0.7))
            for u0, v0, u1, v1 in window_grid(rng, 0.015, w - 0.015, 0.03, h - 0.03, 26, 15):
                if v1 > np.interp((u0 + u1) / 2, ru, rv) - 0.02 or rng.random() < 0.15:
                    continue
                win = transform([(u0, v0), (u1, v0), (u1, v1), (u0, v1)], origin, angle)
                broken_glass = rng.random() < 0.4
                canvas.polygon(win, rgb((35, 32, 30) if broken_glass else (85, 95, 105)))
            for _ in range(int(rng.integers(1, 4))):
                # Local v points up, so heading -pi/2 runs the crack down the facade.
                crack, _ = crack_polygon(
                    rng, rng.uniform(0.2, 0.8) * w, h * 0.6, 6, h * 0.5, 0.006, -np.pi / 2
                )
                canvas.polygon(transform(crack, origin, angle), rgb((45, 40, 36)))
        rubble_pile(
            canvas,
            rng,
            cx + rng.uniform(-0.05, 0.05),
            base + 0.02,
            w * rng.uniform(1.2, 1.8),
            rng.uniform(0.05, 0.14),
            rubble_palette,
            int(rng.integers(60, 130)),
        )
        plume(
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
        rubble_pile(
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
        poly, path = crack_polygon(
            rng,
            rng.uniform(0.0, 1.0),
            y,
            12,
            rng.uniform(0.35, 0.8),
            0.02 + 0.04 * (y - horizon),
            heading,
            flatten=0.5,
        )
        canvas.polygon(poly + (0, 0.004), rgb(ground * 1.15))
        canvas.polygon(poly, rgb((40, 32, 26)))
        if rng.random() < 0.6:
            j = int(rng.integers(2, 8))
            branch, _ = crack_polygon(
                rng,
                path[j, 0],
                path[j, 1],
                6,
                0.15,
                0.01,
                heading + rng.choice([-1, 1]) * 0.7,
                flatten=0.5,
            )
            canvas.polygon(branch, rgb((40, 32, 26)))
    canvas.composite(dust_layer, 0.03)
    canvas.tint(dust, rng.uniform(15, 55))


def draw_flood(canvas, rng):
    """Flood: houses and trees half under brown/blue water, reflections, overcast sky."""
    waterline = rng.uniform(0.5, 0.72)
    grey = rng.uniform(100, 140)
    sky_top = jitter(rng, (grey - 8, grey - 2, grey + 8), 6)
    sky_bottom = jitter(rng, (grey + 55, grey + 60, grey + 65), 8)
    canvas.gradient(0, waterline, [(0, sky_top), (1, sky_bottom)])
    # Broken cloud bands.
    clouds = canvas.layer(sky_top)
    for _ in range(int(rng.integers(3, 8))):
        c = jitter(rng, sky_top * rng.uniform(0.8, 1.15), 5)
        clouds.ellipse(
            rng.uniform(0, 1),
            rng.uniform(0.0, waterline * 0.6),
            rng.uniform(0.15, 0.4),
            rng.uniform(0.03, 0.07),
            rgb(c, 200),
        )
    canvas.composite(clouds, 0.03)
    # Distant tree line on the far shore.
    xs, ys = ridge(rng, 33, waterline - rng.uniform(0.02, 0.06), 0.012)
    shore = mix(sky_bottom, (60, 80, 55), 0.45)
    canvas.polygon(
        [*zip(xs, ys, strict=True), (1.05, waterline + 0.01), (-0.05, waterline + 0.01)],
        rgb(shore),
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
            wall = jitter(rng, pick(rng, walls), 10) * light
            roof_colour = jitter(rng, pick(rng, roofs), 8) * light
            canvas.rect(x - w / 2, top, x + w / 2, waterline + 0.2, rgb(wall))
            canvas.polygon(
                [
                    (x - w / 2 - 0.015, top),
                    (x + w / 2 + 0.015, top),
                    (x, top - rng.uniform(0.05, 0.1) * scale),
                ],
                rgb(roof_colour),
            )
            for wx0, wy0, wx1, wy1 in window_grid(
                rng, x - w / 2 + 0.012, x + w / 2 - 0.012, top + 0.015, waterline + 0.1, 25, 18
            ):
                canvas.rect(wx0, wy0, wx1, wy1, rgb(jitter(rng, (55, 60, 70), 8)))
            # Dirty-water stain line on the wall.
            canvas.rect(x - w / 2, waterline - 0.012, x + w / 2, waterline, rgb(wall * 0.75))
        else:
            size = rng.uniform(0.12, 0.22) * scale
            colour = jitter(rng, (58, 88, 50), 12) * light
            tree(canvas, rng, x, waterline + size * 0.25, size, colour, int(rng.random() < 0.7))

    # Water: colour between muddy brown and grey-blue, lighter where it meets the sky.
    water = mix(
        jitter(rng, (128, 102, 70), 10), jitter(rng, (82, 98, 112), 10), rng.uniform(0.0, 1.0)
    )
    size = canvas.size
    top_row = round(waterline * size)
    above = np.asarray(canvas.image)[max(0, 2 * top_row - size) : top_row][::-1].astype(float)
    canvas.gradient(waterline, 1, [(0, mix(water, sky_bottom, 0.3)), (1, water * 0.75)])
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
    light_ripple = rgb(mix(water, sky_bottom, 0.55), 150)
    dark_ripple = rgb(water * 0.6, 150)
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
    canvas.line([(-0.05, waterline), (1.05, waterline)], rgb(mix(water, sky_bottom, 0.6)), 0.004)
    # Floating debris.
    for _ in range(int(rng.integers(2, 8))):
        dx, dy = rng.uniform(0, 1), rng.uniform(waterline + 0.03, 0.98)
        s = 0.01 + 0.03 * (dy - waterline)
        canvas.polygon(
            transform(
                [(-s, 0), (s, 0), (s * 0.8, s * 0.5), (-s, s * 0.4)],
                (dx, dy),
                rng.uniform(-0.3, 0.3),
            ),
            rgb(jitter(rng, (70, 55, 40), 10)),
        )
    if rng.random() < 0.35:
        rain = rgb(mix(sky_bottom, (255, 255, 255), 0.3), 70)
        n = int(rng.integers(40, 100))
        x0, y0 = rng.uniform(-0.1, 1.0, n), rng.uniform(-0.05, 1.0, n)
        slant = rng.uniform(-0.03, 0.03)
        for i in range(n):
            canvas.line([(x0[i], y0[i]), (x0[i] + slant, y0[i] + 0.06)], rain, 0.002)


SCENES = (draw_building_fire, draw_wildfire, draw_earthquake, draw_flood)
