"""Rewrite an email for tracking (TRK-1, TRK-2): links to the redirect, a pixel, a trap link.

The HTML is never re-serialized: `html.parser` finds the start tags and their exact source
offsets, and only the value of an `href` attribute of a link tag is replaced in place (entities,
conditional comments, case and whitespace of everything else are kept byte for byte). Links
inside Outlook conditional comments (`<!--[if mso]>` VML buttons) are rewritten as well.

Not rewritten: mailto:, tel: and anything not http(s); our unsubscribe links (`/u/...`); links
already pointing at our tracking endpoints; merge-template links (`{{ }}` / `{% %}`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

LINK_TAGS = {"a", "area", "v:roundrect", "v:rect", "v:oval", "v:shape"}
_HREF = re.compile(r"""(?<![\w:.-])(href\s*=\s*)("[^"]*"|'[^']*'|[^\s"'=<>`]+)""", re.I)
_TEXT_URL = re.compile(r"""https?://[^\s<>"'\]\[\x00-\x1f\x7f]+""", re.I)
_TRAILING = ".,;:!?)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The trap link: no text, not displayed (inline style, which Gmail/Outlook/Apple Mail keep;
# mso-hide for Outlook's Word renderer), hidden from assistive technology, not focusable.
TRAP_TEMPLATE = (
    '<a href="{url}" aria-hidden="true" tabindex="-1" '
    'style="display:none !important;mso-hide:all;font-size:0;line-height:0;'
    'max-height:0;overflow:hidden;opacity:0"></a>'
)
PIXEL_TEMPLATE = (
    '<img src="{url}" width="1" height="1" alt="" border="0" '
    'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
)


@dataclass
class Rewritten:
    """The tracked bodies and the original URLs by position (the trap link last, when any)."""

    html: str | None
    text: str | None
    urls: list[str] = field(default_factory=list)
    trap_position: int | None = None


def is_trackable(url: str, base_url: str) -> bool:
    """True for an http(s) link that is not ours (unsubscribe, tracking) nor a template."""
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False
    if "{{" in url or "{%" in url:
        return False
    base = base_url.rstrip("/").lower()
    return not lowered.startswith((f"{base}/u/", f"{base}/t/"))


class _LinkFinder(HTMLParser):
    """Collects (offset, length, tag source) of link start tags and where </body> is."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", source)]
        self.tags: list[tuple[int, str, str]] = []  # (offset, tag source, unescaped href)
        self.body_end: int | None = None
        self.comment_offsets: list[tuple[int, str]] = []

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in LINK_TAGS:
            return
        href = next((value for name, value in attrs if name == "href"), None)
        raw = self.get_starttag_text()
        if href is not None and raw:
            self.tags.append((self._offset(), raw, href))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()

    def handle_comment(self, data: str) -> None:
        if data.lstrip().lower().startswith("[if"):
            self.comment_offsets.append((self._offset() + 4, data))


def _find_links(source: str, base: int = 0) -> tuple[list[tuple[int, str, str]], int | None]:
    finder = _LinkFinder(source)
    finder.feed(source)
    finder.close()
    tags = [(base + offset, raw, href) for offset, raw, href in finder.tags]
    for offset, data in finder.comment_offsets:
        inner, _ = _find_links(data, base + offset)
        tags.extend(inner)
    tags.sort()
    body_end = None if finder.body_end is None else base + finder.body_end
    return tags, body_end


def rewrite_html(
    source: str,
    url_for: Callable[[int], str],
    base_url: str,
    pixel_url: str | None,
    trap: bool = True,
) -> tuple[str, list[str], int | None]:
    """(tracked HTML, original URLs by position, trap position) for one HTML body."""
    tags, body_end = _find_links(source)
    urls: list[str] = []
    out: list[str] = []
    cursor = 0
    for offset, raw, href in tags:
        if offset < cursor or source[offset : offset + len(raw)] != raw:
            continue  # a tag the parser reported twice or at a shifted place: leave it
        if not is_trackable(href, base_url):
            continue
        match = _HREF.search(raw)
        if match is None:
            continue
        position = len(urls)
        urls.append(_CONTROL.sub("", href.strip()))  # browsers drop tabs and newlines too
        quoted = '"' + html.escape(url_for(position), quote=True) + '"'
        new_raw = raw[: match.start(2)] + quoted + raw[match.end(2) :]
        out.append(source[cursor:offset])
        out.append(new_raw)
        cursor = offset + len(raw)
    trap_position = None
    tail = ""
    if trap:
        trap_position = len(urls)
        urls.append("")  # the trap has no destination
        tail += TRAP_TEMPLATE.format(url=html.escape(url_for(trap_position), quote=True))
    if pixel_url:
        tail += PIXEL_TEMPLATE.format(url=html.escape(pixel_url, quote=True))
    insert_at = body_end if body_end is not None and body_end >= cursor else None
    if insert_at is None:
        out.append(source[cursor:])
        out.append(tail)
    else:
        out.append(source[cursor:insert_at])
        out.append(tail)
        out.append(source[insert_at:])
    return "".join(out), urls, trap_position


def rewrite_text(
    source: str, url_for: Callable[[int], str], base_url: str, first_position: int = 0
) -> tuple[str, list[str]]:
    """(text with its http(s) links rewritten, the original URLs from `first_position` on)."""
    urls: list[str] = []

    def replace(match: re.Match) -> str:
        url = match.group(0)
        trailing = ""
        while url and url[-1] in _TRAILING:
            url, trailing = url[:-1], url[-1] + trailing
        if not is_trackable(url, base_url):
            return match.group(0)
        urls.append(url)
        return url_for(first_position + len(urls) - 1) + trailing

    return _TEXT_URL.sub(replace, source), urls


def rewrite(
    html_body: str | None,
    text_body: str | None,
    url_for: Callable[[int], str],
    base_url: str,
    pixel_url: str | None,
) -> Rewritten:
    """Both bodies rewritten; the pixel only in HTML. Positions: HTML links, trap, text links."""
    result = Rewritten(html=html_body, text=text_body)
    if html_body:
        result.html, result.urls, result.trap_position = rewrite_html(
            html_body, url_for, base_url, pixel_url
        )
    if text_body:
        result.text, text_urls = rewrite_text(text_body, url_for, base_url, len(result.urls))
        result.urls.extend(text_urls)
    return result
