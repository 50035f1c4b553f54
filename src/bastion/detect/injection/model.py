"""The trained injection classifier: two linear window models read from ``weights.json``.

``weights.json`` ships inside the package and is written by ``bench/injection/train.py``
(never edited by hand). It holds, for each reading (``direct``: a prompt; ``indirect``:
retrieved data or a tool result), the window size, the bias, the token and token-pair
weights, and the Platt calibration ``(a, b)`` that turns a window's log-odds ``z`` into
a probability ``1 / (1 + exp(-(a z + b)))``, fitted on cross-validation folds; plus the
default threshold per source. Format 2: the weights of marks, line breaks and markers
multiply their saturated count in a window (``features.saturate``: logarithmic past the
knee, bounded by ``CEILING``; the shipped weights were fitted before the bound, which
changes no score below nine repeats in a window), not their count.
Nothing is downloaded; loading takes a few milliseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bastion.detect.injection.features import WindowScorer

FORMAT = 2
WEIGHTS_FILE = "weights.json"


@dataclass(frozen=True, slots=True)
class Reading:
    """One linear window model with its calibration."""

    scorer: WindowScorer
    platt_a: float
    platt_b: float

    def probability(self, z: float) -> float:
        """The calibrated probability of a window with log-odds ``z``."""
        t = max(-30.0, min(30.0, self.platt_a * z + self.platt_b))
        return 1.0 / (1.0 + math.exp(-t))

    def log_odds(self, probability: float) -> float:
        """The window log-odds whose calibrated probability is ``probability``."""
        p = min(max(probability, 1e-9), 1.0 - 1e-9)
        return (math.log(p / (1.0 - p)) - self.platt_b) / self.platt_a

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Reading:
        scorer = WindowScorer(
            float(entry["bias"]),
            {key: float(w) for key, w in entry["words"].items()},
            {key: float(w) for key, w in entry["pairs"].items()},
            int(entry["window"]),
        )
        a, b = entry["platt"]
        return cls(scorer, float(a), float(b))


@dataclass(frozen=True, slots=True)
class InjectionModel:
    """Both readings and the default threshold of each source."""

    direct: Reading
    indirect: Reading
    thresholds: Mapping[str, float]

    @property
    def markers(self) -> frozenset[str]:
        """The markers either reading weighs: the only ones a detector looks for."""
        return self.direct.scorer.markers | self.indirect.scorer.markers

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> InjectionModel:
        if document.get("format") != FORMAT:
            raise ValueError(f"injection weights: format {document.get('format')!r} != {FORMAT}")
        return cls(
            Reading.from_json(document["direct"]),
            Reading.from_json(document["indirect"]),
            {str(k): float(v) for k, v in document["thresholds"].items()},
        )


@cache
def packaged_model() -> InjectionModel:
    """The model shipped with Bastion (read once per process)."""
    raw = resources.files("bastion.detect.injection").joinpath(WEIGHTS_FILE).read_text("utf-8")
    return InjectionModel.from_json(json.loads(raw))
