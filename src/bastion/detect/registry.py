"""The closed registry of data classes (CONTRACT.md §7): name, sensitivity, tier, docs.

``bastion classes --json`` prints it; the policy checks class names against it at load.
Secret and code classes come from the detectors' own tables, custom classes from config,
so the registry always says exactly what can be found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Sensitivity = Literal["public", "internal", "confidential", "restricted"]
SENSITIVITIES: tuple[Sensitivity, ...] = ("public", "internal", "confidential", "restricted")
Tier = Literal["fast", "second", "request", "response"]


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """One data class: what it is, how sensitive by default, which tier finds it."""

    name: str
    sensitivity: Sensitivity
    tier: Tier
    description: str
    active: bool = True


_PII: tuple[tuple[str, Sensitivity, str], ...] = (
    ("email", "confidential", "E-mail address."),
    ("phone", "confidential", "Phone number, international or national (validated)."),
    ("credit_card", "restricted", "Payment card number (Luhn and issuer checked)."),
    ("iban", "restricted", "International bank account number (mod-97 checked)."),
    ("us_ssn", "restricted", "US social security number."),
    ("national_id", "restricted", "National identity number (country and kind in meta)."),
    ("vat_id", "internal", "VAT number: EU, UK and Swiss (checksum validated)."),
    ("passport", "restricted", "Passport number near a passport keyword."),
    ("ip_address", "internal", "IPv4 or IPv6 address."),
    ("mac_address", "internal", "Network hardware (MAC) address."),
    ("date_of_birth", "confidential", "A date near words such as 'born' or 'DOB'."),
    ("street_address", "confidential", "Street address, P.O. box or postcode line."),
    ("person", "confidential", "A person's name."),
    ("location", "internal", "City, region or country name."),
    ("us_driver_license", "restricted", "US driver's licence number near a keyword."),
)
_SECOND_TIER_PII = frozenset({"person", "location", "street_address"})

_FIXED: tuple[ClassInfo, ...] = (
    ClassInfo("legal.contract", "confidential", "fast", "Contract or other legal text."),
    ClassInfo(
        "injection.direct", "internal", "fast", "Instruction override or jailbreak in prompts."
    ),
    ClassInfo(
        "injection.indirect",
        "internal",
        "fast",
        "Instructions addressed to the assistant from inside retrieved data or tool results.",
    ),
    ClassInfo("evasion.invisible", "internal", "fast", "Invisible characters inside words."),
    ClassInfo("evasion.tag_payload", "internal", "fast", "Text hidden in Unicode tag characters."),
    ClassInfo("evasion.encoded", "internal", "fast", "A finding hidden in an encoded run."),
    ClassInfo("evasion.homoglyph", "internal", "fast", "Look-alike letters from other scripts."),
    ClassInfo(
        "output.system_prompt_leak",
        "confidential",
        "response",
        "A canary planted in the system prompt appears in the answer (detectors.output.canaries).",
    ),
    ClassInfo(
        "output.exfil_link",
        "confidential",
        "response",
        "A link or image in the answer to a host not on detectors.output.link_allow_domains.",
    ),
    ClassInfo(
        "content.unscanned", "confidential", "request", "Content Bastion cannot read (files, ...)."
    ),
)


def build_registry(
    *,
    secret_classes: Iterable[tuple[str, str]],
    code_languages: Iterable[str],
    custom: Iterable[tuple[str, Sensitivity]],
    second_tier: bool = True,
    injection: bool = False,
    output: Iterable[str] = (),
) -> dict[str, ClassInfo]:
    """Every class Bastion can report, in a stable order (name → info); ``output`` names
    the answer-side classes whose detectors run (the others are listed inactive)."""
    entries: list[ClassInfo] = [
        ClassInfo(f"pii.{name}", sensitivity, "fast", description)
        if name not in _SECOND_TIER_PII
        else ClassInfo(
            f"pii.{name}",
            sensitivity,
            "second",
            description + " Bastion's tagger; a NER model can be added (detectors.second_tier).",
            second_tier,
        )
        for name, sensitivity, description in _PII
    ]
    entries += [
        ClassInfo(name, "restricted", "fast", description)
        for name, description in sorted(set(secret_classes))
    ]
    entries += [
        ClassInfo(f"code.{language}", "confidential", "fast", f"Source code ({language}).")
        for language in sorted(set(code_languages))
    ]
    entries += [
        ClassInfo(f"custom.{name}", sensitivity, "fast", "Declared in detectors.custom.")
        for name, sensitivity in custom
    ]
    answer_side = frozenset(output)
    for info in _FIXED:
        active = injection or not info.name.startswith("injection.")
        if info.tier == "response":
            active = info.name in answer_side
        entries.append(ClassInfo(info.name, info.sensitivity, info.tier, info.description, active))
    return {entry.name: entry for entry in entries}
