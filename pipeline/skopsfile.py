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
