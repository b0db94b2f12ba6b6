"""The independent side of the line-authorship tests: git's own blame of a file at the head."""

from __future__ import annotations


def blame_lines(repo, path: str) -> dict[str, int]:
    """Lines per author e-mail at the head, counted from `git blame --line-porcelain`."""
    out: dict[str, int] = {}
    for line in repo.git("blame", "--line-porcelain", "HEAD", "--", path).splitlines():
        if line.startswith("author-mail "):
            mail = line.split(" ", 1)[1].strip("<>")
            out[mail] = out.get(mail, 0) + 1
    return out
