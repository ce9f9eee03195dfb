"""Neural style transfer by optimisation (Gatys, Ecker & Bethge 2016), as the course material writes it.

A VGG19 body without the top (``zoo.get("vgg19", include_top=False)``; ImageNet weights from
keras.applications' notop file in the Keras cache) gives the feature maps ``F^l`` (``N_l``
filters of ``M_l`` positions). With ``p`` the content image, ``a`` the style image, ``x`` the
image being optimised:

* content loss (conv4_2 = ``block4_conv2``): ``L_content = 1/2 sum_ij (F_ij - P_ij)^2``;
* Gram matrix ``G_ij^l = sum_k F_ik^l F_jk^l``; style loss per layer
  ``E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij^l - A_ij^l)^2``, and ``L_style = sum_l w_l E_l`` over
  conv1_1 ... conv5_1 (``block1_conv1`` ... ``block5_conv1``) with ``w_l = 0.2``;
* ``L_total = alpha L_content + beta L_style``; the larger ``alpha / beta``, the closer to the content.

The image is optimised with L-BFGS (scipy) or Adam (NumPy), its gradient from the backend
(TensorFlow or JAX). Images are RGB float in [0, 255], ``[H, W, 3]``.

Example:
    >>> result = stylize(content, style, weights="imagenet", iterations=100)
    >>> result.image.shape, result.history[-1]["total"]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

CONTENT_LAYER = "block4_conv2"
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
STYLE_WEIGHTS = (0.2, 0.2, 0.2, 0.2, 0.2)
# block5_conv1 comes after four 2x2 poolings: a side under 32 px leaves it at most 1x1 positions,
# too little for a Gram matrix to describe a texture (and under 16 px nothing at all).
MIN_SIDE = 32
OPTIMIZERS = ("lbfgs", "adam")


def vgg19_features(
    weights: Any = "imagenet",
    layers: Sequence[str] = (CONTENT_LAYER, *STYLE_LAYERS),
) -> keras.Model:
    """VGG19 without the top, tapped at ``layers``: caffe-preprocessed images -> {layer name: map}.

    ``weights="imagenet"`` loads keras.applications' notop file through the Keras cache
    (:func:`zoo.weights.imagenet_file`); None gives random weights (the offline tests). Feed it
    ``zoo.preprocessing.preprocess_input(rgb, "caffe")`` (:func:`features` does).

    Example:
        >>> net = vgg19_features(weights=None)
        >>> features(net, np.zeros((1, 64, 64, 3)))["block4_conv2"].shape
        (1, 8, 8, 512)
    """
    import zoo

    body = zoo.get("vgg19", include_top=False, weights=weights, input_shape=(None, None, 3))
    body.trainable = False
    return keras.Model(
        body.input, {n: body.get_layer(n).output for n in dict.fromkeys(layers)}, name="vgg19_taps"
    )


def features(net: keras.Model, rgb: Any) -> dict[str, Any]:
    """The tapped feature maps of RGB [0, 255] images ``[B, H, W, 3]`` (caffe preprocessing applied)."""
    from zoo.preprocessing import preprocess_input

    return net(preprocess_input(rgb, mode="caffe"), training=False)


def gram_matrix(f: Any) -> Any:
    """``G_ij = sum_k F_ik F_jk`` of feature maps ``[B, H, W, N]`` (``F`` is ``N x M``, ``M = H W``): ``[B, N, N]``."""
    b, n = ops.shape(f)[0], ops.shape(f)[-1]
    flat = ops.reshape(f, (b, -1, n))  # [B, M, N]
    return ops.einsum("bmi,bmj->bij", flat, flat)


def content_loss(f: Any, p: Any) -> Any:
    """``L_content = 1/2 sum_ij (F_ij - P_ij)^2`` (summed over the batch)."""
    return 0.5 * ops.sum(ops.square(f - p))


def style_layer_loss(f: Any, a_gram: Any) -> Any:
    """``E_l = 1 / (4 N_l^2 M_l^2) sum_ij (G_ij - A_ij)^2`` for feature maps ``f`` and the style's Gram ``A``."""
    n = ops.cast(ops.shape(f)[-1], "float32")
    m = ops.cast(ops.shape(f)[1] * ops.shape(f)[2], "float32")
    return ops.sum(ops.square(gram_matrix(f) - a_gram)) / (4.0 * n**2 * m**2)


def check_image(image: Any, what: str) -> np.ndarray:
    """An RGB ``[H, W, 3]`` float32 image in [0, 255], at least ``MIN_SIDE`` pixels a side, or a clear error."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"the {what} image must be RGB [height, width, 3], got shape {image.shape}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"the {what} image is {image.shape[0]}x{image.shape[1]} pixels, smaller than VGG19 can describe: "
            f"block5_conv1 sees it through four 2x2 poolings, so give at least {MIN_SIDE}x{MIN_SIDE} "
            "(resize it up, or pass a larger image)"
        )
    return image


@dataclass
class StyleLoss:
    """The loss of one content / style pair: targets ``P`` and ``A`` are computed once.

    Example:
        >>> loss = StyleLoss(vgg19_features(None), content, style, alpha=1.0, beta=1e3)
        >>> terms = loss.terms(content[None])   # {"content": ..., "style": ..., "total": ...}
    """

    net: keras.Model
    content: np.ndarray
    style: np.ndarray
    alpha: float = 1.0
    beta: float = 1e3
    content_layer: str = CONTENT_LAYER
    style_layers: Sequence[str] = STYLE_LAYERS
    style_weights: Sequence[float] = STYLE_WEIGHTS
    _targets: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if len(self.style_weights) != len(self.style_layers):
            raise ValueError(f"{len(self.style_layers)} style layers but {len(self.style_weights)} weights")
        self.content = check_image(self.content, "content")
        self.style = check_image(self.style, "style")
        p = features(self.net, self.content[None])
        a = features(self.net, self.style[None])
        self._targets = {"P": p[self.content_layer]}
        self._targets.update({f"A/{n}": gram_matrix(a[n]) for n in self.style_layers})

    def terms(self, x: Any) -> dict[str, Any]:
        """``{"content", "style", "total"}`` for images ``x`` ``[1, H, W, 3]`` of the content's size."""
        f = features(self.net, x)
        lc = content_loss(f[self.content_layer], self._targets["P"])
        ls = sum(
            w * style_layer_loss(f[n], self._targets[f"A/{n}"])
            for n, w in zip(self.style_layers, self.style_weights)
        )
        return {"content": lc, "style": ls, "total": self.alpha * lc + self.beta * ls}


def value_and_grad(fn: Callable[[Any], Any], x: np.ndarray) -> tuple[float, np.ndarray, dict[str, float]]:
    """``fn(x)["total"]`` and its gradient w.r.t. ``x`` (NumPy), on the TensorFlow or JAX backend.

    ``fn`` returns a dict of scalar tensors with a ``"total"`` entry; all are returned as floats.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xt = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = fn(xt)
        grad = tape.gradient(out["total"], xt)
    elif backend == "jax":
        import jax

        def total_and_terms(v: Any) -> tuple[Any, dict[str, Any]]:
            out = fn(v)
            return out["total"], out

        (_, out), grad = jax.value_and_grad(total_and_terms, has_aux=True)(x)
    else:
        raise NotImplementedError(f"style transfer supports the tensorflow and jax backends, not {backend}")
    terms = {k: float(ops.convert_to_numpy(v)) for k, v in out.items()}
    return terms["total"], np.asarray(ops.convert_to_numpy(grad), dtype=np.float64), terms


@dataclass
class StyleResult:
    """What :func:`stylize` returns: the image (uint8), the loss terms per step and the time taken."""

    image: np.ndarray
    history: list[dict[str, float]]
    seconds: float


def stylize(
    content: np.ndarray,
    style: np.ndarray,
    *,
    weights: Any = "imagenet",
    net: keras.Model | None = None,
    alpha: float = 1.0,
    beta: float = 1e3,
    iterations: int = 100,
    optimizer: str = "lbfgs",
    learning_rate: float = 5.0,
    init: str = "content",
    seed: int = 0,
    progress: bool = True,
) -> StyleResult:
    """Optimises an image so its conv4_2 features match ``content`` and its Gram matrices ``style``.

    Args:
        content, style: RGB images ``[H, W, 3]`` in [0, 255] (the style is used at its own size).
        weights: VGG19 weights (``"imagenet"``: the Keras cache; None: random, for tests).
        net: a ready :func:`vgg19_features` model (reuses one across calls).
        alpha, beta: content and style weights (``alpha / beta`` 1e-3 by default, as in the paper).
        iterations: L-BFGS iterations or Adam steps.
        optimizer: ``"lbfgs"`` (scipy ``fmin_l_bfgs_b``) or ``"adam"``.
        init: ``"content"`` (start from the content image) or ``"noise"`` (white noise, as Gatys).

    Example:
        >>> out = stylize(content, style, iterations=50)
        >>> PIL.Image.fromarray(out.image).save("out.png")
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    content = check_image(content, "content")
    loss = StyleLoss(net if net is not None else vgg19_features(weights), content, style, alpha, beta)
    rng = np.random.default_rng(seed)
    x0 = content.copy() if init == "content" else rng.uniform(0, 255, content.shape).astype(np.float32)
    shape = (1, *content.shape)
    history: list[dict[str, float]] = []
    bar = _bar(iterations, progress)
    start = time.perf_counter()

    def evaluate(flat: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad, terms = value_and_grad(loss.terms, flat.reshape(shape).astype(np.float32))
        history.append(terms)
        return total, grad.reshape(-1)

    if optimizer == "lbfgs":
        from scipy.optimize import fmin_l_bfgs_b

        x, _, _ = fmin_l_bfgs_b(
            evaluate, x0.reshape(-1).astype(np.float64), bounds=[(0.0, 255.0)] * x0.size,
            maxiter=iterations, maxfun=iterations * 2, callback=lambda _: bar.update(1),
        )  # fmt: skip
    else:
        x = x0.reshape(-1).astype(np.float64)
        m = np.zeros_like(x)
        v = np.zeros_like(x)
        for t in range(1, iterations + 1):
            _, g = evaluate(x)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            x = np.clip(x - learning_rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8), 0, 255)
            bar.update(1)
    bar.close()
    image = np.clip(np.asarray(x).reshape(content.shape), 0, 255).round().astype(np.uint8)
    return StyleResult(image, history, time.perf_counter() - start)


def _bar(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="style transfer", disable=not enabled, leave=False)


def save_side_by_side(
    content: np.ndarray, style: np.ndarray, result: np.ndarray, path: Any, title: str = ""
) -> Any:
    """A PNG of content | style | result (RGB arrays in [0, 255])."""
    from zoo.utils.plots import pyplot, save_figure

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2))
    for ax, img, name in zip(axes, (content, style, result), ("content", "style", "result")):
        ax.imshow(np.clip(np.asarray(img), 0, 255).astype(np.uint8))
        ax.set_title(name)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
