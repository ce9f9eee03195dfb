"""Train and evaluate a zoo detector: checkpoints every epoch, resumable, mAP, detection and curve PNGs.

Examples:
    python recipes/train_detector.py --model ssd_vgg16 --data shapes --image-size 96 --epochs 20 \
        --steps-per-epoch 100 --batch-size 16 --width 0.25 --workdir runs/ssd_shapes
    python recipes/train_detector.py --model ssd_vgg16 --data voc --data-dir ~/tensorflow_datasets \
        --weights imagenet_backbone --optimizer sgd --learning-rate 1e-3 --epochs 120
    python recipes/train_detector.py --model ssd_vgg16 --data shapes --strategy mirrored
    python recipes/train_detector.py --model mask_rcnn_vgg16 --data shapes --image-size 128 --width 0.125 \
        --epochs 40 --steps-per-epoch 50 --learning-rate 5e-4 --no-augment --eval-every 3 \
        --workdir runs/mask_rcnn_shapes   # + mean mask IoU in report.json, masks in detections.png

Re-running the same command with the same --workdir resumes an interrupted run.
"""

import sys

from zoo.detection.train import main

if __name__ == "__main__":
    sys.exit(main())
