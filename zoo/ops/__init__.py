"""zoo.ops: box machinery shared by every detector (keras.ops; TF and JAX), boxes in xyxy pixels.

Modules:
    boxes: convert_format, box_area, box_iou, clip_boxes, encode_boxes / decode_boxes, validate_boxes.
    nms: non_max_suppression, batched_nms (the zoo's detections dict).
    anchors: ssd_default_boxes (SSD300 / SSD512 data), grid_anchors (RPN).
    matching: match_boxes, assign_targets, hard_negative_mining, sample_balanced.
"""
