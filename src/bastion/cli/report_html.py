"""The evidence report rendered as one self-contained HTML page: inline CSS and SVG, no
script, no external requests. Pure: no I/O; every value from the data is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from bastion.charts import Bar, bar_chart, nice_ceiling, stacked_time_chart
from bastion.cli.report_data import CONTROLS, EvidenceReport

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;
margin:0 auto;max-width:1000px;padding:24px 32px;line-height:1.4}
h1{margin:0 0 4px;font-size:26px}h2{margin:0 0 4px;font-size:19px}
header{border-bottom:3px solid #2f6db5;padding-bottom:12px;margin-bottom:8px}
section{border-top:1px solid #ccc;padding:14px 0 10px}
.evidences{font-size:12px;color:#555;margin:0 0 10px}
.evidences b{color:#333}.muted{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f5f8}
.pass{color:#1d7a3a;font-weight:bold}.fail{color:#b23a48;font-weight:bold}
.facts td{border:none;padding:2px 12px 2px 0}
svg{display:block;margin:6px 0;font-size:12px}
svg .axis{fill:#666;font-size:11px}svg .label{fill:#222}svg .value{fill:#333}
"""


def render_html(report: EvidenceReport) -> str:
    """The whole report as one HTML document."""
    sections = [
        _header(report),
        _calls(report),
        _refusals(report),
        _injections(report),
        _exception_uses(report),
        _adoption(report),
        _budgets(report),
        _rules(report),
        _policies(report),
        _exceptions(report),
        _chain(report),
    ]
    period = f"{_moment(report.since)} to {_moment(report.until)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Bastion evidence report, {escape(period)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}</body></html>\n"
    )


# --- sections ---------------------------------------------------------------------------


def _header(report: EvidenceReport) -> str:
    chain = report.chain
    verdict = (
        '<span class="pass">PASS</span>'
        if chain.ok
        else f'<span class="fail">FAIL</span>: {escape(chain.problem or "")}'
    )
    in_force = ", ".join(escape(p.version) for p in report.policies) or "none recorded"
    facts = [
        ("Period", f"{_moment(report.since)} to {_moment(report.until)} (end excluded)"),
        ("Calls", f"{report.total_calls:,}"),
        ("Policy versions in force", in_force),
        ("Audit chain", verdict),
        ("Generated", f"{_moment(report.generated_at)} by {escape(report.generated_by)}"),
    ]
    rows = "".join(f"<tr><td><b>{name}</b></td><td>{value}</td></tr>" for name, value in facts)
    return (
        '<header id="summary"><h1>Bastion evidence report</h1>'
        f'<table class="facts">{rows}</table></header>'
    )


def _calls(report: EvidenceReport) -> str:
    over = report.calls_over_time
    fmt = "%m-%d %H:%M" if over.bucket_s < 86400 else "%Y-%m-%d"
    labels = [datetime.fromtimestamp(s, UTC).strftime(fmt) for s in over.starts]
    unit = {3600.0: "hour", 86400.0: "day", 604800.0: "week"}.get(over.bucket_s, "bucket")
    chart = stacked_time_chart(labels, over.series, title=f"Calls per {unit} by environment")
    rows = [
        [e.environment, _int(e.calls), _int(e.blocked), _int(e.redacted)]
        for e in report.environments
    ]
    return _section(
        "calls",
        "Calls by environment",
        f'<p class="muted">Calls per {unit} (UTC), stacked by environment.</p>{chart}'
        + _table(["Environment", "Calls", "Blocked", "Redacted"], rows, numeric_from=1),
    )


def _refusals(report: EvidenceReport) -> str:
    blocked = sum(e.blocked for e in report.environments)
    redacted = sum(e.redacted for e in report.environments)
    bars = [
        Bar(decision, count, _int(count), decision in ("block", "require_exception"))
        for decision, count in report.decisions
    ]
    body = (
        f'<p><b id="blocked-total">{_int(blocked)}</b> calls refused (block or exception '
        f'required), <b id="redacted-total">{_int(redacted)}</b> forwarded with text redacted, '
        f"of {_int(report.total_calls)}.</p>"
    )
    if bars:
        body += bar_chart(bars, title="Calls by policy decision")
    return _section("refusals", "Blocked and redacted requests", body)


def _injections(report: EvidenceReport) -> str:
    if not report.injections:
        return _section("injections", "Injection detections", _none("No injection detected."))
    bars = [
        Bar(f"{i.data_class} in {i.source}", i.detections, f"{i.detections:,} in {i.calls:,} calls")
        for i in report.injections
    ]
    rows = [[i.data_class, i.source, _int(i.detections), _int(i.calls)] for i in report.injections]
    return _section(
        "injections",
        "Injection detections",
        bar_chart(bars, title="Injection detections by class and source")
        + _table(["Class", "Source", "Detections", "Calls"], rows, numeric_from=2),
    )


def _count(number: int, noun: str) -> str:
    """``1 call``, ``3 calls``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _exception_uses(report: EvidenceReport) -> str:
    if not report.exception_uses:
        return _section(
            "exception_uses", "Policy exceptions by app owner", _none("No call used an exception.")
        )
    bars = [
        Bar(u.owner, u.calls, f"{_count(u.calls, 'call')}, {_count(u.exceptions, 'exception')}")
        for u in report.exception_uses
    ]
    return _section(
        "exception_uses",
        "Policy exceptions by app owner",
        '<p class="muted">Calls an approved exception let through, by the owner of the '
        "calling app.</p>" + bar_chart(bars, title="Calls let through by exceptions, by owner"),
    )


def _adoption(report: EvidenceReport) -> str:
    if not report.adoption:
        return _section("adoption", "Adoption by team", _none("No settled calls."))
    bars = [Bar(t.team, t.calls, f"{t.calls:,} calls") for t in report.adoption]
    rows = [
        [t.team, _int(t.calls), _int(t.apps), _int(t.users), _int(t.tokens), _usd(t.cost_usd)]
        for t in report.adoption
    ]
    return _section(
        "adoption",
        "Adoption by team",
        '<p class="muted">Settled calls in the period (spend ledger).</p>'
        + bar_chart(bars, title="Settled calls by team")
        + _table(["Team", "Calls", "Apps", "Users", "Tokens", "Cost USD"], rows, numeric_from=1),
    )


def _budgets(report: EvidenceReport) -> str:
    note = (
        f'<p class="muted">Settled spend in each budget\'s current period as of '
        f"{_moment(report.budgets_as_of)}; calls in flight are not counted.</p>"
    )
    if not report.budgets:
        return _section("budgets", "Spend vs budget", note + _none("No budget has spend."))
    bars = [
        Bar(
            f"{b.rule} {b.scope}",
            b.share * 100,
            f"{b.share * 100:.1f}% of {_amount(b.limit, b.measure)}",
            b.share >= 1 or (b.soft is not None and b.share >= b.soft),
        )
        for b in report.budgets
    ]
    top = max(bar.value for bar in bars)
    scale_max = 100.0 if top <= 100 else nice_ceiling(top)
    rows = [
        [
            b.rule,
            b.scope,
            f"{b.measure} {b.window}",
            _amount(b.limit, b.measure),
            _amount(b.spent, b.measure),
            f"{b.share * 100:.1f}%",
        ]
        for b in report.budgets
    ]
    return _section(
        "budgets",
        "Spend vs budget",
        note
        + bar_chart(
            bars,
            title="Budget used, percent",
            axis_text=lambda v: f"{v:.0f}%",
            scale_max=scale_max,
            marker=100.0,
            marker_text="limit",
        )
        + _table(["Rule", "Scope", "Budget", "Limit", "Spent", "Used"], rows, numeric_from=3),
    )


def _rules(report: EvidenceReport) -> str:
    if not report.rules:
        return _section("rules", "Top rules", _none("No rule acted on a call."))
    bars = [
        Bar(r.rule, r.calls, f"{r.calls:,} calls ({r.refused:,} refused)") for r in report.rules
    ]
    return _section(
        "rules",
        "Top rules",
        bar_chart(bars, title="Calls acted on (request or answer), by policy rule"),
    )


def _policies(report: EvidenceReport) -> str:
    rows = [
        [
            p.version,
            _moment(p.activated_at),
            p.activated_by,
            p.reason,
            "yes" if p.active_at_end else "",
        ]
        for p in report.policies
    ]
    body = (
        _table(["Version", "Activated", "By", "Reason", "In force at end"], rows)
        if rows
        else _none("No policy version was active.")
    )
    return _section("policies", "Policy versions in force", body)


def _exceptions(report: EvidenceReport) -> str:
    counts = {
        e: sum(x.event == e for x in report.exceptions) for e in ("granted", "expired", "revoked")
    }
    summary = ", ".join(
        f'<b id="exceptions-{name}">{count}</b> {name}' for name, count in counts.items()
    )
    rows = [
        [
            x.event,
            _moment(x.at),
            x.id,
            x.rule,
            x.scope,
            x.owner,
            x.requester,
            x.approver or "-",
            _moment(x.expires_at),
            _int(x.uses),
        ]
        for x in report.exceptions
    ]
    headers = ["Event", "At", "Id", "Rule", "Scope", "Owner", "Requested", "Approved",
               "Expires", "Uses"]  # fmt: skip
    table = _table(headers, rows, numeric_from=9) if rows else ""
    return _section("exceptions", "Exceptions granted and expired", f"<p>{summary}.</p>{table}")


def _chain(report: EvidenceReport) -> str:
    chain = report.chain
    if chain.ok:
        verdict = (
            f'<p><span class="pass">PASS</span>: {chain.events:,} chained events, '
            f"{chain.records:,} call records, {chain.checkpoints:,} signed checkpoints "
            "verified.</p>"
        )
    else:
        verdict = (
            f'<p><span class="fail">FAIL</span> at the first bad record: '
            f"{escape(chain.problem or '')}</p>"
        )
    note = f'<p class="muted">{escape(chain.note)}</p>' if chain.note else ""
    return _section("chain", "Audit chain verification", verdict + note)


# --- pieces -----------------------------------------------------------------------------


def _section(section_id: str, title: str, body: str) -> str:
    controls = "; ".join(escape(c) for c in CONTROLS[section_id])
    return (
        f'<section id="{section_id}"><h2>{escape(title)}</h2>'
        f'<p class="evidences"><b>Evidences:</b> {controls}</p>{body}</section>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 99) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _none(text: str) -> str:
    return f'<p class="muted">{escape(text)}</p>'


def _moment(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _int(value: int) -> str:
    return f"{value:,}"


def _usd(value: float) -> str:
    return f"{value:,.4f}"


def _amount(value: float, measure: str) -> str:
    if measure != "usd":
        return f"{round(value):,} tokens"
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.6f}".rstrip("0")
