"""Image classifiers: AlexNet, VGG, GoogLeNet / Inception v3, ResNet, and the captcha readers
(one family a module)."""

from zoo.classification import alexnet, captcha, crnn, inception, resnet, vgg  # noqa: F401  (registers models)
