"""The Outlook manifest (UI-1): the rendered file validates against Microsoft's XSDs (MS-OWEMXML
Appendix A, vendored in ../shared/vendor/office-manifest-xsd) and keeps the rules the schemas
do not check: top-level element order, every resid defined, the launch events on the runtime,
https everywhere, icons served in the sizes named. `liaison manifest outlook` renders it."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from lxml import etree

from server.cli import main
from server.surfaces.manifest_cli import OUTLOOK_TEMPLATE, render_outlook_manifest

XSD_DIR = Path(__file__).resolve().parents[4] / "shared" / "vendor" / "office-manifest-xsd"
BASE = "https://crm.example.com"
NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "v10": "http://schemas.microsoft.com/office/mailappversionoverrides",
    "v11": "http://schemas.microsoft.com/office/mailappversionoverrides/1.1",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"
# MS-OWEMXML 2.2 / learn.microsoft.com "OfficeApp element": the child order of a MailApp
TOP_LEVEL_ORDER = [
    "Id", "AlternateId", "Version", "ProviderName", "DefaultLocale", "DisplayName",
    "Description", "IconUrl", "HighResolutionIconUrl", "SupportUrl", "AppDomains", "Hosts",
    "Requirements", "FormSettings", "Permissions", "Rule", "DisableEntityHighlighting",
    "Dictionary", "VersionOverrides",
]  # fmt: skip
REQUIRED_TOP_LEVEL = {"Id", "Version", "ProviderName", "DefaultLocale", "DisplayName",
                      "Description", "IconUrl", "FormSettings", "Permissions", "Rule"}  # fmt: skip


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> etree.XMLSchema:
    """Microsoft's schema set; the root's lower-case import gets a real file (the vendored
    alias may be a symbolic link checked out as a text file)."""
    if not (XSD_DIR / "OfficeAppManifest.xsd").exists():
        pytest.skip(f"Microsoft's manifest schemas are not at {XSD_DIR}")
    folder = tmp_path_factory.mktemp("xsd")
    for path in XSD_DIR.glob("*.xsd"):
        if path.name != "contentappversionoverridesV1_0.xsd":
            shutil.copy(path, folder / path.name)
    shutil.copy(
        XSD_DIR / "ContentAppVersionOverridesV1_0.xsd",
        folder / "contentappversionoverridesV1_0.xsd",
    )
    return etree.XMLSchema(etree.parse(str(folder / "OfficeAppManifest.xsd")))


@pytest.fixture(scope="module")
def manifest() -> etree._Element:
    return etree.fromstring(
        render_outlook_manifest(BASE, client_id="c0ffee00-0000-4000-8000-000000000001").encode()
    )


def local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def test_rendered_manifest_validates_against_microsofts_schemas(schema, manifest):
    assert schema.validate(manifest), schema.error_log


def test_a_broken_manifest_is_rejected_by_the_schemas(schema, manifest):
    """The schema check has teeth: SendMode outside PromptUser|SoftBlock|Block fails."""
    broken = etree.fromstring(etree.tostring(manifest))
    event = broken.find(".//v11:LaunchEvent[@Type='OnMessageSend']", NS)
    event.set("SendMode", "Maybe")
    assert not schema.validate(broken)


def test_top_level_elements_are_in_the_documented_order_and_complete(manifest):
    names = [local(child) for child in manifest if isinstance(child.tag, str)]
    order = [TOP_LEVEL_ORDER.index(name) for name in names]
    assert order == sorted(order), names
    assert set(names) >= REQUIRED_TOP_LEVEL
    assert manifest.get(XSI_TYPE) == "MailApp"


def test_every_resid_is_defined_once_in_its_resources(manifest):
    for overrides in (manifest.find("v10:VersionOverrides", NS),
                      manifest.find("v10:VersionOverrides/v11:VersionOverrides", NS)):  # fmt: skip
        resources = overrides.find("{*}Resources")
        ids = [e.get("id") for e in resources.iter() if e.get("id")]
        assert len(ids) == len(set(ids))
        own = [e for e in overrides.iter() if e.get("resid")]
        nested = overrides.find("v11:VersionOverrides", NS)
        nested_elements = set(nested.iter()) if nested is not None else set()
        for element in own:
            if element not in nested_elements:
                assert element.get("resid") in ids, element.get("resid")


def test_launch_events_run_in_the_declared_runtime_with_soft_block(manifest):
    v11 = manifest.find("v10:VersionOverrides/v11:VersionOverrides", NS)
    runtime = v11.find(".//v11:Runtimes/v11:Runtime", NS)
    override = runtime.find("v11:Override", NS)
    assert override.get("type") == "javascript"
    point = v11.find(".//v11:ExtensionPoint[@xsi:type='LaunchEvent']", NS)
    assert point.find("v11:SourceLocation", NS).get("resid") == runtime.get("resid")
    events = {e.get("Type"): e for e in point.iter(f"{{{NS['v11']}}}LaunchEvent")}
    assert set(events) == {"OnNewMessageCompose", "OnMessageSend"}
    assert events["OnMessageSend"].get("SendMode") == "SoftBlock"
    assert events["OnMessageSend"].get("FunctionName") == "onMessageSendHandler"
    assert events["OnNewMessageCompose"].get("FunctionName") == "onNewMessageComposeHandler"
    urls = {u.get("id"): u.get("DefaultValue") for u in v11.iter(f"{{{NS['bt']}}}Url")}
    assert urls[runtime.get("resid")] == f"{BASE}/addin/commands.html"
    assert urls[override.get("resid")] == f"{BASE}/addin/commands.js"
    handlers = (Path(OUTLOOK_TEMPLATE).parents[2] / "addin" / "commands.js").read_text()
    for name in ("onMessageSendHandler", "onNewMessageComposeHandler"):
        assert f'associate("{name}"' in handlers


def test_sso_and_append_on_send_are_declared(manifest):
    v11 = manifest.find("v10:VersionOverrides/v11:VersionOverrides", NS)
    info = v11.find("v11:WebApplicationInfo", NS)
    assert info.find("v11:Id", NS).text == "c0ffee00-0000-4000-8000-000000000001"
    assert (
        info.find("v11:Resource", NS).text
        == "api://crm.example.com/c0ffee00-0000-4000-8000-000000000001"
    )
    permissions = [p.text for p in v11.iter(f"{{{NS['v11']}}}ExtendedPermission")]
    assert permissions == ["AppendOnSend"]
    assert manifest.find("o:Permissions", NS).text == "ReadWriteItem"


def test_both_command_surfaces_open_the_task_pane(manifest):
    v11 = manifest.find("v10:VersionOverrides/v11:VersionOverrides", NS)
    points = {p.get(XSI_TYPE): p for p in v11.iter(f"{{{NS['v11']}}}ExtensionPoint")}
    buttons = {
        "MessageReadCommandSurface": "msgReadOpenPaneButton",
        "MessageComposeCommandSurface": "msgComposeOpenPaneButton",
    }
    for surface, button in buttons.items():
        control = points[surface].find(".//v11:Control", NS)
        assert control.get("id") == button
        assert control.find("v11:Action", NS).get(XSI_TYPE) == "ShowTaskpane"


def test_every_url_is_the_deployments_https_url_and_no_placeholder_is_left(manifest):
    text = etree.tostring(manifest).decode()
    assert "{{" not in text and "}}" not in text
    urls = [v for e in manifest.iter() for v in e.attrib.values() if "://" in v]
    urls += [
        e.text
        for e in manifest.iter()
        if isinstance(e.tag, str) and e.text and "https://" in e.text
    ]
    assert urls
    assert all(u.startswith(BASE) for u in urls if not u.startswith("http://schemas")), urls


def test_the_template_holds_placeholders_not_a_deployment():
    template = OUTLOOK_TEMPLATE.read_text()
    assert "{{BASE_URL}}" in template
    assert "127.0.0.1" not in template and "example.com" not in template


def test_icons_named_in_the_manifest_are_served_in_their_sizes(client, manifest):
    urls = [
        e.get("DefaultValue")
        for e in manifest.iter()
        if local(e) in ("IconUrl", "HighResolutionIconUrl", "Image")
    ]
    urls = [u for u in urls if u]
    assert {urlsplit(u).path for u in urls} >= {
        f"/static/icons/icon-{n}.png" for n in (16, 32, 64, 80, 128)
    }
    for url in set(urls):
        path = urlsplit(url).path
        response = client.get(path)
        assert response.status_code == 200 and response.data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", response.data[16:24])
        size = int(path.rsplit("-", 1)[1].removesuffix(".png"))
        assert (width, height) == (size, size)


def test_cli_renders_for_a_base_url_and_refuses_plain_http(app):
    runner = CliRunner()
    ok = runner.invoke(main, ["manifest", "outlook", "--base-url", "https://crm.example.com/"])
    assert ok.exit_code == 0, ok.output
    assert (
        '<SourceLocation DefaultValue="https://crm.example.com/addin/taskpane.html"/>' in ok.output
    )
    again = runner.invoke(main, ["manifest", "outlook", "--base-url", "https://crm.example.com"])
    assert again.output == ok.output  # the add-in id is stable for one deployment
    other = runner.invoke(main, ["manifest", "outlook", "--base-url", "https://other.example.com"])
    assert other.output.split("<Id>")[1][:36] != ok.output.split("<Id>")[1][:36]
    refused = runner.invoke(main, ["manifest", "outlook", "--base-url", "http://crm.example.com"])
    assert refused.exit_code != 0 and "https://" in refused.output


def test_manifest_route_serves_it_for_an_https_deployment(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "http://127.0.0.1:5000")
    refused = client.get("/addin/manifest.xml")
    assert refused.status_code == 404 and "LIAISON_BASE_URL" in refused.json["error"]["message"]
    monkeypatch.setitem(app.config, "BASE_URL", "https://crm.example.com")
    served = client.get("/addin/manifest.xml")
    assert served.status_code == 200 and served.mimetype == "application/xml"
    assert b"https://crm.example.com/addin/commands.js" in served.data
