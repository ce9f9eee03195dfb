"""Object detectors (SSD, YOLO v1, ...) and what they share: losses, post-processing, drawing.

Example:
    >>> model = zoo.get("ssd_vgg16", num_classes=21)
    >>> dets = zoo.detection.detect(model, images)  # boxes in the original images' pixels
"""

from zoo.detection import (  # noqa: F401  (registers models)  # noqa: F401,E402  (registers faster_rcnn_vgg16, faster_rcnn_resnet50)
    faster_rcnn,
    fpn_rcnn,  # noqa: F401  (registers fasterrcnn_resnet50_fpn, maskrcnn_resnet50_fpn)
    losses,
    mask_rcnn,  # noqa: F401,E402  (registers mask_rcnn_resnet50)
    postprocess,
    rfcn,  # noqa: F401  (registers rfcn_resnet50, rfcn_vgg16)
    rpn,
    ssd,
    visualize,
    yolo,  # noqa: F401  (registers yolo_v1, fast_yolo_v1)
)
from zoo.detection.base import Detector, PostprocessConfig  # noqa: F401
from zoo.detection.faster_rcnn import FasterRCNN  # noqa: F401,E402
from zoo.detection.mask_rcnn import MaskRCNN  # noqa: F401,E402
from zoo.detection.postprocess import detect, detection_model  # noqa: F401
from zoo.detection.rfcn import RFCN  # noqa: F401
from zoo.detection.ssd import SSD, default_boxes_for  # noqa: F401
