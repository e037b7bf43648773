"""Merge fields of email templates (BULK-2, ONE-1): what a template may say, and the values.

A template is Jinja2 rendered by the outbox's sandbox (`server.mail.merge.MergeRenderer`). The
fields it may use are declared in `MERGE_FIELDS`; a field without a value is left undefined, so
`{{ first_name | default("there") }}` falls back. Besides fields, a template may use the filters
in `FILTERS`, tests (`is defined`), comparisons, `and`/`or`/`not`, `~` and `{% if %}`; loops,
macros, includes, attribute access, calls and arithmetic are refused when the template is saved,
so that rendering one per recipient can neither escape the sandbox nor run away with the CPU.
"""

from __future__ import annotations

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..errors import ValidationFailed
from ..extensions import db
from ..mail.merge import MergeRenderer
from ..orgs.models import User
from ..records.models import Company, Contact

MERGE_FIELDS: dict[str, str] = {
    "first_name": "the contact's first name",
    "last_name": "the contact's last name",
    "email": "the recipient's address",
    "company": "the name of the contact's primary company",
    "owner_name": "the name of the contact's owner",
    "owner_email": "the address of the contact's owner",
    "sender_name": "the name of the user sending",
    "sender_email": "the address of the user sending",
}
FILTERS = frozenset(
    {"default", "d", "upper", "lower", "title", "capitalize", "trim", "escape", "e", "replace",
     "truncate", "striptags", "string"}
)  # fmt: skip
TESTS = frozenset(
    {"defined", "undefined", "none", "string", "number", "eq", "ne", "equalto", "in", "lower",
     "upper"}
)  # fmt: skip
_ALLOWED = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Filter,
    nodes.Test, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
    nodes.Not, nodes.Concat, nodes.Keyword, nodes.List, nodes.Tuple,
)  # fmt: skip
_WHAT = {
    nodes.For: "loops", nodes.Macro: "macros", nodes.CallBlock: "call blocks",
    nodes.Include: "includes", nodes.Import: "imports", nodes.FromImport: "imports",
    nodes.Extends: "extends", nodes.Block: "blocks", nodes.Assign: "set",
    nodes.AssignBlock: "set", nodes.Getattr: "attributes", nodes.Getitem: "indexing",
    nodes.Call: "function calls", nodes.BinExpr: "arithmetic", nodes.UnaryExpr: "arithmetic",
}  # fmt: skip
HINT = "use merge fields, filters and {% if %}"
SAMPLE = {name: f"<{name}>" for name in MERGE_FIELDS}
_PARSER = SandboxedEnvironment()  # parsing only; rendering is the outbox's MergeRenderer


def _refuse(field: str, line: int | None, message: str):
    where = f" (line {line})" if line else ""
    return ValidationFailed(f"{field}{where}: {message}", field=field, line=line)


def _check_node(node: nodes.Node, field: str) -> None:
    line = getattr(node, "lineno", None)
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in MERGE_FIELDS:
        known = ", ".join(MERGE_FIELDS)
        raise _refuse(field, line, f"unknown merge field {node.name!r} (known: {known})")
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        raise _refuse(field, line, f"the filter {node.name!r} is not available ({HINT})")
    if isinstance(node, nodes.Test) and node.name not in TESTS:
        raise _refuse(field, line, f"the test {node.name!r} is not available ({HINT})")
    if not isinstance(node, _ALLOWED):
        what = next((w for t, w in _WHAT.items() if isinstance(node, t)), type(node).__name__)
        raise _refuse(field, line, f"{what} are not allowed in a template; {HINT}")
    for child in node.iter_child_nodes():
        _check_node(child, field)


def validate_source(source: str | None, field: str, *, html: bool) -> None:
    """422 naming `field` and the line when `source` does not compile or goes beyond the rules."""
    if source is None:
        return
    try:
        tree = _PARSER.parse(source)
    except TemplateSyntaxError as exc:
        raise _refuse(field, exc.lineno, exc.message or "syntax error") from None
    _check_node(tree, field)
    try:
        template = MergeRenderer().compile(source, html=html)
        template.render(SAMPLE)
        template.render({})
    except TemplateSyntaxError as exc:
        raise _refuse(field, exc.lineno, exc.message or "syntax error") from None
    except SecurityError as exc:
        raise _refuse(field, None, f"not allowed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any failure of a user's template is their 422
        raise _refuse(field, None, f"cannot be rendered: {exc}") from None


def field_values(sender: User | None, contact: Contact | None, address: str | None) -> dict:
    """The merge fields for one recipient; empty values are left out so that fallbacks apply."""
    values = {"email": address, "sender_name": sender.name if sender else None,
              "sender_email": sender.email if sender else None}  # fmt: skip
    if contact is not None:
        values.update(first_name=contact.first_name, last_name=contact.last_name)
        if contact.primary_company_id:
            company = db.session.get(Company, contact.primary_company_id)
            values["company"] = company.name if company else None
        if contact.owner_id:
            owner = db.session.get(User, contact.owner_id)
            if owner is not None:
                values.update(owner_name=owner.name, owner_email=owner.email)
    return {k: v for k, v in values.items() if isinstance(v, str) and v.strip()}
