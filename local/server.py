"""The process that hosts the local AWS: the emulator's ASGI app, with this project's extensions,
served by hypercorn on 127.0.0.1 only.

Run as `python -m local.server --home DIR --port N` (`LocalAws` does). The emulator configures
itself from environment variables read at import time, so this process sets them before the first
import; one process is one emulator, which is what lets two homes run side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from local.clock import ClockScale, ClockScaleError
from local.home import StateDirectory

logger = logging.getLogger("retrain.local")

# How long in-flight requests get to finish once a stop is asked for; the lifespan shutdown (which
# saves every service's state) runs after that.
GRACEFUL_SECONDS = 5.0


class EmulatorServer:
    """Binds the port, configures and extends the emulator, serves until SIGINT/SIGTERM."""

    def __init__(self, home: StateDirectory, port: int) -> None:
        self.home = home
        self.requested_port = port
        self._stop: asyncio.Event | None = None
        self._signals = 0
        self.clock_scale = ClockScale()

    def serve(self) -> int:
        self.home.ensure()
        self.home.clear_previous_workers()
        listener = self._bind()
        port = listener.getsockname()[1]
        os.environ.update(self.home.emulator_environment(port))
        try:
            self.clock_scale = ClockScale.from_environment()
        except ClockScaleError as error:
            raise SystemExit(f"retrain local: {error}") from None
        tempfile.tempdir = None  # forget a temp dir chosen before TMPDIR was set
        self._write_pid_file(port)
        try:
            app = self._load_app()
            asyncio.run(self._run(app, listener.detach()))
        finally:
            from local.emulator import seam

            seam.stopping()  # the processes the local AWS started end with it
            self._remove_pid_file()
            logging.shutdown()
        # Worker threads (a running execution, a Glue job waiter) must not hold the process: the
        # state is saved by now.
        os._exit(0)

    def _bind(self) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.requested_port))
        except OSError as error:
            listener.close()
            raise SystemExit(
                f"retrain local: cannot listen on 127.0.0.1:{self.requested_port} ({error.strerror}); "
                "is another local AWS running there? Set RETRAIN_LOCAL_PORT to a free port."
            ) from None
        listener.listen(1024)
        return listener

    def _load_app(self) -> object:
        from local.emulator import seam

        app = seam.asgi_app()
        seam.install(self.home)
        return app

    async def _run(self, app: object, fd: int) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, signum)
        config = Config()
        config.bind = [f"fd://{fd}"]
        config.keep_alive_timeout = 75
        config.graceful_timeout = GRACEFUL_SECONDS
        config.loglevel = "WARNING"
        await serve(app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        logger.info("local AWS stopped; state saved under %s", self.home.root)

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals > 1:
            # A second Ctrl-C: the user gave up on the clean stop.
            logger.warning("stopping now without saving state")
            os._exit(130)
        logger.info("stopping (signal %d): saving state under %s", signum, self.home.root)
        assert self._stop is not None
        self._stop.set()
        # A request stuck in a hung handler can keep hypercorn from returning; never wait forever.
        threading.Timer(GRACEFUL_SECONDS * 6, self._force_exit).start()

    @staticmethod
    def _force_exit() -> None:
        logger.error("clean stop did not finish in time; exiting")
        os._exit(1)

    def _write_pid_file(self, port: int) -> None:
        record = {
            "pid": os.getpid(),
            "port": port,
            "home": str(self.home.root),
            "started_at": time.time(),
            "clock_scale": str(self.clock_scale),
        }
        tmp = self.home.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(self.home.pid_file)

    def _remove_pid_file(self) -> None:
        try:
            record = json.loads(self.home.pid_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if record.get("pid") == os.getpid():
            self.home.pid_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.server", description=__doc__)
    parser.add_argument("--home", required=True, type=Path, help="the state directory (RETRAIN_HOME)")
    parser.add_argument("--port", required=True, type=int, help="port on 127.0.0.1; 0 picks a free one")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s", stream=sys.stderr
    )
    return EmulatorServer(StateDirectory(args.home.resolve()), args.port).serve()


if __name__ == "__main__":
    sys.exit(main())
