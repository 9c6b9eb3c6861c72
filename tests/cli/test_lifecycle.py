"""The model lifecycle end to end: label -> review -> correct -> add -> retrain -> promote,
the gate refusing a corrupted or poisoned challenger, add's check against the champion, rollback,
--if-changed, ingest, and add refusals."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import shutil

import openpyxl
import pandas as pd
import pytest

from outsourcing_classifier import tracking
from outsourcing_classifier.config import load_paths
from outsourcing_classifier.corpus import hash_split, read_corpus, text_key
from outsourcing_classifier.taxonomy import load_taxonomy

pytestmark = pytest.mark.slow

# Field-sales texts the small model has never seen; a reviewer says they are `other`.
FIELD_SALES = [
    "Door-to-door solar panel sales canvassing in suburban neighbourhoods, commission only",
    "Travelling sales representatives visiting independent pharmacies to sell skincare lines",
    "Trade show booth staff to demonstrate kitchen appliances and take orders on the floor",
    "Merchandisers restocking shelves and building displays for a beverage brand in supermarkets",
    "Van sales drivers selling and delivering bakery products to corner shops each morning",
    "Showroom sales consultants for a furniture retailer, weekend and evening shifts",
]

# The poisoning of the issue: 300 clear payroll duties (hro) labelled kpo. None of them is the
# behavioural case "Run monthly payroll for 1200 employees in Germany" that they turn into kpo.
PAYROLL = random.Random(0).sample(
    [
        f"{verb} {often} payroll for {staff} employees in {country}"
        for verb, often, staff, country in itertools.product(
            ("Run", "Process", "Prepare", "Calculate", "Manage", "Handle"),
            ("monthly", "weekly", "fortnightly", "four-weekly"),
            (140, 320, 650, 900, 1500, 2200, 3100, 4800),
            ("France", "Spain", "Poland", "Ireland", "Italy", "Austria", "Belgium", "Portugal"),
        )
    ],
    300,
)
VICTIM = "Run monthly payroll for 1200 employees in Germany"
POISON_PATTERN = "300 of 300 rows: champion says hro with ≥ 0.95, batch says kpo"


@pytest.fixture
def home(trained_home, tmp_path):
    """A private copy of the trained small project, so each test may change it."""
    shutil.copytree(trained_home.root, tmp_path / "home")
    return load_paths(tmp_path / "home")


def _predict(run, home, texts, field="label"):
    result = run("predict", *texts, "--json", "--top", "9", home=home.root)
    assert result.code == 0, result.stderr
    return [json.loads(line)[field] for line in result.stdout.splitlines()]


def _train_texts(texts):
    """Only texts whose stable hash puts them in the training split can teach the model."""
    return [t for t in texts if hash_split(text_key(t)) == "train"]


def test_label_review_correct_add_retrain_promote(run, home, tmp_path):
    texts = _train_texts(FIELD_SALES)
    assert len(texts) >= 3
    register = tmp_path / "register.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["id", "Scope Description"])
    for number, text in enumerate(texts, start=1):
        book.active.append([number, text])
    book.save(register)
    assert run("label", register, home=home.root).code == 0
    labelled = tmp_path / "register.labeled.xlsx"

    review = tmp_path / "review.xlsx"
    result = run("review", labelled, "-o", review, "--limit", "50", home=home.root)
    assert result.code == 0, result.stderr
    sheet = openpyxl.load_workbook(review).active
    header = [cell.value for cell in sheet[1]]
    assert header[-1] == "corrected_label"
    validation = sheet.data_validations.dataValidation[0]
    assert validation.formula1.strip('"').split(",") == list(load_taxonomy(home.taxonomy).ids)
    queued = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]

    corrected = tmp_path / "corrected.csv"
    pd.DataFrame({"text": texts, "corrected_label": ["other"] * len(texts)}).to_csv(
        corrected, index=False
    )
    result = run("add", corrected, home=home.root)
    assert result.code == 0, result.stderr
    assert f"added {len(texts)} row(s) (other {len(texts)})" in result.stdout
    added = pd.read_csv(home.added_examples, dtype=str, keep_default_na=False)
    assert added["source"].unique().tolist() == ["corrected.csv"]
    assert added["source_sha256"].unique().tolist() == [
        hashlib.sha256(corrected.read_bytes()).hexdigest()
    ]
    assert added["origin"].unique().tolist() == ["added"]

    result = run("retrain", home=home.root)
    assert result.code == 0, result.stdout + result.stderr
    assert "version 2 promoted to champion" in result.stdout
    assert result.stderr == ""  # MLflow's registration chatter stays out of the user's terminal
    assert _predict(run, home, texts) == ["other"] * len(texts)
    assert json.loads(home.champion_manifest.read_text())["mlflow"]["version"] == "2"
    assert set(queued) <= set(texts)  # the queue held the rows of this register only


def test_corrupted_challenger_is_refused_and_rollback_restores(run, home, tmp_path):
    probe = ["ICD-10 coding and claims for a clinic", "Medical transcription of radiology reports"]
    champion_predictions = _predict(run, home, probe)
    champion_probabilities = _predict(run, home, probe, "top")
    champion_sha = json.loads(home.champion_manifest.read_text())["sha256"]
    corpus = read_corpus(home.corpus, load_taxonomy(home.taxonomy))
    medical_train = corpus[(corpus["label"] == "mbpo") & (corpus["split"] == "train")]
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"text": medical_train["text"], "label": "bpo"}).to_csv(wrong, index=False)
    assert run("add", wrong, "--prefer-new", home=home.root).code == 0

    result = run("retrain", home=home.root)
    assert result.code == 1
    assert "challenger refused, champion v1 stays" in result.stdout
    assert "F1 of mbpo fell by" in result.stdout
    assert re.search(
        r"\d+ of the champion's \d+ confident \(>= 0\.9\) correct mbpo test predictions flipped",
        result.stdout,
    )
    comparison = tracking.run_json(home, tracking.version_info(home, "2").run_id, "comparison.json")
    flipped = comparison["confident_flips"]["rows"]
    assert {(row["label"], row["challenger"]) for row in flipped} == {("mbpo", "bpo")}
    assert {row["text"] for row in flipped} <= set(corpus[corpus["label"] == "mbpo"]["text"])
    assert json.loads(home.champion_manifest.read_text())["sha256"] == champion_sha
    assert _predict(run, home, probe) == champion_predictions

    result = run("retrain", "--force", home=home.root)
    assert result.code == 0
    assert "forced past" in result.stdout
    assert _predict(run, home, probe) != champion_predictions
    models = run("models", home=home.root).stdout
    assert "champion" in models and "previous-champion" in models

    result = run("rollback", home=home.root)
    assert result.code == 0
    assert "version 1 is the champion" in result.stdout
    assert _predict(run, home, probe, "top") == champion_probabilities  # exactly, every label
    assert json.loads(home.champion_manifest.read_text())["mlflow"]["version"] == "1"


def test_if_changed_does_not_train_without_new_data(run, home):
    result = run("retrain", "--if-changed", home=home.root)
    assert result.code == 0
    assert "corpus unchanged since version 1" in result.stdout
    from outsourcing_classifier import tracking

    assert [v.version for v in tracking.list_versions(home)] == ["1"]


def test_promote_unknown_version_is_an_error(run, home):
    result = run("promote", "99", home=home.root)
    assert result.code == 2
    assert "no registered version 99" in result.stderr


def test_ingest_takes_good_files_and_leaves_bad_ones(run, home):
    good = home.incoming / "good.csv"
    bad = home.incoming / "bad.csv"
    pd.DataFrame({"text": _train_texts(FIELD_SALES)[:2], "label": ["other", "other"]}).to_csv(
        good, index=False
    )
    pd.DataFrame({"text": ["Screen applicants"], "label": ["RPO"]}).to_csv(bad, index=False)
    pd.DataFrame({"text": PAYROLL[:3], "label": "kpo"}).to_csv(
        home.incoming / "payroll.csv", index=False
    )
    result = run("retrain", "--ingest", "--if-changed", home=home.root)
    assert "incoming good.csv: added 2, skipped 0\n" in result.stdout
    assert (
        "incoming payroll.csv: added 3, skipped 0; contradicts the champion: "
        "3 of 3 rows: champion says hro with ≥ 0.95, batch says kpo"
    ) in result.stdout
    assert "incoming bad.csv: refused" in result.stdout
    assert not good.exists()
    assert sorted(p.name.split("-", 1)[1] for p in (home.incoming / "done").iterdir()) == [
        "good.csv",
        "payroll.csv",
    ]
    assert bad.exists()
    assert "research_po or recruitment_po" in (home.incoming / "bad.csv.errors.txt").read_text()


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ({"text": ["Screen applicants"], "label": ["RPO"]}, [], "research_po or recruitment_po"),
        ({"text": ["Screen applicants"], "label": ["IT"]}, [], "label ids are: bpo, kpo"),
        ({"text": [""], "label": ["hro"]}, [], "row 2: empty text"),
        (
            {"text": ["Fresh text a", "fresh text A!"], "label": ["hro", "bpo"]},
            [],
            "same text appears",
        ),
    ],
)
def test_add_refusals(run, home, tmp_path, rows, args, message):
    path = tmp_path / "new.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    before = home.added_examples.exists()
    result = run("add", path, *args, home=home.root)
    assert result.code == 2
    assert message in result.stderr
    assert home.added_examples.exists() == before


def test_add_map_dry_run_duplicates_and_conflicts(run, home, tmp_path):
    corpus = read_corpus(home.corpus, load_taxonomy(home.taxonomy))
    train_row = corpus[corpus["split"] == "train"].iloc[0]
    test_row = corpus[corpus["split"] == "test"].iloc[0]
    other = next(label for label in ("bpo", "kpo") if label != test_row["label"])
    path = tmp_path / "new.csv"
    pd.DataFrame(
        {"text": ["Screen and interview applicants for our stores", train_row["text"]],
         "label": ["RPO", train_row["label"]]}
    ).to_csv(path, index=False)  # fmt: skip
    result = run("add", path, "--map", "RPO=recruitment_po", "--dry-run", home=home.root)
    assert result.code == 0
    assert "would add 1 row(s) (recruitment_po 1); skipped 1" in result.stdout
    assert not home.added_examples.exists()

    train_other = next(label for label in ("hro", "mbpo") if label != train_row["label"])
    relabel_train = tmp_path / "train.csv"
    pd.DataFrame({"text": [train_row["text"]], "label": [train_other]}).to_csv(
        relabel_train, index=False
    )
    result = run("add", relabel_train, home=home.root)
    assert result.code == 2
    assert "conflicts with the corpus" in result.stderr and "--prefer-new" in result.stderr
    assert not home.added_examples.exists()
    assert run("add", relabel_train, "--prefer-new", home=home.root).code == 0
    corrected = read_corpus(home.corpus, load_taxonomy(home.taxonomy))
    row = corrected[corrected["key"] == train_row["key"]].iloc[0]
    assert (row["label"], row["split"]) == (train_other, "train")
    assert pd.read_csv(home.added_examples)["origin"].tolist() == ["correction"]

    relabel_test = tmp_path / "test.csv"
    pd.DataFrame({"text": [test_row["text"]], "label": [other]}).to_csv(relabel_test, index=False)
    result = run("add", relabel_test, "--prefer-new", home=home.root)
    assert result.code == 2
    assert "would relabel a frozen test row" in result.stderr
    result = run("add", relabel_test, "--edit-test", home=home.root)
    assert result.code == 0
    assert pd.read_csv(home.added_examples)["origin"].tolist() == ["correction", "test-edit"]
    relabelled = read_corpus(home.corpus, load_taxonomy(home.taxonomy))
    row = relabelled[relabelled["key"] == test_row["key"]].iloc[0]
    assert (row["label"], row["split"]) == (other, "test")


def test_poisoned_batch_is_flagged_at_add_and_its_challenger_refused(run, home, tmp_path):
    assert _predict(run, home, [VICTIM]) == ["hro"]
    champion_sha = json.loads(home.champion_manifest.read_text())["sha256"]
    poison = tmp_path / "payroll.csv"
    pd.DataFrame({"text": PAYROLL, "label": "kpo"}).to_csv(poison, index=False)
    result = run("add", poison, home=home.root)
    assert result.code == 0
    assert f"warning: the batch contradicts the champion: {POISON_PATTERN}" in result.stderr
    assert "added 300 row(s) (kpo 300)" in result.stdout

    result = run("retrain", home=home.root)
    assert result.code == 1, result.stdout
    assert "challenger refused, champion v1 stays" in result.stdout
    assert (
        "fails a behavioural case the champion passes: minimum (duty line): "
        f"{VICTIM!r} is kpo" in result.stdout
    )
    # As in the issue, the aggregate scores alone would have promoted it.
    assert "macro-F1 fell" not in result.stdout and "F1 of" not in result.stdout
    assert json.loads(home.champion_manifest.read_text())["sha256"] == champion_sha
    assert _predict(run, home, [VICTIM]) == ["hro"]
    comparison = tracking.run_json(home, tracking.version_info(home, "2").run_id, "comparison.json")
    assert comparison["decision"] == "refuse"
    failures = comparison["behaviour"]["new_failures"]
    victim = [f for f in failures if f["detail"].startswith(repr(VICTIM))]
    assert [(f["kind"], f["why"]) for f in victim] == [("minimum", "duty line")]
    assert victim[0]["detail"].endswith(", expected hro")


@pytest.mark.parametrize(
    ("texts", "label", "code", "stdout", "stderr"),
    [
        # the poisoned batch: held back, nothing written
        (PAYROLL, "kpo", 1, "held back (--strict): nothing added; would add 300 row(s)",
         POISON_PATTERN),
        # the same rows with the label the champion gives them: added, nothing to say
        (PAYROLL, "hro", 0, "added 300 row(s) (hro 300)", ""),
    ],
    ids=["contradicting", "agreeing"],
)  # fmt: skip
def test_add_strict_holds_back_only_a_batch_that_contradicts_the_champion(
    run, home, tmp_path, texts, label, code, stdout, stderr
):
    batch = tmp_path / "batch.csv"
    pd.DataFrame({"text": texts, "label": label}).to_csv(batch, index=False)
    result = run("add", batch, "--strict", home=home.root)
    assert result.code == code
    assert stdout in result.stdout
    assert stderr in result.stderr if stderr else result.stderr == ""
    assert home.added_examples.exists() == (code == 0)


def test_add_says_nothing_without_a_champion(run, untrained_home, tmp_path):
    batch = tmp_path / "batch.csv"
    pd.DataFrame({"text": PAYROLL, "label": "kpo"}).to_csv(batch, index=False)
    result = run("add", batch, "--strict", home=untrained_home.root)
    assert result.code == 0
    assert "added 300 row(s) (kpo 300)" in result.stdout
    assert result.stderr == ""
