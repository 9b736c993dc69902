"""What a training run prints, and its copy in ``RUN_DIR/log.txt``.

On a terminal the run shows a progress bar (rewritten in place) and the tick lines go to
the log file only. When stdout is not a terminal (nohup, SLURM, CI, a pipe) there is no
progress bar, whose ``\\r``, ``\\b`` and colour codes make one endless line there: one plain
line per tick instead (kimg, step, losses, sec/kimg, ADA's p, memory). Every line printed
is also appended to ``log.txt`` (lines printed before the run folder exists are kept and
written when it does).
"""

import os
import re
import sys
import tempfile
import time
import unicodedata

# The tick line: (log key, label, format), in this order, where present.
TICK_FIELDS = (
    ("d_loss", "d_loss", "{:.4f}"),
    ("g_loss", "g_loss", "{:.4f}"),
    ("r1", "r1", "{:.4g}"),
    ("pl_penalty", "pl", "{:.4g}"),
    ("aug_p", "aug_p", "{:.3f}"),
    ("sec_per_kimg", "sec/kimg", "{:.1f}"),
    ("img_per_s", "img/s", "{:.1f}"),
    ("host_peak_mb", "host_mb", "{:.0f}"),
    ("device_peak_mb", "gpu_mb", "{:.0f}"),
)


def format_tick(entry, total_steps):
    """One tick's log entry (a ``log.jsonl`` line) as a plain console line."""
    parts = [f"kimg {entry['kimg']:.3f}", f"step {entry['step']}/{total_steps}"]
    for key, label, fmt in TICK_FIELDS:
        if key in entry:
            parts.append(f"{label} {fmt.format(entry[key])}")
    return "  ".join(parts)


class Console:
    """The run's console: ``print`` to stdout and ``log.txt``; ``tick`` lines.

    Args:
        enabled: bool, print to the stream (False: nothing is printed or written).
        stream: the text stream (default ``sys.stdout``).
    """

    def __init__(self, enabled=True, stream=None):
        self.enabled = bool(enabled)
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self._pending, self._file = [], None

    def attach(self, run_dir):
        """Copies every line from now on (and the ones before) to ``RUN_DIR/log.txt``."""
        if not self.enabled:
            return
        self._file = open(os.path.join(run_dir, "log.txt"), "a", encoding="utf-8")
        for line in self._pending:
            self._file.write(line + "\n")
        self._pending = []
        self._file.flush()

    def print(self, text="", file_only=False):
        """Prints ``text`` (one or more lines) and copies it to ``log.txt``."""
        if not self.enabled:
            return
        if not file_only:
            print(text, file=self.stream, flush=True)
        for line in str(text).splitlines() or [""]:
            if self._file is None:
                self._pending.append(line)
            else:
                self._file.write(line + "\n")
        if self._file is not None:
            self._file.flush()

    def tick(self, entry, total_steps):
        """A tick's line: printed when stdout is not a terminal (the progress bar shows
        the run there), always copied to ``log.txt``."""
        self.print(format_tick(entry, total_steps), file_only=self.interactive)

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def display_width(text):
    """Terminal columns of ``text`` (as NFC: a macOS NFD name composes first): wide (CJK,
    e.g. 건물화재) characters take two, combining marks none."""
    text = unicodedata.normalize("NFC", str(text))
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text, width, align="<"):
    """``text`` padded with spaces to ``width`` terminal columns (``"<"`` or ``">"``)."""
    fill = " " * max(0, width - display_width(text))
    return f"{text}{fill}" if align == "<" else f"{fill}{text}"


class Progress:
    """The one progress display (dataset tool, metrics): on a terminal a bar rewritten in
    place; otherwise a plain line at each tenth of the way and at the end, without control
    characters.

    Args:
        total: int, the count that means done.
        label: str, what is counted ("images", "fakes").
        stream: the text stream (default ``sys.stderr``).
    """

    def __init__(self, total, label, stream=None):
        self.total, self.label = max(int(total), 0), label
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self.started, self._next = time.time(), 0

    def update(self, done, extra=""):
        """Shows ``done`` of ``total`` (``extra``: more of the same line, e.g. "12 kept")."""
        rate = done / max(time.time() - self.started, 1e-9)
        eta = (self.total - done) / max(rate, 1e-9)
        text = f"{done}/{self.total} {self.label}{', ' + extra if extra else ''}, " \
               f"{rate:.1f}/s, ETA {eta:.0f}s"
        if self.interactive:
            bar = "#" * int(30 * done / max(self.total, 1))
            self.stream.write(f"\r[{bar:<30}] {text}" + ("\n" if done >= self.total else ""))
        elif done >= self.total or done >= self._next:
            self.stream.write(text + "\n")
            self._next = done + max(1, self.total // 10)
        self.stream.flush()


# TensorFlow's start-up lines that say nothing is wrong (checked on GPU-less CPU machines,
# TF 2.21): absl's notice that it logs to stderr, CUDA's stub and driver probes when no GPU
# is there, the CPU feature notice, and oneDNN's notice that its kernels are on (printed
# before logging starts, so TF_CPP_MIN_LOG_LEVEL does not hide it; on CPUs with AVX-512).
# `import_tensorflow` drops exactly these.
HARMLESS_STARTUP = (
    re.compile(r"All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"cudart_stub\.cc.*Could not find cuda drivers"),
    re.compile(r"cpu_feature_guard\.cc|To enable the following instructions"),
    re.compile(r"port\.cc.*oneDNN custom operations are on"),
)
# Harmless only when TensorFlow then finds no GPU (else a real driver problem).
HARMLESS_WITHOUT_GPU = (re.compile(r"cuda_platform\.cc.*failed call to cuInit"),
                        re.compile(r"cuda_diagnostics|kernel driver does not appear"))


def import_tensorflow():
    """Imports TensorFlow (and finds its devices) with its known-harmless start-up lines
    removed from stderr; every other line it prints is passed on, so a real problem (a
    missing CUDA library on a GPU machine) still shows. Sets ``TF_CPP_MIN_LOG_LEVEL=2``
    unless it is set. The scripts call it before their first TensorFlow import.

    Returns:
        The ``tensorflow`` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved, gpus = os.dup(2), None
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", "replace").splitlines()
            patterns = HARMLESS_STARTUP + (HARMLESS_WITHOUT_GPU if gpus == [] else ())
            kept = [line for line in lines if not any(p.search(line) for p in patterns)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()
    return tf


__all__ = ["Console", "HARMLESS_STARTUP", "Progress", "TICK_FIELDS", "display_width",
           "format_tick", "import_tensorflow", "pad"]
