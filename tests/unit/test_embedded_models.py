"""The embedded model catalogue: the default, selection by name, and clear errors (no server started)."""

import pytest

from thrifty.backends.embedded import DEFAULT_MODEL, EMBEDDED_MODELS, QWEN_05B, QWEN_15B, embedded_model
from thrifty.backends.profiles import EMBEDDED_PROFILE, profile_for
from thrifty.errors import ConfigError


def test_the_default_is_the_stronger_model() -> None:
    assert DEFAULT_MODEL is QWEN_15B
    assert embedded_model(None) is QWEN_15B


@pytest.mark.parametrize(("name", "spec"), [("0.5b", QWEN_05B), ("1.5B", QWEN_15B), (QWEN_05B.name, QWEN_05B)])
def test_models_are_selected_by_full_or_short_name(name: str, spec: object) -> None:
    assert embedded_model(name) is spec


def test_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match="model") as info:
        embedded_model("instruct")
    assert all(name in str(info.value) for name in EMBEDDED_MODELS)


def test_pins_are_complete_and_ordered() -> None:
    for spec in EMBEDDED_MODELS.values():
        assert len(spec.sha256) == 64 and spec.size > 0
        numbers = [int(rel.rsplit("part", 1)[1].split(".")[0]) for _, rel in spec.parts]
        assert numbers == list(range(1, len(spec.parts) + 1))
    assert len(QWEN_15B.parts) == 22 and QWEN_15B.size == 1_117_320_768


def test_both_embedded_models_get_the_small_model_profile() -> None:
    assert profile_for(QWEN_15B.name) is EMBEDDED_PROFILE
    assert profile_for(QWEN_05B.name) is EMBEDDED_PROFILE
    assert EMBEDDED_PROFILE.rails == "small-model"


def test_a_missing_part_names_the_extra_that_installs_it(tmp_path: object) -> None:
    from dataclasses import replace
    from pathlib import Path

    from thrifty.backends.embedded import assemble_model
    from thrifty.errors import BackendUnavailable

    missing = replace(QWEN_05B, parts=(("no-such-dist-thrifty-test", "x.bin"),))
    with pytest.raises(BackendUnavailable, match=r"thrifty\[small\]"):
        assemble_model(missing, Path(str(tmp_path)))
