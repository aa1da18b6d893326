"""The project's tox plugin: every test environment shares one virtualenv, installed by uv.

tox-uv installs with uv (several times faster than pip on a fresh machine: PySpark, the SageMaker
SDK, the CDK library and moto are most of CI's install time), and tox-ignore-env-name-mismatch lets
environments share one virtualenv. Each plugin brings its own runner and an environment has one, so
this runner is tox-uv's with the other plugin's cache record (which leaves the environment's name out
of what must match for the virtualenv to be reused).
"""

from __future__ import annotations

from tox.plugin import impl
from tox.tox_env.api import ToxEnv
from tox.tox_env.info import Info
from tox.tox_env.register import ToxEnvRegister

try:
    from tox_ignore_env_name_mismatch import FilteredInfo
    from tox_uv._run import UvVenvRunner
except ImportError:  # the tox first started lacks `requires`: it provisions one that has them and hands over
    UvVenvRunner = None

if UvVenvRunner is not None:

    class SharedUvVenvRunner(UvVenvRunner):
        """tox-uv's runner for a virtualenv that several environments share (`env_dir`)."""

        @staticmethod
        def id() -> str:
            return "shared-uv-venv"

        @property
        def cache(self) -> Info:
            return FilteredInfo(self.env_dir, filter_keys=["name"], filter_section=ToxEnv.__name__)

    @impl
    def tox_register_tox_env(register: ToxEnvRegister) -> None:
        register.add_run_env(SharedUvVenvRunner)
