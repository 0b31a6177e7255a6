"""Files vae-gui ships: the embedded mnist5k dataset and the pretrained checkpoint.

Installed as the package `vae_gui.resources`; found with importlib.resources.
"""
