"""Persistence of latched faults across process restarts (a respawned supervisor must not forget an e-stop).

JSON list of fault records, written atomically (temporary file + rename) whenever the latched set changes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def load(path: Path) -> list[dict[str, Any]] | None:
    """The saved records; [] if the file does not exist; None if it exists but cannot be read or parsed."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def save(path: Path, records: list[dict[str, Any]]) -> None:
    """Write the records atomically (raises OSError when the directory is not writable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(records, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
