"""The real app in a subprocess, for tests that wait on what it reports instead of sleeping.

With VAE_GUI_REPORT_EVENTS=1 the app prints one line on stdout for each milestone
(vae_gui/launch.py): `vae-gui: models shown`, `vae-gui: training started`. AppProcess reads
stdout and stderr on two threads (so neither pipe fills up) and lets a test wait for a line.
No Qt is imported here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS_SHOWN = "vae-gui: models shown"
TRAINING_STARTED = "vae-gui: training started"


class AppProcess:
    """`python -m vae_gui.app ARGS` (or `python ARGS` with script=True), offscreen."""

    def __init__(self, args: list[str], script: bool = False, cwd: Path = REPO) -> None:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", VAE_GUI_REPORT_EVENTS="1")
        command = [sys.executable, *args] if script else [sys.executable, "-m", "vae_gui.app",
                                                          *args]
        self.proc = subprocess.Popen(command, cwd=cwd, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self._lines: list[str] = []
        self._err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(pipe, into), daemon=True)
                         for pipe, into in ((self.proc.stdout, self._lines),
                                            (self.proc.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    def _read(self, pipe, into: list[str]) -> None:
        for line in pipe:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self._lines)

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self._err)

    def wait_for_line(self, text: str, timeout: float = 120) -> None:
        """Waits until the app prints a line containing `text`; raises AssertionError (with
        what the app printed) if it exits first or `timeout` seconds pass."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(text in line for line in self._lines)
                or not self._readers[0].is_alive(), timeout=timeout)
            seen = any(text in line for line in self._lines)
        if not seen:
            self.kill()
            why = "exited" if ok else f"was still running after {timeout} s"
            raise AssertionError(f"vae-gui {why} without printing {text!r}:\n"
                                 f"stdout:\n{self.stdout[-3000:]}\nstderr:\n"
                                 f"{self.stderr[-3000:]}")

    def wait(self, timeout: float) -> int | None:
        """The exit status, or None (the process is then killed) if it runs past `timeout`."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        for reader in self._readers:
            reader.join(timeout=timeout)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=10)

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
