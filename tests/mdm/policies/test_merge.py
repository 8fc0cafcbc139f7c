"""The effective-policy merge: deterministic, explained, with BYOD's settings left out."""

from dataclasses import replace
from typing import Any

from mdm.policies.merge import EMPTY_HASH, Layer, document_hash, merge, settings_of

_ids = iter(range(1, 1000))


def layer(target: str = "school", priority: int = 100, **document: Any) -> Layer:
    n = next(_ids)
    return Layer(
        assignment_id=n,
        policy_id=n,
        policy_name=f"p{n}",
        version=1,
        target=target,
        target_name=target,
        priority=priority,
        document=document,
    )


def test_the_highest_priority_wins_each_setting() -> None:
    school = layer(priority=10, passcode={"min_length": 4, "required": True})
    group = layer("group", priority=50, passcode={"min_length": 8})

    merged = merge([school, group], "school")

    assert merged.document == {"passcode": {"min_length": 8, "required": True}}
    setting = {s.name: s for s in merged.settings}["passcode.min_length"]
    assert setting.layer == group and setting.overridden == ((school, 4),)
    assert {s.name: s for s in merged.settings}["passcode.required"].layer == school


def test_on_equal_priority_the_more_specific_target_then_the_older_assignment_wins() -> None:
    school = layer(restrictions={"allow_camera": True})
    device = layer("device", restrictions={"allow_camera": False})
    older = layer("group", restrictions={"allow_screenshots": False})
    newer = layer("group", restrictions={"allow_screenshots": True})

    merged = merge([newer, school, device, older], "school")

    assert merged.document["restrictions"] == {"allow_camera": False, "allow_screenshots": False}


def test_the_merge_is_deterministic_whatever_the_order() -> None:
    layers = [
        layer(apps={"required": ["b.app", "a.app"]}),
        layer("group", apps={"blocked": ["c.app"]}, wifi=[{"ssid": "Z"}, {"ssid": "A"}]),
        layer("ownership", web_filter={"deny": ["x.org"], "allow": ["a.org"]}),
    ]
    first = merge(layers, "school")
    assert merge(list(reversed(layers)), "school").hash == first.hash
    assert first.document["apps"] == {"required": ["a.app", "b.app"], "blocked": ["c.app"]}
    assert [n["ssid"] for n in first.document["wifi"]] == ["A", "Z"]


def test_lists_merge_entry_by_entry() -> None:
    school = layer(priority=10, apps={"required": ["de.app"], "blocked": ["com.game"]})
    group = layer("group", priority=20, apps={"allowed": ["com.game"]})

    merged = merge([school, group], "school")

    assert merged.document["apps"] == {"allowed": ["com.game"], "required": ["de.app"]}


def test_a_personal_device_gets_only_what_a_school_may_enforce_and_is_told_why() -> None:
    everything = layer(
        passcode={"required": True, "min_length": 8},
        restrictions={"allow_camera": False},
        wifi=[{"ssid": "Schule", "security": "open"}],
        apps={"required": ["de.app"], "blocked": ["com.game"]},
        web_filter={"deny": ["x.org"]},
        single_app={"app": "de.exam", "exam": True},
    )

    byod = merge([everything], "byod")
    school = merge([everything], "school")

    assert byod.document == {
        "passcode": {"required": True},
        "wifi": [{"ssid": "Schule", "security": "open"}],
        "apps": {"required": ["de.app"]},
    }
    left_out = {item.setting.name: item.reason for item in byod.left_out}
    assert set(left_out) == {
        "passcode.min_length",
        "restrictions.allow_camera",
        "apps[com.game]",
        "web_filter.sites[x.org]",
        "single_app",
    }
    assert all(reason.startswith("personal device") for reason in left_out.values())
    assert school.left_out == () and "single_app" in school.document


def test_inactive_layers_set_nothing_but_are_explained() -> None:
    windowed = replace(
        layer(priority=90, restrictions={"allow_camera": False}),
        active=False,
        inactive_reason="outside its time windows now",
    )
    merged = merge([windowed, layer(restrictions={"allow_camera": True})], "school")
    assert merged.document == {"restrictions": {"allow_camera": True}}
    assert merged.inactive == (windowed,)


def test_no_layers_is_the_empty_policy() -> None:
    assert merge([], "school").hash == EMPTY_HASH == document_hash({})


def test_settings_and_document_round_trip() -> None:
    document = {
        "passcode": {"min_length": 6},
        "web_filter": {"allow_listed_only": True, "allow": ["a.org"]},
        "single_app": {"app": "x.y", "exam": False},
    }
    merged = merge([layer(**document)], "school")
    assert merged.document == document
    assert set(settings_of(document)) == {s.name for s in merged.settings}


def test_document_changes_name_each_setting_that_differs() -> None:
    from mdm.policies.merge import document_changes

    before = {"passcode": {"required": True, "min_length": 4}, "apps": {"blocked": ["a.b"]}}
    after = {"passcode": {"required": True, "min_length": 6}, "apps": {"allowed": ["c.d"]}}

    assert document_changes(before, after) == [
        ("apps[a.b]", "blocked", None),
        ("apps[c.d]", None, "allowed"),
        ("passcode.min_length", 4, 6),
    ]
    assert document_changes(after, after) == []
