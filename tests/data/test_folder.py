"""Tests of tfdisgan.data.folder: scanning, decoding, modes, EXIF, rejects."""

import os
import tempfile

import numpy as np
import tensorflow as tf
from PIL import Image

from tests.data import fixtures
from tfdisgan.data import folder


class ScanSourceTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.root = tempfile.mkdtemp(dir=self.get_temp_dir())
        self.expected = fixtures.make_source(self.root)

    def test_classes_are_subfolders_in_nfc_and_hidden_files_skipped(self):
        files, rejects = folder.scan_source(self.root)
        self.assertEqual(sorted({f.class_name for f in files}),
                         sorted([fixtures.FIRE, fixtures.FLOOD]))
        names = [os.path.basename(f.path) for f in files]
        self.assertNotIn(".DS_Store", names)
        self.assertFalse(any(".hidden_dir" in f.path for f in files))
        self.assertIn("sixteen.png", names)  # nested folders belong to their class
        self.assertEqual([os.path.basename(r.path) for r in rejects], ["loose.png"])

    def test_nfd_folder_name_is_normalized(self):
        import unicodedata

        root = tempfile.mkdtemp(dir=self.get_temp_dir())
        nfd = unicodedata.normalize("NFD", fixtures.FIRE)
        os.makedirs(os.path.join(root, nfd))
        Image.fromarray(fixtures.gradient()).save(os.path.join(root, nfd, "a.png"))
        files, _ = folder.scan_source(root)
        self.assertEqual(files[0].class_name, fixtures.FIRE)

    def test_flat_folder_is_one_class_named_after_it(self):
        root = os.path.join(self.get_temp_dir(), "산불")
        os.makedirs(root)
        Image.fromarray(fixtures.gradient()).save(os.path.join(root, "a.png"))
        files, rejects = folder.scan_source(root)
        self.assertEqual([f.class_name for f in files], ["산불"])
        self.assertEqual(rejects, [])

    def test_missing_folder_is_a_clear_error(self):
        with self.assertRaisesRegex(FileNotFoundError, "no_such_dir"):
            folder.scan_source(os.path.join(self.root, "no_such_dir"))


class DecodeImageTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.get_temp_dir()

    def _save(self, name, image, **kwargs):
        path = os.path.join(self.dir, name)
        image.save(path, **kwargs)
        return path

    def test_exif_orientation_is_applied(self):
        path = os.path.join(self.dir, "exif.jpg")
        fixtures.exif_rotated_jpeg(path)
        out = folder.decode_image(path, 32, crop="stretch")
        # Rotated 90 degrees clockwise: the red left half is now the top half.
        self.assertGreater(out[:8, :, 0].mean(), 200)
        self.assertLess(out[-8:, :, 0].mean(), 60)
        self.assertGreater(out[-8:, :, 2].mean(), 200)

    def test_every_mode_becomes_uint8_rgb(self):
        base = fixtures.gradient()
        images = {
            "l.png": Image.fromarray(base[..., 0]),
            "p.png": Image.fromarray(base).convert("P"),
            "cmyk.jpg": Image.fromarray(base).convert("CMYK"),
            "i16.png": Image.fromarray(base[..., 0].astype(np.uint16) * 257),
            "i.tiff": Image.fromarray(base[..., 0].astype(np.int32)),
            "f.tiff": Image.fromarray(base[..., 0].astype(np.float32) / 255.0),
            "one.png": Image.fromarray(base[..., 0] > 128),
        }
        for name, image in images.items():
            with self.subTest(name=name, mode=image.mode):
                out = folder.decode_image(self._save(name, image), 32)
                self.assertEqual(out.shape, (32, 32, 3))
                self.assertEqual(out.dtype, np.uint8)
                self.assertGreater(int(out.max()) - int(out.min()), 100)

    def test_sixteen_bit_scales_to_full_range(self):
        values = np.full((40, 40), 65535, np.uint16)
        values[:, :20] = 0
        out = folder.decode_image(self._save("w.png", Image.fromarray(values)), 32)
        self.assertEqual(int(out.max()), 255)
        self.assertEqual(int(out.min()), 0)

    def test_alpha_composited_over_chosen_background(self):
        rgba = np.zeros((40, 40, 4), np.uint8)  # fully transparent
        path = self._save("t.png", Image.fromarray(rgba, "RGBA"))
        self.assertEqual(int(folder.decode_image(path, 32, background="white").min()), 255)
        self.assertEqual(int(folder.decode_image(path, 32, background="black").max()), 0)

    def test_crop_policies(self):
        wide = np.zeros((40, 80, 3), np.uint8)
        wide[:, :20] = 255  # a white band on the far left
        path = self._save("wide.png", Image.fromarray(wide))
        center = folder.decode_image(path, 32, crop="center")
        stretch = folder.decode_image(path, 32, crop="stretch")
        pad = folder.decode_image(path, 32, crop="pad", background="black")
        self.assertLess(center[:, :4].mean(), 10)  # the band is cropped away
        self.assertGreater(stretch[:, :4].mean(), 240)  # the band is squeezed in
        self.assertEqual(int(pad[:4].max()), 0)  # letterbox rows on top
        self.assertGreater(pad[16, :4].mean(), 200)

    def test_too_small_rejected_and_upscale_reported(self):
        path = self._save("small.png", Image.fromarray(fixtures.gradient((20, 20))))
        with self.assertRaisesRegex(folder.RejectedImage, "too small: 20x20"):
            folder.decode_image(path, 64)
        image, info = folder.decode_image_info(path, 32)
        self.assertTrue(info["upscaled"])
        self.assertEqual(image.shape, (32, 32, 3))
        image, info = folder.decode_image_info(path, 16)
        self.assertFalse(info["upscaled"])

    def test_bad_files_get_reasons(self):
        bomb = os.path.join(self.dir, "bomb.png")
        fixtures.png_bomb(bomb)
        text = os.path.join(self.dir, "x.jpg")
        with open(text, "w") as handle:
            handle.write("hello")
        full = self._save("full.jpg", Image.fromarray(fixtures.gradient()))
        with open(full, "rb") as handle:
            data = handle.read()
        cut = os.path.join(self.dir, "cut.jpg")
        with open(cut, "wb") as handle:
            handle.write(data[: len(data) // 2])
        for path, reason in [(bomb, "decompression bomb"), (text, "not an image"),
                             (cut, "truncated")]:
            with self.subTest(path=path):
                with self.assertRaisesRegex(folder.RejectedImage, reason):
                    folder.decode_image(path, 32)

    def test_bad_options_name_the_value(self):
        path = self._save("ok.png", Image.fromarray(fixtures.gradient()))
        with self.assertRaisesRegex(ValueError, "crop='zoom'"):
            folder.decode_image(path, 32, crop="zoom")
        with self.assertRaisesRegex(ValueError, "background='red'"):
            folder.decode_image(path, 32, background="red")
        with self.assertRaisesRegex(ValueError, "resolution=0"):
            folder.decode_image(path, 0)


if __name__ == "__main__":
    tf.test.main()
