"""Test helper: what a user's files hold, to show that a failed run left them untouched."""
import os
from typing import Dict, Tuple


def snapshot(root: str) -> Dict[str, Tuple[int, int, bytes]]:
    """Relative path -> (size, mtime, bytes) of every file under ``root``."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = (os.path.getsize(path),
                                                      os.stat(path).st_mtime_ns, f.read())
    return found
