"""`liaison orgs ...` and `liaison users ...` (ADM-3)."""

from factories import make_org, make_user
from sqlalchemy import select

from server.auth.tokens import user_for_api_token
from server.cli import main
from server.extensions import db
from server.orgs.models import Organization, User

TENANT = "0b2f6c1e-4f7a-4b39-9d51-2a7c8e6f9a10"


def _liaison(app, *args: str):
    return app.test_cli_runner().invoke(main, list(args))


def test_orgs_create_and_list(app):
    result = _liaison(
        app, "orgs", "create", "--name", "Acme", "--tenant", TENANT, "--domain", "Acme.com",
        "--edition", "professional",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    org = db.session.scalar(select(Organization).where(Organization.name == "Acme"))
    assert org.edition == "professional"
    listed = _liaison(app, "orgs", "list").output
    assert f"{org.id}\tAcme\tprofessional\ttenants={TENANT}\tdomains=acme.com" in listed
    again = _liaison(app, "orgs", "create", "--name", "Copycat", "--domain", "acme.com")
    assert again.exit_code == 1 and "belongs to another organization" in again.output
    bad = _liaison(app, "orgs", "create", "--name", "X", "--tenant", "nope")
    assert bad.exit_code == 1 and "tenant" in bad.output


def test_users_create_list_set_role_deactivate(app):
    org = make_org()
    result = _liaison(
        app, "users", "create", "--org", str(org.id), "--email", "Ana@Acme.com", "--name", "Ana",
        "--role", "super_admin",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _liaison(app, "users", "create", "--org", str(org.id), "--email", "bo@acme.com")
    listed = _liaison(app, "users", "list", "--org", str(org.id)).output
    assert "ana@acme.com\tAna\tsuper_admin\tactive" in listed
    assert "bo@acme.com\t\trep\tactive" in listed

    assert (
        _liaison(app, "users", "set-role", "bo@acme.com", "admin", "--org", str(org.id)).exit_code
        == 0
    )
    refused = _liaison(app, "users", "set-role", "ana@acme.com", "rep", "--org", str(org.id))
    assert refused.exit_code == 1 and "at least one active super-admin" in refused.output
    assert _liaison(app, "users", "deactivate", "ana@acme.com", "--org", str(org.id)).exit_code == 1
    assert _liaison(app, "users", "deactivate", "BO@acme.com", "--org", str(org.id)).exit_code == 0
    bo = db.session.scalar(select(User).where(User.email == "bo@acme.com"))
    db.session.refresh(bo)
    assert bo.role == "admin" and bo.is_active is False
    assert _liaison(app, "users", "reactivate", "bo@acme.com", "--org", str(org.id)).exit_code == 0

    missing = _liaison(app, "users", "deactivate", "who@acme.com", "--org", str(org.id))
    assert missing.exit_code == 1 and "No user who@acme.com" in missing.output
    no_org = _liaison(app, "users", "list", "--org", "9999")
    assert no_org.exit_code == 1


def test_users_create_refuses_a_duplicate_and_a_bad_role(app):
    org = make_org()
    make_user(org, email="ana@acme.com")
    dup = _liaison(app, "users", "create", "--org", str(org.id), "--email", "ANA@acme.com")
    assert dup.exit_code == 1 and "already a user" in dup.output
    bad = _liaison(
        app, "users", "create", "--org", str(org.id), "--email", "x@a.com", "--role", "king"
    )
    assert bad.exit_code == 2


def test_users_token_prints_a_working_token_once(app):
    org = make_org()
    user = make_user(org, email="ana@acme.com")
    result = _liaison(app, "users", "token", "ana@acme.com", "--org", str(org.id), "--name", "ci")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("lia_")
    assert user_for_api_token(token).id == user.id
    other = make_org()
    stranger = _liaison(
        app, "users", "token", "ana@acme.com", "--org", str(other.id), "--name", "x"
    )
    assert stranger.exit_code == 1
