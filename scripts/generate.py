r"""Generate images and latent-walk GIFs from a trained generator.

    python scripts/generate.py --network=runs/00000-demo --seeds=0-63 --psi=0.7 \
        --class=건물화재 --outdir=out/fire
    python scripts/generate.py --network=exported/fire/1 --seeds= --interpolate=0,1,2,3 \
        --interp_space=w --frames=96 --fps=24 --outdir=out/walk

    python scripts/generate.py --network=runs/00000-demo --projected_w=out/proj/projected_w.npz \
        --seeds= --outdir=out/again

--network is a run folder, a checkpoint or an exported SavedModel. Writes one PNG per seed
(seedNNNN.png, or seedNNNN-classK.png for conditional models), grid.png, with
--interpolate a looping latent_walk.gif, and with --projected_w (scripts/project.py's or the
official projector's projected_w.npz) one PNG per projected w (projNN.png).
"""

import os
import sys

from absl import app, logging

from tfdisgan import flags as tfd_flags

tfd_flags.define_generate_flags()
tfd_flags.flags.adopt_module_key_flags(tfd_flags)  # list them in --help
FLAGS = tfd_flags.flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # keep TF's save/load chatter off the console
    try:
        tfd_flags.check_psi_flag()  # before TensorFlow and the network load
        from tfdisgan import export, mixing

        seeds = mixing.parse_range(FLAGS.seeds, "--seeds") if FLAGS.seeds else []
        walk = mixing.parse_range(FLAGS.interpolate, "--interpolate") if FLAGS.interpolate \
            else []
        if not seeds and not walk and not FLAGS.projected_w:
            raise ValueError("--seeds and --interpolate are both empty: nothing to generate.")
        view = export.load_network(FLAGS.network)
        # A projected w holds its class already: --class is for seeds and walks.
        label = view.class_id(FLAGS["class"].value) if seeds or walk else None
        os.makedirs(FLAGS.outdir, exist_ok=True)
        written = []
        if seeds:
            images = view.images_from_seeds(seeds, label, FLAGS.psi, FLAGS.noise_mode)
            suffix = "" if label is None else f"-class{label}"
            for seed, image in zip(seeds, images, strict=True):
                path = os.path.join(FLAGS.outdir, f"seed{seed:04d}{suffix}.png")
                mixing.save_png(image, path)
            written.append(f"{len(seeds)} images seed*.png")
            written.append(mixing.save_grid(images, os.path.join(FLAGS.outdir, "grid.png"),
                                            FLAGS.grid_columns))
        if FLAGS.projected_w:
            from tfdisgan.projection import read_projected_w

            view.require_styles("--projected_w")
            ws = read_projected_w(FLAGS.projected_w, view)
            images = view.images_from_ws(ws, FLAGS.noise_mode)
            for index, image in enumerate(images):
                mixing.save_png(image, os.path.join(FLAGS.outdir, f"proj{index:02d}.png"))
            written.append(f"{len(images)} images proj*.png from {FLAGS.projected_w}")
        if walk:
            frames = mixing.latent_walk(view, walk, frames=FLAGS.frames,
                                        space=FLAGS.interp_space, psi=FLAGS.psi, label=label,
                                        noise_mode=FLAGS.noise_mode)
            written.append(mixing.write_gif(frames, os.path.join(FLAGS.outdir,
                                                                 "latent_walk.gif"), FLAGS.fps))
    except ValueError as error:  # bad flags, network or class (NetworkError included)
        print(f"generate: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote to {FLAGS.outdir}:")
    for item in written:
        print(f"  {item}")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
