"""The run folder on disk: finding its checkpoints, telling a damaged one, naming files.

What every loader of a trained network shares (``tfdisgan.export.load_network`` behind the
scripts' ``--network``, ``--transfer_from``): the list of checkpoints of a run folder, whether
a checkpoint reads back whole (`checkpoint_problem`: the ``.index`` and every tensor of the
data shards are read, as a restore does; file sizes are not trusted), the readable ones to
offer instead of a damaged one (`alternatives_hint`), and a one-line account of a file that
is not a network at all (`describe_non_network`: a pickle, a ``.npz``, a text file, one file
of a checkpoint). Messages are one line and name the file and the flag.

Example:
    >>> checkpoint_problem("runs/00003-fire/checkpoints/ckpt-12")
    'runs/00003-fire/checkpoints/ckpt-12.data-00000-of-00001 is unreadable (truncated?)'
    >>> alternatives_hint("runs/00003-fire/checkpoints", bad="runs/00003-fire/checkpoints/ckpt-12")
    '; older readable checkpoints in runs/00003-fire/checkpoints: ckpt-11, ckpt-10 (e.g. ...).'
"""

import contextlib
import glob
import logging
import os
import re

import tensorflow as tf

from tfdisgan.files import write_json

# What a stylegan2-ada-pytorch pickle is to --network (which takes converted networks).
PYTORCH_PICKLE = ("a stylegan2-ada-pytorch pickle: convert it once (no torch needed) with "
                  "`python scripts/import_nvidia.py --source=PKL --out=DIR`")


def find_run_dir(start):
    """The run folder holding ``config.json`` at or above ``start`` (3 levels at most)."""
    path = os.path.abspath(start)
    for _ in range(4):
        if os.path.isfile(os.path.join(path, "config.json")):
            return path
        path = os.path.dirname(path)
    return None


# What ``--network`` accepts (the scripts' error messages list it).
NETWORK_FORMS = ("a run folder (its newest checkpoint; RUN@KIMG: the checkpoint nearest "
                 "KIMG), a checkpoint prefix (RUN/checkpoints/ckpt-N), an exported "
                 "SavedModel (MODEL/VERSION, or MODEL for its newest version) or a folder "
                 "written by scripts/import_nvidia.py")
# What reading a damaged checkpoint raises: TensorFlow's status errors (DataLossError for a
# checksum, NotFoundError for a missing shard, ...), IndexError for a short read ("Read less
# bytes than requested", from the reader's C++ OUT_OF_RANGE) and ValueError for a bad path.
CHECKPOINT_ERRORS = (tf.errors.OpError, IndexError, ValueError)


@contextlib.contextmanager
def quiet_tf_logs():
    """Silences TensorFlow's Python logger: after a failed restore its warnings (unrestored
    values, unmatched files) would otherwise print after the one-line error."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def one_line(error, limit=200):
    """An exception's text on one line (TensorFlow's function-node prefix dropped), cut."""
    text = " ".join(str(error).split())
    text = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", text)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def checkpoint_number(prefix):
    """N of a ``.../ckpt-N`` prefix (-1 for another name)."""
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def checkpoint_prefixes(folder):
    """Prefixes of the checkpoints in ``folder`` (one per ``.index`` file), newest first."""
    if not os.path.isdir(folder):
        return []
    prefixes = [os.path.join(folder, name[: -len(".index")]) for name in os.listdir(folder)
                if name.endswith(".index")]
    return sorted(prefixes, key=lambda p: (checkpoint_number(p), p), reverse=True)


# The kimg index of a run's checkpoints (written by callbacks.CheckpointSaver at every save).
INDEX = "index.json"


def write_index(folder, batch_size):
    """Writes ``folder/index.json``: each kept checkpoint (the ``checkpoint`` state file's
    list, oldest first) with its step and kimg (``ckpt-N`` holds step N, N * batch / 1000
    kimg), and the latest. What ``RUN@KIMG`` picks from, readable without TensorFlow."""
    state = tf.train.get_checkpoint_state(folder)
    paths = list(state.all_model_checkpoint_paths) if state else []
    entries = [{"name": os.path.basename(p), "step": checkpoint_number(p),
                "kimg": round(checkpoint_number(p) * batch_size / 1000.0, 3)}
               for p in paths if checkpoint_number(p) >= 0]
    latest = os.path.basename(state.model_checkpoint_path) if state else None
    write_json(os.path.join(folder, INDEX), {"batch": int(batch_size), "latest": latest,
                                             "checkpoints": entries})


def set_aside_after(prefix, logs=()):
    """Moves the checkpoints of ``prefix``'s folder newer than ``prefix`` (and copies of the
    `logs` files) into ``FOLDER/after-ckpt-N/``, and rewrites the ``checkpoint`` state file
    to end at ``prefix``: a resume from an earlier checkpoint (``--resume=RUN@KIMG``)
    continues from it and deletes nothing (the later branch stays readable there).

    Returns:
        The folder they were moved to, or None when nothing was newer.
    """
    folder, number = os.path.dirname(prefix), checkpoint_number(prefix)
    newer = [p for p in checkpoint_prefixes(folder) if checkpoint_number(p) > number]
    if not newer:
        return None
    aside = os.path.join(folder, f"after-{os.path.basename(prefix)}")
    suffix = 1
    while os.path.exists(aside if suffix == 1 else f"{aside}-{suffix}"):
        suffix += 1
    aside = aside if suffix == 1 else f"{aside}-{suffix}"
    os.makedirs(aside)
    for log in logs:
        if os.path.isfile(log):
            with open(log, "rb") as source, open(
                    os.path.join(aside, os.path.basename(log)), "wb") as copy:
                copy.write(source.read())
    for path in newer:
        for name in glob.glob(f"{glob.escape(path)}.*"):
            os.replace(name, os.path.join(aside, os.path.basename(name)))
    state = tf.train.get_checkpoint_state(folder)
    kept = [os.path.basename(p) for p in (state.all_model_checkpoint_paths if state else [])
            if checkpoint_number(p) <= number]
    name = os.path.basename(prefix)  # relative, as CheckpointManager writes them
    tf.compat.v1.train.update_checkpoint_state(folder, name, kept or [name])
    return aside


def _data_files(prefix):
    shards = sorted(glob.glob(f"{glob.escape(prefix)}.data-*"))
    return shards[0] if len(shards) == 1 else f"{prefix}.data-*"


def checkpoint_problem(prefix):
    """What makes checkpoint ``prefix`` unreadable, or None when all of it reads back.

    Opens the ``.index`` and reads every tensor from the data shards, as a restore does
    (TensorFlow checks each tensor's length and checksum), so a truncated, damaged or missing
    file shows; file sizes are not trusted.

    Args:
        prefix: str, a checkpoint prefix (``RUN/checkpoints/ckpt-12``).

    Returns:
        None, or one line naming the bad file, e.g.
        ``"RUN/checkpoints/ckpt-3.data-00000-of-00001 is unreadable (truncated?)"``.
    """
    index = f"{prefix}.index"
    if not os.path.isfile(index):
        return f"{index} is missing"
    with quiet_tf_logs():
        try:
            reader = tf.train.load_checkpoint(prefix)
        except CHECKPOINT_ERRORS as error:
            return f"{index} is unreadable (damaged?: {one_line(error)})"
        try:
            for name in sorted(reader.get_variable_to_shape_map()):
                reader.get_tensor(name)
        except CHECKPOINT_ERRORS as error:
            text = one_line(error)
            data = _data_files(prefix)
            if "sstable" in text or ".index" in text:
                return f"{index} is unreadable (damaged?: {text})"
            if isinstance(error, tf.errors.NotFoundError) or "No such file" in text:
                named = re.search(r"[^\s;']*\.data-\d+-of-\d+", text)
                return f"{named.group(0) if named else data} is missing"
            if isinstance(error, IndexError) or "less bytes" in text:
                return f"{data} is unreadable (truncated?)"
            if "Checksum does not match" in text:
                return f"{data} is unreadable (damaged: checksum mismatch)"
            return f"{data} is unreadable ({text})"
    return None


def alternatives_hint(folder, bad=None, flag="--network"):
    """The readable checkpoints beside a bad one, as the tail of an error message.

    Args:
        folder: str, the checkpoints folder.
        bad: str or None, the prefix that failed (left out of the list).
        flag: str, the flag to suggest them for.

    Returns:
        str, e.g. ``"; older readable checkpoints in DIR: ckpt-2, ckpt-1 (e.g.
        --network=DIR/ckpt-2)."``, or ``"; no other readable checkpoint in DIR."``.
    """
    skip = os.path.normpath(bad) if bad is not None else None
    others = [p for p in checkpoint_prefixes(folder)
              if os.path.normpath(p) != skip and checkpoint_problem(p) is None]
    if not others:
        return f"; no {'other ' if bad is not None else ''}readable checkpoint in {folder}."
    if bad is None:
        which = ""
    elif all(checkpoint_number(p) < checkpoint_number(bad) for p in others):
        which = "older "
    else:
        which = "other "
    names = ", ".join(os.path.basename(p) for p in others)
    return f"; {which}readable checkpoints in {folder}: {names} (e.g. {flag}={others[0]})."


def _is_text(head):
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut at the end of the sample is fine
        return error.start >= len(head) - 3
    return True


def describe_non_network(path, flag="--network", accepts=NETWORK_FORMS):
    """Why the file ``path`` is not a network, and what to pass instead (one line).

    Args:
        path: str, an existing file that is not a checkpoint prefix.
        flag: str, the flag it was given as (named in the message).
        accepts: str, what the flag takes (listed for unknown and text files).

    Returns:
        str, e.g. for a pickle: ``"--network 'x.pkl' is a pickle: convert NVIDIA's TF1
        StyleGAN2 pickles with `python scripts/import_nvidia.py --source=x.pkl --out=DIR`
        first, then pass --network=DIR."``
    """
    name = os.path.basename(path)
    lower = name.lower()
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    checkpoint = re.fullmatch(r"(.*)\.(index|data-\d+-of-\d+)", path)
    if checkpoint and os.path.isfile(f"{checkpoint.group(1)}.index"):
        return (f"{flag} {path!r} is one file of the checkpoint {checkpoint.group(1)!r}: pass "
                f"the prefix, {flag}={checkpoint.group(1)}")
    if name == "saved_model.pb":
        return (f"{flag} {path!r} is the graph of a SavedModel: pass its folder, "
                f"{flag}={os.path.dirname(path) or '.'}")
    if lower.endswith((".pt", ".pth")) or b"torch_utils.persistence" in head or \
            b"torch._utils" in head:
        return f"{flag} {path!r} is {PYTORCH_PICKLE}, then pass {flag}=DIR."
    if lower.endswith((".pkl", ".pickle")) or (head[:1] == b"\x80" and head[1:2] in
                                                b"\x02\x03\x04\x05"):
        return (f"{flag} {path!r} is a pickle: convert NVIDIA's StyleGAN2 pickles (TF1 or "
                f"stylegan2-ada-pytorch) with `python scripts/import_nvidia.py --source={path} "
                f"--out=DIR` first, then pass {flag}=DIR.")
    if lower.endswith(".npz") or head[:4] == b"PK\x03\x04":
        return (f"{flag} {path!r} is a .npz (or zip) of weights: only --transfer_from reads "
                "weights files (a .npz written by tfdisgan.transfer.save_npz or "
                f"scripts/import_nvidia.py --format=npz); {flag} takes {accepts}.")
    if not head:
        return f"{flag} {path!r} is an empty file; {flag} takes {accepts}."
    what = "a text file" if _is_text(head) else "a file of unknown format"
    message = f"{flag} {path!r} is {what}, not a run folder, checkpoint or SavedModel; " \
              f"{flag} takes {accepts}"
    folder = os.path.dirname(path) or "."
    run_dir = find_run_dir(folder)
    if run_dir is not None:
        run_dir = folder if run_dir == os.path.abspath(folder) else run_dir
        message += f". It lies in the run folder {run_dir!r}: pass {flag}={run_dir}"
    return f"{message}."


__all__ = [
    "CHECKPOINT_ERRORS",
    "NETWORK_FORMS",
    "PYTORCH_PICKLE",
    "alternatives_hint",
    "checkpoint_prefixes",
    "checkpoint_problem",
    "describe_non_network",
    "find_run_dir",
    "one_line",
    "quiet_tf_logs",
]
