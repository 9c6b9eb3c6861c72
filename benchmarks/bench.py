"""Speed and memory figures (printed, never asserted): training, batch labelling, cold start.

Usage: python benchmarks/bench.py [--rows N]. Uses the champion in models/ (trains one if none).
Generated files go to bench/ (ignored by git).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from outsourcing_classifier.config import ModelConfig, load_paths
from outsourcing_classifier.corpus import read_corpus
from outsourcing_classifier.frames import load_frames, wrap_all
from outsourcing_classifier.taxonomy import load_taxonomy
from outsourcing_classifier.train import train

CLI = str(Path(sys.executable).with_name("outsourcing"))
VENDORS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Soylent"]
CITIES = ["Manila", "Pune", "Krakow", "Leeds", "Austin", "Cebu", "Dublin", "Bogota", "Durban"]


def varied_texts(corpus: pd.DataFrame, rows: int, seed: int = 7) -> list[str]:
    """About 25-word texts: two corpus texts cut and joined, plus a vendor, city and amount."""
    rng = random.Random(seed)
    texts = corpus["text"].tolist()
    result = []
    for _ in range(rows):
        words = (rng.choice(texts) + " " + rng.choice(texts)).split()[: rng.randint(15, 30)]
        extra = f"{rng.choice(VENDORS)} {rng.choice(CITIES)} USD {rng.randint(10, 999)}k"
        result.append(" ".join(words) + " " + extra)
    return result


# Runs a command and prints its peak memory. A small process of its own starts the command: a child
# forked from this (large, it has trained a model) process would count this process's memory.
PEAK_MEMORY_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run_measured(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of ``command``."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_WRAPPER, *command],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    paths = load_paths()
    taxonomy = load_taxonomy(paths.taxonomy)
    corpus = read_corpus(paths.corpus, taxonomy)
    frames = load_frames(paths.frames, taxonomy)

    training_share = 5_000 / (corpus["split"] == "train").sum()  # about 5,000 training rows
    sample = corpus.groupby("split", group_keys=False).sample(frac=training_share, random_state=0)
    for rows in (sample, corpus):
        started = time.perf_counter()
        result = train(rows, ModelConfig(), taxonomy, frames=frames)
        training = time.perf_counter() - started
        print(
            f"training with cross-validation: {training:.1f} s for {result.train_rows:,} "
            f"training rows ({len(result.candidates)} candidates; chose {result.kind}; "
            "target < 60 s for 5,000)"
        )

    if not paths.champion_model.exists():
        subprocess.run([CLI, "train", "--if-missing"], check=True)
    folder = paths.root / "bench"
    folder.mkdir(exist_ok=True)
    source = folder / f"texts_{args.rows}.csv"
    pd.DataFrame({"id": range(args.rows), "description": varied_texts(corpus, args.rows)}).to_csv(
        source, index=False
    )
    labelling, peak = run_measured(
        [CLI, "label", str(source), "-o", str(folder / "labeled.csv"), "--force"]
    )
    print(
        f"label {args.rows:,} rows: {labelling:.1f} s, {args.rows / labelling:,.0f} rows/s "
        f"end to end, peak memory {peak:,.0f} MB (targets: >= 15,000 rows/s, well under 1 GB)"
    )

    documents = folder / "documents_20000.csv"
    short = varied_texts(corpus, 20_000, seed=11)
    framed, _ = wrap_all(short, frames.half(heldout=True), seed=5, register="job_advert")
    pd.DataFrame({"id": range(len(framed)), "description": framed}).to_csv(documents, index=False)
    words = sum(len(t.split()) for t in framed) / len(framed)
    labelling, peak = run_measured(
        [CLI, "label", str(documents), "-o", str(folder / "documents.labeled.csv"), "--force"]
    )
    print(
        f"label 20,000 whole adverts (~{words:.0f} words): {labelling:.1f} s, "
        f"{len(framed) / labelling:,.0f} rows/s end to end, peak memory {peak:,.0f} MB (reported)"
    )

    cold = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [CLI, "predict", "Payroll for 300 staff"], check=True, stdout=subprocess.DEVNULL
        )
        cold.append(time.perf_counter() - started)
    print(
        f"predict one text from a cold start: {min(cold):.2f} s best of 3, {max(cold):.2f} s worst "
        "(target < 2.5 s)"
    )


if __name__ == "__main__":
    main()
