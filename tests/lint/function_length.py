#!/usr/bin/python3
"""Fails when a C++ function body is longer than the limit (docs/STYLE.md, "Formatting and size").

    function_length.py [--max-lines N] ROOT     exit 1 listing each function over N lines (70)
    function_length.py --self-test              shows the check catches a planted long function

A function's length is counted from the line of its opening brace to the line of its closing
brace. The scan is lexical, not a compiler's: comments, strings and character literals are
blanked out (and preprocessor lines), then every brace at namespace or class scope whose declaration has a parameter
list opens a function; everything nested inside it (lambdas, local classes) counts toward that
function. Files under ROOT's raft, kv, net, tests and tools folders are scanned.
"""
from __future__ import annotations

import argparse
import pathlib
import re
import sys
import tempfile

MAX_LINES_DEFAULT = 70
FOLDERS = ("raft", "kv", "net", "tests", "tools")
_SCOPE_OPENERS = re.compile(r"^\s*(template\s*<.*>\s*)?(namespace|class|struct|union|enum|extern)\b")
_TOKEN = re.compile(r'^[ \t]*#(?:\\\n|[^\n])*|//[^\n]*|/\*.*?\*/|R"(?P<delim>[^(\s]*)\(.*?\)(?P=delim)"|"(?:\\.|[^"\\\n])*"|'
                    r"'(?:\\.|[^'\\\n])*'", re.S | re.M)


def _blank(match: re.Match) -> str:
    """Keeps the newlines of a comment, literal or directive, so that line numbers stay true."""
    return re.sub(r"[^\n]", " ", match.group(0))


def strip_comments_and_literals(text: str) -> str:
    return _TOKEN.sub(_blank, text)


_SIGNATURE_END = re.compile(r"\)\s*((const|noexcept|override|final|mutable|&&|&)\s*)*(->\s*[^{;]+)?$")
_INITIALIZER_LIST = re.compile(r"\)\s*(noexcept\s*)?:(?!:)")


def _opens_function(declaration: str) -> bool:
    """Whether the text since the last declaration at this scope, up to a brace, is a function's
    head: a parameter list and its qualifiers, or a constructor's whole initializer list (a
    brace inside that list, as in b_{y}, is not the body)."""
    head = declaration.strip()
    if "(" not in head or _SCOPE_OPENERS.match(head) or re.search(r"=\s*$", head):
        return False
    if _SIGNATURE_END.search(head):
        return True
    return bool(_INITIALIZER_LIST.search(head)) and head.endswith(("}", ")"))


def long_functions(text: str, max_lines: int) -> list[tuple[int, int]]:
    """(first line, length) of every function body in text longer than max_lines."""
    code = strip_comments_and_literals(text)
    scopes: list[tuple[str, int]] = []  # ("decl" | "function" | "block", line it opened on)
    found = []
    line = 1
    declaration_start = 0
    for i, ch in enumerate(code):
        if ch == "\n":
            line += 1
            continue
        if ch not in ";{}":
            continue
        at_declaration_scope = all(kind == "decl" for kind, _ in scopes)
        # A declaration ends at a ; or at the brace that opens or closes a function, namespace or
        # class; an initializer's braces ({1, 2} or b_{y}) belong to the declaration around them.
        ends_declaration = False
        if ch == ";":
            ends_declaration = at_declaration_scope
        elif ch == "{":
            head = code[declaration_start:i]
            if not at_declaration_scope:
                scopes.append(("block", line))
            elif _opens_function(head):
                scopes.append(("function", line))
            elif _SCOPE_OPENERS.match(head.strip() + " "):
                scopes.append(("decl", line))
            else:
                scopes.append(("block", line))
            ends_declaration = scopes[-1][0] != "block"
        elif scopes:
            kind, opened = scopes.pop()
            if kind == "function" and line - opened + 1 > max_lines:
                found.append((opened, line - opened + 1))
            ends_declaration = kind != "block"
        if ends_declaration:
            declaration_start = i + 1
    return found


def source_files(root: pathlib.Path) -> list[pathlib.Path]:
    files = []
    for folder in FOLDERS:
        files += [p for p in (root / folder).rglob("*") if p.suffix in (".cc", ".h") and "corpus" not in p.parts]
    return sorted(files)


def check(root: pathlib.Path, max_lines: int) -> int:
    files = source_files(root)
    offenders = []
    for path in files:
        for first_line, length in long_functions(path.read_text(errors="replace"), max_lines):
            offenders.append(f"{path.relative_to(root)}:{first_line}: a function of {length} lines")
    if offenders:
        print(f"functions over {max_lines} lines (split them along the steps they already have):")
        print("\n".join(offenders))
        return 1
    print(f"no function over {max_lines} lines in {len(files)} files")
    return 0


def self_test() -> int:
    body = "\n".join(f"  x += {i};" for i in range(68))
    fine = f"int f(int x) {{\n{body}\n}}\n"  # 70 lines: the most allowed
    planted = f"#include \"x.h\"\n#define M(x) {{ x }}\nnamespace a {{\nclass C {{\n  int g(int x) const {{\n{body}\n  x++;\n  return x;\n}}\n}};\n}}\n"
    tricky = 'int h() {\n  const char* s = "}}}";  // }\n  auto l = [] { return 1; };\n  return l();\n}\n'
    constructor = f"A::A(int y) : a_(y), b_{{y}} {{\n{body}\n  x++;\n  y++;\n}}\n"
    if long_functions(fine + tricky, MAX_LINES_DEFAULT):
        print("self-test: a 70-line function or braces in literals were reported")
        return 1
    if [length for _, length in long_functions(planted, MAX_LINES_DEFAULT)] != [72]:
        print("self-test: a planted 72-line method was not caught")
        return 1
    if [length for _, length in long_functions(constructor, MAX_LINES_DEFAULT)] != [72]:
        print("self-test: a planted 72-line constructor with a braced initializer was not caught")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "kv").mkdir()
        (pathlib.Path(tmp) / "kv" / "long.cc").write_text(planted)
        if check(pathlib.Path(tmp), MAX_LINES_DEFAULT) == 0:
            print("self-test: check() passed a tree with a planted long function")
            return 1
    print("self-test: planted long function caught")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=pathlib.Path)
    parser.add_argument("--max-lines", type=int, default=MAX_LINES_DEFAULT)
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if args.root is None:
        parser.error("ROOT is required")
    return check(args.root, args.max_lines)


if __name__ == "__main__":
    sys.exit(main())
