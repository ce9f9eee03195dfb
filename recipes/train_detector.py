"""Train and evaluate a zoo detector: checkpoints every epoch, resumable, mAP, detection and curve PNGs.

Examples:
    python recipes/train_detector.py --model ssd_vgg16 --data shapes --image-size 96 --epochs 20 \
        --steps-per-epoch 100 --batch-size 16 --width 0.25 --workdir runs/ssd_shapes
    python recipes/train_detector.py --model ssd_vgg16 --data voc --data-dir ~/tensorflow_datasets \
        --weights imagenet_backbone --optimizer sgd --learning-rate 1e-3 --epochs 120
    python recipes/train_detector.py --model ssd_vgg16 --data shapes --strategy mirrored

Re-running the same command with the same --workdir resumes an interrupted run.
"""

import sys

from zoo.detection.train import main

if __name__ == "__main__":
    sys.exit(main())
