"""Formulation recipes: YAML files in ``models/`` naming the ``define_*`` blocks and their math."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from allocator.errors import AllocatorError, ExitCode

RECIPE_KEYS = {"name", "description", "family", "extends", "options", "blocks", "math", "reference"}
# paths: path/colgen families; step_minutes: time family; initial: ddd's first time points
# (releases, or paths: also each lot's minutes along its quickest route); lp_phase: ddd's LP
# relaxations first (true or false); dive: after them, ddd's MIP over the pairs they used
OPTION_KEYS = {
    "linking",
    "aggregate",
    "integer_teu",
    "paths",
    "step_minutes",
    "initial",
    "lp_phase",
    "dive",
}


class RecipeError(AllocatorError):
    """A recipe file is unknown or malformed."""

    exit_code = ExitCode.INVALID


@dataclass(frozen=True)
class Recipe:
    """A formulation: its family, the blocks it uses in order, options, and the math of each block."""

    name: str
    family: str
    blocks: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    math: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def with_options(self, **changes: Any) -> Recipe:
        """A copy with options changed; ``linking`` also adds or drops the strong linking block."""
        changes = {k: v for k, v in changes.items() if v is not None}
        options = self.options | changes
        blocks = list(self.blocks)
        if "linking" in changes:
            if changes["linking"] not in ("weak", "strong"):
                raise RecipeError(f"linking must be weak or strong, not {changes['linking']!r}")
            has = "define_linking_strong" in blocks
            if changes["linking"] == "strong" and not has:
                blocks.insert(blocks.index("define_linking_weak") + 1, "define_linking_strong")
            if changes["linking"] == "weak" and has:
                blocks.remove("define_linking_strong")
        return replace(self, options=options, blocks=tuple(blocks))


def models_dir() -> Path:
    """Folder holding the shipped recipes (``models/`` in a checkout, ``allocator/models`` installed)."""
    packaged = Path(str(files("allocator"))) / "models"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "models"


def available() -> list[str]:
    """Names of the shipped recipes."""
    return sorted(p.stem for p in models_dir().glob("*.yaml"))


def read_recipe(name_or_path: str | Path, known_blocks: Collection[str]) -> Recipe:
    """Read a recipe by name (``arc-strong``) or path, resolving ``extends`` and checking every key
    and that every block is one of ``known_blocks`` (``formulation.load_recipe`` passes its own)."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = models_dir() / f"{name_or_path}.yaml"
    if not path.exists():
        raise RecipeError(
            f"unknown model {str(name_or_path)!r}; available: {', '.join(available())}"
        )
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(doc) - RECIPE_KEYS
    if unknown:
        raise RecipeError(f"{path}: unknown keys {sorted(unknown)}; allowed {sorted(RECIPE_KEYS)}")
    parent = path.parent / f"{doc.get('extends')}.yaml"
    if not parent.exists():  # a recipe of one's own may extend a shipped one by name
        parent = models_dir() / f"{doc.get('extends')}.yaml"
    base = read_recipe(parent, known_blocks) if "extends" in doc else None
    options = (base.options if base else {}) | (doc.get("options") or {})
    if set(options) - OPTION_KEYS:
        raise RecipeError(f"{path}: unknown options {sorted(set(options) - OPTION_KEYS)}")
    recipe = Recipe(
        name=doc.get("name", path.stem),
        family=doc.get("family", base.family if base else "arc"),
        blocks=tuple(doc.get("blocks") or (base.blocks if base else ())),
        options=options,
        math=(base.math if base else {}) | (doc.get("math") or {}),
        description=doc.get("description", base.description if base else ""),
    )
    bad = [b for b in recipe.blocks if b not in known_blocks]
    if bad:
        raise RecipeError(f"{path}: unknown blocks {bad}; known: {', '.join(known_blocks)}")
    return recipe
