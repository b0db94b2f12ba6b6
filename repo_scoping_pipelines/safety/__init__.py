"""Safety policies applied wherever data crosses a boundary: outbound traffic (`egress`), secrets
kept out of logs, errors and prompts (`redaction`), and prompt-injection scanning of repository
text (`injection`)."""
