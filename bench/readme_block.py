"""The README's generated blocks: a benchmark writes its figures between
`<!-- bench/<name>.py: begin -->` and `<!-- bench/<name>.py: end -->`.

    check(readme, "firmware")                 # before a long run: SystemExit if absent
    replace(readme, "firmware", text)
"""
import re


def _markers(name):
    return f"<!-- bench/{name}.py: begin -->", f"<!-- bench/{name}.py: end -->"


def _pattern(name):
    begin, end = _markers(name)
    return re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)


def check(path, name):
    """SystemExit (before minutes of measuring) when `path` lacks the block."""
    try:
        with open(path, encoding="utf-8") as stream:
            found = _pattern(name).search(stream.read())
    except FileNotFoundError:
        found = None
    if not found:
        begin, end = _markers(name)
        raise SystemExit(f"bench: {path} has no {begin} ... {end} block; add those two "
                         f"lines where the table goes.")


def replace(path, name, text):
    """The block of `name` in `path`, now holding `text`."""
    check(path, name)
    begin, end = _markers(name)
    with open(path, encoding="utf-8") as stream:
        readme = stream.read()
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(_pattern(name).sub(lambda _: f"{begin}\n{text}\n{end}", readme))
