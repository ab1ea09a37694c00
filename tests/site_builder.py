"""A small site for the publishing tests: real documents (PDFs made with reportlab, a hostile text file),
extracted, segmented and stored by the pipeline; labels and concerns written through the store.

Labels and concerns are set by hand (not by the classifier or the linker) so the tests know exactly
what each page must show. One document carries `<script>` and `onerror=` in its title and text, and
a `javascript:` address, which every page must show harmlessly.
"""

from __future__ import annotations

from pathlib import Path

from builders import make_pdf

GLANMOR = "Glanmor County Council"
AFONWY = "Afonwy County Borough Council"
HOSTILE_TITLE = '<script>alert("title")</script> Gazette'
HOSTILE_LABEL = "Agency staff <img src=x onerror=alert(1)> still high"
WORKFORCE = "glanmor-workforce"
RESOLVED = "glanmor-supervision"
AFONWY_CONCERN = "afonwy-waiting"


def _pdfs(folder: Path) -> list[tuple[Path, dict]]:
    first = make_pdf(
        folder / "glanmor-2017.pdf",
        [
            [
                ("h1", "Inspection of children's services"),
                ("p", "Leadership of children's services has been unstable for two years."),
                ("p", "Supervision of social workers was irregular and rarely recorded."),
            ],
            [
                ("h2", "Recommendations"),
                ("li", "The council must recruit and retain enough permanent social workers."),
                ("li", "Managers must make sure that supervision takes place every month."),
            ],
        ],
    )
    second = make_pdf(
        folder / "glanmor-2018.pdf",
        [
            [
                ("h1", "Follow-up inspection of children's services"),
                ("p", "The leadership team is now stable and has a clear plan."),
            ],
            [
                ("h2", "Workforce"),
                ("p", "The council still relies on agency social workers in most teams."),
                ("p", "Monthly supervision now takes place and is recorded."),
            ],
        ],
    )
    meta = {"doc_type": "inspection_report", "local_authority": GLANMOR, "service": "children", "language": "en"}
    return [
        (
            first,
            {
                **meta,
                "title": "Inspection of Children's Services 2017",
                "published": "2017-10-12",
                "url": "https://example.org/reports/glanmor-2017.pdf",
            },
        ),
        (
            second,
            {
                **meta,
                "title": "Follow-up Inspection 2018",
                "published": "2018-11-08",
                "url": "https://example.org/reports/glanmor-2018.pdf",
            },
        ),
    ]


def _texts(folder: Path) -> list[tuple[Path, dict]]:
    hostile = folder / "gazette.txt"
    hostile.write_text(
        "Councillors discussed agency social workers at length.\n\n"
        "A reader wrote <script>alert('x')</script> in the comments.\n\n"
        'Another pasted <img src=x onerror="alert(2)"> into the page.\n',
        encoding="utf-8",
    )
    afonwy = folder / "afonwy.txt"
    afonwy.write_text(
        "Hundreds of people are waiting for an assessment of their care needs.\n\n"
        "The committee asked for a plan to reduce the waiting list.\n",
        encoding="utf-8",
    )
    return [
        (
            hostile,
            {
                "title": HOSTILE_TITLE,
                "doc_type": "news",
                "local_authority": GLANMOR,
                "service": "children",
                "published": "2018-11-09",
                "language": "en",
                "url": "javascript:alert(3)",
            },
        ),
        (
            afonwy,
            {
                "title": "Scrutiny committee minutes",
                "doc_type": "council_minutes",
                "local_authority": AFONWY,
                "service": "adults",
                "published": "2019-03-14",
                "language": "en",
            },
        ),
    ]


def _labels(text: str) -> tuple[str, ...]:
    """Hand-set areas: a fixed rule, so tests can count them."""
    rules = (("A", "leader"), ("B", "assessment"), ("C", "social worker"), ("D", "supervision"))
    return tuple(code for code, word in rules if word in text.lower())


def build_site_db(folder: Path) -> Path:
    """Ingest the documents into folder/scrutiny.db and return its path."""
    from pipeline import recur, store
    from pipeline.config import Settings
    from pipeline.extract import extract
    from pipeline.records import Prediction, Source
    from pipeline.segment import segment

    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(db_path=folder / "scrutiny.db", pdf_timeout_s=60)
    db = store.open_db(settings.db_path)
    store.start_run(db, "r1", 4, "test")
    stored = {}
    for path, meta in _pdfs(folder) + _texts(folder):
        doc = extract(Source(str(path), meta), settings)
        statements = segment(doc, settings)
        predictions = [Prediction(s.id, _labels(s.text), {}, False, "hand") for s in statements]
        store.save_document(
            db,
            doc,
            statements,
            run_id="r1",
            versions={},
            predictions=predictions,
            source={"source_path": str(path), "sha256": doc.id, "size": doc.size, "mtime_ns": 0},
        )
        stored[path.name] = (doc, statements)

    def find(name: str, words: str):
        doc, statements = stored[name]
        return next(s for s in statements if words in s.text), doc

    def mention(concern_id, name, words, role, date, council=GLANMOR, service="children", status=None):
        s, doc = find(name, words)
        return recur.Mention(
            s.id,
            concern_id,
            role,
            None if role == "raised" else 0.7,
            date,
            doc.id,
            doc.metadata.doc_type,
            status,
            council,
            service,
            s.text,
            None,
            _labels(s.text),
        )

    workforce = (
        mention(WORKFORCE, "glanmor-2017.pdf", "permanent social workers", "raised", "2017-10-12"),
        mention(WORKFORCE, "glanmor-2018.pdf", "agency social workers", "repeated", "2018-11-08", status="persisting"),
        mention(WORKFORCE, "gazette.txt", "Councillors discussed", "discussed", "2018-11-09"),
    )
    supervision = (
        mention(RESOLVED, "glanmor-2017.pdf", "supervision takes place", "raised", "2017-10-12"),
        mention(RESOLVED, "glanmor-2018.pdf", "Monthly supervision", "progress", "2018-11-08", status="resolved"),
    )
    waiting = (mention(AFONWY_CONCERN, "afonwy.txt", "Hundreds of people", "raised", "2019-03-14", AFONWY, "adults"),)
    concerns = [
        recur.Concern(
            WORKFORCE, GLANMOR, "children", ("C",), "2017-10-12", "2018-11-09", 2, "repeated", HOSTILE_LABEL, workforce
        ),
        recur.Concern(
            RESOLVED,
            GLANMOR,
            "children",
            ("D",),
            "2017-10-12",
            "2018-11-08",
            2,
            "resolved",
            "Supervision was irregular",
            supervision,
        ),
        recur.Concern(
            AFONWY_CONCERN,
            AFONWY,
            "adults",
            ("B",),
            "2019-03-14",
            "2019-03-14",
            1,
            "new",
            "People waiting for assessments",
            waiting,
        ),
    ]
    store.save_recurrence(db, [*workforce, *supervision, *waiting], concerns)
    db.close()
    return settings.db_path


def build_corpus_db(folder: Path, corpus: Path) -> Path:
    """The bundled corpus, extracted, segmented, classified, stored and linked into concerns by the pipeline's
    functions (the flow's steps, without Prefect). The default classifier is used when it can be loaded (the
    fine-tuned encoder needs the TF-IDF model `make model` builds);
    otherwise one is trained here with two cross-validation folds instead of five, to save time."""
    from pipeline import store
    from pipeline.classify import classify, default_model_path, load_config, load_model, train
    from pipeline.config import Settings
    from pipeline.extract import extract
    from pipeline.records import Prediction
    from pipeline.run import linking
    from pipeline.run.inputs import discover
    from pipeline.segment import segment
    from pipeline.versions import blend_partner

    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(db_path=folder / "scrutiny.db", pdf_timeout_s=120)
    path = default_model_path(settings)
    blends_with = blend_partner(path)
    if path.is_file() and (blends_with is None or blends_with.is_file()):
        model = load_model(path)
    else:
        config = load_config(settings.models_dir / "classifier.toml")
        config.setdefault("thresholds", {})["cv_folds"] = 2
        model = train(sorted((corpus / "labels").glob("*.jsonl")), settings, config=config)
    db = store.open_db(settings.db_path)
    store.start_run(db, "corpus", 0, "test")
    ids = []
    for source in discover([str(corpus)]):
        doc = extract(source, settings)
        statements = segment(doc, settings)
        english = [s for s in statements if s.language == "en"]
        predictions = [
            Prediction(s.id, tuple(r["labels"]), r["scores"], r["abstain"], r["model"], margin=r["margin"])
            for s, r in zip(english, classify(model, [s.text for s in english]))
        ]
        store.save_document(
            db,
            doc,
            statements,
            run_id="corpus",
            versions={},
            predictions=predictions,
            source={"source_path": source.path, "sha256": doc.id, "size": doc.size, "mtime_ns": 0},
        )
        ids.append(doc.id)
    linking.link_new_documents(db, settings, ids)
    db.close()
    return settings.db_path
