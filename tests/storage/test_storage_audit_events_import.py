"""Importing the audit chain's and the call records' repositories compiles nothing: the
shipper's statements and the batch insert are compiled for their backend on first use
(every admin command imports them for the admin trail, and compiling for both backends
cost it about 17 ms)."""

from __future__ import annotations

import json
import subprocess
import sys

_IMPORT_COUNTING_COMPILES = """
import json
from sqlalchemy.sql.elements import CompilerElement
from sqlalchemy.sql import compiler  # noqa: F401

compiled = []
original = CompilerElement.compile

def counting(self, *args, **kwargs):
    compiled.append(type(self).__name__)
    return original(self, *args, **kwargs)

CompilerElement.compile = counting
import bastion.storage.call_records
import bastion.storage.audit_events
print(json.dumps(compiled))
"""


def test_importing_the_audit_repositories_compiles_no_statement() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_COUNTING_COMPILES],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
