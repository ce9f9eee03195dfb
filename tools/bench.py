"""Zoo classifiers vs keras.applications: throughput and latency, one table (see zoo.bench)."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from zoo.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
