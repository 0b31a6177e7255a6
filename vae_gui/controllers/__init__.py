"""Small objects that turn user actions into work: files, training, plot linking."""
