"""What a training run prints, and its copy in ``RUN_DIR/log.txt``.

On a terminal the run shows a progress bar (rewritten in place) and the tick lines go to
the log file only. When stdout is not a terminal (nohup, SLURM, CI, a pipe) there is no
progress bar, whose ``\\r``, ``\\b`` and colour codes make one endless line there: one plain
line per tick instead (kimg, step, losses, sec/kimg, ADA's p, memory). Every line printed
is also appended to ``log.txt`` (lines printed before the run folder exists are kept and
written when it does).
"""

import os
import sys

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


__all__ = ["Console", "TICK_FIELDS", "format_tick"]
