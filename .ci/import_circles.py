#!/usr/bin/env python3
"""Finds import circles between the source files of each crate.

Every `crate::a::b` and `super::x` path (in `use` lines and inline, outside `#[cfg(test)]`
modules, comments and strings) is an edge to the file of the deepest module it names; a module
using its own submodules is not counted (a `mod` declaration is not an import). Prints every
strongly connected component (Tarjan) of more than one file, per crate; exits 1 if there is any.
"""
import os, re, sys
from pathlib import Path

def modules(src: Path):
    files = {}
    for p in src.rglob('*.rs'):
        rel = p.relative_to(src).with_suffix('')
        parts = list(rel.parts)
        if parts[-1] in ('mod', 'lib', 'main'):
            parts = parts[:-1]
        files[tuple(parts)] = p
    return files

def strip(text):
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    # drop #[cfg(test)] mod tests { ... } blocks (tests may use anything)
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{', text):
        if m.start() < i: continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {'{': 1, '}': -1}.get(text[j], 0); j += 1
        i = j
    out.append(text[i:])
    return ''.join(out)

def paths_in(text):
    """Yield module paths (lists) referenced from `use` trees and inline paths."""
    for m in re.finditer(r'\buse\s+([^;]+);', text):
        yield from expand(m.group(1).replace(' ', '').replace('\n', ''))
    for m in re.finditer(r'\b((?:crate|super|self)(?:::\w+)+)', text):
        yield m.group(1).split('::')

def expand(tree, prefix=()):
    # expand a::{b, c::{d}} into lists
    depth, start, items = 0, 0, []
    s = tree
    if '{' not in s:
        yield list(prefix) + [x for x in s.split('::') if x]
        return
    i = s.index('{')
    head = [x for x in s[:i].split('::') if x]
    inner = s[i+1:s.rindex('}')]
    parts, depth, cur = [], 0, ''
    for ch in inner:
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
            continue
        depth += (ch == '{') - (ch == '}')
        cur += ch
    parts.append(cur)
    for p in parts:
        if p.strip():
            yield from expand(p.strip(), tuple(prefix) + tuple(head))

def resolve(mod, path, files):
    if not path: return None
    if path[0] == 'crate':
        full = list(path[1:])
    elif path[0] in ('super', 'self'):
        base = list(mod)
        k = 0
        while k < len(path) and path[k] in ('super', 'self'):
            if path[k] == 'super': base = base[:-1]
            k += 1
        full = base + list(path[k:])
    else:
        return None
    for n in range(len(full), 0, -1):
        if tuple(full[:n]) in files:
            return tuple(full[:n])
    return None

def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    for v in graph:
        if v not in index: visit(v)
    return out

def main(root, only):
    bad = False
    for src in sorted(Path(root).glob('crates/*/src')):
        if only and src.parent.name not in only:
            continue
        files = modules(src)
        graph = {}
        for mod, p in files.items():
            deps = set()
            for path in paths_in(strip(p.read_text())):
                t = resolve(mod, path, files)
                # a module may use its own descendants and ancestors' items freely? No: an
                # ancestor is an import too, except the crate root (re-exports only).
                if t is not None and t != mod and t != () and t[:len(mod)] != mod:
                    deps.add(t)
            graph[mod] = deps
        for comp in sccs(graph):
            if len(comp) > 1:
                bad = True
                names = ['/'.join(c) or 'lib' for c in sorted(comp)]
                print(f'{src.parent.name}: circle among {", ".join(names)}')
                for c in sorted(comp):
                    inside = sorted('/'.join(d) for d in graph[c] if d in comp)
                    print(f'    {"/".join(c)} -> {", ".join(inside)}')
    if not bad:
        print('no import circles')
    return 1 if bad else 0

if __name__ == '__main__':
    # usage: import_circles.py [REPO_ROOT] [CRATE...]  (all crates when none is named)
    args = sys.argv[1:]
    sys.exit(main(args[0] if args else '.', set(args[1:])))
