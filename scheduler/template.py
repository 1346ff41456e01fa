"""Status-post templates: Jinja2 in an immutable sandbox.

A template may use the values of its sources, loops, conditions and filters, but not reach Python
internals (``''.__class__.__mro__``), mutate values (``items.append``), or blow up memory with huge
repetitions. Every failure becomes a :class:`TemplateFailure` whose message an operator can act on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_REPEAT = 100_000  # longest string or list a template may build with `*`
MAX_EXPONENT = 100


class TemplateFailure(Exception):
    """The template cannot be compiled or rendered; the message says why and what to change."""


class Unavailable:
    """What a template sees for a source that failed: it renders as ``unavailable`` and stays so
    through attribute access, indexing and arithmetic (``{{ hr.count + 1 }}``); it is false in tests
    (``{% if hr %}``) and empty in loops."""

    __slots__ = ("source",)

    def __init__(self, source: str) -> None:
        self.source = source

    def __str__(self) -> str:
        return "unavailable"

    def __repr__(self) -> str:
        return f"Unavailable({self.source!r})"

    def __format__(self, spec: str) -> str:
        return "unavailable"

    def __getattr__(self, name: str) -> Unavailable:
        if name.startswith("_"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: object) -> Unavailable:
        return self

    def __bool__(self) -> bool:
        return False

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unavailable)

    def __hash__(self) -> int:
        return hash(("unavailable", self.source))

    def _same(self, *_: object) -> Unavailable:
        return self

    def _never(self, _other: object) -> bool:
        return False

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _same
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = __round__ = _same
    __lt__ = __le__ = __gt__ = __ge__ = _never


class _StatusSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_REPEAT:
                    raise SecurityError(f"repetition would build {len(seq) * times} items (at most {MAX_REPEAT})")
        return super().call_binop(context, operator, left, right)


def _environment() -> _StatusSandbox:
    env = _StatusSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    for name in ("lipsum", "cycler", "joiner"):  # nothing a status post needs
        env.globals.pop(name, None)
    return env


# Stateless and immutable after construction: a constant, like a compiled regular expression.
_SANDBOX = _environment()


def compile_template(source: str) -> Template:
    try:
        return _SANDBOX.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateFailure(f"template syntax error on line {exc.lineno}: {exc.message}") from None


def render(template: str | Template, values: Mapping[str, Any]) -> str:
    """Render with ``values`` as the only variables. Raises :class:`TemplateFailure`."""
    compiled = compile_template(template) if isinstance(template, str) else template
    try:
        return compiled.render(dict(values))
    except SecurityError as exc:
        raise TemplateFailure(
            f"the template was stopped by the sandbox: {exc} — status templates may only use their sources' "
            "values, filters, loops and conditions, never Python internals"
        ) from None
    except UndefinedError as exc:
        known = ", ".join(sorted(values)) or "none"
        raise TemplateFailure(f"the template uses an unknown value: {exc} (known values: {known})") from None
    except TemplateError as exc:
        raise TemplateFailure(f"the template failed: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateFailure(f"the template failed: {type(exc).__name__}: {exc}") from None
