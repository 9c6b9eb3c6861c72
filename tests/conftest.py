"""Shared fixtures: the real taxonomy and corpus, and a trained model shared per session."""

from __future__ import annotations

import pytest

from outsourcing_classifier.config import PROJECT_ROOT, Paths, load_paths
from outsourcing_classifier.corpus import read_corpus
from outsourcing_classifier.taxonomy import Taxonomy, load_taxonomy


@pytest.fixture(scope="session")
def project_paths() -> Paths:
    return load_paths(PROJECT_ROOT)


@pytest.fixture(scope="session")
def taxonomy(project_paths: Paths) -> Taxonomy:
    return load_taxonomy(project_paths.taxonomy)


@pytest.fixture(scope="session")
def corpus(project_paths: Paths, taxonomy: Taxonomy):
    return read_corpus(project_paths.corpus, taxonomy)


@pytest.fixture(scope="session")
def trained(corpus, taxonomy, project_paths):
    """The real model, trained once per test session on the committed corpus."""
    from outsourcing_classifier.config import ModelConfig
    from outsourcing_classifier.frames import load_frames
    from outsourcing_classifier.train import train

    return train(
        corpus, ModelConfig(), taxonomy, frames=load_frames(project_paths.frames, taxonomy)
    )
