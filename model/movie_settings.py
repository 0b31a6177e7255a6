"""What a movie of a run shows, and how big and fast; light, for the window's dialog."""

from __future__ import annotations

from dataclasses import dataclass

FORMATS = (".gif", ".mp4", ".webm")
MODELS = ("left", "right")  # the columns; "ae" or "vae" name the pair's one model of a kind
MIN_SIZE, MAX_SIZE = (160, 120), (3840, 2160)
MAX_FPS = 60.0


@dataclass(frozen=True)
class MovieSettings:
    """What the movie shows and how big and fast it is."""

    models: tuple[str, ...] = MODELS
    width: int = 800
    height: int = 420
    fps: float = 5.0

    def problems(self) -> list[str]:
        out = []
        if not self.models or any(m not in (*MODELS, "ae", "vae") for m in self.models):
            out.append(f"the models are 'left', 'right' (or 'ae', 'vae') or both, not "
                       f"{self.models!r}")
        if not (MIN_SIZE[0] <= self.width <= MAX_SIZE[0]
                and MIN_SIZE[1] <= self.height <= MAX_SIZE[1]):
            out.append(f"the size must be from {MIN_SIZE[0]}x{MIN_SIZE[1]} to "
                       f"{MAX_SIZE[0]}x{MAX_SIZE[1]} pixels, not {self.width}x{self.height}")
        if not 0 < self.fps <= MAX_FPS:
            out.append(f"the frame rate must be above 0 and at most {MAX_FPS:g}, "
                       f"not {self.fps:g}")
        return out
