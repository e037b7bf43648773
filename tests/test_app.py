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
