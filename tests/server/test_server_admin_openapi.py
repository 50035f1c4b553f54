"""The admin API's OpenAPI document (docs/openapi/admin.json): valid OpenAPI 3.1, the
same as the app serves, and honest about errors (OpenAI-shaped, never FastAPI's 422)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate as validate_openapi

from bastion.server.admin_api.app import create_admin_api, document_text
from bastion.server.admin_api.permissions import PERMISSIONS

DOC_PATH = Path(__file__).parents[2] / "docs" / "openapi" / "admin.json"
DOC: dict[str, Any] = json.loads(DOC_PATH.read_text(encoding="utf-8"))
METHODS = ("get", "put", "post", "delete", "patch")


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in DOC["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_committed_document_is_what_the_app_serves() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == document_text(), (
        "docs/openapi/admin.json is stale: run .venv/bin/python scripts/gen_admin_openapi.py"
    )


def test_document_is_valid_openapi_3_1() -> None:
    assert DOC["openapi"].startswith("3.1")
    validate_openapi(DOC)


def test_every_route_is_documented_once_under_its_permission_name() -> None:
    ids = [operation["operationId"] for _, _, operation in operations()]
    assert sorted(ids) == sorted(PERMISSIONS)
    assert all(path.startswith("/admin/api/") for _, path, _ in operations())


def test_errors_are_documented_in_the_openai_shape_and_never_as_422() -> None:
    schemas = DOC["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorDetail"]["properties"]) == {"message", "type", "code", "param"}
    for method, path, operation in operations():
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        assert {"401", "403"} <= set(responses), (method, path)
        for status, response in responses.items():
            assert "x-bastion-request-id" in response["headers"], (method, path, status)
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)


def test_every_operation_needs_the_admin_token() -> None:
    scheme = DOC["components"]["securitySchemes"]["adminToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in operations():
        assert operation["security"] == [{"adminToken": []}], (method, path)


def test_lists_page_with_limit_and_cursor() -> None:
    for method, path, operation in operations():
        schema = operation["responses"].get("200", {}).get("content", {})
        ref = schema.get("application/json", {}).get("schema", {}).get("$ref", "")
        properties = DOC["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {}).get("properties")
        if properties and {"data", "next_cursor"} <= set(properties):
            names = {p["name"] for p in operation.get("parameters", [])}
            assert {"limit", "cursor"} <= names, (method, path)


def test_the_document_builds_without_a_gateway() -> None:
    assert create_admin_api().openapi()["info"]["title"] == "Bastion admin API"


def test_the_roles_table_in_the_docs_is_the_enforced_one() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "admin-api.md").read_text(encoding="utf-8")
    cell = r"(?:yes|no|own)"
    rows = re.findall(
        rf"^\| `(GET|POST|DELETE) (/[^`]*)` \| ({cell}(?: \| {cell}){{3}}) \|$", docs, re.MULTILINE
    )
    names = {
        (method.upper(), path.removeprefix("/admin/api")): operation["operationId"]
        for method, path, operation in operations()
    }
    documented = {}
    for method, path, cells in rows:
        allowed = [cell.strip() in ("yes", "own") for cell in cells.split("|")]
        roles = {role for role, ok in zip(ROLE_COLUMNS, allowed, strict=True) if ok}
        documented[names[(method, path)]] = roles
    assert documented == {name: {r.value for r in roles} for name, roles in PERMISSIONS.items()}


ROLE_COLUMNS = ("admin", "security", "auditor", "app_owner")
