r"""The style-mixing figure of a StyleGAN2 generator, and a GIF sweeping the crossover layer.

    python scripts/style_mix.py --network=runs/00001-fire --rows=0-5 --cols=10-14 \
        --styles=0-3 --psi=0.7 --outdir=out/mix

Column seeds give their styles at the layers --styles (0 = coarsest: pose, layout; the last
= finest: colour, texture) to the row seeds. Writes style_mixing.png (the row and column
source images along the edges) and crossover.gif (frame k gives the columns' layers 0..k-1).
Style mixing needs StyleGAN2: a DCGAN network is refused (use scripts/generate.py
--interpolate for it).
"""

import os
import sys

from absl import app, logging

from tfdisgan import flags as tfd_flags

tfd_flags.define_style_mix_flags()
tfd_flags.flags.adopt_module_key_flags(tfd_flags)  # list them in --help
FLAGS = tfd_flags.flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # keep TF's save/load chatter off the console
    from tfdisgan import export, mixing

    try:
        rows = mixing.parse_range(FLAGS.rows, "--rows")
        cols = mixing.parse_range(FLAGS.cols, "--cols")
        styles = mixing.parse_range(FLAGS.styles, "--styles")
        view = export.load_network(FLAGS.network)
        view.require_styles("--network")
        label = view.class_id(FLAGS["class"].value)
        common = dict(psi=FLAGS.psi, row_class=label, col_class=label,
                      noise_mode=FLAGS.noise_mode)
        mix = mixing.style_mixing_grid(view, rows, cols, styles, **common)
        os.makedirs(FLAGS.outdir, exist_ok=True)
        written = [os.path.join(FLAGS.outdir, "style_mixing.png")]
        mixing.save_png(mix.image, written[0])
        if FLAGS.gif:
            frames = mixing.crossover_sweep(view, rows, cols, **common)
            written.append(mixing.write_gif(frames, os.path.join(FLAGS.outdir,
                                                                 "crossover.gif"), FLAGS.fps))
    except ValueError as error:  # bad flags, network, class, or a DCGAN
        print(f"style_mix: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {', '.join(written)}")
    return 0


if __name__ == "__main__":
    app.run(main)
