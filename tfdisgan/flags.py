"""absl flag definitions shared by the scripts, and their validation.

Each script calls the `define_*` functions it needs before `app.run`; a flagfile is a list
of `--name=value` lines (`--flagfile=configs/earthquake.cfg`), and flags given on the command
line after it override the file. Validation raises `app.UsageError` naming the flag, before
any work starts.
"""

from absl import flags


def define_dataset_tool_flags():
    """Flags of scripts/dataset_tool.py."""
    flags.DEFINE_string(
        "source", None, "Image folder (one sub-folder per class, or flat) or procedural:N."
    )
    flags.DEFINE_string("dest", None, "Output dataset folder (TFRecord shards + manifest.json).")
    flags.DEFINE_integer("resolution", 256, "Side of the square output images, in pixels.")
    flags.DEFINE_enum(
        "crop", "center", ["center", "pad", "stretch"],
        "center: scale the short side and crop the middle; pad: fit the long side and pad; "
        "stretch: ignore the aspect ratio.",
    )
    flags.DEFINE_integer(
        "min_size", None, "Reject images whose side is below this (default: resolution // 2)."
    )
    flags.DEFINE_enum(
        "background", "white", ["white", "black"], "Colour behind transparency and padding."
    )
    flags.DEFINE_integer("shards", None, "Number of shard files (default: ~150 MB each).")
    flags.DEFINE_enum(
        "encoding", "raw", ["raw", "png"], "raw uint8 (fastest reader) or PNG (smaller)."
    )
    flags.DEFINE_boolean("overwrite", False, "Replace --dest if it exists.")
    flags.DEFINE_integer("workers", None, "Decoding processes (default: all cores).")
    flags.DEFINE_integer("seed", 0, "Seed of the shard assignment and of procedural scenes.")
    flags.mark_flags_as_required(["source", "dest"])
