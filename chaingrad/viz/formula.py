"""Render the computation graph of a formula typed on the command line, after backward.

The formula is parsed, never run by Python: it may contain numbers, names given
as NAME=VALUE (any Python identifier, e.g. x1 or é), the operators + - * / **
(unary - and +), parentheses, and the engine's one-argument functions (exp log
sqrt tanh sigmoid softplus relu abs sin cos). Anything else is refused with a
one-line error.

examples:
  chaingrad graph "tanh(x1*w1 + x2*w2 + b)" x1=2 w1=-3 x2=0 w2=1 b=6.8813735870195432 -o neuron.svg
  chaingrad graph "tanh(x1*w1 + x2*w2 + b)" x1=2 w1=-3 x2=0 w2=1 b=0.5 --params w1,w2,b
  chaingrad graph "x**2 + 3*x" x=1.5 -o square.png --edge-labels
  chaingrad graph "sigmoid(a*b)" a=1 b=-2 --step-through backprop.html
  chaingrad graph -- "-x*y" x=1 y=2      (a formula starting with - goes after --)
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
import unicodedata
import warnings
from pathlib import Path
from typing import Any, cast

MAX_FORMULA_CHARS = 2000
MAX_SYNTAX_NODES = 1000
MAX_CONSTANT_EXPONENT = 100.0
MAX_NUMBER = 1e300

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "abs", "sin", "cos")
OUTPUT_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv")


class FormulaError(ValueError):
    """A formula (or a NAME=VALUE) that is refused; the message is one line."""


def parse_formula(text: str) -> ast.expr:
    """The syntax tree of ``text``, checked against the whitelist (nothing is run).

    >>> parse_formula("tanh(x*w + b)").__class__.__name__
    'Call'
    >>> parse_formula("().__class__")
    Traceback (most recent call last):
    ...
    chaingrad.viz.formula.FormulaError: attribute access is not allowed in a formula
    """
    if not isinstance(text, str):
        raise FormulaError(f"the formula must be a string, got {type(text).__name__}")
    check_text(text, "the formula")
    if not text.strip():
        raise FormulaError("the formula is empty")
    if len(text) > MAX_FORMULA_CHARS:
        raise FormulaError(
            f"the formula is {len(text)} characters long; the limit is {MAX_FORMULA_CHARS}"
        )
    try:
        with warnings.catch_warnings():
            # "1if x else 2" parses with a SyntaxWarning printed to stderr: the
            # refusal below is the one line the user gets
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        raise FormulaError(f"cannot parse the formula{where}: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise FormulaError("the formula is nested too deeply to parse") from None
    except ValueError as error:  # e.g. a NUL byte in older Pythons
        raise FormulaError(f"cannot parse the formula: {error}") from None
    count = 0
    stack: list[ast.AST] = [tree.body]
    while stack:  # iterative walk: every node must be on the whitelist
        node = stack.pop()
        count += 1
        if count > MAX_SYNTAX_NODES:
            raise FormulaError(f"the formula has more than {MAX_SYNTAX_NODES} parts")
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
                raise FormulaError(f"operator {_describe(node.op)} is not allowed; use + - * / **")
            if isinstance(node.op, ast.Pow):
                _check_exponent(node.right)
            stack.extend((node.left, node.right))
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise FormulaError(f"operator {_describe(node.op)} is not allowed; use + - * / **")
            stack.append(node.operand)
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FormulaError(
                    f"{value!r} is not a number; only numbers are allowed as constants"
                )
            if isinstance(value, int) and value.bit_length() > 1000:
                raise FormulaError("a number in the formula is too large")
            if not math.isfinite(float(value)) or abs(float(value)) > MAX_NUMBER:
                raise FormulaError(f"the number {value!r} is too large")
        elif isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                raise FormulaError(f"{node.id!r} cannot be assigned in a formula")
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name):
                raise FormulaError(f"{_describe(func)} is not allowed; call a function by name")
            if func.id not in FUNCTIONS:
                raise FormulaError(
                    f"{func.id!r} is not a known function; use one of {', '.join(FUNCTIONS)}"
                )
            if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                raise FormulaError(f"{func.id}() takes exactly one argument")
            stack.append(node.args[0])
        else:
            raise FormulaError(f"{_describe(node)} is not allowed in a formula")
    return tree.body


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "indexing",
        ast.Lambda: "a lambda",
        ast.ListComp: "a comprehension",
        ast.SetComp: "a comprehension",
        ast.DictComp: "a comprehension",
        ast.GeneratorExp: "a generator expression",
        ast.Compare: "a comparison",
        ast.BoolOp: "and/or",
        ast.IfExp: "if/else",
        ast.NamedExpr: "an assignment (:=)",
        ast.JoinedStr: "an f-string",
        ast.Tuple: "a tuple",
        ast.List: "a list",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.Starred: "* unpacking",
        ast.Mod: "%",
        ast.FloorDiv: "//",
        ast.MatMult: "@",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.Not: "not",
        ast.Invert: "~",
    }
    return names.get(type(node), type(node).__name__)


def _constant_of(node: ast.AST) -> float | None:
    """The number a literal (possibly signed) stands for, else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if isinstance(node.value, bool):
            return None
        try:
            return sign * float(node.value)
        except OverflowError:
            return math.inf
    return None


def _check_exponent(node: ast.AST) -> None:
    # Literal exponents stay small, and no towers (a ** b ** c): floats cannot
    # hang, but a drawing of x**1e9 helps nobody and towers overflow at once.
    constant = _constant_of(node)
    if constant is not None:
        if not abs(constant) <= MAX_CONSTANT_EXPONENT:
            raise FormulaError(
                f"exponent {constant:g} is too large; "
                f"|exponent| must be <= {MAX_CONSTANT_EXPONENT:g}"
            )
        return
    for inner in ast.walk(node):
        if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Pow):
            raise FormulaError("an exponent cannot itself contain ** (no towers like a**b**c)")


def variable_names(tree: ast.AST) -> set[str]:
    """Names used as variables (function names in calls are not variables)."""
    functions = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in functions}


def build(tree: ast.expr, bindings: dict[str, float]) -> tuple[Any, dict[str, Any]]:
    """Values for a checked syntax tree: returns (root, leaves by name).

    Each name becomes one labelled leaf Value (used twice, it is one node with
    two edges); numbers become the engine's constants.
    """
    from chaingrad.engine import Value

    missing = sorted(variable_names(tree) - set(bindings))
    if missing:
        raise FormulaError(
            f"no value for {', '.join(missing)}; give one with NAME=VALUE, e.g. {missing[0]}=1.5"
        )
    leaves = {name: Value(value, label=name) for name, value in bindings.items()}
    results: dict[int, Any] = {}  # id(ast node) -> Value or float, post-order
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        constant = _constant_of(node)
        if constant is not None:
            results[id(node)] = constant
            continue
        if isinstance(node, ast.Name):
            results[id(node)] = leaves[node.id]
            continue
        children = (
            [node.left, node.right]
            if isinstance(node, ast.BinOp)
            else [node.operand]
            if isinstance(node, ast.UnaryOp)
            else [cast(ast.Call, node).args[0]]
        )
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        args = [results[id(child)] for child in children]
        try:
            results[id(node)] = _apply(node, args, Value)
        except (ValueError, ZeroDivisionError, OverflowError) as error:
            raise FormulaError(f"cannot compute the formula: {error}") from None
    root = results[id(tree)]
    if not isinstance(root, Value):
        root = Value(root)
    return root, leaves


def _apply(node: ast.AST, args: list[Any], value_type: type) -> Any:
    if isinstance(node, ast.BinOp):
        left, right = args
        if not isinstance(left, value_type) and not isinstance(right, value_type):
            left = value_type(left)  # number op number: still a node, so it can be drawn
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            return left / right
        return left**right
    if isinstance(node, ast.UnaryOp):
        (operand,) = args
        if not isinstance(operand, value_type):
            operand = value_type(operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    (argument,) = args
    if not isinstance(argument, value_type):
        argument = value_type(argument)
    function = cast(ast.Name, cast(ast.Call, node).func)  # checked by parse_formula
    return getattr(argument, function.id)()


def check_text(text: str, what: str) -> None:
    """Refuse text a shell could not have given as UTF-8 (undecodable bytes arrive as
    lone surrogates) and control characters, naming where they are."""
    for position, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            raw = ord(ch) - 0xDC00 if 0xDC80 <= ord(ch) <= 0xDCFF else None
            byte = f" (byte 0x{raw:02x})" if raw is not None else ""
            raise FormulaError(f"{what} is not valid UTF-8 text{byte} at character {position + 1}")
        if unicodedata.category(ch) == "Cc" and ch not in " \t":
            raise FormulaError(
                f"{what} contains the control character U+{ord(ch):04X} at character {position + 1}"
            )


def parse_binding(text: str) -> tuple[str, float]:
    """``"x1=2.5"`` -> ``("x1", 2.5)``, with a one-line error for anything else.

    Names are Python identifiers normalized as Python's parser does (NFKC), so
    the name in NAME=VALUE matches the name in the formula: ``é=1.5``, ``ﬁ=1``.

    >>> parse_binding("é=1.5")
    ('é', 1.5)
    """
    check_text(text, "NAME=VALUE")
    name, sep, number = text.partition("=")
    name = unicodedata.normalize("NFKC", name.strip())
    if not sep or not name.isidentifier():
        raise FormulaError(f"expected NAME=VALUE (e.g. x=1.5), got {text!r}")
    if name in FUNCTIONS:
        raise FormulaError(f"{name!r} is a function name and cannot be a variable")
    try:
        value = float(number.strip())
    except ValueError:
        raise FormulaError(f"{name}={number.strip()!r}: the value is not a number") from None
    if not math.isfinite(value):
        raise FormulaError(f"{name}={number.strip()}: the value must be a finite number")
    return name, value


def parse_params(text: str, names: set[str]) -> list[str]:
    """``"w1,w2,b"`` -> the names to mark as parameters, each one a variable of the formula."""
    check_text(text, "--params")
    wanted = [unicodedata.normalize("NFKC", part.strip()) for part in text.split(",")]
    if not all(wanted):
        raise FormulaError(f"--params {text!r}: give names separated by commas, e.g. w1,w2,b")
    unknown = [name for name in wanted if name not in names]
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise FormulaError(
            f"--params: {', '.join(unknown)} is not a variable of the formula (its variables: "
            f"{known})"
        )
    return wanted


def formula_graph(text: str, bindings: dict[str, float] | list[str]) -> tuple[Any, dict[str, Any]]:
    """Parse, build and run backward: (root Value with gradients, leaves by name).

    >>> root, leaves = formula_graph("x*x + 1", ["x=3"])
    >>> root.data, leaves["x"].grad
    (10.0, 6.0)
    """
    if isinstance(bindings, list):
        parsed: dict[str, float] = {}
        for item in bindings:
            name, value = parse_binding(item)
            if name in parsed:
                raise FormulaError(f"{name} is given twice")
            parsed[name] = value
        bindings = parsed
    tree = parse_formula(text)
    unused = sorted(set(bindings) - variable_names(tree))
    root, leaves = build(tree, bindings)  # reports missing names first
    if unused:
        raise FormulaError(f"{', '.join(unused)} given but not used in the formula")
    root.backward()
    return root, leaves


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``chaingrad graph`` arguments."""
    parser.add_argument("formula", metavar="EXPR", help='the formula, e.g. "tanh(x*w + b)"')
    parser.add_argument(
        "bindings",
        metavar="NAME=VALUE",
        nargs="*",
        default=[],  # optional: without a default, argparse calls it required when EXPR is missing
        help="a value for each name, e.g. x=2",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the graph here; the format comes from the extension: "
        + ", ".join(OUTPUT_SUFFIXES)
        + " (without -o or --step-through, the DOT text is printed)",
    )
    parser.add_argument(
        "--step-through",
        metavar="FILE",
        help="also write the backward pass step by step: FILE.html (interactive) or FILE.gif",
    )
    parser.add_argument(
        "--rankdir",
        choices=("auto", "LR", "TB", "RL", "BT"),
        default="auto",
        help="layout direction: auto (default: left to right if it fits 1,100 px, else top "
        "to bottom), LR, TB, ...",
    )
    parser.add_argument(
        "--edge-labels", action="store_true", help="write the local derivative on each edge"
    )
    parser.add_argument(
        "--color-grad", action="store_true", help="colour nodes by gradient sign and size"
    )
    parser.add_argument(
        "--number", action="store_true", help="number nodes in the order backward reaches them"
    )
    parser.add_argument("--legend", action="store_true", help="add a key of the node styles")
    parser.add_argument(
        "--params",
        metavar="NAMES",
        help="mark these variables as parameters, comma-separated, e.g. --params w1,w2,b",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help="stop Graphviz's dot after this many seconds (default 60)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``chaingrad graph``; returns the exit status."""
    from .export import render
    from .graph import draw_dot
    from .output import GraphvizNotFoundError
    from .stepthrough import StepThrough

    def usage(message: str) -> int:
        # bad input on the command line: one line, exit status 2 (as argparse's own errors)
        print(f"chaingrad graph: error: {message}", file=sys.stderr)
        return 2

    output = Path(args.output) if args.output else None
    if output is not None and output.suffix.lower() not in OUTPUT_SUFFIXES:
        return usage(f"-o {args.output}: use one of the extensions {', '.join(OUTPUT_SUFFIXES)}")
    steps_path = Path(args.step_through) if args.step_through else None
    if steps_path is not None and steps_path.suffix.lower() not in (".html", ".htm", ".gif"):
        return usage(f"--step-through {args.step_through}: use a .html or .gif file")
    try:
        root, leaves = formula_graph(args.formula, list(args.bindings))
        params = (
            [leaves[name] for name in parse_params(args.params, set(leaves))]
            if args.params
            else None
        )
        if args.timeout is not None:
            from .output import check_timeout

            check_timeout(args.timeout, "--timeout")
    except FormulaError as error:
        return usage(str(error))
    except (TypeError, ValueError) as error:
        return usage(str(error).replace("--timeout: timeout", "--timeout"))

    options = dict(
        rankdir=args.rankdir,
        params=params,
        edge_labels=args.edge_labels,
        color_grad=args.color_grad,
        number_backward=args.number,
        legend=args.legend,
    )
    try:
        if output is None and steps_path is None:
            sys.stdout.write(draw_dot(root, timeout=args.timeout, **options).source)
        if output is not None:
            render(root, output, timeout=args.timeout, **options)
            print(f"wrote {printable(output)}")
        if steps_path is not None:
            StepThrough(root, rankdir=args.rankdir, params=params, timeout=args.timeout).save(
                steps_path
            )
            print(f"wrote {printable(steps_path)}")
    except (GraphvizNotFoundError, OSError, RuntimeError, ValueError, ImportError) as error:
        print(f"chaingrad graph: error: {one_line(error)}", file=sys.stderr)
        return 1
    return 0


def one_line(error: BaseException) -> str:
    """An error as one line (a message with newlines would break the CLI's promise)."""
    return printable(" ".join(str(error).split()) or type(error).__name__)


def printable(text: object) -> str:
    """Text any terminal can print: bytes a file name had that are not UTF-8 become escapes."""
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")
