"""Policy files: the commented example loads, invalid files fail with file, rule path and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.sampling import ALWAYS_ON, load_sampler
from probe.sampling.errors import PolicyError
from probe.sampling.policy import load_policy, parse_policy

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sampling.yaml"


def test_example_policy_loads_with_llm_retrieval_and_critical_rules() -> None:
    policy = load_policy(EXAMPLE)
    ids = [rule.id for rule in policy.rules]
    assert ids[-1] == "default"
    rates = {rule.id: rule.rate for rule in policy.rules}
    assert rates["llm"] == 0.2
    assert rates["retrieval"] == 0.5
    assert policy.settings.error_boost.threshold == 0.01


def test_no_policy_path_means_always_on() -> None:
    assert load_sampler(None) is ALWAYS_ON


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [
                {"id": "llm", "match": {"kind": "llm"}, "rate": 0.2},
                {"id": "d"},
                {"id": "x", "rate": 1.5},
            ],
            "sampling.yaml: rules[2].rate must be between 0 and 1, got 1.5",
        ),
        (
            [{"id": "llm", "match": {"kind": "llm"}, "rate": 0.2}],
            "sampling.yaml: a default rule is required: the last rule (rules[0], 'llm')",
        ),
        (
            [{"id": "d"}, {"id": "llm", "match": {"kind": "llm"}}],
            "sampling.yaml: rules[0] ('d') matches everything, so rules[1] and later",
        ),
        (
            [{"id": "x", "match": {"kind": "lm"}}, {"id": "d"}],
            "sampling.yaml: rules[0].match.kind[0] must be one of 'workflow', 'node', 'llm',",
        ),
        (
            [{"id": "x", "match": {"attributes": {"tenant": True}}}, {"id": "d"}],
            "sampling.yaml: rules[0].match.attributes: attribute 'tenant' is not known",
        ),
        (
            [{"id": "x", "critical": True, "rate": 0.5}, {"id": "d"}],
            "sampling.yaml: rules[0]: a critical rule keeps every span; rate must be 1.0, got 0.5",
        ),
        (
            [{"id": "x", "match": {"kind": "llm"}}, {"id": "x"}],
            "sampling.yaml: rules[1].id 'x' repeats rules[0].id",
        ),
        ([{"match": {"kind": "llm"}}, {"id": "d"}], "sampling.yaml: rules[0].id is required"),
        ([{"id": "d", "rat": 0.5}], "sampling.yaml: rules[0].rat is not a known setting, got 0.5"),
        ([], "sampling.yaml: at least the default rule"),
        ([{"id": "d", "rate": True}], "rules[0].rate must be a number between 0 and 1, got True"),
        ([{"id": "d", "rate": "-0.5"}], "rules[0].rate must be between 0 and 1, got '-0.5'"),
    ],
)
def test_invalid_policy_error_names_file_rule_path_and_value(
    rules: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"rules": rules}, "sampling.yaml")
    assert message in str(caught.value)


def test_invalid_setting_names_its_path() -> None:
    with pytest.raises(
        PolicyError, match=r"settings\.error_boost\.threshold must be <= 1\.0, got 2"
    ):
        parse_policy(
            {"settings": {"error_boost": {"threshold": 2}}, "rules": [{"id": "d"}]}, "p.yaml"
        )


def test_policy_file_that_is_not_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("rules: [\n  - id: d\n")
    with pytest.raises(PolicyError, match=r"broken\.yaml: not valid YAML"):
        load_policy(path)


def test_policy_file_that_is_a_list_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- id: d\n")
    with pytest.raises(
        PolicyError, match=r"list\.yaml: a sampling policy is a mapping with `rules`"
    ):
        load_sampler(str(path))


def test_missing_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope\.yaml: cannot read sampling policy"):
        load_policy(tmp_path / "nope.yaml")
