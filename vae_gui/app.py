"""Entry point: `vae-gui train ...` trains headless; anything else opens the window."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from model.cli import main as train_main

        return train_main(argv[1:])
    from vae_gui.main_window import run_gui

    return run_gui(argv)


if __name__ == "__main__":
    sys.exit(main())
