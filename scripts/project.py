r"""Project a real photo into a trained StyleGAN2 (GAN inversion), as the official projector.

    python scripts/project.py --network=runs/00003-church-sg2-256-diffaugment \
        --target=photos/my_building.jpg --outdir=out/proj [--w_plus] [--steps=1000]
    python scripts/project.py --network=RUN --target=photos/ --outdir=out/proj --class=flood

Writes projected_w.npz (the official file: w [1, num_ws, w_dim]), target.png, proj.png
(target | projection), proj.gif (the optimisation) and projection.json, and prints the final
distance and PSNR. A folder of photos gives a folder per photo and projections.json; files
that are not images are reported and skipped. The distance is VGG16 features when Keras'
VGG16 weights are on the machine (--vgg16=PATH or the Keras cache), else pixel + SSIM; every
output names the one used. Render a projection again: scripts/generate.py --projected_w=FILE.
"""

import sys

from absl import app, flags, logging

from tfdisgan import flags as tfd_flags  # TensorFlow-free: --help and typos are instant

tfd_flags.define_project_flags()
flags.adopt_module_key_flags(tfd_flags)  # listed by --help


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tfdisgan import projection

    try:
        projection.run(tfd_flags.project_config_from_flags(),
                       log=lambda line: print(line, flush=True))
    except ValueError as error:  # ProjectionError, NetworkError, bad class
        print(f"project: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
