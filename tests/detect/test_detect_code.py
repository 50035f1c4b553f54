"""``code.<language>``: languages, spans, prose near-misses, fences, hostile input, speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.detect.code import LANGUAGES, CodeDetector
from bastion.detect.patterns import Hit

DETECTOR = CodeDetector()


def top(text: str) -> Hit | None:
    hits = DETECTOR.detect(text)
    return max(hits, key=lambda hit: hit.score) if hits else None


def found(text: str) -> list[str]:
    return [hit.meta["language"] for hit in DETECTOR.detect(text) if hit.score >= 0.5]


PYTHON = """def mean(values):
    if not values:
        raise ValueError("empty")
    return sum(values) / len(values)
"""
GO = """package main

import "fmt"

func main() {
\tcount := 3
\tfmt.Println(count)
}
"""
RUST = """fn total(prices: &[u32]) -> u32 {
    let mut sum = 0;
    for p in prices { sum += p; }
    sum
}
"""
JAVA = """public class Greeter {
    public static void main(String[] args) {
        System.out.println("hello");
    }
}
"""
C = """#include <stdio.h>

int main(void) {
    printf("%d\\n", 42);
    return 0;
}
"""
CPP = """#include <vector>
#include <iostream>

int main() {
    std::vector<int> xs{1, 2};
    std::cout << xs.size() << std::endl;
}
"""
CSHARP = """using System;

public class Account {
    public string Owner { get; set; }
    public void Print() { Console.WriteLine(Owner); }
}
"""
TYPESCRIPT = """interface Point {
  x: number;
  y: number;
}

export function norm(p: Point): number {
  return Math.sqrt(p.x * p.x + p.y * p.y);
}
"""
JAVASCRIPT = """const items = [1, 2, 3];
const doubled = items.map((x) => x * 2);
console.log(doubled);
"""
KOTLIN = """data class User(val name: String)

fun greet(user: User): String {
    val greeting = "Hi"
    return greeting + user.name
}
"""
SWIFT = """import Foundation

func area(width: Double, height: Double) -> Double {
    guard width > 0 else { return 0 }
    return width * height
}
"""
RUBY = """class Cart
  attr_reader :items

  def total
    items.sum { |i| i.price }
  end
end
"""
PHP = """<?php
function greet($name) {
    echo "Hello " . $name;
}
"""
SQL = """SELECT id, email
FROM users
WHERE created_at > '2024-01-01'
ORDER BY id;
"""
SHELL = """#!/bin/bash
for f in *.txt; do
  wc -l "$f"
done
"""
POWERSHELL = """Get-Service | Where-Object { $_.Status -eq 'Running' } | Sort-Object Name"""
HTML = """<!DOCTYPE html>
<html>
  <body>
    <p class="note">Hello</p>
  </body>
</html>
"""
CSS = """.button {
  color: #fff;
  padding: 4px 8px;
}
"""


@pytest.mark.parametrize(
    ("text", "language"),
    [
        pytest.param(PYTHON, "python", id="python"),
        pytest.param(GO, "go", id="go"),
        pytest.param(RUST, "rust", id="rust"),
        pytest.param(JAVA, "java", id="java"),
        pytest.param(C, "c", id="c"),
        pytest.param(CPP, "cpp", id="cpp"),
        pytest.param(CSHARP, "csharp", id="csharp"),
        pytest.param(TYPESCRIPT, "typescript", id="typescript"),
        pytest.param(JAVASCRIPT, "javascript", id="javascript"),
        pytest.param(KOTLIN, "kotlin", id="kotlin"),
        pytest.param(SWIFT, "swift", id="swift"),
        pytest.param(RUBY, "ruby", id="ruby"),
        pytest.param(PHP, "php", id="php"),
        pytest.param(SQL, "sql", id="sql"),
        pytest.param(SHELL, "shell", id="shell"),
        pytest.param(POWERSHELL, "powershell", id="powershell"),
        pytest.param(HTML, "html", id="html"),
        pytest.param(CSS, "css", id="css"),
    ],
)
def test_language_is_named(text: str, language: str) -> None:
    hit = top(text)
    assert hit is not None and hit.score >= 0.8
    assert hit.data_class == f"code.{language}"
    assert hit.meta == {"language": language}
    assert language in LANGUAGES


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Can you explain what a decorator is in Python?", id="question-about-code"),
        pytest.param("Run pip install requests and then try again.", id="command-in-sentence"),
        pytest.param("Solve for x: 3x + 7 = 22. Show each step.", id="equation"),
        pytest.param("If f(x) = 2x^2 - 3, what is f(4)?", id="function-notation"),
        pytest.param(
            "Hi Ana,\n\nThe draft is attached; comments welcome.\n\nBest,\n--\nLuis Ortega\n"
            "Product Lead | Acme Ltd\nTel: +34 600 000 000",
            id="email-signature",
        ),
        pytest.param(
            "Pancakes\n1. Whisk 2 eggs with 250 ml milk.\n2. Add 150 g flour and a pinch of "
            "salt.\n3. Fry in butter (medium heat) for 2 minutes a side.",
            id="recipe",
        ),
        pytest.param(
            "The ruling (issued Monday) says the firm must pay $2m; shares fell 4%.",
            id="news-with-punctuation",
        ),
        pytest.param('{\n  "name": "demo",\n  "version": "1.0.0"\n}', id="json-config"),
        pytest.param("server:\n  port: 8080\n  host: 0.0.0.0\n", id="yaml-config"),
        pytest.param(
            "Is `==` in JavaScript different from `===`? When should I use which?", id="inline"
        ),
        pytest.param("| a | b |\n|---|---|\n| 1 | 2 |", id="markdown-table"),
        pytest.param("Summary\n=======\nThe quarter went well.", id="markdown-heading"),
        pytest.param("=====\nImportant\n=====\nRead this first.", id="rule-of-equals"),
    ],
)
def test_prose_and_config_are_not_code(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        pytest.param('print("hi")', 0.3, 0.7, id="lone-line-is-borderline"),
        pytest.param('Why does print("hi") fail in Python 2?', 0.0, 0.3, id="line-in-question"),
        pytest.param("import os", 0.1, 0.5, id="bare-import"),
        pytest.param("SELECT name FROM users WHERE id = 7", 0.5, 1.0, id="one-line-query"),
    ],
)
def test_one_liners_score_modestly(text: str, low: float, high: float) -> None:
    hit = top(text)
    score = hit.score if hit else 0.0
    assert low <= score <= high


def test_span_covers_the_code_not_the_question() -> None:
    question = "My function crashes on empty input, why?\n\n"
    outro = "\n\nThanks for any help!"
    text = question + PYTHON.strip() + outro
    hit = top(text)
    assert hit is not None and hit.data_class == "code.python"
    assert text[hit.start : hit.end] == PYTHON.strip()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        pytest.param("Fix this:\n```python\nx = compute()\n```\nthanks", "python", id="tag"),
        pytest.param("```rs\nlet v = 1;\n```", "rust", id="alias-tag"),
        pytest.param("```\nSELECT * FROM t;\n```", "sql", id="untagged-by-content"),
    ],
)
def test_fenced_blocks(text: str, language: str) -> None:
    hit = top(text)
    assert hit is not None and hit.score >= 0.5 and hit.meta["language"] == language
    assert "```" not in text[hit.start : hit.end]


def test_fenced_data_is_not_code() -> None:
    assert found('```json\n{"a": 1, "b": [2, 3]}\n```') == []


def test_two_languages_in_one_prompt() -> None:
    text = f"Backend:\n\n{GO}\n\nAnd the query it runs:\n\n{SQL}"
    assert set(found(text)) == {"go", "sql"}


def test_unknown_language_is_other() -> None:
    perl_like = "```lua\nlocal t = {}\nfor i = 1, 10 do\n  t[i] = i * i\nend\n```"
    hit = top(perl_like)
    assert hit is not None and hit.data_class == "code.other" and hit.score >= 0.5


def test_hits_are_well_formed() -> None:
    text = "intro\n\n" + JAVA + "\n\n" + CSS
    hits = DETECTOR.detect(text)
    assert 1 <= len(hits) <= 3
    for hit in hits:
        assert 0 <= hit.start < hit.end <= len(text)
        assert 0.0 <= hit.score <= 1.0 and hit.detector == "code"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{" * 100_000, id="braces"),
        pytest.param(";" * 100_000, id="semicolons"),
        pytest.param("x = f(y);\n" * 10_000, id="code-lines"),
        pytest.param("abc def(ghi) = jkl; " * 5_000, id="one-long-line"),
        pytest.param("```\n" * 25_000, id="fences"),
        pytest.param("\ud800 lone surrogate ( = ;", id="surrogate"),
        pytest.param("", id="empty"),
    ],
)
def test_hostile_input_is_safe(text: str) -> None:
    hits = DETECTOR.detect(text)  # linear passes only; speed is measured in bench/detect
    assert len(hits) <= 3


DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "code.dev.jsonl"


@pytest.mark.skipif(not DATA.exists(), reason="labelled data (shared/data) not present")
def test_dev_set_f1() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    tp = fp = fn = 0
    for row in rows:
        predicted = bool(found(row["text"]))
        actual = row["label"] == "code"
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
    assert 2 * tp / (2 * tp + fp + fn) >= 0.95
