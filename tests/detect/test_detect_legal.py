"""``legal.contract``: clauses, whole agreements, near-misses about law, hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.detect import legal_weights
from bastion.detect.legal import LegalDetector
from bastion.detect.legal_signals import SIGNALS, signature

DETECTOR = LegalDetector()
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "legal.dev.jsonl"


def score(text: str) -> float:
    hits = DETECTOR.detect(text)
    return max((hit.score for hit in hits), default=0.0)


AGREEMENT = """MASTER SERVICES AGREEMENT

This Master Services Agreement (the "Agreement") is entered into as of March 1, 2024 (the
"Effective Date") by and between Northwind Ltd., a Delaware corporation ("Provider"), and
Contoso LLC ("Client").

1. Services. Provider shall perform the services described in each Statement of Work.

2. Fees. Client shall pay all undisputed invoices within forty-five (45) days of receipt.

3. Term and Termination. Either Party may terminate this Agreement upon sixty (60) days'
prior written notice to the other Party.

IN WITNESS WHEREOF, the Parties have executed this Agreement as of the Effective Date.

By: ____________________
Name: Dana Reyes
Title: Chief Executive Officer
"""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(AGREEMENT, id="whole-agreement"),
        pytest.param(
            "This Agreement shall be governed by and construed in accordance with the laws of "
            "the State of Delaware, without regard to its conflict of laws principles.",
            id="governing-law",
        ),
        pytest.param(
            "Licensee shall indemnify, defend and hold harmless Licensor from and against any "
            "and all claims arising out of Licensee's use of the Software.",
            id="indemnity",
        ),
        pytest.param(
            '"Confidential Information" means any non-public information disclosed by either '
            "Party to the other Party, whether orally or in writing.",
            id="definition",
        ),
        pytest.param(
            "Neither party may assign this Agreement without the prior written consent of the "
            "other party, which consent shall not be unreasonably withheld.",
            id="assignment",
        ),
        pytest.param(
            "By using the Service you agree to these Terms. We may suspend or terminate your "
            "account at any time, in our sole discretion, without notice or liability, if you "
            'breach these Terms. The Service is provided "AS IS" without warranty of any kind.',
            id="terms-of-service",
        ),
    ],
)
def test_contract_text_is_found(text: str) -> None:
    assert score(text) >= 0.8


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("What does 'indemnify' mean in a contract?", id="term-question"),
        pytest.param("Can you explain force majeure in simple words?", id="concept-question"),
        pytest.param(
            "Shares fell 6% after a judge allowed the lawsuit to proceed. The plaintiffs say "
            "the firm breached its agreement with them; the company said it would appeal.",
            id="news-about-lawsuit",
        ),
        pytest.param(
            "Privacy notice: we collect your email address and how you use the app, and use it "
            "to run and improve the service. Ask us at any time to delete your data.",
            id="privacy-notice",
        ),
        pytest.param(
            "Hi Sam, legal is happy with the supplier agreement. Can you get it signed by both "
            "parties before Friday? Thanks, Jo",
            id="email-about-contract",
        ),
        pytest.param(
            "Lemon cake\n1. Beat 200 g butter with 200 g sugar.\n2. Add 4 eggs, one at a time."
            "\n3. Fold in 200 g flour and the zest of 2 lemons.\n4. Bake 40 minutes.",
            id="recipe-numbered",
        ),
        pytest.param(
            "Section 2: Setup\n\n2.1 Download the app.\n2.2 Sign in with your account.\n"
            "2.3 Allow notifications.",
            id="manual-sections",
        ),
        pytest.param("The party starts at 8; bring snacks and a friend!", id="party"),
        pytest.param(
            "Draft an email to my landlord asking if I can end my lease a month early.",
            id="instruction",
        ),
        pytest.param(
            "Here is the slide deck: https://www.dropbox.com/s/abc123/deck.pptx",
            id="share-link-with-s-path",
        ),
        pytest.param("Our wiki: https://confluence.example.com/s/en_GB/page", id="wiki-link"),
        pytest.param("iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB/s/QaCAYAAAAfFcSJAAAADUlEQVR4", id="base64"),
    ],
)
def test_prose_about_law_is_not_a_contract(text: str) -> None:
    assert score(text) < 0.5


def test_span_covers_the_pasted_clause() -> None:
    clause = (
        "Each Party shall keep the terms of this Agreement confidential and shall not "
        "disclose them to any third party without the prior written consent of the other Party."
    )
    text = "Can you simplify this for me?\n\n" + clause + "\n\nThanks!"
    hits = DETECTOR.detect(text)
    assert len(hits) == 1 and hits[0].data_class == "legal.contract"
    assert text[hits[0].start : hits[0].end] == clause


@pytest.mark.parametrize(
    "signature",
    ["By: /s/ Dana Reyes", "/s/ Dana Reyes", "Approved (/s/Dana Reyes)"],
)
def test_a_conformed_signature_still_counts(signature: str) -> None:
    body = AGREEMENT.replace("By: ____________________", signature)
    assert score(body) >= 0.9


def test_long_contract_is_one_hit_spanning_it() -> None:
    text = "Please review:\n\n" + "\n\n".join([AGREEMENT] * 8)
    hits = DETECTOR.detect(text)
    assert len(hits) == 1 and hits[0].score >= 0.9
    assert hits[0].end - hits[0].start > len(AGREEMENT) * 7


def test_trained_weights_match_the_signal_table() -> None:
    # editing legal_signals.SIGNALS without rerunning the training script fails here
    assert signature() == legal_weights.SIGNATURE
    assert len(legal_weights.WEIGHTS) == len(SIGNALS)


@pytest.mark.skipif(not DATA.exists(), reason="labelled data (shared/data) not present")
def test_dev_set_f1() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    tp = fp = fn = 0
    for row in rows:
        predicted = score(row["text"]) >= 0.5
        actual = row["label"] == "legal"
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.95


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("shall " * 16_000, id="shall-repeated"),
        pytest.param('("A") ' * 16_000, id="defined-terms"),
        pytest.param("1.1 " * 25_000, id="section-numbers"),
        pytest.param("x" * 100_000, id="one-long-word"),
        pytest.param("\n" * 100_000, id="newlines"),
        pytest.param("Party \ud800 shall", id="surrogate"),
        pytest.param("", id="empty"),
    ],
)
def test_hostile_input_is_safe(text: str) -> None:
    hits = DETECTOR.detect(text)  # linear passes only; speed is measured in bench/detect
    assert len(hits) <= 1
