"""Text no database can store is refused at the door, with the field at fault (422), instead of
a 500 from the driver: NUL characters (PostgreSQL refuses them in text) and unpaired UTF-16
surrogates (a JSON escape such as \\ud800 decodes to one; it cannot be encoded as UTF-8).

Checked before any view of the JSON API (`/api/...`) runs: query parameters, path parameters,
url-encoded forms and JSON bodies (a JSON body is parsed for the check only when it holds a
\\u escape: the only way either character can appear in valid JSON). Multipart bodies (file
uploads) are left to their views, which read them as streams. A view that takes mail content as
it comes and strips NULs itself (the add-in's compose text) is marked with `strips_nul`: only
unpaired surrogates are refused there. Other paths keep their own contracts: the pixel always
answers its GIF, the unsubscribe pages a page, the Gmail add-on a card.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request

from .errors import ValidationFailed

MESSAGE = "Text may not contain NUL characters or unpaired surrogates."


def strips_nul(view: Callable) -> Callable:
    """Mark a view that removes NUL characters from its input itself (put it right under the
    route decorator)."""
    view.strips_nul = True  # type: ignore[attr-defined]
    return view


def unstorable(text: str, nul_allowed: bool = False) -> bool:
    """True for text with a NUL character (unless allowed) or an unpaired surrogate."""
    if not nul_allowed and "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _first_bad_path(value: Any, path: str, nul_allowed: bool) -> str | None:
    """The dotted path of the first unstorable string (or key) in a JSON value, else None."""
    if isinstance(value, str):
        return path if unstorable(value, nul_allowed) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if unstorable(key, nul_allowed):
                return path or "body"
            found = _first_bad_path(item, here, nul_allowed)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            here = f"{path}.{index}" if path else str(index)
            found = _first_bad_path(item, here, nul_allowed)
            if found is not None:
                return found
    return None


def refuse_unstorable_text() -> None:
    """The before-request check (see the module's docstring)."""
    if not request.path.startswith("/api/"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    nul_allowed = getattr(view, "strips_nul", False)
    for source in (request.args, request.view_args or {}):
        for name, value in source.items():
            if isinstance(value, str) and unstorable(value, nul_allowed):
                raise ValidationFailed(MESSAGE, field=name)
    if request.mimetype == "application/x-www-form-urlencoded":
        request.get_data(cache=True)  # kept for the view: the form is then parsed from it
        for name, value in request.form.items(multi=True):
            if unstorable(name, nul_allowed) or unstorable(value, nul_allowed):
                raise ValidationFailed(MESSAGE, field=name)
    elif request.is_json:
        data = request.get_data(cache=True)
        if b"\\u" not in data:
            return
        try:
            parsed = json.loads(data)
        except ValueError:
            return  # not JSON: the view's own parsing answers 400
        field = _first_bad_path(parsed, "", nul_allowed)
        if field is not None:
            raise ValidationFailed(MESSAGE, field=field or "body")


def register(app: Flask) -> None:
    """Run the check before every request of `app`."""
    app.before_request(refuse_unstorable_text)
