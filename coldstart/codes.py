"""Compact codes for the categories, so that millions of users fit in a broadcast.

A user becomes (user_id, al_code, type_set): `al_code` numbers the (age group,
level) pair, `type_set` has bit t set when the user prefers catalog type t (past 63
types, a sorted array of type indices). A session's segment test is then one shift and
one and. The codes are computed on the driver, once per distinct category combination:
they are bounded by the categories, not by users.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

# bits of a signed 64-bit mask usable for types; more types fall back to an array of indices
MASK_BITS = 63


def string_array(values: tuple[str, ...]) -> Column:
    """A literal array<string> (typed even when empty, where `F.array()` alone would not be)."""
    return F.array(*(F.lit(v) for v in values)) if values else F.array().cast("array<string>")


def _bit(index: Column) -> Column:
    """1 << index as a long (the Python shiftleft takes only a literal shift)."""
    return F.call_function("shiftleft", F.lit(1).cast("long"), index)


@dataclass(frozen=True)
class Codes:
    age_groups: tuple[str, ...]
    levels: tuple[str, ...]
    types: tuple[str, ...]

    @property
    def uses_mask(self) -> bool:
        return len(self.types) <= MASK_BITS

    @property
    def type_set_type(self) -> T.DataType:
        return T.LongType() if self.uses_mask else T.ArrayType(T.IntegerType())

    def al_code_of(self, age_group: str, fitness_level: str) -> int:
        return self.age_groups.index(age_group) * len(self.levels) + self.levels.index(fitness_level)

    def type_set_of(self, preferred_types: Iterable[str]) -> int | list[int]:
        """The catalog types among `preferred_types` as a bit mask (or sorted indices past 63 types)."""
        indices = sorted({self.types.index(t) for t in preferred_types if t in self.types})
        return sum(1 << i for i in indices) if self.uses_mask else indices

    def type_index(self, workout_type: Column) -> Column:
        if not self.types:
            return F.lit(None).cast("int")
        lookup = F.create_map(*(x for i, t in enumerate(self.types) for x in (F.lit(t), F.lit(i))))
        return F.element_at(lookup, workout_type)

    def prefers(self, type_set: Column, type_index: Column) -> Column:
        if not self.uses_mask:
            return F.coalesce(F.array_contains(type_set, type_index), F.lit(False))
        return F.coalesce(type_set.bitwiseAND(_bit(type_index)) != 0, F.lit(False))

    def type_names(self, type_set: int | list[int] | None) -> list[str]:
        """A `type_set` value, on the driver, back to the type names."""
        if type_set is None:
            return []
        if isinstance(type_set, int):
            return [t for i, t in enumerate(self.types) if type_set >> i & 1]
        return [self.types[i] for i in type_set]

    def age_level_pairs(self) -> list[tuple[int, str, str]]:
        """(al_code, age_group, fitness_level) for every combination: the universe's first two axes,
        numbered as `al_code_of` numbers them."""
        n_levels = len(self.levels)
        return [(a * n_levels + lv, age_group, level) for a, age_group in enumerate(self.age_groups)
                for lv, level in enumerate(self.levels)]
