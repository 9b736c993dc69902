"""The small-data study: augmentation and transfer arms with equal budgets.

    python scripts/study.py --kimg=20 --outdir=runs/study --report_dir=docs/study

Trains every arm of --arms (none, classic, diffaugment, ada, diffaugment+ada, transfer) on
the same few hundred images with the same budget, then writes OUTDIR/study.md (a markdown
table: SWD, MS-SSIM diversity, FID/KID if a feature network is present, D(real)/D(fake), ADA's
p, leak rates, wall time), OUTDIR/study.json and a sample grid per arm. The logic is
`tfdisgan.study`. Results on a 2-core CPU and the full-scale recipe:
docs/small_data_study.md.

    python scripts/study.py --cross_mix_study --cfg=cpu_tiny --kimg=3 --outdir=runs/cross_mix

instead compares training-time cross-domain mixing (--cross_mix) with inference-time class
mixing: two conditional StyleGAN2 runs on --mix_classes (OUTDIR/cross_mix.md, .json, grids).
"""

import shlex
import sys

from absl import app, flags, logging

from tfdisgan import study

_D = study.StudyConfig()
flags.DEFINE_string("data", _D.data, "Dataset of the target reals (shards, image folder or "
                    "procedural:N).")
flags.DEFINE_list("classes", list(_D.classes), "Target classes (names or ids; empty: all).")
flags.DEFINE_string("pretrain_data", _D.pretrain_data, "Pre-training dataset of the transfer "
                    "arm (default: --data).")
flags.DEFINE_list("pretrain_classes", list(_D.pretrain_classes), "Its classes (default: "
                  "every class not in --classes).")
flags.DEFINE_integer("resolution", _D.resolution, "Image side (procedural data: required).")
flags.DEFINE_enum("model", _D.model, ["dcgan", "stylegan2"], "Model of every arm.")
flags.DEFINE_string("cfg", _D.cfg, "StyleGAN2 preset (as scripts/train.py --cfg).")
flags.DEFINE_float("kimg", _D.kimg, "Budget of every arm, thousands of real images.")
flags.DEFINE_integer("steps", None, "Budget in train steps instead of --kimg (tests).")
flags.DEFINE_float("pretrain_kimg", None, "Pre-training budget of the transfer arm "
                   "(default: --kimg).")
flags.DEFINE_integer("batch", None, "Global batch (default: the model's).")
flags.DEFINE_integer("base_channels", _D.base_channels, "DCGAN width at the highest "
                     "resolution.")
flags.DEFINE_integer("max_channels", _D.max_channels, "DCGAN maximum width.")
flags.DEFINE_integer("channel_base", None, "StyleGAN2 width (default: the --cfg preset's).")
flags.DEFINE_integer("channel_max", None, "StyleGAN2 maximum width (default: the preset's).")
flags.DEFINE_list("arms", list(_D.arms), f"Arms to run, of {', '.join(study.ARMS)}.")
flags.DEFINE_float("ada_kimg", None, "ADA adjustment speed (default: a fifth of the budget).")
flags.DEFINE_integer("freeze_d", _D.freeze_d, "FreezeD blocks when fine-tuning (transfer).")
flags.DEFINE_integer("num_gen", None, "Fakes per arm (default: as many as reals, <= 2000).")
flags.DEFINE_enum("feature_net", _D.feature_net,
                  ["auto", "none", "inception", "keras_inceptionv3"],
                  "FID/KID's feature network; auto: whichever is on this machine, else none.")
flags.DEFINE_string("inception", _D.inception, "Inception weights (default: Keras cache).")
flags.DEFINE_list("leak_kinds", list(_D.leak_kinds), "Leak tests: orientation, tilt.")
flags.DEFINE_integer("grid_images", _D.grid_images, "Images per sample grid.")
flags.DEFINE_integer("seed", _D.seed, "Seed of every run and of the evaluation.")
flags.DEFINE_string("outdir", _D.outdir, "Output folder (study.md, study.json, grids, runs/).")
flags.DEFINE_string("report_dir", _D.report_dir, "Also copy the grids, study.json and "
                    "study.md here (e.g. docs/study).")
flags.DEFINE_enum("precision", _D.precision,
                  ["float32", "mixed_float16", "mixed_bfloat16", "auto"],
                  "--precision of every run (auto: bfloat16 on CPUs with fast bf16).")
flags.DEFINE_bool("cross_mix_study", False, "Instead of the augmentation arms: compare "
                  "training-time cross-domain mixing (--cross_mix) with inference-time "
                  "class mixing, two conditional StyleGAN2 runs on --mix_classes "
                  "(ignores --model, --classes, --arms).")
flags.DEFINE_list("mix_classes", list(_D.mix_classes), "Cross-mix study: class A (structure, "
                  "coarse styles), class B (textures).")
flags.DEFINE_string("mix_res", _D.mix_res, "Cross-mix study: the resolutions whose styles "
                    "come from class B; the others come from A.")
flags.DEFINE_float("cross_mix_prob", _D.cross_mix_prob, "Cross-mix study: --cross_mix_prob "
                   "of the training-time arm.")

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    from tfdisgan import training
    from tfdisgan.data import DatasetError

    kimg = None if FLAGS.steps is not None else FLAGS.kimg
    config = study.StudyConfig(
        data=FLAGS.data, classes=tuple(FLAGS.classes), pretrain_data=FLAGS.pretrain_data,
        pretrain_classes=tuple(FLAGS.pretrain_classes), resolution=FLAGS.resolution,
        model=FLAGS.model, cfg=FLAGS.cfg, kimg=kimg, steps=FLAGS.steps,
        pretrain_kimg=FLAGS.pretrain_kimg, batch=FLAGS.batch,
        base_channels=FLAGS.base_channels, max_channels=FLAGS.max_channels,
        channel_base=FLAGS.channel_base, channel_max=FLAGS.channel_max,
        arms=tuple(FLAGS.arms), ada_kimg=FLAGS.ada_kimg, freeze_d=FLAGS.freeze_d,
        num_gen=FLAGS.num_gen, feature_net=FLAGS.feature_net, inception=FLAGS.inception,
        leak_kinds=tuple(FLAGS.leak_kinds), grid_images=FLAGS.grid_images, seed=FLAGS.seed,
        outdir=FLAGS.outdir, report_dir=FLAGS.report_dir,
        command="python " + " ".join(shlex.quote(a) for a in sys.argv),
        precision=FLAGS.precision, mix_classes=tuple(FLAGS.mix_classes),
        mix_res=FLAGS.mix_res, cross_mix_prob=FLAGS.cross_mix_prob,
    )
    runner = study.run_cross_mix_study if FLAGS.cross_mix_study else study.run_study
    try:
        result = runner(config)
    except (study.StudyError, training.ConfigError, DatasetError) as error:
        print(f"study: error: {error}", file=sys.stderr)
        return 2
    print(result["table"])
    name = "cross_mix" if FLAGS.cross_mix_study else "study"
    print(f"Wrote {FLAGS.outdir}/{name}.md and {name}.json")
    return 0


if __name__ == "__main__":
    app.run(main)
