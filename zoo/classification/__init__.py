"""Image classifiers: AlexNet, VGG, GoogLeNet / Inception v3, ResNet (one family a module)."""

from zoo.classification import alexnet, vgg  # noqa: F401  (registers models)
