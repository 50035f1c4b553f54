"""Presidio behind a JSON-lines pipe; runs inside bench/.venv-presidio, never in Bastion's.

Started by ``bench.detect.presidio_client`` as ``<venv>/bin/python presidio_runner.py``.
Reads one JSON request per line on stdin and answers one JSON line on stdout (library
output is sent to stderr so it cannot corrupt the protocol). Requests:

* ``{"op": "load", "model": NAME}`` builds both configurations and answers versions,
  load times and the spaCy model's meta.
* ``{"op": "time", "config": C, "texts": [...], "budget_s": S, "min_calls": N,
  "max_calls": M}`` analyzes then anonymizes the texts in turn until the budget is
  spent (at least N, at most M calls) and answers the per-call nanoseconds of each
  step. Only the library calls are timed, never the pipe.
* ``{"op": "analyze", "config": C, "texts": [...], "entities": [...]}`` answers every
  text's results as ``[start, end, entity_type, score]``.
* ``{"op": "quit"}``.

Configurations: ``spacy`` is AnalyzerEngine with the spaCy NLP engine on the small
English model and the default recognizers (SpacyRecognizer included); ``patterns`` is
the documented NLP-free setup, ``nlp_engine_name: no_op`` (presidio_analyzer's
conf/no_op.yaml): the registry then loads no NER recognizer and only pattern and
checksum recognizers run. Both use the default score threshold (0) and the default
anonymizer operator (replace with ``<ENTITY_TYPE>``).
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import sys
import time
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # offline: bundled snapshot


def _build(model: str) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    engines: dict[str, Any] = {}
    info: dict[str, Any] = {"load_s": {}}
    configs = {
        "spacy": {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]},
        "patterns": {
            "nlp_engine_name": "no_op",
            "models": [{"lang_code": "en", "model_name": "no_op"}],
        },
    }
    for name, nlp_configuration in configs.items():
        started = time.perf_counter()
        nlp_engine = NlpEngineProvider(nlp_configuration=nlp_configuration).create_engine()
        engines[name] = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        info["load_s"][name] = round(time.perf_counter() - started, 3)
        info[f"{name}_recognizers"] = sorted(r.name for r in engines[name].get_recognizers("en"))
    nlp = engines["spacy"].nlp_engine.nlp["en"]
    meta = nlp.meta
    info["model"] = {
        "package": model,
        "name": f"{meta.get('lang')}_{meta.get('name')}",
        "version": meta.get("version"),
        "spacy_git_version": meta.get("spacy_git_version"),
        "pipeline": list(nlp.pipe_names),
        "ents_f": (meta.get("performance") or {}).get("ents_f"),
    }
    info["versions"] = {
        name: importlib.metadata.version(name)
        for name in ("presidio-analyzer", "presidio-anonymizer", "spacy")
    }
    info["python"] = sys.version.split()[0]
    return engines, AnonymizerEngine(), info


def _time(engine: Any, anonymizer: Any, request: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = request["texts"]
    budget_ns = int(float(request["budget_s"]) * 1e9)
    min_calls, max_calls = int(request["min_calls"]), int(request["max_calls"])
    analyze_ns: list[int] = []
    anonymize_ns: list[int] = []
    found = 0
    clock = time.perf_counter_ns
    started = clock()
    while len(analyze_ns) < max_calls and (
        len(analyze_ns) < min_calls or clock() - started < budget_ns
    ):
        text = texts[len(analyze_ns) % len(texts)]
        t0 = clock()
        results = engine.analyze(text=text, language="en")
        t1 = clock()
        anonymizer.anonymize(text=text, analyzer_results=results)
        t2 = clock()
        analyze_ns.append(t1 - t0)
        anonymize_ns.append(t2 - t1)
        found = len(results)
    return {"ok": True, "analyze_ns": analyze_ns, "anonymize_ns": anonymize_ns, "found": found}


def _analyze(engine: Any, request: dict[str, Any]) -> dict[str, Any]:
    entities = request.get("entities") or None
    answers = []
    for text in request["texts"]:
        results = engine.analyze(text=text, language="en", entities=entities)
        answers.append([[r.start, r.end, r.entity_type, round(r.score, 4)] for r in results])
    return {"ok": True, "results": answers}


def main() -> int:
    protocol = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints goes to the log, not the pipe
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    logging.getLogger("presidio-anonymizer").setLevel(logging.ERROR)
    engines: dict[str, Any] = {}
    anonymizer: Any = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "quit":
                answer: dict[str, Any] = {"ok": True}
            elif request["op"] == "load":
                engines, anonymizer, info = _build(request["model"])
                answer = {"ok": True, **info}
            elif request["op"] == "time":
                answer = _time(engines[request["config"]], anonymizer, request)
            elif request["op"] == "analyze":
                answer = _analyze(engines[request["config"]], request)
            else:
                answer = {"ok": False, "error": f"unknown op {request['op']!r}"}
        except Exception as exc:  # reported to the client, which decides
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
        if request.get("op") == "quit":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
