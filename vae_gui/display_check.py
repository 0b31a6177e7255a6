"""Before Qt starts: is there a display, and does Qt's X11 plugin have its libraries?

Without either, Qt prints a plugin message and aborts with a core dump; this says what is
missing in one line, with what to do, and lets `vae-gui` exit with status 1 instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# The libraries Qt's xcb plugin loads that a desktop Debian or Ubuntu most often lacks
# (with only libxcb-cursor0 installed, the other two were missing); the README lists all
# that a minimal Debian 12 needed (checked in a fresh debootstrap with Xvfb).
XCB_LIBRARIES = {"libxcb-cursor.so.0": "libxcb-cursor0",
                 "libxcb-icccm.so.4": "libxcb-icccm4",
                 "libxcb-keysyms.so.1": "libxcb-keysyms1"}
# Debian and Ubuntu package names of other libraries the plugin (or Qt's GUI library) loads,
# for a message that says what to install; an unknown one is named by its file.
PACKAGES = {**XCB_LIBRARIES,
            "libxcb-image.so.0": "libxcb-image0", "libxcb-render-util.so.0": "libxcb-render-util0",
            "libxcb-shape.so.0": "libxcb-shape0", "libxcb-randr.so.0": "libxcb-randr0",
            "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-xinput.so.0": "libxcb-xinput0",
            "libxcb-sync.so.1": "libxcb-sync1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
            "libxcb-shm.so.0": "libxcb-shm0", "libxcb-render.so.0": "libxcb-render0",
            "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
            "libxkbcommon.so.0": "libxkbcommon0", "libX11-xcb.so.1": "libx11-xcb1",
            "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
            "libfontconfig.so.1": "libfontconfig1", "libdbus-1.so.3": "libdbus-1-3",
            "libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
            "libfreetype.so.6": "libfreetype6", "libxcb.so.1": "libxcb1",
            "libX11.so.6": "libx11-6"}
OFFSCREEN_HINT = "QT_QPA_PLATFORM=offscreen vae-gui --screenshot out.png"


def xcb_plugin() -> Path | None:
    """PySide6's X11 platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def unresolved_libraries(plugin: Path | None) -> list[str] | None:
    """The libraries `ldd` says the plugin needs and cannot find, or None when that cannot
    be asked (no plugin, no ldd)."""
    ldd = shutil.which("ldd")
    if plugin is None or ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # Each library once: ldd names a missing one for every library that needs it.
    return list(dict.fromkeys(line.split("=>")[0].strip() for line in out.splitlines()
                              if "not found" in line))


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    loadable=_loadable,
                    unresolved: Callable[[], list[str] | None] | None = None) -> str | None:
    """A sentence saying why no window can open here, or None when one can (as far as we
    can tell: other platforms and explicit QT_QPA_PLATFORM values are left to Qt)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return None
    if env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return None  # Qt picks its Wayland plugin when there is no X display
    if not env.get("DISPLAY"):
        return ("no display: DISPLAY is not set, so no window can open here. Run vae-gui in "
                f"a desktop session, or without a window: {OFFSCREEN_HINT}")
    found = (unresolved or (lambda: unresolved_libraries(xcb_plugin())))()
    if found is None:  # ldd cannot say: the libraries a desktop most often lacks
        found = [library for library in XCB_LIBRARIES if not loadable(library)]
    packages = list(dict.fromkeys(PACKAGES[lib] for lib in found if lib in PACKAGES))
    others = [lib for lib in found if lib not in PACKAGES]
    if packages or others:
        needed = ", ".join(packages + others)
        install = f"sudo apt-get install {' '.join(packages)}" if packages else ""
        if others:
            install += (" and " if install else "") + ("the packages that hold "
                                                       + ", ".join(others))
        return (f"Qt's X11 plugin needs {needed}, which {'is' if len(found) == 1 else 'are'} "
                f"not installed. On Debian or Ubuntu: {install}")
    return None
