"""zoo.generative: DCGAN, Gatys' neural style transfer and the fast (Johnson et al.) transformation net."""

from zoo.generative import dcgan  # noqa: F401  (registers the DCGAN networks)
