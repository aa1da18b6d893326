"""Archives of `jobs/` built at synth time, byte-identical for identical sources.

- `SourceDirArchive`: the `sourcedir.tar.gz` that SageMaker's scikit-learn container runs the jobs
  from. Training (`sagemaker_submit_directory`), evaluation (a processing input) and serving
  (`SAGEMAKER_SUBMIT_DIRECTORY`) all unpack it, with the files of `jobs/` at its root.
- `ModulesZip`: the Glue script's flat imports, for `--extra-py-files`. Glue puts a `.zip` on the
  Python path; a bare `.py` would keep its asset name (`<hash>.py`) and not import as itself.
- `stage_lambda_code`: the Lambda code folder, with the deployed config as its `retrain.toml`.

Both are rebuilt at every synth, so they must not change unless their sources do: otherwise the
asset hashes, and `CodeVersion`, would change on every deploy. Hence sorted entries, one fixed
time, no owner names, and no timestamp or file name in the gzip header.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Stage
from constructs import Construct

# Where `cdk synth` builds archives before staging them as assets (inside the cloud assembly).
BUILD_DIRECTORY = ".retrain-build"
# 1980-01-01T00:00:00Z: a fixed, valid timestamp (zip cannot store anything earlier).
FIXED_MTIME = 315_532_800
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ARCHIVE_NAME = "sourcedir.tar.gz"
MODULES_NAME = "glue-modules.zip"
# What the container needs: the entry points, their flat imports and an optional requirements file.
INCLUDED_SUFFIXES = (".py",)
INCLUDED_NAMES = ("requirements.txt",)


@dataclass(frozen=True)
class SourceDirArchive:
    """A deterministic gzip'd tar of the top-level job files of one directory."""

    source: Path

    def members(self) -> list[Path]:
        if not self.source.is_dir():
            raise FileNotFoundError(f"{self.source}: the jobs directory is missing; run from the project root")
        files = sorted(
            path
            for path in self.source.iterdir()
            if path.is_file() and (path.suffix in INCLUDED_SUFFIXES or path.name in INCLUDED_NAMES)
        )
        if not files:
            raise FileNotFoundError(f"{self.source}: no job files (*.py) to package")
        return files

    def build(self) -> bytes:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for path in self.members():
                data = path.read_bytes()
                info = tarfile.TarInfo(name=path.name)
                info.size = len(data)
                info.mtime = FIXED_MTIME
                info.mode = 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
        compressed = io.BytesIO()
        # mtime=0 and an empty file name keep the gzip header free of anything that varies.
        with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
        return compressed.getvalue()

    def write(self, directory: Path) -> Path:
        """Write the archive into `directory` (created if needed); rewrite only when it changed."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / ARCHIVE_NAME
        content = self.build()
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
        return target


@dataclass(frozen=True)
class ModulesZip:
    """A deterministic zip of named files of one directory, each at the zip's root."""

    source: Path
    names: Sequence[str]

    def build(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(self.names):
                path = self.source / name
                if not path.is_file():
                    raise FileNotFoundError(f"{path}: the Glue job imports it; run from the project root")
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
        return buffer.getvalue()

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / MODULES_NAME
        content = self.build()
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
        return target


def build_directory(scope: Construct) -> Path:
    """Where archives are built before CDK stages them: inside the cloud assembly being written."""
    stage = Stage.of(scope)
    return (Path(stage.outdir) if stage else Path.cwd()) / BUILD_DIRECTORY


# The Lambda code: the pure core and the handlers; dependencies come from the runtime and a layer.
LAMBDA_PACKAGES = ("retrain", "tasks")
LAMBDA_CONFIG_NAME = "retrain.toml"  # where tasks/_config.py reads it, at the asset root


def stage_lambda_code(project_root: Path, config_file: Path, directory: Path) -> Path:
    """Fill `directory` with the Lambda packages of `project_root` and `config_file` (any name, any
    folder) as `retrain.toml` at its root: the functions read the config the stack was deployed with.
    CDK hashes the folder's names and contents, so an unchanged folder keeps its asset."""
    if not config_file.is_file():
        raise FileNotFoundError(f"{config_file}: no such config file; pass an existing file as retrain:config")
    if directory.exists():
        shutil.rmtree(directory)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for package in LAMBDA_PACKAGES:
        shutil.copytree(project_root / package, directory / package, ignore=ignore)
    shutil.copyfile(config_file, directory / LAMBDA_CONFIG_NAME)
    return directory
