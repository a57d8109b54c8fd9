"""Real 32x32 natural images made from scikit-image's sample photos (skimage.data), for CIFAR-size models.

Crops of the colour photos that ship inside the scikit-image wheel (no download): astronaut,
chelsea, coffee, rocket, immunohistochemistry, hubble_deep_field and retina (public domain or CC0,
as each loader's docstring in ``skimage.data`` states), cut at seeded positions and sizes and resized
with anti-aliasing to 32x32. Labels come from the model under test (its own clean predictions), so
clean accuracy is 100% by construction and every point is attacked.
"""

from __future__ import annotations

import numpy as np

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


def natural_images(n: int, *, size: int = 32, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) float32 NHWC images in [0, 1]: seeded square crops of the sample photos."""
    import skimage.data
    from skimage.transform import resize

    rng = np.random.default_rng(seed)
    photos = [np.asarray(getattr(skimage.data, name)()[..., :3], np.float32) / 255.0 for name in PHOTOS]
    images = []
    for i in range(n):
        photo = photos[i % len(photos)]
        height, width = photo.shape[:2]
        side = int(min(height, width) * rng.uniform(0.25, 0.9))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = photo[top : top + side, left : left + side]
        images.append(resize(crop, (size, size), anti_aliasing=True, preserve_range=True))
    return np.clip(np.stack(images), 0.0, 1.0).astype(np.float32)
