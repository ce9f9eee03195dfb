"""Unpooling layers for semantic segmentation (keras.ops only; TensorFlow and JAX backends).

The course material (semantic segmentation, "Анпулинг") lists three ways to go back up in
resolution after pooling:

* nearest-neighbour unpooling: every cell is copied into its ``size x size`` block
  (:class:`NearestUnpooling2D`);
* max unpooling: a max-pooling layer records where each maximum came from and the paired
  unpooling layer puts the values back at those positions, zeros elsewhere
  (:class:`MaxPoolingWithArgmax2D` + :class:`MaxUnpooling2D`, as in SegNet);
* a transposed convolution ("input gives weight for filter", stride 2), whose kernel can start
  as bilinear interpolation, frozen or trainable, as FCN does (:class:`BilinearUpsampling`,
  :class:`BilinearInitializer`, :func:`bilinear_kernel`).

Argmax convention: like ``tf.nn.max_pool_with_argmax(..., include_batch_in_index=False)``,
an index is the flat position ``(y * W + x) * C + c`` inside one example of the pooled
layer's input (shape ``[H, W, C]``). It is computed with strided slices and ``ops.argmax``
(no TF-only op), so it runs on every backend; ties go to the first position in the window
(row-major).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return value  # type: ignore[return-value]


def _non_negative(value: Any) -> Any:
    """max(value, 0) that keeps Python ints static (JAX needs static padding sizes)."""
    return max(value, 0) if isinstance(value, int) else ops.maximum(value, 0)


def _out_size(size: int | None, pool: int, stride: int, padding: str) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    return (size - pool) // stride + 1


@keras.saving.register_keras_serializable(package="zoo")
class NearestUnpooling2D(keras.layers.Layer):
    """Nearest-neighbour unpooling: each input cell fills a ``size`` block of the output.

    Args:
        size: upsampling factor (int or (rows, cols)).

    Example:
        >>> y = NearestUnpooling2D(2)(x)  # [B, H, W, C] -> [B, 2H, 2W, C]
    """

    def __init__(self, size: int | tuple[int, int] = 2, **kwargs):
        super().__init__(**kwargs)
        self.size = _pair(size, "size")

    def call(self, inputs):
        x = ops.repeat(inputs, self.size[0], axis=1)
        return ops.repeat(x, self.size[1], axis=2)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (
            b,
            None if h is None else h * self.size[0],
            None if w is None else w * self.size[1],
            c,
        )

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@keras.saving.register_keras_serializable(package="zoo")
class MaxPoolingWithArgmax2D(keras.layers.Layer):
    """Max pooling that also returns where each maximum came from.

    Returns ``(pooled, argmax)``: ``pooled`` as ``keras.layers.MaxPooling2D`` gives it and
    ``argmax`` (int32, same shape) holding the flat index ``(y * W + x) * C + c`` of each
    maximum in the input example of shape ``[H, W, C]`` (the convention of
    ``tf.nn.max_pool_with_argmax`` without the batch). Feed both to :class:`MaxUnpooling2D`.

    Args:
        pool_size: window size.
        strides: window step; defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padded cells never win: they hold -inf).

    Example:
        >>> pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
        >>> restored = MaxUnpooling2D(2)([pooled, argmax, x])  # maxima back in place, zeros elsewhere
    """

    def __init__(
        self,
        pool_size: int | tuple[int, int] = 2,
        strides: int | tuple[int, int] | None = None,
        padding: str = "valid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size")
        self.strides = _pair(strides if strides is not None else pool_size, "strides")
        padding = str(padding).lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding

    def _geometry(self, h: Any, w: Any) -> tuple[Any, Any, Any, Any]:
        """Output size and top/left padding for input size (h, w) (ints, or tensors when dynamic)."""
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        if self.padding == "same":
            oh, ow = (h + sh - 1) // sh, (w + sw - 1) // sw
            pad_h = _non_negative((oh - 1) * sh + ph - h)
            pad_w = _non_negative((ow - 1) * sw + pw - w)
            return oh, ow, pad_h // 2, pad_w // 2
        return (h - ph) // sh + 1, (w - pw) // sw + 1, 0, 0

    def call(self, inputs):
        (ph, pw), (sh, sw) = self.pool_size, self.strides
        shape = ops.shape(inputs)
        h, w, c = shape[1], shape[2], shape[3]
        oh, ow, top, left = self._geometry(h, w)
        x = inputs
        if self.padding == "same":
            # Enough -inf padding on every side; padded cells never hold a maximum.
            (th, tw) = ((oh - 1) * sh + ph, (ow - 1) * sw + pw)
            lowest = ops.cast(np.finfo(np.float32).min, inputs.dtype)
            x = ops.pad(
                inputs,
                [[0, 0], [top, th - h - top], [left, tw - w - left], [0, 0]],
                constant_values=lowest,
            )
        windows = []
        for dy in range(ph):
            for dx in range(pw):
                windows.append(x[:, dy : dy + (oh - 1) * sh + 1 : sh, dx : dx + (ow - 1) * sw + 1 : sw, :])
        stacked = ops.stack(windows, axis=-1)  # [B, oh, ow, C, ph*pw]
        pooled = ops.max(stacked, axis=-1)
        local = ops.cast(ops.argmax(stacked, axis=-1), "int32")
        dy, dx = local // pw, local % pw
        rows = ops.reshape(ops.arange(oh, dtype="int32") * sh, (1, -1, 1, 1))
        cols = ops.reshape(ops.arange(ow, dtype="int32") * sw, (1, 1, -1, 1))
        chans = ops.reshape(ops.arange(c, dtype="int32"), (1, 1, 1, -1))
        y = rows + dy - ops.cast(top, "int32")
        xx = cols + dx - ops.cast(left, "int32")
        argmax = (y * ops.cast(w, "int32") + xx) * ops.cast(c, "int32") + chans
        return pooled, argmax

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        shape = (
            b,
            _out_size(h, self.pool_size[0], self.strides[0], self.padding),
            _out_size(w, self.pool_size[1], self.strides[1], self.padding),
            c,
        )
        return shape, shape

    def compute_output_spec(self, inputs):
        shape, _ = self.compute_output_shape(inputs.shape)
        return (
            keras.KerasTensor(shape, dtype=inputs.dtype),
            keras.KerasTensor(shape, dtype="int32"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MaxUnpooling2D(keras.layers.Layer):
    """Scatters pooled values back to the positions recorded by :class:`MaxPoolingWithArgmax2D`.

    Called on ``[values, argmax]`` or ``[values, argmax, reference]``. The output has the
    shape of ``reference`` (the tensor that was pooled: give it when its size was not a
    multiple of the stride) or else ``[B, H * size, W * size, C]``. Every position that was not
    a maximum is zero. Gradients flow to ``values``.

    Args:
        size: the pooling stride (the output size factor when no reference is given).

    Example:
        >>> pooled, argmax = MaxPoolingWithArgmax2D(2)(x)
        >>> y = MaxUnpooling2D(2)([pooled, argmax])
    """

    def __init__(self, size: int | tuple[int, int] = 2, **kwargs):
        super().__init__(**kwargs)
        self.size = _pair(size, "size")

    @staticmethod
    def _unpack(inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                "MaxUnpooling2D takes [values, argmax] or [values, argmax, reference] "
                "(argmax from MaxPoolingWithArgmax2D)."
            )
        return inputs[0], inputs[1], inputs[2] if len(inputs) == 3 else None

    def call(self, inputs):
        values, argmax, reference = self._unpack(inputs)
        shape = ops.shape(values)
        b, c = shape[0], shape[3]
        if reference is not None:
            ref_shape = ops.shape(reference)
            h, w = ref_shape[1], ref_shape[2]
        else:
            h, w = shape[1] * self.size[0], shape[2] * self.size[1]
        per_example = h * w * c
        offsets = ops.reshape(ops.arange(b, dtype="int32") * ops.cast(per_example, "int32"), (-1, 1))
        flat_index = ops.reshape(ops.cast(argmax, "int32"), (b, -1)) + offsets
        flat_index = ops.reshape(flat_index, (-1, 1))
        flat_values = ops.reshape(values, (-1,))
        zeros = ops.zeros((b * per_example,), dtype=values.dtype)
        out = ops.scatter_update(zeros, flat_index, flat_values)
        return ops.reshape(out, (b, h, w, c))

    def compute_output_shape(self, input_shape):
        values_shape = input_shape[0]
        if len(input_shape) == 3:
            ref = input_shape[2]
            return (values_shape[0], ref[1], ref[2], values_shape[3])
        b, h, w, c = values_shape
        return (
            b,
            None if h is None else h * self.size[0],
            None if w is None else w * self.size[1],
            c,
        )

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def bilinear_kernel(size: int, channels: int | None = None) -> np.ndarray:
    """The bilinear interpolation kernel FCN uses to initialise its upsampling layers.

    ``k[i, j] = (1 - |i - center| / f) * (1 - |j - center| / f)`` with ``f = (size + 1) // 2``
    and ``center = f - 1`` for odd ``size``, ``f - 0.5`` for even ``size``.

    Args:
        size: kernel side (``2 * factor - factor % 2`` upsamples by ``factor``).
        channels: if given, returns a ``(size, size, channels, channels)`` Conv2DTranspose
            kernel that maps channel i to channel i only.

    Returns:
        float32 array ``(size, size)`` or ``(size, size, channels, channels)``.

    Example:
        >>> bilinear_kernel(4)[0]  # array([0.0625, 0.1875, 0.1875, 0.0625])
    """
    if size < 1:
        raise ValueError(f"kernel size must be >= 1, got {size}")
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    grid = np.arange(size, dtype=np.float64)
    line = 1.0 - np.abs(grid - center) / factor
    kernel = np.outer(line, line).astype(np.float32)
    if channels is None:
        return kernel
    full = np.zeros((size, size, channels, channels), dtype=np.float32)
    for i in range(channels):
        full[:, :, i, i] = kernel
    return full


@keras.saving.register_keras_serializable(package="zoo")
class BilinearInitializer(keras.initializers.Initializer):
    """Initialises a Conv2DTranspose kernel ``(k, k, out, in)`` to per-channel bilinear upsampling.

    Channel i of the input goes to channel i of the output (FCN's "interp" surgery); the other
    entries are zero, so the number of output and input channels must agree.

    Example:
        >>> up = keras.layers.Conv2DTranspose(21, 4, strides=2, padding="same",
        ...                                   kernel_initializer=BilinearInitializer(), use_bias=False)
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 4 or shape[0] != shape[1]:
            raise ValueError(
                f"BilinearInitializer needs a square 4-D kernel shape (k, k, out, in), got {shape}"
            )
        if shape[2] != shape[3]:
            raise ValueError(
                f"BilinearInitializer maps channel i to channel i, so output and input channels must be equal; "
                f"got kernel shape {tuple(shape)}"
            )
        return ops.convert_to_tensor(bilinear_kernel(int(shape[0]), int(shape[2])), dtype=dtype or "float32")

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="zoo")
class BilinearUpsampling(keras.layers.Conv2DTranspose):
    """A transposed convolution that starts as bilinear upsampling by ``factor`` (frozen or trainable).

    Kernel ``2 * factor - factor % 2``, stride ``factor``, ``"same"`` padding (output is exactly
    ``factor`` times the input, aligned as Caffe's bilinear deconvolution with
    ``pad = ceil((factor - 1) / 2)``), no bias. ``trainable=False`` keeps it a fixed bilinear
    interpolation (FCN's final 8x upsampling); ``trainable=True`` lets it be learned (FCN's 2x).

    Args:
        filters: channels in and out (must equal the input's channels).
        factor: integer upsampling factor.
        trainable: whether the kernel is learned.

    Example:
        >>> up = BilinearUpsampling(filters=21, factor=2, trainable=True, name="upscore2")(score)
    """

    def __init__(
        self, filters: int, factor: int = 2, trainable: bool = False, use_bias: bool = False, **kwargs
    ):
        for key in ("kernel_size", "strides", "padding", "kernel_initializer"):
            kwargs.pop(key, None)
        if int(factor) < 1:
            raise ValueError(f"factor must be a positive integer, got {factor}")
        self.factor = int(factor)
        super().__init__(
            filters,
            kernel_size=2 * self.factor - self.factor % 2,
            strides=self.factor,
            padding="same",
            use_bias=use_bias,
            kernel_initializer=BilinearInitializer(),
            trainable=trainable,
            **kwargs,
        )

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.filters:
            raise ValueError(
                f"BilinearUpsampling {self.name!r}: input has {input_shape[-1]} channels but filters={self.filters}; "
                "bilinear upsampling maps each channel to itself, so they must be equal."
            )
        super().build(input_shape)

    def get_config(self):
        base = super().get_config()
        return {
            "name": base["name"],
            "trainable": base["trainable"],
            "dtype": base["dtype"],
            "filters": self.filters,
            "factor": self.factor,
            "use_bias": self.use_bias,
        }
