"""Widgets that show what the explorer state holds: plots, images, panels, dialogs."""
