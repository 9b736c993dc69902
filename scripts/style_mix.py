r"""Style mixing: one StyleGAN2, two generators split by resolution, or two classes.

One generator (the StyleGAN papers' figure and a GIF sweeping the crossover layer):

    python scripts/style_mix.py --network=runs/00001-fire --rows=0-5 --cols=10-14 \
        --styles=0-3 --psi=0.7 --outdir=out/mix

Column seeds give their styles at the layers --styles (0 = coarsest: pose, layout; the last
= finest: colour, texture) to the row seeds. --row_ws / --col_ws add projected photos
(scripts/project.py's projected_w.npz) before the seeds: --row_ws=out/proj/projected_w.npz
--rows= gives a photo the columns' styles. Writes style_mixing.png (the row and column
source images along the edges) and crossover.gif (frame k gives the columns' layers 0..k-1).

Two generators, split by resolution, both directions in one command ("church on fire"):

    python scripts/style_mix.py --network_a=runs/00003-church --network_b=runs/00004-fire \
        --split=8 --outdir=out/church_x_fire

A gives the 4-8 px styles and B 16 px and up (--split=4-8,16-512 says the same), and the
reverse: mix_a4-8_b16-256.png and mix_b4-8_a16-256.png (columns: the source of the 4-8 px
styles; rows: the other), both_directions.png (the two side by side), same_z.png (rows A, B,
A+B, B+A for the --rows seeds) and, with --gif, mix_*.gif sweeping the crossover layer.
--render=a|b|fine picks whose synthesis draws the mixes. --swap_out=DIR also writes a
layer-swapped generator (A's synthesis blocks up to the split, B's above; --swap_mode=smooth
blends them) as a run folder that --network, scripts/export.py and --transfer_from take.

A real photo of a building, on fire: --photo projects it into A (the building or church
model; scripts/project.py's steps, schedule and distance) and mixes its styles with B's
(fire) seeds in both directions: the photo's 4-8 px layout under B's texture (its column of
mix_a4-8_*.png, rows = --rows of B) and B's layout under the photo's texture (its row of
mix_b4-8_*.png, columns = --cols of B), the sweeps with --gif, and with --swap_out the
photo's styles through the layer-swapped generator (photo_swapped.png):

    python scripts/style_mix.py --network_a=runs/00003-church --network_b=runs/00004-fire \
        --photo=my_building.jpg --split=8 --rows=0-5 --cols=0-5 --gif \
        --swap_out=runs/church_on_fire --outdir=out/my_building_on_fire

--photo_w=out/proj/projected_w.npz uses a photo projected before (into A).

Two classes of one conditional generator (coarse from --class_a, the rest from --class_b):

    python scripts/style_mix.py --network=runs/00005-disasters --class_a=earthquake \
        --class_b=building_fire --split=8 --outdir=out/quake_x_fire

Style mixing needs StyleGAN2: a DCGAN network is refused (use scripts/generate.py
--interpolate for it).
"""

import sys

from absl import app, logging

from tfdisgan import flags as tfd_flags

tfd_flags.define_style_mix_flags()
tfd_flags.flags.adopt_module_key_flags(tfd_flags)  # list them in --help
FLAGS = tfd_flags.flags.FLAGS


def _mode():
    """``"single"``, ``"classes"`` or ``"cross"`` from the flags given; ValueError if mixed."""
    pair = (FLAGS.network_a, FLAGS.network_b)
    if FLAGS.network and any(pair):
        raise ValueError("give either --network (one generator) or --network_a and "
                         "--network_b (two), not both.")
    if any(pair) and not all(pair):
        raise ValueError("cross-domain mixing needs both --network_a and --network_b.")
    if all(pair):
        return "cross"
    if not FLAGS.network:
        raise ValueError("give --network, or --network_a and --network_b.")
    if FLAGS.class_a is not None or FLAGS.class_b is not None:
        if FLAGS.class_a is None or FLAGS.class_b is None:
            raise ValueError("class mixing needs both --class_a and --class_b.")
        if FLAGS.swap_out:
            raise ValueError("--swap_out needs two generators (--network_a, --network_b).")
        return "classes"
    if FLAGS.swap_out:
        raise ValueError("--swap_out needs two generators (--network_a, --network_b).")
    if FLAGS.photo or FLAGS.photo_w:
        raise ValueError("--photo/--photo_w mix a real photo across two generators "
                         "(--network_a, --network_b); within one --network use --row_ws or "
                         "--col_ws.")
    return "single"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # keep TF's save/load chatter off the console
    try:
        tfd_flags.check_psi_flag()  # before TensorFlow and any network load
        from tfdisgan.mixing import figures
        from tfdisgan.views import parse_range

        mode = _mode()
        rows = parse_range(FLAGS.rows, "--rows") if FLAGS.rows else []
        cols = parse_range(FLAGS.cols, "--cols") if FLAGS.cols else []
        common = dict(psi=FLAGS.psi, noise_mode=FLAGS.noise_mode, gif=FLAGS.gif,
                      fps=FLAGS.fps)
        if mode == "single":
            written = figures.write_style_mixing(FLAGS.network, rows, cols, FLAGS.styles,
                                                 FLAGS.outdir, label=FLAGS["class"].value,
                                                 row_ws=FLAGS.row_ws, col_ws=FLAGS.col_ws,
                                                 **common)
        else:
            if FLAGS.row_ws or FLAGS.col_ws:
                raise ValueError("--row_ws/--col_ws: projected ws mix within one --network "
                                 "(across --network_a/--network_b a photo is --photo or "
                                 "--photo_w)")
            written = figures.write_cross_mix(
                FLAGS.outdir, rows, cols, FLAGS.split,
                network=FLAGS.network if mode == "classes" else None,
                network_a=FLAGS.network_a, network_b=FLAGS.network_b, class_a=FLAGS.class_a,
                class_b=FLAGS.class_b, render=FLAGS.render, swap_out_dir=FLAGS.swap_out,
                swap_mode=FLAGS.swap_mode, swap_width=FLAGS.swap_width,
                swap_mapping=FLAGS.swap_mapping, overwrite=FLAGS.overwrite,
                photo=FLAGS.photo, photo_w=FLAGS.photo_w, project_steps=FLAGS.project_steps,
                **common)
    except (ValueError, FileExistsError) as error:  # bad flags, networks, classes, a DCGAN
        print(f"style_mix: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {', '.join(written)}")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
