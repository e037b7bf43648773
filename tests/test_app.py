"""The app factory, configuration and the one JSON error shape."""

from pathlib import Path

from server import create_app
from server.config import Config


def test_unknown_route_answers_json_error_shape(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    assert set(response.json["error"]) >= {"code", "message", "field"}


def test_secret_key_generated_once_and_kept_in_instance_folder(tmp_path):
    config = {"SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_PATH": str(tmp_path)}
    first = create_app(dict(config)).config["SECRET_KEY"]
    second = create_app(dict(config)).config["SECRET_KEY"]
    assert first == second and len(first) > 40
    assert (Path(tmp_path) / "secret_key").stat().st_mode & 0o077 == 0


def test_database_defaults_to_sqlite_file_in_instance_folder(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'liaison.sqlite'}"


def test_config_reads_liaison_environment(monkeypatch):
    monkeypatch.setenv("LIAISON_DATABASE_URL", "postgres://u@h/db")
    monkeypatch.setenv("LIAISON_DEMO", "yes")
    config = Config.from_env()
    assert config.SQLALCHEMY_DATABASE_URI == "postgres://u@h/db"
    assert config.DEMO is True
    app = create_app({**config.as_flask(), "SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_a_body_that_is_not_what_the_api_takes_gets_a_clear_error(app, client):
    """Bad input is a JSON error naming what is wrong (newcomer pass: the messages were
    werkzeug's "The browser (or proxy) sent a request..." and marshmallow's "_schema")."""
    from tests.factories import ApiClient, make_org, make_user

    api = ApiClient(client, make_user(make_org()))
    cases = [
        ("{not json", "application/json", 400, "body", "not valid JSON"),
        ('"a string"', "application/json", 422, "body", "must be a JSON object"),
        ("recipients=a@b.example", "application/x-www-form-urlencoded", 422, "Content-Type",
         "application/json"),
        ("{}", "application/json", 422, "recipients", "Missing data"),
    ]  # fmt: skip
    for body, content_type, status, field, words in cases:
        response = api.post("/api/consent/check", data=body, headers={"Content-Type": content_type})
        error = response.get_json()["error"]
        assert (response.status_code, error["field"]) == (status, field), (body, error)
        assert words in error["message"]
