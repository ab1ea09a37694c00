"""Classification: statements get the labels of a scheme (default: the four priority areas).

One factory, `build_pipeline`, turns models/classifier.toml into a scikit-learn
Pipeline: TF-IDF over hashed word and character n-grams feeding one calibrated
linear model per label. `train` fits it on labelled statements, chooses a
decision threshold per label on out-of-fold scores and records what it did;
`save_model` writes the model with skops (never pickle) beside a JSON sidecar;
`classify` labels texts in batches; `evaluate` measures a model on a labelled
file. This is the only module of the pipeline that imports scikit-learn."""

from pipeline.classify.data import (
    checked_corrections,
    corpus_hash,
    fold_in,
    indicators,
    label_files,
    normalise_text,
    read_labelled,
)
from pipeline.classify.evaluate import (
    evaluate,
    f1,
    metrics,
)
from pipeline.classify.model import (
    BATCH_SIZE,
    CONFIG_FILE,
    MODEL_KINDS,
    TFIDF_OPTIONS,
    TRUSTED_TYPES,
    ClassifyError,
    Model,
    build_pipeline,
    classify,
    classify_statements,
    default_model_path,
    library_versions,
    load_config,
    load_model,
    save_model,
    sidecar_path,
)
from pipeline.classify.train import train
