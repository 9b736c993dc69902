"""`--cross_mix`: the mixing of two classes inside training (`CrossMixTraining`)."""

import dataclasses
import re

import numpy as np
import tensorflow as tf

from tfdisgan.config import ConfigError
from tfdisgan.mixing.resolutions import (
    describe_resolutions,
    layers_of,
    parse_resolution_range,
    synthesis_resolutions,
)
from tfdisgan.models.stylegan2.style_layers import select_layers
from tfdisgan.views import (
    resolve_class,
)

# ------------------------------------------------------------------------------------------
# Cross-class mixing during training (--cross_mix)
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CrossMixTraining:
    """``--cross_mix=CLASS_A:CLASS_B@LO-HI`` of a conditional StyleGAN2.

    In each G step a share ``prob`` of the fakes (rows drawn independently) are rendered
    from ws whose ``b_layers`` (the ``LO-HI`` px styles) come from class B's mapping of the
    row's ``z`` and every other layer from class A's mapping of the same ``z``; the
    discriminator judges those rows as class B. The other rows are the usual fakes (with
    style mixing). So the generator learns to render A's coarse structure with B's
    textures as a plausible B, the seed's swap "while training" at 16-32 px.

    Attributes:
        class_a, class_b: int class ids.
        b_layers: tuple of int, ws indices from B.
        prob: float in [0, 1], the share of mixed rows.
        text: str, the flag value.
    """

    class_a: int
    class_b: int
    b_layers: tuple
    prob: float
    text: str = ""

    def layer_mask(self, num_ws):
        """bool ``[num_ws]``: True where the ws come from class B."""
        return np.isin(np.arange(num_ws), self.b_layers)

    def sample_rows(self, model, batch):
        """bool ``[batch]``: the mixed rows, drawn for the global batch (replica-count
        invariant, from the model's seed state)."""
        prob = self.prob
        if prob == 0:
            # No draw: the model's seed stream (latents, noise, style mixing) then stays
            # exactly that of a run without --cross_mix.
            return tf.zeros(tf.reshape(batch, [1]), tf.bool)

        def draw(rows):
            seed = tf.cast(model.seed_generator.next(), tf.int64)
            return tf.random.stateless_uniform(tf.reshape(rows, [1]), seed) < prob

        return model.replica_rows(draw, batch)

    def g_loss(self, model, z, labels):
        """The per-example non-saturating G loss with the mixed rows (inside the G tape).

        Args:
            model: the ``StyleGAN2`` being trained.
            z: ``[B, z_dim]``; labels: int ``[B]``.

        Returns:
            float32 ``[B]``.
        """
        from tfdisgan import losses

        ws, d_labels = self.mixed_ws(model, z, labels, self.sample_rows(model, tf.shape(z)[0]))
        fakes = model.generator.synthesis(ws, noise_mode=model.train_noise_mode,
                                          training=True)
        logits = model.run_discriminator(model.augment_images(fakes, real=False), d_labels,
                                         training=True)
        return losses.g_nonsaturating_loss(logits)

    def mixed_ws(self, model, z, labels, rows):
        """The G step's ws and discriminator labels for given mixed ``rows``.

        Args:
            model: the ``StyleGAN2``.
            z: ``[B, z_dim]``; labels: int ``[B]``; rows: bool ``[B]``.

        Returns:
            ``(ws [B, num_ws, w_dim], d_labels [B])``: mixed rows take
            ``cross_mix_ws``, the others ``model.generator_ws`` (mapping, ``w_avg``
            update, style mixing); ``d_labels`` is ``class_b`` on mixed rows.
        """
        ws = model.generator_ws(z, labels, training=True)
        batch = tf.shape(z)[0]
        mapping = model.generator.mapping
        ws_a = mapping(z, tf.fill([batch], self.class_a), skip_w_avg_update=True, training=True)
        ws_b = mapping(z, tf.fill([batch], self.class_b), skip_w_avg_update=True, training=True)
        mixed = cross_mix_ws(ws_a, ws_b, self.layer_mask(model.num_ws))
        rows = tf.convert_to_tensor(rows, tf.bool)
        ws = tf.where(rows[:, None, None], mixed, ws)
        d_labels = tf.where(rows, tf.constant(self.class_b, tf.int32),
                            tf.cast(labels, tf.int32))
        return ws, d_labels


def cross_mix_ws(ws_a, ws_b, b_mask):
    """``ws_b`` at the layers where ``b_mask`` is True, ``ws_a`` elsewhere (TF ops).

    Args:
        ws_a, ws_b: float32 ``[N, num_ws, w_dim]``.
        b_mask: bool ``[num_ws]``.

    Returns:
        float32 ``[N, num_ws, w_dim]``.
    """
    return select_layers(tf.convert_to_tensor(ws_a, tf.float32),
                         tf.convert_to_tensor(ws_b, tf.float32), b_mask)


def parse_cross_mix(text, img_resolution, num_classes, class_names=None, prob=0.5,
                    allowed=None):
    """``"CLASS_A:CLASS_B@LO-HI"`` -> ``CrossMixTraining``.

    Classes by name (any Unicode normalisation) or id; ``LO-HI`` (or one resolution) are
    the block resolutions whose styles come from class B, every other layer from A.

    Args:
        text: str, the flag value.
        img_resolution: int, the model's resolution.
        num_classes: int, the model's class count (must be >= 2).
        class_names: class names by id, or None.
        prob: float in [0, 1], the share of mixed fakes.
        allowed: None, or the class ids trained on (``--classes``): both must be in it.

    Returns:
        ``CrossMixTraining``.

    Raises:
        ValueError: malformed, unknown or equal classes, an unconditional model, a bad
            resolution range or probability.
    """
    match = re.fullmatch(r"\s*([^:@]+?)\s*:\s*([^:@]+?)\s*@\s*([\d\s-]+)", str(text))
    if not match:
        raise ValueError(
            f"expected CLASS_A:CLASS_B@LO-HI, e.g. earthquake:building_fire@16-32. "
            f"Received: {text!r}"
        )
    if num_classes < 2:
        raise ValueError("needs a conditional model (--conditional) with >= 2 classes.")
    if (not isinstance(prob, (int, float)) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ValueError(f"the share of mixed fakes must be in [0, 1]. Received: {prob!r}")
    ids = [resolve_class(match.group(i), num_classes, class_names) for i in (1, 2)]
    if ids[0] == ids[1]:
        raise ValueError(f"classes A and B are the same class ({ids[0]}).")
    if allowed:
        for cid, which in zip(ids, "AB", strict=True):
            if cid not in allowed:
                raise ValueError(
                    f"class {which} ({match.group(1 if which == 'A' else 2)}) is not among "
                    "the trained --classes."
                )
    res = parse_resolution_range(match.group(3).strip(), img_resolution, "resolutions")
    layers = tuple(layers_of(res, img_resolution))
    if set(res) == set(synthesis_resolutions(img_resolution)):
        raise ValueError(
            f"{describe_resolutions(res)} is every block of the {img_resolution} px generator: "
            "nothing would come from class A."
        )
    return CrossMixTraining(ids[0], ids[1], layers, float(prob), str(text))


def cross_mix_from_config(config, num_classes, class_names=None, class_ids=()):
    """The ``CrossMixTraining`` of a ``TrainConfig`` (None when ``--cross_mix`` is off).

    Args:
        config: a resolved ``tfdisgan.config.TrainConfig``.
        num_classes: int, the model's classes (0: unconditional).
        class_names: the dataset's class names by id.
        class_ids: the ``--classes`` ids trained on (empty: all).

    Raises:
        tfdisgan.config.ConfigError: naming ``--cross_mix`` or ``--cross_mix_prob``.
    """

    prob = config.cross_mix_prob
    if (not isinstance(prob, (int, float)) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ConfigError(f"--cross_mix_prob: must be in [0, 1], got {prob!r}")
    if not config.cross_mix:
        return None
    if config.model != "stylegan2":
        raise ConfigError(f"--cross_mix: needs --model=stylegan2 (style mixing), got "
                          f"--model={config.model}")
    if not config.conditional:
        raise ConfigError("--cross_mix: needs --conditional (it mixes two classes' styles)")
    try:
        return parse_cross_mix(config.cross_mix, config.resolution, num_classes, class_names,
                               float(prob), allowed=tuple(class_ids))
    except ValueError as error:
        raise ConfigError(f"--cross_mix: {error}") from None
