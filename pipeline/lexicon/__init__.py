"""Domain vocabulary as data and its lookups: councils, services, dates, taxonomy, language."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
