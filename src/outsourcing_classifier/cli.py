"""The ``outsourcing`` command: thin wrappers that parse arguments, call a stage, print results."""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from outsourcing_classifier.config import (
    GateConfig,
    ModelConfig,
    Paths,
    UserFacingError,
    load_paths,
)
from outsourcing_classifier.taxonomy import Taxonomy, load_taxonomy

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Classify job and contract descriptions into kinds of outsourcing.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


ModelOption = Annotated[
    str | None, typer.Option("--model", help="Model folder, .skops file or models:/ URI.")
]
ThresholdOption = Annotated[
    float | None, typer.Option("--threshold", help="Review threshold (default: model's).")
]
SheetOption = Annotated[str | None, typer.Option("--sheet", help="XLSX sheet (default: first).")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]


class UserError(UserFacingError):
    """A problem with the command line itself."""


def _context() -> tuple[Paths, Taxonomy]:
    paths = load_paths()
    return paths, load_taxonomy(paths.taxonomy)


def _predictor(model: str | None, paths: Paths, taxonomy: Taxonomy, threshold: float | None):
    """The champion export, a model folder or .skops file, or an MLflow ``models:/`` URI, each
    through the one verified loader. The review threshold is the tool's, or ``threshold``.

    The garbage collector is paused meanwhile: the imports and the model make many long-lived
    objects, and collecting while they are made costs a tenth of the cold start. They are then
    frozen, so later collections (and forked label workers) leave them alone.
    """
    gc.disable()
    try:
        from outsourcing_classifier.predict import Predictor
        from outsourcing_classifier.store import load_model

        if model and model.startswith("models:/"):
            from outsourcing_classifier import tracking  # only this path needs mlflow

            pipeline = tracking.load_registered(paths, model)
        else:
            pipeline = load_model(Path(model) if model else paths.models).pipeline
    finally:
        gc.freeze()
        gc.enable()
    return Predictor(
        pipeline, taxonomy, ModelConfig().review_threshold if threshold is None else threshold
    )


@app.command("corpus-stats")
def corpus_stats_command() -> None:
    """Counts per label, register and origin; lengths; near-duplicate rate; template share."""
    from outsourcing_classifier.corpus import corpus_stats, read_corpus

    paths, taxonomy = _context()
    corpus = read_corpus(paths.corpus, taxonomy)
    stats = corpus_stats(corpus)
    table = Table(title=f"Corpus: {stats.rows} rows ({paths.corpus})")
    for column in ("label", "rows", "boundary share", "largest template share"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label in taxonomy.ids:
        table.add_row(
            label,
            str(stats.per_label.get(label, 0)),
            f"{stats.boundary_share.get(label, 0):.1%}",
            f"{stats.largest_template_share.get(label, 0):.1%}",
        )
    out.print(table)
    for title, counts in (
        ("register", stats.per_register),
        ("origin", stats.per_origin),
        ("split", stats.per_split),
    ):
        shares = ", ".join(f"{k} {v} ({v / stats.rows:.1%})" for k, v in sorted(counts.items()))
        out.print(f"{title}: {shares}")
    out.print(
        f"words per text: min {stats.words_min}, median {stats.words_median:g}, "
        f"90th percentile {stats.words_p90:g}, max {stats.words_max}"
    )
    out.print(f"near-duplicate rate (trigram Jaccard >= 0.8): {stats.near_duplicate_rate:.2%}")


@app.command()
def train(
    if_missing: Annotated[
        bool, typer.Option("--if-missing", help="Do nothing when a champion export exists.")
    ] = False,
) -> None:
    """Train on the corpus, record the run in MLflow, register the model; the first is champion."""
    paths, taxonomy = _context()
    if if_missing and paths.champion_model.exists():
        out.print(f"model exists: {paths.champion_model} (use 'outsourcing train' to retrain)")
        return
    report = _lifecycle().train_new(paths, ModelConfig(), taxonomy)
    out.print(report.text(), markup=False)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Labelled CSV/XLSX with text and label columns.")],
    model: ModelOption = None,
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column holding the true label.")] = "label",
    sheet: SheetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Metrics and confusion matrix of a model on any labelled file."""
    from outsourcing_classifier.corpus import read_examples
    from outsourcing_classifier.evaluate import classification_report_text, compute_metrics

    paths, taxonomy = _context()
    examples, _, refused = read_examples(file, taxonomy, text_column, label_column, sheet=sheet)
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise UserError(f"{file}: {refused[0]}{more}")
    if examples.empty:
        raise UserError(f"{file}: no rows to evaluate")
    texts, labels = examples["text"].tolist(), examples["label"].tolist()
    predictor = _predictor(model, paths, taxonomy, None)
    proba = predictor.pipeline.predict_proba(texts)
    predicted = predictor.classes[proba.argmax(axis=1)]
    metrics = compute_metrics(labels, predicted, taxonomy, proba, predictor.classes)
    if as_json:
        out.print_json(json.dumps(metrics.to_dict()))
        return
    out.print(f"{file}: {metrics.rows} rows")
    out.print(classification_report_text(metrics), end="")
    matrix = Table(title="confusion matrix (rows: true, columns: predicted)")
    matrix.add_column("")
    for label in metrics.labels:
        matrix.add_column(label[:8], justify="right")
    for label, row in zip(metrics.labels, metrics.confusion, strict=True):
        matrix.add_row(label, *(str(v) if v else "." for v in row))
    out.print(matrix)


@app.command("evaluate-frames")
def evaluate_frames(
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """How a model reads through frames: the frozen test split wrapped in held-out frames."""
    from outsourcing_classifier.corpus import read_corpus
    from outsourcing_classifier.evaluate import framed_metrics
    from outsourcing_classifier.frames import load_frames

    paths, taxonomy = _context()
    test = read_corpus(paths.corpus, taxonomy).query("split == 'test'")
    library = load_frames(paths.frames, taxonomy).half(heldout=True)
    predictor = _predictor(model, paths, taxonomy, None)
    framed = framed_metrics(
        predictor.pipeline, test["text"].tolist(), test["label"], library, taxonomy
    )
    if as_json:
        out.print_json(json.dumps(asdict(framed)))
        return
    table = Table(
        title=f"{framed.rows} test rows in held-out frames ({len(library.frames)} pieces)"
    )
    for column in ("register", "flip rate", "macro-F1", "ECE"):
        table.add_column(column, justify="left" if column == "register" else "right")
    for register, scores in framed.per_register.items():
        table.add_row(
            register,
            f"{scores['flip_rate']:.3f}",
            f"{scores['macro_f1']:.3f}",
            f"{scores['ece']:.3f}",
        )
    table.add_row("all", f"{framed.flip_rate:.3f}", f"{framed.macro_f1:.3f}", f"{framed.ece:.3f}")
    out.print(table)
    out.print(f"the same rows unframed: macro-F1 {framed.unframed_macro_f1:.3f}")
    out.print(
        "targets: flip rate <= 0.03 overall and <= 0.05 per register; framed macro-F1 within "
        "0.02 of the unframed; framed ECE <= 0.05"
    )


def _print_prediction(p, top: int, explain: bool, notes: dict[str, str]) -> None:
    if p.status != "ok":
        out.print(f"-  ({p.status})")
        return
    review = "  [bold yellow]needs review[/]" if p.needs_review else ""
    out.print(f"[bold]{p.label}[/]  {p.name}  [{p.family}]  confidence {p.confidence:.2f}{review}")
    out.print(f"  text: {p.text}", markup=False)
    if top:
        out.print("  top: " + ", ".join(f"{label} {prob:.2f}" for label, prob in p.top))
    if explain and p.explanation is not None:
        out.print(f"  why: {p.explanation.summary(p.label, p.runner_up)}", markup=False)
    for acronym in p.ambiguity:
        out.print(f"  ambiguous: {notes[acronym]}", markup=False)


@app.command()
def predict(
    texts: Annotated[list[str], typer.Argument(help="Texts to classify, or '-' for stdin.")],
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    top: Annotated[int, typer.Option(help="Show the K best labels.")] = 0,
    explain: Annotated[bool, typer.Option(help="Show the words behind the label.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Classify one or more texts."""
    if texts == ["-"]:
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise UserError("no text given")
    paths, taxonomy = _context()
    predictor = _predictor(model, paths, taxonomy, threshold)
    for prediction in predictor.predict(texts, top=max(top, 2), explain=explain):
        if as_json:
            print(
                json.dumps(prediction.as_dict(top=bool(top), explain=explain), ensure_ascii=False)
            )
        else:
            _print_prediction(prediction, top, explain, taxonomy.ambiguous_text_acronyms)


@app.command()
def label(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, XLSX or Parquet file to label.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Output file (format by extension).")
    ] = None,
    text_column: Annotated[
        list[str] | None, typer.Option(help="Text column(s); several are joined.")
    ] = None,
    sheet: SheetOption = None,
    all_sheets: Annotated[
        bool, typer.Option("--all-sheets", help="Label every sheet, one output file each.")
    ] = False,
    model: ModelOption = None,
    threshold: ThresholdOption = None,
    top: Annotated[int, typer.Option(help="Add the K best labels as a column.")] = 0,
    explain: Annotated[bool, typer.Option(help="Add an explanation column.")] = False,
    force: ForceOption = False,
    summary_json: Annotated[
        Path | None, typer.Option(help="Write the summary as JSON here.")
    ] = None,
) -> None:
    """Label every row of a spreadsheet; all input cells kept, prediction columns appended."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from outsourcing_classifier.label import (
        default_output,
        label_file,
        sheet_outputs,
        write_summary,
    )
    from outsourcing_classifier.outputs import check_output

    paths, taxonomy = _context()
    if all_sheets and sheet:
        raise UserError("use --sheet or --all-sheets, not both")
    if not file.is_file():
        raise UserError(f"{file}: no such file")
    jobs = [(sheet, output or default_output(file))]
    if all_sheets:
        if output and output.suffix:
            raise UserError(f"{output}: with --all-sheets, -o names a folder")
        jobs = sheet_outputs(file, output or file.parent)
        for name, target in jobs:
            out.print(f"sheet {name!r} -> {target}", markup=False)
    targets = [target for _, target in jobs]
    for target in targets:
        check_output(target, [file], force)
    if summary_json:
        check_output(summary_json, [file, *targets], force)
    predictor = _predictor(model, paths, taxonomy, threshold)
    summaries = []
    for sheet_name, target in jobs:
        with Progress(
            TextColumn("labelling"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task("label", total=None)
            summary = label_file(
                file,
                predictor,
                target,
                text_column or None,
                sheet_name,
                top,
                explain,
                force,
                on_progress=lambda n, task=task, progress=progress: progress.advance(task, n),
            )
        summaries.append(summary)
        _print_summary(summary)
    if summary_json:
        write_summary(summaries, summary_json, [file, *targets], force)


def _print_summary(summary) -> None:
    sheet = f" (sheet {summary.sheet})" if summary.sheet else ""
    out.print(f"text column: {', '.join(summary.text_columns)}{sheet}", markup=False)
    out.print(f"wrote {summary.output}", markup=False)
    out.print(
        f"rows {summary.rows:,}: labelled {summary.labelled:,}, needing review "
        f"{summary.needs_review:,}, ambiguous acronyms {summary.ambiguous:,}, "
        f"without text {summary.without_text:,}"
    )
    table = Table("label", "rows", "share")
    for label_id, count in summary.per_label.items():
        table.add_row(label_id, f"{count:,}", f"{count / max(summary.labelled, 1):.1%}")
    out.print(table)
    out.print(
        "families: "
        + ", ".join(f"{family} {count:,}" for family, count in summary.per_family.items())
    )


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping = {}
    for pair in pairs or []:
        alias, sep, target = pair.partition("=")
        if not sep or not alias.strip() or not target.strip():
            raise UserError(f"--map takes ALIAS=LABEL (e.g. RPO=recruitment_po), got {pair!r}")
        mapping[alias.strip()] = target.strip()
    return mapping


def _report_additions(plan, dry_run: bool, held: bool) -> None:
    verb = "would add" if dry_run else "added"
    if plan.refused:
        verb = "refused: nothing added; would add"
    elif held:
        verb = "held back (--strict): nothing added; would add"
    counts = plan.rows["label"].value_counts().to_dict() if len(plan.rows) else {}
    out.print(
        f"{verb} {len(plan.rows)} row(s)"
        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})" if counts else "")
        + f"; skipped {len(plan.skipped)}; refused {len(plan.refused)}",
        markup=False,
    )
    for line in plan.skipped[:20]:
        out.print(f"  skipped {line}", markup=False)
    for line in plan.refused[:50]:
        err.print(f"  refused {line}", markup=False)
    if len(plan.refused) > 50:
        err.print(f"  ... and {len(plan.refused) - 50} more refusals", markup=False)


@app.command()
def add(
    file: Annotated[Path, typer.Argument(help="CSV/XLSX with a text and a label column.")],
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    label_column: Annotated[str, typer.Option(help="Column holding the label.")] = "label",
    sheet: SheetOption = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Settle an ambiguous label: RPO=recruitment_po."),
    ] = None,
    prefer_new: Annotated[
        bool, typer.Option("--prefer-new", help="Relabel corpus rows that the file contradicts.")
    ] = False,
    edit_test: Annotated[
        bool, typer.Option("--edit-test", help="Allow relabelling frozen test rows (recorded).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; change nothing.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Add nothing if most rows contradict the champion's sure predictions."
        ),
    ] = False,
) -> None:
    """Add labelled examples (or a filled-in review file) to the corpus, with provenance."""
    from outsourcing_classifier.gate import add_checked

    paths, taxonomy = _context()
    added = add_checked(
        paths, taxonomy, file, strict=strict, dry_run=dry_run, config=GateConfig(),
        text_column=text_column, label_column=label_column, mapping=_mapping(map_), sheet=sheet,
        prefer_new=prefer_new, edit_test=edit_test,
    )  # fmt: skip
    if added.check:
        err.print(
            f"warning: the batch contradicts the champion: {added.check.text()}", markup=False
        )
    _report_additions(added.plan, dry_run, added.held)
    if added.plan.refused:
        raise typer.Exit(2)
    if added.held:
        raise typer.Exit(1)


@app.command()
def retrain(
    ingest: Annotated[
        bool, typer.Option("--ingest", help="First add every new file in data/incoming/.")
    ] = False,
    if_changed: Annotated[
        bool, typer.Option("--if-changed", help="Do nothing if the corpus has not changed.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Promote even if the gate refuses.")] = False,
) -> None:
    """Train a challenger; promote it only if it is not worse than the champion."""
    paths, taxonomy = _context()
    if ingest:
        for name, outcome in _lifecycle().ingest_incoming(paths, taxonomy):
            out.print(f"incoming {name}: {outcome}", markup=False)
    report = _lifecycle().retrain(
        paths, taxonomy, ModelConfig(), GateConfig(), if_changed=if_changed, force=force
    )
    out.print(report.message, markup=False)
    if report.status == "refused":
        raise typer.Exit(1)


@app.command()
def review(
    file: Annotated[Path, typer.Argument(help="A file written by 'outsourcing label'.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Review file to write.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 200,
    text_column: Annotated[
        list[str] | None, typer.Option(help="Text column(s), as given to 'label'.")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Write the rows that need a person (lowest confidence first, ambiguous ones too)."""
    from outsourcing_classifier.label import review_queue, write_review
    from outsourcing_classifier.outputs import check_output

    _, taxonomy = _context()
    suffix = ".xlsx" if file.suffix.lower() in (".xlsx", ".xlsm") else ".csv"
    target = output or file.with_name(f"{file.stem}.review{suffix}")
    check_output(target, [file], force)
    queue = review_queue(file, limit, text_column or None)
    write_review(queue, target, list(taxonomy.ids), file, force)
    out.print(f"wrote {len(queue)} row(s) to review into {target}", markup=False)
    out.print("fill in corrected_label, then: outsourcing add " + str(target), markup=False)


def _lifecycle():
    """The lifecycle stage, imported only by the commands that need it (it imports mlflow)."""
    from outsourcing_classifier import retrain as lifecycle

    return lifecycle


@app.command()
def models() -> None:
    """List registered model versions with their corpus digest, test macro-F1 and aliases."""
    from outsourcing_classifier import tracking

    paths = load_paths()
    versions = tracking.list_versions(paths)
    if not versions:
        out.print("no registered versions yet: run 'outsourcing train'")
        return
    table = Table()
    for column in ("version", "created (UTC)", "corpus", "test F1"):
        table.add_column(column, overflow="fold")
    table.add_column("aliases", no_wrap=True, min_width=len("previous-champion"))
    for v in versions:
        f1 = "" if v.test_macro_f1 is None else f"{v.test_macro_f1:.3f}"
        created = v.created[:16].replace("T", " ")
        table.add_row(v.version, created, v.corpus_digest[:8], f1, ", ".join(v.aliases))
    out.print(table)


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered version to make champion.")],
) -> None:
    """Make a registered version the champion and export it to models/."""
    paths = load_paths()
    _lifecycle().promote(paths, version)
    out.print(f"version {version} is the champion (models/ export verified)")


@app.command()
def rollback() -> None:
    """Make the previous champion the champion again."""
    paths = load_paths()
    version = _lifecycle().rollback(paths)
    out.print(f"rolled back: version {version} is the champion (models/ export verified)")


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000) -> None:
    """Start the MLflow UI on 127.0.0.1 against the project's tracking store.

    The server replaces this process, so signals reach it directly and no server is left behind.
    """
    paths = load_paths()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "ui",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        paths.tracking_uri,
    ]
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        command += ["--default-artifact-root", paths.mlflow_artifacts.as_uri()]
    out.print(f"MLflow UI on http://127.0.0.1:{port} (store: {paths.tracking_uri})")
    sys.stdout.flush()
    os.execv(command[0], command)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, never a traceback.

    SIGTERM stops a command as Ctrl-C does (exit code 130): temporary files are removed and
    label workers stopped on the way out.
    """
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        app()
    except UserFacingError as error:
        err.print(f"error: {error}", markup=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
