"""CSV import (REC-5): mapping, encodings, all-or-nothing vs partial, duplicates, CLI and API."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from factories import ApiClient, make_company, make_contact, make_org, make_user
from flask import current_app
from sqlalchemy import func, select

from server import jobs
from server.cli import main
from server.extensions import db
from server.records.import_models import ImportJob
from server.records.importer import ImportOptions, import_csv
from server.records.models import Association, Company, Contact, ContactEmail, Deal

DATA = Path(__file__).parent / "data"


def cli(app, *args: str):
    return app.test_cli_runner().invoke(main, ["import", *args])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def contact_by_email(address: str) -> Contact:
    return db.session.scalar(
        select(Contact).join(ContactEmail).where(ContactEmail.email_normalized == address.lower())
    )


def associated(a: tuple[str, int], b: tuple[str, int]) -> bool:
    (a_type, a_id), (b_type, b_id) = sorted([a, b])
    return (
        db.session.scalar(
            select(Association.id).where(
                Association.a_type == a_type,
                Association.a_id == a_id,
                Association.b_type == b_type,
                Association.b_id == b_id,
            )
        )
        is not None
    )


# --- contacts through the CLI ---------------------------------------------------------------------


def test_cli_imports_contacts_mapped_by_header_synonyms(app):
    org = make_org()
    rep = make_user(org, email="rep@liaison.test")
    acme = make_company(org, "Acme", ["acme.com"])
    result = cli(
        app, "contacts", str(DATA / "contacts_good.csv"), "--org", str(org.id),
        "--map", "Region=properties.region",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Imported 3 new and 0 updated rows" in result.output
    ann = contact_by_email("ann@example.com")
    assert (ann.first_name, ann.last_name, ann.job_title) == ("Ann", "Archer", "CEO")
    assert ann.owner_id == rep.id and ann.lifecycle_stage == "customer" and ann.is_marketing
    assert ann.primary_company_id == acme.id and ann.properties == {"region": "north"}
    assert associated(("contact", ann.id), ("company", acme.id))
    bob = contact_by_email("bob@example.com")
    assert bob.emails[0].email == "Bob@Example.com" and bob.emails[0].is_primary
    assert bob.lifecycle_stage == "marketing_qualified_lead" and bob.is_marketing is False
    assert bob.primary_company_id == acme.id and bob.owner_id is None
    cy = contact_by_email("cy@example.org")
    assert cy.job_title == 'Head of "Sales", EMEA' and cy.lifecycle_stage == "lead"


def test_bad_rows_write_nothing_and_every_error_is_reported(app, tmp_path):
    org = make_org()
    errors = tmp_path / "errors.csv"
    result = cli(
        app, "contacts", str(DATA / "contacts_bad.csv"), "--org", str(org.id),
        "--errors", str(errors),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "3 of 5 rows have errors; nothing was imported" in result.output
    assert count(Contact) == 0 and count(ContactEmail) == 0
    with errors.open(encoding="utf-8") as handle:
        rows = [(int(r["row"]), r["column"], r["reason"]) for r in csv.DictReader(handle)]
    assert [(row, column) for row, column, _ in rows] == [
        (3, "Email Address"),
        (4, "Lifecycle Stage"),
        (5, "Company"),
        (5, "Owner"),
    ]
    assert "not a valid email address" in rows[0][2]
    assert "'champion' is not a lifecycle stage" in rows[1][2]
    assert "No company named 'Nowhere Inc'" in rows[2][2]
    assert "No user nobody@liaison.test" in rows[3][2]
    assert "champion" in result.output  # the table is printed too


def test_partial_writes_the_good_rows_and_reports_the_bad(app):
    org = make_org()
    result = cli(app, "contacts", str(DATA / "contacts_bad.csv"), "--org", str(org.id), "--partial")
    assert result.exit_code == 0, result.output
    assert "Imported 2 new and 0 updated rows; 0 skipped; 3 with errors." in result.output
    addresses = db.session.scalars(select(ContactEmail.email_normalized)).all()
    assert sorted(addresses) == ["good1@example.com", "good4@example.com"]


def test_dry_run_checks_everything_and_writes_nothing(app):
    org = make_org()
    make_user(org, email="rep@liaison.test")
    make_company(org, "Acme", ["acme.com"])
    path = str(DATA / "contacts_good.csv")
    result = cli(app, "contacts", path, "--org", str(org.id), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: 3 rows would be written" in result.output
    assert "Ignored columns: Region" in result.output
    assert count(Contact) == 0


def test_mapping_names_columns_the_synonyms_do_not_know(app):
    org = make_org()
    path = str(DATA / "contacts_mapped.csv")
    unmapped = cli(app, "contacts", path, "--org", str(org.id))
    assert unmapped.exit_code == 1 and "No column maps to email" in unmapped.output
    unknown = cli(app, "contacts", path, "--org", str(org.id), "--map", "Correo=mail_address")
    assert unknown.exit_code == 1 and "Unknown field 'mail_address'" in unknown.output
    result = cli(
        app, "contacts", path, "--org", str(org.id), "--map", "correo=email",
        "--map", "NOMBRE=first_name", "--map", "Apellido=last_name",
        "--map", "Notas=properties.notes",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    maria = contact_by_email("maria@example.es")
    assert (maria.first_name, maria.last_name) == ("María", "García")
    assert maria.properties == {"notes": "vip"}
    assert contact_by_email("jose@example.es").properties == {}


def test_bom_and_semicolon_and_tab_files_are_read(app, tmp_path):
    org = make_org()
    result = cli(app, "contacts", str(DATA / "contacts_bom_semicolon.csv"), "--org", str(org.id))
    assert result.exit_code == 0, result.output
    zoe = contact_by_email("zoe@example.com")
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "Ångström")
    tab = tmp_path / "tab.tsv"
    tab.write_text("Email\tFirst Name\nxi@example.com\tXi, Jr.\n", encoding="utf-8")
    result = cli(app, "contacts", str(tab), "--org", str(org.id))
    assert result.exit_code == 0, result.output
    assert contact_by_email("xi@example.com").first_name == "Xi, Jr."


def test_a_file_that_is_not_utf8_is_a_clear_error(app, tmp_path):
    org = make_org()
    result = cli(app, "contacts", str(DATA / "contacts_latin1.csv"), "--org", str(org.id))
    assert result.exit_code == 1
    assert "The file is not UTF-8 text" in result.output and "CSV UTF-8" in result.output
    assert not isinstance(result.exception, UnicodeError)
    late = tmp_path / "late.csv"  # the bad bytes come after the part read to sniff the format
    with late.open("wb") as handle:
        handle.write(b"email,first_name\n")
        handle.writelines(f"p{i}@example.com,Person {i}\n".encode() for i in range(3000))
        handle.write("late@example.com,J\u00fcrgen\n".encode("latin-1"))
    result = cli(app, "contacts", str(late), "--org", str(org.id), "--partial")
    assert result.exit_code == 1 and "The file is not UTF-8 text (near row" in result.output
    assert count(Contact) == 0


def test_duplicates_within_the_file_and_in_the_org_are_errors(app):
    org = make_org()
    taken = make_contact(org, "Taken@Example.com", first_name="Old")
    path = str(DATA / "contacts_dupes.csv")
    result = cli(app, "contacts", path, "--org", str(org.id))
    assert result.exit_code == 1
    assert "one@example.com appears earlier in the file." in result.output
    assert f"A contact with the address taken@example.com exists (contact {taken.id})." in (
        result.output
    )
    assert count(Contact) == 1
    other_org = make_org()
    make_contact(other_org, "two@example.com")  # another org's address is no duplicate
    skipped = cli(app, "contacts", path, "--org", str(org.id), "--on-duplicate", "skip")
    assert skipped.exit_code == 0, skipped.output
    assert "Imported 2 new and 0 updated rows; 2 skipped" in skipped.output
    assert count(Contact) == 4


def test_on_duplicate_update_changes_the_existing_contact(app):
    org = make_org()
    taken = make_contact(org, "taken@example.com", first_name="Old", last_name="Name")
    result = cli(
        app, "contacts", str(DATA / "contacts_dupes.csv"), "--org", str(org.id),
        "--on-duplicate", "update", "--partial",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Imported 2 new and 1 updated rows; 0 skipped; 1 with errors." in result.output
    db.session.expire_all()
    assert (taken.first_name, taken.last_name) == ("Taken", "Name")  # empty cells change nothing
    assert count(ContactEmail) == 3


def test_cli_refuses_an_unknown_org_or_owner(app):
    org = make_org()
    path = str(DATA / "contacts_good.csv")
    assert "no organization 999999" in cli(app, "contacts", path, "--org", "999999").output
    result = cli(app, "contacts", path, "--org", str(org.id), "--owner", "ghost@liaison.test")
    assert result.exit_code == 2 and "no user ghost@liaison.test" in result.output


def test_owner_option_owns_rows_without_an_owner(app):
    org = make_org()
    rep = make_user(org, email="rep@liaison.test")
    boss = make_user(org, email="boss@liaison.test")
    make_company(org, "Acme", ["acme.com"])
    path = str(DATA / "contacts_good.csv")
    result = cli(app, "contacts", path, "--org", str(org.id), "--owner", "Boss@liaison.test")
    assert result.exit_code == 0, result.output
    assert contact_by_email("ann@example.com").owner_id == rep.id  # its own owner column
    assert contact_by_email("bob@example.com").owner_id == boss.id


# --- companies and deals --------------------------------------------------------------------------


def test_companies_import_domains_and_reports_a_repeated_domain(app):
    org = make_org()
    path = str(DATA / "companies.csv")
    result = cli(app, "companies", path, "--org", str(org.id))
    assert result.exit_code == 1 and "acme.com appears earlier in the file." in result.output
    assert count(Company) == 0
    result = cli(app, "companies", path, "--org", str(org.id), "--partial")
    assert result.exit_code == 0, result.output
    companies = {c.name: c for c in db.session.scalars(select(Company))}
    assert sorted(companies) == ["Acme", "Globex", "Initech"]
    assert [d.domain for d in companies["Acme"].domains] == ["acme.com"]
    assert [d.domain for d in companies["Globex"].domains] == ["globex.com", "globex.org"]
    assert companies["Initech"].domains == [] and companies["Globex"].industry == "Energy"
    again = cli(app, "companies", path, "--org", str(org.id), "--on-duplicate", "skip")
    assert again.exit_code == 0 and "Imported 1 new and 0 updated rows; 3 skipped" in again.output


def test_deals_import_with_company_and_contact_associations(app):
    org = make_org()
    acme = make_company(org, "Acme", ["acme.com"])
    ann = make_contact(org, "ann@example.com")
    bob = make_contact(org, "bob@example.com")
    result = cli(app, "deals", str(DATA / "deals.csv"), "--org", str(org.id), "--partial")
    assert result.exit_code == 0, result.output
    for column in ("Amount", "Close Date", "Closed", "Company", "Contact Email"):
        assert f"      4  {column}" in result.output
    deals = {d.name: d for d in db.session.scalars(select(Deal))}
    assert sorted(deals) == ["Big deal", "Small deal"]
    big, small = deals["Big deal"], deals["Small deal"]
    assert (big.stage, big.amount, str(big.close_date), big.is_closed) == (
        "qualified", Decimal("1250.50"), "2030-06-30", False,
    )  # fmt: skip
    assert (small.stage, small.amount, small.is_closed) == ("appointment_scheduled", 99, True)
    assert associated(("deal", big.id), ("company", acme.id))
    assert associated(("deal", big.id), ("contact", ann.id))
    assert associated(("deal", big.id), ("contact", bob.id))
    assert associated(("deal", small.id), ("company", acme.id))
    assert count(Association) == 4


# --- the service directly -------------------------------------------------------------------------


def test_progress_follows_the_bytes_read_batch_by_batch(app, tmp_path):
    org = make_org()
    path = tmp_path / "many.csv"
    path.write_text(
        "email\n" + "".join(f"n{i}@example.com\n" for i in range(2500)), encoding="utf-8"
    )
    seen: list[tuple[int, int]] = []
    result = import_csv(
        org.id, "contact", path, ImportOptions(batch_size=1000),
        progress=lambda done, r: seen.append((done, r.rows_done)),
    )  # fmt: skip
    assert result.written and result.rows_created == 2500
    assert [rows for _, rows in seen] == [1000, 2000, 2500]
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == path.stat().st_size


# --- the API --------------------------------------------------------------------------------------


@pytest.fixture
def runner(app):
    """The in-process job queue the API hands imports to."""
    runner = jobs.start_inline_runner(app)
    yield runner
    runner.stop()
    app.extensions.pop("inline_runner", None)


def post_upload(api: ApiClient, name: str, record_type: str = "contact", **form):
    path = DATA / name if (DATA / name).exists() else Path(name)
    with path.open("rb") as handle:
        data = {"file": (handle, path.name), "record_type": record_type, **form}
        return api.post("/api/imports", data=data, content_type="multipart/form-data")


def upload(api: ApiClient, name: str, record_type: str = "contact", **form):
    """POST the file (202, queued), let the queue run it, and GET the finished job."""
    queued = post_upload(api, name, record_type, **form)
    if queued.status_code != 202:
        return queued
    assert queued.json["status"] == "queued"
    runner = current_app.extensions["inline_runner"]
    assert runner.wait_idle(timeout=120)
    return api.get(f"/api/imports/{queued.json['id']}")


def test_api_upload_imports_and_reports_progress(app, client, runner):
    org = make_org()
    admin = make_user(org, role="admin")
    make_user(org, email="rep@liaison.test")
    make_company(org, "Acme", ["acme.com"])
    api = ApiClient(client, admin)
    mapping = json.dumps({"Region": "properties.region"})
    response = upload(api, "contacts_good.csv", mapping=mapping)
    assert response.status_code == 200, response.json
    job = response.json
    size = (DATA / "contacts_good.csv").stat().st_size
    assert job["status"] == "succeeded" and job["record_type"] == "contact"
    assert (job["rows_total"], job["rows_done"], job["rows_created"], job["rows_failed"]) == (
        3, 3, 3, 0,
    )  # fmt: skip
    assert job["bytes_total"] == job["bytes_done"] == size
    assert job["errors"] == [] and job["created_by_id"] == admin.id
    assert job["mapping"] == {"Region": "properties.region"} and job["partial"] is False
    assert contact_by_email("ann@example.com").properties == {"region": "north"}
    stored = Path(db.session.get(ImportJob, job["id"]).stored_path)
    assert stored.is_relative_to(Path(app.instance_path))
    assert not stored.exists()  # the upload is deleted once its job has finished
    detail = api.get(f"/api/imports/{job['id']}")
    assert detail.status_code == 200 and detail.json["rows_created"] == 3
    listing = api.get("/api/imports")
    assert [item["id"] for item in listing.json["items"]] == [job["id"]]
    assert "errors" not in listing.json["items"][0]


def test_api_bad_rows_fail_the_job_with_a_report_unless_partial(app, client, runner):
    org = make_org()
    api = ApiClient(client, make_user(org, role="super_admin"))
    failed = upload(api, "contacts_bad.csv").json
    assert failed["status"] == "failed" and failed["rows_failed"] == 3
    assert "nothing was imported" in failed["message"]
    assert failed["errors"][0] == {
        "row": 3,
        "column": "Email Address",
        "reason": failed["errors"][0]["reason"],
    }
    assert len(failed["errors"]) == failed["errors_total"] == 4 and count(Contact) == 0
    partial = upload(api, "contacts_bad.csv", partial="true").json
    assert partial["status"] == "succeeded" and partial["rows_created"] == 2
    assert count(Contact) == 2


def test_api_unreadable_file_fails_the_job_with_its_reason(app, client, runner):
    org = make_org()
    api = ApiClient(client, make_user(org, role="admin"))
    job = upload(api, "contacts_latin1.csv").json
    assert job["status"] == "failed" and "not UTF-8" in job["message"]
    assert not Path(db.session.get(ImportJob, job["id"]).stored_path).exists()  # deleted too
    mapped = upload(api, "contacts_mapped.csv", mapping=json.dumps({"Correo": "email"})).json
    assert mapped["status"] == "succeeded" and mapped["rows_created"] == 2


def test_api_keeps_the_first_thousand_errors(app, client, runner, tmp_path):
    org = make_org()
    api = ApiClient(client, make_user(org, role="admin"))
    path = tmp_path / "bad.csv"
    path.write_text("email\n" + "nope\n" * 1500, encoding="utf-8")
    job = upload(api, str(path)).json
    assert job["errors_total"] == 1500 and len(job["errors"]) == 1000
    assert job["errors"][-1]["row"] == 1001


def test_api_imports_of_another_org_are_404(app, client, runner):
    org, other = make_org(), make_org()
    api = ApiClient(client, make_user(org, role="admin"))
    other_api = ApiClient(client, make_user(other, role="admin"))
    job = upload(api, "contacts_bad.csv").json
    response = other_api.get(f"/api/imports/{job['id']}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert other_api.get("/api/imports").json["items"] == []


def test_api_imports_need_an_admin(app, client, runner):
    org = make_org()
    rep = ApiClient(client, make_user(org, role="rep"))
    assert upload(rep, "contacts_good.csv").status_code == 403
    assert rep.get("/api/imports").status_code == 403


def test_api_upload_over_the_limit_is_413(app, client, runner, monkeypatch):
    org = make_org()
    api = ApiClient(client, make_user(org, role="admin"))
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 100)
    response = upload(api, "contacts_good.csv")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_api_refuses_bad_options(app, client, runner):
    org = make_org()
    api = ApiClient(client, make_user(org, role="admin"))
    bad_json = upload(api, "contacts_good.csv", mapping="{nope")
    assert bad_json.status_code == 422 and bad_json.json["error"]["field"] == "mapping"
    not_object = upload(api, "contacts_good.csv", mapping="[1, 2]")
    assert not_object.status_code == 422 and not_object.json["error"]["field"] == "mapping"
    bad_type = upload(api, "contacts_good.csv", record_type="ticket")
    assert bad_type.status_code == 422 and bad_type.json["error"]["field"] == "record_type"
    owner = upload(api, "contacts_good.csv", owner="ghost@liaison.test")
    assert owner.status_code == 422 and owner.json["error"]["field"] == "owner"
