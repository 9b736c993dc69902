"""The StyleGAN2 generator: ``MappingNetwork`` + ``SynthesisNetwork`` (official
``Generator``)."""

import keras

from tfdisgan._validate import check_int
from tfdisgan.models.stylegan2.common import symbolic
from tfdisgan.models.stylegan2.mapping_network import MappingNetwork
from tfdisgan.models.stylegan2.synthesis_network import SynthesisNetwork


@keras.saving.register_keras_serializable(package="tfdisgan")
class Generator(keras.Model):
    """StyleGAN2 generator: ``MappingNetwork`` + ``SynthesisNetwork``.

    Args:
        z_dim: int > 0.
        c_dim: int >= 0, number of classes (0: unconditional).
        w_dim: int > 0.
        img_resolution: int, power of two >= 4.
        img_channels: int > 0. Default 3.
        mapping_kwargs: dict or None, extra ``MappingNetwork`` arguments (``num_layers``,
            ``lr_multiplier``, ...).
        synthesis_kwargs: dict or None, extra ``SynthesisNetwork`` arguments
            (``channel_base``, ``channel_max``, ``conv_clamp``, ...).
        **kwargs: ``keras.Model`` arguments (``name``).

    Call arguments:
        inputs: ``z [N, z_dim]`` or ``[z, labels [N]]`` (conditional).
        psi, truncation_cutoff: truncation (see ``MappingNetwork``). Defaults 1, None.
        noise_mode: ``"random" | "const" | "none"``. Default ``"random"``.
        training: bool.

    Returns:
        float32 images ``[N, R, R, img_channels]``.

    Example:
        >>> g = Generator(512, 0, 512, 256, synthesis_kwargs=dict(channel_base=16384))
        >>> g.build()
        >>> g.num_ws, sum(int(np.prod(v.shape)) for v in g.trainable_weights)
        (14, 24767458)

    Reference:
        stylegan2-ada-pytorch ``training/networks.py`` ``Generator``.
    """

    def __init__(
        self,
        z_dim,
        c_dim,
        w_dim,
        img_resolution,
        img_channels=3,
        mapping_kwargs=None,
        synthesis_kwargs=None,
        **kwargs,
    ):
        check_int("z_dim", z_dim, 1)
        check_int("c_dim", c_dim, 0)
        super().__init__(**kwargs)

        # === Config ===
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.mapping_kwargs = dict(mapping_kwargs or {})
        self.synthesis_kwargs = dict(synthesis_kwargs or {})

        # === Layers ===
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            name="synthesis",
            **self.synthesis_kwargs,
        )
        self.mapping = MappingNetwork(
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            num_ws=self.synthesis.num_ws,
            name="mapping",
            **self.mapping_kwargs,
        )

    @property
    def num_ws(self):
        """Number of w vectors the synthesis network reads."""
        return self.synthesis.num_ws

    def build(self, input_shape=None):
        """Creates every weight by tracing the networks symbolically (no computation)."""
        if self.built:
            return
        z = symbolic((None, self.z_dim))
        c = symbolic((None,), "int32") if self.c_dim > 0 else None
        self.mapping(z, c)
        self.synthesis(symbolic((None, self.num_ws, self.w_dim)))
        self.built = True

    def _split_inputs(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise ValueError(f"Expected z or [z, labels]. Received {len(inputs)} inputs.")
            z, c = inputs
        else:
            z, c = inputs, None
        if self.c_dim > 0 and c is None:
            raise ValueError(
                f"This generator is conditional (c_dim={self.c_dim}): call it on [z, labels]."
            )
        return z, (c if self.c_dim > 0 else None)

    def call(self, inputs, psi=1.0, truncation_cutoff=None, noise_mode="random", training=None):
        z, c = self._split_inputs(inputs)
        ws = self.mapping(
            z, c, psi=psi, truncation_cutoff=truncation_cutoff, training=training
        )
        return self.synthesis(ws, noise_mode=noise_mode, training=training)

    def get_config(self):
        return {
            "z_dim": self.z_dim,
            "c_dim": self.c_dim,
            "w_dim": self.w_dim,
            "img_resolution": self.img_resolution,
            "img_channels": self.img_channels,
            "mapping_kwargs": dict(self.mapping_kwargs),
            "synthesis_kwargs": dict(self.synthesis_kwargs),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


__all__ = ["Generator"]
