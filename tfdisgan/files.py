"""Atomic file writes (a reader sees the old file or the new one, never half of one) and
JSON-lines reads."""

import json
import os


def write_atomic(path, text):
    """Writes `text` (str, UTF-8) to `path` through a temporary file and a rename."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_json(path, value):
    """`write_atomic` of `value` as indented JSON (non-ASCII kept: Unicode class names)."""
    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False))


def read_jsonl(path):
    """The JSON lines of `path` (a run's log.jsonl, the official stats.jsonl) as a list, blank
    lines skipped.

    Raises:
        ValueError: a line that is not JSON, naming the file and line.
    """
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON line ({error})") from None
    return rows
