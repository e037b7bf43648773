"""The machine signatures data file: shipped, merged with an admin's file, loaded once (TRK-8).

`LIAISON_TRACKING_SIGNATURES` names a JSON file of the same shape as machine_signatures.json;
its entries replace shipped ones with the same reason and come first otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

SHIPPED = Path(__file__).with_name("machine_signatures.json")
_LOADED: dict[str, Signatures] = {}


@dataclass(frozen=True)
class Signature:
    """One kind of machine: its reason, networks and user agent patterns."""

    reason: str
    networks: tuple = ()
    user_agents: tuple = ()

    def matches(self, ip: ipaddress._BaseAddress | None, user_agent: str) -> bool:
        """True when the address is in one of the networks or the user agent matches."""
        if ip is not None and any(ip in net for net in self.networks if ip.version == net.version):
            return True
        return bool(user_agent) and any(p.search(user_agent) for p in self.user_agents)


@dataclass(frozen=True)
class Signatures:
    """All signatures, in match order, and the prefetch headers."""

    entries: tuple[Signature, ...]
    prefetch_headers: dict = field(default_factory=dict)

    def reason_for(self, ip: str | None, user_agent: str | None) -> str | None:
        """The first matching machine reason, or None."""
        address = _address(ip)
        agent = (user_agent or "").strip()
        return next((s.reason for s in self.entries if s.matches(address, agent)), None)

    def is_prefetch(self, headers: dict) -> bool:
        """True when a header says the request is a prefetch or preview, not a person."""
        lowered = {k.lower(): str(v).lower() for k, v in headers.items() if v}
        return any(
            value.lower() in lowered.get(name.lower(), "")
            for name, value in self.prefetch_headers.items()
        )


def _address(ip: str | None):
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip.strip())
    except ValueError:
        return None


def _entry(raw: dict) -> Signature:
    return Signature(
        reason=str(raw["reason"]),
        networks=tuple(ipaddress.ip_network(n, strict=False) for n in raw.get("networks") or ()),
        user_agents=tuple(re.compile(p, re.I) for p in raw.get("user_agent") or ()),
    )


def merge(shipped: dict, extra: dict | None) -> Signatures:
    """The shipped signatures with an admin's file merged over them."""
    extra = extra or {}
    extra_entries = [_entry(e) for e in extra.get("signatures") or ()]
    replaced = {e.reason for e in extra_entries}
    shipped_entries = [
        _entry(e) for e in shipped.get("signatures") or () if e["reason"] not in replaced
    ]
    headers = {**(shipped.get("prefetch_headers") or {}), **(extra.get("prefetch_headers") or {})}
    return Signatures(tuple(extra_entries + shipped_entries), headers)


def load_signatures(extra_path: str | None) -> Signatures:
    """The signatures for this extra file (None: shipped only), read once per process."""
    key = extra_path or ""
    if key not in _LOADED:
        shipped = json.loads(SHIPPED.read_text())
        extra = json.loads(Path(extra_path).read_text()) if extra_path else None
        _LOADED[key] = merge(shipped, extra)
    return _LOADED[key]
