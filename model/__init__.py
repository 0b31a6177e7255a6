"""Qt-free core of vae-gui: networks, losses, data, training, checkpoints, latent maths.

Nothing in this package imports PySide6 or pyqtgraph; the GUI observes it.
"""
