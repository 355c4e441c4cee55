"""Compact codes for the categories, so that millions of users fit in a broadcast.

A user becomes (user_id, al_code, type_mask): `al_code` numbers the (age group,
level) pair, `type_mask` has bit t set when the user prefers catalog type t. A
session's segment test is then one shift and one and, after a broadcast join,
instead of a shuffle join of the events with a wide users table. The category
lists come to the driver: they are bounded by the categories, not by users.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

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

    def _index(self, values: tuple[str, ...], column: Column) -> Column:
        if not values:
            return F.lit(None).cast("int")
        lookup = F.create_map(*(x for i, v in enumerate(values) for x in (F.lit(v), F.lit(i))))
        return F.element_at(lookup, column)

    def al_code(self, age_group: Column, fitness_level: Column) -> Column:
        return self._index(self.age_groups, age_group) * F.lit(len(self.levels)) + self._index(
            self.levels, fitness_level)

    def type_index(self, workout_type: Column) -> Column:
        return self._index(self.types, workout_type)

    def type_set(self, preferred_types: Column) -> Column:
        """The user's known preferred types: a bit mask (or an array of indices past 63 types)."""
        if not self.uses_mask:
            indices = F.transform(preferred_types, lambda t: self.type_index(t))
            return F.filter(indices, lambda i: i.isNotNull())
        # one array_contains per type rather than a lambda: this runs once per user, and
        # higher-order functions are interpreted
        mask = F.lit(0).cast("long")
        for i, workout_type in enumerate(self.types):
            mask = mask.bitwiseOR(F.when(F.array_contains(preferred_types, workout_type), F.lit(1 << i).cast("long"))
                                  .otherwise(F.lit(0).cast("long")))
        return mask

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
        """(al_code, age_group, fitness_level) for every combination, on the driver: the universe's
        first two axes, numbered as `al_code` numbers them."""
        n_levels = len(self.levels)
        return [(a * n_levels + lv, age_group, level) for a, age_group in enumerate(self.age_groups)
                for lv, level in enumerate(self.levels)]

    def decode_preferred(self, type_set: Column) -> Column:
        """The mask back to an array of type names (for frames that want the names)."""
        names = string_array(self.types)
        if not self.uses_mask:
            return F.transform(type_set, lambda i: F.element_at(names, i + 1))
        return F.filter(names, lambda _t, i: type_set.bitwiseAND(_bit(i)) != 0)

    def with_names(self, df: DataFrame) -> DataFrame:
        """Events with codes -> also `age_group`, `fitness_level`, `workout_type`, `preferred_types`."""
        n_levels = max(len(self.levels), 1)
        return df.withColumns({
            # the inverse of `al_code`
            "age_group": F.element_at(string_array(self.age_groups), (F.col("al_code") / n_levels).cast("int") + 1),
            "fitness_level": F.element_at(string_array(self.levels), F.col("al_code") % n_levels + 1),
            "workout_type": F.element_at(string_array(self.types), F.col("type_idx") + 1),
            "preferred_types": self.decode_preferred(F.col("type_set")),
        })
