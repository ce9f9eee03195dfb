"""zoo.metrics."""
