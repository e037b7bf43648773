"""Details and reads of a logged email follow its privacy level and its deletion (LOG-1, LOG-9)."""

from __future__ import annotations

from server.emails.service import log_email
from tests.emails.conftest import sample
from tests.emails.test_privacy import team
from tests.factories import ApiClient


def test_details_hide_attachment_names_where_the_level_hides_content(app, client):
    org, alice, carol, boss = team()
    email = log_email(alice, raw=sample("mixed_attachments.eml"), privacy="metadata").email
    mine = ApiClient(client, alice).get(f"/api/emails/{email.id}/details").json["details"]
    assert len(mine["attachments"]) == 2
    theirs = ApiClient(client, carol).get(f"/api/emails/{email.id}/details").json["details"]
    assert theirs["attachments"] == [] and theirs["subject"] is None
    assert theirs["from"]["email"] == "alice@acme.test"  # metadata stays visible


def test_a_deleted_email_is_gone_from_reads_until_an_admin_restores_it(app, client):
    org, alice, carol, boss = team()
    email = log_email(alice, raw=sample("mixed_attachments.eml")).email
    api = ApiClient(client, alice)
    assert api.delete(f"/api/emails/{email.id}").status_code in (200, 204)
    assert api.get(f"/api/emails/{email.id}").status_code == 404
    patch = {"add": [{"type": "contact", "id": 1}]}
    assert api.patch(f"/api/emails/{email.id}/associations", json=patch).status_code == 404
    assert ApiClient(client, boss).post(f"/api/emails/{email.id}/restore").status_code == 200
    assert api.get(f"/api/emails/{email.id}").status_code == 200
