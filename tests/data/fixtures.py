"""Builders of small image folders with good and bad files of every kind the tool must handle."""

import os
import struct
import zlib

import numpy as np
from PIL import Image

FIRE = "건물화재"  # building fire
FLOOD = "홍수"  # flood


def gradient(size=(48, 40), seed=0):
    """An RGB uint8 test image whose pixels differ everywhere (no accidental duplicates)."""
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([xx * 255 // width, yy * 255 // height, (xx + yy) % 256], axis=-1)
    return (image + rng.integers(0, 20, image.shape)).clip(0, 255).astype(np.uint8)


def exif_rotated_jpeg(path, size=(60, 40)):
    """A landscape JPEG whose EXIF orientation 6 says 'rotate 90 degrees clockwise'."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)  # left half red, right half blue
    pixels[:, size[0] // 2 :] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, quality=95, exif=exif.tobytes())


def png_bomb(path, width=30000, height=30000):
    """A tiny PNG whose header claims a huge size: Pillow must refuse it as a bomb."""
    Image.new("L", (8, 8)).save(path)
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    ihdr = 8 + 8  # signature + (length, type) of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    with open(path, "wb") as handle:
        handle.write(bytes(data))


def make_source(root):
    """Writes a two-class source folder (Korean names) with good and bad files.

    Returns:
        dict with the expected counts: {"kept": {class: n}, "rejected": {basename: reason
        substring}}.
    """
    fire, flood = os.path.join(root, FIRE), os.path.join(root, FLOOD)
    os.makedirs(fire)
    os.makedirs(os.path.join(flood, "nested"))
    os.makedirs(os.path.join(root, ".hidden_dir"))
    base = gradient()
    # Good files in the fire class: one per format / mode.
    Image.fromarray(base).save(os.path.join(fire, "사진1.jpg"), quality=95)
    Image.fromarray(gradient(seed=1)).save(os.path.join(fire, "b.png"))
    Image.fromarray(gradient(seed=2)).save(os.path.join(fire, "c.webp"), lossless=True)
    Image.fromarray(gradient(seed=3)).save(os.path.join(fire, "d.bmp"))
    Image.fromarray(gradient(seed=4)).save(os.path.join(fire, "e.tiff"))
    Image.fromarray(gradient(seed=5)).convert("CMYK").save(os.path.join(fire, "f_cmyk.jpg"))
    frames = [Image.fromarray(gradient(seed=s)).convert("P") for s in (6, 7)]
    frames[0].save(os.path.join(fire, "g.gif"), save_all=True, append_images=frames[1:])
    exif_rotated_jpeg(os.path.join(fire, "h_exif.jpg"))
    # Good files in the flood class: other modes, one in a nested folder.
    Image.fromarray(gradient(seed=8)[..., 0]).save(os.path.join(flood, "gray.png"))
    rgba = np.concatenate([gradient(seed=9), np.zeros((40, 48, 1), np.uint8)], axis=-1)
    Image.fromarray(rgba, "RGBA").save(os.path.join(flood, "transparent.png"))
    la = Image.fromarray(gradient(seed=10)[..., 0]).convert("LA")
    la.save(os.path.join(flood, "la.png"))
    wide = (np.arange(48 * 40).reshape(40, 48) * 30).astype(np.uint16)
    Image.fromarray(wide).save(os.path.join(flood, "nested", "sixteen.png"))
    Image.fromarray(gradient(seed=11)).convert("P").save(os.path.join(flood, "palette.png"))
    # Bad or skipped files.
    # The picture of 사진1.jpg, but lossless: other decoded pixels, so it is kept.
    Image.fromarray(base).save(os.path.join(flood, "copy_of_first.png"))
    with open(os.path.join(fire, "사진1.jpg"), "rb") as handle:
        jpeg = handle.read()
    with open(os.path.join(fire, "truncated.jpg"), "wb") as handle:
        handle.write(jpeg[: len(jpeg) // 2])
    with open(os.path.join(fire, "사진1_copy.jpg"), "wb") as handle:
        handle.write(jpeg)
    with open(os.path.join(flood, "notes.txt"), "w") as handle:
        handle.write("not an image")
    Image.fromarray(gradient((10, 10))).save(os.path.join(flood, "tiny.png"))
    png_bomb(os.path.join(flood, "bomb.png"))
    with open(os.path.join(fire, ".DS_Store"), "wb") as handle:
        handle.write(b"\0\1\2")
    Image.fromarray(base).save(os.path.join(root, ".hidden_dir", "x.png"))
    Image.fromarray(base).save(os.path.join(root, "loose.png"))
    return {
        "kept": {FIRE: 8, FLOOD: 6},
        "rejected": {
            "truncated.jpg": "truncated",
            "사진1_copy.jpg": "duplicate",
            "notes.txt": "not an image",
            "tiny.png": "too small",
            "bomb.png": "decompression bomb",
            "loose.png": "class sub-folder",
        },
    }
