"""The option grammar of `hs synth` (docs/synth.md): where the base images come from and which
hidden strata to plant. Every parser raises a one-line `UsageError` that quotes the option and
shows a valid example.

    --from-npz FILE | --from-idx [SPLIT=]IMAGES,LABELS (repeatable) | --from-manifest FILE
    --per-class N | SPLIT=N[,SPLIT=N...]        seeded sample of N images per class (and split)
    --superclass NAME=CLASS[,CLASS...]          (repeatable) labels become superclasses
    --spurious drain:[SPLIT.]pos=F,[SPLIT.]neg=F[,...]
    --rare CLASS:F        (repeatable) keep a fraction F of CLASS in the train split
    --noisy CLASS:F       (repeatable) flip the label of a fraction F of CLASS in the train split
    --subtle CLASS:F[:CONTRAST]   every CLASS image gets a lesion, a fraction F of them faint
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hstool.data.manifest import SPLITS
from hstool.errors import OptionError, UsageError, option_ref

SPURIOUS_KINDS = ("drain",)
SIDES = ("pos", "neg")
FAINT_CONTRAST = 0.15  # default contrast of a subtle lesion
CLEAR_CONTRAST = 0.60  # contrast of the other lesions of the class
_KEY = re.compile(r"(?:(?P<split>[a-z]+)\.)?(?P<side>[a-z]+)")


def _fraction(text: str, option: str, example: str, *, low_open: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 < value <= 1.0 if low_open else 0.0 <= value <= 1.0):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise UsageError(f"{option}: {text!r} is not a number in {interval}; e.g. {example}")
    return value


def _split_name(text: str, option: str) -> str:
    if text not in SPLITS:
        raise UsageError(f"{option}: {text!r} is not a split; use {', '.join(SPLITS)}")
    return text


@dataclass(frozen=True)
class Spurious:
    """A spurious correlate (`kind`, e.g. a chest drain) in a fraction of each class's images:
    `fractions[(split, side)]`, side `pos` or `neg`, split None for every split. A split-specific
    value overrides the general one; an unspecified fraction is 0."""

    kind: str
    fractions: dict[tuple[str | None, str], float]

    EXAMPLE = "drain:pos=0.8,neg=0.1 or drain:train.pos=0.9,train.neg=0.1,test.pos=0.3,test.neg=0.1"

    @classmethod
    def parse(cls, text: str) -> Spurious:
        option = f"{option_ref('spurious')} {text!r}"
        kind, sep, rest = text.partition(":")
        kind = kind.strip()
        if not sep or not rest.strip():
            raise UsageError(f"{option}: expected KIND:[SPLIT.]pos=F,[SPLIT.]neg=F; e.g. {cls.EXAMPLE}")
        if kind not in SPURIOUS_KINDS:
            raise UsageError(f"{option}: unknown correlate {kind!r}; available: {', '.join(SPURIOUS_KINDS)}")
        fractions: dict[tuple[str | None, str], float] = {}
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            match = _KEY.fullmatch(key.strip())
            if not eq or match is None or match["side"] not in SIDES:
                raise UsageError(
                    f"{option}: {item.strip()!r} is not [SPLIT.]pos=F or [SPLIT.]neg=F; e.g. {cls.EXAMPLE}"
                )
            split = _split_name(match["split"], option) if match["split"] else None
            if (split, match["side"]) in fractions:
                raise UsageError(f"{option}: {key.strip()!r} is given twice; give each fraction once")
            fractions[(split, match["side"])] = _fraction(value.strip(), option, cls.EXAMPLE)
        return cls(kind, fractions)

    def fraction(self, split: str | None, side: str) -> float:
        return self.fractions.get((split, side), self.fractions.get((None, side), 0.0))

    def splits_named(self) -> set[str]:
        return {split for split, _ in self.fractions if split is not None}

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fractions": {f"{s}.{side}" if s else side: f for (s, side), f in self.fractions.items()},
        }


@dataclass(frozen=True)
class ClassFraction:
    """`--rare CLASS:F` (keep F of CLASS) or `--noisy CLASS:F` (flip F of CLASS's labels)."""

    klass: str
    fraction: float

    @classmethod
    def parse(cls, text: str, option: str) -> ClassFraction:
        example = f"{option} 6:0.25"
        parts = text.split(":")
        if len(parts) != 2 or not parts[0].strip():
            raise UsageError(f"{option} {text!r}: expected CLASS:FRACTION; e.g. {example}")
        return cls(parts[0].strip(), _fraction(parts[1].strip(), f"{option} {text!r}", example))


@dataclass(frozen=True)
class Subtle:
    """`--subtle CLASS:F[:CONTRAST]`: every image of CLASS gets a lesion; in a fraction F of
    them (the subtle subclass) its contrast is CONTRAST, in the others CLEAR_CONTRAST."""

    klass: str
    fraction: float
    contrast: float = FAINT_CONTRAST

    @classmethod
    def parse(cls, text: str) -> Subtle:
        option, example = f"{option_ref('subtle')} {text!r}", "1:0.3 or 1:0.3:0.1"
        parts = text.split(":")
        if len(parts) not in (2, 3) or not parts[0].strip():
            raise UsageError(f"{option}: expected CLASS:FRACTION[:CONTRAST]; e.g. {example}")
        contrast = FAINT_CONTRAST
        if len(parts) == 3:
            contrast = _fraction(parts[2].strip(), option, example, low_open=True)
            if contrast >= CLEAR_CONTRAST:
                raise UsageError(
                    f"{option}: a subtle lesion's contrast must be below the others' ({CLEAR_CONTRAST}); e.g. {example}"
                )
        return cls(parts[0].strip(), _fraction(parts[1].strip(), option, example), contrast)


def parse_superclasses(items: list[str]) -> dict[str, tuple[str, ...]]:
    """`NAME=CLASS,CLASS,...` per item -> {name: classes}; a class in two superclasses is an error."""
    out: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for item in items:
        option = f"{option_ref('superclass')} {item!r}"
        name, eq, rest = item.partition("=")
        name = name.strip()
        classes = tuple(c.strip() for c in rest.split(","))
        if not eq or not name or not all(classes):
            raise UsageError(
                f"{option}: expected NAME=CLASS[,CLASS...]; e.g. {option_ref('superclass')} summer=0,3,5,6"
            )
        if name in out:
            raise UsageError(
                f"{option}: superclass {name!r} is given twice; list all its classes in one {option_ref('superclass')}"
            )
        for c in classes:
            if c in seen:
                raise UsageError(
                    f"{option}: class {c!r} is already in superclass {seen[c]!r}; each class belongs to one superclass"
                )
            seen[c] = name
        out[name] = classes
    return out


def parse_per_class(text: str | None) -> dict[str | None, int]:
    """`N` (every split) or `SPLIT=N[,SPLIT=N...]` -> {split or None: N}."""
    if text is None:
        return {}
    per_class = option_ref("per_class")
    option, example = f"{per_class} {text!r}", f"{per_class} 200 or {per_class} train=200,test=100"
    out: dict[str | None, int] = {}
    for item in text.split(","):
        split, eq, value = item.rpartition("=")
        key = _split_name(split.strip(), option) if eq else None
        if key in out or (eq and not split.strip()):
            raise UsageError(f"{option}: expected N or SPLIT=N[,SPLIT=N...] with each split once; e.g. {example}")
        try:
            n = int(value)
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"{option}: {value.strip()!r} is not a positive whole number; e.g. {example}")
        out[key] = n
    if None in out and len(out) > 1:
        raise UsageError(f"{option}: give either one N for every split or SPLIT=N pairs, not both; e.g. {example}")
    return out


def parse_list(text: str | None, option: str) -> tuple[str, ...] | None:
    """`a,b,c` -> ('a', 'b', 'c'): distinct, non-empty names (None stays None)."""
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise UsageError(f"{option} {text!r}: give distinct, non-empty names separated by commas")
    return names


def parse_idx_source(text: str) -> tuple[str | None, str, str]:
    """`[SPLIT=]IMAGES,LABELS` -> (split, images, labels)."""
    option = f"{option_ref('idx')} {text!r}"
    split, eq, files = text.partition("=")
    if not eq:
        split, files = "", text
    paths = [p.strip() for p in files.split(",")]
    if len(paths) != 2 or not all(paths):
        raise UsageError(
            f"{option}: expected [SPLIT=]IMAGES,LABELS; e.g. {option_ref('idx')} "
            "train=train-images-idx3-ubyte.gz,train-labels-idx1-ubyte.gz"
        )
    return (_split_name(split.strip(), option) if eq else None), paths[0], paths[1]


@dataclass(frozen=True)
class SynthSpec:
    """Everything `hs synth` plants, and how the base images are sampled; see docs/synth.md."""

    seed: int = 0
    per_class: dict[str | None, int] = field(default_factory=dict)
    superclasses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    positive: str | None = None
    spurious: Spurious | None = None
    rare: tuple[ClassFraction, ...] = ()
    noisy: tuple[ClassFraction, ...] = ()
    subtle: Subtle | None = None
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise OptionError("seed", self.seed, "must be a whole number >= 0", quoted=False)
        for option, items in ((option_ref("rare"), self.rare), (option_ref("noisy"), self.noisy)):
            names = [i.klass for i in items]
            if len(set(names)) != len(names):
                raise UsageError(f"{option}: a class is given twice ({', '.join(names)}); give each class once")

    @classmethod
    def from_options(
        cls,
        *,
        seed: int = 0,
        per_class: str | None = None,
        superclass: list[str] | None = None,
        positive: str | None = None,
        spurious: str | None = None,
        rare: list[str] | None = None,
        noisy: list[str] | None = None,
        subtle: str | None = None,
        size: str | None = None,
    ) -> SynthSpec:
        """The spec from option text as typed on the command line."""
        from hstool.data.preprocess import parse_size

        return cls(
            seed=seed,
            per_class=parse_per_class(per_class),
            superclasses=parse_superclasses(superclass or []),
            positive=positive,
            spurious=Spurious.parse(spurious) if spurious else None,
            rare=tuple(ClassFraction.parse(t, option_ref("rare")) for t in rare or []),
            noisy=tuple(ClassFraction.parse(t, option_ref("noisy")) for t in noisy or []),
            subtle=Subtle.parse(subtle) if subtle else None,
            size=parse_size(size) if size else None,
        )

    def parameters(self) -> dict[str, Any]:
        """Every parameter, JSON-ready, for the sidecars."""
        return {
            "per_class": {k or "*": v for k, v in self.per_class.items()} or None,
            "superclasses": {k: list(v) for k, v in self.superclasses.items()} or None,
            "positive": self.positive,
            "spurious": self.spurious.describe() if self.spurious else None,
            "rare": {r.klass: r.fraction for r in self.rare} or None,
            "noisy": {n.klass: n.fraction for n in self.noisy} or None,
            "subtle": (
                {
                    "class": self.subtle.klass,
                    "fraction": self.subtle.fraction,
                    "contrast": self.subtle.contrast,
                    "clear_contrast": CLEAR_CONTRAST,
                }
                if self.subtle
                else None
            ),
            "size": list(self.size) if self.size else None,
        }
