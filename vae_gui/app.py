"""Entry point: `vae-gui train ...` trains headless; anything else opens the window."""

from __future__ import annotations

import gc
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from model.cli import main as train_main

        return train_main(argv[1:])
    # Until the window can close itself, Ctrl-C or SIGTERM is only noted: a signal that
    # lands while Qt's libraries load would otherwise crash the process.
    pending: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: pending.append(signum))
    from vae_gui.launch import run_gui

    code = run_gui(argv, pending)
    # Python's own teardown walks every object torch created (about a second here);
    # frozen objects are skipped, and the window is already closed and its threads joined.
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
