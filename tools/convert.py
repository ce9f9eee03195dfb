"""Export a zoo model to LiteRT (.tflite): the same command as ``python -m zoo convert``.

Example:
    $ python tools/convert.py alexnet --classes 10 --quantize int8 --representative photos \\
          --fold-preprocessing --output alexnet_int8.tflite
"""

import sys

from zoo.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
