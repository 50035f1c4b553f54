"""K1 canary test for content retention (RELIABILITY.md K1, docs/audit.md).

One real gateway keeps content per app and team: ``none`` (the default), ``redacted``
(app-red), ``encrypted`` (app-enc) and ``full`` (team research). Each mode's calls carry
their own canaries — an AWS-style key, an email, an SSN, a card number — in prompts and,
through the simulator's echo and pseudonym restoration, in answers; plain and streamed.
Then every sink is grepped: the gateway's log, the SQLite files (``-wal`` included), the
audit write-ahead log, checkpoints, ``/metrics``, error bodies and CLI output.

* ``none`` and ``redacted`` canaries appear nowhere;
* ``full`` canaries appear in the database files, and ``encrypted`` canaries in
  ``bastion audit show --decrypt`` output (the positive controls: the grep reaches the
  sinks where content is kept) — and nowhere else;
* ``encrypted`` content does not open with another keyring;
* after erasing one subject and purging the rest, no canary is left in any file and
  ``bastion audit verify`` passes.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack, running_stack
from tests.e2e.processes import BASTION

POLICY = """\
name: canary
version: "1"
rules:
  - id: iban.block
    match: {classes: [pii.iban]}
    action: block
    message: "IBANs may not be sent ({classes})."
  - id: pii.pseudonymise
    match: {classes: ["pii.*"]}
    action: redact
    transform: pseudonymise
  - id: secret.mask
    match: {classes: ["secret.*"]}
    action: redact
    transform: mask
"""
RETENTION = """\
policy: {file: policy.yaml}
audit:
  flush_interval_s: 0.02
  content:
    default: none
    apps: {app-red: redacted, app-enc: encrypted}
    teams: {research: full}
"""
IBAN = "GB82 WEST 1234 5698 7654 32"


def _luhn(digits: str) -> str:
    """``digits`` plus the check digit that makes a valid card number."""
    for check in "0123456789":
        total = 0
        for position, char in enumerate(reversed(digits + check)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return digits + check
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Canaries:
    """One mode's planted values, unique to it."""

    mode: str
    aws_key: str
    email: str
    ssn: str
    card: str

    @classmethod
    def of(cls, mode: str, n: int) -> Canaries:
        card = _luhn(f"453201511283{n}00")
        spaced = " ".join(card[i : i + 4] for i in range(0, 16, 4))
        tag = mode.upper()[:4].ljust(4, "Q")
        return cls(
            mode,
            aws_key=f"AKIA{tag}Q3EGRTZ5LXK{n}",
            email=f"canary-{mode}-{n}7f3a@northwind-example.com",
            ssn=f"219-4{n}-60{n}{n}",
            card=spaced,
        )

    @property
    def prompt(self) -> str:
        return (
            f"Key {self.aws_key}, write to {self.email}, SSN {self.ssn}, card {self.card}. Confirm."
        )

    def needles(self) -> dict[str, bytes]:
        """Every form a value could be written in (cards and SSNs also without spaces)."""
        return {
            "aws_key": self.aws_key.encode(),
            "email": self.email.encode(),
            "ssn": self.ssn.encode(),
            "ssn_digits": self.ssn.replace("-", "").encode(),
            "card": self.card.encode(),
            "card_digits": self.card.replace(" ", "").encode(),
        }


MODES = {m: Canaries.of(m, n) for n, m in enumerate(("none", "redacted", "encrypted", "full"), 2)}


@dataclass
class Run:
    """The stack after the calls: where it keeps its files and what each mode sent."""

    stack: Stack
    work: Path
    request_ids: dict[str, list[str]]
    error_bodies: list[str]
    metrics: str


def bastion(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASTION, *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def found_in_files(work: Path, canaries: Canaries) -> dict[str, list[str]]:
    """Which files under ``work`` hold which of the canaries (any form)."""
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for name, needle in canaries.needles().items():
            if needle in data:
                hits.setdefault(str(path.relative_to(work)), []).append(name)
    return hits


def found_in_text(text: str, canaries: Canaries) -> list[str]:
    return [name for name, needle in canaries.needles().items() if needle.decode() in text]


def show(config: Path, request_id: str, *args: str) -> dict[str, object]:
    done = bastion(config, "audit", "show", request_id, "--json", *args)
    assert done.returncode == 0, done.stderr
    shown: dict[str, object] = json.loads(done.stdout)
    return shown


def _call(stack: Stack, key: str, canaries: Canaries, stream: bool) -> str:
    """One call carrying the canaries; its answer echoes them back (restored)."""
    raw = stack.client(key).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": canaries.prompt}], stream=stream
    )
    if stream:
        chunks = raw.parse()
        answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        answer = raw.parse().choices[0].message.content or ""
    assert canaries.email in answer  # a canary in the answer the client received
    return raw.headers["x-bastion-request-id"]


def _refusals(stack: Stack, key: str, canaries: Canaries) -> list[str]:
    """Error bodies of calls carrying the canaries: blocked, bad model, bad parameter."""
    url = f"{stack.base_url}/chat/completions"
    headers = {"authorization": f"Bearer {key}"}
    bodies = []
    message = [{"role": "user", "content": canaries.prompt}]
    for body in (
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": f"{canaries.prompt} {IBAN}"}],
        },
        {"model": "gpt-unknown", "messages": message},
        {"model": "gpt-4o-mini", "messages": message, "temperature": canaries.ssn},
    ):
        reply = httpx.post(url, json=body, headers=headers, timeout=60)
        assert reply.status_code in (400, 403, 404), reply.text
        bodies.append(reply.text)
    return bodies


def _wait_until_stored(stack: Stack, request_ids: dict[str, list[str]]) -> None:
    """Every call's record is in the database, and content where its mode keeps it
    (asked of the admin API: a CLI call per poll takes seconds to start)."""
    deadline = time.monotonic() + 60
    pending = [(mode, rid) for mode, ids in request_ids.items() for rid in ids]
    headers = {"authorization": f"Bearer {stack.admin_token}"}
    while pending and time.monotonic() < deadline:
        mode, request_id = pending[0]
        reply = httpx.get(f"{stack.admin_url}/admin/api/audit/events/{request_id}",
                          headers=headers, timeout=30)  # fmt: skip
        shown = reply.json() if reply.status_code == 200 else {}
        if shown.get("record") and (mode == "none" or shown.get("content")):
            pending.pop(0)
        else:
            time.sleep(0.1)
    assert not pending, f"not stored in time: {pending}"


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    work = tmp_path_factory.mktemp("e2e-canary")
    (work / "policy.yaml").write_text(POLICY, encoding="utf-8")
    with running_stack(work, RETENTION) as stack:
        keys = {
            "none": stack.key,  # app e2e-app, team platform: the default
            "redacted": str(stack.create_key("--name", "red", "--app", "app-red")["key"]),
            "encrypted": str(stack.create_key("--name", "enc", "--app", "app-enc")["key"]),
            "full": str(
                stack.create_key("--name", "lab", "--app", "lab", "--team", "research")["key"]
            ),
        }
        # no wait for the new keys: a key id the gateway has not cached is looked up
        # in the key store on its first call
        request_ids: dict[str, list[str]] = {}
        errors: list[str] = []
        for mode, canaries in MODES.items():
            request_ids[mode] = [
                _call(stack, keys[mode], canaries, stream=False),
                _call(stack, keys[mode], canaries, stream=True),
            ]
            if mode in ("none", "redacted"):
                errors.extend(_refusals(stack, keys[mode], canaries))
        metrics = httpx.get(
            f"{stack.admin_url}/metrics",
            headers={"authorization": f"Bearer {stack.admin_token}"},
        ).text
        _wait_until_stored(stack, request_ids)
    # the gateway has stopped: what it wrote at shutdown is on disk too
    yield Run(stack, work, request_ids, errors, metrics)


@pytest.mark.parametrize("mode", ["none", "redacted", "encrypted"])
def test_kept_canaries_appear_in_no_file(canary_run: Run, mode: str) -> None:
    assert found_in_files(canary_run.work, MODES[mode]) == {}


def test_full_content_is_in_the_database_files_positive_control(canary_run: Run) -> None:
    hits = found_in_files(canary_run.work, MODES["full"])
    assert hits, "the grep found nothing: it does not reach the database files"
    assert set(hits) <= {"gateway.db", "gateway.db-wal"}, hits
    found = {name for names in hits.values() for name in names}
    assert {"aws_key", "email", "ssn", "card"} <= found


def test_logs_metrics_and_error_bodies_hold_no_canary(canary_run: Run) -> None:
    log = (canary_run.work / "gateway.log").read_text(errors="replace")
    assert "bastion serving on" in log  # the gateway's own log
    assert "bastion_calls_total{" in canary_run.metrics
    assert len(canary_run.error_bodies) == 6
    assert any('"code":"policy_violation"' in body for body in canary_run.error_bodies)
    for canaries in MODES.values():
        assert found_in_text(log, canaries) == []
        assert found_in_text(canary_run.metrics, canaries) == []
        for body in canary_run.error_bodies:
            assert found_in_text(body, canaries) == [], body


def test_records_of_none_and_redacted_hold_no_canary(canary_run: Run) -> None:
    config = canary_run.stack.config
    for request_id in canary_run.request_ids["none"]:
        shown = show(config, request_id)
        assert shown["content"] is None
        record = shown["record"]
        assert isinstance(record, dict)
        classes = {f["data_class"] for f in record["findings"]}
        assert {"secret.aws_access_key", "pii.email", "pii.us_ssn", "pii.credit_card"} <= classes
        assert found_in_text(json.dumps(shown), MODES["none"]) == []
    for request_id in canary_run.request_ids["redacted"]:
        shown = show(config, request_id)
        text = json.dumps(shown)
        assert '"mode": "redacted"' in text and "<EMAIL_" in text  # as forwarded
        assert found_in_text(text, MODES["redacted"]) == []


def test_encrypted_content_reads_only_with_decrypt_and_the_key(canary_run: Run) -> None:
    config = canary_run.stack.config
    canaries = MODES["encrypted"]
    plain, streamed = canary_run.request_ids["encrypted"]
    hidden = bastion(config, "audit", "show", plain)
    assert hidden.returncode == 0 and found_in_text(hidden.stdout, canaries) == []

    decrypted = bastion(config, "audit", "show", plain, "--decrypt", "--reason", "K1 test")
    assert decrypted.returncode == 0, decrypted.stderr
    assert {"aws_key", "email", "ssn", "card"} <= set(found_in_text(decrypted.stdout, canaries))
    answer = show(config, streamed, "--decrypt")["content"]
    assert isinstance(answer, dict)
    assert canaries.email in json.dumps(answer["document"])  # the streamed answer, restored

    stranger = canary_run.work.parent / f"{canary_run.work.name}-other-keyring.json"
    made = subprocess.run(
        [BASTION, "crypto", "init", "--keyring-file", str(stranger)], capture_output=True
    )
    assert made.returncode == 0
    refused = bastion(config, "audit", "show", plain, "--decrypt", "--keyring-file", str(stranger))
    assert refused.returncode == 1 and "not in this keyring" in refused.stderr
    assert found_in_text(refused.stdout + refused.stderr, canaries) == []

    database = sqlite3.connect(canary_run.work / "gateway.db")
    (payload,) = database.execute(
        "SELECT payload FROM audit_content WHERE request_id = ?", (plain,)
    ).fetchone()
    database.close()
    assert found_in_text(payload, canaries) == []
    decryptions = show(config, plain)["content_reads"]
    assert isinstance(decryptions, list)
    assert [e["action"] for e in decryptions] == ["content.decrypt"]


def test_erasing_and_purging_leave_no_canary_and_a_verified_chain(canary_run: Run) -> None:
    config = canary_run.stack.config
    full = MODES["full"]
    erased = bastion(config, "audit", "erase-subject", "--json", stdin=full.email)
    assert erased.returncode == 0, erased.stderr
    assert sorted(json.loads(erased.stdout)["erased"]) == sorted(canary_run.request_ids["full"])
    assert full.email not in erased.stdout + erased.stderr

    purged = bastion(config, "audit", "purge", "--older-than", "0s", "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["deleted"] == 4  # redacted and encrypted content
    for canaries in MODES.values():
        assert found_in_files(canary_run.work, canaries) == {}, canaries.mode
    verified = bastion(config, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
