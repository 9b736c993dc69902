"""DCGAN generator and discriminator builders, and the ``DCGAN`` model.

The architecture of Radford et al. at any power-of-two resolution from 16 to 512: the
generator projects ``z`` to ``4 x 4 x C`` and doubles the resolution with stride-2 4x4
transposed convolutions (batch norm + ReLU) up to a ``tanh`` RGB layer; the discriminator
mirrors it with stride-2 4x4 convolutions (batch norm on all but the first, LeakyReLU 0.2)
down to ``4 x 4`` and a linear logit. Channel counts follow the reference PyTorch DCGAN
(``ngf``/``ndf`` = ``base_channels``): the layer next to the images has ``base_channels``
and every halving of the resolution doubles it, capped at ``max_channels``, so at 64 px the
generator runs 512-256-128-64 channels from 4x4 to 32x32. With batch norm, no layer has a
bias, as in that reference, so the 64 px defaults have its parameter counts exactly
(G 3,576,704 and D 2,765,568 trainable).

Conditioning: the generator concatenates a learned class embedding (``z_dim`` wide) to
``z``; the discriminator is a projection discriminator, ``logit = psi(phi(x)) +
<embed(y), phi(x)>`` with ``phi`` the flattened 4x4 features (Miyato & Koyama 2018).

Reference:
    Radford, Metz, Chintala, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks", 2015 (arXiv:1511.06434).
    Miyato, Koyama, "cGANs with Projection Discriminator", 2018 (arXiv:1802.05637).
"""

import keras
from keras import layers

from tfdisgan import optimizers
from tfdisgan._validate import is_int
from tfdisgan.models.gan import GAN

MIN_RESOLUTION = 16
MAX_RESOLUTION = 512


def _init():
    # "All weights were initialized from a zero-centered Normal distribution with standard
    # deviation 0.02" (Radford et al., section 4).
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _check_common(resolution, base_channels, num_classes, max_channels):
    if (
        not is_int(resolution)
        or resolution < MIN_RESOLUTION
        or resolution > MAX_RESOLUTION
        or resolution & (resolution - 1)
    ):
        raise ValueError(
            f"`resolution` must be a power of two in [{MIN_RESOLUTION}, {MAX_RESOLUTION}]. "
            f"Received: resolution={resolution}"
        )
    if not is_int(base_channels) or base_channels < 1:
        raise ValueError(
            f"`base_channels` must be a positive int. Received: base_channels={base_channels}"
        )
    if not is_int(max_channels) or max_channels < 1:
        raise ValueError(
            f"`max_channels` must be a positive int. Received: max_channels={max_channels}"
        )
    if not is_int(num_classes) or num_classes < 0:
        raise ValueError(f"`num_classes` must be an int >= 0. Received: num_classes={num_classes}")


def dcgan_channels(size, resolution, base_channels, max_channels):
    """Feature channels at spatial ``size`` for a net of ``resolution`` (``size < res``).

    ``base_channels * resolution / (2 * size)``, capped at ``max_channels``.
    """
    return min(base_channels * resolution // (2 * size), max_channels)


def _batch_norm(name):
    # PyTorch defaults (momentum 0.1, eps 1e-5) as in the reference DCGAN; gamma ~ N(1, 0.02).
    return layers.BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
        name=name,
    )


def build_dcgan_generator(
    resolution,
    z_dim=100,
    base_channels=64,
    num_classes=0,
    max_channels=512,
    batch_norm=True,
    name="dcgan_generator",
):
    """Builds the DCGAN generator as a functional ``keras.Model``.

    Args:
        resolution: int, power of two in [16, 512], output height and width.
        z_dim: int > 0, latent size. Default 100.
        base_channels: int > 0, channels of the last hidden layer (``ngf``). Default 64.
        num_classes: int >= 0; > 0 adds an int ``labels [B]`` input whose ``z_dim``-wide
            embedding is concatenated to ``z``. Default 0.
        max_channels: int > 0, channel cap. Default 512.
        batch_norm: bool, batch norm after every hidden layer (the paper); False uses biases
            instead (per-example computation, e.g. for replica-equivalence tests).
            Default True.
        name: str, model name.

    Returns:
        ``keras.Model``: ``z [B, z_dim]`` (and ``labels [B]``) -> images
        ``[B, resolution, resolution, 3]`` in ``[-1, 1]``.

    Raises:
        ValueError: a bad argument, naming the value.

    Example:
        >>> g = build_dcgan_generator(64)
        >>> g(np.zeros([2, 100])).shape
        TensorShape([2, 64, 64, 3])
    """
    _check_common(resolution, base_channels, num_classes, max_channels)
    if not is_int(z_dim) or z_dim < 1:
        raise ValueError(f"`z_dim` must be a positive int. Received: z_dim={z_dim}")

    # === Inputs ===
    z = keras.Input(shape=(z_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes > 0:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        embed = layers.Embedding(
            num_classes, z_dim, embeddings_initializer=_init(), name="class_embedding"
        )(labels)
        x = layers.Concatenate(name="z_and_class")([z, embed])

    # === Layers ===
    channels = dcgan_channels(4, resolution, base_channels, max_channels)
    x = layers.Dense(
        4 * 4 * channels, use_bias=not batch_norm, kernel_initializer=_init(), name="project"
    )(x)
    x = layers.Reshape((4, 4, channels), name="project_reshape")(x)
    if batch_norm:
        x = _batch_norm("project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)

    size = 4
    while size * 2 < resolution:
        size *= 2
        block = f"up{size}"
        x = layers.Conv2DTranspose(
            dcgan_channels(size, resolution, base_channels, max_channels),
            4,
            strides=2,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=_init(),
            name=f"{block}_conv",
        )(x)
        if batch_norm:
            x = _batch_norm(f"{block}_bn")(x)
        x = layers.ReLU(name=f"{block}_relu")(x)

    x = layers.Conv2DTranspose(
        3,
        4,
        strides=2,
        padding="same",
        use_bias=not batch_norm,
        kernel_initializer=_init(),
        name="to_rgb",
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs if num_classes > 0 else z, images, name=name)


def build_dcgan_discriminator(
    resolution,
    base_channels=64,
    num_classes=0,
    max_channels=512,
    batch_norm=True,
    name="dcgan_discriminator",
):
    """Builds the DCGAN discriminator as a functional ``keras.Model``.

    Args:
        resolution: int, power of two in [16, 512], input height and width.
        base_channels: int > 0, channels of the first layer (``ndf``). Default 64.
        num_classes: int >= 0; > 0 adds an int ``labels [B]`` input and a projection term.
            Default 0.
        max_channels: int > 0, channel cap. Default 512.
        batch_norm: bool, batch norm on every conv but the first (the paper). Default True.
        name: str, model name.

    Returns:
        ``keras.Model``: images ``[B, resolution, resolution, 3]`` (and ``labels [B]``) ->
        logits ``[B, 1]``.

    Raises:
        ValueError: a bad argument, naming the value.

    Example:
        >>> d = build_dcgan_discriminator(64)
        >>> d(np.zeros([2, 64, 64, 3])).shape
        TensorShape([2, 1])
    """
    _check_common(resolution, base_channels, num_classes, max_channels)

    # === Inputs ===
    images = keras.Input(shape=(resolution, resolution, 3), name="images")
    inputs = [images]
    if num_classes > 0:
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)

    # === Layers ===
    x = images
    size = resolution
    while size > 4:
        size //= 2
        block = f"down{size}"
        first = size == resolution // 2
        x = layers.Conv2D(
            dcgan_channels(size, resolution, base_channels, max_channels),
            4,
            strides=2,
            padding="same",
            use_bias=not batch_norm,
            kernel_initializer=_init(),
            name=f"{block}_conv",
        )(x)
        if batch_norm and not first:
            x = _batch_norm(f"{block}_bn")(x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"{block}_lrelu")(x)

    # A dense layer on the flattened 4x4 features is the paper's final 4x4 valid conv.
    features = layers.Flatten(name="features")(x)
    logits = layers.Dense(1, use_bias=not batch_norm, kernel_initializer=_init(), name="logit")(
        features
    )
    if num_classes > 0:
        embed = layers.Embedding(
            num_classes,
            features.shape[-1],
            embeddings_initializer=_init(),
            name="class_projection",
        )(labels)
        projection = layers.Dot(axes=1, name="projection")([embed, features])
        logits = layers.Add(name="logit_plus_projection")([logits, projection])
    logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    return keras.Model(inputs if num_classes > 0 else images, logits, name=name)


@keras.saving.register_keras_serializable(package="tfdisgan")
class DCGAN(GAN):
    """DCGAN: the ``GAN`` training core with the Radford et al. networks.

    Args:
        resolution: int, power of two in [16, 512]. Default 64.
        z_dim: int > 0. Default 100.
        base_channels: int > 0, ``ngf`` = ``ndf``. Default 64.
        num_classes: int >= 0. Default 0.
        max_channels: int > 0. Default 512.
        batch_norm: bool, batch norm in both networks (the paper). Default True.
        **gan_kwargs: ``GAN`` arguments (``ema_kimg``, ``ema_rampup``, ``seed``, ``name``).

    Raises:
        ValueError: a bad argument, naming the value.

    Example:
        >>> gan = DCGAN(resolution=64, seed=0)
        >>> gan.compile(**DCGAN.default_optimizers())
        >>> gan.fit(images.batch(64, drop_remainder=True), epochs=5)

    Reference:
        Radford et al. 2015 (arXiv:1511.06434).
    """

    # G_ema's batch-norm moving statistics follow the raw ones with the weights' EMA decay
    # (`GAN.update_ema`): its averaged weights never normalise with raw-only statistics.
    ema_buffers = "average"

    def __init__(
        self,
        resolution=64,
        z_dim=100,
        base_channels=64,
        num_classes=0,
        max_channels=512,
        batch_norm=True,
        **gan_kwargs,
    ):
        # === Layers ===
        generator = build_dcgan_generator(
            resolution,
            z_dim=z_dim,
            base_channels=base_channels,
            num_classes=num_classes,
            max_channels=max_channels,
            batch_norm=batch_norm,
        )
        discriminator = build_dcgan_discriminator(
            resolution,
            base_channels=base_channels,
            num_classes=num_classes,
            max_channels=max_channels,
            batch_norm=batch_norm,
        )
        super().__init__(
            generator, discriminator, z_dim=z_dim, num_classes=num_classes, **gan_kwargs
        )

        # === Config ===
        self.resolution = resolution
        self.base_channels = base_channels
        self.max_channels = max_channels
        self.batch_norm = bool(batch_norm)

    @staticmethod
    def default_optimizers(learning_rate=2e-4, beta_1=0.5):
        """``OptimizerPair(g_optimizer, d_optimizer)``: two ``GAN.adam`` (Adam 2e-4,
        beta_1 0.5, as in the paper), for ``gan.compile(**DCGAN.default_optimizers())``."""
        return optimizers.OptimizerPair(
            g_optimizer=GAN.adam(learning_rate, beta_1),
            d_optimizer=GAN.adam(learning_rate, beta_1),
        )

    def get_config(self):
        return {
            "resolution": self.resolution,
            "z_dim": self.z_dim,
            "base_channels": self.base_channels,
            "num_classes": self.num_classes,
            "max_channels": self.max_channels,
            "batch_norm": self.batch_norm,
            "ema_kimg": self.ema_kimg,
            "ema_rampup": self.ema_rampup,
            "seed": self.seed,
            "name": self.name,
        }


__all__ = ["DCGAN", "build_dcgan_discriminator", "build_dcgan_generator", "dcgan_channels"]
