"""How a catalogue row is written: the ``Pattern`` builder and shared RE2 fragments.

Every secret pattern id is ``secret.<provider>.<kind>`` and every class
``secret.<provider>_<kind>``; ``meta`` carries the provider and kind so a finding says
what it is without a lookup. The fragments below keep the catalogues readable and
consistent (RE2 has no lookaround, so a token's right edge is a consumed terminator
outside the capture group, and the group is the value alone).
"""

from __future__ import annotations

from bastion.detect.patterns import Pattern, Validator

# Right edge of a token made of [A-Za-z0-9_-]: the next character is not part of it.
END = r"(?:[^A-Za-z0-9_\-]|$)"
# Right edge of a standard-base64 value.
END64 = r"(?:[^A-Za-z0-9+/=]|$)"
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Between a key and its value: optional closing quote, then = : => := (spaces allowed).
ASSIGN = r"""["'\]]?\s*(?:=>|:=|[:=])\s*"""
# The same, also allowing a comma (function arguments: env('KEY', 'value')).
ASSIGN_OR_ARG = r"""["'\]]?\s*(?:=>|:=|[:=,])\s*"""
# An optional opening quote before a value.
OPEN = r"""["'`]?"""
# Score of infrastructure identifiers (ARNs, bucket names, client ids): describing private
# infrastructure is not handing over a credential, so by default they sit just below the
# scanner's default threshold (0.5) and appear only with lower thresholds or all_scores.
IDENTIFIER_SCORE = 0.4
# Identifier characters that may glue a vendor keyword to the key name (AWS_SECRET_KEY).
KEYNAME = r"[A-Za-z0-9_.\-]*"


def row(
    provider: str,
    kind: str,
    regex: str,
    *,
    data_class: str | None = None,
    group: int = 0,
    validator: Validator | None = None,
    score: float = 0.9,
    context: tuple[str, ...] = (),
    requires_context: bool = False,
    name: str | None = None,
) -> Pattern:
    """One secret pattern; the class defaults to ``secret.<provider>_<kind>``."""
    return Pattern(
        id=f"secret.{provider}.{name or kind}",
        data_class=f"secret.{data_class or f'{provider}_{kind}'}",
        regex=regex,
        score=score,
        group=group,
        validator=validator,
        context=context,
        requires_context=requires_context,
        meta={"provider": provider, "kind": kind},
    )
