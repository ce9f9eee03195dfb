"""Semantic segmentation: FCN-32s/16s/8s on VGG16, U-Net; losses and training (``zoo.segmentation.train``)."""

from zoo.segmentation import fcn, fcn_resnet, losses, unet  # noqa: F401  (registers models)
