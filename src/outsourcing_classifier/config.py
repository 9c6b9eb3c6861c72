"""Every path and setting of the tool, derived from one root folder.

The root is the project folder, or the folder named by ``OUTSOURCING_HOME``. Nothing here touches
the disk or the environment at import time: call :func:`load_paths` when a command starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT_NAME = "outsourcing-classifier"
REGISTERED_MODEL_NAME = "outsourcing-classifier"
MODEL_FILE = "champion.skops"
MANIFEST_FILE = "manifest.json"
LOCK_TIMEOUT_SECONDS = 120.0
CHAMPION_ALIAS = "champion"
PREVIOUS_CHAMPION_ALIAS = "previous-champion"


class UserFacingError(ValueError):
    """A problem with the user's files, labels or models: the CLI prints it as one line, exit 2.

    Every stage's error type derives from it, so the CLI need not import the stages to catch them.
    """


@dataclass(frozen=True)
class Paths:
    """The folders and files of one installation, all below ``root``."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def taxonomy(self) -> Path:
        return self.data / "taxonomy.yaml"

    @property
    def behaviour(self) -> Path:
        """The behavioural cases every model must pass (tests/model and the retraining gate)."""
        return self.data / "behaviour.yaml"

    @property
    def corpus(self) -> Path:
        return self.data / "corpus"

    @property
    def frames(self) -> Path:
        """The frame library: boilerplate of adverts, notices, contracts, e-mails and sheets."""
        return self.data / "frames"

    @property
    def added_examples(self) -> Path:
        """The corpus file that ``outsourcing add`` appends to (read last, so splits never move)."""
        return self.corpus / "zz_added.csv"

    @property
    def incoming(self) -> Path:
        return self.data / "incoming"

    @property
    def incoming_done(self) -> Path:
        return self.incoming / "done"

    @property
    def examples(self) -> Path:
        return self.data / "examples"

    @property
    def sample_contracts(self) -> Path:
        return self.examples / "contracts_sample.xlsx"

    @property
    def outputs(self) -> Path:
        """Where ``make run`` writes the labelled sample (ignored by git)."""
        return self.root / "outputs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def champion_model(self) -> Path:
        return self.models / MODEL_FILE

    @property
    def champion_manifest(self) -> Path:
        return self.models / MANIFEST_FILE

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def real_dev(self) -> Path:
        """Real O*NET job texts for measuring only, in the shared folder beside the project."""
        return self.root.parent / "shared" / "real_dev" / "onet_dev.csv"

    @property
    def lock(self) -> Path:
        """The lock file held by every write to the corpus, the registry or ``models/``."""
        return self.root / ".outsourcing.lock"

    @property
    def lock_timeout(self) -> float:
        """Seconds a writer waits for the lock: ``OUTSOURCING_LOCK_TIMEOUT``, else 120."""
        value = os.environ.get("OUTSOURCING_LOCK_TIMEOUT", "")
        try:
            return float(value) if value else LOCK_TIMEOUT_SECONDS
        except ValueError:
            raise UserFacingError(
                f"OUTSOURCING_LOCK_TIMEOUT={value!r}: expected a number of seconds"
            ) from None

    @property
    def tracking_uri(self) -> str:
        """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store in the project."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_db}"


def load_paths(root: Path | None = None) -> Paths:
    """Paths below ``root``, else ``OUTSOURCING_HOME``, else the project folder."""
    if root is None:
        home = os.environ.get("OUTSOURCING_HOME")
        root = Path(home) if home else PROJECT_ROOT
    return Paths(root.resolve())


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of the spaCy normalisation stage."""

    lang: str = "en"
    lemmatize: bool = True
    batch_size: int = 512


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of the pipeline and of the model search."""

    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    word_min_df: int = 1
    char_min_df: int = 2
    max_char_features: int = 150_000
    calibration: str = "temperature"  # one parameter, keeps the linear model's ranking
    calibration_folds: int = 3
    cv_folds: int = 3
    seed: int = 42
    # The model search: classifier kind -> regularisation values tried.
    # Logistic regression (C 10 and 30) scored 0.02 below both in cross-validation on the framed
    # corpus and took most of the training time, so it is no longer searched.
    candidates: tuple[tuple[str, tuple[float, ...]], ...] = (
        ("linear_svc", (0.3, 1.0)),
        ("sgd", (1e-5, 5e-5)),
    )
    review_threshold: float = 0.5
    test_fraction_percent: int = 20
    # Reading through frames (DESIGN §1): every training row gets ``frame_copies`` copies wrapped
    # in training-half frames of a random register (label-blind); the reader keeps the sentences
    # its boilerplate detector scores under ``reader_threshold`` and within ``reader_margin``
    # (log-odds) of the most work-like sentence, and always those under ``reader_sure_work``.
    frame_copies: int = 1
    frame_seed: int = 17
    reader_threshold: float = 0.5
    reader_margin: float = 2.0
    reader_sure_work: float = -5.0


@dataclass(frozen=True)
class GateConfig:
    """When a challenger may replace the champion, and when a batch to add looks wrong."""

    max_macro_f1_drop: float = 0.005
    max_class_f1_drop: float = 0.05
    # The share of test rows whose label moves when wrapped in held-out frames may rise by this.
    max_frame_flip_rise: float = 0.02
    # A champion test prediction this sure, and right, is confident. The challenger may flip 2% of
    # a label's confident predictions, but always 3: a small test split moves by a few rows.
    confident_at: float = 0.9
    max_flip_share: float = 0.02
    flip_allowance: int = 3
    # `add` warns (with --strict, refuses) when more than half the rows carry another label than
    # the one the champion gives them this confidently.
    batch_confident_at: float = 0.95
    max_batch_contradiction_share: float = 0.5
