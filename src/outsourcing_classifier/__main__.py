"""``python -m outsourcing_classifier`` runs the CLI."""

from outsourcing_classifier.cli import main

main()
