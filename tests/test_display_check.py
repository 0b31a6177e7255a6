"""With no display, or without the libraries Qt's X11 plugin needs, vae-gui says so in one
line and exits 1, instead of Qt's plugin message and a core dump."""

from __future__ import annotations

import os
import subprocess
import sys

from vae_gui.display_check import (
    XCB_LIBRARIES,
    display_problem,
    unresolved_libraries,
    xcb_plugin,
)


def test_no_display_is_named_with_the_offscreen_alternative():
    problem = display_problem({}, "linux")
    assert problem.startswith("no display") and "QT_QPA_PLATFORM=offscreen" in problem


def test_missing_xcb_libraries_are_named_with_the_install_command():
    # As ldd reports them for the plugin: known ones by package, others by file.
    problem = display_problem({"DISPLAY": ":0"}, "linux", unresolved=lambda: [
        "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libunknown.so.7"])
    assert "needs libxcb-icccm4, libxcb-keysyms1, libunknown.so.7" in problem
    assert problem.endswith("sudo apt-get install libxcb-icccm4 libxcb-keysyms1 and the "
                            "packages that hold libunknown.so.7")
    assert display_problem({"DISPLAY": ":0"}, "linux", unresolved=lambda: []) is None


def test_without_ldd_the_libraries_desktops_lack_are_tried_one_by_one():
    present = {"libxcb-cursor.so.0"}
    problem = display_problem({"DISPLAY": ":0"}, "linux", loadable=lambda n: n in present,
                              unresolved=lambda: None)
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in problem
    assert display_problem({"DISPLAY": ":0"}, "linux", loadable=lambda n: True,
                           unresolved=lambda: None) is None


def test_the_check_asks_ldd_about_the_installed_plugin():
    # What is missing depends on the machine; what ldd reports are library file names.
    plugin = xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    found = unresolved_libraries(plugin)
    assert found is None or all(".so" in library for library in found)


def test_offscreen_wayland_and_other_systems_are_left_to_qt():
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert set(XCB_LIBRARIES.values()) == {"libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"}


def test_the_real_app_without_a_display_exits_1_with_one_line():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "vae_gui"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("vae-gui: no display") and result.stderr.count("\n") == 1
