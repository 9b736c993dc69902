"""The StyleGAN2 mapping network ``(z, c) -> w`` (official ``MappingNetwork``), with the
moving average ``w_avg`` and truncation toward it."""

import keras
from keras import ops

from tfdisgan._validate import check_int, check_number, is_number
from tfdisgan.layers import EqualizedDense
from tfdisgan.models.stylegan2.style_layers import truncate


def normalize_2nd_moment(x, axis=1, epsilon=1e-8):
    """``x / sqrt(mean(x^2, axis) + epsilon)``: unit second moment along ``axis``."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=axis, keepdims=True) + epsilon)


def _labels_to_matrix(c, c_dim):
    """Int labels ``[N]`` -> one-hot ``[N, c_dim]`` float32; ``[N, c_dim]`` passes through."""
    c = ops.convert_to_tensor(c)
    if len(c.shape) == 1:
        return ops.one_hot(ops.cast(c, "int32"), c_dim, dtype="float32")
    return ops.cast(c, "float32")


@keras.saving.register_keras_serializable(package="tfdisgan")
class MappingNetwork(keras.layers.Layer):
    """StyleGAN2 mapping network: ``(z, c) -> w`` broadcast to ``[N, num_ws, w_dim]``.

    ``z`` is normalised to unit second moment; when conditional, the one-hot label goes
    through an equalised FC embedding, is normalised too and concatenated. Then
    ``num_layers`` equalised FC layers with learning-rate multiplier ``lr_multiplier``.
    During training (``training=True``, ``skip_w_avg_update=False``) the non-trainable
    ``w_avg`` tracks the batch mean of w: ``w_avg <- lerp(mean(w), w_avg, w_avg_beta)``
    (under ``tf.distribute`` the mean over all replicas, through ``MEAN`` aggregation).
    Truncation: ``w <- lerp(w_avg, w, psi)`` for the first ``truncation_cutoff`` of the
    ``num_ws`` copies (all when None).

    Args:
        z_dim: int >= 0, latent size (0: no latent, as the discriminator's label mapping).
        c_dim: int >= 0, number of classes (0: unconditional).
        w_dim: int > 0, intermediate latent size.
        num_ws: int > 0 or None, copies of w to output (None: ``[N, w_dim]``).
        num_layers: int >= 1, FC layers. Default 8.
        embed_features: int > 0 or None, label embedding size (None: ``w_dim``).
        layer_features: int > 0 or None, hidden FC width (None: ``w_dim``).
        activation: str, FC activation. Default ``"lrelu"``.
        lr_multiplier: float > 0, learning-rate multiplier of the FC layers. Default 0.01.
        w_avg_beta: float in [0, 1] or None, decay of ``w_avg`` (None: not tracked, no
            truncation). Default 0.995.
        **kwargs: ``keras.layers.Layer`` arguments.

    Call arguments:
        z: float ``[N, z_dim]`` (None when ``z_dim == 0``).
        c: int labels ``[N]`` or float ``[N, c_dim]`` (None when ``c_dim == 0``).
        psi: float or scalar tensor, truncation (1: none). Default 1.
        truncation_cutoff: int or None, truncate only the first this many ws. Default None.
        skip_w_avg_update: bool, do not update ``w_avg`` (style-mixing latents). Default False.
        training: bool, whether ``w_avg`` is updated.

    Returns:
        ``[N, num_ws, w_dim]`` (or ``[N, w_dim]`` when ``num_ws`` is None), float32.

    Raises:
        ValueError: a bad argument, or truncation asked of a net without ``w_avg``.

    Example:
        >>> mapping = MappingNetwork(z_dim=512, c_dim=0, w_dim=512, num_ws=14)
        >>> mapping(tf.random.normal([2, 512])).shape
        TensorShape([2, 14, 512])

    Reference:
        stylegan2-ada-pytorch ``training/networks.py`` ``MappingNetwork``.
    """

    def __init__(
        self,
        z_dim,
        c_dim,
        w_dim,
        num_ws,
        num_layers=8,
        embed_features=None,
        layer_features=None,
        activation="lrelu",
        lr_multiplier=0.01,
        w_avg_beta=0.995,
        **kwargs,
    ):
        check_int("z_dim", z_dim, 0)
        check_int("c_dim", c_dim, 0)
        check_int("w_dim", w_dim, 1)
        check_int("num_ws", num_ws, 1, allow_none=True)
        check_int("num_layers", num_layers, 1)
        check_int("embed_features", embed_features, 1, allow_none=True)
        check_int("layer_features", layer_features, 1, allow_none=True)
        check_number("lr_multiplier", lr_multiplier, minimum=0)
        check_number("w_avg_beta", w_avg_beta, 0, 1, allow_none=True)
        if z_dim == 0 and c_dim == 0:
            raise ValueError("`z_dim` and `c_dim` cannot both be 0: the network has no input.")
        if lr_multiplier == 0:
            raise ValueError(
                f"`lr_multiplier` must be > 0. Received: lr_multiplier={lr_multiplier}"
            )
        super().__init__(**kwargs)

        # === Config ===
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.embed_features = embed_features
        self.layer_features = layer_features
        self.activation = activation
        self.lr_multiplier = lr_multiplier
        self.w_avg_beta = w_avg_beta

        embed = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        hidden = w_dim if layer_features is None else layer_features
        self._features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]

        # === Layers ===
        self.embed = EqualizedDense(embed, name="embed") if c_dim > 0 else None
        # One attribute per layer (as the official `fc{idx}`): Keras 3.15 leaves lists of
        # layers out of `tf.train.Checkpoint`'s object graph.
        for i in range(num_layers):
            layer = EqualizedDense(
                self._features[i + 1],
                activation=activation,
                lr_multiplier=lr_multiplier,
                name=f"fc{i}",
            )
            setattr(self, f"fc{i}", layer)

    @property
    def fc_layers(self):
        """The FC layers ``fc0 ... fc{num_layers - 1}``."""
        return [getattr(self, f"fc{i}") for i in range(self.num_layers)]

    def build(self, input_shape=None):
        if self.embed is not None:
            self.embed.build((None, self.c_dim))
        for i, layer in enumerate(self.fc_layers):
            layer.build((None, self._features[i]))
        if self.num_ws is not None and self.w_avg_beta is not None:
            # A buffer in the official code: not trained, copied to G_ema as is; the mean
            # over replicas keeps it independent of the replica count.
            self.w_avg = self.add_weight(
                shape=(self.w_dim,),
                initializer="zeros",
                trainable=False,
                aggregation="mean",
                name="w_avg",
            )
        else:
            self.w_avg = None
        self.built = True

    def call(
        self,
        z,
        c=None,
        psi=1.0,
        truncation_cutoff=None,
        skip_w_avg_update=False,
        training=None,
    ):
        x = None
        if self.z_dim > 0:
            if z is None:
                raise ValueError(f"This mapping network needs `z` [N, {self.z_dim}].")
            x = normalize_2nd_moment(ops.cast(z, "float32"))
        if self.c_dim > 0:
            if c is None:
                raise ValueError(
                    f"This mapping network is conditional (c_dim={self.c_dim}): pass `c`."
                )
            y = normalize_2nd_moment(self.embed(_labels_to_matrix(c, self.c_dim)))
            x = y if x is None else ops.concatenate([x, y], axis=1)
        for layer in self.fc_layers:
            x = layer(x)

        if self.w_avg is not None and training and not skip_w_avg_update:
            batch_mean = ops.mean(ops.stop_gradient(x), axis=0)
            self.w_avg.assign(batch_mean + (self.w_avg - batch_mean) * self.w_avg_beta)

        if self.num_ws is not None:
            x = ops.repeat(ops.expand_dims(x, 1), self.num_ws, axis=1)

        if not (is_number(psi) and psi == 1):
            if self.w_avg is None:
                raise ValueError("Truncation needs `w_avg`: build with num_ws and w_avg_beta.")
            x = truncate(x, self.w_avg, psi, truncation_cutoff)
        return x

    def compute_output_shape(self, z_shape=None, c_shape=None):
        batch = (z_shape or c_shape or (None,))[0]
        if self.num_ws is None:
            return (batch, self.w_dim)
        return (batch, self.num_ws, self.w_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "z_dim": self.z_dim,
                "c_dim": self.c_dim,
                "w_dim": self.w_dim,
                "num_ws": self.num_ws,
                "num_layers": self.num_layers,
                "embed_features": self.embed_features,
                "layer_features": self.layer_features,
                "activation": self.activation,
                "lr_multiplier": self.lr_multiplier,
                "w_avg_beta": self.w_avg_beta,
            }
        )
        return config


__all__ = ["MappingNetwork", "normalize_2nd_moment"]
