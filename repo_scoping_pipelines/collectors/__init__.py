"""Collectors: bring a repository's content onto this machine (git clones, zip archives)."""
