"""Built-in digits: MNIST-like 28x28 images rendered from the fonts that ship with matplotlib.

Each image is a font glyph fitted into a 20x20 box and centred by its centre of mass in a 28x28
frame, the way MNIST was made, then varied: random rotation, shear and scale, stroke width, blur,
contrast and noise. All randomness comes from one seeded generator, so a seed always gives the
same images. The work happens at twice the final resolution and is averaged down at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import get_data_path
from matplotlib.ft2font import FT2Font

from nnreally.data.dataset import LEVELS, N_TRAIN, N_VALID, SIDE

BOX = 20  # MNIST fits each digit into a 20x20 box before centring it
SCALE = 2  # supersampling factor: render at 56x56, average down to 28x28
RENDER_PX = 96  # font size (in pixels) of the first, high-resolution rendering
CHUNK = 4096  # images transformed at once; bounds memory
DIGITS_SEED = 2019  # the built-in data set is one fixed data set, whatever the training seed

FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmtt10.ttf",
    "cmti10.ttf",
)

# Ranges of the random variation (uniform unless said otherwise).
MAX_ROTATION_DEG = 15.0
MAX_SHEAR = 0.3
SCALE_RANGE = (0.78, 1.08)  # drawn separately for width and height
MAX_SHIFT_PX = 1.5  # MNIST's centring is not exact either
WARP_GRID = 4  # a smooth random warp: displacements drawn on a 4x4 grid, then interpolated
WARP_STD = 0.035  # in units of half the image side
DILATIONS = 4  # stroke width: 0..3 dilations of one (high-resolution) pixel each
BLUR_SIGMAS = (0.5, 0.9, 1.3)  # in high-resolution pixels
CONTRAST_RANGE = (0.7, 1.0)
NOISE_STD = 0.1  # multiplicative: ink gets texture, the background stays 0 as in MNIST


def _render(font: FT2Font, digit: int) -> torch.Tensor:
    """One glyph as a float image in [0, 1], cropped to its ink."""
    font.set_size(RENDER_PX, 72)  # 72 dpi: one point is one pixel
    font.set_text(str(digit))
    font.draw_glyphs_to_bitmap(antialiased=True)
    ink = torch.from_numpy(np.asarray(font.get_image(), dtype=np.float32) / 255.0)
    rows = ink.sum(1).nonzero()
    cols = ink.sum(0).nonzero()
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _centre(glyph: torch.Tensor) -> torch.Tensor:
    """Fit a glyph into the box (aspect kept) and centre its mass in the frame, supersampled."""
    box, side = BOX * SCALE, SIDE * SCALE
    h, w = glyph.shape
    factor = box / max(h, w)
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    small = F.interpolate(glyph[None, None], size=size, mode="bilinear", antialias=True)[0, 0]
    frame = torch.zeros(side, side)
    top, left = (side - size[0]) // 2, (side - size[1]) // 2
    frame[top : top + size[0], left : left + size[1]] = small
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    mass = frame.sum()
    dy = round(side / 2 - 0.5 - float((frame * ys).sum() / mass))
    dx = round(side / 2 - 0.5 - float((frame * xs).sum() / mass))
    return torch.roll(frame, shifts=(dy, dx), dims=(0, 1))


@cache
def masters() -> torch.Tensor:
    """Each (font, digit, stroke width) as a centred 56x56 image: (fonts, 10, widths, 56, 56)."""
    fonts = [FT2Font(str(Path(get_data_path(), "fonts", "ttf", name))) for name in FONTS]
    glyphs = torch.stack(
        [torch.stack([_centre(_render(font, d)) for d in range(10)]) for font in fonts]
    )  # (fonts, 10, 56, 56)
    widths = [glyphs]
    for _ in range(DILATIONS - 1):
        widths.append(F.max_pool2d(widths[-1], kernel_size=3, stride=1, padding=1))
    return torch.stack(widths, dim=2)


def _blur(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Gaussian blur with one sigma per image, as two 1-D passes (the kernel is separable)."""
    n, _, h, w = images.shape
    radius = int(3 * max(BLUR_SIGMAS))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(x[None, :] ** 2) / (2 * sigmas[:, None] ** 2))
    g = (g / g.sum(1, keepdim=True))[:, None]  # (n, 1, k)
    rows = F.conv2d(images.view(1, n, h, w), g[..., None], padding="same", groups=n)
    return F.conv2d(rows, g[:, :, None], padding="same", groups=n).view(n, 1, h, w)


@cache
def _sampling_bases(side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres as (x, y, 1) rows, and the matrix that spreads a coarse warp over them.

    Both are fixed, so a chunk's affine maps and smooth warps become two matrix products
    instead of a call to ``affine_grid`` and an upsampling per chunk.
    """
    coords = (torch.arange(side, dtype=torch.float32) * 2 + 1) / side - 1
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    base = torch.stack([xs.flatten(), ys.flatten(), torch.ones(side * side)], dim=1)
    cells = torch.eye(WARP_GRID * WARP_GRID).view(-1, 1, WARP_GRID, WARP_GRID)
    spread = F.interpolate(cells, size=(side, side), mode="bicubic", align_corners=False)
    return base, spread.view(WARP_GRID * WARP_GRID, side * side)


def _uniform(gen: torch.Generator, n: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen)


def _transform(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random affine, blur, downsampling, contrast and noise for (n, 1, 56, 56) images."""
    n = images.shape[0]
    angle = torch.deg2rad(_uniform(gen, n, -MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    shear = _uniform(gen, n, -MAX_SHEAR, MAX_SHEAR)
    sx, sy = _uniform(gen, n, *SCALE_RANGE), _uniform(gen, n, *SCALE_RANGE)
    shift = _uniform(gen, 2 * n, -MAX_SHIFT_PX, MAX_SHIFT_PX).view(n, 2) * 2 / SIDE
    cos, sin = torch.cos(angle), torch.sin(angle)
    # affine_grid maps output coordinates to input ones, so this is the inverse of the
    # transform the digit undergoes; with zero translation the centre of mass stays put.
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = cos / sx, (-sin + shear) / sx
    theta[:, 1, 0], theta[:, 1, 1] = sin / sy, cos / sy
    theta[:, :, 2] = shift
    base, spread = _sampling_bases(images.shape[-1])
    warp = WARP_STD * torch.randn(n * 2, WARP_GRID * WARP_GRID, generator=gen)
    coords = torch.addmm(warp @ spread, theta.view(n * 2, 3), base.T)  # (x, y) rows per image
    grid = coords.view(n, 2, *images.shape[2:]).permute(0, 2, 3, 1)
    warped = F.grid_sample(images, grid, mode="bilinear", align_corners=False)
    sigma = torch.tensor(BLUR_SIGMAS)[torch.randint(len(BLUR_SIGMAS), (n,), generator=gen)]
    small = F.avg_pool2d(_blur(warped, sigma), SCALE)
    small = small / small.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    small = small * _uniform(gen, n, *CONTRAST_RANGE).view(n, 1, 1, 1)
    small = small * (1 + NOISE_STD * torch.randn(small.shape, generator=gen))
    # quantised to 8 bits like MNIST, so that a cache of bytes holds them exactly
    return small.clamp_(0.0, 1.0).mul_(LEVELS).round_().div_(LEVELS)


def make_digits(
    n: int, seed: int = DIGITS_SEED, progress: Callable[[int], object] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` generated digits as (float32 (n, 784) in [0, 1], int64 labels), classes balanced.

    ``progress``, when given, is called with the number of images each chunk added.
    """
    gen = torch.Generator().manual_seed(seed)
    bank = masters()
    n_fonts, _, n_widths = bank.shape[:3]
    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=gen)]
    fonts = torch.randint(n_fonts, (n,), generator=gen)
    widths = torch.randint(n_widths, (n,), generator=gen)
    images = torch.empty(n, SIDE * SIDE)
    for start in range(0, n, CHUNK):
        part = slice(start, start + CHUNK)
        chosen = bank[fonts[part], labels[part], widths[part]].unsqueeze(1)
        images[part] = _transform(chosen, gen).view(-1, SIDE * SIDE)
        if progress is not None:
            progress(len(chosen))
    return images, labels


Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
_made: dict[tuple[int, int, int], Split] = {}  # each data set is made once per process


def made(n_train: int = N_TRAIN, n_valid: int = N_VALID, seed: int = DIGITS_SEED) -> bool:
    """Whether ``digits(n_train, n_valid, seed)`` is already in memory (returns at once)."""
    return (n_train, n_valid, seed) in _made


def digits(
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
    seed: int = DIGITS_SEED,
    progress: Callable[[int], object] | None = None,
) -> Split:
    """The built-in data set: ``x_train, y_train, x_valid, y_valid`` (made once per process)."""
    key = (n_train, n_valid, seed)
    if key not in _made:
        x, y = make_digits(n_train + n_valid, seed, progress)
        _made[key] = (x[:n_train], y[:n_train], x[n_train:], y[n_train:])
    return _made[key]
