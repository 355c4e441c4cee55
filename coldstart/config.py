"""The one typed, frozen configuration object, loaded from TOML and `--set` overrides."""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from coldstart.resources import project_text

DEFAULT_CONFIG = "conf/coldstart.toml"

PRIORS = ("beta", "hierarchical")


class ConfigError(ValueError):
    """A config file or `--set` override that cannot be applied."""


@dataclass(frozen=True)
class Smoothing:
    prior: str = "beta"
    alpha0: float = 2.0
    beta0: float = 2.0

    @property
    def m(self) -> float:
        return self.alpha0 + self.beta0


@dataclass(frozen=True)
class Scoring:
    alpha: float = 0.5
    beta: float = 0.4
    gamma: float = 0.1
    delta: float = 0.0


@dataclass(frozen=True)
class Freshness:
    lambda_: float = 0.01
    unplayed_days: float = 365.0


@dataclass(frozen=True)
class Mmr:
    pool_size: int = 20
    k: int = 5
    lambda_: float = 0.5


@dataclass(frozen=True)
class Flags:
    min_sessions: int = 50
    max_abandonment: float = 0.6
    min_feedback: int = 20
    max_dislike: float = 0.6


@dataclass(frozen=True)
class Quality:
    max_reject_fraction: float = 0.01


@dataclass(frozen=True)
class Mysql:
    read_partitions: int = 4
    write_batch_size: int = 10000


@dataclass(frozen=True)
class Profile:
    """SPEC §10: recommendations for the whole onboarding profile."""

    enabled: bool = True
    age_weight: float = 3.0
    level_weight: float = 3.0
    jaccard_power: float = 2.0
    degree_power: float = 0.5
    like_weight: float = 0.0
    preferred_types_only: bool = False
    # beyond SPEC §10 (0: off, §10 exactly): each engagement weighted by 2^(-age / half-life), age the
    # days from the user's latest completion (like) of the workout to as_of
    recency_half_life_days: float = 0.0


@dataclass(frozen=True)
class Scale:
    # users are broadcast to the event joins as compact codes up to this many
    broadcast_users_max: int = 30_000_000


@dataclass(frozen=True)
class Eval:
    cutoff: str = ""
    test_quantile: float = 0.8
    validation_quantile: float = 0.6
    horizon_days: float = 30.0
    k: int = 5
    seed: int = 42
    ridge_l2: float = 1.0  # the `ridge` baseline's penalty


@dataclass(frozen=True)
class Config:
    as_of: str = ""
    smoothing: Smoothing = field(default_factory=Smoothing)
    scoring: Scoring = field(default_factory=Scoring)
    freshness: Freshness = field(default_factory=Freshness)
    mmr: Mmr = field(default_factory=Mmr)
    profile: Profile = field(default_factory=Profile)
    flags: Flags = field(default_factory=Flags)
    quality: Quality = field(default_factory=Quality)
    mysql: Mysql = field(default_factory=Mysql)
    scale: Scale = field(default_factory=Scale)
    eval: Eval = field(default_factory=Eval)
    # grids for tuning, config key -> candidate values: the segment methods' ([tune]) and the
    # profile methods' ([tune.profile])
    tune: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    tune_profile: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def with_overrides(self, overrides: dict[str, Any]) -> Config:
        """A copy with `section.key` values replaced (values coerced to the field's type)."""
        cfg = self
        for key, value in overrides.items():
            cfg = _replace_key(cfg, key, value)
        _check(cfg)
        return cfg

    def get(self, key: str) -> Any:
        obj: Any = self
        for part in key.split("."):
            if not hasattr(obj, _attr(part)):
                raise ConfigError(f"unknown config key {key!r}")
            obj = getattr(obj, _attr(part))
        return obj

    def to_dict(self) -> dict[str, Any]:
        """The effective config with the TOML key names (for the run report)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "tune":
                out["tune"] = {k: list(v) for k, v in value}
            elif f.name == "tune_profile":
                out["tune"]["profile"] = {k: list(v) for k, v in value}
            elif dataclasses.is_dataclass(value):
                out[f.name] = {_toml_name(sf.name): getattr(value, sf.name) for sf in fields(value)}
            else:
                out[f.name] = value
        return out


def _attr(toml_name: str) -> str:
    return "lambda_" if toml_name == "lambda" else toml_name


def _toml_name(attr: str) -> str:
    return "lambda" if attr == "lambda_" else attr


def _coerce(value: Any, like: Any, key: str) -> Any:
    """Coerce a TOML or command-line value to the type of the default it replaces."""
    try:
        if isinstance(like, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if isinstance(like, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(like, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"config key {key!r}: cannot use {value!r} as {type(like).__name__}") from None


def _replace_key(cfg: Config, key: str, value: Any) -> Config:
    parts = key.split(".")
    if len(parts) == 1:
        name = parts[0]
        if name not in ("as_of",):
            raise ConfigError(f"unknown config key {key!r}")
        return dataclasses.replace(cfg, as_of=_coerce(value, cfg.as_of, key))
    if len(parts) != 2:
        raise ConfigError(f"unknown config key {key!r}")
    section_name, name = parts[0], _attr(parts[1])
    section = getattr(cfg, section_name, None)
    if section is None or not dataclasses.is_dataclass(section) or not hasattr(section, name):
        raise ConfigError(f"unknown config key {key!r}")
    new_section = dataclasses.replace(section, **{name: _coerce(value, getattr(section, name), key)})
    return dataclasses.replace(cfg, **{section_name: new_section})


def _check(cfg: Config) -> None:
    if cfg.smoothing.prior not in PRIORS:
        raise ConfigError(f"smoothing.prior must be one of {PRIORS}, not {cfg.smoothing.prior!r}")
    if cfg.smoothing.alpha0 <= 0 or cfg.smoothing.beta0 <= 0:
        raise ConfigError("smoothing.alpha0 and smoothing.beta0 must be > 0")
    if cfg.mmr.k < 1 or cfg.mmr.pool_size < 1:
        raise ConfigError("mmr.k and mmr.pool_size must be >= 1")
    if not 0.0 <= cfg.mmr.lambda_ <= 1.0:
        raise ConfigError("mmr.lambda must be in [0, 1]")
    if cfg.eval.ridge_l2 <= 0:
        raise ConfigError("eval.ridge_l2 must be > 0")
    if cfg.mysql.read_partitions < 1:
        raise ConfigError("mysql.read_partitions must be >= 1")
    p = cfg.profile
    if min(p.age_weight, p.level_weight, p.jaccard_power, p.degree_power, p.like_weight,
           p.recency_half_life_days) < 0:
        raise ConfigError("profile.age_weight, level_weight, jaccard_power, degree_power, like_weight and "
                          "recency_half_life_days must be >= 0")


def _flatten(table: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def parse_set(items: Iterable[str]) -> dict[str, str]:
    """`["mmr.k=10", ...]` -> `{"mmr.k": "10"}`."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults <- TOML file (default `conf/coldstart.toml`) <- overrides."""
    name = str(path) if path else DEFAULT_CONFIG
    try:
        text = Path(path).read_text(encoding="utf-8") if path else project_text(DEFAULT_CONFIG)
        table = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {name}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {name}: {exc}") from None
    tune = table.pop("tune", {})
    tune_profile = tune.pop("profile", {})
    values = dict(_flatten(table))
    values.update(overrides or {})
    cfg = Config().with_overrides(values)
    return dataclasses.replace(cfg, tune=_grid(cfg, tune, "tune"),
                               tune_profile=_grid(cfg, tune_profile, "tune.profile"))


def _grid(cfg: Config, table: dict[str, Any], name: str) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    grid = []
    for key, candidates in table.items():
        cfg.get(key)  # unknown keys fail here, before a long tuning run
        if not isinstance(candidates, list) or not candidates:
            raise ConfigError(f"{name}.{key} must be a non-empty list")
        grid.append((key, tuple(candidates)))
    return tuple(grid)
