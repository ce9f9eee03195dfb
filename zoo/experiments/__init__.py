"""Experiments and benchmarks built on the zoo's library (imported on demand, never by ``import zoo``).

- :mod:`zoo.experiments.digits_transfer`: the offline crocodile experiment (digits 0-4 -> 5-9).
- :mod:`zoo.experiments.captcha`: captcha training (joint vs alternating), prediction, comparison.
- :mod:`zoo.experiments.demo`: ``make demo`` / ``python -m zoo demo``.
- :mod:`zoo.experiments.bench`: zoo classifiers vs keras.applications (``python -m zoo bench``).
"""
