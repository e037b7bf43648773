"""What applies to a user and whether the org locks it (ADM-1, ADM-2)."""

import pytest
from factories import make_org, make_user

from server.errors import Forbidden, ValidationFailed
from server.orgs.settings import (
    effective_settings,
    org_setting,
    set_org_settings,
    set_user_settings,
)


def test_defaults_apply_and_personal_defaults_are_free_when_the_org_applies_nothing(app):
    org = make_org()
    rep = make_user(org)
    eff = effective_settings(rep)
    assert eff["log_by_default"] == {"value": True, "locked": False}
    assert eff["track_by_default"] == {"value": True, "locked": False}
    assert eff["data_privacy"] == {"value": False, "locked": True}
    assert eff["user_never_log_addresses"] == {"value": [], "locked": False}
    assert "apply_default_log" not in eff
    set_user_settings(rep, {"log_by_default": False})
    assert effective_settings(rep)["log_by_default"] == {"value": False, "locked": False}


def test_applied_org_default_overrides_and_locks_the_personal_default(app):
    org = make_org()
    boss = make_user(org, role="super_admin")
    rep = make_user(org)
    set_user_settings(rep, {"log_by_default": False, "default_association_types": ["contact"]})
    set_org_settings(boss, {"apply_default_log": True, "log_by_default": True})
    eff = effective_settings(rep)
    assert eff["log_by_default"] == {"value": True, "locked": True}
    assert eff["default_association_types"] == {"value": ["contact"], "locked": False}
    with pytest.raises(Forbidden) as refused:
        set_user_settings(rep, {"log_by_default": False})
    assert refused.value.field == "log_by_default"
    assert "single email" in refused.value.message


def test_tracking_not_allowed_forces_track_off_and_locked(app):
    org = make_org()
    boss = make_user(org, role="super_admin")
    rep = make_user(org)
    set_org_settings(boss, {"allow_tracking": False})
    assert effective_settings(rep)["track_by_default"] == {"value": False, "locked": True}
    with pytest.raises(Forbidden, match="tracking is not allowed"):
        set_user_settings(rep, {"track_by_default": True})


def test_effective_settings_take_two_queries_whatever_is_stored(app, count_queries):
    org = make_org()
    boss = make_user(org, role="super_admin")
    rep = make_user(org)
    assert rep.org_id  # loaded, as the signed-in user of a request is
    count_queries.clear()
    effective_settings(rep)
    bare = len(count_queries)
    set_org_settings(boss, {"apply_default_log": True, "never_log_domains": ["Acme.com"]})
    set_user_settings(rep, {"user_never_log_addresses": ["Me@Home.org"], "track_by_default": False})
    assert rep.org_id
    count_queries.clear()
    eff = effective_settings(rep)
    assert len(count_queries) == bare == 2
    assert eff["never_log_domains"]["value"] == ["acme.com"]
    assert eff["user_never_log_addresses"]["value"] == ["me@home.org"]


def test_org_setting_reads_one_value_with_its_default(app):
    org = make_org(edition="free")
    assert org_setting(org.id, "over_quota_action") == "refuse"
    assert org_setting(org.id, "edition") == "free"
    with pytest.raises(ValidationFailed) as bad:
        org_setting(org.id, "nope")
    assert bad.value.field == "nope"
