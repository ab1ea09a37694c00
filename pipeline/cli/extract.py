"""`scrutiny statements` and `scrutiny documents`: extract and segment files, one JSON line each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from pipeline.cli.common import emit, meta_arg, warn
from pipeline.config import Settings
from pipeline.errors import PipelineError
from pipeline.records import Source


def _documents(paths: list[str], meta: dict[str, Any], settings: Settings) -> Iterator[tuple[Source, Any]]:
    """Extract each path (or standard input for '-'); yields (source, Document or error message)."""
    from pipeline.extract import extract, extract_bytes
    from pipeline.run.inputs import discover

    for source in discover([p for p in paths if p != "-"], meta) if paths != ["-"] else []:
        try:
            yield source, extract(source, settings)
        except PipelineError as exc:
            yield source, str(exc)
    if "-" in paths:
        source = Source("-", meta)
        try:
            yield source, extract_bytes(sys.stdin.buffer.read(), source, settings)
        except PipelineError as exc:
            yield source, str(exc)


def cmd_statements(args: argparse.Namespace) -> int:
    from pipeline.segment import segment

    settings = Settings(extra={"trained_pipeline": args.trained_pipeline} if args.trained_pipeline else {})
    ok = bad = 0
    for source, doc in _documents(args.paths, meta_arg(args.meta), settings):
        if isinstance(doc, str):
            bad += 1
            warn(f"{source.path}: {doc}")
            emit({"source_path": source.path, "error": doc})
            continue
        ok += 1
        for note in doc.notes:
            warn(f"{source.path}: {note}")
        ocr_pages = set(doc.ocr_pages)
        for s in (s for part in _parts(doc, source) for s in segment(part, settings)):
            emit(
                {
                    "document_id": s.document_id,
                    "source_path": source.path,
                    "seq": s.seq,
                    "text": s.text,
                    "page": s.page,
                    "char_start": s.char_start,
                    "char_end": s.char_end,
                    "heading": s.heading,
                    "kind": s.kind,
                    "speaker": s.speaker,
                    "language": s.language,
                    "ocr": s.page in ocr_pages,
                    "entities": [
                        {
                            "label": e.label,
                            "text": e.text,
                            "char_start": e.char_start,
                            "char_end": e.char_end,
                            "value": e.value,
                            "roles": list(e.roles),
                        }
                        for e in s.entities
                    ],
                }
            )
    return 1 if bad and not ok else 0


def cmd_documents(args: argparse.Namespace) -> int:
    settings = Settings()
    ok = bad = 0
    for source, doc in _documents(args.paths, meta_arg(args.meta), settings):
        if isinstance(doc, str):
            bad += 1
            warn(f"{source.path}: {doc}")
            emit(
                {
                    "document_id": None,
                    "source_path": source.path,
                    "title": None,
                    "publisher": None,
                    "doc_type": None,
                    "local_authority": None,
                    "service": None,
                    "published": None,
                    "date_evidence": None,
                    "language": None,
                    "pages": None,
                    "error": doc,
                }
            )
            continue
        ok += 1
        for part in _parts(doc, source):  # a bilingual file gives one line per language
            m = part.metadata
            emit(
                {
                    "document_id": part.id,
                    "source_path": source.path,
                    "title": m.title,
                    "publisher": m.publisher,
                    "doc_type": m.doc_type,
                    "local_authority": m.local_authority,
                    "service": m.service,
                    "published": m.published,
                    "date_evidence": m.date_evidence,
                    "language": m.language,
                    "pages": part.page_count,
                    "error": None,
                    "format": part.format,
                    "byline": m.byline,
                    "url": m.url,
                    "ocr_pages": list(part.ocr_pages),
                    "notes": list(part.notes),
                    "part_of": part.part_of,
                }
            )
    return 1 if bad and not ok else 0


def _parts(doc, source):
    """The document's language parts: itself, or its English and Welsh parts when it is bilingual."""
    from pipeline.extract.bilingual import split_languages

    return split_languages(doc, source.meta.get("language"))


def add_commands(sub: Any) -> None:
    p = sub.add_parser("statements", help="extract and segment documents; one JSON line per statement")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or manifests ('-' reads standard input)")
    p.add_argument("--meta", help="known metadata as a JSON object (wins over inferred values)")
    p.add_argument(
        "--trained-pipeline",
        metavar="NAME_OR_PATH",
        help="also use an installed trained spaCy pipeline's entities (the default needs none)",
    )
    p.set_defaults(func=cmd_statements)

    p = sub.add_parser("documents", help="extract documents and infer their metadata; one JSON line per document")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or manifests ('-' reads standard input)")
    p.add_argument("--meta", help="known metadata as a JSON object (wins over inferred values)")
    p.set_defaults(func=cmd_documents)
