"""`[stream]`: optional, JSON landing only, and Firehose's buffering limits with dynamic partitioning
(Amazon Data Firehose developer guide, "Buffer data for dynamic partitioning": no zero buffering, 64-128 MiB;
botocore firehose `BufferingHints`: at most 900 s)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from retrain.config import parse_config
from retrain.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def document() -> dict[str, Any]:
    document = tomllib.loads((ROOT / "retrain.toml").read_text())
    document["data"]["input_format"] = "json"
    document["stream"] = {}
    return document


def test_no_stream_table_means_no_stream() -> None:
    document = tomllib.loads((ROOT / "retrain.toml").read_text())
    assert parse_config(document).stream is None


def test_defaults_are_within_what_firehose_accepts(document: dict[str, Any]) -> None:
    stream = parse_config(document).stream
    assert stream is not None
    assert (stream.buffer_size_mb, stream.buffer_interval_seconds) == (64, 60)
    assert stream.capacity_mode == "ON_DEMAND" and stream.error_prefix == "stream-errors/"


@pytest.mark.parametrize(
    ("stream", "data", "message"),
    [
        ({}, {"input_format": "csv"}, 'set input_format = "json" or remove [stream]'),
        ({"buffer_size_mb": 5}, {}, "stream: buffer_size_mb: 5 MiB is outside what Firehose accepts with dynamic"),
        ({"buffer_size_mb": 129}, {}, "(64-128 MiB)"),
        ({"buffer_interval_seconds": 0}, {}, "buffer_interval_seconds: 0 s is outside what Firehose accepts"),
        ({"buffer_interval_seconds": 901}, {}, "(60-900 s)"),
        ({"error_prefix": "landing/errors/"}, {}, "stream.error_prefix: 'landing/errors/' overlaps the landing prefix"),
        ({"error_prefix": "errors"}, {}, "stream.error_prefix: String should match pattern"),
        ({"compression": "ZIP"}, {}, "stream.compression: expected one of 'UNCOMPRESSED' or 'GZIP'"),
        ({"shard_count": 0}, {}, "stream.shard_count:"),
        ({"shards": 2}, {}, "stream.shards: unknown key"),
    ],
)
def test_a_stream_aws_would_refuse_is_named(
    document: dict[str, Any], stream: dict[str, Any], data: dict[str, Any], message: str
) -> None:
    document["stream"].update(stream)
    document["data"].update(data)
    with pytest.raises(ConfigError) as error:
        parse_config(document)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
