"""Scoring rules of ``bastion.detect.evaluation`` with a fake scan function.

The texts and spans here are made up for these tests; none come from the shared data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from bastion.detect.evaluation import (
    EvaluationDataError,
    Example,
    Prediction,
    ScanFn,
    Score,
    default_source,
    evaluate,
    infer_task,
    load_examples,
    match_spans,
)
from bastion.detect.patterns import Hit

TEXT = "Write to Ada Lovelace at ada@example.org or call +44 20 7946 0958 today."
NAME = (9, 21)  # "Ada Lovelace"
EMAIL = (25, 40)  # "ada@example.org"
PHONE = (49, 65)  # "+44 20 7946 0958"


def _hit(data_class: str, start: int, end: int) -> Hit:
    return Hit(data_class, start, end, 0.9, "fake")


def fake_scan(answers: Mapping[str, Sequence[Prediction]]) -> ScanFn:
    """A scan function answering from a table (text -> findings)."""

    def scan(text: str) -> Sequence[Prediction]:
        return answers.get(text, [])

    return scan


def _by_name(scores: Sequence[Score]) -> dict[str, tuple[int, int, int]]:
    return {s.name: (s.tp, s.fp, s.fn) for s in scores if s.tp or s.fp or s.fn}


def test_offsets_of_the_shared_example_text() -> None:
    assert TEXT[slice(*NAME)] == "Ada Lovelace"
    assert TEXT[slice(*EMAIL)] == "ada@example.org"
    assert TEXT[slice(*PHONE)] == "+44 20 7946 0958"


# --- matching one gold span list against one prediction list --------------------------


@pytest.mark.parametrize(
    ("gold", "predicted", "pairs"),
    [
        # matches
        pytest.param([(10, 20)], [(10, 20)], [(0, 0)], id="exact"),
        pytest.param([(10, 20)], [(5, 25)], [(0, 0)], id="prediction-covers-gold"),
        pytest.param([(10, 20)], [(15, 30)], [(0, 0)], id="exactly-half-of-gold"),
        pytest.param([(10, 20)], [(12, 17)], [(0, 0)], id="inside-gold-half"),
        pytest.param([(10, 20)], [(0, 100)], [(0, 0)], id="huge-prediction-still-covers"),
        # misses
        pytest.param([(10, 20)], [(16, 30)], [], id="under-half-of-gold"),
        pytest.param([(10, 20)], [(20, 30)], [], id="touching-not-overlapping"),
        pytest.param([(10, 20)], [], [], id="no-predictions"),
        pytest.param([], [(10, 20)], [], id="no-gold"),
        # one to one
        pytest.param([(10, 20)], [(10, 20), (11, 19)], [(0, 0)], id="two-predictions-one-gold"),
        pytest.param([(10, 20), (21, 31)], [(10, 31)], [(0, 0)], id="one-prediction-two-gold"),
        pytest.param([(10, 20)], [(14, 30), (10, 19)], [(0, 1)], id="largest-overlap-wins"),
        pytest.param(
            [(0, 10), (10, 20)],
            [(0, 10), (10, 20)],
            [(0, 0), (1, 1)],
            id="neighbours-each-matched",
        ),
    ],
)
def test_match_spans(
    gold: list[tuple[int, int]], predicted: list[tuple[int, int]], pairs: list[tuple[int, int]]
) -> None:
    assert match_spans(gold, predicted) == pairs


# --- span-level PII scoring ------------------------------------------------------------


def _pii(*spans: tuple[int, int, str]) -> list[Example]:
    return [Example(TEXT, "pii", tuple(spans))]


@pytest.mark.parametrize(
    ("gold", "found", "expected"),
    [
        pytest.param(
            [(*NAME, "PERSON"), (*EMAIL, "EMAIL_ADDRESS")],
            [_hit("pii.person", *NAME), _hit("pii.email", *EMAIL)],
            {"pii.person": (1, 0, 0), "pii.email": (1, 0, 0)},
            id="all-found",
        ),
        pytest.param(
            [(*NAME, "PERSON")],
            [_hit("pii.person", 9, 14)],  # "Ada L": 5 of 12 characters
            {"pii.person": (0, 1, 1)},
            id="overlap-under-half-is-a-miss-and-a-false-positive",
        ),
        pytest.param(
            [(*NAME, "PERSON")],
            [_hit("pii.person", 9, 12), _hit("pii.person", 13, 21)],  # "Ada", "Lovelace"
            {"pii.person": (1, 1, 0)},
            id="split-prediction-matches-once",
        ),
        pytest.param(
            [(*NAME, "PERSON")],
            [_hit("pii.person", *NAME), _hit("pii.person", 9, 20)],
            {"pii.person": (1, 1, 0)},
            id="double-match-second-is-false-positive",
        ),
        pytest.param(
            [(*NAME, "PERSON")],
            [_hit("pii.person", *NAME), _hit("pii.person", *NAME)],
            {"pii.person": (1, 0, 0)},
            id="exact-duplicates-count-once",
        ),
        pytest.param(
            [(*NAME, "PERSON")],
            [_hit("pii.location", *NAME)],
            {"pii.person": (0, 0, 1), "pii.location": (0, 1, 0)},
            id="wrong-class-is-miss-plus-false-positive",
        ),
        pytest.param(
            [(*NAME, "ORGANIZATION"), (*PHONE, "DATE_TIME")],
            [],
            {},
            id="unmapped-gold-types-ignored",
        ),
        pytest.param(
            [(*NAME, "ORGANIZATION")],
            [_hit("pii.person", *NAME)],
            {"pii.person": (0, 1, 0)},
            id="prediction-on-unmapped-gold-is-false-positive",
        ),
        pytest.param(
            [(*EMAIL, "EMAIL_ADDRESS")],
            [
                _hit("pii.email", *EMAIL),
                _hit("secret.generic_password", *NAME),
                _hit("pii.vat_id", *PHONE),
            ],
            {"pii.email": (1, 0, 0)},
            id="unmapped-predicted-classes-ignored",
        ),
        pytest.param(
            [(*PHONE, "PHONE_NUMBER"), (*NAME, "GPE")],
            [_hit("pii.phone", 53, 65), _hit("pii.location", *NAME)],
            {"pii.phone": (1, 0, 0), "pii.location": (1, 0, 0)},
            id="gpe-is-location-and-partial-phone-counts",
        ),
    ],
)
def test_pii_span_scores(
    gold: list[tuple[int, int, str]], found: list[Hit], expected: dict[str, tuple[int, int, int]]
) -> None:
    report = evaluate(_pii(*gold), fake_scan({TEXT: found}), "pii")
    assert report.level == "span"
    assert _by_name(report.classes) == expected
    micro = report.micro
    assert (micro.tp, micro.fp, micro.fn) == tuple(
        sum(v[i] for v in expected.values()) for i in range(3)
    )


def test_micro_average_and_rates() -> None:
    examples = [
        Example(TEXT, "pii", ((*NAME, "PERSON"), (*EMAIL, "EMAIL_ADDRESS"))),
        Example("nothing to see", "no_pii"),
    ]
    scan = fake_scan(
        {TEXT: [_hit("pii.email", *EMAIL)], "nothing to see": [_hit("pii.phone", 0, 7)]}
    )
    report = evaluate(examples, scan, "pii")
    assert (report.micro.tp, report.micro.fp, report.micro.fn) == (1, 1, 1)
    assert report.micro.precision == 0.5 and report.micro.recall == 0.5
    assert report.micro.f1 == 0.5
    person = next(s for s in report.classes if s.name == "pii.person")
    assert person.support == 1 and person.precision is None and person.f1 == 0.0


def test_empty_input_has_undefined_rates_not_zeros() -> None:
    report = evaluate([], fake_scan({}), "pii")
    assert report.examples == 0
    assert report.micro.precision is None and report.micro.recall is None
    assert report.micro.f1 is None
    out = report.to_json()
    assert out["micro"] == {
        "name": "micro", "support": 0, "tp": 0, "fp": 0, "fn": 0,
        "precision": None, "recall": None, "f1": None,
    }  # fmt: skip
    documents = evaluate([], fake_scan({}), "secrets").to_json()
    assert documents["micro"]["false_positive_rate"] is None


def test_report_json_is_stable() -> None:
    examples = _pii((*NAME, "PERSON"), (*EMAIL, "EMAIL_ADDRESS"))
    scan = fake_scan({TEXT: [_hit("pii.email", *EMAIL), _hit("pii.person", *NAME)]})
    first = json.dumps(evaluate(examples, scan, "pii").to_json())
    assert first == json.dumps(evaluate(examples, scan, "pii").to_json())
    names = [row["name"] for row in json.loads(first)["classes"]]
    assert names == sorted(names) and "pii.street_address" in names


# --- document-level scoring ------------------------------------------------------------

SECRET_DOCS = [
    Example("key = AKIA-fake-one", "secret"),
    Example("token ghp-fake-two", "secret"),
    Example("password = hunter2-fake", "secret"),
    Example("version = 1.2.3", "benign"),
    Example("sha = 0123abcd", "benign"),
]


def test_document_scores_with_false_positive_rate() -> None:
    scan = fake_scan(
        {
            "key = AKIA-fake-one": [_hit("secret.aws_access_key", 6, 19)],
            "token ghp-fake-two": [_hit("secret.github_token", 6, 18), _hit("pii.email", 0, 3)],
            "sha = 0123abcd": [_hit("secret.generic_password", 6, 14)],
            "version = 1.2.3": [_hit("pii.ip_address", 10, 15)],  # not a secret: ignored
        }
    )
    report = evaluate(SECRET_DOCS, scan, "secrets")
    score = report.micro
    assert report.level == "document" and score.name == "secret.*"
    assert (score.tp, score.fp, score.fn, score.tn) == (2, 1, 1, 1)
    assert score.false_positive_rate == 0.5
    assert score.precision == pytest.approx(2 / 3) and score.recall == pytest.approx(2 / 3)
    assert report.fired == (
        ("secret.aws_access_key", 1, 0),
        ("secret.generic_password", 0, 1),
        ("secret.github_token", 1, 0),
    )


@pytest.mark.parametrize(
    ("task", "label", "found", "counted"),
    [
        pytest.param("legal", "legal", "legal.contract", True, id="legal-contract"),
        pytest.param("legal", "legal", "code.python", False, id="legal-ignores-code"),
        pytest.param("code", "code", "code.python", True, id="code-any-language"),
        pytest.param("code", "code", "legal.contract", False, id="code-ignores-legal"),
        pytest.param("injection", "injection", "injection.indirect", True, id="injection"),
        pytest.param("secrets", "secret", "secretive.x", False, id="prefix-needs-the-dot"),
    ],
)
def test_document_task_families(task: str, label: str, found: str, counted: bool) -> None:
    examples = [Example("some text", label)]
    report = evaluate(examples, fake_scan({"some text": [_hit(found, 0, 4)]}), task)  # type: ignore[arg-type]
    assert (report.micro.tp, report.micro.fn) == ((1, 0) if counted else (0, 1))


# --- reading files and choosing the task -----------------------------------------------


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_load_examples_reads_spans_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "x.jsonl",
        [{"text": TEXT, "label": "pii", "spans": [[*NAME, "PERSON"]], "source": "mine"}],
    )
    with path.open("a") as out:
        out.write("\n" + json.dumps({"text": "hi", "label": "no_pii"}) + "\n")
    examples = load_examples(path)
    assert examples == [
        Example(TEXT, "pii", ((*NAME, "PERSON"),), "mine"),
        Example("hi", "no_pii"),
    ]
    assert load_examples(path, limit=1) == examples[:1]


def test_empty_file_has_no_examples_and_no_task(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert load_examples(path) == []
    with pytest.raises(EvaluationDataError, match="pass --task"):
        infer_task([])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("{not json", "x.jsonl:2: not valid JSON", id="bad-json"),
        pytest.param("[1, 2]", "x.jsonl:2: expected a JSON object", id="not-object"),
        pytest.param('{"text": 1, "label": "pii"}', "must be strings", id="text-not-string"),
        pytest.param(
            '{"text": "abc", "label": "pii", "spans": [[0, 9, "PERSON"]]}',
            "bad span",
            id="span-past-end",
        ),
        pytest.param(
            '{"text": "abc", "label": "pii", "spans": [[2, 2, "PERSON"]]}',
            "bad span",
            id="empty-span",
        ),
        pytest.param(
            '{"text": "abc", "label": "pii", "spans": [[0, 2]]}', "bad span", id="span-no-type"
        ),
        pytest.param(
            '{"text": "abc", "label": "pii", "spans": "0-2"}', "must be a list", id="spans-str"
        ),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"text": "fine", "label": "benign"}) + "\n" + line + "\n")
    with pytest.raises(EvaluationDataError, match=message):
        load_examples(path)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(EvaluationDataError, match="cannot read"):
        load_examples(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("labels", "task"),
    [
        pytest.param(["pii", "no_pii"], "pii", id="pii"),
        pytest.param(["secret", "benign"], "secrets", id="secrets"),
        pytest.param(["benign", "code"], "code", id="code"),
        pytest.param(["legal"], "legal", id="legal"),
        pytest.param(["injection", "benign"], "injection", id="injection"),
    ],
)
def test_infer_task_from_labels(labels: list[str], task: str) -> None:
    assert infer_task([Example("t", label) for label in labels]) == task


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(["benign", "benign"], id="only-benign"),
        pytest.param(["secret", "code"], id="two-tasks"),
    ],
)
def test_infer_task_refuses_ambiguous_files(labels: list[str]) -> None:
    with pytest.raises(EvaluationDataError, match="cannot tell the task"):
        infer_task([Example("t", label) for label in labels])


@pytest.mark.parametrize(
    ("name", "source"),
    [
        pytest.param("injection-indirect.dev.jsonl", "retrieved", id="indirect"),
        pytest.param("injection-direct.dev.jsonl", "user", id="direct"),
        pytest.param("pii.jsonl", "user", id="other"),
    ],
)
def test_default_source(name: str, source: str) -> None:
    assert default_source(Path("/data") / name) == source


def test_texts_labelled_both_ways_are_left_out_and_counted() -> None:
    examples = [
        Example("key=abc", "secret"),
        Example("key=abc", "benign"),
        Example("token ghp_x", "secret"),
        Example("hello", "benign"),
    ]

    def scan(text: str) -> list[Hit]:
        return [_hit("secret.x", 0, 1)] if "key" in text or "ghp" in text else []

    report = evaluate(examples, scan, "secrets")
    assert report.contradictory == 2
    assert (report.micro.tp, report.micro.fp, report.micro.fn, report.micro.tn) == (1, 0, 0, 1)
