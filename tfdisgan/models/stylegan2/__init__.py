"""StyleGAN2 (config F / stylegan2-ada) networks, presets and the ``StyleGAN2`` model.

A Keras 3 / TensorFlow re-implementation of the networks and the training loss of NVIDIA's
stylegan2-ada-pytorch (``training/networks.py``, ``training/loss.py``,
``training/training_loop.py``, ``train.py``), NHWC throughout. The networks have the
official parameter counts exactly (e.g. paper256 at 256 px: G 24,767,458 = mapping
2,101,248 + synthesis 22,666,210, D 24,001,089; config F at 1024 px: G 30,370,060,
D 29,012,513), counting ``noise_strength`` and leaving out the buffers (``w_avg``,
``noise_const``, resampling filters), as the official code does. With the official
weights (transposed to NHWC), G, D, the path lengths and R1 agree with the official PyTorch
code to float32 precision (``tests/models/test_stylegan2.py``, ``OfficialAgreementTest``).

* ``MappingNetwork``: z (normalised by its second moment) and the class embedding
  (normalised) -> ``num_layers`` equalised FC layers (lr multiplier 0.01) -> w, tracked by a
  moving average ``w_avg`` and broadcast to ``num_ws`` copies, with truncation toward
  ``w_avg``.
* ``SynthesisNetwork``: a learned 4x4 constant, per resolution two modulated 3x3 convs
  (the first upsampling) with noise and a ToRGB whose output is added to the upsampled
  image ("skip" architecture). ``num_ws = 2 * log2(res) - 2``.
* ``Discriminator``: residual blocks (FromRGB at the top resolution only), an epilogue with
  minibatch stddev, conv, FC and output FC, and projection conditioning through its own
  mapping network.
* ``StyleGAN2(GAN)``: the training phases of ``training_loop.py``: ``Gmain`` (non-saturating
  loss with style mixing), ``Greg`` (path-length penalty, every ``pl_interval`` steps),
  ``Dmain`` (logistic loss), ``Dreg`` (R1, every ``r1_interval`` steps), each regularisation
  phase a separate optimizer step as in the official loop, then the G EMA.
* ``PRESETS`` / ``resolve_preset``: the ``cfg_specs`` of stylegan2-ada ``train.py``
  (``auto``, ``stylegan2``, ``paper256``, ``paper512``, ``paper1024``) plus ``cpu_tiny``;
  ``lazy_adam`` is the lazy-regularisation Adam adjustment of ``training_loop.py``.

Deviations from the official code (all deliberate):

* NHWC layout. The epilogue flattens its 4x4 features in NCHW order so that the FC weight
  has the official layout.
* Labels are int class indices ``[N]`` (one-hot encoded inside the mapping networks, which
  also accept a float ``[N, c_dim]`` label); the fakes of every phase use the labels of
  the real batch rather than labels drawn again from the dataset.
* Replica-count invariance: latents, the style-mixing draws and the path-length noise are
  drawn for the global batch and sliced per replica (``GAN.replica_rows``); the path-length
  batch is ``global_batch // pl_batch_shrink`` rows drawn afresh, with every
  ``pl_batch_shrink``-th label (official: the first rows of the phase's latents and labels
  on each GPU); ``pl_mean`` and ``w_avg`` are updated with the mean over all replicas
  (official: per GPU, unsynchronised buffers).
* Keras' Adam puts ``epsilon`` outside the bias correction of the second moment (TF's
  "epsilon hat"); with ``epsilon = 1e-8`` the difference is negligible.
* ``num_fp16_res`` runs the top blocks (those >= 8 px) with the Keras ``mixed_float16``
  policy (``conv_clamp`` guards them, as in the official code), or ``mixed_bfloat16`` with
  ``half_dtype="bfloat16"``: the same layout with bfloat16, for TPUs and for CPUs with
  bf16 dot products, where it doubles the conv throughput. The default is 0 (float32).
* Under ``tf.distribute``, random noise ("random" noise mode) and minibatch-stddev groups
  are per replica, as per GPU in the official code.

Keras notes: sub-layers are attributes (``fc0``, ``b4``, ...), never lists, because Keras
3.15 leaves lists of layers out of ``tf.train.Checkpoint``'s object graph; networks are
built by tracing ``call`` in a scratch graph (``compute_output_spec``), so building even
config F creates the weights without running a forward pass.

Reference:
    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020.
    Karras et al., "Training Generative Adversarial Networks with Limited Data", NeurIPS
    2020 (https://github.com/NVlabs/stylegan2-ada-pytorch).
"""

from tfdisgan._validate import NOISE_MODES
from tfdisgan.losses import path_lengths
from tfdisgan.models.stylegan2.common import ARCHITECTURES, HALF_DTYPES, channels_dict
from tfdisgan.models.stylegan2.discriminator import (
    Discriminator,
    DiscriminatorBlock,
    DiscriminatorEpilogue,
)
from tfdisgan.models.stylegan2.generator import Generator
from tfdisgan.models.stylegan2.mapping_network import MappingNetwork, normalize_2nd_moment
from tfdisgan.models.stylegan2.presets import (
    COMPILE_KEYS,
    MODEL_KEYS,
    PRESETS,
    lazy_adam,
    preset_optimizers,
    resolve_preset,
    split_preset,
)
from tfdisgan.models.stylegan2.stylegan2_gan import StyleGAN2
from tfdisgan.models.stylegan2.synthesis_network import SynthesisBlock, SynthesisNetwork

__all__ = [
    "ARCHITECTURES",
    "COMPILE_KEYS",
    "Discriminator",
    "DiscriminatorBlock",
    "DiscriminatorEpilogue",
    "Generator",
    "HALF_DTYPES",
    "MODEL_KEYS",
    "MappingNetwork",
    "NOISE_MODES",
    "PRESETS",
    "StyleGAN2",
    "SynthesisBlock",
    "SynthesisNetwork",
    "channels_dict",
    "lazy_adam",
    "normalize_2nd_moment",
    "path_lengths",
    "preset_optimizers",
    "resolve_preset",
    "split_preset",
]
