"""Prompt-injection detection: ``injection.direct`` in prompts, ``injection.indirect`` in data.

``InjectionDetector`` combines RE2 rules (``rules``) with a small linear window
classifier shipped as ``weights.json`` (``model``, trained by bench/injection/train.py).
"""

from __future__ import annotations

from bastion.detect.injection.detector import DATA_SOURCES, InjectionDetector, data_class

__all__ = ["DATA_SOURCES", "InjectionDetector", "data_class"]
