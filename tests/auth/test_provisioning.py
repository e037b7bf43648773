"""Provisioning on first sign-in: one user per identity, even when sign-ins race."""

import threading

import pytest
from factories import make_org, make_user
from sqlalchemy import func, select

from server.auth.provisioning import provision_user
from server.errors import Forbidden, Unauthorized
from server.extensions import db
from server.orgs.models import ExternalIdentity, User


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_first_sign_in_creates_a_rep_with_lower_case_email(app):
    org = make_org()
    user = provision_user(
        org.id, provider="google", subject="42", email=" Pat@Example.COM ", name="Pat"
    )
    assert (user.org_id, user.email, user.name, user.role) == (
        org.id,
        "pat@example.com",
        "Pat",
        "rep",
    )
    assert user.is_active


def test_name_defaults_to_the_email_address(app):
    user = provision_user(make_org().id, provider="google", subject="1", email="a@b.c", name=None)
    assert user.name == "a@b.c"


def test_identity_without_email_cannot_be_provisioned(app):
    with pytest.raises(Unauthorized) as refused:
        provision_user(make_org().id, provider="google", subject="1", email=None, name="X")
    assert refused.value.message == "The identity token carries no usable email address."


def test_same_email_in_another_org_is_another_user(app):
    first, second = make_org(), make_org()
    a = provision_user(first.id, provider="google", subject="1", email="x@y.z", name="")
    b = provision_user(second.id, provider="microsoft", subject="t:o", email="x@y.z", name="")
    assert a.id != b.id and (a.org_id, b.org_id) == (first.id, second.id)


def test_identity_of_another_org_is_refused(app):
    first, second = make_org(), make_org()
    provision_user(first.id, provider="google", subject="7", email="x@y.z", name="")
    with pytest.raises(Unauthorized):
        provision_user(second.id, provider="google", subject="7", email="x@y.z", name="")


def test_deactivated_user_is_not_relinked(app):
    org = make_org()
    make_user(org, email="left@y.z", is_active=False)
    with pytest.raises(Forbidden):
        provision_user(org.id, provider="google", subject="9", email="left@y.z", name="")
    assert count(ExternalIdentity) == 0


def test_concurrent_first_sign_ins_make_one_user(app):
    org_id = make_org().id
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def sign_in() -> None:
        with app.app_context():
            try:
                barrier.wait()
                user = provision_user(
                    org_id, provider="microsoft", subject="tid:oid", email="race@y.z", name="R"
                )
                results.append(user.id)
            except BaseException as exc:  # reported below, on the test's thread
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    assert count(User) == 1 and count(ExternalIdentity) == 1
