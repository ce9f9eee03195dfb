"""Fast style transfer (Johnson, Alahi & Fei-Fei 2016): one feed-forward pass instead of an optimisation.

The image transformation network: a 9x9 convolution, two stride-2 3x3 down-sampling convolutions,
residual blocks, two stride-2 transposed convolutions up, a 9x9 convolution to RGB; instance
normalisation (:class:`zoo.layers.InstanceNormalization`) and ReLU after every convolution but the last,
whose scaled tanh gives RGB in [0, 255]. It is trained for one style on a folder of images with
the perceptual loss of a frozen VGG19 (:mod:`zoo.generative.style`): feature reconstruction at
``block2_conv2`` (Johnson's relu2_2), Gram matrices at ``block1_conv2``, ``block2_conv2``,
``block3_conv4``, ``block4_conv4`` (the VGG19 counterparts of his VGG16 relu1_2 ... relu4_3),
each normalised by ``C H W``, and a total-variation term.

Training overrides only ``compute_loss`` (the transformation net is the model; VGG is a frozen
attribute), so Keras' own ``train_step`` runs it on TensorFlow and JAX. Export to LiteRT
(float16 or dynamic-range weights) converts a concrete function of the network at a fixed size.

Example:
    >>> net = zoo.get("fast_style_transfer")
    >>> report = train_fast_style("runs/style", "photos/", "starry.jpg", epochs=2)
    >>> export_litert(net, "style_fp16.tflite", size=256, quantization="float16")
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.generative.style import check_image, features, gram_matrix, vgg19_features
from zoo.layers.instance_norm import InstanceNormalization
from zoo.registry import register
from zoo.utils.io import atomic_path, atomic_write_bytes, atomic_write_json

CONTENT_LAYER = "block2_conv2"
STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv4", "block4_conv4")
QUANTIZATIONS = ("float16", "dynamic")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def _conv(x: Any, filters: int, kernel: int, stride: int, name: str, relu: bool = True) -> Any:
    x = keras.layers.Conv2D(filters, kernel, stride, padding="same", name=f"{name}_conv")(x)
    x = InstanceNormalization(name=f"{name}_in")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


@register(
    "fast_style_transfer",
    task="generation",
    paper="Johnson, Alahi & Fei-Fei 2016, Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
    input_shape=(256, 256, 3),
)
def fast_style_transfer(
    input_shape: Sequence[int | None] = (None, None, 3),
    filters: int = 32,
    num_residual: int = 5,
    name: str = "fast_style_transfer",
) -> keras.Model:
    """The image transformation network: RGB [0, 255] -> stylised RGB [0, 255], same size (a multiple of 4).

    Johnson et al.'s sizes with ``filters=32``: 32-64-128 channels, 5 residual blocks of 128.

    Example:
        >>> fast_style_transfer(filters=8, num_residual=1)(np.zeros((1, 64, 64, 3))).shape
        (1, 64, 64, 3)
    """
    inputs = keras.Input(tuple(input_shape), name="rgb")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inputs)
    x = _conv(x, filters, 9, 1, "down1")
    x = _conv(x, filters * 2, 3, 2, "down2")
    x = _conv(x, filters * 4, 3, 2, "down3")
    for i in range(1, num_residual + 1):
        h = _conv(x, filters * 4, 3, 1, f"res{i}a")
        h = _conv(h, filters * 4, 3, 1, f"res{i}b", relu=False)
        x = keras.layers.Add(name=f"res{i}_add")([x, h])
    for i, width in enumerate((filters * 2, filters), start=1):
        x = keras.layers.Conv2DTranspose(width, 3, 2, padding="same", name=f"up{i}_conv")(x)
        x = InstanceNormalization(name=f"up{i}_in")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
    x = keras.layers.Conv2D(3, 9, padding="same", activation="tanh", name="out_conv")(x)
    outputs = keras.layers.Rescaling(127.5, offset=127.5, name="rgb_out")(x)
    return keras.Model(inputs, outputs, name=name)


def total_variation(x: Any) -> Any:
    """Mean absolute difference of neighbouring pixels (the smoothness term)."""
    dy = ops.abs(x[:, 1:, :, :] - x[:, :-1, :, :])
    dx = ops.abs(x[:, :, 1:, :] - x[:, :, :-1, :])
    return ops.mean(dy) + ops.mean(dx)


def _normalised_gram(f: Any) -> Any:
    shape = ops.shape(f)
    return gram_matrix(f) / ops.cast(shape[1] * shape[2] * shape[3], "float32")


class FastStyleTrainer(keras.Model):
    """Wraps the transformation net for ``fit``: ``compute_loss`` is the perceptual loss.

    Args:
        transform: the :func:`fast_style_transfer` network (trained in place).
        style: RGB style image ``[H, W, 3]`` in [0, 255].
        loss_net: frozen :func:`zoo.generative.style.vgg19_features` tapped at the layers used.
        content_weight, style_weight, tv_weight: the loss weights.

    Example:
        >>> trainer = FastStyleTrainer(net, style, vgg19_features("imagenet", (CONTENT_LAYER, *STYLE_LAYERS)))
        >>> trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
        >>> trainer.fit(content_images, epochs=2, batch_size=4)
    """

    def __init__(
        self,
        transform: keras.Model,
        style: np.ndarray,
        loss_net: keras.Model,
        content_weight: float = 1.0,
        style_weight: float = 10.0,
        tv_weight: float = 1e-2,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.transform, self.loss_net = transform, loss_net
        self.loss_net.trainable = False
        self.content_weight, self.style_weight, self.tv_weight = content_weight, style_weight, tv_weight
        style = check_image(style, "style")
        feats = features(loss_net, style[None])
        self.style_grams = {n: ops.convert_to_numpy(_normalised_gram(feats[n])) for n in STYLE_LAYERS}
        self.built = True  # both networks are built functional models

    def call(self, x: Any, training: bool = False) -> Any:
        return self.transform(x, training=training)

    def perceptual_terms(self, x: Any, y_pred: Any) -> dict[str, Any]:
        """``{"content", "style", "tv", "total"}`` of stylised ``y_pred`` for content images ``x``."""
        fx, fy = features(self.loss_net, x), features(self.loss_net, y_pred)
        content = ops.mean(ops.square(fy[CONTENT_LAYER] - ops.stop_gradient(fx[CONTENT_LAYER])))
        style = sum(
            ops.mean(ops.sum(ops.square(_normalised_gram(fy[n]) - self.style_grams[n]), axis=(1, 2)))
            for n in STYLE_LAYERS
        )
        tv = total_variation(y_pred)
        total = self.content_weight * content + self.style_weight * style + self.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.perceptual_terms(x, y_pred)["total"]


class PerceptualTerms(keras.callbacks.Callback):
    """Adds the loss terms of a fixed probe batch to each epoch's logs (``probe_content``, ``probe_style``,
    ``probe_tv``, ``probe_total``): the training loss averages changing batches; these are comparable."""

    def __init__(self, trainer: FastStyleTrainer, probe: np.ndarray):
        super().__init__()
        self.trainer, self.probe = trainer, np.asarray(probe, np.float32)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        terms = self.trainer.perceptual_terms(self.probe, self.trainer.transform(self.probe, training=False))
        if logs is not None:
            logs.update({f"probe_{k}": float(ops.convert_to_numpy(v)) for k, v in terms.items()})


def load_image_folder(folder: str | os.PathLike, size: int, limit: int | None = None) -> np.ndarray:
    """Images of ``folder`` centre-cropped to squares and resized: ``[N, size, size, 3]`` float32 in [0, 255].

    Raises:
        ValueError: the folder is missing or holds no images.
    """
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"image folder {str(folder)!r} does not exist or is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise ValueError(
            f"image folder {str(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}): fast style transfer "
            "trains on a folder of content photos; put some there"
        )
    out = []
    for p in files:
        with Image.open(p) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.size[0] - side) // 2, (im.size[1] - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
            out.append(np.asarray(im, dtype=np.float32))
    return np.stack(out)


def load_image(path: str | os.PathLike, max_side: int | None = None) -> np.ndarray:
    """An RGB image as float32 ``[H, W, 3]`` in [0, 255], shrunk so its longer side is at most ``max_side``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable image (:func:`zoo.utils.images.read_image`).
    """
    from zoo.utils.images import read_image

    rgb = read_image(path)
    h, w = rgb.shape[:2]
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        rgb = read_image(path, (max(1, round(h * scale)), max(1, round(w * scale))))
    return rgb.astype(np.float32)


def train_fast_style(
    workdir: str | os.PathLike,
    content_folder: str | os.PathLike,
    style_image: str | os.PathLike | np.ndarray,
    *,
    weights: Any = "imagenet",
    image_size: int = 256,
    epochs: int = 2,
    batch_size: int = 4,
    learning_rate: float = 1e-3,
    filters: int = 32,
    num_residual: int = 5,
    content_weight: float = 1.0,
    style_weight: float = 10.0,
    tv_weight: float = 1e-2,
    limit: int | None = None,
    seed: int = 0,
    verbose: int | str = "auto",
) -> tuple[keras.Model, dict[str, Any]]:
    """Trains a transformation net for one style (resumable); saves ``transform.weights.h5`` and ``transform.keras``.

    Returns:
        The trained network and the report (also ``workdir/report.json``); curves as
        ``curves.png`` and ``history.csv`` via :func:`zoo.training.fit_resumable`.

    Example:
        >>> net, report = train_fast_style("runs/style", "photos/", "style.jpg", epochs=2)
    """
    from zoo.training import fit_resumable

    workdir = Path(workdir)
    images = load_image_folder(content_folder, image_size, limit)
    style = load_image(style_image, max_side=512) if not isinstance(style_image, np.ndarray) else style_image
    keras.utils.set_random_seed(seed)
    net = fast_style_transfer(filters=filters, num_residual=num_residual)
    trainer = FastStyleTrainer(
        net,
        style,
        vgg19_features(weights, (CONTENT_LAYER, *STYLE_LAYERS)),
        content_weight,
        style_weight,
        tv_weight,
    )
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))
    start = time.perf_counter()
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed).batch(batch_size)
    history = fit_resumable(
        trainer,
        data,
        epochs=epochs,
        workdir=workdir,
        verbose=verbose,
        title="fast style transfer: perceptual loss",
        callbacks=[PerceptualTerms(trainer, images[:4])],
    )
    seconds = time.perf_counter() - start
    net.save_weights(workdir / "transform.weights.h5")
    with atomic_path(workdir / "transform.keras") as tmp:  # what `python -m zoo style --transform` loads
        net.save(tmp)
    report = {
        "images": len(images), "image_size": image_size, "epochs": epochs, "batch_size": batch_size,
        "filters": filters, "num_residual": num_residual, "weights": str(weights),
        "loss_weights": {"content": content_weight, "style": style_weight, "tv": tv_weight},
        "train_seconds_this_run": seconds, "params": int(net.count_params()), "history": history,
    }  # fmt: skip
    atomic_write_json(workdir / "report.json", report)
    return net, report


def export_litert(
    net: keras.Model, path: str | os.PathLike, *, size: int = 256, quantization: str = "float16"
) -> Path:
    """Converts the transformation net at ``size x size`` to a LiteRT flatbuffer (TensorFlow backend).

    ``quantization``: ``"float16"`` (float16 weights) or ``"dynamic"`` (int8 weights, float
    activations). A direct ``tf.lite.TFLiteConverter`` call on a concrete function; written atomically.

    Example:
        >>> export_litert(net, "style_fp16.tflite", size=256, quantization="float16")
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    if keras.backend.backend() != "tensorflow":
        raise ValueError("LiteRT export needs KERAS_BACKEND=tensorflow")
    if size % 4:
        raise ValueError(f"size must be a multiple of 4 (two stride-2 layers), got {size}")
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: net(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec((1, size, size, 3), tf.float32, name="rgb"))
    # freeze the weights into the graph (as zoo.export.litert does); left as variables, LiteRT reads garbage
    converter = tf.lite.TFLiteConverter.from_concrete_functions([convert_variables_to_constants_v2(concrete)])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return atomic_write_bytes(path, converter.convert())


def litert_stylize(path: str | os.PathLike, image: np.ndarray, repeats: int = 1) -> tuple[np.ndarray, float]:
    """Runs an exported net in the LiteRT interpreter: (stylised uint8 image, median seconds per run).

    ``image`` is RGB ``[size, size, 3]`` in [0, 255] at the exported size.

    Example:
        >>> out, seconds = litert_stylize("style_fp16.tflite", photo_256, repeats=10)
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    want = tuple(inp["shape"][1:3])
    if tuple(image.shape[:2]) != want:
        raise ValueError(f"the model was exported for {want[0]}x{want[1]} images, got {image.shape[:2]}")
    times = []
    for _ in range(max(1, repeats)):
        interpreter.set_tensor(inp["index"], np.asarray(image, np.float32)[None])
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    result = interpreter.get_tensor(out["index"])[0]
    return np.clip(result, 0, 255).round().astype(np.uint8), float(np.median(times))
