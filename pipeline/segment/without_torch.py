"""spaCy imported with PyTorch hidden from thinc (imported by `pipeline.segment` before anything of spaCy).

thinc imports PyTorch whenever it is installed, as the `train` extra installs it for fine-tuning. In every
process that segments that cost about 180 MB (one process: 273 against 94 MB) and a second or two of
start-up, for nothing: our pipeline has no PyTorch layers. So spaCy is imported while `import torch` fails,
unless thinc or PyTorch is already loaded (a process that fine-tunes keeps its PyTorch, and thinc then sees
it). Afterwards `import torch` works as before. While spaCy is being imported (about a second, once a
process), an `import torch` on another thread fails as well: at run time nothing of ours needs PyTorch, and
a PyTorch that another thread did import is never removed.
"""

from __future__ import annotations

import sys


def import_spacy_without_torch() -> bool:
    """Import spaCy with PyTorch hidden; False when thinc or PyTorch was already loaded (nothing hidden)."""
    if "thinc" in sys.modules or "torch" in sys.modules:
        return False
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError meanwhile
    try:
        import spacy  # noqa: F401
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:  # only the stand-in: never a real PyTorch
            del sys.modules["torch"]
    return True


import_spacy_without_torch()
