"""Errors the pipeline raises, each with a reason a person understands."""


class PipelineError(Exception):
    """Base class: `str(error)` is the reason stored in `failures` and printed by the CLI."""

    stage = "pipeline"


class ExtractionError(PipelineError):
    stage = "extract"


class UnsupportedFormat(ExtractionError):
    pass


class NoText(ExtractionError):
    pass


class SegmentationError(PipelineError):
    stage = "segment"


class StoreError(PipelineError):
    stage = "store"


class SourceError(PipelineError):
    """A path, manifest or URL that cannot be read at all."""

    stage = "source"
