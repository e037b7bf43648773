"""`liaison manifest ...`: render the add-in manifests for one deployment (UI-1).

The `manifest` group is shared: the Outlook command lives here, other surfaces add theirs with
`manifest.add_command(...)` from their own modules.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import click

OUTLOOK_TEMPLATE = Path(__file__).resolve().parents[2] / "manifest" / "outlook" / "manifest.xml"
# Stable across renders of the same deployment: Outlook identifies the add-in by this id.
ADDIN_NAMESPACE = uuid.UUID("0b6f2d1c-6a57-4d0e-9f51-1ea150000000")
_VERSION = re.compile(r"^\d{1,5}(\.\d{1,5}){3}$")
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def normalize_base_url(base_url: str) -> str:
    """The deployment's origin without a trailing slash; https only (Office requires it)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("The base URL must be an https:// URL (Office loads add-ins over HTTPS).")
    if parts.query or parts.fragment:
        raise ValueError("The base URL takes no query or fragment.")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def render_outlook_manifest(
    base_url: str,
    client_id: str | None = None,
    addin_id: str | None = None,
    version: str = "1.0.0.0",
    api_resource: str | None = None,
) -> str:
    """The Outlook manifest for a deployment at `base_url` (every placeholder filled in)."""
    base = normalize_base_url(base_url)
    if not _VERSION.match(version):
        raise ValueError("The version has four dot-separated numbers, e.g. 1.0.0.0.")
    host = urlsplit(base).netloc
    client_id = client_id or "00000000-0000-0000-0000-000000000000"
    values = {
        "BASE_URL": base,
        "APP_DOMAIN": f"https://{host}",
        "ADDIN_ID": addin_id or str(uuid.uuid5(ADDIN_NAMESPACE, base)),
        "VERSION": version,
        "MS_CLIENT_ID": client_id,
        "API_RESOURCE": api_resource or f"api://{host}/{client_id}",
    }
    template = OUTLOOK_TEMPLATE.read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda m: escape(values[m.group(1)], {'"': "&quot;"}), template)


@click.group("manifest")
def manifest() -> None:
    """Render the add-in manifests for this deployment."""


@manifest.command("outlook")
@click.option("--base-url", required=True, help="Where this service is reachable, https://host.")
@click.option("--client-id", envvar="LIAISON_MS_CLIENT_ID", help="Entra app (client) id for SSO.")
@click.option("--addin-id", help="The add-in's GUID (default: derived from the base URL).")
@click.option("--version", "version", default="1.0.0.0", show_default=True)
@click.option("--api-resource", envvar="LIAISON_MS_API_AUDIENCE", help="api://host/<client id>")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
def outlook(
    base_url: str,
    client_id: str | None,
    addin_id: str | None,
    version: str,
    api_resource: str | None,
    output: str | None,
) -> None:
    """Print (or write to --output) the Outlook add-in manifest for BASE_URL."""
    try:
        text = render_outlook_manifest(base_url, client_id, addin_id, version, api_resource)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


from .gmail_addon.deployment import gmail  # noqa: E402  (liaison manifest gmail, UI-2)

manifest.add_command(gmail)
