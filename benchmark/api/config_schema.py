"""Model settings: each model declares them once, as a dataclass; one checker validates a config against it.

The convention: a stdlib dataclass, every field with a type, a default and its help as a `#` comment on
its line (continued on comment-only lines indented below it), as in models/unimp/config.py. A model
class names its dataclass in `Settings`; `benchmark.api.registry` names the same dataclass for the CLI,
so `unimp-bench models NAME` and the pre-run check import only these light modules (stdlib only here).

Types understood: bool (a real JSON true/false, never 0/1), int, float (an int is accepted), str,
list / tuple (from a JSON list; `tuple[float, ...]`, `list[str]`), dict (a JSON object; `dict[str, float]`),
a nested settings dataclass (a JSON object checked the same way), `X | None`, and Any.
A settings class may define `check_resolved(config)` for checks on more than one key (UniMP: the preset
merged with the overrides).
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import io
import json
import textwrap
import tokenize
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A model config that does not match the model's declared settings."""


@dataclasses.dataclass
class NoSettings:
    """The model has no settings."""


class _Mismatch(Exception):
    pass


def type_name(tp: Any) -> str:
    """How a settings type reads to someone writing JSON: int, float, list of float, str or null, ..."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any"
    if tp is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if tp in (list, tuple) or origin in (list, tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"list of {len(args)} ({', '.join(type_name(a) for a in args)})"
        return f"list of {type_name(args[0])}" if args else "list"
    if tp is dict or origin is dict:
        return f"dict of {type_name(args[0])} to {type_name(args[1])}" if args else "dict"
    if dataclasses.is_dataclass(tp):
        return "dict"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, errors: list[str]) -> Any:
    """`value` as type `tp` (int -> float, JSON list -> tuple), or raise _Mismatch."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            try:
                return _coerce(value, arm, key, errors)
            except _Mismatch:
                pass
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if tp in (list, tuple) or origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length
            if len(value) != len(args):
                raise _Mismatch
            return tuple(_coerce(v, a, key, errors) for v, a in zip(value, args))
        item = args[0] if args else Any
        return (origin or tp)(_coerce(v, item, key, errors) for v in value)
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        if not args:
            return dict(value)
        return {_coerce(k, args[0], key, errors): _coerce(v, args[1], key, errors) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Mismatch
        errors.extend(_problems(tp, value, prefix=f"{key}."))
        return value
    raise TypeError(f"settings type {tp!r} of {key!r} is not supported by benchmark.api.config_schema")


def _problems(settings: type, config: dict, prefix: str = "", out: dict | None = None) -> list[str]:
    """Every problem of `config` against `settings`; fills `out` with the converted values."""
    fields = {f.name: f for f in dataclasses.fields(settings) if f.init}
    hints = typing.get_type_hints(settings)
    problems: list[str] = []
    for key, value in config.items():
        if key not in fields:
            if not fields:
                problems.append(f"unknown setting {prefix}{key!r}: this model takes no settings")
                continue
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {prefix}{close[0]!r}?" if close else ""
            problems.append(f"unknown setting {prefix}{key!r}{hint} (valid settings: {', '.join(fields)})")
            continue
        try:
            converted = _coerce(value, hints[key], prefix + key, problems)
        except _Mismatch:
            problems.append(f"setting {prefix}{key!r} must be {type_name(hints[key])}, got {_json(value)}")
            continue
        if out is not None:
            out[key] = converted
    return problems


def _json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def check(settings: type, config: Any, where: str = "config") -> Any:
    """An instance of the dataclass `settings` from `config` (defaults for the keys it lacks); raises
    ConfigError naming every unknown key (with the close match) and every value of the wrong type."""
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: the config must be a JSON object, got {_json(config)}")
    values: dict[str, Any] = {}
    problems = _problems(settings, config, out=values)
    if problems:
        raise ConfigError(f"{where}: {'; '.join(problems)}")
    return settings(**values)


def check_settings(settings: type, config: Any, where: str) -> None:
    """`check`, then the settings class's own `check_resolved(config)` when it has one."""
    check(settings, config, where=where)
    resolved = getattr(settings, "check_resolved", None)
    if resolved is not None:
        resolved(config)


def check_model_config(name: str, config: Any) -> None:
    """Validate a run's config for the registered model `name` (imports only its settings module)."""
    from benchmark.api import registry  # the registry names this module's NoSettings: import it late

    check_settings(registry.settings(name), config, where=f"model {name}")


# ---- help: the comments of the declaration --------------------------------------------------------------
def _comments(klass: type) -> dict[str, str]:
    """field -> its comment, read from the class's own source: the comment on the field's line plus
    comment-only lines right below it that are indented deeper than the field."""
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError):
        return {}
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    skip = (tokenize.INDENT, tokenize.DEDENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING)
    first: dict[int, tokenize.TokenInfo] = {}  # row -> its first significant token
    for tok in tokens:
        if tok.type not in skip:
            first.setdefault(tok.start[0], tok)
    helps: dict[str, list[str]] = {}
    depth, field, col, last_row, in_statement = 0, None, 0, 0, False
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type == tokenize.NEWLINE:
            in_statement = False
        elif tok.type == tokenize.COMMENT:
            row, text = tok.start[0], tok.string.lstrip("#").strip()
            if field and (in_statement or (first[row] is tok and tok.start[1] > col and row == last_row + 1)):
                helps[field].append(text)
                last_row = row
            elif first[row] is tok:
                field = None  # a section comment ends the previous field's help
        elif tok.type not in skip:
            if first[tok.start[0]] is tok:
                field = None
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                if depth == 1 and tok.type == tokenize.NAME and nxt is not None and nxt.string == ":":
                    field, col, last_row, in_statement = tok.string, tok.start[1], tok.start[0], True
                    helps[field] = []
            if field and in_statement:
                last_row = tok.end[0]
    return {k: " ".join(v) for k, v in helps.items() if v}


def field_help(settings: type) -> dict[str, str]:
    """field -> help, the nearest class in the MRO that comments the field winning."""
    out: dict[str, str] = {}
    for klass in reversed(settings.__mro__):
        if dataclasses.is_dataclass(klass):
            out.update(_comments(klass))
    return out


def describe_settings(settings: type, raw: bool = False) -> list[tuple[str, str, Any, str]]:
    """(name, type, default, help) per field, in declaration order; the default as JSON text unless `raw`."""
    hints = typing.get_type_hints(settings)
    helps = field_help(settings)
    rows = []
    for f in dataclasses.fields(settings):
        if not f.init:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        rows.append((f.name, type_name(hints[f.name]), default if raw else _json(default), helps.get(f.name, "")))
    return rows


def load_config_text(config: str):
    """`--config`: inline JSON (starting with "{"), or a .yaml/.yml/.json file; ConfigError naming the file and
    line otherwise. YAML is read with the safe loader (plain data, never objects)."""
    if config.lstrip().startswith("{"):
        try:
            return json.loads(config)
        except json.JSONDecodeError as e:
            raise ConfigError(f"inline JSON: {e.msg} at column {e.colno}") from None
    path = Path(config)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', None) or e})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} line {e.lineno}: not JSON ({e.msg}); use a .yaml file for YAML") from None
