"""Work off the GUI thread: the training thread, background loads, and their hand-off."""
