"""Sanitized display of logged mail (LOG-10), with nh3 (the ammonia HTML sanitizer).

`sanitize_html` runs once, when an email is logged; its result is stored in `body_html` and is
the only HTML any answer or page shows (the raw HTML is kept for export only). It keeps
formatting tags and drops everything active: script, style, forms, iframes, object/embed, base,
meta, SVG and MathML, event handlers, `javascript:`/`vbscript:` URLs, relative URLs, and CSS that
could fetch or run something (only a short list of style properties survives, and none whose value
holds `url(`, `expression(`, `@import` or a CSS escape). Links get `rel="noopener noreferrer"` and
`target="_blank"`. Images: `cid:` sources stay (rewritten to the attachment download URL when
shown, `show_html`), small `data:image/...` sources stay, and remote `http(s)` sources move to
`data-remote-src`, so the viewer's browser fetches nothing (no tracking pixel fires) until the
viewer asks for images (`show_html(..., images=True)` puts them back; they were sanitized too).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import nh3

TAGS = set(nh3.ALLOWED_TAGS) - {"area", "map"} | {"font", "tfoot", "caption"}
ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href", "hreflang", "name"},
    "img": {"src", "alt", "width", "height", "border"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "width", "summary"},
    "td": {"colspan", "rowspan", "width", "height", "valign", "bgcolor"},
    "th": {"colspan", "rowspan", "width", "height", "valign", "bgcolor", "scope"},
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "blockquote": set(),
}
STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "text-align", "text-decoration", "text-indent", "text-transform", "line-height",
    "letter-spacing", "white-space", "vertical-align", "width", "height", "max-width",
    "min-width", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left", "border",
    "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-collapse", "border-spacing", "border-radius",
    "display", "list-style-type", "direction",
}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}
_BAD_STYLE = re.compile(r"url\s*\(|expression\s*\(|@import|\\|javascript:|behavior", re.I)
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpeg|webp);base64,[a-z0-9+/=\s]*$", re.I)
_IMG = re.compile(r"<img\b[^>]*>")
_REMOTE_SRC = re.compile(r'\ssrc="(https?:[^"]*)"', re.I)
_HELD_SRC = re.compile(r'\sdata-remote-src="([^"]*)"')
_CID_SRC = re.compile(r'\ssrc="cid:([^"]*)"', re.I)


def _attribute_filter(tag: str, name: str, value: str) -> str | None:
    if name == "style" and _BAD_STYLE.search(value):
        return None
    lowered = value.strip().lower()
    if name in ("href", "src") and lowered.startswith("data:"):
        return value if tag == "img" and name == "src" and _DATA_IMAGE.match(value) else None
    if name == "href" and lowered.startswith("cid:"):
        return None
    return value


def _hold_remote(tag: str) -> str:
    return _REMOTE_SRC.sub(lambda m: f' data-remote-src="{m.group(1)}"', tag)


def sanitize_html(html: str | None) -> tuple[str | None, int]:
    """(sanitized HTML with remote images held back, number of remote images held back)."""
    if html is None:
        return None, 0
    clean = nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags={"script", "style", "title", "template", "noscript"},
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        url_schemes=URL_SCHEMES,
        filter_style_properties=STYLE_PROPERTIES,
        url_relative="deny",
        strip_comments=True,
    )
    count = 0

    def hold(match: re.Match) -> str:
        nonlocal count
        tag = match.group(0)
        held = _hold_remote(tag)
        count += held != tag
        return held

    return _IMG.sub(hold, clean), count


def show_html(
    stored: str | None, images: bool = False, cid_url: Callable[[str], str | None] | None = None
) -> str | None:
    """The stored sanitized HTML as shown: `cid:` images pointed at `cid_url(content_id)` (or
    left without a source when there is no such attachment), remote images put back if asked."""
    if stored is None:
        return None

    def rewrite(match: re.Match) -> str:
        tag = match.group(0)
        if images:
            tag = _HELD_SRC.sub(lambda m: f' src="{m.group(1)}"', tag)
        if cid_url is not None:

            def point(found: re.Match) -> str:
                url = cid_url(_unescape(found.group(1)))
                return f' src="{_escape(url)}"' if url else ""

            tag = _CID_SRC.sub(point, tag)
        return tag

    return _IMG.sub(rewrite, stored)


def _unescape(value: str) -> str:
    return (
        value.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
