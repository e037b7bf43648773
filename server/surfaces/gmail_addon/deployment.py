"""The Gmail add-on's deployment descriptor (manifest/gmail/deployment.json), rendered for one
host: `liaison manifest gmail --base-url https://host`. The result is what
`gcloud workspace-add-ons deployments create NAME --deployment-file=...` takes.

Scopes are the least the add-on uses: run in Gmail, read the open message, act on the draft,
the user's address; `gmail.send` only with --with-gmail-send (sending through Gmail).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

TEMPLATE = Path(__file__).resolve().parents[3] / "manifest" / "gmail" / "deployment.json"
BASE_SCOPES = (
    "https://www.googleapis.com/auth/gmail.addons.execute",
    "https://www.googleapis.com/auth/gmail.addons.current.message.readonly",
    "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
    "https://www.googleapis.com/auth/userinfo.email",
)
SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
ENDPOINTS = {
    "homepage": "/gmail/homepage",
    "message": "/gmail/message",
    "compose": "/gmail/compose",
}
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")


def base_url_of(base_url: str) -> str:
    """The deployment's origin without a trailing slash; https only (Google calls HTTPS only)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("The base URL must be an https:// URL (Google calls add-ons over HTTPS).")
    if parts.query or parts.fragment:
        raise ValueError("The base URL takes no query or fragment.")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def render_deployment(base_url: str, with_send: bool = False) -> dict[str, Any]:
    """The deployment resource for an add-on served at `base_url`."""
    base = base_url_of(base_url)
    text = _PLACEHOLDER.sub(
        lambda m: json.dumps(base)[1:-1] if m.group(1) == "BASE_URL" else m.group(0),
        TEMPLATE.read_text(encoding="utf-8"),
    )
    document = json.loads(text)
    if with_send:
        document["oauthScopes"].append(SEND_SCOPE)
    problems = deployment_problems(document, base, with_send)
    if problems:
        raise ValueError("; ".join(problems))
    return document


def _urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return [value] if isinstance(value, str) and "://" in value else []


def deployment_problems(document: dict, base: str, with_send: bool = False) -> list[str]:
    """What is wrong with a deployment document (empty when it is right)."""
    problems = []
    addons = document.get("addOns") or {}
    common, gmail = addons.get("common") or {}, addons.get("gmail") or {}
    if not common.get("name") or not common.get("logoUrl"):
        problems.append("addOns.common needs a name and a logoUrl")
    wanted = set(BASE_SCOPES) | ({SEND_SCOPE} if with_send else set())
    if set(document.get("oauthScopes") or []) != wanted:
        problems.append("oauthScopes must be exactly the add-on's scopes")
    triggers = {
        "homepage": (common.get("homepageTrigger") or {}).get("runFunction"),
        "message": next(iter(gmail.get("contextualTriggers") or [{}])).get("onTriggerFunction"),
        "compose": next(iter((gmail.get("composeTrigger") or {}).get("actions") or [{}])).get(
            "runFunction"
        ),
    }
    for name, path in ENDPOINTS.items():
        if triggers[name] != base + path:
            problems.append(f"the {name} trigger must call {base + path}")
    if (gmail.get("composeTrigger") or {}).get("draftAccess") != "METADATA":
        problems.append("the compose trigger needs draftAccess METADATA (the recipients)")
    if (addons.get("httpOptions") or {}).get("authorizationHeader") != "SYSTEM_ID_TOKEN":
        problems.append("httpOptions.authorizationHeader must be SYSTEM_ID_TOKEN")
    for url in _urls(addons):
        if not url.startswith(base + "/"):
            problems.append(f"{url} is not under {base}")
    return problems


@click.command("gmail")
@click.option("--base-url", required=True, help="Where this service is reachable, https://host.")
@click.option("--with-gmail-send", is_flag=True, help="Also ask for gmail.send (send via Gmail).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None)
def gmail(base_url: str, with_gmail_send: bool, output: str | None) -> None:
    """Print (or write to --output) the Gmail add-on deployment descriptor for BASE_URL."""
    try:
        document = render_deployment(base_url, with_gmail_send)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    text = json.dumps(document, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
