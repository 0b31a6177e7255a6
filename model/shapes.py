"""Colour images of simple shapes (circles, squares, triangles, crosses, rings, diamonds), one
shape in its class's hue on a dark background, drawn on the fly from a seed: the offline colour
demo, so that colour images and a convolutional model can be tried in one command with nothing
downloaded and nothing shipped. The pictures are signed distances on a pixel grid, computed for
a whole class at once with numpy's elementwise arithmetic only, which keeps the 7,000 images of
`shapes_dataset` well under a second and the same bit for bit on every machine."""

from __future__ import annotations

import math

import numpy as np
from vae_gui.model.config import ModelConfig, TrainConfig

SHAPE_CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "cross", "ring", "diamond")
SHAPES_SIDE = 32
SHAPES_TRAIN = 6000
SHAPES_TEST = 1000

# What `vae-gui --demo shapes` trains: a small convolutional pair with a 2-D latent space, which
# trains at about 5 s an epoch on two CPU cores (docs/benchmarks.md, "The colour shapes demo").
DEMO_MODEL = ModelConfig(image_shape=(SHAPES_SIDE, SHAPES_SIDE, 3), hidden=(32, 64),
                         latent_dim=2, arch="conv")
DEMO_TRAINING = TrainConfig(epochs=15)

# Each shape fits in a circle whose diameter is this share of the side, drawn uniformly. Below
# about a third the thin parts (a ring's band, a cross's arms) are a pixel or two at 32x32.
MIN_SIZE = 0.35
MAX_SIZE = 0.8
# Below this side the smallest shapes are a few pixels and the classes blur together.
MIN_SIDE = 16

# Each class has its own hue (in sixths of the colour circle: red, orange, green, teal, blue,
# magenta), varied by up to HUE_JITTER either way, so that no two classes' hues meet; the plots
# colour each class's points in its hue (model/class_colors.py). With random colours for every
# picture, a 2-D latent space spends its two numbers on the colours (they are most of the
# pixels' loss) and the classes mix; a hue per class lets the clouds show the classes, as
# MNIST's digits do, while size, place, brightness and the triangles' turn vary.
CLASS_HUES = (0.0, 0.6, 2.0, 3.1, 4.0, 5.0)
HUE_JITTER = 0.2
# The shape stands out from its background by at least this much luma (Rec. 601, 0..255), and
# its colour has at least this spread between its channels, so it is not grey. Both are
# checked on the uint8 colours themselves, so the guarantee holds for the pixels as stored.
MIN_CONTRAST = 80
MIN_CHROMA = 40
# The background's HSV value (brightness), and how far from the middle a shape may lie as a
# share of the room it has (1: anywhere inside). A 2-D latent space has room for the class, the
# size and a little of the place: with random colours, shapes anywhere and backgrounds up to
# 0.3, the classes mixed (the majority of a test mean's 10 nearest test means was its class
# for 61% of the points, an MLP pair after 8 epochs); with a hue per class, nearly black
# backgrounds and shapes near the middle, for 83% (docs/benchmarks.md, "The colour shapes
# demo").
BACKGROUND_VALUE = (0.0, 0.05)
PLACEMENT = 0.3

_RING_HOLE = 0.55  # inner radius over outer: the band stays 2.5+ pixels wide at 32x32
_CROSS_ARM = 0.3  # half the thickness of an arm over the radius
_DIAMOND_WIDTH = 0.7  # half-width over half-height: narrower than a square turned by 45°


def make_shapes(n: int, side: int = SHAPES_SIDE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` images (uint8, shape (n, side, side, 3), RGB) and their labels (int64, indexes into
    SHAPE_CLASSES), each class `n // len(SHAPE_CLASSES)` or one more times, in a seeded order.
    The same (n, side, seed) gives the same arrays bit for bit."""
    return _make_shapes(n, side, np.random.default_rng(seed))


def shapes_dataset(
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """(train_images, train_labels, test_images, test_labels, class_names): SHAPES_TRAIN and
    SHAPES_TEST images at SHAPES_SIDE. The training split is make_shapes(SHAPES_TRAIN, seed=seed);
    the test split comes from a stream of its own, so it repeats neither that split nor any
    make_shapes(..., seed=k)."""
    train_images, train_labels = make_shapes(SHAPES_TRAIN, SHAPES_SIDE, seed)
    # A spawn key makes a stream no plain integer seed gives ([seed, 1] would not do: numpy
    # pads short entropy with zeros, so default_rng([s, 0]) is default_rng(s)).
    test_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    test_images, test_labels = _make_shapes(SHAPES_TEST, SHAPES_SIDE, test_rng)
    return train_images, train_labels, test_images, test_labels, SHAPE_CLASSES


def _make_shapes(n: int, side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if n < 0:
        raise ValueError(f"n must be 0 or more, not {n}")
    if side < MIN_SIDE:
        raise ValueError(f"side must be at least {MIN_SIDE} pixels, not {side}")
    k = len(SHAPE_CLASSES)
    labels = rng.permutation(np.arange(n, dtype=np.int64) % k)
    radius = side * rng.uniform(MIN_SIZE / 2, MAX_SIZE / 2, n)
    # A pixel of background all round: no shape is cut by the frame or touches it, even with
    # its soft edge (pixel 0's centre is at 0.5 and a pixel is covered up to 0.5 outside).
    free = side - 2 * (radius + 1)
    centre_x = radius + 1 + free * _place(rng, n)
    centre_y = radius + 1 + free * _place(rng, n)
    turn = _directions(rng, n)
    background, foreground = _colours(rng, labels)

    images = np.empty((n, side, side, 3), np.uint8)
    # Pixel centres; y grows downwards as in the image.
    grid = np.arange(side, dtype=np.float64) + 0.5
    draw = {"circle": _circle, "square": _square, "triangle": _triangle,
            "cross": _cross, "ring": _ring, "diamond": _diamond}
    for label, name in enumerate(SHAPE_CLASSES):
        index = np.flatnonzero(labels == label)
        # Blocks keep the float temporaries in cache (a whole class of 32x32 is ~9 MB each).
        for block in np.array_split(index, max(1, math.ceil(len(index) / 256))):
            if len(block) == 0:
                continue
            x = grid[None, None, :] - centre_x[block, None, None]
            y = grid[None, :, None] - centre_y[block, None, None]
            r = radius[block, None, None]
            distance = draw[name](x, y, r, turn[block, 0, None, None], turn[block, 1, None, None])
            # Area coverage of a pixel by a straight edge at that signed distance, near enough:
            # soft edges without supersampling.
            coverage = np.clip(0.5 - distance, 0.0, 1.0)[..., None]
            low = background[block, None, None, :]
            high = foreground[block, None, None, :]
            images[block] = np.rint(low + coverage * (high - low)).astype(np.uint8)
    return images, labels


def _place(rng: np.random.Generator, n: int) -> np.ndarray:
    """Where each centre lies in the room left for it, 0 to 1: within PLACEMENT of the middle."""
    return 0.5 + PLACEMENT * (rng.random(n) - 0.5)


def _directions(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` uniformly random unit vectors (cos, sin). Drawn from the unit disc and scaled, not
    from an angle: sin and cos may differ in the last bit between machines, sqrt may not."""
    out = np.empty((n, 2))
    todo = np.arange(n)
    while len(todo):
        point = rng.uniform(-1.0, 1.0, (len(todo), 2))
        square = point[:, 0] * point[:, 0] + point[:, 1] * point[:, 1]
        ok = (square <= 1.0) & (square >= 1e-4)
        out[todo[ok]] = point[ok] / np.sqrt(square[ok])[:, None]
        todo = todo[~ok]
    return out


def _colours(rng: np.random.Generator, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Background and shape colours (float64 holding whole numbers 0..255, shape (n, 3)): the
    shape in its class's hue, bright and saturated, on a dark background; redrawn until the
    pair meets MIN_CONTRAST and the shape MIN_CHROMA."""
    n = len(labels)
    hues = np.asarray(CLASS_HUES)[labels]
    background = np.empty((n, 3))
    foreground = np.empty((n, 3))
    todo = np.arange(n)
    while len(todo):
        m = len(todo)
        hue = np.mod(hues[todo] + rng.uniform(-HUE_JITTER, HUE_JITTER, m), 6.0)
        high = _hsv(hue, rng.uniform(0.55, 1.0, m), rng.uniform(0.7, 1.0, m))
        low = _hsv(6.0 * rng.random(m), rng.uniform(0.0, 0.8, m),
                   rng.uniform(*BACKGROUND_VALUE, m))
        ok = ((np.abs(_luma(low) - _luma(high)) >= MIN_CONTRAST * 1000)
              & (_chroma(high) >= MIN_CHROMA))
        background[todo[ok]] = low[ok]
        foreground[todo[ok]] = high[ok]
        todo = todo[~ok]
    return background, foreground


def _hsv(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Colours given in HSV (hue in sixths of the circle, 0..6) as rounded RGB 0..255."""
    sector = np.minimum(np.floor(hue).astype(np.int64), 5)
    fraction = hue - sector
    p = value * (1.0 - saturation)
    q = value * (1.0 - saturation * fraction)
    t = value * (1.0 - saturation * (1.0 - fraction))
    # The six sectors of the hue circle, as (r, g, b) picked from (v, p, q, t).
    table = np.array([[0, 3, 1], [2, 0, 1], [1, 0, 3], [1, 2, 0], [3, 1, 0], [0, 1, 2]])
    choices = np.stack([value, p, q, t], axis=1)
    rgb = np.take_along_axis(choices, table[sector], axis=1)
    return np.rint(255.0 * rgb)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma times 1000, in whole numbers so that the contrast test is exact."""
    whole = rgb.astype(np.int64)
    return 299 * whole[:, 0] + 587 * whole[:, 1] + 114 * whole[:, 2]


def _chroma(rgb: np.ndarray) -> np.ndarray:
    return rgb.max(axis=1) - rgb.min(axis=1)


# Signed distances in pixels (negative inside) from pixel centres at offsets (x, y) from the
# shape's centre; every shape fits in the circle of radius r. (c, s) is a random turn, used by
# the triangle only: turned squares, diamonds and crosses would become one another.

def _circle(x: np.ndarray, y: np.ndarray, r: np.ndarray, c: np.ndarray, s: np.ndarray
            ) -> np.ndarray:
    return np.sqrt(x * x + y * y) - r


def _ring(x: np.ndarray, y: np.ndarray, r: np.ndarray, c: np.ndarray, s: np.ndarray
          ) -> np.ndarray:
    middle = r * ((1.0 + _RING_HOLE) / 2)
    half_band = r * ((1.0 - _RING_HOLE) / 2)
    return np.abs(np.sqrt(x * x + y * y) - middle) - half_band


def _box(x: np.ndarray, y: np.ndarray, half_x: np.ndarray, half_y: np.ndarray) -> np.ndarray:
    qx = np.abs(x) - half_x
    qy = np.abs(y) - half_y
    ox = np.maximum(qx, 0.0)
    oy = np.maximum(qy, 0.0)
    return np.sqrt(ox * ox + oy * oy) + np.minimum(np.maximum(qx, qy), 0.0)


def _square(x: np.ndarray, y: np.ndarray, r: np.ndarray, c: np.ndarray, s: np.ndarray
            ) -> np.ndarray:
    half = r * math.sqrt(0.5)
    return _box(x, y, half, half)


def _cross(x: np.ndarray, y: np.ndarray, r: np.ndarray, c: np.ndarray, s: np.ndarray
           ) -> np.ndarray:
    # The arms' outer corners (length, thickness) lie on the circle of radius r.
    thickness = r * _CROSS_ARM
    length = r * math.sqrt(1.0 - _CROSS_ARM * _CROSS_ARM)
    # Exact outside, a slight underestimate of depth inside: only the edge matters here.
    return np.minimum(_box(x, y, length, thickness), _box(x, y, thickness, length))


def _diamond(x: np.ndarray, y: np.ndarray, r: np.ndarray, c: np.ndarray, s: np.ndarray
             ) -> np.ndarray:
    # A rhombus with half-diagonals (bx, by) = (0.7 r, r) (Inigo Quilez's exact distance).
    bx = r * _DIAMOND_WIDTH
    by = r
    ax = np.abs(x)
    ay = np.abs(y)
    h = np.clip(((bx - 2.0 * ax) * bx - (by - 2.0 * ay) * by) / (bx * bx + by * by), -1.0, 1.0)
    dx = ax - 0.5 * bx * (1.0 - h)
    dy = ay - 0.5 * by * (1.0 + h)
    return np.sqrt(dx * dx + dy * dy) * np.sign(ax * by + ay * bx - bx * by)


def _triangle(x: np.ndarray, y: np.ndarray, r: np.ndarray, c: np.ndarray, s: np.ndarray
              ) -> np.ndarray:
    # Equilateral, inscribed in the circle of radius r, turned by (c, s) about its centre
    # (Inigo Quilez's exact distance to an equilateral triangle in its own frame).
    k = math.sqrt(3.0)
    half_edge = r * (k / 2)
    u = np.abs(c * x + s * y) - half_edge
    v = (c * y - s * x) + half_edge / k
    fold = u + k * v > 0.0
    u, v = np.where(fold, (u - k * v) / 2, u), np.where(fold, (-k * u - v) / 2, v)
    u = u - np.clip(u, -2.0 * half_edge, 0.0)
    return -np.sqrt(u * u + v * v) * np.sign(v)
