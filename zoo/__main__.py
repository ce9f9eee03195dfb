"""``python -m zoo``."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: keep the CLI's output readable

from zoo.cli import main  # noqa: E402

sys.exit(main())
