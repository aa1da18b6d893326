"""The jobs archive (deterministic, so CodeVersion is stable) and the scikit-learn image lookup."""

from __future__ import annotations

import ast
import gzip
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from infra.app import PROJECT_ROOT
from infra.archives import ARCHIVE_NAME, FIXED_MTIME, ModulesZip, SourceDirArchive
from infra.images import SklearnImageRegistry
from infra.jobs import GLUE_MODULES, GLUE_SCRIPT
from tests.support.synth import Synthesized


def _jobs(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "train.py").write_text("print('train')\n")
    (jobs / "features.py").write_text("FEATURES = []\n")
    (jobs / "requirements.txt").write_text("")
    (jobs / "notes.md").write_text("not shipped")
    (jobs / "__pycache__").mkdir()
    (jobs / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    return jobs


def _members(archive: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.getmembers()


def test_the_archive_holds_the_job_files_flat_and_sorted(tmp_path: Path) -> None:
    members = _members(SourceDirArchive(_jobs(tmp_path)).build())
    assert [m.name for m in members] == ["features.py", "requirements.txt", "train.py"]
    for member in members:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (FIXED_MTIME, 0, 0, "", "")
        assert member.mode == 0o644


def test_the_archive_is_byte_identical_whatever_the_file_times(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    first = SourceDirArchive(jobs).build()
    os.utime(jobs / "train.py", (1_900_000_000, 1_900_000_000))
    assert SourceDirArchive(jobs).build() == first
    (jobs / "train.py").write_text("print('changed')\n")
    assert SourceDirArchive(jobs).build() != first


def test_the_gzip_header_carries_no_time_or_name(tmp_path: Path) -> None:
    archive = SourceDirArchive(_jobs(tmp_path)).build()
    assert archive[4:8] == b"\0\0\0\0"  # MTIME
    assert archive[3] & 0x08 == 0  # no FNAME
    assert gzip.decompress(archive)  # still a valid gzip


def test_write_keeps_an_unchanged_archive_untouched(tmp_path: Path) -> None:
    target = SourceDirArchive(_jobs(tmp_path)).write(tmp_path / "build")
    assert target.name == ARCHIVE_NAME
    os.utime(target, (1_000_000_000, 1_000_000_000))
    SourceDirArchive(tmp_path / "jobs").write(tmp_path / "build")
    assert target.stat().st_mtime == 1_000_000_000


def test_the_modules_zip_is_deterministic_and_flat(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    first = ModulesZip(jobs, ["train.py", "features.py"]).build()
    os.utime(jobs / "features.py", (1_900_000_000, 1_900_000_000))
    assert ModulesZip(jobs, ["features.py", "train.py"]).build() == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["features.py", "train.py"]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with pytest.raises(FileNotFoundError, match="the Glue job imports it"):
        ModulesZip(jobs, ["absent.py"]).build()


def test_a_missing_or_empty_jobs_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="jobs directory is missing"):
        SourceDirArchive(tmp_path / "absent").build()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no job files"):
        SourceDirArchive(tmp_path / "empty").build()


def test_code_version_is_the_sha256_of_the_archive_the_jobs_run(synthesized: Synthesized) -> None:
    _, machine = synthesized.one("AWS::StepFunctions::StateMachine")
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    version = substitutions["CodeVersion"]
    archive = SourceDirArchive(PROJECT_ROOT / "jobs").build()
    assert version == hashlib.sha256(archive).hexdigest()
    uri = substitutions["TrainingCodeUri"]["Fn::Sub"]
    assert uri.startswith("s3://cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/")
    asset_hash = uri.rsplit("/", 1)[1].removesuffix(".gz")
    assert (synthesized.outdir / f"asset.{asset_hash}.tar.gz").read_bytes() == archive
    names = sorted(m.name for m in _members(archive))
    assert names == sorted(p.name for p in (PROJECT_ROOT / "jobs").iterdir() if p.suffix == ".py")


def _flat_imports(jobs: Path, name: str) -> set[str]:
    tree = ast.parse((jobs / name).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return {f"{module}.py" for module in imported if (jobs / f"{module}.py").is_file()}


def test_every_flat_import_of_the_glue_script_ships_in_its_modules_zip() -> None:
    """The script's flat imports, and theirs in turn: the zip is all Glue puts next to the script."""
    jobs = PROJECT_ROOT / "jobs"
    flat: set[str] = set()
    pending = [GLUE_SCRIPT]
    while pending:
        for name in _flat_imports(jobs, pending.pop()) - flat:
            flat.add(name)
            pending.append(name)
    assert flat == set(GLUE_MODULES)


def test_the_image_table_agrees_with_the_sagemaker_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    image_uris = pytest.importorskip("sagemaker.image_uris")
    registry = SklearnImageRegistry.from_sdk("1.2-1")
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1"):
        assert registry.image_uri(region) == image_uris.retrieve("sklearn", region=region, version="1.2-1")


def test_an_unknown_framework_version_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"training.framework_version '9.9-1' .* use one of .*1\.2-1"):
        SklearnImageRegistry.from_sdk("9.9-1")


def test_the_stack_maps_every_region_of_the_sdk_table(synthesized: Synthesized) -> None:
    (mapping,) = synthesized.document["Mappings"].values()
    registry = SklearnImageRegistry.from_sdk("1.2-1")
    assert {region: entry["account"] for region, entry in mapping.items()} == registry.accounts
