#!/usr/bin/env python3
"""List the module-level import circles of a Rust crate.

    python3 scripts/import_cycles.py src            # clawshim-core
    python3 scripts/import_cycles.py proxy/src      # clawshim-proxy
    python3 scripts/import_cycles.py --check src    # exit 1 when there is a circle
    python3 scripts/import_cycles.py --arrows src   # and the arrows inside each circle

Every file is a module (`lib.rs`/`main.rs` the crate root, `a/mod.rs` and `a.rs` module `a`).
Module A depends on module B when A's code names a path into B: a `use` item (`crate::`,
`super::`, `self::` or a child module's name, braces expanded) or such a path written in the
code. A path ends at the deepest module it names, so `super::GatewayError` from
`gateway/link.rs` is an arrow to `gateway` (its `mod.rs`, which may re-export it from a child:
a circle). Comments, strings and `#[cfg(test)]` items (test modules and test-only files) are
left out: they are not the product's layering.

A circle is a strongly connected group of two or more modules; each is printed with its
members and one path around it.
"""

import argparse
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip_comments_and_strings(text):
    """The code with comments, string and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        out.append("\n")
                    i += 1
        elif re.match(r'(b?r)(#*)"', text[i:i + 40]) and (i == 0 or not re.match(r"\w", text[i - 1])):
            m = re.match(r'(b?r)(#*)"', text[i:])
            end = '"' + m.group(2)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def skip_item(code, i):
    """The index just past the item starting at `i` (up to `;` or a balanced `{...}`)."""
    depth = 0
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return i


CFG_TEST = re.compile(r"#\[cfg\(test\)\]")


def strip_test_items(code):
    """The code without `#[cfg(test)]` items, and the names of test-only `mod x;` files."""
    test_mods = set()
    out, i = [], 0
    while True:
        m = CFG_TEST.search(code, i)
        if not m:
            out.append(code[i:])
            break
        out.append(code[i:m.start()])
        j = m.end()
        # Further attributes of the same item.
        while True:
            rest = code[j:]
            a = re.match(r"\s*#\[", rest)
            if not a:
                break
            j = skip_brackets(code, j + a.end() - 1)
        decl = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", code[j:])
        if decl:
            test_mods.add(decl.group(1))
        end = skip_item(code, j)
        out.append("\n" * code.count("\n", m.start(), end))
        i = end
    return "".join(out), test_mods


def skip_brackets(code, i):
    depth = 0
    while i < len(code):
        if code[i] == "[":
            depth += 1
        elif code[i] == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def expand_use_tree(tree):
    """`a::{b::C, d}` -> ["a::b::C", "a::d"]."""
    tree = re.sub(r"\s+", "", tree)
    tree = re.sub(r"\bas" + IDENT, "", tree)  # `X as Y` after whitespace removal
    return _expand(tree)


def _expand(tree):
    brace = tree.find("{")
    if brace < 0:
        return [tree] if tree else []
    prefix, inner = tree[:brace], tree[brace + 1:tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for k, c in enumerate(inner):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(inner[start:k])
            start = k + 1
    parts.append(inner[start:])
    paths = []
    for p in parts:
        for sub in _expand(p):
            paths.append(prefix + sub if sub != "self" else prefix.rstrip(":"))
    return paths


USE_ITEM = re.compile(r"\buse\s+([^;]+);")
PATH = re.compile(r"(?<![\w:])((?:crate|super|self|" + IDENT + r")(?:::" + IDENT + r")+)")


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main") and (rel[-1] == "mod" or len(rel) == 1):
        rel = rel[:-1]
    return tuple(rel)


def crate_modules(root):
    """Every module file under `root`, without the test-only ones."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                path = os.path.join(dirpath, name)
                files[module_of(root, path)] = path
    codes, test_only = {}, set()
    for module, path in files.items():
        with open(path, encoding="utf-8") as f:
            code, test_mods = strip_test_items(strip_comments_and_strings(f.read()))
        codes[module] = code
        test_only |= {module + (name,) for name in test_mods}
    # A test-only file's children are test-only too.
    return {
        m: c for m, c in codes.items() if not any(m[:k] in test_only for k in range(len(m) + 1))
    }


def resolve(module, segments, modules):
    """The deepest module `segments` (a path as written in `module`) names, or None."""
    segments = list(segments)
    if segments[0] == "crate":
        base, segments = (), segments[1:]
    elif segments[0] in ("self", "super"):
        base = module
        while segments and segments[0] in ("self", "super"):
            if segments[0] == "super":
                if not base:
                    return None
                base = base[:-1]
            segments = segments[1:]
    elif module + (segments[0],) in modules:
        base = module
    else:
        return None  # another crate, or a name of this module's own
    rest = segments
    found = base
    for k in range(1, len(rest) + 1):
        if base + tuple(rest[:k]) in modules:
            found = base + tuple(rest[:k])
    return found


def dependencies(modules):
    deps = {m: set() for m in modules}
    for module, code in modules.items():
        paths = []
        for m in USE_ITEM.finditer(code):
            paths += expand_use_tree(m.group(1))
        paths += [m.group(1) for m in PATH.finditer(USE_ITEM.sub("", code))]
        for path in paths:
            segments = [s for s in path.split("::") if s and s != "*"]
            if not segments:
                continue
            target = resolve(module, segments, modules)
            if target is not None and target != module:
                deps[module].add(target)
    return deps


def circles(deps):
    """Strongly connected groups of two or more modules (Tarjan)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    return sorted(groups, key=lambda g: (-len(g), g))


def one_path_around(group, deps):
    """A shortest cycle through the group's first module (breadth first)."""
    start, members = group[0], set(group)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(deps[v] & members):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return group


def name(module):
    return "crate" if not module else "::".join(module)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", help="the crate's source directory, e.g. src or proxy/src")
    parser.add_argument("--check", action="store_true", help="exit 1 when there is a circle")
    parser.add_argument("--arrows", action="store_true", help="also print the arrows inside circles")
    args = parser.parse_args()
    modules = crate_modules(args.src)
    deps = dependencies(modules)
    groups = circles(deps)
    for k, group in enumerate(groups, 1):
        print(f"circle {k}: {len(group)} modules: {', '.join(name(m) for m in group)}")
        print("  e.g. " + " -> ".join(name(m) for m in one_path_around(group, deps)))
        if args.arrows:
            for m in group:
                inside = sorted(deps[m] & set(group))
                print(f"  {name(m)} -> {', '.join(name(t) for t in inside)}")
    in_circles = sum(len(g) for g in groups)
    print(
        f"{args.src}: {len(groups)} import circles, {in_circles} of {len(modules)} modules in them"
    )
    if args.check and groups:
        sys.exit(1)


if __name__ == "__main__":
    main()
