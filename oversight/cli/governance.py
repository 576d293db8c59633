"""`oversight policy|audit|retention|report`: bind face recognition to rules and prove its use."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InvalidParameterException
from ..operations.context import LOCAL_ACCOUNT, RequestContext
from .output import print_json, run_reporting_errors

if TYPE_CHECKING:
    from ..governance.policy import Policy

policy_app = typer.Typer(help="Per-access-key policies (KEY '*' is the default for all keys).")
audit_app = typer.Typer(help="The hash-chained audit log: verify it, export it, anchor its head.")
retention_app = typer.Typer(help="Maximum face age per collection, and the sweeper.")


_OutPath = Annotated[Path | None, typer.Option(help="Write here instead of standard output.")]


def _check_operations(names: list[str]) -> None:
    from ..api.service_model import service_model
    from ..governance.catalog import governed_operations

    known = set(service_model().operation_names) | set(governed_operations())
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidParameterException(f"unknown operation(s): {', '.join(unknown)}")


@policy_app.command("set")
def policy_set(
    key: str = typer.Argument(..., help="Access key id, or '*' for the default policy."),
    operation: Annotated[list[str] | None, typer.Option(
        help="Allow this operation (repeat); default: all operations."
    )] = None,
    no_operations: bool = typer.Option(False, help="Allow no operation at all (a frozen key)."),
    collection: Annotated[list[str] | None, typer.Option(
        help="Allow this collection (repeat); default: all collections."
    )] = None,
    min_threshold: float = typer.Option(
        None, min=0, max=100,
        help="Refuse searches/comparisons whose match threshold is below this (0-100).",
    ),
    max_faces: int = typer.Option(None, min=1, help="Refuse searches asking for more matches."),
    stream_search: bool = typer.Option(True, help="Allow face search on live streams."),
    rate_limit: int = typer.Option(None, min=1, help="Requests per minute (ThrottlingException)."),
    require_purpose: bool = typer.Option(
        False, help="Refuse requests without an X-Oversight-Purpose header."
    ),
    review: int = typer.Option(
        None, min=1, max=2,
        help="Withhold 1:N matches until this many reviewers (1 or 2) confirm them.",
    ),
    review_operation: Annotated[list[str] | None, typer.Option(
        help="Review only this operation's matches (repeat); default: every 1:N operation."
    )] = None,
    review_collection: Annotated[list[str] | None, typer.Option(
        help="Review only matches in this collection (repeat); default: every collection."
    )] = None,
    review_notify: str = typer.Option(
        None, help="SNS topic ARN (mapped by endpoint_map) told when each review case closes."
    ),
    reviewer: bool = typer.Option(False, help="This key may review other keys' matches."),
    min_probe_age: float = typer.Option(
        None, help="Refuse 1:N searches (and skip live stream matches) of faces estimated "
                   "younger than this many years; the age model's error for children is in "
                   "docs/ACCOUNTABILITY.md."),
) -> None:
    """Create or replace a key's policy (options left out mean 'no limit')."""
    from ..governance import admin
    from ..governance.policy import Policy

    operations = [] if no_operations else (operation or None)

    def apply() -> Policy:
        if operations:
            _check_operations(operations)
        new = Policy(
            access_key_id=key, allowed_operations=operations,
            allowed_collections=collection or None, min_match_threshold=min_threshold,
            max_faces=max_faces, allow_stream_search=stream_search,
            rate_limit_per_minute=rate_limit, require_purpose=require_purpose,
            review=None if review is None else {
                "reviewers": review,
                **({"operations": review_operation} if review_operation else {}),
                **({"collections": review_collection} if review_collection else {}),
                **({"notify": review_notify} if review_notify else {}),
            },
            reviewer=reviewer, min_probe_age=min_probe_age,
        )
        admin.set_policy(RequestContext.local(), new)
        return new

    print_json(run_reporting_errors(apply).to_json())


@policy_app.command("show")
def policy_show(key: str) -> None:
    """The policy that governs KEY (its own, else the default '*'), or null when none does."""
    from ..governance.policy import DEFAULT_KEY, get_policy

    found = get_policy(None if key == DEFAULT_KEY else key)
    print_json(found.to_json() if found else None)


@policy_app.command("list")
def policy_list() -> None:
    from ..governance.policy import list_policies

    print_json({"Policies": [p.to_json() for p in list_policies()]})


@policy_app.command("delete")
def policy_delete(key: str) -> None:
    from ..governance import admin

    if not admin.remove_policy(RequestContext.local(), key):
        sys.stderr.write(f"no policy for {key}\n")
        raise typer.Exit(code=1)


@audit_app.command("verify")
def audit_verify(
    seq: int = typer.Option(None, min=1, help="Check against this anchored head (with --hash)."),
    hash_: str = typer.Option(None, "--hash", help="The anchored head's hash."),
    anchors: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="A file of anchored heads (`audit head` output, clearsigned or not) or an earlier "
        "`audit export`: every record it names must match; names the first rewritten record "
        "to the resolution it has.",
    )] = None,
) -> None:
    """Walk the chain; exit 1 and name the first bad record if anything was altered."""
    from ..governance.audit import AuditLog, Head, parse_anchors

    if (seq is None) != (hash_ is None):
        raise typer.BadParameter("give both --seq and --hash, or neither")
    heads = [Head(seq, hash_)] if seq is not None else []
    if anchors is not None:
        found = parse_anchors(anchors.read_text(errors="replace"))
        if not found:
            raise typer.BadParameter(f"{anchors} holds no anchor ({{\"seq\": N, \"hash\": ...}})")
        heads += found
    verdict = AuditLog().verify(heads)
    print_json(verdict.to_json())
    if not verdict.ok:
        raise typer.Exit(code=1)


@audit_app.command("export")
def audit_export(
    from_: str = typer.Option(None, "--from", help="ISO date or date-time (inclusive)."),
    to: str = typer.Option(None, help="ISO date (inclusive) or date-time (exclusive)."),
    out: _OutPath = None,
) -> None:
    """Records as JSONL, exactly as stored (each keeps its seq, prev and hash)."""
    from ..governance.audit import AuditLog
    from ..governance.report import parse_bound

    try:
        start = parse_bound(from_) if from_ else None
        end = parse_bound(to, end=True) if to else None
    except ValueError as exc:
        raise typer.BadParameter(f"--from/--to: {exc}") from exc
    if out is None:
        AuditLog().export(sys.stdout.buffer, start, end)
        return
    with open(out, "wb") as target:
        count = AuditLog().export(target, start, end)
    sys.stderr.write(f"{count} records written to {out}\n")


@audit_app.command("head")
def audit_head() -> None:
    """The chain head (last record's seq and hash): anchor it outside this machine."""
    from ..governance.audit import AuditLog

    print_json(AuditLog().head().to_json())


@retention_app.command("set")
def retention_set(
    collection: str,
    days: float = typer.Option(..., help="Maximum age of a face, in days since indexing."),
    account: str = typer.Option(LOCAL_ACCOUNT, help="Account (tenant) owning the collection."),
) -> None:
    from ..governance import admin
    from ..governance.retention import RetentionRule

    rule = RetentionRule(account, collection, days)
    run_reporting_errors(lambda: admin.set_retention(RequestContext.local(), rule))
    print_json(rule.to_json())


@retention_app.command("clear")
def retention_clear(
    collection: str,
    account: str = typer.Option(LOCAL_ACCOUNT, help="Account (tenant) owning the collection."),
) -> None:
    from ..governance import admin

    if not admin.remove_retention(RequestContext.local(), account, collection):
        sys.stderr.write(f"no retention rule for {collection}\n")
        raise typer.Exit(code=1)


@retention_app.command("list")
def retention_list() -> None:
    from ..governance.retention import list_rules

    print_json({"RetentionRules": [rule.to_json() for rule in list_rules()]})


@retention_app.command("sweep")
def retention_sweep() -> None:
    """Delete every face older than its collection's maximum age and expire review cases past
    their time (run it from cron/a timer; a server does both every hour)."""
    from ..governance.retention import sweep
    from ..governance.review import expire_cases

    results = run_reporting_errors(sweep)
    print_json({"Results": [result.to_json() for result in results],
                "ReviewCasesExpired": run_reporting_errors(expire_cases)})


def report(
    from_: str = typer.Option(..., "--from", help="ISO date or date-time (inclusive)."),
    to: str = typer.Option(..., help="ISO date (inclusive) or date-time (exclusive)."),
    format_: str = typer.Option("md", "--format", help="md, html or json."),
    out: _OutPath = None,
) -> None:
    """Transparency report: searches per account/key/purpose/month, matches, thresholds,
    policy refusals and deletions, from the audit log."""
    from ..governance import report_render
    from ..governance.report import build_report, parse_bound

    render = report_render.RENDERERS.get(format_)
    if render is None:
        raise typer.BadParameter(f"--format must be one of {', '.join(report_render.RENDERERS)}")
    try:
        start, end = parse_bound(from_), parse_bound(to, end=True)
    except ValueError as exc:
        raise typer.BadParameter(f"--from/--to: {exc}") from exc
    text = render(build_report(start, end))
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.add_typer(audit_app, name="audit")
    app.add_typer(retention_app, name="retention")
    app.command("report")(report)
