"""Small Keras layers the papers need (keras.ops only, serialisable)."""

from zoo.layers.gradient_reversal import GradientReversal  # noqa: F401
from zoo.layers.instance_norm import InstanceNormalization  # noqa: F401
from zoo.layers.l2norm import L2Normalization  # noqa: F401
from zoo.layers.lrn import LocalResponseNormalization  # noqa: F401
from zoo.layers.pooling import AdaptiveAvgPool2D  # noqa: F401
from zoo.layers.roi import (  # noqa: F401
    MultiScaleRoIAlign,
    PSRoIPooling,
    RoIAlign,
    RoIPooling,
    SpatialPyramidPooling,
    fpn_levels,
    multiscale_roi_align,
    ps_roi_covered,
    ps_roi_pool,
    roi_align,
    roi_pool,
)
from zoo.layers.shortcut import ZeroPadShortcut  # noqa: F401
from zoo.layers.unpooling import (  # noqa: F401
    BilinearInitializer,
    BilinearUpsampling,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    NearestUnpooling2D,
    bilinear_kernel,
)
