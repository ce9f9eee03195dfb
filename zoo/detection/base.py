"""The detector contract: what every zoo detector provides, and the one post-processing path.

A zoo detector is a ``keras.Model`` subclass of :class:`Detector` (as keras-hub's RetinaNet, the
model owns its decoder and thresholds):

- ``image_size`` (height, width): the fixed input size; boxes are xyxy pixels of that size.
- ``num_classes``: object classes + 1 (class 0 is the background); ``class_names``: a tuple of
  ``num_classes`` names (background first) or None.
- ``postprocess``: a :class:`PostprocessConfig` (score threshold, NMS IoU, max detections,
  pre-NMS top-k). Each family declares its defaults once, in the class attribute ``POSTPROCESS``;
  a model's own settings are a constructor argument (``postprocess=dict(...)``), an attribute
  (``model.postprocess = ...``) and part of ``get_config``.
- ``box_weights``: the box coder's weights (``zoo.ops.boxes.SSD_WEIGHTS`` / ``FASTER_RCNN_WEIGHTS``).
- ``model(images)``: the RAW outputs, the same structure in training and inference, for ``fit``
  (target assignment happens in ``compute_loss``) and export. They hold at least
  ``class_logits`` [B, N, C] and ``box_deltas`` [B, N, 4] (or per-class [B, N, C, 4]) relative to
  ``decode_anchors(raw)``.
- ``anchor_based``: True when ``decode_anchors`` is the constant ``default_boxes`` [N, 4] (SSD):
  export may then use a fused post-processing op with ``default_boxes`` and ``box_weights``.
  Two-stage models decode relative to their proposals (``raw["proposals"]``).
- ``decode_predictions(raw)`` (keras.ops, traceable: this is what export puts in a graph),
  ``model.predict(images)`` (``predict_step`` decodes) and ``detect_batch(images, **overrides)``
  (NumPy, compiled once per setting) all return THE detections dict: ``boxes`` [B, K, 4] xyxy
  pixels, ``scores`` [B, K], ``classes`` [B, K] int32 (-1 pad), ``num_detections`` [B] int32, plus
  what ``extend_detections`` adds (Mask R-CNN: ``masks``).

``zoo.detection.detect``, training-time evaluation and export read these attributes; nothing
inspects a signature or guesses from output names.

Example:
    >>> class TinyDetector(Detector, keras.Model):
    ...     POSTPROCESS = PostprocessConfig(score_threshold=0.2, iou_threshold=0.5)
    ...     anchor_based = True
    ...     def __init__(self, num_classes=3, postprocess=None, class_names=None, **kwargs):
    ...         image = keras.Input((32, 32, 3))
    ...         x = keras.layers.Conv2D(5 * (num_classes + 4), 1)(image)   # 1 box per cell
    ...         ...  # outputs = {"class_logits": [B, N, C], "box_deltas": [B, N, 4]}
    ...         super().__init__(inputs=image, outputs=outputs, **kwargs)
    ...         self.init_detector(num_classes, (32, 32), class_names=class_names, postprocess=postprocess)
    ...         self.default_boxes = my_anchors  # [N, 4] xyxy pixels
    >>> model.predict(images)["boxes"]          # detections
    >>> model(images)["class_logits"]           # raw outputs
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import keras
import numpy as np
from keras import ops

from zoo.ops.boxes import SSD_WEIGHTS

DETECTION_KEYS = ("boxes", "scores", "classes", "num_detections")

# ImageNet mean (RGB order) that keras.applications' "caffe" preprocessing subtracts (from BGR input).
VGG_MEAN_RGB = (123.68, 116.779, 103.939)


@dataclasses.dataclass(frozen=True)
class PostprocessConfig:
    """Post-processing settings of a detector (see ``postprocess_detections``).

    Attributes:
        score_threshold: keep class scores above this.
        iou_threshold: per-class NMS IoU threshold.
        max_detections: K, output slots per image.
        pre_nms_top_k: per class, the best boxes that enter NMS (None: all).

    Example:
        >>> PostprocessConfig().replace(score_threshold=0.3, iou_threshold=None).score_threshold
        0.3
    """

    score_threshold: float = 0.01
    iou_threshold: float = 0.45
    max_detections: int = 100
    pre_nms_top_k: int | None = 400

    def __post_init__(self) -> None:
        object.__setattr__(self, "score_threshold", float(self.score_threshold))
        object.__setattr__(self, "iou_threshold", float(self.iou_threshold))
        object.__setattr__(self, "max_detections", int(self.max_detections))
        if self.pre_nms_top_k is not None:
            object.__setattr__(self, "pre_nms_top_k", int(self.pre_nms_top_k))
        if not 0.0 <= self.score_threshold < 1.0:  # NaN fails too
            raise ValueError(
                f"score_threshold must be in [0, 1) (scores are probabilities; a detection needs score > "
                f"threshold), got {self.score_threshold}"
            )
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {self.iou_threshold}")
        if self.max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {self.max_detections}")
        if self.pre_nms_top_k is not None and self.pre_nms_top_k < 1:
            raise ValueError(f"pre_nms_top_k must be >= 1 or None, got {self.pre_nms_top_k}")

    def replace(self, **overrides: Any) -> PostprocessConfig:
        """A copy with the given settings changed; None leaves a setting as it is."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(
                f"Unknown post-processing settings {unknown}; a detector accepts {sorted(names)}"
            )
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Compiled predict functions of a model for settings other than its own, kept outside the model's
# attributes so that Keras does not track them (and dropped with the model).
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _is_symbolic(x: Any) -> bool:
    """True inside a traced graph (tf.function, a jax tracer, a KerasTensor)."""
    if keras.backend.is_keras_tensor(x):
        return True
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if keras.backend.backend() == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    return False


class Detector:
    """Mixin of the zoo detectors (``class SSD(Detector, keras.Model)``): the module docstring's contract.

    Subclasses call ``init_detector`` after ``keras.Model.__init__`` and implement ``call`` (raw
    outputs); two-stage models override ``decode_anchors``, models with extra outputs (masks)
    ``extend_detections``. Their ``get_config`` adds ``detector_config()``. (A mixin rather than a
    ``keras.Model`` subclass: Keras rewrites the bases of a class used for a functional model, so
    one intermediate Model class cannot serve functional SSD and subclassed Faster R-CNN.)
    """

    POSTPROCESS: ClassVar[PostprocessConfig] = PostprocessConfig()
    anchor_based: ClassVar[bool] = False
    box_weights: tuple[float, ...] = SSD_WEIGHTS

    def init_detector(
        self,
        num_classes: int,
        image_size: Sequence[int],
        *,
        class_names: Sequence[str] | None = None,
        postprocess: Mapping[str, Any] | PostprocessConfig | None = None,
    ) -> None:
        """Sets the contract's attributes (call it after ``keras.Model.__init__``)."""
        self.num_classes = int(num_classes)
        self.image_size = tuple(int(v) for v in image_size)
        if class_names is not None:
            class_names = tuple(str(n) for n in class_names)
            if len(class_names) != self.num_classes:
                raise ValueError(
                    f"class_names has {len(class_names)} names but the model has {self.num_classes} classes "
                    "(background first)"
                )
        self.class_names = class_names
        self.postprocess = postprocess

    @property
    def postprocess(self) -> PostprocessConfig:
        """The model's post-processing settings (a :class:`PostprocessConfig`)."""
        return self._postprocess

    @postprocess.setter
    def postprocess(self, value: Mapping[str, Any] | PostprocessConfig | None) -> None:
        if value is None:
            value = type(self).POSTPROCESS
        elif not isinstance(value, PostprocessConfig):
            value = type(self).POSTPROCESS.replace(**dict(value))
        object.__setattr__(self, "_postprocess", value)
        self.invalidate_compiled()

    def invalidate_compiled(self) -> None:
        """Drops every compiled prediction function (after a change of anchors or settings)."""
        _COMPILED.pop(self, None)
        if "predict_function" in self.__dict__:
            self.predict_function = None

    def detector_config(self) -> dict[str, Any]:
        """The contract's part of ``get_config``: class names and post-processing settings."""
        return {
            "class_names": None if self.class_names is None else list(self.class_names),
            "postprocess": self.postprocess.as_dict(),
        }

    # ----- decoding: the one post-processing path
    def decode_anchors(self, raw: dict[str, Any]) -> Any:
        """The boxes that ``raw["box_deltas"]`` refer to: ``default_boxes`` (anchor-based models)."""
        return self.default_boxes

    def extend_detections(self, detections: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
        """Adds model-specific outputs (Mask R-CNN: masks) to the detections dict."""
        return detections

    def decode_predictions(self, raw: dict[str, Any], postprocess: PostprocessConfig | None = None) -> dict:
        """Raw outputs -> the detections dict (keras.ops; runs inside graphs and exported models)."""
        from zoo.detection.postprocess import postprocess_detections

        settings = self.postprocess if postprocess is None else postprocess
        dets = postprocess_detections(
            raw["class_logits"],
            raw["box_deltas"],
            self.decode_anchors(raw),
            self.image_size,
            weights=self.box_weights,
            **settings.as_dict(),
        )
        return self.extend_detections(dets, raw)

    def detections(self, images: Any, postprocess: PostprocessConfig | None = None) -> dict[str, Any]:
        """Image batch at ``image_size`` -> detections dict (keras.ops; traceable, exportable)."""
        return self.decode_predictions(self(images, training=False), postprocess)

    def predict_step(self, *args: Any) -> Any:
        """Keras' predict step (raw outputs), then ``decode_predictions`` (as keras-hub's RetinaNet)."""
        outputs = super().predict_step(*args)
        if keras.backend.backend() == "jax":  # the JAX trainer's step returns (outputs, state)
            raw, state = outputs
            return self.decode_predictions(raw), state
        return self.decode_predictions(outputs)

    def detect_batch(
        self,
        images: Any,
        *,
        score_threshold: float | None = None,
        iou_threshold: float | None = None,
        max_detections: int | None = None,
        pre_nms_top_k: int | None = None,
    ) -> dict[str, Any]:
        """Detections for a batch already at ``image_size`` (boxes in those pixels). See ``detect``.

        Args:
            images: [B, H, W, 3] RGB 0..255 at ``image_size``.
            score_threshold, iou_threshold, max_detections, pre_nms_top_k: post-processing
                settings for this call; None keeps the model's ``postprocess``.

        Returns:
            The detections dict of NumPy arrays; inside a traced graph, tensors.

        Runs ``predict_step`` compiled by Keras (once per setting); in a graph, ``detections``.
        """
        settings = self.postprocess.replace(
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
            pre_nms_top_k=pre_nms_top_k,
        )
        if _is_symbolic(next(iter(images.values())) if isinstance(images, dict) else images):
            return self.detections(images, settings)
        if isinstance(images, dict):  # a model with extra inputs (the FPN detectors' image_sizes)
            x = {k: np.asarray(ops.convert_to_numpy(v), dtype="float32") for k, v in images.items()}
        else:
            x = np.asarray(ops.convert_to_numpy(images), dtype="float32")
        if settings == self.postprocess:
            out = self.predict_on_batch(x)
        else:
            cache = _COMPILED.setdefault(self, {})
            own, own_fn = self._postprocess, self.__dict__.get("predict_function")
            object.__setattr__(self, "_postprocess", settings)
            self.predict_function = cache.get(settings)
            try:
                out = self.predict_on_batch(x)
                cache[settings] = self.predict_function
            finally:
                object.__setattr__(self, "_postprocess", own)
                self.predict_function = own_fn
        return {k: np.asarray(v) for k, v in out.items()}

    # ----- images of any size (zoo.detection.detect)
    def prepare_images(self, images: Sequence[np.ndarray]) -> tuple[Any, dict[str, Any]]:
        """Images of any size -> (model inputs at ``image_size``, what ``finish_detections`` needs).

        Default: each image stretched (bilinear) to ``image_size``. The FPN detectors override it
        with torchvision's keep-aspect resize and padding.
        """
        from zoo.detection.postprocess import resize_images

        batch, sizes = resize_images(list(images), self.image_size)
        return batch, {"sizes": sizes}

    def finish_detections(self, detections: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, Any]:
        """Detections in the model input's pixels -> each original image's pixels (``prepare_images``'s meta)."""
        from zoo.detection.postprocess import rescale_detections

        return {**detections, **rescale_detections(detections, self.image_size, meta["sizes"])}


def caffe_normalization(image: Any, name: str = "image_normalization") -> Any:
    """Subtracts the ImageNet mean (RGB order) of keras.applications' "caffe" mode inside a model.

    Example:
        >>> x = caffe_normalization(keras.Input((300, 300, 3)))
    """
    return keras.layers.Normalization(mean=list(VGG_MEAN_RGB), variance=[1.0, 1.0, 1.0], name=name)(image)


def flip_input_channels(layer: keras.layers.Layer) -> None:
    """Reverses a first convolution's input channels: BGR-trained ImageNet weights -> RGB input.

    Example:
        >>> flip_input_channels(model.get_layer("block1_conv1"))
    """
    kernel, *rest = layer.get_weights()
    layer.set_weights([kernel[:, :, ::-1, :], *rest])


def check_kwargs(cls: type, kwargs: Mapping[str, Any], builder: str) -> None:
    """Raises a ``TypeError`` naming the accepted arguments when ``kwargs`` has one that ``cls`` lacks.

    A builder's ``**kwargs`` go to the model class (and its bases up to ``Detector``); this keeps
    ``zoo.get``'s error for a misspelt argument.

    Example:
        >>> check_kwargs(SSD, {"widht": 0.5}, "ssd_vgg16")
        Traceback (most recent call last):
        TypeError: zoo.get('ssd_vgg16') got unknown keyword argument(s): widht. Accepted: ...
    """
    import inspect

    accepted: list[str] = []
    for klass in cls.__mro__:
        if klass is Detector:
            break
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            accepted += [
                p.name for p in params if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD
            ]
    accepted = [a for a in dict.fromkeys(accepted) if a != "self"] + ["name"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"zoo.get({builder!r}) got unknown keyword argument(s): {', '.join(unknown)}. "
            f"Accepted: num_classes, input_shape, weights, {', '.join(accepted)}."
        )
