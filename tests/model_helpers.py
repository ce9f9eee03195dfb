"""The shared model test (keras-hub's ``run_model_saving_test`` / ``run_task_test``, timm's test_models).

``run_model_test(name, kwargs, ...)`` builds a registered model at a tiny configuration and checks:

- ``outputs``: a forward pass at batch 2 gives finite outputs with batch dimension 2;
- ``save``: ``model.save`` / ``keras.models.load_model`` round trip with equal outputs;
- ``fit``: one ``fit`` step on a dummy batch changes every trainable weight (gradients reach them).
  By default the step runs eagerly (``run_eagerly=True``): what it checks is the gradient path,
  and tracing a compiled train step costs 5-7x the CPU of the step itself here (ResNet-50 at
  32 px: 50 s compiled vs 7 s eager, 2026-12-02). ``compiled_fit=True`` runs the compiled step
  (the registry sweep does for a few cheap models; the families' training tests do for theirs).

The dummy batch depends on the task (``dummy_batch``): detectors get the zoo's detection targets
(``boxes`` / ``classes`` / ``valid``, plus ``masks`` for a mask branch and ``keypoints`` for a
keypoint branch) and train on their own
``compute_loss``; every other model gets random targets shaped like its outputs and a mean
squared error, which reaches every weight whatever the output activation.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

CHECKS = ("outputs", "save", "fit")


def _np(x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def random_inputs(
    model: keras.Model, kwargs: dict[str, Any], rng: np.random.Generator, batch: int = 2
) -> Any:
    """Random inputs for ``model``: images 0..255 for detectors, 0..1 otherwise, ints for int inputs."""
    specs = getattr(model, "inputs", None)
    if not specs:  # a subclassed model: one image input of the configured size
        return rng.uniform(0, 255, (batch, *kwargs["input_shape"])).astype("float32")
    inputs = []
    for spec in specs:
        shape = [batch if d is None else d for d in spec.shape]
        if "int" in str(spec.dtype):
            inputs.append(rng.integers(0, 10, shape).astype(str(spec.dtype)))
        else:
            inputs.append(rng.uniform(0, 1, shape).astype("float32"))
    return inputs[0] if len(inputs) == 1 else inputs


def dummy_batch(model: keras.Model, x: Any, rng: np.random.Generator) -> Any:
    """Targets for one ``fit`` step: the detection batch format for detectors, else output-shaped noise."""
    from zoo.detection.base import Detector

    batch = len(keras.tree.flatten(x)[0])
    if isinstance(model, Detector):
        h, w = model.image_size
        boxes = np.array(
            [[w * 0.1, h * 0.1, w * 0.6, h * 0.5], [w * 0.4, h * 0.3, w * 0.9, h * 0.95]], "float32"
        )
        classes = np.array([1, model.num_classes - 1])
        targets = {
            "boxes": np.stack([boxes] * batch),
            "classes": np.tile(classes.astype("int32")[None], (batch, 1)),
            "valid": np.ones((batch, len(boxes)), bool),
        }
        if getattr(model, "mask_head", None) is not None:
            masks = np.zeros((batch, len(boxes), h, w), "uint8")
            for g, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
                masks[:, g, y1:y2, x1:x2] = 1
            targets["masks"] = masks
        if getattr(model, "keypoint_head", None) is not None:  # Keypoint R-CNN: points inside each box
            fractions = np.linspace(0.2, 0.8, model.num_keypoints, dtype="float32")
            keypoints = np.ones((batch, len(boxes), model.num_keypoints, 3), "float32")  # visible
            for g, (x1, y1, x2, y2) in enumerate(boxes):
                keypoints[:, g, :, 0] = x1 + fractions * (x2 - x1)
                keypoints[:, g, :, 1] = y2 - fractions * (y2 - y1)
            targets["keypoints"] = keypoints
        return targets
    outputs = model(x, training=False)
    return keras.tree.map_structure(lambda o: rng.uniform(0, 1, o.shape).astype("float32"), outputs)


def run_model_test(
    name: str,
    kwargs: dict[str, Any],
    rng: np.random.Generator,
    tmp_path: Any,
    checks: tuple[str, ...] = CHECKS,
    compiled_fit: bool = False,
    fit_steps: int = 1,
    may_miss: str | None = None,
) -> keras.Model:
    """Builds ``zoo.get(name, **kwargs)`` and runs ``checks`` (see the module docstring).

    ``fit_steps=2`` for models whose zero-initialised output layer (FCN's score layers, as in the
    paper) passes no gradient below it in the first step. ``may_miss``: a regular expression of
    variable paths one step may leave unchanged, with the reason at the call site (SSD).
    """
    import zoo

    model = zoo.get(name, **kwargs)
    assert isinstance(model, keras.Model)
    x = random_inputs(model, kwargs, rng)
    outputs = model(x, training=False)
    if "outputs" in checks:
        flat = keras.tree.flatten(outputs)
        assert flat, f"{name} returned no outputs"
        for out in flat:
            arr = _np(out)
            assert arr.shape[0] == 2, f"{name}: batch dimension {arr.shape}"
            if np.issubdtype(arr.dtype, np.floating):
                assert np.all(np.isfinite(arr)), f"{name}: non-finite outputs"
    if "save" in checks:
        path = tmp_path / f"{name}.keras"
        model.save(path)
        loaded = keras.models.load_model(path)
        assert type(loaded) is type(model) or isinstance(loaded, keras.Model)
        again = loaded(x, training=False)
        for a, b in zip(keras.tree.flatten(outputs), keras.tree.flatten(again)):
            np.testing.assert_allclose(
                _np(a), _np(b), rtol=1e-4, atol=1e-4, err_msg=f"{name}: reloaded outputs"
            )
    if "fit" in checks:
        y = dummy_batch(model, x, rng)
        before = [_np(v).copy() for v in model.trainable_variables]
        from zoo.detection.base import Detector

        loss = None if isinstance(model, Detector) else "mse"
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, run_eagerly=not compiled_fit)
        hist = model.fit(x, y, batch_size=2 // fit_steps, epochs=1, verbose=0)
        assert np.isfinite(hist.history["loss"][0]), f"{name}: loss {hist.history['loss']}"
        unchanged = [v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(_np(v), b)]
        if may_miss is not None:
            import re

            unchanged = [p for p in unchanged if not re.search(may_miss, p)]
        assert not unchanged, f"{name}: no gradient reached {unchanged}"
    return model


def tiny_conv_body(size: int = 32) -> keras.Model:
    """A small functional convolutional body for head tests (localization, pose); zoo bodies take
    the same path."""
    image = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255)(image)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    return keras.Model(image, x, name="tiny")
