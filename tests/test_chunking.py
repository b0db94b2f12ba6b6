"""Tests for repo_scoping_pipelines.chunking: exact spans, symbols and the line invariant."""

from __future__ import annotations

import itertools
import re

import pytest

from repo_scoping_pipelines.chunking import Chunk, chunk_file

WORD = re.compile(r"[^\W_]")


def check_invariants(text: str, chunks: list[Chunk], *, max_lines: int = 120, max_chars: int = 6000) -> None:
    """Every chunk's text is exactly its source lines and within the limits."""
    lines = text.splitlines()
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(lines), c
        expected = "\n".join(lines[c.start_line - 1 : c.end_line])
        if c.start_line == c.end_line and len(expected) > max_chars:
            assert c.text == expected[:max_chars], c  # an over-long single line is truncated
        else:
            assert c.text == expected, c
        assert c.text.strip(), c
        assert c.end_line - c.start_line + 1 <= max_lines, c
        assert len(c.text) <= max_chars, c
    starts = [(c.start_line, c.end_line) for c in chunks]
    assert starts == sorted(starts)


def check_coverage(text: str, chunks: list[Chunk]) -> None:
    """No line with a letter or digit is lost."""
    covered = {n for c in chunks for n in range(c.start_line, c.end_line + 1)}
    missing = [i + 1 for i, line in enumerate(text.splitlines()) if WORD.search(line) and i + 1 not in covered]
    assert missing == []


def spans(path: str, text: str, language: str | None, **kwargs: int) -> list[tuple[str, str | None, int, int]]:
    chunks = chunk_file(path, text, language, **kwargs)
    check_invariants(text, chunks, max_lines=kwargs.get("max_lines", 120), max_chars=kwargs.get("max_chars", 6000))
    return [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks]


PYTHON = '''\
"""Users service."""

import functools
from typing import Any

DEFAULT_LIMIT = 10


# Cache results per process.
@functools.cache
def load_config(path: str) -> dict[str, Any]:
    def _read() -> str:
        with open(path) as f:
            return f.read()

    return {"raw": _read()}


class UserService:
    """Looks users up."""

    timeout = 5

    def __init__(self, db):
        self.db = db

    @property
    def name(self) -> str:
        return "users"

    retries = 3

    class Cache:
        size = 10

        def get(self, key):
            return None


class Empty(Exception):
    pass


async def main() -> None:
    await UserService(None).run()


if __name__ == "__main__":
    main()
'''


def test_python_definitions_and_module_gaps() -> None:
    got = spans("svc/users.py", PYTHON, "Python")
    assert got == [
        ("module", None, 1, 6),
        ("function", "load_config", 9, 16),
        ("class", "UserService", 19, 22),
        ("method", "UserService.__init__", 24, 25),
        ("method", "UserService.name", 27, 29),
        ("class", "UserService", 31, 31),
        ("class", "UserService.Cache", 33, 34),
        ("method", "UserService.Cache.get", 36, 37),
        ("class", "Empty", 40, 41),
        ("function", "main", 44, 45),
        ("module", None, 48, 49),
    ]
    check_coverage(PYTHON, chunk_file("svc/users.py", PYTHON, "Python"))


def test_python_nested_function_stays_in_parent() -> None:
    chunks = chunk_file("svc/users.py", PYTHON, "Python")
    assert not any(c.symbol and "_read" in c.symbol for c in chunks)
    load = next(c for c in chunks if c.symbol == "load_config")
    assert "def _read()" in load.text
    assert load.text.startswith("# Cache results per process.\n@functools.cache\ndef load_config")


def test_python_decorator_and_text_content() -> None:
    chunks = {c.symbol: c for c in chunk_file("svc/users.py", PYTHON, "Python") if c.kind != "module"}
    assert chunks["UserService.name"].text == '    @property\n    def name(self) -> str:\n        return "users"'
    assert chunks["UserService.Cache"].text == "    class Cache:\n        size = 10"


JAVASCRIPT = """\
// @ts-check
import { api } from "./api.js";

const TIMEOUT = 5000;

/**
 * Fetches a user.
 */
export async function fetchUser(id) {
  const helper = () => id;
  return api.get(`/users/${helper()}`);
}

export const formatName = (user) => {
  return `${user.first} ${user.last}`;
};

class UserStore extends Store {
  static instances = 0;

  constructor(client) {
    super();
    this.client = client;
  }

  async load(id) {
    return fetchUser(id);
  }

  onChange = (event) => {
    this.emit(event);
  };
}

module.exports.legacy = function (x) {
  return x;
};

export default UserStore;
"""


def test_javascript() -> None:
    assert spans("web/users.js", JAVASCRIPT, "JavaScript") == [
        ("module", None, 1, 4),
        ("function", "fetchUser", 6, 12),
        ("function", "formatName", 14, 16),
        ("class", "UserStore", 18, 19),
        ("method", "UserStore.constructor", 21, 24),
        ("method", "UserStore.load", 26, 28),
        ("method", "UserStore.onChange", 30, 32),
        ("function", "module.exports.legacy", 35, 37),
        ("module", None, 39, 39),
    ]
    check_coverage(JAVASCRIPT, chunk_file("web/users.js", JAVASCRIPT, "JavaScript"))


TYPESCRIPT = """\
import { Injectable } from "@angular/core";

export interface User {
  id: number;
  name: string;
}

export type UserId = User["id"];

enum Role {
  Admin,
  Guest,
}

@Injectable()
export class UserRepo<T extends User> implements Repo<T> {
  private cache = new Map<UserId, T>();

  constructor(private readonly http: HttpClient) {}

  @Memo()
  async find(id: UserId): Promise<T | undefined> {
    return this.cache.get(id);
  }
}

export function isAdmin(role: Role): boolean {
  return role === Role.Admin;
}
"""


def test_typescript_interface_type_enum_and_class() -> None:
    assert spans("src/repo.ts", TYPESCRIPT, "TypeScript") == [
        ("module", None, 1, 1),
        ("class", "User", 3, 6),
        ("class", "UserId", 8, 8),
        ("class", "Role", 10, 13),
        ("class", "UserRepo", 15, 17),
        ("method", "UserRepo.constructor", 19, 19),
        ("method", "UserRepo.find", 21, 24),
        ("function", "isAdmin", 27, 29),
    ]


TSX = """\
import React, { useState } from "react";

type ButtonProps = {
  label: string;
  onClick?: () => void;
};

export function Button({ label, onClick }: ButtonProps) {
  return <button onClick={onClick}>{label}</button>;
}

export const Counter: React.FC = () => {
  const [n, setN] = useState(0);
  return (
    <div>
      <Button label={`Count: ${n}`} onClick={() => setN(n + 1)} />
    </div>
  );
};

const Memo = React.memo(function Inner() {
  return <Counter />;
});

export default function App() {
  return <Counter />;
}
"""


@pytest.mark.parametrize(("path", "language"), [("ui/App.tsx", "TSX"), ("ui/App.tsx", "TypeScript")])
def test_tsx_components(path: str, language: str) -> None:
    # "TypeScript" on a .tsx path must still parse JSX (tsx grammar).
    assert spans(path, TSX, language) == [
        ("module", None, 1, 1),
        ("class", "ButtonProps", 3, 6),
        ("function", "Button", 8, 10),
        ("function", "Counter", 12, 19),
        ("function", "Memo", 21, 23),
        ("function", "App", 25, 27),
    ]


GO = """\
package store

import (
	"context"
	"errors"
)

var ErrNotFound = errors.New("not found")

// Store keeps users in memory.
type Store struct {
	users map[string]User
}

type (
	// User is a person.
	User struct{ Name string }
	ID   = string
)

// Get returns a user by id.
func (s *Store) Get(ctx context.Context, id ID) (User, error) {
	u, ok := s.users[id]
	if !ok {
		return User{}, ErrNotFound
	}
	return u, nil
}

func (s Store) Len() int { return len(s.users) }

func New() *Store {
	return &Store{users: map[string]User{}}
}
"""


def test_go_methods_types_and_functions() -> None:
    assert spans("store/store.go", GO, "Go") == [
        ("module", None, 1, 8),
        ("class", "Store", 10, 13),
        ("class", "User", 15, 17),
        ("class", "ID", 18, 19),
        ("method", "Store.Get", 21, 28),
        ("method", "Store.Len", 30, 30),
        ("function", "New", 32, 34),
    ]


JAVA = """\
package com.example.users;

import java.util.List;
import java.util.Optional;

/**
 * Repository of users.
 */
@Repository
public class UserRepository extends BaseRepository<User> {
    private final Database db;

    /** Creates the repository. */
    public UserRepository(Database db) {
        this.db = db;
    }

    @Override
    @Transactional(readOnly = true)
    public Optional<User> findById(long id) {
        return db.query(id);
    }

    private static final int LIMIT = 10;

    public enum Status {
        ACTIVE, BLOCKED;

        boolean isActive() { return this == ACTIVE; }
    }
}

interface Named {
    String name();
}

record Point(int x, int y) {}
"""


def test_java_class_constructor_methods_annotations() -> None:
    assert spans("src/UserRepository.java", JAVA, "Java") == [
        ("module", None, 1, 4),
        ("class", "UserRepository", 6, 11),
        ("method", "UserRepository.UserRepository", 13, 16),
        ("method", "UserRepository.findById", 18, 22),
        ("class", "UserRepository", 24, 24),
        ("class", "UserRepository.Status", 26, 27),
        ("method", "UserRepository.Status.isActive", 29, 29),
        ("class", "Named", 33, 33),
        ("method", "Named.name", 34, 34),
        ("class", "Point", 37, 37),
    ]
    check_coverage(JAVA, chunk_file("src/UserRepository.java", JAVA, "Java"))


MARKDOWN = """\
Intro text before any heading.

# Project

Some words.

## Install

```bash
# this is a shell comment, not a heading
pip install project
```

### Linux ###

apt-get install thing

~~~
## still code
~~~

## Usage

Run it.
#not-a-heading
"""


def test_markdown_sections_ignore_fenced_hashes() -> None:
    assert spans("README.md", MARKDOWN, "Markdown") == [
        ("section", None, 1, 1),
        ("section", "Project", 3, 5),
        ("section", "Project > Install", 7, 12),
        ("section", "Project > Install > Linux", 14, 20),
        ("section", "Project > Usage", 22, 25),
    ]


def test_markdown_front_matter_and_no_heading() -> None:
    text = "---\n# yaml comment\ntitle: x\n---\n\n# Real\nbody\n"
    assert spans("doc.md", text, "Markdown") == [("section", None, 1, 4), ("section", "Real", 6, 7)]
    assert spans("doc.md", "just words\n\nmore words", "markdown") == [("section", None, 1, 3)]


def test_text_windows_overlap_and_end_at_last_line() -> None:
    text = "\n".join(f"line {i}" for i in range(1, 131)) + "\n"
    assert spans("notes.txt", text, None) == [
        ("text", None, 1, 60),
        ("text", None, 51, 110),
        ("text", None, 101, 130),
    ]
    assert spans("data.csv", "a,b\n1,2", "CSV") == [("text", None, 1, 2)]
    small = spans("x.txt", text, "Unknown", window_lines=50, overlap_lines=0)
    assert small == [("text", None, 1, 50), ("text", None, 51, 100), ("text", None, 101, 130)]


def test_text_windows_skip_blank_regions() -> None:
    text = "alpha\n" + "\n" * 200 + "omega\n\n\n"
    assert spans("x.txt", text, None) == [("text", None, 1, 1), ("text", None, 202, 202)]


def test_oversize_function_is_split_into_numbered_parts() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(250))
    text = "import os\n\n\ndef big():\n" + body
    got = spans("big.py", text, "Python")
    assert got == [
        ("module", None, 1, 1),
        ("function", "big (part 1)", 4, 123),
        ("function", "big (part 2)", 124, 243),
        ("function", "big (part 3)", 244, 254),
    ]


def test_oversize_by_chars_and_long_single_line() -> None:
    long_line = "    x = '" + "a" * 500 + "'"
    text = "def f():\n" + "\n".join(["    y = 1"] * 5 + [long_line] + ["    z = 2"] * 5) + "\n"
    got = spans("f.py", text, "Python", max_chars=100)
    assert got == [
        ("function", "f (part 1)", 1, 6),
        ("function", "f (part 2)", 7, 7),
        ("function", "f (part 3)", 8, 12),
    ]
    part2 = chunk_file("f.py", text, "Python", max_chars=100)[1]
    assert part2.text == long_line[:100]


def test_long_module_gap_becomes_windows() -> None:
    text = "".join(f"CONST_{i} = {i}\n" for i in range(200)) + "\ndef f():\n    return 1\n"
    assert spans("consts.py", text, "Python") == [
        ("module", None, 1, 60),
        ("module", None, 51, 110),
        ("module", None, 101, 160),
        ("module", None, 151, 200),
        ("function", "f", 202, 203),
    ]


def test_crlf_and_missing_trailing_newline() -> None:
    text = 'import os\r\n\r\ndef f():\r\n    return 1\r\n\r\nclass A:\r\n    def m(self):\r\n        pass'
    assert spans("crlf.py", text, "Python") == [
        ("module", None, 1, 1),
        ("function", "f", 3, 4),
        ("class", "A", 6, 6),
        ("method", "A.m", 7, 8),
    ]
    assert all("\r" not in c.text for c in chunk_file("crlf.py", text, "Python"))


def test_odd_line_separators_keep_exact_lines() -> None:
    # splitlines() also breaks on form feed and U+2028; spans must follow it.
    text = "import os\n\x0c\ndef f():\n    return '\u00e9'\n\ndef g():\n    return 2\n"
    assert spans("ff.py", text, "Python") == [
        ("module", None, 1, 1),
        ("function", "f", 4, 5),
        ("function", "g", 7, 8),
    ]


@pytest.mark.parametrize("language", ["Python", "Go", "Java", "JavaScript", "Markdown", None])
@pytest.mark.parametrize("text", ["", "\n\n", "   \n\t\n", "\r\n"])
def test_empty_and_whitespace_files(language: str | None, text: str) -> None:
    assert chunk_file("empty", text, language) == []


def test_syntax_error_file_does_not_raise_and_keeps_lines() -> None:
    text = "def broken(:\n    x = \n\ndef ok():\n    return 1\n\nclass A:\n    def m(self):\n        pass\n"
    chunks = chunk_file("broken.py", text, "Python")
    check_invariants(text, chunks)
    check_coverage(text, chunks)
    assert ("method", "A.m", 8, 9) in [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks]


def test_unparseable_code_falls_back_to_text_windows() -> None:
    text = "class A {\n  m() {\n    return 1;\n\n function g() {}\n"
    assert spans("bad.js", text, "JavaScript") == [("text", None, 1, 5)]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("}}}}\n{{{{\n", "Java"),
        ("\x00\x01\x02 binary \xff\n", "Go"),
        ("def f(:\n" * 50, "Python"),
        ("<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> branch\n", "Python"),
        ("a" * 20000, "JavaScript"),
        ("\ud800 lone surrogate\n", "TypeScript"),
        ("#" * 7 + " not heading\n```\nunclosed fence\n# hidden", "Markdown"),
    ],
)
def test_weird_input_never_raises(text: str, language: str) -> None:
    chunks = chunk_file("weird", text, language)
    check_invariants(text, chunks)
    check_coverage(text, chunks)


def test_same_line_definitions_do_not_overlap() -> None:
    text = "function a() {} function b() {}\nclass C { m() {} }\n"
    assert spans("min.js", text, "JavaScript") == [("function", "a", 1, 1), ("class", "C", 2, 2)]


def test_invalid_limits_raise() -> None:
    with pytest.raises(ValueError):
        chunk_file("x.txt", "a\n", None, window_lines=10, overlap_lines=10)


def test_invariants_hold_for_every_sample_and_tiny_limits() -> None:
    samples = [
        ("a.py", PYTHON, "Python"),
        ("a.js", JAVASCRIPT, "JavaScript"),
        ("a.ts", TYPESCRIPT, "TypeScript"),
        ("a.tsx", TSX, "TSX"),
        ("a.go", GO, "Go"),
        ("A.java", JAVA, "Java"),
        ("a.md", MARKDOWN, "Markdown"),
    ]
    for path, text, language in samples:
        for max_lines, max_chars in [(120, 6000), (3, 40), (1, 10)]:
            chunks = chunk_file(path, text, language, max_lines=max_lines, max_chars=max_chars, window_lines=4, overlap_lines=1)
            check_invariants(text, chunks, max_lines=max_lines, max_chars=max_chars)
            if max_chars >= 40:  # a line truncated to its indentation is dropped as blank
                check_coverage(text, chunks)
            # Parts of one definition are consecutive and never overlap.
            for a, b in itertools.pairwise(chunks):
                if a.symbol and b.symbol and a.symbol.split(" (part")[0] == b.symbol.split(" (part")[0]:
                    assert a.end_line < b.start_line


def test_markdown_oversize_section_is_split_into_parts() -> None:
    text = "# Big\n\n## Table\n" + "".join(f"| row {i} |\n" for i in range(150))
    assert spans("big.md", text, "Markdown") == [
        ("section", "Big", 1, 1),
        ("section", "Big > Table (part 1)", 3, 122),
        ("section", "Big > Table (part 2)", 123, 153),
    ]


def test_parsers_are_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    samples = [(PYTHON, "Python"), (JAVASCRIPT, "JavaScript"), (GO, "Go"), (JAVA, "Java")] * 50
    expected = [chunk_file("f", text, language) for text, language in samples]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda s: chunk_file("f", s[0], s[1]), samples))
    assert got == expected
