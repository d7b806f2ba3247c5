"""C and C++ text read as far as the source selection needs: comments and
preprocessor lines dropped, #include "..." edges, file-scope definitions and
macros. No parser: names are matched as identifiers, so a selection built on
these can only err on the side of too many files."""
import os
import re

from ..errors import UserError
from .layout import KERNEL_DIR

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
IDENT = re.compile(r"[A-Za-z_]\w*")
_C_NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


class IncludeGraph:
    """#include "..." edges between the files of one tree, resolved against the
    tree root (TFLM's convention) or the including file's directory."""

    def __init__(self, root):
        self.root = root
        self.memo = {}

    def direct(self, path):
        found = []
        for include in _INCLUDE.findall(strip_comments(
                read(os.path.join(self.root, path)), keep_strings=True)):
            for candidate in (include, os.path.normpath(
                    os.path.join(os.path.dirname(path), include)).replace(os.sep, "/")):
                if os.path.isfile(os.path.join(self.root, candidate)):
                    found.append(candidate)
                    break
        return found

    def closure(self, path):
        """Every tree header `path` includes, directly or not."""
        seen, todo = set(), self.direct(path)
        while todo:
            header = todo.pop()
            if header in seen:
                continue
            seen.add(header)
            if header not in self.memo:
                self.memo[header] = self.direct(header)
            todo.extend(self.memo[header])
        return seen

    def kernel_header_stems(self, path):
        return sorted(os.path.splitext(os.path.basename(h))[0] for h in self.closure(path)
                      if os.path.dirname(h) == KERNEL_DIR and h.endswith(".h"))



def top_level_definitions(code):
    """(name, is_static, body) of every function defined at file scope of
    comment- and preprocessor-free C, and of every initialized table."""
    found, depth, start, head = [], 0, 0, ""
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[start:i]
                if re.search(r'\bextern\s*"[^"]*"\s*$', head):
                    start = i + 1       # extern "C" { ... }: not a scope of its own
                    i += 1
                    continue
                body_start = i
            depth += 1
        elif c == "}":
            if depth == 0:              # the end of an extern "C" block
                start = i + 1
            else:
                depth -= 1
                if depth == 0:
                    entry = _definition(head, code[body_start:i + 1])
                    if entry:
                        found.append(entry)
                    start = i + 1
        elif c == ";" and depth == 0:
            start = i + 1
        i += 1
    return found


def _definition(head, body):
    words = set(IDENT.findall(head))
    is_static = bool(words & {"static", "__STATIC_INLINE", "__STATIC_FORCEINLINE"})
    if "typedef" in words or re.match(r"\s*(struct|enum|union)\b[^=]*$", head):
        return None
    function = re.search(r"\b([A-Za-z_]\w*)\s*\((?:[^()]|\([^()]*\))*\)\s*$", head)
    if function:
        return function.group(1), is_static, body
    table = re.search(r"\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=\s*$", head)
    if table:
        return table.group(1), is_static, body
    return None


def macros(text):
    text = text.replace("\\\n", " ")
    return re.findall(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(.*)$", text, re.M)


def drop_preprocessor(text):
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)


def strip_comments(text, keep_strings=False):
    """C/C++ text without comments (line numbers kept); string and character
    literals emptied unless keep_strings."""
    def replace(match):
        token = match.group(0)
        if token.startswith("/*"):
            return "\n" * token.count("\n") or " "
        if token.startswith("//"):
            return " "
        return token if keep_strings else '""'
    return _C_NOISE.sub(replace, text)



def wholly_conditional(text):
    """The macro all of a C file is inside `#ifdef` of (comments and blank lines
    aside), or None: without it the file compiles to nothing."""
    lines = [line.strip() for line in strip_comments(text).splitlines()]
    lines = [line for line in lines if line]
    first = re.fullmatch(r"#\s*ifdef\s+(\w+)", lines[0]) if lines else None
    if not first or not re.fullmatch(r"#\s*endif\b.*", lines[-1]):
        return None
    depth = 0
    for line in lines[:-1]:          # that #ifdef must close at the last line only
        depth += bool(re.match(r"#\s*if", line)) - bool(re.match(r"#\s*endif", line))
        if depth == 0:
            return None
    return first.group(1)


def listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def read(path, required=False):
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return stream.read()
    except OSError:
        if required:
            raise UserError(f"{path} is missing: is this a TensorFlow Lite Micro tree? "
                            f"Run `scons deps` (MIRROR=<dir> offline).") from None
        return ""
