"""Saving a widget as an image: a PNG at twice the screen's resolution, or an SVG, with an
optional legend widget drawn above it (the class colours above a latent plot)."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

PNG_SCALE = 2  # pixels per screen pixel: sharp on slides and high-resolution screens


def _paint(painter: QtGui.QPainter, widget: QtWidgets.QWidget,
           legend: QtWidgets.QWidget | None) -> None:
    # QWidget.render by name: pyqtgraph's views override render() with QGraphicsView's.
    top = 0
    if legend is not None:
        QtWidgets.QWidget.render(legend, painter, QtCore.QPoint(0, 0))
        top = legend.height()
    QtWidgets.QWidget.render(widget, painter, QtCore.QPoint(0, top))


def export_widget(widget: QtWidgets.QWidget, path: str,
                  legend: QtWidgets.QWidget | None = None) -> bool:
    """Writes `widget` (under `legend`, if given) to `path`: SVG when the name ends in .svg,
    else PNG at PNG_SCALE times its size. False when the file cannot be written."""
    width = max(widget.width(), legend.width() if legend is not None else 0)
    height = widget.height() + (legend.height() if legend is not None else 0)
    if Path(path).suffix.lower() == ".svg":
        if not Path(path).expanduser().resolve().parent.is_dir():
            return False
        generator = QtSvg.QSvgGenerator()
        generator.setFileName(path)
        generator.setSize(QtCore.QSize(width, height))
        generator.setViewBox(QtCore.QRect(0, 0, width, height))
        generator.setTitle(widget.objectName() or type(widget).__name__)
        painter = QtGui.QPainter()
        if not painter.begin(generator):
            return False
        _paint(painter, widget, legend)
        painter.end()
        return Path(path).is_file() and Path(path).stat().st_size > 0
    image = QtGui.QImage(width * PNG_SCALE, height * PNG_SCALE,
                         QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(PNG_SCALE)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    _paint(painter, widget, legend)
    painter.end()
    return image.save(path, "PNG")
