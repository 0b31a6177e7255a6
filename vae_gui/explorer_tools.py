"""The exploration tools' side of the main window: inspecting points, overlays, the
manifold, projections, samples, help, exports and following a run folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from vae_gui.model.latent import Projection, decode_images, ellipse, even_grid, mosaic
from vae_gui.views.help_dialog import HelpDialog
from vae_gui.views.palette import CURSOR_COLOR
from vae_gui.workers.loading import LoadedModels, load_for_display


class ExplorerToolsMixin:
    """Methods of MainWindow for the tools; they use the window's columns, projections,
    overlays, tools panel and newest snapshot, and never the models being trained."""

    # --- tools ----------------------------------------------------------------------------
    def _on_plot_clicked(self, which: str, event) -> None:
        """A click within a few pixels of a test point inspects it."""
        column = self.columns[which]
        if self.snapshot is None or column.projection is None:
            return
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        vb = column.latent_plot.view_box
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        # Distances in screen pixels: view units divided by the size of one pixel in each.
        xy = column.projection.to_plane(column.codes)
        click = vb.mapSceneToView(event.scenePos())
        px = vb.viewPixelSize()
        d = np.hypot((xy[:, 0] - click.x()) / px[0], (xy[:, 1] - click.y()) / px[1])
        if not len(d):
            return
        i = int(np.argmin(d))
        if d[i] <= 6:
            self.inspect_point(i)

    def inspect_point(self, index: int) -> None:
        """Shows test point `index` beside both reconstructions, and its posterior ellipse."""
        self.inspected = index
        self.tools.inspect.index = index
        self.tools.show_tab(self.tools.inspect)
        self._draw_overlays()

    def _draw_overlays(self) -> None:
        """The inspected point, the interpolation path and the drawn digit on both plots."""
        s = self.snapshot
        if s is None or not self.projections:
            return
        for which, overlays in self.overlays.items():
            projection = self.projections[which]
            codes = s.ae_codes if which == "ae" else s.vae_mu
            if self.inspected is not None and self.inspected < len(codes):
                point = projection.to_plane(codes[self.inspected][None])
                overlays.markers("inspected", point, "#ffffff", symbol="o", size=14)
                if which == "vae":
                    sigma = np.exp(0.5 * s.vae_logvar[self.inspected])
                    overlays.line("inspected-ellipse", self._ellipse(
                        projection, s.vae_mu[self.inspected], sigma), "k", width=2)
            path = self.tools.interpolate.path()
            if path is not None and path.shape[1] == codes.shape[1]:
                xy = projection.to_plane(path)
                overlays.line("path", xy, "#111111", width=2, dashed=True)
                overlays.markers("path-a", xy[:1], "#ffffff", symbol="o", size=12)
                overlays.markers("path-b", xy[-1:], "#ffffff", symbol="s", size=12)
            draw = self.tools.draw
            code = draw.codes.get(which)
            if code is not None and len(code) == codes.shape[1]:
                overlays.markers("drawn", projection.to_plane(code[None]), CURSOR_COLOR)
                if which == "vae" and draw.vae_logvar is not None:
                    overlays.line("drawn-ellipse", self._ellipse(
                        projection, code, np.exp(0.5 * draw.vae_logvar)), CURSOR_COLOR)
            else:
                overlays.markers("drawn", None, CURSOR_COLOR)
                overlays.line("drawn-ellipse", None, CURSOR_COLOR)

    @staticmethod
    def _ellipse(projection: Projection, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """mu +/- 2 sigma in the plane: exact for axis projections, the spread along each
        plotted direction for PCA (the posterior is axis-aligned in z)."""
        center = projection.to_plane(mu[None])[0]
        radii = 2 * np.sqrt((projection.basis ** 2 * (sigma ** 2)[:, None]).sum(axis=0))
        return ellipse(center, radii)

    def _on_manifold_toggled(self, checked: bool) -> None:
        if checked:
            self._draw_manifold_overlay()
        for which, column in self.columns.items():
            item = self.manifold_items.get(which)
            if item is not None:
                item.setVisible(checked)
            column.latent_plot.set_points_opacity(0.25 if checked else 1.0)

    def _draw_manifold_overlay(self) -> None:
        """Decodes a 20 x 20 grid over each plot's visible region as one mosaic under the
        points, as in Kingma and Welling's figure; it follows pans, zooms and training."""
        if self.snapshot is None or not self.manifold_action.isChecked():
            return
        import pyqtgraph as pg

        n = 20
        for which, column in self.columns.items():
            (x0, y0), (x1, y1) = self._visible_region(which)
            z = column.projection.from_plane(even_grid((x0, y0), (x1, y1), n))
            model = self.snapshot.ae if which == "ae" else self.snapshot.vae
            tiles = mosaic(decode_images(model, z, self.image_shape), n, n)
            item = self.manifold_items.get(which)
            if item is None:
                item = pg.ImageItem(axisOrder="row-major", levels=(0, 1))
                item.setZValue(-10)
                item.setOpacity(0.85)
                column.latent_plot.plot_item.addItem(item, ignoreBounds=True)
                self.manifold_items[which] = item
            # Row 0 of the mosaic is the top of the view; ImageItem puts row 0 at y0.
            item.setImage(tiles[::-1], levels=(0, 1), autoLevels=False)
            item.setRect(QtCore.QRectF(x0, y0, x1 - x0, y1 - y0))
            item.setVisible(True)

    def _on_cloud_mode(self, _checked: bool) -> None:
        if self.snapshot is not None:
            self._render(self.snapshot)

    def _on_pca(self, checked: bool) -> None:
        self.projection_dims = None if checked else (0, 1)
        if self.snapshot is not None:
            self._render(self.snapshot, refit=True)

    def _on_choose_dims(self) -> None:
        d = self.snapshot.ae_codes.shape[1] if self.snapshot is not None else 2
        if d < 2:
            self.show_error("Nothing to choose", "The latent space has one dimension.")
            return
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Dimensions to show")
        i = QtWidgets.QSpinBox(minimum=1, maximum=d, value=1)
        j = QtWidgets.QSpinBox(minimum=1, maximum=d, value=2)
        form = QtWidgets.QFormLayout(dialog)
        form.addRow("horizontal: z", i)
        form.addRow("vertical: z", j)
        form.addRow(QtWidgets.QLabel("The other dimensions are held at 0, the prior's mean."))
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() and i.value() != j.value():
            self.show_dimensions(i.value() - 1, j.value() - 1)

    def show_dimensions(self, i: int, j: int) -> None:
        """Plots latent dimensions i and j (from 0); the others are held at 0."""
        self.projection_dims = (i, j)
        self.pca_action.setChecked(False)
        if self.snapshot is not None:
            self._render(self.snapshot, refit=True)

    def _on_sample(self) -> None:
        self.tools.samples.new_samples()
        self.tools.show_tab(self.tools.samples)

    def _on_help(self) -> None:
        HelpDialog(self).show()

    def export_codes(self, path: str) -> None:
        """The encoded test set as CSV or NPZ (by the file's suffix)."""
        from vae_gui.model.export import export_encodings

        s = self.snapshot
        try:
            export_encodings(path, s.ae_codes, s.vae_mu, s.vae_logvar, s.labels,
                             self.class_names)
        except OSError as exc:
            self.show_error("Could not export", f"{path} could not be written: {exc}")
            return
        self.statusBar().showMessage(f"Exported {path}", 5000)

    def _on_export_codes(self) -> None:
        if self.snapshot is None:
            return
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export encoded test set",
            str(Path(self._last_folder()) / "encoded-test-set.csv"),
            "CSV (*.csv);;NumPy archive (*.npz)")
        if path:
            if not path.endswith((".csv", ".npz")):
                path += ".npz" if "npz" in chosen else ".csv"
            self.export_codes(path)

    # --- following a run ------------------------------------------------------------------
    def follow(self, folder: str) -> None:
        """Shows the newest checkpoint in `folder` and every one that lands there later."""
        self.follower.follow(folder)
        self.statusBar().showMessage(f"Following {folder}: new checkpoints appear as they land")

    def _on_follow(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Follow a run folder",
                                                            self._last_folder())
        if folder:
            self.follow(folder)

    def _on_followed_checkpoint(self, path: str) -> None:
        if self.runner.busy:  # a load is under way: look again shortly
            QtCore.QTimer.singleShot(300, lambda: self._on_followed_checkpoint(path))
            return
        self.runner.run(lambda: load_for_display(path), self._on_followed_loaded,
                        lambda message: self.statusBar().showMessage(
                            f"Skipped {path}: {message}", 5000))

    def _on_followed_loaded(self, loaded: LoadedModels) -> None:
        keep_view = self.snapshot is not None
        self._show_loaded(loaded, remember=False)
        self.source_label.setText(f"Following {loaded.path.parent.name}: epoch "
                                  f"{loaded.checkpoint.epoch}")
        if keep_view:
            self._decode_cursors()
