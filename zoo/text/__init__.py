"""zoo.text."""
