r"""Export a trained generator (its EMA weights) as a SavedModel for TF Serving.

    python scripts/export.py --network=runs/00000-demo --out=exported/demo/1
    docker run -p 8501:8501 -v "$PWD/exported/demo:/models/demo" -e MODEL_NAME=demo \
        tensorflow/serving

--out must end in a numeric version folder (TF Serving's MODEL_NAME/VERSION layout).
Signatures: serving_default (seeds, psi, class_id -> uint8 images), generate_from_z, and for
StyleGAN2 mapping, generate_from_w and mix; see tfdisgan/export.py and the README.
"""

import sys

from absl import app, logging

from tfdisgan import flags as tfd_flags

tfd_flags.define_export_flags()
tfd_flags.flags.adopt_module_key_flags(tfd_flags)  # list them in --help
FLAGS = tfd_flags.flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # keep TF's save/load chatter off the console
    from tfdisgan import export

    try:
        export.check_export_dir(FLAGS.out)
        view = export.load_network(FLAGS.network)
        path = export.export_saved_model(view, FLAGS.out, max_batch=FLAGS.max_batch,
                                         overwrite=FLAGS.overwrite)
    except ValueError as error:
        print(f"export: error: {error}", file=sys.stderr)
        return 2
    print(f"Exported {view.kind} ({view.resolution} px, {view.num_classes} classes) to {path}")
    print(f"Inspect: saved_model_cli show --all --dir {path}")
    return 0


if __name__ == "__main__":
    tfd_flags.run_script(main)
