"""Model choice: the best cross-validated candidate, or the champion's choice while within noise."""

import pytest

from outsourcing_classifier.train import CandidateScore, choose_candidate

# The best mean is linear_svc's 0.812 with a deviation of 0.008: anything from 0.804 is within it.
CANDIDATES = [
    CandidateScore("logreg", 10.0, 0.806, 0.010),
    CandidateScore("linear_svc", 1.0, 0.812, 0.008),
    CandidateScore("sgd", 1e-5, 0.800, 0.020),
]


@pytest.mark.parametrize(
    ("keep", "chosen"),
    [
        (None, ("linear_svc", 1.0)),  # nothing to keep: the best mean
        (("logreg", 10.0), ("logreg", 10.0)),  # 0.806 is within noise of 0.812: kept
        (("sgd", 1e-5), ("linear_svc", 1.0)),  # 0.800 is clearly worse: switched
        (("logreg", 30.0), ("linear_svc", 1.0)),  # the champion's choice is no longer a candidate
    ],
)
def test_the_champions_choice_is_kept_only_within_noise(keep, chosen):
    choice = choose_candidate(CANDIDATES, keep)
    assert (choice.kind, choice.strength) == chosen


def test_ties_go_to_the_steadier_candidate():
    tied = [CandidateScore("logreg", 10.0, 0.81, 0.02), CandidateScore("sgd", 1e-5, 0.81, 0.01)]
    assert choose_candidate(tied).kind == "sgd"
