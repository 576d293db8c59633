"""`oversight keys create|list|revoke`: the access keys clients sign requests with."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from ..operations.context import LOCAL_ACCOUNT, RequestContext
from .output import print_json, run_reporting_errors

if TYPE_CHECKING:
    from ..api.keys import AccessKey

keys_app = typer.Typer(help="Manage SigV4 access keys (each belongs to an account).")


def _shown(key: AccessKey) -> dict[str, object]:
    return {
        "AccessKeyId": key.access_key_id,
        "AccountId": key.account_id,
        "Description": key.description,
        "Status": "Active" if key.active else "Revoked",
        "CreatedAt": key.created_at.isoformat(),
        "RevokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@keys_app.command("create")
def create(
    account: str = typer.Option(
        LOCAL_ACCOUNT, help="12-digit account (tenant) the key acts for."
    ),
    new_account: bool = typer.Option(False, help="Create the key in a new, empty account."),
    description: str = typer.Option("", help="What or who the key is for."),
) -> None:
    """Create a key; its secret is printed once and cannot be shown again."""
    from ..api.keys import KeyStore, new_account_id
    from ..governance import gate

    account_id = new_account_id() if new_account else account

    def record(key: AccessKey) -> None:
        gate.audit_admin_event(
            RequestContext.local(), "CreateAccessKey", key.access_key_id,
            {"account_id": key.account_id, "description": key.description},
        )

    new_key = run_reporting_errors(
        lambda: KeyStore.default().create(account_id, description, record)
    )
    print_json(_shown(new_key.key) | {"SecretAccessKey": new_key.secret})
    sys.stderr.write("Store the secret now: it is never shown again.\n")


@keys_app.command("list")
def list_keys(
    account: str = typer.Option(None, help="Only keys of this account."),
) -> None:
    """List keys (never their secrets)."""
    from ..api.keys import KeyStore

    print_json({"AccessKeys": [_shown(key) for key in KeyStore.default().list(account)]})


@keys_app.command("revoke")
def revoke(access_key_id: str) -> None:
    """Revoke a key for good: requests signed with it answer UnrecognizedClientException."""
    from ..api.keys import KeyStore
    from ..governance import gate

    def record(key: AccessKey) -> None:
        gate.audit_admin_event(
            RequestContext.local(), "RevokeAccessKey", key.access_key_id,
            {"account_id": key.account_id},
        )

    key = run_reporting_errors(lambda: KeyStore.default().revoke(access_key_id, record))
    print_json(_shown(key))


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
