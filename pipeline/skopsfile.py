"""What a skops model file names: the classes its schema would build, read before anything is loaded."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any


def types_in(path: Path) -> set[str]:
    """Every class named in a skops file's schema (the file is a zip with a schema.json)."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def load_trusted(path: Path, trusted: list[str], error: type[Exception], what: str) -> Any:
    """Load a skops file only when every class it names is on `trusted` (skops itself would trust every
    scikit-learn estimator); a damaged, foreign or untrusted file raises `error` with the reason."""
    import skops.io as sio

    try:
        untrusted = sorted((types_in(path) | set(sio.get_untrusted_types(file=path))) - set(trusted))
        if untrusted:
            raise error(f"{path}: refusing to load types that {what} never contains: {', '.join(untrusted)}")
        return sio.load(path, trusted=trusted)
    except error:
        raise
    except Exception as exc:  # skops raises many kinds on a damaged or foreign file
        raise error(f"{path}: not a readable skops model ({type(exc).__name__}: {exc})") from None
