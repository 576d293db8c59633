"""`oversight serve` (the Rekognition-compatible HTTP API) and `oversight api-docs`."""

from __future__ import annotations

import sys

import typer

from ..config import settings
from ..operations.context import RequestContext


def serve(
    host: str = typer.Option(None, help="Address to listen on (default: settings host)."),
    port: int = typer.Option(None, help="Port to listen on (default: settings port, 8900)."),
) -> None:
    """Serve Rekognition's API (AWS JSON 1.1 + SigV4) for boto3, the AWS CLI and other SDKs."""
    import uvicorn

    from ..api.app import create_app
    from ..api.keys import AccessKey, KeyStore, bootstrap_credentials
    from ..api.transport import deadline_protocol
    from ..governance import gate

    config = settings()
    store = KeyStore.default()
    credentials = config.data_dir / "credentials"

    def record(key: AccessKey) -> None:
        gate.audit_admin_event(
            RequestContext.local(), "CreateAccessKey", key.access_key_id,
            {"account_id": key.account_id, "by": "oversight serve (first start)"},
        )

    new_key = bootstrap_credentials(store, credentials, config.region, record)
    if new_key is not None:
        sys.stderr.write(
            f"First start: created access key {new_key.key.access_key_id} for account "
            f"{new_key.key.account_id}.\nIts secret is in {credentials.resolve()} (mode 0600); "
            "use it with\n"
            f"  AWS_SHARED_CREDENTIALS_FILE={credentials.resolve()} aws rekognition ... "
            f"--endpoint-url http://{host or config.host}:{port or config.port} "
            f"--region {config.region}\n"
            "More keys: oversight keys create. Delete the file once the key is stored elsewhere.\n"
        )
    proxies = config.trusted_proxies.replace(",", " ").split()
    uvicorn.run(
        create_app(store, config),
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies,
        host=host or config.host,
        port=port or config.port,
        access_log=False,  # the app writes its own structured access lines
        timeout_keep_alive=30,
        http=deadline_protocol(config.header_timeout_seconds, config.body_timeout_seconds),
    )


def api_docs() -> None:
    """Print docs/API.md: coverage of every operation in Rekognition's model."""
    from ..api.coverage import render_api_docs

    sys.stdout.write(render_api_docs())


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command("api-docs")(api_docs)
