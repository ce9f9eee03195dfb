"""torchvision checkpoints for zoo models: finding, reading and mapping ``.pth`` state dicts.

The published weight sets (file names with their hash prefix, URLs, ImageNet / COCO metrics and
the transforms each expects) are data, ``zoo/data/torchvision_weights.json``, copied from
torchvision's weight enums (``torchvision.models.ResNet18_Weights`` ...); the zoo never imports
torchvision. Reading a ``.pth`` file needs ``torch`` only (``pip install -e ".[torch]"``).

Where checkpoints come from (as ``torch.hub.load_state_dict_from_url``): the torch hub cache
``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``) under the
published file name; if absent, the file is downloaded from the published URL into that cache,
checking the SHA-256 prefix in its name, and written atomically. ``weights="file.pth"`` takes a
file directly.

How tensors reach Keras layers: a :class:`TorchMapping` is a table of :class:`Rule` rows
(torch module prefix -> zoo layer name, kind). The kind names the transform, in ``KINDS``:

- ``conv``: ``weight`` OIHW -> HWIO kernel, ``bias``;
- ``dense``: ``weight`` transposed, ``bias``;
- ``dense_nchw``: the first Linear after a flatten: its input columns are reordered from the
  NCHW flatten (C, H, W) to the NHWC one (H, W, C) of the map ``Rule.source`` names;
- ``bn``: BatchNorm's four tensors ``weight``/``bias``/``running_mean``/``running_var``
  (``num_batches_tracked`` is ignored);
- ``vector``: a per-channel scale; the rule names the tensor itself (SSD's ``backbone.scale_weight``).

Every tensor of the checkpoint must land in exactly one weight of the model and every weight of
the model must be filled: a missing, extra or wrongly shaped tensor raises
:class:`TorchWeightsError` naming it (and the zoo layer), never a partial load.

Example:
    >>> from zoo import weights_torch as wt
    >>> w = wt.torchvision_weights("resnet18", "torchvision")       # the DEFAULT set
    >>> path = wt.checkpoint_path(w)                                  # cache, else download
    >>> state = wt.read_state_dict(path)                              # name -> numpy array
    >>> wt.load_state_dict(model, state, mapping, source=str(path))
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from zoo.weights import WeightsError

TORCH_EXTRA = 'pip install -e ".[torch]"  (or: pip install "zoo[torch]")'
TORCH_SUFFIXES = (".pth", ".pt")
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's HASH_REGEX: name-<sha256 prefix>.pth


class TorchNotInstalledError(ImportError):
    """Reading a ``.pth`` checkpoint needs torch, which is an optional extra of the zoo."""


class TorchWeightsError(WeightsError):
    """A torch checkpoint is missing, unreadable, or does not fit the model (names the tensors)."""


def require_torch() -> Any:
    """Imports and returns ``torch``, or raises :class:`TorchNotInstalledError` naming the extra.

    Only torch is imported (never torchvision): importing torchvision after TensorFlow crashes
    some installations, and the zoo needs nothing from it at run time.
    """
    try:
        import torch
    except ImportError as exc:
        raise TorchNotInstalledError(
            f"Reading torchvision checkpoints (.pth) needs PyTorch, which is not installed: {TORCH_EXTRA}. "
            "Or convert once where torch is installed (`python -m zoo convert-weights NAME FILE.pth "
            "-o OUT.weights.h5`) and load the .weights.h5 file without torch."
        ) from exc
    return torch


# ---------------------------------------------------------------------------------------------
# The published weight sets (data)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TorchvisionWeights:
    """One torchvision weight set (an entry of a ``*_Weights`` enum), as data.

    Attributes:
        model: torchvision's model name (``resnet50``).
        name: the enum member (``IMAGENET1K_V2``).
        url: where torchvision publishes the file.
        num_params: torchvision's parameter count.
        metrics: published metrics, e.g. ``{"ImageNet-1K": {"acc@1": 80.858, "acc@5": 95.434}}``.
        transforms: the preprocessing the weights expect (resize_size, crop_size, mean, std,
            interpolation for classifiers).
        recipe: link to the training recipe.
        default: whether torchvision's ``DEFAULT`` points at this set.
    """

    model: str
    name: str
    url: str
    num_params: int
    metrics: dict[str, dict[str, float]]
    transforms: dict[str, Any]
    recipe: str = ""
    file_size_mb: float = 0.0
    gflops: float = 0.0
    default: bool = False

    @property
    def file_name(self) -> str:
        """The published file name, e.g. ``resnet18-f37072fd.pth``."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def num_classes(self) -> int:
        """Classes of the checkpoint's head: 91 for COCO detectors (background included), else 1000."""
        return 91 if any(k.startswith("COCO") for k in self.metrics) else 1000

    @property
    def hash_prefix(self) -> str | None:
        """The SHA-256 prefix in the file name (``f37072fd``), or None."""
        match = _HASH_IN_NAME.search(self.file_name)
        return match.group(1) if match else None

    def describe(self) -> dict[str, Any]:
        """A plain dict for ``zoo.info``."""
        return {
            "name": self.name,
            "default": self.default,
            "file": self.file_name,
            "url": self.url,
            "num_params": self.num_params,
            "metrics": self.metrics,
            "transforms": self.transforms,
            "recipe": self.recipe,
        }


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    text = resources.files("zoo.data").joinpath("torchvision_weights.json").read_text()
    return json.loads(text)


def weight_sets(model: str) -> dict[str, TorchvisionWeights]:
    """All published weight sets of torchvision model ``model``, by enum name (empty if none).

    Example:
        >>> sorted(weight_sets("resnet50"))
        ['IMAGENET1K_V1', 'IMAGENET1K_V2']
    """
    entry = _table().get(model)
    if entry is None:
        return {}
    return {
        name: TorchvisionWeights(model=model, name=name, default=name == entry["default"], **meta)
        for name, meta in entry["weights"].items()
    }


def torchvision_weights(model: str, weights: str, name: str | None = None) -> TorchvisionWeights:
    """Resolves ``weights`` ("torchvision" = torchvision's DEFAULT, or an enum name) for ``model``.

    ``name`` is the zoo name the user typed (e.g. ``ssd_vgg16`` for torchvision's ``ssd300_vgg16``):
    errors name it first, so the message speaks of the model that was asked for.

    Raises:
        TorchWeightsError: ``model`` has no such weight set (the message lists those it has).

    Example:
        >>> torchvision_weights("resnet50", "torchvision").name
        'IMAGENET1K_V2'
    """
    sets = weight_sets(model)
    asked = repr(name) if name and name != model else repr(model)
    if name and name != model:
        asked += f" (torchvision's {model})"
    if not sets:
        raise TorchWeightsError(f"torchvision publishes no weights for {asked}")
    if weights == "torchvision":
        return next(w for w in sets.values() if w.default)
    if weights not in sets:
        raise TorchWeightsError(
            f"{asked} has no torchvision weight set {weights!r}; choose from 'torchvision' "
            f"(= {next(w.name for w in sets.values() if w.default)}), {', '.join(map(repr, sets))}"
        )
    return sets[weights]


def is_torch_file(weights: Any) -> bool:
    """Whether ``weights`` is a path to a torch checkpoint (``.pth`` / ``.pt``)."""
    return isinstance(weights, (str, os.PathLike)) and str(weights).lower().endswith(TORCH_SUFFIXES)


# ---------------------------------------------------------------------------------------------
# Finding the file: the torch hub cache, else a download
# ---------------------------------------------------------------------------------------------


def torch_home() -> Path:
    """torch's cache root, read at call time: ``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``,
    else ``~/.cache/torch`` (as ``torch.hub.get_dir`` computes it, without importing torch)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "torch"


def checkpoint_dir() -> Path:
    """Where torchvision keeps downloaded checkpoints: ``torch_home() / "hub" / "checkpoints"``."""
    return torch_home() / "hub" / "checkpoints"


def _download(url: str, dest: Path, hash_prefix: str | None, progress: bool) -> None:
    """Downloads ``url`` to ``dest`` atomically (a temporary file, renamed once complete and checked)."""
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    sha = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    sha.update(chunk)
                    bar.update(len(chunk))
        digest = sha.hexdigest()
        if hash_prefix and not digest.startswith(hash_prefix):
            raise TorchWeightsError(
                f"Downloaded {url} but its SHA-256 {digest[:16]}... does not start with {hash_prefix!r} "
                "(the prefix in the published file name); the download is corrupt, try again."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def checkpoint_path(weights: TorchvisionWeights, *, download: bool = True, progress: bool = True) -> Path:
    """The local file of a published weight set: the torch hub cache, else downloaded into it.

    As ``torch.hub.load_state_dict_from_url``: a file already in the cache under the published
    name is used as it is; a download is checked against the hash prefix in the name.

    Raises:
        TorchWeightsError: not cached and the download failed (offline); the message says where
            to put the file.
    """
    path = checkpoint_dir() / weights.file_name
    if path.is_file():
        return path
    if not download:
        raise TorchWeightsError(f"{weights.file_name} is not in the torch hub cache {path.parent}")
    try:
        _download(weights.url, path, weights.hash_prefix, progress)
    except TorchWeightsError:
        raise
    except Exception as exc:  # network errors come in many types
        raise TorchWeightsError(
            f"Could not download torchvision weights {weights.model} {weights.name} from {weights.url}: "
            f"{exc}. Offline? Copy {weights.file_name} into {path.parent} (or set TORCH_HOME) and try again."
        ) from exc
    return path


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a torch checkpoint into ``{tensor name: float32 numpy array}`` (CPU, weights only).

    Accepts a plain state dict or one wrapped as ``{"state_dict": ...}`` / ``{"model": ...}``.

    Raises:
        TorchNotInstalledError: torch is missing (names the extra to install).
        TorchWeightsError: the file is missing, unreadable or holds no tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise TorchWeightsError(f"Checkpoint not found: {path}")
    torch = require_torch()
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TorchWeightsError(
            f"Cannot read checkpoint {path} (truncated or not a torch file?): {exc}. Delete it and retry."
        ) from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise TorchWeightsError(f"Checkpoint {path} holds no state dict (got {type(obj).__name__})")
    out = {}
    for name, tensor in obj.items():
        if hasattr(tensor, "detach"):
            out[name] = tensor.detach().cpu().numpy()
    return out


# ---------------------------------------------------------------------------------------------
# The mapping engine: torch tensor names -> zoo layer weights (a table, checked completely)
# ---------------------------------------------------------------------------------------------


def _conv(w: np.ndarray, **_: Any) -> np.ndarray:
    return np.transpose(w, (2, 3, 1, 0))  # OIHW -> HWIO


def _linear(w: np.ndarray, **_: Any) -> np.ndarray:
    return np.transpose(w)


def _linear_nchw(w: np.ndarray, *, source_shape: tuple[int, int, int], **_: Any) -> np.ndarray:
    """Reorders a Linear's input columns from the NCHW flatten to the NHWC one, then transposes."""
    h, wd, c = source_shape
    if w.shape[1] != h * wd * c:
        return np.transpose(w)  # the shape check reports the mismatch
    return np.transpose(w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1))


def _same(w: np.ndarray, **_: Any) -> np.ndarray:
    return w


# kind -> [(torch tensor suffix, Keras variable name, transform)]
KINDS: dict[str, list[tuple[str, str, Callable[..., np.ndarray]]]] = {
    "conv": [("weight", "kernel", _conv), ("bias", "bias", _same)],
    "dense": [("weight", "kernel", _linear), ("bias", "bias", _same)],
    "dense_nchw": [("weight", "kernel", _linear_nchw), ("bias", "bias", _same)],
    "bn": [
        ("weight", "gamma", _same),
        ("bias", "beta", _same),
        ("running_mean", "moving_mean", _same),
        ("running_var", "moving_variance", _same),
    ],
    "vector": [("", "gamma", _same)],  # the rule names the tensor itself (SSD's backbone.scale_weight)
}
IGNORED_SUFFIXES = ("num_batches_tracked",)


@dataclass(frozen=True)
class Rule:
    """One row of a mapping: the torch module ``torch`` fills zoo layer ``layer`` by ``kind``.

    Attributes:
        torch: torch module prefix (``layer1.0.conv1``); its tensors are ``<prefix>.<suffix>``.
        layer: zoo (Keras) layer name (``conv2_block1_1_conv``).
        kind: a key of ``KINDS``.
        source: for ``dense_nchw``, the zoo layer whose 4-D output is flattened before ``layer``.
        top: part of the classifier (skipped with ``include_top=False``).
    """

    torch: str
    layer: str
    kind: str
    source: str | None = None
    top: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Rule kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "dense_nchw" and not self.source:
            raise ValueError(f"Rule {self.torch!r}: kind 'dense_nchw' needs source=<flattened layer>")


@dataclass(frozen=True)
class TorchMapping:
    """A model's whole mapping: rules plus the checkpoint tensors deliberately left out.

    Attributes:
        rules: the rows, one per torch module with weights.
        ignore: regular expressions of tensor names that are not used (e.g. ``^aux1\\.`` when the
            model is built without auxiliary heads); anything else left over is an error.
        layout: a short description of the architecture the mapping expects, for error messages.
    """

    rules: tuple[Rule, ...]
    ignore: tuple[str, ...] = ()
    layout: str = ""


def rules(rows: Iterable[tuple[Any, ...]], *, top: bool = False) -> list[Rule]:
    """Rows ``(torch, layer, kind[, source])`` as :class:`Rule` objects (the table form).

    Example:
        >>> rules([("features.0", "block1_conv1", "conv"), ("classifier.6", "predictions", "dense")])
    """
    out = []
    for row in rows:
        torch_name, layer, kind, *rest = row
        out.append(Rule(torch_name, layer, kind, source=rest[0] if rest else None, top=top))
    return out


def _layer_vars(layer: Any) -> dict[str, Any]:
    return {v.name.rsplit("/", 1)[-1]: v for v in layer.weights}


def _sublayers(layer: Any) -> list[Any]:
    """A model's layers, or the layers a composite layer tracks (e.g. the RPN head's convolutions)."""
    if hasattr(layer, "layers"):
        return list(layer.layers)
    return list(getattr(layer, "_layers", []) or [])


def _weighted_layers(model: Any) -> dict[str, Any]:
    """Every layer with its own weights, nested models and composite layers flattened (by name)."""
    out: dict[str, Any] = {}
    for layer in _sublayers(model):
        if _sublayers(layer):
            out.update(_weighted_layers(layer))
        elif layer.weights:
            out[layer.name] = layer
    return out


def _find_layer(model: Any, name: str) -> Any:
    """The layer called ``name`` anywhere in ``model`` (nested models included)."""
    for layer in _sublayers(model):
        if layer.name == name:
            return layer
        found = _find_layer(layer, name) if _sublayers(layer) else None
        if found is not None:
            return found
    return None


def _short(names: list[str], n: int = 8) -> str:
    head = ", ".join(names[:n])
    return head + (f" ... ({len(names)} in all)" if len(names) > n else "")


def convert_state_dict(
    model: Any,
    state_dict: dict[str, np.ndarray],
    mapping: TorchMapping,
    *,
    include_top: bool = True,
    source: str = "checkpoint",
) -> dict[str, dict[str, np.ndarray]]:
    """Maps ``state_dict`` onto ``model``: ``{layer name: {variable name: array}}``, fully checked.

    Args:
        model: the built zoo model.
        state_dict: torch tensor name -> numpy array (see :func:`read_state_dict`).
        mapping: the model's :class:`TorchMapping`.
        include_top: False skips the rules marked ``top`` (and their tensors).
        source: the checkpoint's name for error messages.

    Raises:
        TorchWeightsError: listing every missing tensor (expected by the mapping), extra tensor
            (in the checkpoint, mapped nowhere), wrongly shaped tensor (with both shapes) and
            zoo layer left unfilled.
    """
    layers = _weighted_layers(model)
    used: set[str] = set()
    missing: list[str] = []
    extra: list[str] = []
    shapes: list[str] = []
    unknown_layers: list[str] = []
    filled: set[str] = set()
    out: dict[str, dict[str, np.ndarray]] = {}
    ignore = [re.compile(p) for p in mapping.ignore]
    for rule in mapping.rules:
        names = [f"{rule.torch}.{suffix}" if suffix else rule.torch for suffix, _, _ in KINDS[rule.kind]]
        if rule.top and not include_top:
            used.update(names)
            continue
        layer = layers.get(rule.layer)
        if layer is None:
            unknown_layers.append(rule.layer)
            used.update(names)
            continue
        variables = _layer_vars(layer)
        extra_args: dict[str, Any] = {}
        if rule.source:
            extra_args["source_shape"] = tuple(_find_layer(model, rule.source).output.shape[1:])
        values: dict[str, np.ndarray] = {}
        for (_suffix, var_name, transform), tensor_name in zip(KINDS[rule.kind], names):
            present = tensor_name in state_dict
            if var_name not in variables:
                if present:
                    extra.append(f"{tensor_name} (zoo layer {rule.layer!r} has no {var_name})")
                    used.add(tensor_name)
                continue
            if not present:
                missing.append(f"{tensor_name} (for {rule.layer}.{var_name})")
                continue
            used.add(tensor_name)
            value = np.asarray(transform(np.asarray(state_dict[tensor_name]), **extra_args), dtype="float32")
            expected = tuple(variables[var_name].shape)
            if tuple(value.shape) != expected:
                shapes.append(
                    f"{tensor_name} {tuple(state_dict[tensor_name].shape)} -> {rule.layer}.{var_name} "
                    f"expects {expected} (after {rule.kind} transform: {tuple(value.shape)})"
                )
                continue
            values[var_name] = value
        filled.add(rule.layer)
        out[rule.layer] = values
    for name in state_dict:
        if name in used or name.rsplit(".", 1)[-1] in IGNORED_SUFFIXES or any(p.search(name) for p in ignore):
            continue
        extra.append(name)
    unfilled = [
        name for name in layers if name not in filled and not _skipped_top(name, mapping, include_top)
    ]
    problems = []
    if missing:
        problems.append(f"missing tensor(s): {_short(missing)}")
    if extra:
        problems.append(f"unexpected tensor(s): {_short(extra)}")
    if shapes:
        problems.append(f"wrongly shaped tensor(s): {_short(shapes, 4)}")
    if unknown_layers:
        problems.append(f"mapping names zoo layer(s) the model lacks: {_short(unknown_layers)}")
    if unfilled:
        problems.append(f"zoo layer(s) no tensor fills: {_short(unfilled)}")
    if problems:
        layout = f" (expected layout: {mapping.layout})" if mapping.layout else ""
        raise TorchWeightsError(
            f"{source} does not fit model {model.name!r}{layout}: "
            + "; ".join(problems)
            + ". Nothing was loaded."
        )
    return out


def _skipped_top(layer_name: str, mapping: TorchMapping, include_top: bool) -> bool:
    return not include_top and any(r.top and r.layer == layer_name for r in mapping.rules)


def load_state_dict(
    model: Any,
    state_dict: dict[str, np.ndarray],
    mapping: TorchMapping,
    *,
    include_top: bool = True,
    source: str = "checkpoint",
) -> Any:
    """Checks ``state_dict`` against ``mapping`` (:func:`convert_state_dict`), then assigns it.

    Returns:
        ``model``, its weights replaced. Nothing is assigned if any tensor does not fit.
    """
    converted = convert_state_dict(model, state_dict, mapping, include_top=include_top, source=source)
    layers = _weighted_layers(model)
    for layer_name, values in converted.items():
        variables = _layer_vars(layers[layer_name])
        for var_name, value in values.items():
            variables[var_name].assign(value)
    return model


def load_torch_weights(
    model: Any,
    weights: str | os.PathLike,
    mapping: TorchMapping,
    *,
    torchvision_model: str | None,
    include_top: bool = True,
) -> Any:
    """Applies a torch ``weights=`` argument: a torchvision weight-set name or a ``.pth`` path.

    Args:
        model: the built zoo model (in the layout ``mapping`` expects).
        weights: ``"torchvision"``, an enum name (``"IMAGENET1K_V1"``) or a checkpoint path.
        mapping: the model's mapping.
        torchvision_model: torchvision's name of the architecture (for the weight sets).
        include_top: whether the classifier tensors are loaded.
    """
    if is_torch_file(weights):
        path = Path(weights)
        weight_set = torchvision_weights(torchvision_model, "torchvision") if torchvision_model else None
    else:
        if torchvision_model is None:
            raise TorchWeightsError(f"Model {model.name!r} has no torchvision weight sets")
        weight_set = torchvision_weights(torchvision_model, str(weights))
        path = checkpoint_path(weight_set)
    state = read_state_dict(path)
    load_state_dict(model, state, mapping, include_top=include_top, source=f"Checkpoint {path}")
    if weight_set is not None:
        model.zoo_preprocess = preprocess_mode(weight_set)
    return model


def preprocess_mode(weights: TorchvisionWeights) -> str:
    """The ``zoo.preprocessing`` mode of a weight set's input: ``"torch"`` (x / 255 - ImageNet mean) /
    ImageNet std for the classifiers, ``"none"`` for detectors (they normalise 0-255 pixels inside).

    Export reads it (``model.zoo_preprocess``), so that a model loaded with torchvision weights is not
    exported with the preprocessing of the architecture's keras.applications weights (caffe for
    ResNet-50). The resize / crop sizes are not a mode: ``zoo.preprocess(name, weights=...)`` has them.
    """
    from zoo.preprocessing import TORCH_MEAN, TORCH_STD

    t = weights.transforms
    if "mean" not in t:
        return "none"
    if not (np.allclose(t["mean"], TORCH_MEAN) and np.allclose(t["std"], TORCH_STD)):
        raise TorchWeightsError(
            f"{weights.model} {weights.name}: mean {t['mean']} / std {t['std']} is no zoo preprocessing mode"
        )
    return "torch"


def randomize_torch_model(model: Any, seed: int = 0) -> Any:
    """Seeded random weights for a torch module, BatchNorm statistics and affine buffers included (for
    parity checks: every tensor matters, and activations stay of order one).

    Weights with more than one dimension get N(0, 2 / fan_in), vectors N(0, 0.1); running variances
    and FrozenBatchNorm scales U(0.5, 1.5), running means and shifts N(0, 0.1). Returns the model in
    ``eval()`` mode.
    """
    torch = require_torch()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _name, p in model.named_parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / p[0].numel()) ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith(("running_var", "weight")):  # FrozenBatchNorm2d keeps its scale as a buffer
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith(("running_mean", "bias")):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
    return model.eval()
