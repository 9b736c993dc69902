"""Classic augmentation of real images only: the leaky baseline.

Flipping, translating and rotating only the real images teaches the discriminator that
augmented images are real, so the generator learns to produce augmented-looking images
(rotated borders, reflected edges): the augmentation "leaks". Flips are the one
transformation that is harmless for most datasets. The layer is kept on purpose, as the
baseline DiffAugment and ADA are compared against.

Reference:
    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020,
    Section 3.1 ("Augment reals only"), https://arxiv.org/abs/2006.10738;
    Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS 2020,
    https://arxiv.org/abs/2006.06676
"""

from __future__ import annotations

import keras

FILL_MODES = ("reflect", "constant", "wrap", "nearest")


@keras.saving.register_keras_serializable(package="tfdisgan")
class ClassicAugment(keras.layers.Layer):
    """Random horizontal flip, translation and rotation, applied to real images only.

    Built from Keras' own ``RandomFlip``, ``RandomTranslation`` and ``RandomRotation``
    (bilinear interpolation), each drawing per-sample parameters from its own seed
    generator. Not differentiable w.r.t. the transformation parameters and not meant to be:
    the GAN model applies it to the real batch only (``reals_only = True``).

    Args:
        flip: bool, flip each image left-right with probability 0.5. Default True.
        translation: float in [0, 1), maximum shift as a fraction of height and width
            (each sample gets an independent shift in ``[-translation, translation]``).
            0 disables. Default 0.125.
        rotation: float in [0, 180], maximum rotation in degrees, either direction
            (Keras factor ``rotation / 360``). 0 disables. Default 15.0.
        fill_mode: str, how pixels outside the input are filled for translation and
            rotation: one of ``"reflect"``, ``"constant"`` (zero, i.e. mid-grey for images
            in [-1, 1]), ``"wrap"``, ``"nearest"``. Default ``"reflect"``.
        seed: int or None. Sub-layers get ``seed``, ``seed + 1``, ``seed + 2``.
            Default None (random).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Input shape:
        ``[B, H, W, C]`` float images (NHWC), nominally in ``[-1, 1]``.

    Output shape:
        Same as the input; same dtype. Identity when ``training=False`` or when all of
        ``flip``, ``translation`` and ``rotation`` are disabled.

    Raises:
        ValueError: on a bad argument, naming the received value.

    Example:
        >>> aug = ClassicAugment(flip=True, translation=0.125, rotation=15.0, seed=0)
        >>> y = aug(tf.random.uniform([8, 32, 32, 3], -1.0, 1.0))

    Reference:
        Karras et al., "Training Generative Adversarial Networks with Limited Data",
        NeurIPS 2020, https://arxiv.org/abs/2006.06676
    """

    # The GAN model applies this layer to the real batch only.
    reals_only = True

    def __init__(
        self,
        flip=True,
        translation=0.125,
        rotation=15.0,
        fill_mode="reflect",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(flip, bool):
            raise ValueError(f"Argument `flip` must be a bool. Received: flip={flip!r}")
        if (
            isinstance(translation, bool)
            or not isinstance(translation, (int, float))
            or not 0 <= translation < 1
        ):
            raise ValueError(
                "Argument `translation` must be a number in [0, 1). "
                f"Received: translation={translation!r}"
            )
        if (
            isinstance(rotation, bool)
            or not isinstance(rotation, (int, float))
            or not (0 <= rotation <= 180)
        ):
            raise ValueError(
                "Argument `rotation` must be a number of degrees in [0, 180]. "
                f"Received: rotation={rotation!r}"
            )
        if fill_mode not in FILL_MODES:
            raise ValueError(
                f"Argument `fill_mode` must be one of {list(FILL_MODES)}. "
                f"Received: fill_mode={fill_mode!r}"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Argument `seed` must be an int or None. Received: seed={seed!r}")
        self.flip = flip
        self.translation = translation
        self.rotation = rotation
        self.fill_mode = fill_mode
        self.seed = seed

        # === Layers ===
        # Created here, not in build(), so their seed-generator states exist (and are
        # tracked for checkpoints) before the first call.
        def sub_seed(offset):
            return None if seed is None else seed + offset

        self._augmenters = []
        if flip:
            self._augmenters.append(
                keras.layers.RandomFlip("horizontal", seed=sub_seed(0), name="flip")
            )
        if translation > 0:
            self._augmenters.append(
                keras.layers.RandomTranslation(
                    translation,
                    translation,
                    fill_mode=fill_mode,
                    seed=sub_seed(1),
                    name="translation",
                )
            )
        if rotation > 0:
            self._augmenters.append(
                keras.layers.RandomRotation(
                    rotation / 360.0, fill_mode=fill_mode, seed=sub_seed(2), name="rotation"
                )
            )
        self.built = True

    def call(self, images, training=True):
        if not training:
            return images
        x = images
        for augmenter in self._augmenters:
            x = augmenter(x, training=True)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    # === Config ===
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "flip": self.flip,
                "translation": self.translation,
                "rotation": self.rotation,
                "fill_mode": self.fill_mode,
                "seed": self.seed,
            }
        )
        return config
