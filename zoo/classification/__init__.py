"""Image classifiers: AlexNet, VGG, GoogLeNet / Inception v3, ResNet, and the captcha readers
(one family a module)."""

from zoo.classification import (  # noqa: F401  (registers models)
    alexnet,
    bn_inception,
    captcha,
    crnn,
    inception,
    inception_v4,
    resnet,
    vgg,
)
