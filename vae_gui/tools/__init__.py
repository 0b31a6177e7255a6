"""The Tools dock: one module per tab, each showing both models at once."""
