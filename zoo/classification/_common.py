"""What every classifier builder shares: per-name settings and the keras.applications arguments.

timm's shape: each family keeps one :class:`ClassifierCfg` per public name (``default_cfgs``:
paper, input size, preprocessing, weight sets and reference numbers) and one private creator
``_create_<family>(variant, **kwargs)``; the public builders are three lines registered with
:func:`register_classifier`, which takes the registry metadata from the settings entry and
gives the builder the creator's signature (so ``zoo.get`` checks keyword arguments).

:func:`start` resolves the keras.applications arguments (``include_top, weights, input_tensor,
input_shape, pooling, classes / num_classes, classifier_activation``) once for every family;
:meth:`ClassifierArgs.tail` adds the classifier or the pooling; :meth:`ClassifierArgs.finish`
makes the model and loads its weights (keras.applications files, a weight file, or torchvision
checkpoints through the family's mapping).
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras

from zoo import weights_torch
from zoo.registry import register, resolve_num_classes
from zoo.weights import IMAGENET, WeightFile, load_weights


@dataclass(frozen=True)
class ClassifierCfg:
    """Settings of one public classifier name (timm's ``default_cfgs`` entry).

    Attributes:
        paper: short citation.
        references: published numbers with their source (``num_params``, ``imagenet_top1`` ...).
        input_size: the default (square) input size.
        min_size: the smallest input the architecture takes.
        preprocess: :mod:`zoo.preprocessing` mode of the default weights.
        imagenet: keras.applications' weight files (with top, without top), if any.
        torchvision: torchvision's model name whose published weight sets this name loads.
        fixed_top_size: the top flattens a fixed-size map (only ``input_size`` takes the top's weights).
    """

    paper: str
    references: dict[str, Any] = field(default_factory=dict)
    input_size: int = 224
    min_size: int = 32
    preprocess: str = "torch"
    imagenet: tuple[WeightFile, WeightFile] | None = None
    torchvision: str | None = None
    fixed_top_size: bool = False

    @property
    def torchvision_sets(self) -> dict[str, weights_torch.TorchvisionWeights]:
        return weights_torch.weight_sets(self.torchvision) if self.torchvision else {}

    @property
    def weight_names(self) -> tuple[str, ...]:
        """Named weight sets ``weights=`` accepts besides None and a path."""
        names = ("imagenet",) if self.imagenet else ()
        if self.torchvision_sets:
            names += ("torchvision", *self.torchvision_sets)
        return names


_ENUM_NAME = re.compile(r"[A-Z][A-Z0-9_]*")  # torchvision weight-set names: IMAGENET1K_V1, COCO_V1
_KA = "https://storage.googleapis.com/tensorflow/keras-applications/"


def keras_applications_files(
    arch: str, top_hash: str, notop_hash: str, folder: str | None = None
) -> tuple[WeightFile, WeightFile]:
    """keras.applications' ImageNet files of ``arch`` (with top, without top) with their md5."""
    folder = folder or arch
    return tuple(
        WeightFile(f"{arch}_weights_tf_dim_ordering_tf_kernels{s}.h5", f"{_KA}{folder}/{arch}_weights_tf_dim_ordering_tf_kernels{s}.h5", h)
        for s, h in (("", top_hash), ("_notop", notop_hash))
    )  # type: ignore[return-value]  # fmt: skip


def is_torchvision(weights: Any) -> bool:
    """Whether ``weights`` asks for torchvision's tensors: a torchvision set name or a ``.pth`` path."""
    if weights_torch.is_torch_file(weights):
        return True
    return isinstance(weights, str) and (
        weights == "torchvision" or _ENUM_NAME.fullmatch(weights) is not None
    )


@dataclass
class ClassifierArgs:
    """The resolved keras.applications arguments of one build (see :func:`start`)."""

    name: str
    cfg: ClassifierCfg
    include_top: bool
    weights: Any
    pooling: str | None
    classes: int
    classifier_activation: str | None
    x: Any = None
    inputs: Any = None

    @property
    def torchvision(self) -> bool:
        """Whether torchvision tensors are loaded (a set name or a ``.pth`` file)."""
        return is_torchvision(self.weights)

    def tail(self, x: Any, top: Callable[[Any], Any]) -> Any:
        """``top(x)`` with ``include_top``, else the ``pooling`` choice."""
        return top(x) if self.include_top else pool(x, self.pooling)

    def predictions(self, x: Any) -> Any:
        """The final classifier ``predictions`` (``classes`` units, ``classifier_activation``)."""
        return keras.layers.Dense(self.classes, activation=self.classifier_activation, name="predictions")(x)

    def finish(
        self,
        outputs: Any,
        mapping: Callable[[], weights_torch.TorchMapping] | None = None,
        *,
        load: bool = True,
    ) -> keras.Model:
        """Makes the functional model and applies ``weights`` (``load=False`` leaves it random)."""
        model = keras.Model(self.inputs, outputs, name=self.name)
        if not load or self.weights is None:
            return model
        if self.torchvision:
            if mapping is None:
                raise weights_torch.TorchWeightsError(f"{self.name}: no torchvision mapping for this layout")
            return weights_torch.load_torch_weights(
                model,
                self.weights,
                mapping(),
                torchvision_model=self.cfg.torchvision,
                include_top=self.include_top,
            )
        arch = self.name if self.cfg.imagenet else None
        return load_weights(model, self.weights, arch=arch, include_top=self.include_top)


def _check_weights(name: str, cfg: ClassifierCfg, weights: Any, include_top: bool, n: int) -> None:
    if weights is None or weights_torch.is_torch_file(weights):
        return
    if isinstance(weights, str) and weights == "imagenet":
        if cfg.imagenet is None:
            hint = " (torchvision's are: weights='torchvision')" if cfg.torchvision_sets else ""
            raise ValueError(
                "This model has no official ImageNet weights; use weights=None or a file path." + hint
            )
        if include_top and n != 1000:
            raise ValueError(
                f"weights='imagenet' with include_top=True needs classes=1000, got {n}. "
                "Use include_top=False and add your own head (see zoo.transfer)."
            )
        return
    if isinstance(weights, str) and is_torchvision(weights):
        sets = cfg.torchvision_sets
        if not sets:
            raise ValueError(f"{name}: torchvision publishes no weights for this model; use weights=None")
        chosen = weights_torch.torchvision_weights(cfg.torchvision, weights)
        expected = chosen.num_classes
        if include_top and n != expected:
            raise ValueError(
                f"{name}: weights={weights!r} with include_top=True needs classes={expected}, got {n}. "
                "Use include_top=False and add your own head (see zoo.transfer)."
            )
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be None, 'imagenet', 'torchvision' or a file path, got {weights!r}")


def start(
    name: str,
    cfg: ClassifierCfg,
    *,
    include_top: bool = True,
    weights: Any = None,
    input_tensor: Any = None,
    input_shape: tuple[int, ...] | None = None,
    pooling: str | None = None,
    classes: int | None = None,
    num_classes: int | None = None,
    classifier_activation: str | None = "softmax",
    fixed_top_size: bool | None = None,
) -> ClassifierArgs:
    """Resolves the keras.applications arguments and builds the image input.

    ``classes`` and ``num_classes`` are aliases; weight sets are checked against the classes
    (ImageNet tops need 1000). ``fixed_top_size`` overrides the settings' value (VGG with
    adaptive pooling takes any size).
    """
    n = resolve_num_classes(num_classes, classes, default=1000)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"classes must be a positive integer, got {n!r}")
    _check_weights(name, cfg, weights, include_top, n)
    check_pooling(pooling)  # before the body is built (Inception-ResNet-v2: 15 s to the error)
    fixed = cfg.fixed_top_size if fixed_top_size is None else fixed_top_size
    x, inputs = image_input(
        input_shape,
        input_tensor,
        default_size=cfg.input_size,
        min_size=cfg.min_size,
        include_top=include_top,
        weights=weights,
        model_name=name,
        fixed_top_size=fixed,
    )
    return ClassifierArgs(name, cfg, include_top, weights, pooling, n, classifier_activation, x, inputs)


def _public_signature(creator: Callable[..., Any]) -> inspect.Signature:
    """keras.applications' arguments (from :func:`start`), then the family's own options."""
    common = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in list(inspect.signature(start).parameters.values())[2:]
        if p.name != "fixed_top_size"
    ]
    own = [
        p
        for p in list(inspect.signature(creator).parameters.values())[1:]
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    return inspect.Signature(common + own, return_annotation=keras.Model)


def register_classifier(
    name: str, cfgs: dict[str, ClassifierCfg], creator: Callable[..., Any]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers a public builder ``fn(**kwargs)`` under ``name`` with ``cfgs[name]``'s metadata.

    The builder gets the public signature (keras.applications' arguments + the creator's
    options), and keras.applications' files join :data:`zoo.weights.IMAGENET`.

    Example:
        >>> @register_classifier("resnet18", default_cfgs, _create_resnet)
        ... def resnet18(**kwargs: Any) -> keras.Model:
        ...     return _create_resnet("resnet18", **kwargs)
    """
    cfg = cfgs[name]
    if cfg.imagenet is not None:
        IMAGENET[name] = cfg.imagenet

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__signature__ = _public_signature(creator)  # type: ignore[attr-defined]
        return register(
            name,
            task="classification",
            paper=cfg.paper,
            input_shape=(cfg.input_size, cfg.input_size, 3),
            weights=cfg.weight_names,
            references={
                **cfg.references,
                **({"torchvision_model": cfg.torchvision} if cfg.torchvision else {}),
            },
            preprocess=cfg.preprocess,
        )(fn)

    return decorator


def image_input(
    input_shape: tuple[int | None, ...] | None,
    input_tensor: Any,
    *,
    default_size: int,
    min_size: int,
    include_top: bool,
    weights: Any,
    model_name: str,
    fixed_top_size: bool = False,
) -> tuple[Any, Any]:
    """Builds the image input. Returns ``(tensor to build on, model inputs)``.

    Args:
        input_shape: (H, W, C) or None. None gives (default_size, default_size, 3) with a
            top that needs a fixed size, else (None, None, 3).
        input_tensor: optional Keras tensor (or backend tensor) to build on.
        default_size: the paper's input size.
        min_size: the smallest H and W the architecture can take.
        include_top: whether the classifier is included.
        weights: the weights argument (ImageNet tops need the default size).
        model_name: for error messages.
        fixed_top_size: the top flattens a fixed-size map (VGG, AlexNet), so
            include_top=True with ImageNet weights needs exactly ``default_size``.
    """
    if input_shape is None and input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    if input_shape is None:
        input_shape = (default_size, default_size, 3) if (include_top or fixed_top_size) else (None, None, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{model_name}: input_shape must be (height, width, channels), got {input_shape}")
    h, w, c = input_shape
    named = (
        weights is not None
        and isinstance(weights, str)
        and (weights == "imagenet" or is_torchvision(weights))
    )
    if c not in (None, 1, 3, 4) or (named and c != 3):
        raise ValueError(
            f"{model_name}: input must have 3 channels (1 or 4 without ImageNet weights), got {c}"
        )
    for size in (h, w):
        if size is not None and size < min_size:
            raise ValueError(
                f"{model_name}: input size {h}x{w} is too small; this architecture needs at least "
                f"{min_size}x{min_size} (default {default_size}x{default_size})."
            )
    if include_top and named and fixed_top_size and (h, w) != (default_size, default_size):
        raise ValueError(
            f"{model_name}: ImageNet weights with include_top=True need input_shape=({default_size}, "
            f"{default_size}, 3), got {input_shape}. Use include_top=False for other sizes."
        )
    if input_tensor is None:
        img = keras.Input(shape=input_shape, name="image")
        return img, img
    if not keras.backend.is_keras_tensor(input_tensor):
        img = keras.Input(tensor=input_tensor, shape=input_shape, name="image")
        return img, img
    return input_tensor, keras.utils.get_source_inputs(input_tensor)


def check_pooling(pooling: Any) -> None:
    """Raises the error :func:`pool` gives, without building anything."""
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")


def pool(x: Any, pooling: str | None) -> Any:
    """Global pooling for ``include_top=False``: None (4-D features), ``"avg"`` or ``"max"``."""
    check_pooling(pooling)
    if pooling is None:
        return x
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)


# The ImageNet-normalised -> [-1, 1] input conversion torchvision applies when GoogLeNet /
# Inception v3 run with their published weights (``transform_input=True``): channel c becomes
# x * std_c / 0.5 + (mean_c - 0.5) / 0.5.
_TV_MEAN = (0.485, 0.456, 0.406)
_TV_STD = (0.229, 0.224, 0.225)
TRANSFORM_INPUT_SCALE = tuple(s / 0.5 for s in _TV_STD)
TRANSFORM_INPUT_OFFSET = tuple((m - 0.5) / 0.5 for m in _TV_MEAN)


def transform_input(x: Any) -> Any:
    """torchvision's ``transform_input`` (GoogLeNet, Inception v3) as a fixed per-channel affine layer."""
    return keras.layers.Rescaling(
        list(TRANSFORM_INPUT_SCALE), offset=list(TRANSFORM_INPUT_OFFSET), name="transform_input"
    )(x)
