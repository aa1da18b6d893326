"""S3 staging against moto's S3: SageMaker's S3Prefix layout, tarballs, the Glue mirror's sync back."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.runtime.staging import AccessDenied, NoObjectsFound, S3Location, S3Mirror, S3Staging, StagingError

BUCKET = "data"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_a_prefix_downloads_below_the_prefix(s3: Any, tmp_path: Path) -> None:
    for key in ("in/train/part-0.csv", "in/train/sub/part-1.csv", "in/train/", "in/other.csv"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    staging = S3Staging(s3)
    assert staging.download_prefix(f"s3://{BUCKET}/in/train", tmp_path) == 2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "part-0.csv",
        "sub/part-1.csv",
    ]
    assert staging.download_prefix(f"s3://{BUCKET}/in/other.csv", tmp_path / "one") == 1
    assert (tmp_path / "one" / "other.csv").is_file()


def test_nothing_under_a_prefix_or_no_bucket_is_no_objects_found(s3: Any, tmp_path: Path) -> None:
    staging = S3Staging(s3, "eu-west-1")
    with pytest.raises(NoObjectsFound, match=r'No S3 objects found under S3 URL "s3://data/none".*\(eu-west-1\)'):
        staging.download_prefix(f"s3://{BUCKET}/none", tmp_path)
    with pytest.raises(NoObjectsFound):
        staging.download_prefix("s3://no-such-bucket/x", tmp_path)
    with pytest.raises(StagingError, match="is not an s3://bucket/key URI"):
        S3Location.parse("https://example.com/x")


def test_a_tarball_round_trip_and_a_directory_upload(s3: Any, tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "code").mkdir(parents=True)
    (source / "model.joblib").write_bytes(b"m")
    (source / "code" / "inference.py").write_text("x = 1\n")
    staging = S3Staging(s3)
    staging.upload_tarball(source, f"s3://{BUCKET}/out/model.tar.gz")
    body = s3.get_object(Bucket=BUCKET, Key="out/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert sorted(archive.getnames()) == ["code", "code/inference.py", "model.joblib"]
    staging.download_and_extract(f"s3://{BUCKET}/out/model.tar.gz", tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / "code" / "inference.py").read_text() == "x = 1\n"
    assert staging.upload_directory(source, f"s3://{BUCKET}/eval/") == 2
    assert s3.get_object(Bucket=BUCKET, Key="eval/code/inference.py")["Body"].read() == b"x = 1\n"
    with pytest.raises(NoObjectsFound, match="Could not download"):
        staging.download_and_extract(f"s3://{BUCKET}/missing.tar.gz", tmp_path / "none")


def test_the_mirror_writes_back_what_changed_and_deletes_what_went(s3: Any, tmp_path: Path) -> None:
    for key in ("processed/keep.parquet", "processed/change.parquet", "processed/drop.parquet"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"old")
    mirror = S3Mirror(S3Staging(s3), tmp_path / "s3")
    uri = mirror.mount(f"s3://{BUCKET}/processed/")
    folder = Path(uri.removeprefix("file://"))
    assert uri.endswith("/") and sorted(p.name for p in folder.iterdir()) == [
        "change.parquet",
        "drop.parquet",
        "keep.parquet",
    ]
    (folder / "change.parquet").write_bytes(b"new content")
    (folder / "drop.parquet").unlink()
    (folder / "new.parquet").write_bytes(b"n")
    (folder / ".new.parquet.crc").write_bytes(b"c")
    assert mirror.sync_back() == (2, 1)
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == ["processed/change.parquet", "processed/keep.parquet", "processed/new.parquet"]
    with pytest.raises(StagingError, match=r"cannot read s3://data/nothing\.py"):
        mirror.download_file(f"s3://{BUCKET}/nothing.py", tmp_path / "script")


def test_a_mounted_uri_maps_back_to_the_s3_uri_it_stands_for(s3: Any, tmp_path: Path) -> None:
    """What a job registers in the catalog from the `file://` URI it was given names S3, as on Glue."""
    mirror = S3Mirror(S3Staging(s3), tmp_path / "s3 root")
    mounted = mirror.mount(f"s3://{BUCKET}/processed/run-1/")
    assert mirror.s3_uri(mounted) == f"s3://{BUCKET}/processed/run-1/"
    assert mirror.s3_uri(mounted + "train/") == f"s3://{BUCKET}/processed/run-1/train/"
    parent = mounted.rstrip("/").rsplit("/", 1)[0] + "/"
    assert mirror.s3_uri(parent) == f"s3://{BUCKET}/processed/"
    assert mirror.s3_uri((tmp_path / "elsewhere").as_uri()) is None
    assert mirror.s3_uri(f"s3://{BUCKET}/x") is None
    assert mirror.s3_uri((tmp_path / "s3 root").as_uri()) is None


def test_each_move_is_authorized_as_the_role_on_the_s3_arns_iam_names(s3: Any, tmp_path: Path) -> None:
    # Service Authorization Reference, Amazon S3: ListBucket on the bucket (condition key s3:prefix),
    # GetObject / PutObject on the object.
    s3.put_object(Bucket=BUCKET, Key="in/a.csv", Body=b"x")
    asked: list[tuple[str, str, dict[str, str]]] = []

    def authorize(action: str, resource: str, context: Any) -> str | None:
        asked.append((action, resource, dict(context)))
        return None

    staging = S3Staging(s3, authorize=authorize)
    staging.download_prefix(f"s3://{BUCKET}/in/", tmp_path)
    staging.upload_tarball(tmp_path, f"s3://{BUCKET}/out/model.tar.gz")

    assert asked == [
        ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", {"s3:prefix": "in/"}),
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/in/a.csv", {}),
        ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/out/model.tar.gz", {}),
    ]


def test_a_refused_move_is_access_denied_with_what_was_done_and_iams_message(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="in/a.csv", Body=b"x")
    staging = S3Staging(s3, authorize=lambda action, resource, context: f"not {action} on {resource}")

    with pytest.raises(AccessDenied) as refused:
        staging.download(S3Location(BUCKET, "in/a.csv"), tmp_path / "a.csv")

    assert str(refused.value) == (
        f"Unable to download object s3://{BUCKET}/in/a.csv "
        f"(AccessDenied: not s3:GetObject on arn:aws:s3:::{BUCKET}/in/a.csv)"
    )
    assert not (tmp_path / "a.csv").exists()
