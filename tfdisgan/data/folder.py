"""Scan a folder of photos, decode and validate each one with Pillow, report every reject.

A source folder holds one sub-folder per class (the folder name is the class name, any
Unicode, e.g. ``건물화재``), or images directly (one class named after the folder). Every file
that is not hidden is tried: whatever Pillow cannot decode is rejected with a reason, never
silently dropped and never trained on.

Example:
    >>> files, rejects = scan_source("photos")
    >>> image = decode_image(files[0].path, resolution=256)   # uint8 [256, 256, 3]
"""

import dataclasses
import hashlib
import os
import pathlib
import unicodedata
import warnings

import numpy as np
from PIL import Image, ImageOps

CROP_POLICIES = ("center", "pad", "stretch")
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}


class RejectedImage(Exception):
    """Raised by `decode_image` for a file that must not be trained on; str() is the reason."""


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One candidate image: its path and the class (folder) name it belongs to."""

    path: str
    class_name: str


@dataclasses.dataclass(frozen=True)
class Reject:
    """A file left out of the dataset, with the reason shown to the user and in the manifest."""

    path: str
    reason: str
    class_name: str = ""


def normalize_name(name):
    """Returns `name` in Unicode NFC so macOS (NFD) and Linux spellings of 건물화재 agree."""
    return unicodedata.normalize("NFC", name)


def _is_hidden(name):
    return name.startswith(".") or name.startswith("__MACOSX") or name == "Thumbs.db"


def _walk_files(folder):
    """All non-hidden files below `folder`, sorted, skipping hidden folders; (files, hidden)."""
    found, hidden = [], []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        for name in sorted(names):
            path = os.path.join(root, name)
            (hidden if _is_hidden(name) else found).append(path)
    return found, hidden


def scan_source(source):
    """Lists the candidate image files of a source folder and their class names.

    Args:
        source: str or path-like. A folder with one sub-folder per class, or a flat folder of
            images (one class, named after the folder).

    Returns:
        A tuple `(files, rejects)`: `files` is a list of `SourceFile` sorted by class name then
        path; `rejects` lists files that are in no class folder (loose files beside class
        folders). Hidden files (".name", "Thumbs.db", "__MACOSX") are skipped silently.

    Raises:
        FileNotFoundError: `source` does not exist or is not a folder.
    """
    source = os.fspath(source)
    if not os.path.isdir(source):
        raise FileNotFoundError(f"Source folder not found: {source!r}")
    entries = sorted(e for e in os.listdir(source) if not _is_hidden(e))
    subdirs = [e for e in entries if os.path.isdir(os.path.join(source, e))]
    loose = [e for e in entries if os.path.isfile(os.path.join(source, e))]
    files, rejects = [], []
    if not subdirs:
        name = normalize_name(pathlib.Path(os.path.abspath(source)).name) or "images"
        paths, _ = _walk_files(source)
        files = [SourceFile(p, name) for p in paths]
    else:
        for sub in subdirs:
            paths, _ = _walk_files(os.path.join(source, sub))
            files.extend(SourceFile(p, normalize_name(sub)) for p in paths)
        rejects = [
            Reject(os.path.join(source, e), "not inside a class sub-folder") for e in loose
        ]
    files.sort(key=lambda f: (f.class_name, f.path))
    return files, rejects


def _to_rgb_array(image, background):
    """Converts any Pillow mode to an 8-bit RGB array, compositing alpha over `background`."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        if mode == "F":
            top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
        elif mode.startswith("I;16") or values.max(initial=0) > 255:
            top = 65535.0
        else:
            top = 255.0
        gray = np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        canvas = Image.new("RGBA", image.size, BACKGROUNDS[background] + (255,))
        image = Image.alpha_composite(canvas, image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def _resize(array, resolution, crop, background):
    """Resizes an RGB uint8 array to a `resolution` square with the chosen crop policy."""
    image = Image.fromarray(array)
    width, height = image.size
    if crop == "stretch":
        return np.asarray(image.resize((resolution, resolution), Image.LANCZOS))
    if crop == "center":
        scale = resolution / min(width, height)
        new_w = max(resolution, round(width * scale))
        new_h = max(resolution, round(height * scale))
        image = image.resize((new_w, new_h), Image.LANCZOS)
        left, top = (new_w - resolution) // 2, (new_h - resolution) // 2
        return np.asarray(image.crop((left, top, left + resolution, top + resolution)))
    scale = resolution / max(width, height)
    new_w = min(resolution, max(1, round(width * scale)))
    new_h = min(resolution, max(1, round(height * scale)))
    image = image.resize((new_w, new_h), Image.LANCZOS)
    canvas = Image.new("RGB", (resolution, resolution), BACKGROUNDS[background])
    canvas.paste(image, ((resolution - new_w) // 2, (resolution - new_h) // 2))
    return np.asarray(canvas)


def validate_options(resolution, crop="center", min_size=None, background="white"):
    """Checks the decode options, returning the effective `min_size`.

    Raises:
        ValueError: naming the bad option and its value.
    """
    if not isinstance(resolution, (int, np.integer)) or resolution < 4:
        raise ValueError(f"resolution must be an integer >= 4. Received resolution={resolution!r}")
    if crop not in CROP_POLICIES:
        raise ValueError(f"crop must be one of {CROP_POLICIES}. Received crop={crop!r}")
    if background not in BACKGROUNDS:
        raise ValueError(
            f"background must be one of {tuple(BACKGROUNDS)}. Received background={background!r}"
        )
    if min_size is None:
        min_size = resolution // 2
    if not isinstance(min_size, (int, np.integer)) or min_size < 1:
        raise ValueError(f"min_size must be a positive integer. Received min_size={min_size!r}")
    return int(min_size)


def decode_image(path, resolution, crop="center", min_size=None, background="white"):
    """Decodes one file into a square 8-bit RGB image, or rejects it with a reason.

    EXIF orientation is applied; any mode (L, LA, P, RGBA, CMYK, 16-bit, I;16, F) becomes
    8-bit RGB with transparency composited over `background`; GIF and other animations use
    their first frame. Images whose shorter side (or longer side for `crop="pad"`) is below
    `min_size` are rejected; images between `min_size` and `resolution` are upscaled, which
    `decode_image_info` reports so the dataset tool can count them.

    Args:
        path: str, the image file.
        resolution: int, side of the square output.
        crop: str, "center" (scale the short side, crop the middle), "pad" (scale the long
            side, pad with `background`) or "stretch" (ignore aspect ratio).
        min_size: int or None, smallest accepted side in pixels; default `resolution // 2`.
        background: str, "white" or "black": colour behind transparency and padding.

    Returns:
        uint8 array of shape [resolution, resolution, 3].

    Raises:
        RejectedImage: the file is not a usable image; the message is the reason.
        ValueError: an option is invalid.
    """
    return decode_image_info(path, resolution, crop, min_size, background)[0]


def decode_image_info(path, resolution, crop="center", min_size=None, background="white"):
    """Like `decode_image`, returning `(image, info)` with info keys "size", "upscaled", "sha1".

    "sha1" hashes the decoded full-size pixels (after EXIF rotation and mode conversion) so
    exact duplicates can be found whatever their file names or formats.
    """
    min_size = validate_options(resolution, crop, min_size, background)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.seek(0)
                original_size = image.size
                short_side = min(original_size) if crop != "pad" else max(original_size)
                if short_side < min_size:
                    raise RejectedImage(
                        f"too small: {original_size[0]}x{original_size[1]} "
                        f"(needs >= {min_size} px on the {'long' if crop == 'pad' else 'short'}"
                        " side; set --min_size to accept it)"
                    )
                if image.format == "JPEG":
                    # DCT-domain downscaling: decodes large photos several times faster and
                    # still leaves both sides >= resolution for the Lanczos pass below.
                    image.draft(image.mode, (resolution, resolution))
                image.load()
                image = ImageOps.exif_transpose(image)
                pixels = _to_rgb_array(image, background)
    except RejectedImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise RejectedImage(f"decompression bomb: {error}") from None
    except Image.UnidentifiedImageError:
        raise RejectedImage("not an image (Pillow cannot identify it)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        text = str(error) or type(error).__name__
        if "truncated" in text.lower() or isinstance(error, EOFError):
            raise RejectedImage(f"truncated or corrupt: {text}") from None
        raise RejectedImage(f"cannot decode: {text}") from None
    if pixels.ndim != 3 or pixels.shape[2] != 3 or min(pixels.shape[:2]) < 1:
        raise RejectedImage(f"unexpected decoded shape {pixels.shape}")
    digest = hashlib.sha1(pixels.tobytes()).hexdigest()
    height, width = pixels.shape[:2]
    upscaled = (min(width, height) if crop == "center" else max(width, height)) < resolution
    if crop == "stretch":
        upscaled = min(width, height) < resolution
    resized = _resize(pixels, resolution, crop, background)
    info = {"size": [int(width), int(height)], "upscaled": bool(upscaled), "sha1": digest}
    return np.ascontiguousarray(resized, dtype=np.uint8), info


def decode_job(args):
    """Process-pool entry point: `decode_image_info(*args)` as `(image, info, reject_reason)`.

    Lives here, not beside the TFRecord writer, so a spawned worker imports NumPy and Pillow
    only. Never raises: one bad file must never stop a run.
    """
    try:
        image, info = decode_image_info(*args)
        return image, info, None
    except RejectedImage as error:
        return None, None, str(error)
    except Exception as error:  # noqa: BLE001 - reported as the file's reject reason
        return None, None, f"unexpected error: {type(error).__name__}: {error}"
