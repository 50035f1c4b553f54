"""The scanner: thresholds, overlap resolution within a family, document detectors."""

from __future__ import annotations

from bastion.detect.catalog import build_scanner, builtin_patterns
from bastion.detect.custom import CustomClass, TermMatcher
from bastion.detect.engine import Engine
from bastion.detect.patterns import Hit, Pattern
from bastion.detect.scanner import Scanner

PATTERNS = [
    Pattern(
        id="t.card", data_class="pii.credit_card", regex=r"\b\d{4} \d{4} \d{4} \d{4}\b", score=0.9
    ),
    Pattern(id="t.phone", data_class="pii.phone", regex=r"\b\d{4} \d{4}\b", score=0.6),
    Pattern(id="t.weak", data_class="pii.person", regex=r"\bZed\b", score=0.3),
    Pattern(id="t.key", data_class="secret.test_key", regex=r"\bTK-\d{4} \d{4}\b", score=0.9),
]


class Region:
    name = "test.region"

    def detect(self, text: str) -> list[Hit]:
        at = text.find("WHEREAS")
        return [Hit("legal.contract", at, len(text), 0.8, self.name)] if at >= 0 else []


def scanner(**kwargs: object) -> Scanner:
    return Scanner(Engine(PATTERNS), documents=[Region()], normalise=False, **kwargs)  # type: ignore[arg-type]


def classes(hits: list[Hit]) -> list[str]:
    return [h.data_class for h in hits]


def test_the_strongest_of_overlapping_findings_in_a_family_wins() -> None:
    result = scanner().scan("card 4111 1111 1111 1111 and TK-1111 1111")
    # the phone-shaped runs inside the card lose to it; families do not compete
    assert classes(result.findings) == ["pii.credit_card", "secret.test_key", "pii.phone"]


def test_thresholds_and_all_scores() -> None:
    text = "Zed signed. WHEREAS the parties agree"
    assert classes(scanner().scan(text).findings) == ["legal.contract"]
    everything = scanner().scan(text, all_scores=True)
    assert classes(everything.findings) == ["pii.person", "legal.contract"]
    assert everything.doc_scores == {"pii.person": 0.3, "legal.contract": 0.8}
    lowered = scanner(thresholds={"pii.person": 0.2, "legal.contract": 0.9}).scan(text)
    assert classes(lowered.findings) == ["pii.person"]


def test_documents_can_be_skipped() -> None:
    assert scanner().scan("WHEREAS", documents=False).findings == []


def test_names_and_places_come_from_the_second_tier() -> None:
    from bastion.config.schema import DetectorsConfig
    from bastion.detect.catalog import build_scanner, class_registry

    text = "Maria Garcia moved to Lisbon; mail maria@example.com"
    fast = {h.data_class for h in build_scanner(tier="fast").scan(text).findings}
    tagger = {h.data_class for h in build_scanner(tier="tagger").scan(text).findings}
    assert fast == {"pii.email"}
    assert {"pii.person", "pii.location", "pii.email"} <= tagger
    off = DetectorsConfig(second_tier={"enabled": False})
    assert class_registry(off)["pii.person"].active is False
    assert class_registry()["pii.person"].tier == "second"


def test_a_lone_surrogate_is_read_as_a_replacement_character() -> None:
    """A JSON line of ``bastion scan --jsonl`` may decode to a lone surrogate ("\\ud800"),
    which has no UTF-8 form: the scan goes on, offsets stay those of the text."""
    text = "a\ud800 mail dana@example.com \udfff end"
    [hit] = [
        h for h in build_scanner(tier="fast").scan(text).findings if h.data_class == "pii.email"
    ]
    assert text[hit.start : hit.end] == "dana@example.com"


def test_a_finding_a_projection_reveals_whole_replaces_the_part_read_as_it_is() -> None:
    """Zero-width characters inside an e-mail's local part left "n@example.org" readable
    as it is; the whole address the visible projection reads overlapped it and was
    dropped, so redaction left "j\\u200bo\\u200bh" for the model to read."""
    zw = "\u200b"
    for hidden in (zw.join("john") + "@example.org", "jo\\uff48n@example.org"):
        text = f'{{"mail": "{hidden}"}}'
        found = build_scanner(tier="fast").scan(text).findings
        assert [(h.start, h.end) for h in found if h.data_class == "pii.email"] == [
            (10, 10 + len(hidden))
        ]


def test_values_across_a_seam_are_found_whether_patterns_terms_or_projections_show_them() -> None:
    custom = [
        CustomClass("project", terms=("Blue Falcon",)),
        CustomClass("crew", terms=("kestrel",)),
    ]
    engine = Engine(builtin_patterns())
    fullwidth = str.maketrans({d: chr(ord(d) + 0xFEE0) for d in "0123456789"})
    plain, with_terms = Scanner(engine), Scanner(engine, terms=TermMatcher(custom))
    seams = [
        (plain, "card 4111 1111 1111 1111 ok", 14, ["pii.credit_card"]),
        (plain, "card 4111 1111 1111 1111 ok", 4, []),  # the value starts after the seam
        (plain, "plain words only here", 5, []),
        # fullwidth digits: only the nfkc projection reads the card
        (plain, "card 4111 1111 1111 1111 ok".translate(fullwidth), 14, ["pii.credit_card"]),
        (with_terms, "the Blue Falcon flies", 8, ["custom.project"]),
        (with_terms, "a kestrel flies", 9, []),  # one word: never across a space
    ]
    for scanner, text, at, expected in seams:
        found = scanner.across(text, at)
        assert classes(found) == expected, text
        assert all(hit.start < at < hit.end - 1 for hit in found)
