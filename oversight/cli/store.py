"""`oversight store copy`: move a single machine's store into PostgreSQL (cluster mode)."""

from __future__ import annotations

import sys

import typer

from .output import print_json

store_app = typer.Typer(help="The metadata store as a whole (docs/DEPLOYMENT.md, 'Upgrading').")


@store_app.command("copy")
def store_copy(
    to: str = typer.Option(
        ..., help="The empty PostgreSQL database: postgresql+psycopg://user@host/db."
    ),
) -> None:
    """Copy this data directory's embedded store (every table, and the audit chain record for
    record) into an empty PostgreSQL database, record the move there, print what was copied.
    Stop every Oversight process using the data directory first."""
    from ..governance.move import MoveRefused, move_store
    from ..store.copy import CopyFailed

    try:
        moved = move_store(to)
    except (MoveRefused, CopyFailed) as exc:
        sys.stderr.write(f"oversight store copy: {exc}\n")
        raise typer.Exit(code=1) from exc
    print_json(moved.to_json())


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
