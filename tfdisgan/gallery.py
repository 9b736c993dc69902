"""The end-of-training showcase: what a user wants to see after training, in the run folder.

``RUN_DIR/showcase/`` (samples, a latent walk, a style-mixing figure or an interpolation
grid) and ``RUN_DIR/export/NAME/1``, the SavedModel for TF Serving.
"""

import os
import re

import numpy as np

from tfdisgan import mixing
from tfdisgan.data import load_dataset
from tfdisgan.export import export_saved_model
from tfdisgan.images import enlarge, image_grid, save_png, to_uint8
from tfdisgan.runs import load_model
from tfdisgan.views import GeneratorView


def model_name(run_dir):
    """TF Serving model name for a run folder: ``00003-demo`` -> ``demo``."""
    base = os.path.basename(os.path.normpath(run_dir))
    base = re.sub(r"^\d{5}-", "", base)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base) or "generator"


def write_reals(run_dir, spec, resolution, classes=None, num_classes=0, per_row=8):
    """``RUN_DIR/reals.png``: what the model is shown after decoding, crop and resize: a row
    of the first ``per_row`` images of each class (conditional runs; ``classes``: the
    selected ids), else 4 rows of the first images; dataset order, no flips, and the
    training stream is not touched.

    Returns:
        The PNG's path, or None when the data gave no image.
    """
    def first(count, selection):
        data = load_dataset(spec, 1, resolution, classes=selection, shuffle=False,
                            repeat=False)
        return [to_uint8(image.numpy()[0]) for image, _ in data.take(count)]

    if num_classes:
        rows = [first(per_row, [c]) for c in (classes or range(num_classes))]
    else:
        images = first(4 * per_row, classes)
        rows = [images[i:i + per_row] for i in range(0, len(images), per_row)]
    rows = [row for row in rows if row]
    if not rows:
        return None
    blank = np.zeros_like(rows[0][0])
    cells = [img for row in rows for img in row + [blank] * (per_row - len(row))]
    path = os.path.join(run_dir, "reals.png")
    save_png(image_grid(np.stack(cells), per_row), path)
    return path


def enlarge_grid(grid, resolution, min_size=128):
    """A figure of ``resolution`` px cells enlarged as `enlarge` would each cell."""
    factor = max(1, -(-min_size // int(resolution)))
    return enlarge(grid, grid.shape[0] * factor) if factor > 1 else grid


def showcase(run_dir, model=None, class_names=None, psi=0.7, verbose=True, export=True):
    """Writes what a user wants to see after training, and prints the paths.

    ``RUN_DIR/showcase/``: ``samples.png`` (16 images, one class per row when conditional),
    ``latent_walk.gif`` (a looping walk through 4 seeds, 32 frames), ``style_mixing.png``
    (StyleGAN2: 3 row x 4 column seeds, coarse styles from the columns) or
    ``interpolation.png`` (DCGAN: 3 rows of 8 steps); and ``RUN_DIR/export/NAME/1``, the
    SavedModel for TF Serving. Cheap: a few dozen small forward passes and one export.

    Args:
        run_dir: str, the run folder.
        model: the trained ``GAN``, or None to load the run's latest checkpoint.
        class_names: class names by id (None: from the run when loading).
        psi: float, truncation of the pictures (StyleGAN2 in w; DCGAN scales z).
        verbose: bool, print the paths.
        export: bool, write the SavedModel too.

    Returns:
        dict ``{"samples", "latent_walk", "style_mixing" | "interpolation",
        "saved_model"}`` of paths.
    """
    if model is None:
        model, loaded_names, _ = load_model(run_dir)
        class_names = class_names if class_names is not None else loaded_names
    view = GeneratorView(
        model, class_names=class_names if model.num_classes else None)
    out = os.path.join(run_dir, "showcase")
    os.makedirs(out, exist_ok=True)
    paths = {}
    columns = 4
    labels = None
    if view.num_classes:
        labels = np.arange(16) // columns % view.num_classes
    # Small resolutions are enlarged (nearest neighbour) to >= 128 px per image for viewing;
    # scripts/generate.py writes the images at their own size.
    images = enlarge(view.images_from_seeds(range(16), labels, psi))
    paths["samples"] = mixing.save_grid(images, os.path.join(out, "samples.png"), columns)
    label = 0 if view.num_classes else None
    frames = mixing.latent_walk(view, [0, 1, 2, 3], frames=32, psi=psi, label=label)
    paths["latent_walk"] = mixing.write_gif(enlarge(frames), os.path.join(out, "latent_walk.gif"),
                                            fps=12)
    if view.style_based:
        coarse = min(4, view.num_ws)
        mix = mixing.style_mixing_grid(view, [0, 1, 2], [10, 11, 12, 13], range(coarse), psi,
                                       row_class=label, col_class=label)
        paths["style_mixing"] = os.path.join(out, "style_mixing.png")
        mixing.save_png(enlarge_grid(mix.image, view.resolution), paths["style_mixing"])
    else:
        grid, _ = mixing.interpolation_grid(view, [0, 1, 2, 3], steps=8, psi=psi, label=label)
        paths["interpolation"] = os.path.join(out, "interpolation.png")
        mixing.save_png(enlarge_grid(grid, view.resolution), paths["interpolation"])
    if export:
        export_dir = os.path.join(run_dir, "export", model_name(run_dir), "1")
        paths["saved_model"] = export_saved_model(model, export_dir, class_names=view.class_names,
                                                  overwrite=True)
    if verbose:
        print("Showcase (small resolutions enlarged for viewing):")
        for key, path in paths.items():
            print(f"  {key:<13} {path}")
    return paths
