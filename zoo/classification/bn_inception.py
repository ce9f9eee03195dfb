"""BN-Inception: Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by
Reducing Internal Covariate Shift", ICML 2015, the network of the Appendix (Figure 5).

GoogLeNet with batch normalisation after every convolution and "the 5x5 convolutional layers
... replaced by two consecutive layers of 3x3 convolutions with up to 128 filters"; 28x28
modules 3a, 3b and stride-2 module 3c, 14x14 modules 4a-4e (4e with stride 2), 7x7 modules 5a
and 5b; average pooling in the pool branches except 5b (max), "pass through" max pooling in the
stride-2 modules; no local response normalisation and no dropout (section 4.2.1). The table
below is Figure 5's.

Layout of the Caffe release (Yuanjun Xiong's ``bn_inception``, ported to PyTorch by Cadene's
pretrained-models and osmr/imgclsmob): each convolution has a bias, then an affine batch norm
and ReLU; layer names are that release's (``conv1_7x7_s2``, ``inception_3a_double_3x3_1``,
``..._bn``), so its weights map by name (conv weight transposed to ``(kh, kw, in, out)``,
BN ``weight/bias/running_mean/running_var`` -> ``gamma/beta/moving_mean/moving_variance``;
the Caffe weights expect BGR images with the ImageNet mean subtracted, 0-255). 11,295,240
trainable parameters at 1000 classes, osmr/imgclsmob's ``bninception`` count.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.classification._common import ClassifierCfg, register_classifier, start

PAPER = "Ioffe and Szegedy, Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift, ICML 2015"

# Figure 5: #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool, pool proj.
# #1x1 = 0 and pool proj = 0 mark the stride-2 modules (max pooling passed through).
BN_INCEPTION_MODULES: dict[str, tuple[int, int, int, int, int, str, int]] = {
    "3a": (64, 64, 64, 64, 96, "avg", 32),
    "3b": (64, 64, 96, 64, 96, "avg", 64),
    "3c": (0, 128, 160, 64, 96, "max", 0),
    "4a": (224, 64, 96, 96, 128, "avg", 128),
    "4b": (192, 96, 128, 96, 128, "avg", 128),
    "4c": (160, 128, 160, 128, 160, "avg", 128),
    "4d": (96, 128, 192, 160, 192, "avg", 128),
    "4e": (0, 128, 192, 192, 256, "max", 0),
    "5a": (352, 192, 320, 160, 224, "avg", 128),
    "5b": (352, 192, 320, 192, 224, "max", 128),
}

REFERENCES: dict[str, Any] = {
    "num_params": 11_295_240,
    "num_params_source": "osmr/imgclsmob bninception (trainable parameters, 1000 classes)",
    "imagenet_top5": 95.18,
    "imagenet_top5_source": "paper Table 3, BN-Inception single network, multi-crop (4.82% top-5 error)",
}


def _conv(x: Any, filters: int, kernel: int, name: str, strides: int = 1) -> Any:
    """Caffe's conv (with bias) + batch norm + ReLU."""
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x)


def _module(x: Any, key: str, spec: tuple[int, int, int, int, int, str, int]) -> Any:
    n1, r3, n3, rd, nd, pool_kind, proj = spec
    name = f"inception_{key}"
    stride = 2 if proj == 0 else 1
    branches = []
    if n1:
        branches.append(_conv(x, n1, 1, f"{name}_1x1"))
    branches.append(_conv(_conv(x, r3, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3", strides=stride))
    d = _conv(_conv(x, rd, 1, f"{name}_double_3x3_reduce"), nd, 3, f"{name}_double_3x3_1")
    branches.append(_conv(d, nd, 3, f"{name}_double_3x3_2", strides=stride))
    pool_layer = keras.layers.AveragePooling2D if pool_kind == "avg" else keras.layers.MaxPooling2D
    p = pool_layer(3, strides=stride, padding="same", name=f"{name}_pool")(x)
    branches.append(_conv(p, proj, 1, f"{name}_pool_proj") if proj else p)
    return keras.layers.Concatenate(name=f"{name}_output")(branches)


def bn_inception_features(x: Any) -> Any:
    """Applies BN-Inception's stem and modules (ends at ``inception_5b_output``, stride 32, 1024 channels).

    Example:
        >>> features = bn_inception_features(keras.Input((224, 224, 3)))  # (None, 7, 7, 1024)
    """
    x = _conv(x, 64, 7, "conv1_7x7_s2", strides=2)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    x = _conv(x, 64, 1, "conv2_3x3_reduce")
    x = _conv(x, 192, 3, "conv2_3x3")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)
    for key, spec in BN_INCEPTION_MODULES.items():
        x = _module(x, key, spec)
    return x


default_cfgs: dict[str, ClassifierCfg] = {
    "bn_inception": ClassifierCfg(
        paper=PAPER, references=REFERENCES, input_size=224, min_size=32, preprocess="caffe"
    ),
}


def _create_bn_inception(variant: str, **kwargs: Any) -> keras.Model:
    """Builds BN-Inception with keras.applications' arguments."""
    args = start(variant, default_cfgs[variant], **kwargs)

    def top(x: Any) -> Any:
        return args.predictions(keras.layers.GlobalAveragePooling2D(name="avg_pool")(x))

    return args.finish(args.tail(bn_inception_features(args.x), top))


@register_classifier("bn_inception", default_cfgs, _create_bn_inception)
def bn_inception(**kwargs: Any) -> keras.Model:
    """BN-Inception (the paper's Appendix network); 11,295,240 trainable parameters at 1000 classes.

    Arguments as keras.applications (inputs of at least 32x32). No Keras ImageNet file is
    published; the Caffe release's weights map by layer name (see the module docstring).

    Example:
        >>> model = zoo.get("bn_inception", classes=10, input_shape=(96, 96, 3))
    """
    return _create_bn_inception("bn_inception", **kwargs)
