"""Who am I, personal API tokens, and the web session's CSRF token and logout."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, List, Nested, String
from apiflask.validators import Length

from ..fields import Id
from .guard import auth_required, csrf_token, current_user, logout_session, resolve_user
from .tokens import create_api_token, list_api_tokens, list_org_api_tokens, revoke_api_token

bp = APIBlueprint("auth", __name__)


class OrgOut(Schema):
    id = Id()
    name = String()
    edition = String()
    time_zone = String()


class UserOut(Schema):
    id = Id()
    email = String()
    name = String()
    role = String(metadata={"description": "super_admin, admin or rep"})
    time_zone = String(allow_none=True)


class MeOut(Schema):
    user = Nested(UserOut)
    org = Nested(OrgOut)


class TokenIn(Schema):
    name = String(required=True, validate=Length(min=1, max=100))


class TokenOut(Schema):
    id = Id()
    name = String()
    prefix = String(metadata={"description": "the token's first characters, to recognise it"})
    user_id = Id()
    created_at = DateTime()
    last_used_at = DateTime(allow_none=True)
    revoked_at = DateTime(allow_none=True)
    revoked = Boolean(attribute="is_revoked")


class NewTokenOut(TokenOut):
    token = String(metadata={"description": "the token itself; shown this once, never again"})


class TokenListOut(Schema):
    items = List(Nested(TokenOut))


class CsrfOut(Schema):
    csrf_token = String()


def _token_view(token, plaintext: str | None = None) -> dict:
    view = {
        column: getattr(token, column)
        for column in ("id", "name", "prefix", "user_id", "created_at", "last_used_at")
    }
    view["revoked_at"] = token.revoked_at
    view["is_revoked"] = token.revoked_at is not None
    if plaintext is not None:
        view["token"] = plaintext
    return view


@bp.get("/api/me")
@bp.output(MeOut)
@bp.doc(summary="The signed-in user and their organization")
@auth_required()
def me():
    user = current_user()
    return {"user": user, "org": user.org}


@bp.get("/api/tokens")
@bp.output(TokenListOut)
@bp.doc(summary="My personal API tokens (revoked ones included)")
@auth_required()
def tokens_list():
    return {"items": [_token_view(t) for t in list_api_tokens(current_user())]}


@bp.post("/api/tokens")
@bp.input(TokenIn)
@bp.output(NewTokenOut, status_code=201)
@bp.doc(summary="Create a personal API token; the response is the only time it is shown")
@auth_required()
def tokens_create(json_data):
    token, plaintext = create_api_token(current_user(), json_data["name"])
    return _token_view(token, plaintext)


@bp.delete("/api/tokens/<int:token_id>")
@bp.output({}, status_code=204)
@bp.doc(summary="Revoke a token (my own; an admin: any of the organization)")
@auth_required()
def tokens_revoke(token_id: int):
    revoke_api_token(current_user(), token_id)
    return ""


@bp.get("/api/org/tokens")
@bp.output(TokenListOut)
@bp.doc(summary="Every personal API token of the organization (admins)")
@auth_required("admin")
def org_tokens_list():
    return {"items": [_token_view(t) for t in list_org_api_tokens(current_user().org_id)]}


@bp.get("/api/csrf")
@bp.output(CsrfOut)
@bp.doc(summary="The web session's CSRF token, to send as X-CSRF-Token on changes")
def csrf():
    return {"csrf_token": csrf_token()}


@bp.post("/auth/logout")
@bp.output({}, status_code=204)
@bp.doc(summary="End the web session")
def logout():
    resolve_user()  # a signed-in session must send its CSRF token to be ended
    logout_session()
    return ""
