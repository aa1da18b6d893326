"""How many warm Spark drivers the local Glue keeps (`RETRAIN_LOCAL_GLUE_STANDBYS`): one unless told otherwise, and
a value that is no count is refused before the local AWS starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws import LocalAws, LocalAwsError
from local.home import StateDirectory
from local.runtime.standby import STANDBYS_ENV, configured_standbys


def test_one_by_default_and_the_count_asked_for() -> None:
    assert configured_standbys({}) == 1
    assert configured_standbys({STANDBYS_ENV: "0"}) == 0
    assert configured_standbys({STANDBYS_ENV: " 2 "}) == 2


@pytest.mark.parametrize("value", ["off", "-1", "1.5", "", "²"])
def test_a_value_that_is_no_count_is_refused_before_the_local_aws_starts(tmp_path: Path, value: str) -> None:
    home = StateDirectory(tmp_path / "home")
    with pytest.raises(LocalAwsError, match=f"^{STANDBYS_ENV}='{value}': use a whole number"):
        LocalAws(home, port=0, environment={STANDBYS_ENV: value}).start()
    assert not home.root.exists()
