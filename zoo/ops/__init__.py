"""zoo.ops."""
