"""Before Qt starts: is there a display, and does Qt's X11 plugin have its libraries?

Without either, Qt prints a plugin message and aborts with a core dump; this says what is
missing in one line, with what to do, and lets `vae-gui` exit with status 1 instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

# The libraries Qt's xcb plugin loads that a desktop Debian or Ubuntu may lack (checked
# under Xvfb on Debian 12: with only libxcb-cursor0 installed, the other two were missing).
XCB_LIBRARIES = {"libxcb-cursor.so.0": "libxcb-cursor0",
                 "libxcb-icccm.so.4": "libxcb-icccm4",
                 "libxcb-keysyms.so.1": "libxcb-keysyms1"}
OFFSCREEN_HINT = "QT_QPA_PLATFORM=offscreen vae-gui --screenshot out.png"


def _loadable(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    loadable=_loadable) -> str | None:
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
    missing = [package for library, package in XCB_LIBRARIES.items() if not loadable(library)]
    if missing:
        return (f"Qt's X11 plugin needs {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not installed. On Debian or Ubuntu: "
                f"sudo apt-get install {' '.join(missing)}")
    return None
