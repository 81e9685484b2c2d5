"""Option declarations: one help text, type, range and choice list per option, read by the config, the CLI and the API.

An option is a dataclass field made with `option(...)`. `validate` checks an instance against its declarations
(type, finiteness, range, choices) with a one-line error; `add_flags` turns the declarations into argparse flags.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, field, fields

from spatialgan import SpatialGANError


def option(default, help: str, *, low=None, high=None, choices=None, flag: str | None = None, group: str = "",
           cli: bool = True, parse=None, legacy=MISSING):
    """A declared option. `low`/`high` are inclusive bounds, `flag` overrides the CLI flag (e.g. '--no-xflip' for
    a default-True switch), `cli=False` keeps it out of the CLI (set through the API or the config only), `parse`
    turns the flag's text into the value (for tuples such as 'cx,cy'; it raises SpatialGANError). `legacy` is the
    value that runs saved before the option existed used, so their checkpoints keep behaving as they did."""
    meta = {"help": help, "low": low, "high": high, "choices": tuple(choices) if choices else None, "flag": flag,
            "group": group, "cli": cli, "parse": parse, "legacy": legacy}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def declared(cls) -> list:
    """The fields of a dataclass that were made with `option`."""
    return [f for f in fields(cls) if "help" in f.metadata]


def _kind(f) -> tuple[str, bool]:
    """('int' | 'float' | 'bool' | 'str' | 'list', nullable) from a field's annotation string."""
    text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    parts = [p.strip() for p in text.split("|")]
    return parts[0].split("[")[0], "None" in parts


def flag_name(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _where(f) -> str:
    shown = f.metadata.get("cli", True) or f.metadata.get("flag")      # a flag the CLI defines by hand
    return f"{f.name} ({flag_name(f)})" if shown else f.name


def check_value(f, value):
    """The value converted to the declared type, or a SpatialGANError saying what is wrong in one line."""
    kind, nullable = _kind(f)
    meta = f.metadata
    if kind == "object":                 # anything goes (e.g. a warp: text or a callable); its user checks it
        return value
    if value is None:
        if nullable:
            return None
        raise SpatialGANError(f"{_where(f)} needs a value")
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpatialGANError(f"{_where(f)} must be true or false, got {value!r}")
        return value
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpatialGANError(f"{_where(f)} must be a number, got {value!r}")
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise SpatialGANError(f"{_where(f)} must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise SpatialGANError(f"{_where(f)} must be a finite number, got {value!r}")
        low, high = meta.get("low"), meta.get("high")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (f"within {low:g}..{high:g}" if low is not None and high is not None
                      else f"at least {low:g}" if low is not None else f"at most {high:g}")
            raise SpatialGANError(f"{_where(f)} must be {bounds}, got {value:g}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise SpatialGANError(f"{_where(f)} must be text, got {value!r}")
        if meta.get("choices") and value not in meta["choices"]:
            raise SpatialGANError(f"{_where(f)} must be one of {', '.join(meta['choices'])}, got {value!r}")
        return value
    if kind in ("list", "tuple"):
        if not isinstance(value, (list, tuple)):
            raise SpatialGANError(f"{_where(f)} must be a list of values, got {value!r}")
        return list(value) if kind == "list" else tuple(value)
    return value


def validate(obj) -> None:
    """Checks every declared option of a dataclass instance in place (converting ints to floats where declared)."""
    for f in declared(type(obj)):
        setattr(obj, f.name, check_value(f, getattr(obj, f.name)))


def _parse_bool_flag(f, group):
    import argparse

    # A default-True switch is a --no-... flag; an unset default (a recipe's to fill) gets both forms.
    action = ("store_false" if f.default is True else argparse.BooleanOptionalAction if f.default is None
              else "store_true")
    group.add_argument(flag_name(f), dest=f.name, action=action, default=None, help=f.metadata["help"])


def _help_text(f) -> str:
    text = f.metadata["help"]
    default = None if f.default is MISSING else f.default
    if f.metadata.get("choices"):
        text += f" ({', '.join(f.metadata['choices'])})"
    if isinstance(default, tuple):
        default = ",".join(str(v) for v in default)
    if default not in (None, "", False) and "default" not in text:
        text += f" (default {default})"
    return text


def _argparse_type(parse):
    """A parse function as an argparse type: its SpatialGANError becomes argparse's one-line error."""
    import argparse

    def convert(text):
        try:
            return parse(text)
        except SpatialGANError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def add_flags(group, option_fields) -> list[str]:
    """argparse flags for declared fields, all defaulting to None (so that 'not given' is visible); returns their
    destination names."""
    names = []
    for f in option_fields:
        if not f.metadata.get("cli", True):
            continue
        kind, _ = _kind(f)
        if f.metadata.get("parse"):
            group.add_argument(flag_name(f), dest=f.name, type=_argparse_type(f.metadata["parse"]), default=None,
                               help=_help_text(f))
        elif kind == "bool":
            _parse_bool_flag(f, group)
        elif kind in ("int", "float", "str"):
            metavar = "N" if kind == "int" else "X" if kind == "float" else None
            group.add_argument(flag_name(f), dest=f.name, type={"int": int, "float": float, "str": str}[kind],
                               default=None, metavar=metavar, help=_help_text(f))
        else:
            continue
        names.append(f.name)
    return names
