"""Email templates (BULK-2, ONE-1): who sees and changes them, merge syntax checked on save,
rendered for a recipient in the sandbox with the contact's fields and fallbacks."""

from __future__ import annotations

from server.bulk.merge_fields import MERGE_FIELDS
from tests.factories import ApiClient, make_company, make_contact, make_org, make_user

HTML = '<p>Hi {{ first_name | default("there") }} at {{ company | default("your company") }}</p>'


def world():
    org = make_org(domain="acme.test")
    alice = make_user(org, email="alice@acme.test", name="Alice Rep")
    bob = make_user(org, email="bob@acme.test", name="Bob Rep")
    admin = make_user(org, role="admin", email="ada@acme.test", name="Ada Admin")
    company = make_company(org, name="Customer Ltd")
    carol = make_contact(org, ["carol@customer.test"], owner=bob, company=company,
                         first_name="Carol", last_name="Stone")  # fmt: skip
    return org, alice, bob, admin, carol


def create(api, **body):
    body.setdefault("name", "Intro")
    body.setdefault("subject", "Hello {{ first_name | default('there') }}")
    body.setdefault("html", HTML)
    return api.post("/api/templates", json=body)


def names(api, **query) -> list[str]:
    response = api.get("/api/templates", query_string=query)
    assert response.status_code == 200, response.json
    return [t["name"] for t in response.json["items"]]


def test_private_templates_are_their_owners_and_shared_ones_the_orgs(app, client):
    org, alice, bob, admin, carol = world()
    mine, theirs = ApiClient(client, alice), ApiClient(client, bob)
    private = create(mine, name="Mine only").json
    shared = create(mine, name="For everyone", shared=True).json
    assert private["can_edit"] and private["owner_id"] == alice.id and not private["shared"]

    assert names(mine) == ["For everyone", "Mine only"]
    assert names(theirs) == ["For everyone"]
    assert theirs.get(f"/api/templates/{private['id']}").status_code == 404
    assert theirs.patch(f"/api/templates/{private['id']}", json={"name": "x"}).status_code == 404
    seen = theirs.get(f"/api/templates/{shared['id']}").json
    assert seen["can_edit"] is False
    refused = theirs.patch(f"/api/templates/{shared['id']}", json={"subject": "Mine now"})
    assert refused.status_code == 403
    assert theirs.delete(f"/api/templates/{shared['id']}").status_code == 403

    boss = ApiClient(client, admin)
    assert boss.get(f"/api/templates/{private['id']}").status_code == 404
    assert boss.get(f"/api/templates/{shared['id']}").json["can_edit"] is True
    changed = boss.patch(f"/api/templates/{shared['id']}", json={"subject": "Hi {{ email }}"})
    assert changed.status_code == 200 and changed.json["subject"] == "Hi {{ email }}"
    assert boss.delete(f"/api/templates/{shared['id']}").status_code == 204
    assert names(mine) == ["Mine only"]
    assert mine.delete(f"/api/templates/{private['id']}").status_code == 204
    assert names(mine) == []


def test_names_are_unique_per_org_ignoring_case(app, client):
    org, alice, bob, admin, carol = world()
    assert create(ApiClient(client, alice), name="Follow-up").status_code == 201
    again = create(ApiClient(client, bob), name="  FOLLOW-UP ")
    assert again.status_code == 409 and again.json["error"]["field"] == "name"
    other_org_user = make_user(make_org())
    assert create(ApiClient(client, other_org_user), name="Follow-up").status_code == 201
    second = create(ApiClient(client, alice), name="Second").json
    renamed = ApiClient(client, alice).patch(f"/api/templates/{second['id']}",
                                             json={"name": "follow-UP"})  # fmt: skip
    assert renamed.status_code == 409


def test_a_template_that_does_not_compile_is_a_422_naming_the_field_and_line(app, client):
    org, alice, *_ = world()
    api = ApiClient(client, alice)
    broken = create(api, html="<p>Hi</p>\n<p>{{ first_name </p>")
    error = broken.json["error"]
    assert broken.status_code == 422 and error["field"] == "html" and error["line"] == 2
    assert "line 2" in error["message"]
    subject = create(api, subject="{% if first_name %}Hi")
    assert subject.status_code == 422 and subject.json["error"]["field"] == "subject"
    text = create(api, text="Hi\n\n{{ nickname }}")
    assert text.status_code == 422 and text.json["error"]["field"] == "text"
    assert text.json["error"]["line"] == 3 and "nickname" in text.json["error"]["message"]
    assert names(api) == []


def test_unsafe_or_runaway_constructs_are_refused_on_save(app, client):
    org, alice, *_ = world()
    api = ApiClient(client, alice)
    refused = ("{{ ''.__class__ }}", "{{ email.upper() }}", "{% for i in range(9) %}x{% endfor %}",
               "{{ 'x' * 1000000000 }}", "{{ first_name | attr('__class__') }}",
               "{% include 'other' %}", "{{ cycler }}")  # fmt: skip
    for html in refused:
        response = create(api, html=html)
        assert response.status_code == 422, html
        assert response.json["error"]["field"] == "html"
    fine = create(api, html='{% if company %}At {{ company | upper }}{% else %}Hi{% endif %}'
                            ' {{ first_name ~ " " ~ last_name | default("") }}')  # fmt: skip
    assert fine.status_code == 201, fine.json


def test_patch_is_checked_like_create_and_keeps_the_old_version_on_failure(app, client):
    org, alice, *_ = world()
    api = ApiClient(client, alice)
    template = create(api).json
    bad = api.patch(f"/api/templates/{template['id']}", json={"html": "{{ oops( }}"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "html"
    assert api.get(f"/api/templates/{template['id']}").json["html"] == HTML
    ok = api.patch(f"/api/templates/{template['id']}", json={"text": "Plain {{ email }}",
                                                               "shared": True})  # fmt: skip
    assert ok.status_code == 200 and ok.json["text"] == "Plain {{ email }}" and ok.json["shared"]
    empty = api.patch(f"/api/templates/{template['id']}", json={"html": "", "text": None})
    assert empty.status_code == 422 and empty.json["error"]["field"] == "html"


def test_render_for_a_known_contact_uses_its_fields_and_the_senders(app, client):
    org, alice, bob, admin, carol = world()
    api = ApiClient(client, alice)
    template = create(api, html=HTML + "<p>{{ owner_name }} &lt;{{ owner_email }}&gt; via "
                                       "{{ sender_name }} {{ sender_email }}</p>").json  # fmt: skip
    by_address = api.post(f"/api/templates/{template['id']}/render",
                          json={"to": "CAROL@customer.test"})  # fmt: skip
    assert by_address.status_code == 200, by_address.json
    body = by_address.json
    assert body["subject"] == "Hello Carol"
    assert "<p>Hi Carol at Customer Ltd</p>" in body["html"]
    assert "Bob Rep &lt;bob@acme.test&gt; via Alice Rep alice@acme.test" in body["html"]
    assert body["text"].startswith("Hi Carol at Customer Ltd")  # derived from the HTML
    by_id = api.post(f"/api/templates/{template['id']}/render", json={"contact_id": carol.id})
    assert by_id.json == body


def test_render_for_an_unknown_address_applies_the_fallbacks(app, client):
    org, alice, *_ = world()
    api = ApiClient(client, alice)
    template = create(api, text="Dear {{ first_name | default('there') }}, {{ email }}").json
    rendered = api.post(f"/api/templates/{template['id']}/render", json={"to": "x@nowhere.test"})
    assert rendered.json == {"subject": "Hello there",
                             "html": "<p>Hi there at your company</p>",
                             "text": "Dear there, x@nowhere.test"}  # fmt: skip
    nobody = api.post(f"/api/templates/{template['id']}/render", json={})
    assert nobody.json["subject"] == "Hello there"


def test_merge_values_are_escaped_in_html_and_never_rendered_again(app, client):
    org, alice, *_ = world()
    make_contact(org, "mallory@evil.test", first_name="<b>{{ sender_email }}</b>")
    api = ApiClient(client, alice)
    template = create(api).json
    body = api.post(
        f"/api/templates/{template['id']}/render", json={"to": "mallory@evil.test"}
    ).json
    assert "&lt;b&gt;{{ sender_email }}&lt;/b&gt;" in body["html"]
    assert body["subject"] == "Hello <b>{{ sender_email }}</b>"


def test_render_refuses_another_orgs_contact_and_hidden_templates(app, client):
    org, alice, bob, admin, carol = world()
    stranger = make_contact(make_org(), "s@other.test")
    api = ApiClient(client, alice)
    template = create(api).json
    response = api.post(f"/api/templates/{template['id']}/render", json={"contact_id": stranger.id})
    assert response.status_code == 404 and response.json["error"]["field"] == "contact_id"
    hidden = ApiClient(client, bob).post(f"/api/templates/{template['id']}/render", json={})
    assert hidden.status_code == 404


def test_list_searches_by_name_and_pages_by_cursor(app, client):
    org, alice, *_ = world()
    api = ApiClient(client, alice)
    for name in ("beta", "Alpha", "gamma", "alpha 2", "100% off"):
        assert create(api, name=name).status_code == 201
    first = api.get("/api/templates", query_string={"limit": 2}).json
    assert [t["name"] for t in first["items"]] == ["100% off", "Alpha"]
    second = api.get("/api/templates", query_string={"limit": 2, "cursor": first["next_cursor"]})
    assert [t["name"] for t in second.json["items"]] == ["alpha 2", "beta"]
    third = api.get(
        "/api/templates", query_string={"limit": 2, "cursor": second.json["next_cursor"]}
    )
    assert [t["name"] for t in third.json["items"]] == ["gamma"]
    assert third.json["next_cursor"] is None
    assert names(api, q="ALPHA") == ["Alpha", "alpha 2"]
    assert names(api, q="%") == ["100% off"]
    bad = api.get("/api/templates", query_string={"cursor": "nonsense"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "cursor"


def test_the_merge_fields_are_declared_and_documented(app, client):
    assert {"first_name", "last_name", "email", "company", "owner_name", "owner_email",
            "sender_name", "sender_email"} == set(MERGE_FIELDS)  # fmt: skip
    org, alice, *_ = world()
    listed = ApiClient(client, alice).get("/api/templates/merge-fields").json
    assert [f["name"] for f in listed["fields"]] == list(MERGE_FIELDS)
    assert "default" in listed["filters"]
    document = client.get("/api/openapi.json").json
    description = document["paths"]["/api/templates"]["post"]["description"]
    assert all(f"`{name}`" in description for name in MERGE_FIELDS)
