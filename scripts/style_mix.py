r"""Style mixing: one StyleGAN2, two generators split by resolution, or two classes.

One generator (the StyleGAN papers' figure and a GIF sweeping the crossover layer):

    python scripts/style_mix.py --network=runs/00001-fire --rows=0-5 --cols=10-14 \
        --styles=0-3 --psi=0.7 --outdir=out/mix

Column seeds give their styles at the layers --styles (0 = coarsest: pose, layout; the last
= finest: colour, texture) to the row seeds. Writes style_mixing.png (the row and column
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

Two classes of one conditional generator (coarse from --class_a, the rest from --class_b):

    python scripts/style_mix.py --network=runs/00005-disasters --class_a=earthquake \
        --class_b=building_fire --split=8 --outdir=out/quake_x_fire

Style mixing needs StyleGAN2: a DCGAN network is refused (use scripts/generate.py
--interpolate for it).
"""

import json
import os
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
    return "single"


def _single(export, mixing, rows, cols):
    styles = mixing.parse_range(FLAGS.styles, "--styles")
    view = export.load_network(FLAGS.network)
    view.require_styles("--network")
    label = view.class_id(FLAGS["class"].value)
    common = dict(psi=FLAGS.psi, row_class=label, col_class=label, noise_mode=FLAGS.noise_mode)
    mix = mixing.style_mixing_grid(view, rows, cols, styles, **common)
    os.makedirs(FLAGS.outdir, exist_ok=True)
    written = [os.path.join(FLAGS.outdir, "style_mixing.png")]
    mixing.save_png(mix.image, written[0])
    if FLAGS.gif:
        frames = mixing.crossover_sweep(view, rows, cols, **common)
        written.append(mixing.write_gif(frames, os.path.join(FLAGS.outdir, "crossover.gif"),
                                        FLAGS.fps))
    return written


def _load_pair(export, mixing):
    """``(view_a, view_b, model_a, model_b)``; models only for --swap_out (checkpoints)."""
    if not FLAGS.swap_out:
        return (export.load_network(FLAGS.network_a, flag="--network_a"),
                export.load_network(FLAGS.network_b, flag="--network_b"), None, None)
    loaded = []
    for flag in ("network_a", "network_b"):
        path = FLAGS[flag].value
        if export.resolve_network(path, f"--{flag}")[0] != "checkpoint":
            raise ValueError(f"--swap_out needs training checkpoints: --{flag} {path!r} is a "
                             "SavedModel.")
        model, names, _ = export.load_model(path, f"--{flag}")
        loaded.append((mixing.GeneratorView(model, class_names=names), model))
    (view_a, model_a), (view_b, model_b) = loaded
    return view_a, view_b, model_a, model_b


def _swap(export, mixing, split, view_a, view_b, model_a, model_b):
    blocks = mixing.synthesis_resolutions(view_a.resolution)
    if list(split.a) != blocks[: len(split.a)]:
        raise ValueError(f"--swap_out: --split={FLAGS.split} must give A the lowest "
                         "resolutions (4 px up to the swap point), e.g. --split=8.")
    resolution = max(split.a)
    swapped = mixing.swap_layers(model_a, model_b, resolution, mode=FLAGS.swap_mode,
                                 width=FLAGS.swap_width, mapping=FLAGS.swap_mapping)
    source = FLAGS.network_a if FLAGS.swap_mapping == "a" else FLAGS.network_b
    with open(os.path.join(export.resolve_network(source)[2], "config.json"),
              encoding="utf-8") as handle:
        run_config = json.load(handle)
    names = (view_a if FLAGS.swap_mapping == "a" else view_b).class_names
    info = {"network_a": os.path.abspath(FLAGS.network_a),
            "network_b": os.path.abspath(FLAGS.network_b), "split": FLAGS.split,
            **swapped.swap_info}
    return mixing.write_run(swapped, FLAGS.swap_out, run_config, class_names=names, info=info,
                            overwrite=FLAGS.overwrite)


def _pair(export, mixing, mode, rows, cols):
    if mode == "cross":
        view_a, view_b, model_a, model_b = _load_pair(export, mixing)
        class_a = view_a.class_id(FLAGS.class_a)
        class_b = view_b.class_id(FLAGS.class_b)
    else:
        view_a = view_b = export.load_network(FLAGS.network)
        view_a.require_styles("--network")
        class_a, class_b = view_a.class_id(FLAGS.class_a), view_a.class_id(FLAGS.class_b)
    for view, which in ((view_a, "A"), (view_b, "B")):
        view.require_styles(f"network {which}")
    split = mixing.parse_split(FLAGS.split, view_a.resolution, "--split")
    common = dict(render=FLAGS.render, psi=FLAGS.psi, class_a=class_a, class_b=class_b,
                  noise_mode=FLAGS.noise_mode)
    mix = mixing.cross_domain_mix(view_a, view_b, rows, cols, split, **common)
    os.makedirs(FLAGS.outdir, exist_ok=True)
    written, out = [], FLAGS.outdir
    for figure, stem, label in zip((mix.forward, mix.reverse), mix.stems, mix.labels,
                                   strict=True):
        path = os.path.join(out, f"mix_{stem}.png")
        mixing.save_png(figure.image, path)
        written.append(path)
        print(f"{label}: {path}")
    written.append(os.path.join(out, "both_directions.png"))
    mixing.save_png(mix.image, written[-1])
    if view_a.z_dim == view_b.z_dim:
        paired = mixing.paired_mix(view_a, view_b, rows, split, **common)
        written.append(os.path.join(out, "same_z.png"))
        mixing.save_png(paired.image, written[-1])
    if FLAGS.gif:
        sweeps = mixing.cross_domain_sweeps(view_a, view_b, rows, cols, **common)
        for frames, stem in zip(sweeps, mix.stems, strict=True):
            written.append(mixing.write_gif(frames, os.path.join(out, f"mix_{stem}.gif"),
                                            FLAGS.fps))
    if FLAGS.swap_out:
        written.append(_swap(export, mixing, split, view_a, view_b, model_a, model_b))
    return written


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # keep TF's save/load chatter off the console
    try:
        tfd_flags.check_psi_flag()  # before TensorFlow and any network load
        from tfdisgan import export, mixing

        mode = _mode()
        rows = mixing.parse_range(FLAGS.rows, "--rows")
        cols = mixing.parse_range(FLAGS.cols, "--cols")
        if mode == "single":
            written = _single(export, mixing, rows, cols)
        else:
            written = _pair(export, mixing, mode, rows, cols)
    except (ValueError, FileExistsError) as error:  # bad flags, networks, classes, a DCGAN
        print(f"style_mix: error: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {', '.join(written)}")
    return 0


if __name__ == "__main__":
    app.run(main)
