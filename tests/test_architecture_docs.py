"""docs/ARCHITECTURE.md must name contracts that exist: every path, module, function, class and
attribute it writes in backticks is looked up in the source (as test_api_docs.py does for
docs/API.md), so a rename or a removal that leaves the doc behind fails here."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
SOURCES = [ROOT / "oversight", ROOT / "tests"]

# `name(args) -> Type`, `module.name`, `path/module.name(...)`, `@decorator`, `.attribute`
_REFERENCE = re.compile(r"(?P<at>@)?(?P<dot>\.)?(?P<head>[A-Za-z_][\w./]*)(?P<call>\()?")
# CamelCase names (classes) in annotations
_TYPE_NAMES = re.compile(r"\b(?!None\b)[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*\b")
_PATH = re.compile(r"[\w./-]+\.(py|json|md|ini)|[\w./-]+/")


class Names:
    """What the source defines, read with `ast` (nothing is imported)."""

    def __init__(self) -> None:
        self.modules: dict[str, set[str]] = {}  # dotted module -> top-level names
        self.members: dict[str, set[str]] = {}  # class name -> attributes, methods, fields
        self.strings: set[str] = set()  # string constants (file names the code reads)
        for base in SOURCES:
            for path in base.rglob("*.py"):
                parts = path.relative_to(ROOT).with_suffix("").parts
                module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                tree = ast.parse(path.read_text())
                self.modules[module] = self._read(tree)
                self.strings |= {node.value for node in ast.walk(tree)
                                 if isinstance(node, ast.Constant) and isinstance(node.value, str)}

    def _read(self, tree: ast.Module) -> set[str]:
        names: set[str] = set()
        for node in tree.body:
            names |= _bound(node)
            if isinstance(node, ast.ClassDef):
                members = self.members.setdefault(node.name, set())
                for item in ast.walk(node):
                    members |= _bound(item)
                    if isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store):
                        members.add(item.attr)  # self.x = ...
        return names

    def top_level(self) -> set[str]:
        return set().union(*self.modules.values())

    def resolve(self, parts: list[str]) -> bool:
        """`parts` names something: a module (by any dotted suffix of its name) and names in it,
        or a top-level name of any module followed by its class members."""
        named_module = False
        for cut in range(len(parts), 0, -1):
            suffix = ".".join(parts[:cut])
            for module, names in self.modules.items():
                if module == suffix or module.endswith("." + suffix):
                    named_module = True
                    rest = parts[cut:]
                    if not rest or (rest[0] in names and self._members_ok(rest)):
                        return True
        if named_module:
            return False
        return parts[0] in self.top_level() and self._members_ok(parts)

    def _members_ok(self, parts: list[str]) -> bool:
        # Class.member is checked; deeper chains (return values) are not.
        return len(parts) < 2 or parts[0] not in self.members or parts[1] in self.members[parts[0]]


def _bound(node: ast.AST) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, ast.ImportFrom):  # re-exports, e.g. a package's __init__
        return {alias.asname or alias.name for alias in node.names}
    return set()


@cache
def names() -> Names:
    return Names()


@cache
def service_names() -> set[str]:
    """Rekognition's (and the extensions') operations, shapes and structure members."""
    from oversight.api.service_model import service_model

    model = service_model()
    found = set(model.shape_names) | set(model.operation_names)
    for name in model.shape_names:
        found |= set(getattr(model.shape_for(name), "members", {}))
    return found


def bullets(text: str) -> list[list[str]]:
    """The backticked spans of each top-level bullet (a contract), in order."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # the layer diagram
    return [
        [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", bullet)]
        for bullet in re.split(r"^- ", text, flags=re.MULTILINE)
    ]


def _path_exists(span: str) -> bool:
    if "/" not in span:  # a file named on its own: it lives somewhere in the package
        return any((ROOT / "oversight").rglob(span))
    return (ROOT / span).exists() or (ROOT / "oversight" / span).exists()


@cache
def _commands() -> set[str]:
    import typer.main

    from oversight.cli import app

    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _not_a_reference_problem(span: str) -> str | None:
    """The problem with a span that names a command, target, setting or path, else None."""
    if span.startswith("oversight "):
        return None if span.split()[1] in _commands() else "no such command"
    if span.startswith("make "):
        target = re.escape(span.split()[1])
        makefile = (ROOT / "Makefile").read_text()
        return None if re.search(rf"^{target}:", makefile, re.MULTILINE) else "no such target"
    if span.startswith("OVERSIGHT_TEST_"):  # the suite's own settings, read under tests/
        variable = span.split("=")[0]
        sources = (path.read_text() for path in (ROOT / "tests").glob("*.py"))
        return None if any(f'"{variable}"' in source for source in sources) else "no such setting"
    if span.startswith("OVERSIGHT_"):
        from oversight.config import Settings

        setting = span.split("=")[0].removeprefix("OVERSIGHT_").lower()
        return None if setting in Settings.__dataclass_fields__ else "no such setting"
    return None if _path_exists(span) else "no such file or folder"


def problems(text: str) -> list[str]:
    found: list[str] = []
    known = names()
    for spans in bullets(text):
        classes: list[str] = []  # named so far in this contract: `.attr` and `method()` are theirs
        parameters: set[str] = set()  # of calls written so far in this contract
        for span in spans:
            if span.startswith(("../", "/", "<", "$", "GET ", "OVERSIGHT_<")):
                continue  # outside the repository, URLs, placeholders
            if span.startswith(("oversight ", "make ", "OVERSIGHT_")) or _PATH.fullmatch(span):
                problem = _not_a_reference_problem(span)
                if problem:
                    found.append(f"`{span}`: {problem}")
                continue
            reference = span.split(" = ")[-1]
            match = _REFERENCE.match(reference)
            rest = reference[match.end():] if match else "-"
            if match is None or (rest and not match["call"] and not rest.startswith(" ")):
                continue  # `X-Amz-Date`, `ARN=URL`, `kind: "..."`: not Python
            head = match["head"].replace("/", ".").rstrip(".")
            parts = head.split(".")
            member = head in parameters or any(head in known.members[cls] for cls in classes)
            if match["dot"]:
                suffix = any(text.endswith(span) for text in known.strings)  # `.tflite` files
                if not (member or suffix):
                    found.append(f"`{span}`: not an attribute of {' or '.join(classes) or '?'}")
            elif len(parts) == 1 and not match["call"] and not match["at"] and not (
                _TYPE_NAMES.fullmatch(head) or head.isupper()
            ):
                pass  # a plain word (a field, column or parameter): not checked
            elif head in service_names() and head not in known.members:
                pass  # a Rekognition shape or operation
            elif not (member or known.resolve(parts)):
                found.append(f"`{span}`: {head} is not defined")
            annotation = span.partition("->")[2]
            for type_name in _TYPE_NAMES.findall(annotation):
                if type_name not in known.members:
                    found.append(f"`{span}`: class {type_name} is not defined")
            classes += [name for name in (parts[-1], *_TYPE_NAMES.findall(annotation))
                        if name in known.members]
            if match["call"]:
                parameters |= set(re.findall(r"\w+", reference[match.end():].partition(")")[0]))
    return found


def test_every_contract_named_in_architecture_md_exists() -> None:
    assert problems(ARCHITECTURE.read_text()) == []


@pytest.mark.parametrize(("span", "problem"), [
    ("`oversight/no_such_module.py`", "no such file"),
    ("`decode_image(bytes) -> NoSuchImage`", "class NoSuchImage"),
    ("`gate.no_such_function(ctx)`", "no_such_function is not defined"),
    ("`DecodedImage` (`.no_such_field`)", "not an attribute of DecodedImage"),
    ("`oversight no-such-command`", "no such command"),
])
def test_a_stale_name_is_caught(span: str, problem: str) -> None:
    (found,) = problems(f"- a contract: {span}\n")
    assert problem in found
