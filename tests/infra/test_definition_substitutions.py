"""`${Placeholders}` of the definition and `DefinitionSubstitutions` of the stack: both ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.app import PROJECT_ROOT
from infra.orchestration import DefinitionFile
from infra.stack import DEFINITION_FILE
from statemachines.placeholders import PLACEHOLDER_NAMES
from tests.support.synth import Synthesized


def test_every_placeholder_has_a_substitution_and_every_substitution_a_placeholder(
    synthesized: Synthesized,
) -> None:
    used = DefinitionFile(PROJECT_ROOT / DEFINITION_FILE).placeholders()
    _, machine = synthesized.one("AWS::StepFunctions::StateMachine")
    substituted = set(machine["Properties"]["DefinitionSubstitutions"])
    assert used == substituted
    assert substituted == PLACEHOLDER_NAMES  # the definition uses the whole contract


def test_the_deployed_definition_is_the_committed_file(synthesized: Synthesized) -> None:
    _, machine = synthesized.one("AWS::StepFunctions::StateMachine")
    deployed = machine["Properties"]["DefinitionString"]
    assert isinstance(deployed, str)  # inline and literal: substitutions are CloudFormation's job
    assert json.loads(deployed) == json.loads((PROJECT_ROOT / DEFINITION_FILE).read_text())


def _definition(tmp_path: Path, *tokens: str) -> DefinitionFile:
    path = tmp_path / "machine.asl.json"
    states = {f"S{i}": {"Type": "Pass", "Result": token} for i, token in enumerate(tokens)}
    path.write_text(json.dumps({"StartAt": "S0", "States": states}))
    return DefinitionFile(path)


def test_a_placeholder_without_substitution_fails_the_synth(tmp_path: Path) -> None:
    definition = _definition(tmp_path, "${DataBucketName}", "${StateTableName}")
    with pytest.raises(ValueError, match=r"no substitution for \['StateTableName'\]"):
        definition.check({"DataBucketName": "bucket"})


def test_a_substitution_without_placeholder_fails_the_synth(tmp_path: Path) -> None:
    definition = _definition(tmp_path, "${DataBucketName}")
    with pytest.raises(ValueError, match=r"substitutions \['EndpointName'\] are not used"):
        definition.check({"DataBucketName": "bucket", "EndpointName": "endpoint"})


def test_an_unknown_placeholder_fails_the_synth(tmp_path: Path) -> None:
    definition = _definition(tmp_path, "${BucketName}")
    with pytest.raises(ValueError, match=r"not in statemachines/placeholders\.py"):
        definition.check({"BucketName": "bucket"})


def test_a_missing_definition_says_how_to_generate_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m statemachines build"):
        DefinitionFile(tmp_path / "absent.asl.json").placeholders()
