"""Where the command's clients go: the local AWS through the one local factory, or AWS itself."""

from __future__ import annotations

import pytest

from cli.clients import AwsClients, clients_from_environment
from local.clients import LocalClients
from retrain.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RETRAIN_TARGET", "RETRAIN_LOCAL_PORT", "AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "USE_SSL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


def test_local_is_the_default_target_on_the_configured_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_LOCAL_PORT", "4599")
    clients = clients_from_environment()
    assert isinstance(clients, LocalClients)
    assert (clients.endpoint_url, clients.region) == ("http://127.0.0.1:4599", "eu-west-1")
    sts = clients.client("sts")
    assert sts.meta.endpoint_url == "http://127.0.0.1:4599"
    assert sts.meta.region_name == "eu-west-1"
    assert clients.client("sts") is sts


def test_aws_endpoint_url_points_the_local_target_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4510")
    clients = clients_from_environment()
    assert clients.endpoint_url == "http://127.0.0.1:4510"
    assert clients.client("s3").meta.endpoint_url == "http://127.0.0.1:4510"


def test_the_aws_target_overrides_no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_TARGET", "aws")
    clients = clients_from_environment()
    assert isinstance(clients, AwsClients)
    assert clients.endpoint_url is None
    assert clients.client("stepfunctions").meta.endpoint_url == "https://states.eu-west-1.amazonaws.com"


def test_an_unknown_target_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETRAIN_TARGET", "cloud")
    with pytest.raises(ConfigError, match="RETRAIN_TARGET"):
        clients_from_environment()


def test_clients_bound_to_an_emulator_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The emulator's own clients (local SageMaker, Glue) must reach the emulator that runs them.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4510")
    clients = LocalClients.at_port(4601)
    assert clients.client("s3", "us-west-2").meta.endpoint_url == "http://127.0.0.1:4601"
    assert clients.client("s3", "us-west-2").meta.region_name == "us-west-2"
    assert clients.process_environment("us-west-2") == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4601",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "us-west-2",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def test_the_clients_of_one_endpoint_share_one_session_and_its_parsed_data() -> None:
    # A botocore session parses the endpoints file (~7 MB of objects) and each service model once and its
    # clients keep them; a session per client kept one copy per client (issue #17's soak).
    clients = LocalClients("http://127.0.0.1:4599", "eu-west-1")
    loaders = {id(clients.client(service)._loader) for service in ("s3", "logs", "cloudwatch", "sts")}
    assert len(loaders) == 1
    assert clients.client("s3", "us-east-1")._loader is clients.client("s3")._loader
