"""DCGAN (Radford, Metz & Chintala 2016) and a ``GAN`` model that trains it with ``fit``.

The paper's architecture guidelines: no pooling (strided convolutions in the discriminator,
fractionally-strided ones in the generator), BatchNorm in both (not on the generator's output
nor on the discriminator's input layer), no hidden fully connected layers, ReLU in the generator
with a tanh output, LeakyReLU(0.2) in the discriminator. Images are in [-1, 1].

The sizes are data: ``SIZES[image size] = (base size, up/down-sampling steps)``. With ``filters=64``
and 100-d noise at 64 px the two networks are the PyTorch DCGAN tutorial's (4x4 kernels, no
biases): 3,576,704 trainable generator parameters and 2,765,568 discriminator ones.

The game (course material): ``min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]``.
``GAN.train_step`` alternates ``d_steps`` discriminator updates on ``J_D = -E log D(x) -
E log(1 - D(G(z)))`` with ``g_steps`` generator updates on the non-saturating loss
``J_G = -E log D(G(z))`` (or the saturating ``E log(1 - D(G(z)))`` with
``generator_loss="minimax"``), on the TensorFlow and JAX backends.

Example:
    >>> import zoo
    >>> gen = zoo.get("dcgan_generator", image_size=32, channels=1)
    >>> gan = GAN(gen, zoo.get("dcgan_discriminator", image_size=32, channels=1))
    >>> gan.compile()
    >>> gan.fit(real_images_in_minus1_1, epochs=5, batch_size=64)
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from zoo.registry import register
from zoo.utils.io import atomic_write_json

PAPER = "Radford, Metz & Chintala 2016, Unsupervised Representation Learning with Deep Convolutional GANs"
# image size -> (size of the first / last feature map, number of stride-2 layers)
SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
GENERATOR_LOSSES = ("non_saturating", "minimax")
# PyTorch DCGAN tutorial (nz=100, ngf=ndf=64, nc=3, 64 px), trainable parameters
_TUTORIAL = "PyTorch DCGAN tutorial (nz=100, ngf=ndf=64, nc=3, 64 px; no biases)"


def _size(image_size: int) -> tuple[int, int]:
    if image_size not in SIZES:
        raise ValueError(f"image_size must be one of {sorted(SIZES)}, got {image_size}")
    return SIZES[image_size]


@register(
    "dcgan_generator",
    task="generation",
    paper=PAPER,
    input_shape=(100,),
    references={"num_params": 3_576_704, "num_params_source": _TUTORIAL},
)
def dcgan_generator(
    image_size: int = 64,
    channels: int = 3,
    latent_dim: int = 100,
    filters: int = 64,
    name: str = "generator",
) -> keras.Model:
    """The DCGAN generator: noise ``[B, latent_dim]`` -> images ``[B, S, S, channels]`` in [-1, 1].

    Projection to ``base x base x filters * 2**(steps-1)`` (a dense layer, the paper's "project
    and reshape"), then stride-2 4x4 transposed convolutions halving the width; BatchNorm + ReLU
    everywhere except the tanh output.

    Example:
        >>> dcgan_generator(image_size=28, channels=1, filters=32)(keras.random.normal((2, 100))).shape
        (2, 28, 28, 1)
    """
    base, steps = _size(image_size)
    z = keras.Input((latent_dim,), name="noise")
    width = filters * 2 ** (steps - 1)
    x = keras.layers.Dense(base * base * width, use_bias=False, name="project")(z)
    x = keras.layers.Reshape((base, base, width), name="reshape")(x)
    x = keras.layers.BatchNormalization(name="project_bn")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    for i in range(1, steps):
        width //= 2
        x = keras.layers.Conv2DTranspose(width, 4, 2, padding="same", use_bias=False, name=f"up{i}")(x)
        x = keras.layers.BatchNormalization(name=f"up{i}_bn")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
    x = keras.layers.Conv2DTranspose(channels, 4, 2, padding="same", use_bias=False, name=f"up{steps}")(x)
    out = keras.layers.Activation("tanh", name="image")(x)
    return keras.Model(z, out, name=name)


@register(
    "dcgan_discriminator",
    task="generation",
    paper=PAPER,
    input_shape=(64, 64, 3),
    references={"num_params": 2_765_568, "num_params_source": _TUTORIAL},
)
def dcgan_discriminator(
    image_size: int = 64, channels: int = 3, filters: int = 64, name: str = "discriminator"
) -> keras.Model:
    """The DCGAN discriminator: images in [-1, 1] -> one logit per image (``[B, 1]``, real > 0).

    Stride-2 4x4 convolutions doubling the width, LeakyReLU(0.2), BatchNorm except after the
    first; a last ``base x base`` valid convolution to one logit (no sigmoid: the losses take logits).

    Example:
        >>> dcgan_discriminator(image_size=32, channels=1, filters=16)(ops.zeros((2, 32, 32, 1))).shape
        (2, 1)
    """
    base, steps = _size(image_size)
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = inputs
    for i in range(1, steps + 1):
        x = keras.layers.Conv2D(
            filters * 2 ** (i - 1), 4, 2, padding="same", use_bias=False, name=f"down{i}"
        )(x)
        if i > 1:
            x = keras.layers.BatchNormalization(name=f"down{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
    x = keras.layers.Conv2D(1, base, padding="valid", use_bias=False, name="logit")(x)
    out = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, out, name=name)


def discriminator_loss(real_logits: Any, fake_logits: Any) -> Any:
    """``J_D = -E log D(x) - E log(1 - D(G(z)))`` with ``D = sigmoid(logit)`` (mean over the batch)."""
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits: Any, kind: str = "non_saturating") -> Any:
    """``-E log D(G(z))`` (non-saturating) or ``E log(1 - D(G(z)))`` (the min-max game's own)."""
    if kind == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {kind!r}")


class GAN(keras.Model):
    """Generator + discriminator trained by ``fit`` on batches of real images (labels ignored).

    One ``train_step`` makes ``d_steps`` discriminator updates, then ``g_steps`` generator updates,
    each with fresh noise. One optimizer (Adam(2e-4, beta_1=0.5) as in the paper by default) holds
    the slots of both networks; each update applies it to one network's variables only.

    Args:
        generator: noise -> image model (``dcgan_generator``).
        discriminator: image -> logit model (``dcgan_discriminator``).
        d_steps, g_steps: updates of each per train step (the alternation counts).
        generator_loss: ``"non_saturating"`` (default) or ``"minimax"``.
        seed: seed of the noise sampler.

    Example:
        >>> gan = GAN(dcgan_generator(32, 1), dcgan_discriminator(32, 1), d_steps=1, g_steps=2)
        >>> gan.compile()
        >>> gan.fit(images, epochs=1, batch_size=64)
        >>> samples = gan.sample(16)
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        d_steps: int = 1,
        g_steps: int = 1,
        generator_loss: str = "non_saturating",
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if d_steps < 0 or g_steps < 0 or d_steps + g_steps == 0:
            raise ValueError(f"d_steps and g_steps must be >= 0 and not both 0, got {d_steps}, {g_steps}")
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
        g_out, d_in = tuple(generator.output.shape[1:]), tuple(discriminator.input.shape[1:])
        if g_out != d_in:
            raise ValueError(f"generator output shape {g_out} does not fit the discriminator input {d_in}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = int(generator.input.shape[-1])
        self.d_steps, self.g_steps, self.generator_loss_kind = int(d_steps), int(g_steps), generator_loss
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")  # mean D(x): 1 = sure it is real
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")  # mean D(G(z))
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def compile(self, optimizer: Any = None, **kwargs: Any) -> None:
        """Compiles with Adam(2e-4, beta_1=0.5) unless told otherwise; the loss is the GAN's own."""
        optimizer = optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self.trainable_variables)

    def call(self, z: Any, training: bool = False) -> Any:
        return self.generator(z, training=training)

    def sample(self, n: int, seed: int = 0) -> Any:
        """``n`` generated images (NumPy, in [-1, 1]) from fixed noise ``seed``."""
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return ops.convert_to_numpy(self.generator(z, training=False))

    def _noise(self, batch: Any) -> Any:
        return keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)

    def _record(self, d_loss, g_loss, real_logits, fake_logits) -> dict[str, Any]:
        values = [d_loss, g_loss, ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits))]
        for metric, value in zip(self.metrics, values):
            metric.update_state(value)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, *args: Any) -> Any:
        backend = keras.backend.backend()
        if backend == "jax":
            return self._jax_train_step(*args)
        if backend == "tensorflow":
            return self._tf_train_step(*args)
        raise NotImplementedError(f"GAN.train_step supports the tensorflow and jax backends, not {backend}")

    # ------------------------------------------------------------------ TensorFlow: stateful updates
    def _tf_train_step(self, data: Any) -> dict[str, Any]:
        import tensorflow as tf

        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = ops.shape(real)[0]
        g_net, d_net = self.generator, self.discriminator
        d_loss = g_loss = ops.zeros(())
        real_logits = fake_logits = ops.zeros((1, 1))
        for _ in range(self.d_steps):
            fake = g_net(self._noise(batch), training=True)
            with tf.GradientTape() as tape:
                real_logits = d_net(real, training=True)
                fake_logits = d_net(fake, training=True)
                d_loss = discriminator_loss(real_logits, fake_logits)
            grads = tape.gradient(d_loss, d_net.trainable_variables)
            self.optimizer.apply(grads, d_net.trainable_variables)
        for _ in range(self.g_steps):
            with tf.GradientTape() as tape:
                fake_logits = d_net(g_net(self._noise(batch), training=True), training=True)
                g_loss = generator_loss(fake_logits, self.generator_loss_kind)
            grads = tape.gradient(g_loss, g_net.trainable_variables)
            self.optimizer.apply(grads, g_net.trainable_variables)
        return self._record(d_loss, g_loss, real_logits, fake_logits)

    # ------------------------------------------------------------------ JAX: stateless updates
    def _jax_train_step(self, state: Any, data: Any) -> tuple[dict[str, Any], Any]:
        import jax

        tv, ntv, ov, mv = (list(s) for s in state)
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = real.shape[0]
        t_index = {id(v): i for i, v in enumerate(self.trainable_variables)}
        n_index = {id(v): i for i, v in enumerate(self.non_trainable_variables)}
        nets = {"g": self.generator, "d": self.discriminator}
        t_of = {k: [t_index[id(v)] for v in n.trainable_variables] for k, n in nets.items()}
        n_of = {k: [n_index[id(v)] for v in n.non_trainable_variables] for k, n in nets.items()}
        seed_i = n_index[id(self.seed_generator.state)]

        def take(values, idx):
            return [values[i] for i in idx]

        def put(values, idx, new):
            for i, v in zip(idx, new):
                values[i] = v

        def noise():
            with keras.StatelessScope(state_mapping=[(self.seed_generator.state, ntv[seed_i])]) as scope:
                z = self._noise(batch)
            ntv[seed_i] = scope.get_current_value(self.seed_generator.state)
            return z

        def run(key, t, n, x):
            return nets[key].stateless_call(t, n, x, training=True)

        def d_loss_fn(d_t, d_n, g_t, g_n, z):
            fake, g_n = run("g", g_t, g_n, z)
            real_logits, d_n = run("d", d_t, d_n, real)
            fake_logits, d_n = run("d", d_t, d_n, jax.lax.stop_gradient(fake))
            return discriminator_loss(real_logits, fake_logits), (d_n, g_n, real_logits, fake_logits)

        def g_loss_fn(g_t, g_n, d_t, d_n, z):
            fake, g_n = run("g", g_t, g_n, z)
            fake_logits, d_n = run("d", d_t, d_n, fake)
            return generator_loss(fake_logits, self.generator_loss_kind), (g_n, d_n, fake_logits)

        def update(key, grads):
            nonlocal tv, ov
            full = [None] * len(tv)
            put(full, t_of[key], grads)
            with warnings.catch_warnings():  # the other network's variables get no gradient: by design
                warnings.filterwarnings("ignore", message="Gradients do not exist")
                tv, ov = self.optimizer.stateless_apply(ov, full, tv)
            tv, ov = list(tv), list(ov)

        d_loss = g_loss = jax.numpy.zeros(())
        real_logits = fake_logits = jax.numpy.zeros((1, 1))
        for _ in range(self.d_steps):
            z = noise()
            (d_loss, (d_n, g_n, real_logits, fake_logits)), grads = jax.value_and_grad(
                d_loss_fn, has_aux=True
            )(take(tv, t_of["d"]), take(ntv, n_of["d"]), take(tv, t_of["g"]), take(ntv, n_of["g"]), z)
            put(ntv, n_of["d"], d_n)
            put(ntv, n_of["g"], g_n)
            update("d", grads)
        for _ in range(self.g_steps):
            z = noise()
            (g_loss, (g_n, d_n, fake_logits)), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
                take(tv, t_of["g"]), take(ntv, n_of["g"]), take(tv, t_of["d"]), take(ntv, n_of["d"]), z
            )
            put(ntv, n_of["d"], d_n)
            put(ntv, n_of["g"], g_n)
            update("g", grads)
        values = [d_loss, g_loss, ops.mean(ops.sigmoid(real_logits)), ops.mean(ops.sigmoid(fake_logits))]
        logs, new_mv, offset = {}, [], 0
        for metric, value in zip(self.metrics, values):
            n = len(metric.variables)
            m_vars = metric.stateless_update_state(mv[offset : offset + n], value)
            logs[metric.name] = metric.stateless_result(m_vars)
            new_mv += list(m_vars)
            offset += n
        return logs, (tv, ntv, ov, new_mv)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            d_steps=self.d_steps,
            g_steps=self.g_steps,
            generator_loss=self.generator_loss_kind,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GAN:
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


# ----------------------------------------------------------------------------- training on offline data
DATASETS = ("digits", "shapes")


def load_gan_images(dataset: str = "digits", image_size: int = 28, n: int = 2000, seed: int = 0):
    """Real images in [-1, 1] ``[N, S, S, C]`` and their labels (digits 0-9; shapes 0-2).

    ``"digits"``: scikit-learn's 1,797 handwritten digits (8x8) upscaled (all ten classes);
    ``"shapes"``: ``n`` synthetic RGB scenes of :mod:`zoo.data.shapes` with one object each,
    labelled by its shape (0 circle, 1 square, 2 triangle), so a classifier can judge samples.
    """
    if dataset == "digits":
        try:  # the digits loaders are moving to zoo.data.digits
            from zoo.data.digits import load_digits_split
        except ImportError:
            from zoo.transfer import load_digits_split
        d = load_digits_split(size=image_size, variant="clean")
        x = np.concatenate([d["source_x"], d["target_x"], d["test_x"]])
        y = np.concatenate([d["source_y"], d["target_y"] + 5, d["test_y"] + 5]).astype(np.int32)
        return x * 2.0 - 1.0, y
    if dataset == "shapes":
        from zoo.data.shapes import generate_shapes_example

        rng = np.random.default_rng(seed)
        scenes = [generate_shapes_example(rng, image_size, max_objects=1) for _ in range(n)]
        x = np.stack([s["image"] for s in scenes])
        y = np.array([int(s["classes"][0]) - 1 for s in scenes], np.int32)
        return x.astype(np.float32) / 127.5 - 1.0, y
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def save_grid(images: np.ndarray, path: str | os.PathLike, title: str = "") -> Path:
    """Saves images in [-1, 1] ``[N, S, S, C]`` as a square grid PNG."""
    from zoo.utils.plots import pyplot, save_figure

    plt = pyplot()
    n = int(np.ceil(np.sqrt(len(images))))
    fig, axes = plt.subplots(n, n, figsize=(n * 0.9, n * 0.9), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img in zip(axes.ravel(), images):
        img = np.clip((img + 1.0) / 2.0, 0, 1)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def classifier_quality(classifier: keras.Model, images: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """How a classifier of the real data sees ``images`` (in [-1, 1]): mean confidence, class coverage, accuracy.

    ``coverage_entropy`` is the entropy (bits) of the predicted-class histogram: log2(10) = 3.32
    when every digit is generated equally often (log2(3) = 1.58 for the three shapes), 0 when the
    generator collapsed to one mode.
    ``confident`` is the fraction classified with probability > 0.9. ``accuracy`` needs labels.
    """
    probs = np.asarray(classifier.predict((images + 1.0) / 2.0, verbose=0, batch_size=256))
    pred = probs.argmax(-1)
    hist = np.bincount(pred, minlength=probs.shape[-1]) / len(pred)
    nz = hist[hist > 0]
    out = {
        "confidence": float(probs.max(-1).mean()),
        "confident": float((probs.max(-1) > 0.9).mean()),
        "coverage_entropy_bits": float(-(nz * np.log2(nz)).sum()),
        "classes_seen": int((hist > 0.02).sum()),
        "class_histogram": hist.round(4).tolist(),
    }
    if labels is not None:
        out["accuracy"] = float((pred == labels).mean())
    return out


class _GanMonitor(keras.callbacks.Callback):
    """Every epoch: a sample grid PNG from fixed noise; after epoch 1 (and at the end) the quality figure."""

    def __init__(self, workdir: Path, classifier: keras.Model | None, n: int = 500):
        super().__init__()
        self.workdir, self.classifier, self.n = workdir, classifier, n

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        save_grid(
            gan.sample(64, seed=0),
            self.workdir / "samples" / f"epoch_{epoch + 1:03d}.png",
            f"epoch {epoch + 1}",
        )
        if self.classifier is not None and epoch == 0:
            quality = classifier_quality(self.classifier, gan.sample(self.n, seed=1))
            atomic_write_json(self.workdir / "quality_epoch1.json", quality)


def train_quality_classifier(
    images: np.ndarray, labels: np.ndarray, workdir: Path, num_classes: int, seed: int = 0
) -> tuple:
    """A small CNN trained on 80% of the real images (digits, or shapes by kind); returns it and its
    held-out quality (:func:`classifier_quality`)."""
    from zoo.experiments.digits_transfer import small_cnn

    path = workdir / "quality_classifier.weights.h5"
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    cut = int(0.8 * len(images))
    train, test = order[:cut], order[cut:]
    keras.utils.set_random_seed(seed)  # before building: the initial weights come from the global seed too
    net = small_cnn(images.shape[1:], num_classes=num_classes, name="quality_classifier")
    net.compile(
        optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    if path.exists():
        net.load_weights(path)
    else:
        net.fit((images[train] + 1) / 2, labels[train], epochs=15, batch_size=64, verbose=0)
        net.save_weights(path)
    return net, classifier_quality(net, images[test], labels[test])


def train_dcgan(
    workdir: str | os.PathLike,
    *,
    dataset: str = "digits",
    image_size: int = 28,
    epochs: int = 20,
    batch_size: int = 64,
    latent_dim: int = 100,
    filters: int = 32,
    d_steps: int = 1,
    g_steps: int = 1,
    generator_loss: str = "non_saturating",
    learning_rate: float = 2e-4,
    seed: int = 0,
    verbose: int | str = "auto",
) -> dict[str, Any]:
    """Trains a DCGAN (resumable) on offline data; writes samples/, curves.png, report.json.

    The report holds the quality figure of :func:`classifier_quality` (a small CNN trained on the
    real digits, or on the shapes by kind) for the real held-out images, for the generator after
    epoch 1 and at the end.

    Example:
        >>> report = train_dcgan("runs/dcgan", dataset="digits", epochs=20)
        >>> report["quality"]["final"]["coverage_entropy_bits"]
    """
    import tensorflow as tf

    from zoo.training import fit_resumable

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    images, labels = load_gan_images(dataset, image_size, seed=seed)
    classifier, real_quality = (None, None)
    classifier, real_quality = train_quality_classifier(images, labels, workdir, int(labels.max()) + 1, seed)
    keras.utils.set_random_seed(seed)
    channels = images.shape[-1]
    gan = GAN(
        dcgan_generator(image_size, channels, latent_dim, filters),
        dcgan_discriminator(image_size, channels, filters),
        d_steps=d_steps, g_steps=g_steps, generator_loss=generator_loss, seed=seed,
    )  # fmt: skip
    gan.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    data = (
        tf.data.Dataset.from_tensor_slices(images)
        .shuffle(len(images), seed=seed)
        .batch(batch_size, drop_remainder=True)
    )
    start = time.perf_counter()
    history = fit_resumable(
        gan, data, epochs=epochs, workdir=workdir, callbacks=[_GanMonitor(workdir, classifier)], verbose=verbose,
        title=f"DCGAN on {dataset}",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    save_grid(gan.sample(64, seed=0), workdir / "samples.png", f"DCGAN on {dataset}, {epochs} epochs")
    gan.generator.save_weights(workdir / "generator.weights.h5")
    report: dict[str, Any] = {
        "dataset": dataset, "images": len(images), "image_size": image_size, "epochs": epochs,
        "batch_size": batch_size, "filters": filters, "latent_dim": latent_dim, "d_steps": d_steps,
        "g_steps": g_steps, "generator_loss": generator_loss, "backend": keras.backend.backend(),
        "generator_params": int(gan.generator.count_params()),
        "discriminator_params": int(gan.discriminator.count_params()),
        "train_seconds_this_run": seconds, "history": history,
    }  # fmt: skip
    if classifier is not None:
        epoch1 = workdir / "quality_epoch1.json"
        report["quality"] = {
            "real_heldout": real_quality,
            "generated_epoch1": json.loads(epoch1.read_text()) if epoch1.exists() else None,
            "generated_final": classifier_quality(classifier, gan.sample(500, seed=1)),
        }
    atomic_write_json(workdir / "report.json", report)
    return report
