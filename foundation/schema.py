"""Turning plain TOML data into frozen dataclasses, with errors for people.

A dataclass describes one table of a case file (the libraries declare their own input types
this way, e.g. :class:`models.protocol.CCStep`; :mod:`studies.case` composes them). Field
types drive the conversion (bool, int, float, str, ``Literal`` choices, tuples, lists and
dicts of these, nested dataclasses, tagged unions selected by a discriminator key);
:func:`spec` (``field(metadata=...)``) adds ranges and help:

    ``{"min": 0, "max": 1}``            closed bounds
    ``{"gt": 0}`` / ``{"lt": 1}``       open bounds
    ``{"help": "..."}``                 one line shown in error messages and `microbat case --help`

Every problem raises :class:`SchemaError` naming the dotted key, the value and what is
accepted, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args, get_origin

from foundation.errors import InputError


class SchemaError(InputError):
    """Plain data (a case file, a command-line case) that cannot be accepted.

    The message starts with the dotted key (``protocol.steps[0].c_rate: ...``);
    :mod:`studies.case` calls it ``CaseError``.
    """


def spec(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **meta: Any) -> Any:
    """A dataclass field with validation metadata (see module docstring)."""
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def build(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking every key, type and range."""
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where or 'case'}: expected a table, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = unknown[0]
        hint = difflib.get_close_matches(key, list(fields), n=1)
        raise SchemaError(
            f"{_join(where, key)}: unknown key"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f"; accepted keys in [{where or 'case'}]: {', '.join(fields)}"
        )
    kwargs = {}
    for name, f in fields.items():
        key = _join(where, name)
        if name in data:
            value = convert(hints[name], data[name], key)
            check_range(f, value, key, raw=data[name])
            kwargs[name] = value
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{key}: missing required key ({f.metadata.get('help', 'no default')})")
    try:
        return cls(**kwargs)
    except SchemaError:
        raise
    except (ValueError, TypeError, KeyError) as err:
        msg = err.args[0] if err.args else str(err)
        raise SchemaError(f"{where or 'case'}: {msg}") from None


def convert(tp: Any, value: Any, key: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return convert(option, value, key)
            except SchemaError as err:
                errors.append(str(err))
        raise SchemaError(
            errors[0] if len(errors) == 1 else f"{key}: {_show(value)} is not accepted: " + "; ".join(errors)
        )
    if origin is Literal:
        if value not in args:
            hint = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            raise SchemaError(
                f"{key}: {_show(value)} is not one of {', '.join(repr(a) for a in args)}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(f"{key}: expected true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"{key}: expected an integer, got {_show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{key}: expected a number, got {_show(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(f"{key}: expected a string, got {_show(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SchemaError(f"{key}: expected an array, got {_show(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise SchemaError(f"{key}: expected an array of {len(args)} values, got {_show(value)}")
        return tuple(convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise SchemaError(f"{key}: expected an array, got {_show(value)}")
        return [convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(f"{key}: expected a table, got {_show(value)}")
        vt = args[1] if args else Any
        return {str(k): convert(vt, v, _join(key, str(k))) for k, v in value.items()}
    raise TypeError(f"schema: unsupported field type {tp!r} at {key}")  # a bug, not bad input


def build_tagged(options: Mapping[str, type], discriminator: str, data: Any, where: str) -> Any:
    """Build one of several dataclasses, chosen by the value of ``data[discriminator]``."""
    if not isinstance(data, Mapping):
        raise SchemaError(f"{where}: expected a table, got {_show(data)}")
    kind = data.get(discriminator)
    if kind not in options:
        hint = difflib.get_close_matches(str(kind), list(options), n=1)
        raise SchemaError(
            f"{_join(where, discriminator)}: {_show(kind)} is not one of "
            f"{', '.join(repr(k) for k in options)}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        )
    return build(options[kind], data, where)


def check_range(f: dataclasses.Field, value: Any, key: str, raw: Any = None) -> None:
    meta = f.metadata
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        bad = None
        if "min" in meta and v < meta["min"]:
            bad = f">= {meta['min']}"
        elif "gt" in meta and not v > meta["gt"]:
            bad = f"> {meta['gt']}"
        elif "max" in meta and v > meta["max"]:
            bad = f"<= {meta['max']}"
        elif "lt" in meta and not v < meta["lt"]:
            bad = f"< {meta['lt']}"
        if bad:
            unit = f" {meta['unit']}" if "unit" in meta else ""
            shown = value if raw is None else raw
            raise SchemaError(f"{key}: {_show(shown)} is out of range; accepted: {bad}{unit}")


def describe(cls: type, prefix: str = "") -> list[str]:
    """One line per key of a dataclass schema: key, type, default, help (for --help)."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = _join(prefix, f.name)
        tp = hints[f.name]
        options = [a for a in get_args(tp) if a is not type(None)]
        if get_origin(tp) in (typing.Union, types.UnionType) and len(options) == 1:
            tp = options[0]  # an optional table: describe the table
        if dataclasses.is_dataclass(tp):
            lines.append(f"[{key}]")
            lines.extend(describe(tp, key))
            continue
        default = "" if f.default is dataclasses.MISSING else f" = {f.default!r}"
        lines.append(f"  {key}{default}    {f.metadata.get('help', '')}".rstrip())
    return lines


def set_key(data: dict[str, Any], cls: type, path: Sequence[str], value: Any) -> str:
    """Put ``value`` at ``path`` into plain data shaped like dataclass ``cls`` (as made by
    :func:`to_plain`; changed in place), checking that every key exists in the schema; return
    the key as error messages name it (``protocol.steps[0].c_rate``). Validate the result with
    :func:`build`.

    Path items are field names, or indices into an array (an index one past the end adds an
    item). Below a free-form table (a ``dict`` field such as parameter overrides) the rest of
    the path is one key, dots included: ``("parameters", "overrides", "nsd", "porosity")`` sets
    the key ``"nsd.porosity"``.

    Raises:
        SchemaError: naming the key, for an unknown key, an index out of range or a key below
            a plain value.
    """
    tp, node, where = cls, data, ""
    for i, part in enumerate(path):
        last = i == len(path) - 1
        tp = _table_type(tp, node)
        origin = get_origin(tp)
        if isinstance(tp, tuple) or dataclasses.is_dataclass(tp):  # a table (or one of several kinds)
            options = tp if isinstance(tp, tuple) else (tp,)
            owner = next((o for o in options if part in _init_fields(o)), None)
            if owner is None:
                names = list(dict.fromkeys(n for o in options for n in _init_fields(o)))
                hint = difflib.get_close_matches(part, names, n=1)
                raise SchemaError(
                    f"{_join(where, part)}: unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + f"; accepted keys in [{where or 'case'}]: {', '.join(names)}"
                )
            child_type = typing.get_type_hints(owner)[part]
            key = part
        elif origin in (dict, Mapping) or tp is dict:
            key, last = ".".join(path[i:]), True
            child_type = Any
        elif origin in (list, tuple):
            n = len(node)
            if not part.isdigit() or int(part) > n:
                raise SchemaError(f"{where}[{part}]: no such item; accepted: an index from 0 to {n - 1}"
                                  f" (or {n} to add one)")
            key = int(part)
            if key == n:
                node.append(None)
            args = get_args(tp)
            child_type = args[0] if args else Any
        else:
            raise SchemaError(f"{where}: is a value, not a table; accepted: {where} = VALUE")
        where = f"{where}[{key}]" if isinstance(key, int) else _join(where, key)
        if last:
            node[key] = value
            return where
        if not isinstance(node[key] if isinstance(key, int) else node.get(key), (dict, list)):
            node[key] = [] if get_origin(_unwrap_optional(child_type)) in (list, tuple) else {}
        tp, node = child_type, node[key]
    raise SchemaError(f"{where or 'case'}: no key given")


def _init_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _unwrap_optional(tp: Any) -> Any:
    if get_origin(tp) in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        return options[0] if len(options) == 1 else tp
    return tp


def _table_type(tp: Any, node: Any) -> Any:
    """``tp`` without ``None``; a union of tables becomes the one whose ``Literal`` keys match
    ``node`` (its discriminator, e.g. ``mode = "cc"``), else a tuple of all of them."""
    tp = _unwrap_optional(tp)
    if get_origin(tp) not in (typing.Union, types.UnionType):
        return tp
    tables = [a for a in get_args(tp) if dataclasses.is_dataclass(a)]
    for table in tables:
        tags = {n: get_args(t) for n, t in typing.get_type_hints(table).items() if get_origin(t) is Literal}
        if tags and isinstance(node, Mapping) and all(node.get(n) in v for n, v in tags.items()):
            return table
    return tuple(tables) if tables else tp


def to_plain(obj: Any) -> Any:
    """A dataclass tree back to plain TOML-like data (for manifests)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
