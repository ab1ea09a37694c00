"""Segmenting does not load PyTorch, even where it is installed (the `train` extra).

thinc imports PyTorch whenever it can; a stand-in `torch` package first on the path shows whether anything
imported it. Each case runs in a fresh interpreter, since this test process has imported spaCy long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from pipeline.config import PROJECT_ROOT


def run_with_stand_in_torch(tmp_path: Path, script: str) -> str:
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("STAND_IN = True\n__version__ = '0.0.0'\n")
    prelude = f"import sys\nsys.path.insert(0, {str(tmp_path / 'site')!r})\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_segmenting_never_imports_torch_and_torch_still_imports_afterwards(tmp_path: Path) -> None:
    out = run_with_stand_in_torch(
        tmp_path,
        """
        from pipeline.config import Settings
        from pipeline.segment import load_nlp
        settings = Settings()
        nlp = load_nlp(settings.segmenter_config)
        print("after segmenting:", "torch" in sys.modules, len(list(nlp("The council must act. It has not.").sents)))
        import torch
        print("then:", torch.STAND_IN)
        """,
    )
    assert "after segmenting: False 2" in out
    assert "then: True" in out


def test_a_process_that_loaded_torch_first_keeps_it(tmp_path: Path) -> None:
    out = run_with_stand_in_torch(
        tmp_path,
        """
        import torch
        import pipeline.segment
        print("kept:", sys.modules["torch"] is torch)
        """,
    )
    assert "kept: True" in out


def test_nothing_is_hidden_when_thinc_came_first(tmp_path: Path) -> None:
    out = run_with_stand_in_torch(
        tmp_path,
        """
        import thinc.api  # thinc first: it has made up its mind about PyTorch already
        from pipeline.segment.without_torch import import_spacy_without_torch
        print("hid:", import_spacy_without_torch(), "torch" in sys.modules and sys.modules["torch"] is None)
        """,
    )
    assert "hid: False False" in out


def test_a_real_torch_imported_meanwhile_is_never_removed(tmp_path: Path) -> None:
    out = run_with_stand_in_torch(
        tmp_path,
        """
        import builtins
        import importlib
        real_import = builtins.__import__

        def spacy_meanwhile_imports_torch(name, *args, **kwargs):
            if name == "spacy" and sys.modules.get("torch", 0) is None:
                del sys.modules["torch"]  # as another thread's import would replace the stand-in
                importlib.import_module("torch")
            return real_import(name, *args, **kwargs)

        builtins.__import__ = spacy_meanwhile_imports_torch
        from pipeline.segment.without_torch import import_spacy_without_torch
        import_spacy_without_torch()
        builtins.__import__ = real_import
        print("kept:", getattr(sys.modules.get("torch"), "STAND_IN", None))
        """,
    )
    assert "kept: True" in out
