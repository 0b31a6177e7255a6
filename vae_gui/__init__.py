"""The Qt application of vae-gui: windows, widgets, the training thread and user actions."""
