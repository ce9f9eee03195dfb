"""zoo.export."""
