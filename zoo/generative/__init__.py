"""zoo.generative: DCGAN, Gatys' neural style transfer and the fast (Johnson et al.) transformation net."""

from zoo.generative import dcgan, fast_style, style  # noqa: F401  (register the DCGAN and fast style networks)
