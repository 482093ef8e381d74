"""Strict copies of values into builtin-only data, for verdicts the program cannot forge.

`encode(x)` walks `x` checking exact types (`type(x) is int`, never isinstance or ==)
and returns JSON-ready data: None, bool, int, float and str as themselves, every other
value as a one-key tag: {"i": hex} (ints beyond 64 bits), {"b": hex} (bytes), {"bi": name}
(a builtin class or function, such as `int`), {"c":
[re, im]}, {"l"|"t"|"s"|"fs"|"dq"|"it": [items]} (list, tuple, set, frozenset, deque, an
iterator drained), {"r": [start, stop, step]} (range), {"d": [[key, value], ...]}.
`encode(x, hook)` asks `hook(x)` for any other value (objects of the task's own classes,
the program's functions): a tagged dict ({"o": [class name, attributes]}, {"fn": name},
{"h": handle}) or None. A value that is not builtin data raises NotBuiltin with a sentence for the feedback:
objects of the program's classes, subclasses of builtins that override comparison or
truth (`__eq__`, `__hash__`, `__bool__`...). Subclasses that override none of them
(namedtuples, Counter, OrderedDict, defaultdict) are copied as their builtin base,
read through the base type's own methods so an overridden `__iter__` cannot lie.

`decode(data)` rebuilds real builtin objects from that data (in the judge, or in the
child for the copies an assert computes on). Standard library only: it runs in the jail.
"""

from __future__ import annotations

import builtins
import collections
import itertools

_type = type
_len = len
_id = id
_mro = type.__dict__["__mro__"].__get__
_class_dict = type.__dict__["__dict__"].__get__
_name = type.__dict__["__name__"].__get__

MAX_DEPTH = 100
MAX_ITEMS = 200_000  # elements drained from one iterator, and nodes in one value
# Methods whose override makes a value lie about what it equals or how it tests.
LYING = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__bool__",
         "__len__", "__contains__", "__iter__", "__getitem__", "__index__", "__int__",
         "__float__", "__abs__", "__round__", "__sub__", "__rsub__", "__add__", "__radd__")
_SHOWN = {"__eq__": "==", "__ne__": "!=", "__hash__": "hash", "__bool__": "truth value",
          "__len__": "len", "__iter__": "iteration"}
# Standard library subclasses copied as their base whatever methods they define.
_TRUSTED = {collections.Counter: dict, collections.OrderedDict: dict, collections.defaultdict: dict}
_ITERATORS = frozenset(_type(x) for x in (
    (i for i in ()), map(abs, ()), filter(None, ()), zip(), enumerate(()), reversed(()),
    iter([]), iter(()), iter(range(0)), iter(set()), iter(""), iter({}), iter({}.values()),
    iter({}.items()), {}.keys(), {}.values(), {}.items(), itertools.chain(),
    itertools.islice((), 0), itertools.permutations(()), itertools.combinations((), 0),
    itertools.product(), itertools.accumulate(()), itertools.starmap(abs, ()),
    itertools.zip_longest(), itertools.repeat(0, 0), itertools.count(),
    itertools.combinations_with_replacement((), 0), itertools.compress((), ()),
    itertools.takewhile(None, ()), itertools.dropwhile(None, ()), itertools.groupby(()),
))
_BASES = (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
_get_int = int.__int__
_get_float = float.__float__
_get_complex = complex.__complex__
_get_str = str.__str__
_get_bytes = bytes.__bytes__
_items = {list: list.__iter__, tuple: tuple.__iter__, set: set.__iter__,
          frozenset: frozenset.__iter__}
_dict_items = dict.items
_deque = collections.deque
_deque_iter = collections.deque.__iter__
_range = range
_hex = int.__format__
# Builtin classes and functions cross by name ({"bi": "int"}: `remove_datatype(xs, int)`),
# each side taking its own from this table, made before any program ran.
_BUILTIN_OBJECTS = {name: obj for name, obj in vars(builtins).items()
                    if not name.startswith("_") and (isinstance(obj, type) or _type(obj) is _type(len))}
_BUILTIN_NAMES = {_id(obj): name for name, obj in _BUILTIN_OBJECTS.items()}


class NotBuiltin(Exception):
    """The value is not builtin data; the message says why, for the feedback."""


def _builtin_base(cls):
    """(its builtin base or None, the first lying method defined above that base or None)."""
    for base in _mro(cls):
        if base in _BASES:
            return base, None
        if base is object:
            break
        for method in LYING:
            if method in _class_dict(base):
                return _builtin_base_only(cls), method
    return None, None


def _builtin_base_only(cls):
    for base in _mro(cls):
        if base in _BASES:
            return base
    return None


def _refuse(value, method) -> NotBuiltin:
    cls = _type(value)
    base = _builtin_base_only(cls)
    kind = f"an object of type {_name(cls)}" + (f" (a subclass of {_name(base)})" if base else "")
    if method:
        shown = _SHOWN.get(method, method)
        return NotBuiltin(f"returned {kind} whose {shown} is overridden; only builtin values are accepted")
    return NotBuiltin(f"returned {kind}, not a builtin value (int, float, str, bytes, bool, None, "
                      "list, tuple, dict, set, frozenset)")


def encode(value, hook=None, _depth: int = 0, _budget: list | None = None):
    """Builtin-only JSON data for `value`; raises NotBuiltin."""
    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise NotBuiltin(f"returned a value with more than {MAX_ITEMS} parts (too large to check)")
    if _depth > MAX_DEPTH:
        raise NotBuiltin(f"returned a value nested more than {MAX_DEPTH} levels deep (or containing itself)")
    cls = _type(value)
    if value is None or cls is bool or cls is str:
        return value
    if cls is int:
        return value if -(1 << 63) <= value < (1 << 63) else {"i": _hex(value, "x")}
    if cls is float:
        return value
    base = cls
    if _BUILTIN_NAMES.get(_id(value)) is not None and _BUILTIN_OBJECTS[_BUILTIN_NAMES[_id(value)]] is value:
        return {"bi": _BUILTIN_NAMES[_id(value)]}
    if cls not in _BASES:
        if cls in _TRUSTED:
            base = _TRUSTED[cls]
        elif cls is _deque:
            return {"dq": [encode(x, hook, _depth + 1, budget) for x in _deque_iter(value)]}
        elif cls is _range:
            return {"r": [value.start, value.stop, value.step]}
        elif cls in _ITERATORS:
            return {"it": _drain(value, hook, _depth, budget)}
        else:
            base, lying = _builtin_base(cls)
            if base is None or lying:
                tagged = hook(value, _depth, budget) if hook is not None else None
                if tagged is None:
                    raise _refuse(value, lying)
                return tagged
    if base is int:
        return encode(_get_int(value), hook, _depth, budget)
    if base is float:
        return _get_float(value)
    if base is str:
        return _get_str(value)
    if base is bytes:
        return {"b": _get_bytes(value).hex()}
    if base is complex:
        number = _get_complex(value)
        return {"c": [number.real, number.imag]}
    if base is dict:
        return {"d": [[encode(k, hook, _depth + 1, budget), encode(v, hook, _depth + 1, budget)]
                      for k, v in _dict_items(value)]}
    tag = {list: "l", tuple: "t", set: "s", frozenset: "fs"}[base]
    return {tag: [encode(x, hook, _depth + 1, budget) for x in _items[base](value)]}


def _drain(iterator, hook, depth: int, budget: list) -> list:
    items = []
    for item in iterator:
        if _len(items) >= MAX_ITEMS:
            raise NotBuiltin(f"returned an iterator of more than {MAX_ITEMS} items (endless?)")
        items.append(encode(item, hook, depth + 1, budget))
    return items


def decode(data, hook=None):
    """Real builtin objects from `encode`'s data; `hook(tag, body)` rebuilds the tags it added."""
    if data is None or _type(data) in (bool, int, float, str):
        return data
    ((tag, body),) = data.items()
    if tag == "bi":
        return _BUILTIN_OBJECTS[body]
    if tag in ("o", "fn", "h"):
        if hook is None:
            raise ValueError(f"unexpected tag {tag!r}")
        return hook(tag, body)
    if tag == "i":
        return int(body, 16)
    if tag == "b":
        return bytes.fromhex(body)
    if tag == "c":
        return complex(body[0], body[1])
    if tag == "r":
        return range(*body)
    if tag == "d":
        return {decode(k, hook): decode(v, hook) for k, v in body}
    items = [decode(x, hook) for x in body]
    if tag == "l":
        return items
    if tag == "t":
        return tuple(items)
    if tag == "s":
        return set(items)
    if tag == "fs":
        return frozenset(items)
    if tag == "dq":
        return collections.deque(items)
    if tag == "it":
        return iter(items)
    raise ValueError(f"unknown tag {tag!r}")


REL_TOLERANCE, ABS_TOLERANCE = 1e-6, 1e-12  # pytest.approx's defaults


def same(actual, expected, approx: bool = False) -> bool:
    """Equality of two builtin values (decoded copies, so nothing here is overridden)."""
    numbers = (int, float, complex)
    if type(actual) in numbers + (bool,) and type(expected) in numbers + (bool,):
        if actual != actual and expected != expected:
            return True  # NaN is NaN
        if approx and (type(actual) in (float, complex) or type(expected) in (float, complex)):
            return abs(actual - expected) <= max(REL_TOLERANCE * abs(expected), ABS_TOLERANCE)
        return actual == expected
    if type(actual) is not type(expected) or type(actual) not in (list, tuple, dict):
        return actual == expected
    if type(actual) is dict:
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k], approx) for k in actual)
    return len(actual) == len(expected) and all(same(a, e, approx) for a, e in zip(actual, expected))
