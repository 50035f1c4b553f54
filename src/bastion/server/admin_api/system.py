"""Routes about the caller and the gateway process: who am I, the OpenAPI document,
recent calls and the overhead samples kept for benchmarks."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from pydantic import BaseModel, Field

from bastion.server.admin_api.context import Actor, Ctx
from bastion.server.admin_api.routing import Route


class WhoAmI(BaseModel):
    """The calling admin identity."""

    subject: str
    role: str = Field(description="admin, security, auditor or app_owner.")


class RecentCalls(BaseModel):
    """Recent call records, newest first (the audit search has filters and pages)."""

    object: Literal["list"] = "list"
    data: list[dict[str, Any]]


class Overhead(BaseModel):
    """This process's recent gateway overhead samples (count, quantiles in µs)."""

    count: int
    p50_us: float | None = None
    p90_us: float | None = None
    p99_us: float | None = None


async def whoami(actor: Actor) -> WhoAmI:
    """The admin identity of the token presented."""
    return WhoAmI(subject=actor.subject, role=actor.role.value)


async def openapi_document(actor: Actor, request: Request) -> dict[str, Any]:
    """This API's OpenAPI 3.1 document (also kept in docs/openapi/admin.json)."""
    document: dict[str, Any] = request.app.openapi()
    return document


async def recent_calls(
    actor: Actor,
    context: Ctx,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many (1-1000).")] = 100,
) -> RecentCalls:
    """The most recent call records, newest first.

    Kept for scripts written against the first admin port; new code uses
    `GET /admin/api/audit/events` (filters, pages).
    """
    records = await context.runtime.records.recent(limit)
    return RecentCalls(data=[dataclasses.asdict(record) for record in records])


async def read_overhead(actor: Actor, context: Ctx) -> Overhead:
    """Quantiles of this process's recent gateway overhead (for benchmarks)."""
    return Overhead(**context.runtime.gateway.parts.overhead_samples.quantiles())


async def reset_overhead(actor: Actor, context: Ctx) -> Overhead:
    """Forget this process's overhead samples (a benchmark starts a round)."""
    samples = context.runtime.gateway.parts.overhead_samples
    samples.reset()
    return Overhead(**samples.quantiles())


ROUTES = (
    Route("GET", "/whoami", whoami, "whoami"),
    Route("GET", "/openapi.json", openapi_document, "openapi"),
    Route("GET", "/calls", recent_calls, "calls.recent", (400,)),
    # without samples the body is {"count": 0}, as benchmark scripts expect
    Route("GET", "/overhead", read_overhead, "overhead.read", exclude_none=True),
    Route("DELETE", "/overhead", reset_overhead, "overhead.reset", exclude_none=True),
)
