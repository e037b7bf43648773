"""Cleaning one imported row (REC-5): the cells of a contact, company or deal checked with the same
rules as the records API (REC-1, REC-3), without touching the database.

A cleaned row holds only the fields whose cells are not empty (so an update touches only those);
references to owners, companies and contacts are resolved per batch by import_writers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .models import LIFECYCLE_STAGES

CONTACT_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("E-mail", "Email Address", "E-mail Address", "Mail", "Primary Email", "Work Email"),
    "first_name": ("First Name", "Firstname", "Given Name", "First", "Forename"),
    "last_name": ("Last Name", "Lastname", "Surname", "Family Name", "Last"),
    "job_title": ("Job Title", "Title", "Position"),
    "phone": ("Phone", "Phone Number", "Telephone", "Tel", "Mobile", "Mobile Phone"),
    "lifecycle_stage": ("Lifecycle Stage", "Lifecycle", "Stage"),
    "is_marketing": ("Marketing", "Marketing Contact", "Is Marketing"),
    "company": ("Company", "Company Name", "Company Domain", "Organization", "Organisation"),
    "owner": ("Owner", "Owner Email", "Contact Owner"),
}
COMPANY_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("Name", "Company", "Company Name", "Organization", "Organisation"),
    "domain": ("Domain", "Domains", "Website", "Web Site", "URL", "Company Domain"),
    "industry": ("Industry", "Sector"),
    "owner": ("Owner", "Owner Email", "Company Owner"),
}
DEAL_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("Name", "Deal", "Deal Name", "Title"),
    "stage": ("Stage", "Deal Stage", "Pipeline Stage"),
    "amount": ("Amount", "Value", "Deal Value", "Deal Amount"),
    "currency": ("Currency", "Currency Code"),
    "close_date": ("Close Date", "Expected Close Date", "Closing Date"),
    "is_closed": ("Closed", "Is Closed"),
    "company": ("Company", "Company Name", "Company Domain", "Account"),
    "contact": ("Contact", "Contacts", "Contact Email", "Email", "E-mail"),
    "owner": ("Owner", "Owner Email", "Deal Owner"),
}
REQUIRED = {"contact": ("email",), "company": ("name",), "deal": ("name",)}
FIELDS = {"contact": CONTACT_FIELDS, "company": COMPANY_FIELDS, "deal": DEAL_FIELDS}

_TEXT_LIMITS = {"first_name": 100, "last_name": 100, "job_title": 200, "phone": 50, "name": 200,
                "industry": 100, "stage": 60}  # fmt: skip
_TRUE, _FALSE = {"true", "yes", "y", "1", "x"}, {"false", "no", "n", "0"}
_STAGE_WORDS = {"mql": "marketing_qualified_lead", "sql": "sales_qualified_lead"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_LIST_SPLIT = re.compile(r"[;,\s]+")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"(?=.{{1,64}}$){_ATEXT}+(?:\.{_ATEXT}+)*")


class CellError(ValueError):
    """A cell's value breaks a rule; the message is the reason shown in the report."""


@dataclass
class PendingRow:
    """A row on its way in: cleaned values, its errors ((field, reason)) and what to do with it."""

    row: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str | None, str]] = field(default_factory=list)
    action: str = "create"  # create | update | skip
    target_id: int | None = None  # the existing record an update changes


@functools.lru_cache(maxsize=4096)
def _domain_accepted(domain: str) -> bool:
    """Whether email-validator accepts addresses at `domain` (checked once per domain)."""
    try:
        validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def clean_email(value: str) -> tuple[str, str]:
    """(address as written, normalized lower-case form); syntax only, no DNS.

    email-validator decides. As it is slow (its domain checks dominate a large import), a plain
    ASCII dot-atom local part at a domain it already accepted is taken without asking again.
    """
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if at and len(address) <= 200 and _DOT_ATOM.fullmatch(local) and _domain_accepted(domain):
        return address, address.lower()
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise CellError(f"{address!r} is not a valid email address: {exc}") from None
    return address, address.lower()


def clean_domain(value: str) -> str:
    """A lower-case host name from a domain or web address ('https://www.acme.com/' → acme.com)."""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower())
    text = text.split("/", 1)[0].split(":", 1)[0].rstrip(".")
    text = text.removeprefix("www.")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        text = ""
    if not _DOMAIN.match(text):
        raise CellError(f"{value.strip()!r} is not a domain name such as acme.com.")
    return text


def clean_bool(value: str) -> bool:
    """true/false, yes/no, y/n, 1/0 (x means yes)."""
    word = value.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise CellError(f"{value.strip()!r} is not yes or no (use true/false, yes/no or 1/0).")


def clean_lifecycle(value: str) -> str:
    """A lifecycle stage, from its name or its label ('Marketing Qualified Lead', 'MQL')."""
    key = re.sub(r"[\s-]+", "_", value.strip().lower())
    key = _STAGE_WORDS.get(key, key)
    if key not in LIFECYCLE_STAGES:
        raise CellError(f"{value.strip()!r} is not a lifecycle stage; use one of "
                        f"{', '.join(LIFECYCLE_STAGES)}.")  # fmt: skip
    return key


def clean_amount(value: str) -> Decimal:
    """A money amount below 10^12: 1234.5, 1,234.50 or 1234,50."""
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"-?\d+,\d{1,2}", text):
        text = text.replace(",", ".")
    elif re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text):
        text = text.replace(",", "")
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise CellError(f"{value.strip()!r} is not an amount.") from None
    if not amount.is_finite() or abs(amount) >= Decimal("1e12"):
        raise CellError("The amount must be below 10^12.")
    return amount


def clean_date(value: str) -> date:
    """An ISO date, YYYY-MM-DD."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise CellError(f"{value.strip()!r} is not a date (YYYY-MM-DD).") from None


def clean_currency(value: str) -> str:
    """A three-letter currency code, upper-case."""
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise CellError(f"{value.strip()!r} is not a three-letter currency code such as EUR.")
    return code


def clean_text(name: str, value: str) -> str:
    """Text within the column's length."""
    text = value.strip()
    if len(text) > _TEXT_LIMITS[name]:
        raise CellError(f"Longer than {_TEXT_LIMITS[name]} characters.")
    return text


def _clean_emails(value: str) -> list[str]:
    return list(dict.fromkeys(clean_email(part)[1] for part in _LIST_SPLIT.split(value) if part))


def _clean_domains(value: str) -> list[str]:
    return list(dict.fromkeys(clean_domain(part) for part in _LIST_SPLIT.split(value) if part))


_CLEANERS = {
    "email": clean_email,
    "lifecycle_stage": clean_lifecycle,
    "is_marketing": clean_bool,
    "is_closed": clean_bool,
    "amount": clean_amount,
    "close_date": clean_date,
    "currency": clean_currency,
    "domain": _clean_domains,
    "contact": _clean_emails,
    "owner": lambda value: value.strip().lower(),
    "company": lambda value: value.strip(),
}


def clean_row(row: int, cells: dict[str, str]) -> PendingRow:
    """Check every non-empty mapped cell of a row ({field: cell}); collect each cell's error."""
    pending = PendingRow(row=row)
    for name, cell in cells.items():
        if not cell.strip():
            continue
        try:
            if name.startswith("properties."):
                pending.values.setdefault("properties", {})[name[11:]] = cell.strip()
            elif name in _CLEANERS:
                pending.values[name] = _CLEANERS[name](cell)
            else:
                pending.values[name] = clean_text(name, cell)
        except CellError as exc:
            pending.errors.append((name, str(exc)))
    return pending


def check_required(pending: PendingRow, record_type: str) -> None:
    """A required field whose cell is empty is an error of that row."""
    for name in REQUIRED[record_type]:
        if name not in pending.values and not any(f == name for f, _ in pending.errors):
            pending.errors.append((name, f"{name} is required."))
