"""Settings, built once by the CLI or a flow and passed down explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline import __version__

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    db_path: Path = Path("data/scrutiny.db")
    models_dir: Path = PROJECT_ROOT / "models"
    segmenter_config: Path = PROJECT_ROOT / "models" / "segmenter.cfg"
    # Upper bounds that keep one hostile file from taking a run down.
    max_file_bytes: int = 200 * 1024 * 1024
    max_html_bytes: int = 20 * 1024 * 1024
    pdf_timeout_s: float = 30.0  # at least this long per PDF ...
    pdf_seconds_per_mb: float = 20.0  # ... plus this per MB of file, so long reports get the time they need
    pdf_timeout_max_s: float = 900.0
    pdf_memory_mb: int = 2048
    batch_size: int = 64
    ocr: str = "auto"  # OCR pages without a text layer when Tesseract is installed; "off" never OCRs
    ocr_languages: str = "eng+cym"
    # the classifier: "default" (the fine-tuned encoder when the scheme has one, else TF-IDF), "fast" (TF-IDF),
    # "encoder", or a model file
    classifier: str = "default"
    workers: int = 2  # documents processed at once (threads, each with its own PDF reader process)
    software_version: str = __version__
    extra: dict = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.db_path.parent
