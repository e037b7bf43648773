"""Deterministic synthetic CRM data for the benchmarks: COPY text rows, generated lazily.

Every value is a function of the row number (a cheap integer hash, no random state), so the
loader streams rows without keeping them, and the load generator can name addresses that exist
without reading the database. Full scale: 1,000,000 contacts (two addresses each), 300,000
companies (one domain each), 1,000,000 deals, 300,000 tickets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

DATA_VERSION = 1  # bump when a generator changes: a --reuse load must match them
FULL = {"contacts": 1_000_000, "companies": 300_000, "deals": 1_000_000, "tickets": 300_000}
KEY_ACCOUNT_SHARE = 50  # one deal in 50 goes to a "key account" contact (those have ~20 deals)

_FIRST = ("Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas",
          "Karin", "Liam", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Uwe",
          "Vera", "Walt", "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Carl", "Dina")  # fmt: skip
_LAST = ("Smith", "Muller", "Garcia", "Rossi", "Dubois", "Novak", "Jensen", "Kowalski", "Silva",
         "Nagy", "Ivanova", "Brown", "Weber", "Lopez", "Moreau", "Horvat", "Berg", "Costa",
         "Fischer", "Martin", "Keller", "Young", "Schmid", "Ward", "Hansen", "Olsen")  # fmt: skip
_WORDS = ("north", "blue", "iron", "swift", "green", "bright", "delta", "alpine", "cedar", "nova",
          "terra", "lumen", "orbit", "vertex", "harbor", "summit", "pixel", "quartz")  # fmt: skip
_SUFFIX = ("GmbH", "Ltd", "Inc", "SA", "BV", "AG", "LLC", "Oy")
_TITLES = ("CEO", "CTO", "Buyer", "Engineer", "Head of Sales", "Office Manager", "Consultant")
_STAGES = ("subscriber", "lead", "marketing_qualified_lead", "sales_qualified_lead",
           "opportunity", "customer")  # fmt: skip
_INDUSTRIES = ("software", "retail", "manufacturing", "health", "finance", "logistics")
_OPEN_DEAL = ("appointment_scheduled", "qualified_to_buy", "presentation_scheduled",
              "decision_maker_bought_in", "contract_sent")  # fmt: skip
_OPEN_TICKET = ("new", "waiting_on_contact", "waiting_on_us")
_PRIORITIES = ("low", "medium", "high")


def _times(count: int, start: datetime, span: timedelta) -> tuple[str, ...]:
    step = span / count
    return tuple(f"{start + step * k:%Y-%m-%d %H:%M:%S}+00" for k in range(count))


_START = datetime(2023, 1, 1, tzinfo=UTC)
_TIMES = _times(4096, _START, timedelta(days=730))  # last activity: spread over two years
_CREATED = _times(1024, _START - timedelta(days=365), timedelta(days=365))
_DATES = tuple(f"{date(2025, 1, 1) + timedelta(days=k)}" for k in range(365))


def mix(x: int, salt: int = 0) -> int:
    """A 32-bit integer hash (murmur3 finalizer): deterministic, well spread."""
    x = ((x ^ (salt * 0x27D4EB2F)) * 0x9E3779B1) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    return x ^ (x >> 16)


@dataclass(frozen=True)
class Shape:
    """How many rows of each kind, and who the loaded rows belong to."""

    contacts: int
    companies: int
    deals: int
    tickets: int
    org_id: int = 1
    owner_ids: tuple[int, ...] = (1,)
    created_by: int | None = None

    @classmethod
    def scaled(cls, scale: float, **ids) -> Shape:
        """The full-scale counts times `scale` (at least 10 of each)."""
        return cls(**{k: max(10, round(v * scale)) for k, v in FULL.items()}, **ids)

    def counts(self) -> dict[str, int]:
        """Expected rows per bulk table."""
        associations = self.contacts + 2 * self.deals + self.tickets
        return {"companies": self.companies, "company_domains": self.companies,
                "contacts": self.contacts, "contact_emails": 2 * self.contacts,
                "deals": self.deals, "tickets": self.tickets,
                "associations": associations}  # fmt: skip

    # --- relationships, as functions of ids ---------------------------------------------------

    def company_of(self, contact: int) -> int:
        """The primary company of a contact."""
        return mix(contact, 1) % self.companies + 1

    def contact_of_deal(self, deal: int) -> int:
        """The contact a deal is associated with (some contacts are key accounts with many)."""
        if deal % KEY_ACCOUNT_SHARE == 0:
            return mix(deal, 2) % max(1, self.contacts // 1000) + 1
        return mix(deal, 3) % self.contacts + 1

    def contact_of_ticket(self, ticket: int) -> int:
        """The contact a ticket is associated with."""
        return mix(ticket, 4) % self.contacts + 1

    def addresses(self, contact: int) -> tuple[str, str]:
        """The contact's two addresses as stored (primary first; mixed case)."""
        first, last = _FIRST[contact % len(_FIRST)], _LAST[mix(contact, 5) % len(_LAST)]
        return (
            f"{first}.{last}.{contact}@{company_domain(self.company_of(contact))}",
            f"{first[0].lower()}{last.lower()}{contact}@mail{contact % 97}.example.net",
        )


def company_domain(company: int) -> str:
    """The one domain of a company."""
    first, second = _WORDS[company % len(_WORDS)], _WORDS[mix(company, 6) % len(_WORDS)]
    return f"{first}{second}{company}.example.com"


def _record_head(shape: Shape, n: int, salt: int) -> str:
    """id, org_id, owner_id, properties, created_at, updated_at, last_activity_at."""
    h = mix(n, salt)  # one hash, three independent bit fields
    active, created = _TIMES[h & 4095], _CREATED[(h >> 12) & 1023]
    owner = shape.owner_ids[(h >> 22) % len(shape.owner_ids)]
    return f"{n}\t{shape.org_id}\t{owner}\t{{}}\t{created}\t{active}\t{active}"


RECORD_COLUMNS = ("id", "org_id", "owner_id", "properties", "created_at", "updated_at",
                  "last_activity_at")  # fmt: skip
_CONTACT = ("first_name", "last_name", "job_title", "phone", "lifecycle_stage", "is_marketing",
            "primary_company_id")  # fmt: skip
COLUMNS = {
    "companies": (*RECORD_COLUMNS, "name", "industry"),
    "company_domains": ("id", "org_id", "company_id", "domain"),
    "contacts": (*RECORD_COLUMNS, *_CONTACT),
    "contact_emails": ("id", "org_id", "contact_id", "email", "email_normalized", "is_primary"),
    "deals": (*RECORD_COLUMNS, "name", "stage", "amount", "currency", "close_date", "is_closed"),
    "tickets": (*RECORD_COLUMNS, "subject", "description", "status", "priority", "is_closed"),
    "associations": (
        "id",
        "org_id",
        "a_type",
        "a_id",
        "b_type",
        "b_id",
        "created_at",
        "created_by_id",
    ),
}


def companies(s: Shape) -> Iterator[str]:
    """COPY rows of `companies`."""
    for c in range(1, s.companies + 1):
        name = f"{_WORDS[c % len(_WORDS)].title()} {_WORDS[mix(c, 6) % len(_WORDS)].title()}"
        yield (f"{_record_head(s, c, 100)}\t{name} {_SUFFIX[c % len(_SUFFIX)]}"
               f"\t{_INDUSTRIES[mix(c, 7) % len(_INDUSTRIES)]}\n")  # fmt: skip


def company_domains(s: Shape) -> Iterator[str]:
    """COPY rows of `company_domains` (one per company)."""
    for c in range(1, s.companies + 1):
        yield f"{c}\t{s.org_id}\t{c}\t{company_domain(c)}\n"


def contacts(s: Shape) -> Iterator[str]:
    """COPY rows of `contacts`."""
    for i in range(1, s.contacts + 1):
        h = mix(i, 8)
        first, last = _FIRST[i % len(_FIRST)], _LAST[mix(i, 5) % len(_LAST)]
        yield (f"{_record_head(s, i, 200)}\t{first}\t{last}"
               f"\t{_TITLES[h % len(_TITLES)]}\t\\N\t{_STAGES[h % len(_STAGES)]}"
               f"\t{'f' if h % 10 == 0 else 't'}\t{s.company_of(i)}\n")  # fmt: skip


def contact_emails(s: Shape) -> Iterator[str]:
    """COPY rows of `contact_emails`: two per contact, the first primary."""
    for i in range(1, s.contacts + 1):
        primary, other = s.addresses(i)
        yield f"{2 * i - 1}\t{s.org_id}\t{i}\t{primary}\t{primary.lower()}\tt\n"
        yield f"{2 * i}\t{s.org_id}\t{i}\t{other}\t{other.lower()}\tf\n"


def deals(s: Shape) -> Iterator[str]:
    """COPY rows of `deals`: about 60 % open."""
    for d in range(1, s.deals + 1):
        h = mix(d, 9)
        closed = h % 10 < 4
        stage = ("closed_won" if h & 1 else "closed_lost") if closed else _OPEN_DEAL[h % 5]
        yield (f"{_record_head(s, d, 300)}\tDeal {d}\t{stage}\t{h % 200_000}.00\tEUR"
               f"\t{_DATES[h % len(_DATES)]}\t{'t' if closed else 'f'}\n")  # fmt: skip


def tickets(s: Shape) -> Iterator[str]:
    """COPY rows of `tickets`: about half open."""
    for t in range(1, s.tickets + 1):
        h = mix(t, 11)
        closed = h % 2 == 0
        status = "closed" if closed else _OPEN_TICKET[h % 3]
        yield (f"{_record_head(s, t, 400)}\tTicket {t}\t\\N\t{status}"
               f"\t{_PRIORITIES[h % 3]}\t{'t' if closed else 'f'}\n")  # fmt: skip


def associations(s: Shape) -> Iterator[str]:
    """COPY rows of `associations` in canonical order (company < contact < custom < deal < ticket):
    contact↔company, deal↔company, contact↔deal, contact↔ticket."""
    by = "\\N" if s.created_by is None else str(s.created_by)
    n = 0
    for i in range(1, s.contacts + 1):
        n += 1
        company = s.company_of(i)
        yield f"{n}\t{s.org_id}\tcompany\t{company}\tcontact\t{i}\t{_CREATED[i % 1024]}\t{by}\n"
    for d in range(1, s.deals + 1):
        n += 1
        company = s.company_of(s.contact_of_deal(d))
        yield f"{n}\t{s.org_id}\tcompany\t{company}\tdeal\t{d}\t{_CREATED[d % 1024]}\t{by}\n"
    for d in range(1, s.deals + 1):
        n += 1
        contact = s.contact_of_deal(d)
        yield f"{n}\t{s.org_id}\tcontact\t{contact}\tdeal\t{d}\t{_CREATED[d % 1024]}\t{by}\n"
    for t in range(1, s.tickets + 1):
        n += 1
        contact = s.contact_of_ticket(t)
        yield f"{n}\t{s.org_id}\tcontact\t{contact}\tticket\t{t}\t{_CREATED[t % 1024]}\t{by}\n"


GENERATORS = {"companies": companies, "company_domains": company_domains, "contacts": contacts,
              "contact_emails": contact_emails, "deals": deals, "tickets": tickets,
              "associations": associations}  # fmt: skip
