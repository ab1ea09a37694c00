"""Label schemes, loaded from TOML files in models/taxonomy/.

A scheme is data: its codes, names, descriptions and rules of thumb live in one
file (`models/taxonomy/<scheme>.toml`), from which the classifier, the model
card's table and the descriptions published with predictions are made. Adding
a scheme is adding a file; no code changes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.config import PROJECT_ROOT
from pipeline.errors import PipelineError

DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
SCHEME_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class TaxonomyError(PipelineError):
    """A scheme that does not exist, or a taxonomy file that is malformed."""

    stage = "classify"


@dataclass(frozen=True)
class Label:
    """One label of a scheme."""

    code: str
    name: str
    description: str
    includes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """A label scheme: its labels, what 'none' means, and its rules of thumb."""

    scheme: str
    version: str
    title: str
    description: str
    labels: tuple[Label, ...]
    none: str
    rules: tuple[str, ...]
    data: str | None  # folder of labelled statements, relative to the project root
    source: str = ""
    multi_label: bool = True

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(label.code for label in self.labels)

    @property
    def id(self) -> str:
        """The scheme and its version, as recorded with a model: 'areas@1'."""
        return f"{self.scheme}@{self.version}"

    def label(self, code: str) -> Label:
        for label in self.labels:
            if label.code == code:
                return label
        raise KeyError(code)

    def unknown_codes(self, codes: Iterable[str]) -> list[str]:
        """The codes that are not labels of this scheme, in the order given."""
        known = set(self.codes)
        return [c for c in codes if c not in known]

    def data_dir(self, project_root: Path = PROJECT_ROOT) -> Path | None:
        return project_root / self.data if self.data else None


def taxonomy_path(scheme: str, models_dir: Path = DEFAULT_MODELS_DIR) -> Path:
    return Path(models_dir) / "taxonomy" / f"{scheme}.toml"


def available_schemes(models_dir: Path = DEFAULT_MODELS_DIR) -> list[str]:
    """The schemes that have a taxonomy file, sorted by name."""
    return sorted(p.stem for p in (Path(models_dir) / "taxonomy").glob("*.toml"))


@lru_cache(maxsize=16)
def load_taxonomy(scheme: str = "areas", models_dir: Path = DEFAULT_MODELS_DIR) -> Taxonomy:
    """Read and check the taxonomy file of `scheme` (cached per scheme and folder)."""
    if not SCHEME_NAME.match(scheme):
        raise TaxonomyError(f"invalid scheme name {scheme!r}: use lower-case letters, digits and underscores")
    path = taxonomy_path(scheme, models_dir)
    if not path.is_file():
        known = ", ".join(available_schemes(models_dir)) or "none"
        raise TaxonomyError(f"no taxonomy file for scheme {scheme!r} at {path} (known schemes: {known})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{path}: not valid TOML: {exc}") from None
    return _parse(raw, scheme, path)


def _parse(raw: dict[str, Any], scheme: str, path: Path) -> Taxonomy:
    def need(table: dict[str, Any], key: str, where: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise TaxonomyError(f"{path}: {where} needs a non-empty string '{key}'")
        return value.strip()

    def strings(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TaxonomyError(f"{path}: {where} '{key}' must be a list of strings")
        return tuple(value)

    if raw.get("scheme") != scheme:
        raise TaxonomyError(f"{path}: 'scheme' must be {scheme!r}, the file's name, not {raw.get('scheme')!r}")
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise TaxonomyError(f"{path}: 'version' must be a non-empty string, such as \"1\"")
    entries = raw.get("labels")
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{path}: a scheme needs at least one [[labels]] table")
    labels = []
    for i, entry in enumerate(entries, 1):
        where = f"label {i}"
        code = need(entry, "code", where)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", code):
            raise TaxonomyError(f"{path}: {where}: code {code!r} must be a letter followed by letters, digits, - or _")
        labels.append(
            Label(
                code=code,
                name=need(entry, "name", f"label {code}"),
                description=need(entry, "description", f"label {code}"),
                includes=strings(entry, "includes", f"label {code}"),
                rules=strings(entry, "rules", f"label {code}"),
            )
        )
    codes = [label.code for label in labels]
    if len(set(codes)) != len(codes):
        raise TaxonomyError(f"{path}: label codes must be unique, got {codes}")
    data = raw.get("data")
    if data is not None and not isinstance(data, str):
        raise TaxonomyError(f"{path}: 'data' must be a folder path relative to the project root")
    return Taxonomy(
        scheme=scheme,
        version=version,
        title=need(raw, "title", "the scheme"),
        description=need(raw, "description", "the scheme"),
        labels=tuple(labels),
        none=need(raw, "none", "the scheme"),
        rules=strings(raw, "rules", "the scheme"),
        data=data,
        source=str(raw.get("source", "")),
        multi_label=bool(raw.get("multi_label", True)),
    )


def markdown_table(taxonomy: Taxonomy) -> str:
    """The scheme as a Markdown table (code, name, what it covers), for READMEs and model cards."""
    rows = ["| Code | Area | What it covers |", "| --- | --- | --- |"]
    for label in taxonomy.labels:
        covers = "; ".join(label.includes) or label.description
        rows.append(f"| {label.code} | {label.name} | {label.description} {_cap(covers)}. |")
    rows.append(f"| (none) | No area | {taxonomy.none} |")
    return "\n".join(rows)


def describe(taxonomy: Taxonomy) -> dict[str, str]:
    """One line per code ('A: Leadership, ... - Who steers ...'), e.g. for Datasette column descriptions."""
    return {label.code: f"{label.name}: {label.description}" for label in taxonomy.labels}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
