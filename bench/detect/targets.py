"""The systems the detection benchmark times, built once per run.

* ``bastion-fast``: ``build_scanner(tier="fast")`` without the injection detector:
  patterns, validators, normalisation, code and legal detectors (DESIGN.md's budget row
  "request detection, fast tier, incl. normalisation");
* ``bastion-fast-injection``: the same with the injection detector, as a request is
  scanned (DESIGN.md budgets the injection detector on its own row);
* ``bastion-tagger``: ``build_scanner(tier="tagger")`` without injection, plus names,
  places and addresses (Bastion's tagger: the second tier, as the quickstart runs it);
* ``bastion-ner``: ``build_scanner(tier="ner")`` without injection, the tagger combined
  with spaCy's NER;
* ``presidio-spacy``: Presidio's AnalyzerEngine with spaCy's small English model and the
  default recognizers, then AnonymizerEngine on its results;
* ``presidio-patterns``: the same without NER (``no_op`` NLP engine), then anonymize.

A target that cannot be built is kept with the reason and reported as unavailable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bastion.detect.catalog import Tier
from bench.detect import presidio_env
from bench.detect.presidio_client import PresidioRunner, running_presidio
from bench.detect.timing import Calls, Target, TimeCalls, time_in_process

BASTION_TARGETS: tuple[tuple[str, str, Tier, bool], ...] = (  # name, label, tier, injection
    ("bastion-fast", "Bastion, fast tier", "fast", False),
    ("bastion-fast-injection", "Bastion, fast tier + injection detector", "fast", True),
    ("bastion-tagger", "Bastion, fast tier + tagger (second tier)", "tagger", False),
    ("bastion-ner", "Bastion, fast tier + tagger + spaCy NER", "ner", False),
)
_PRESIDIO_TEXTS = 200  # texts sent to Presidio's runner per visit, scanned in turn
PRESIDIO_TARGETS = (
    ("presidio-spacy", "spacy", "Presidio, spaCy sm NER + patterns, analyze + anonymize"),
    ("presidio-patterns", "patterns", "Presidio, patterns only (no NER), analyze + anonymize"),
)


def _bastion(name: str, label: str, tier: Tier, injection: bool) -> Target:
    try:
        from bastion.config.schema import DetectorsConfig
        from bastion.detect.catalog import build_scanner

        config = DetectorsConfig.model_validate({"injection": {"enabled": injection}})
        started = time.perf_counter()
        scanner = build_scanner(config, tier=tier)
        build_s = time.perf_counter() - started
    except Exception as exc:  # any failure makes the target unavailable, with the reason
        return Target(name, label, unavailable=f"{type(exc).__name__}: {exc}")

    def scan(text: str) -> object:
        return scanner.scan(text, source="user")

    info = {"tier": tier, "injection": injection, "build_s": round(build_s, 3)}
    return Target(name, label, time_in_process(scan), info=info)


def _presidio_timer(runner: PresidioRunner, config: str) -> TimeCalls:
    def time_calls(texts: Sequence[str], budget_s: float, min_calls: int, max_calls: int) -> Calls:
        # the runner takes a list; Presidio keeps no per-text state worth defeating
        sent = [texts[i] for i in range(min(len(texts), _PRESIDIO_TEXTS))]
        analyze, anonymize = runner.time_calls(
            config, sent, budget_s=budget_s, min_calls=min_calls, max_calls=max_calls
        )
        total = [a + b for a, b in zip(analyze, anonymize, strict=True)]
        return Calls(total, {"analyze": analyze, "anonymize": anonymize})

    return time_calls


@contextmanager
def prepared_targets(*, with_presidio: bool, log: Path) -> Iterator[list[Target]]:
    """Every target, Presidio's runner started when asked for and stopped at the end."""
    targets = [_bastion(*target) for target in BASTION_TARGETS]
    with ExitStack() as stack:
        runner: PresidioRunner | None = None
        reason = "skipped (--no-presidio)"
        if with_presidio:
            print(f"starting Presidio (log in {log}) ...", flush=True)
            try:
                runner = stack.enter_context(running_presidio(log))
            except RuntimeError as exc:
                reason = str(exc)
        for name, config, label in PRESIDIO_TARGETS:
            if runner is None:
                targets.append(Target(name, label, unavailable=reason))
                continue
            info = {
                "config": config,
                "versions": runner.info.get("versions"),
                "load_s": runner.info.get("load_s", {}).get(config),
                "recognizers": runner.info.get(f"{config}_recognizers"),
                "pins": presidio_env.PINS,
            }
            if config == "spacy":
                info["model"] = runner.info.get("model")
            targets.append(Target(name, label, _presidio_timer(runner, config), info=info))
        yield targets
