"""Budgets: settled spend against every configured budget, per scope and window
(app owners: budgets of their keys and apps), as bars against the limit."""

from __future__ import annotations

from starlette.responses import Response

from bastion.charts import Bar, bar_chart
from bastion.console.page import Action, Page, View
from bastion.server.admin_api import spend


def _scope(info: spend.BudgetInfo) -> str:
    return ", ".join(f"{name}={value}" for name, value in info.scope.items()) or "(everyone)"


def budget_chart(budgets: list[spend.BudgetInfo]) -> str | None:
    """Each budget's spent share, the limit as a dashed line at 100 %."""
    bars = [
        Bar(
            f"{_scope(info)} · {info.window}",
            info.share * 100,
            f"{info.share * 100:.0f} %",
            alert=info.share >= 1,
        )
        for info in budgets
    ]
    if not bars:
        return None
    return bar_chart(
        bars,
        title="Spend against budgets",
        axis_text=lambda v: f"{v:.0f} %",
        marker=100.0,
        marker_text="limit",
    )


async def show(view: View) -> Response:
    """Every budget with its spend this period."""
    found = await spend.list_budgets(view.identity, view.context, limit=500)
    return view.render(
        "budgets.html",
        budgets=[(info, _scope(info)) for info in found.data],
        more=found.has_more,
        timezone=found.timezone,
        chart=budget_chart(found.data),
    )


PAGE = Page(
    name="budgets",
    title="Budgets",
    path="/budgets",
    needs=("budgets.list",),
    actions=(Action("GET", "", show),),
)
