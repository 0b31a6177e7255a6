"""Which two models a run trains side by side: an AE, or a VAE with the run's β or its own.

A pair is written as two short texts, one a column: "ae", "vae" (a VAE whose β is the run's,
TrainConfig.beta, which may change while training) or "vae:4" (a VAE whose β stays 4). The
default, ("ae", "vae"), is the comparison the program exists to show; ("vae:1", "vae") with
β 4 puts two VAEs side by side that differ by β alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("ae", "vae")
DEFAULT_PAIR = ("ae", "vae")
SLOTS = ("left", "right")  # the columns, in the order a pair lists them


@dataclass(frozen=True)
class ModelSpec:
    """One column's model: its kind and, for a VAE with a β of its own, that β."""

    kind: str  # one of KINDS
    beta: float | None = None  # None: the run's β (a VAE) or no KL term at all (an AE)

    @property
    def variational(self) -> bool:
        return self.kind == "vae"

    def beta_in(self, run_beta: float) -> float:
        """The weight of this model's KL term in a run whose β is `run_beta` (0 for an AE)."""
        if not self.variational:
            return 0.0
        return run_beta if self.beta is None else self.beta

    def text(self) -> str:
        """What `parse_spec` reads back: "ae", "vae" or "vae:4"."""
        return self.kind if self.beta is None else f"{self.kind}:{_number(self.beta)}"

    def label(self, run_beta: float | None = None) -> str:
        """How the window names it: "AE", "VAE", or "VAE β=4" where β is its own or the
        caller asks for it (`run_beta`)."""
        if not self.variational:
            return "AE"
        beta = self.beta if self.beta is not None else run_beta
        return "VAE" if beta is None else f"VAE \u03b2={_number(beta)}"


def _number(value: float) -> str:
    """4.0 as "4", 0.5 as "0.5": the shortest text that reads back as the value."""
    return f"{value:g}" if float(f"{value:g}") == value else repr(float(value))


def parse_spec(text: str) -> ModelSpec:
    """"ae", "vae" or "vae:BETA" as a ModelSpec; ValueError with a sentence otherwise.
    (The β's bounds are TrainConfig's: it checks a pair's βs as it checks its own.)"""
    kind, sep, beta = str(text).strip().lower().partition(":")
    if kind not in KINDS:
        raise ValueError(f"a model must be ae, vae or vae:BETA (a VAE with its own beta), "
                         f"not {text!r}")
    if not sep:
        return ModelSpec(kind)
    if kind == "ae":
        raise ValueError(f"an AE has no beta (it has no KL term), so {text!r} is not a model")
    try:
        value = float(beta)
    except ValueError:
        raise ValueError(f"the beta in {text!r} must be a number") from None
    if not math.isfinite(value):
        raise ValueError(f"the beta in {text!r} must be a finite number")
    return ModelSpec(kind, value)


def parse_pair(texts) -> tuple[ModelSpec, ModelSpec]:
    """Two texts as two ModelSpecs; ValueError with a sentence when there are not two or one
    is not a model."""
    texts = tuple(texts)
    if len(texts) != 2:
        raise ValueError(f"a pair is two models, not {len(texts)}")
    return parse_spec(texts[0]), parse_spec(texts[1])


def distinct_labels(names) -> tuple[str, ...]:
    """The columns' names, each followed by its slot ("AE (left)") where both would read the
    same (two AEs, or two VAEs of one β), so that nothing shown for one is ambiguous."""
    names = tuple(names)
    if len(set(names)) == len(names):
        return names
    return tuple(f"{name} ({slot})" for name, slot in zip(names, SLOTS, strict=True))


def pair_labels(pair: tuple[ModelSpec, ModelSpec], run_beta: float) -> tuple[str, str]:
    """The two columns' names: "AE" and "VAE" for the default pair, β shown wherever two VAEs
    could otherwise not be told apart, or one has its own."""
    show_beta = sum(s.variational for s in pair) == 2
    return tuple(s.label(run_beta if show_beta else None) for s in pair)


def one_of_kind(kinds, items, kind: str, what: str):
    """The item whose kind is `kind` (the VAE of an AE | VAE pair, say); ValueError when the
    pair holds none or two of that kind, where a caller must name the column instead."""
    matches = [item for k, item in zip(kinds, items, strict=True) if k == kind]
    if len(matches) != 1:
        raise ValueError(f"this {what} holds {len(matches)} models of kind {kind!r}, not one; "
                         "name its column (left or right) instead")
    return matches[0]


def column_of(snapshot, which: str):
    """A snapshot's column (vae_gui.model.training.Column) by its slot ("left", "right") or
    by its model's kind where the pair holds one of that kind ("ae", "vae")."""
    if which in SLOTS:
        return snapshot.columns[SLOTS.index(which)]
    return snapshot.of_kind(which)
