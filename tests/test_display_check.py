"""With no display, or without the libraries Qt's X11 plugin needs, vae-gui says so in one
line and exits 1, instead of Qt's plugin message and a core dump."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from vae_gui import display_check
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


def test_a_minimal_debian_gets_one_install_command_naming_each_package_once(monkeypatch):
    # What ldd printed for the plugin in a fresh debootstrap of Debian 12 with Xvfb and the
    # three xcb libraries installed: glib is named once for each library that needs it.
    ldd_output = "".join(f"\t{lib} => not found\n" for lib in (
        "libxkbcommon.so.0", "libxkbcommon-x11.so.0", "libxcb-shape.so.0", "libxcb-xkb.so.1",
        "libEGL.so.1", "libfontconfig.so.1", "libdbus-1.so.3", "libglib-2.0.so.0",
        "libgthread-2.0.so.0", "libglib-2.0.so.0", "libgthread-2.0.so.0"))
    monkeypatch.setattr(display_check.subprocess, "run", lambda *a, **k: SimpleNamespace(
        stdout="\tlinux-vdso.so.1 (0x00007ffd)\n" + ldd_output))
    monkeypatch.setattr(display_check.shutil, "which", lambda name: "/usr/bin/ldd")
    problem = display_problem({"DISPLAY": ":0"}, "linux", unresolved=lambda: (
        display_check.unresolved_libraries(Path("libqxcb.so"))))
    assert problem.endswith(
        "sudo apt-get install libxkbcommon0 libxkbcommon-x11-0 libxcb-shape0 libxcb-xkb1 "
        "libegl1 libfontconfig1 libdbus-1-3 libglib2.0-0")
    assert problem.count("libglib2.0-0") == 2  # in the list of what is needed, and the command


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
