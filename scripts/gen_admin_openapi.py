"""Write ``docs/openapi/admin.json``, the admin API's OpenAPI document, from its routes.

    .venv/bin/python scripts/gen_admin_openapi.py          # rewrite the file
    .venv/bin/python scripts/gen_admin_openapi.py --check  # exit 1 when it is stale

Run it after changing an admin route or model; tests/server/test_server_admin_openapi.py
fails while the committed file differs from what the app serves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bastion.server.admin_api.app import document_text

DOC = Path(__file__).resolve().parents[1] / "docs" / "openapi" / "admin.json"


def main(argv: list[str]) -> int:
    text = document_text()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is stale: run scripts/gen_admin_openapi.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
