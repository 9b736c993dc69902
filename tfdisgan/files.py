"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

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
