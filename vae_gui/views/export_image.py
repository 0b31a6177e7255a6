"""Saving a widget as an image: a PNG at twice the screen's resolution, or an SVG, with an
optional legend widget drawn above it (the class colours above a latent plot)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from vae_gui.model.atomic_write import write_atomic

PNG_SCALE = 2  # pixels per screen pixel: sharp on slides and high-resolution screens


def _paint(painter: QtGui.QPainter, widget: QtWidgets.QWidget,
           legend: QtWidgets.QWidget | None) -> None:
    # QWidget.render by name: pyqtgraph's views override render() with QGraphicsView's.
    top = 0
    if legend is not None:
        QtWidgets.QWidget.render(legend, painter, QtCore.QPoint(0, 0))
        top = legend.height()
    QtWidgets.QWidget.render(widget, painter, QtCore.QPoint(0, top))


def image_bytes(widget: QtWidgets.QWidget, svg: bool,
                legend: QtWidgets.QWidget | None = None) -> bytes:
    """`widget` (under `legend`, if given) as an SVG document, or as a PNG at PNG_SCALE
    times its size."""
    width = max(widget.width(), legend.width() if legend is not None else 0)
    height = widget.height() + (legend.height() if legend is not None else 0)
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if svg:
        generator = QtSvg.QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(QtCore.QSize(width, height))
        generator.setViewBox(QtCore.QRect(0, 0, width, height))
        generator.setTitle(widget.objectName() or type(widget).__name__)
        painter = QtGui.QPainter()
        if not painter.begin(generator):
            raise OSError("the SVG could not be drawn")
        _paint(painter, widget, legend)
        painter.end()
    else:
        image = QtGui.QImage(width * PNG_SCALE, height * PNG_SCALE,
                             QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(PNG_SCALE)
        image.fill(QtGui.QColor("white"))
        painter = QtGui.QPainter(image)
        _paint(painter, widget, legend)
        painter.end()
        if not image.save(buffer, "PNG"):
            raise OSError("the PNG could not be encoded")
    return bytes(buffer.data())


def export_widget(widget: QtWidgets.QWidget, path: str,
                  legend: QtWidgets.QWidget | None = None) -> None:
    """Writes `widget` (under `legend`, if given) to `path`: SVG when the name ends in .svg,
    else PNG. Atomic, as every file vae-gui writes; raises OSError saying why it could not
    (a missing folder, a folder or pipe of that name, no permission, a full disk)."""
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        raise FileNotFoundError(2, "its folder does not exist", str(target.parent))
    write_atomic(target, image_bytes(widget, target.suffix.lower() == ".svg", legend))


def write_problem(exc: OSError) -> str:
    """Why a write failed, as the end of a sentence."""
    return exc.strerror or str(exc) or type(exc).__name__
