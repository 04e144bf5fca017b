"""Dataset loaders. Users bring the files; nothing is downloaded from a hub.

- GAIA: ``metadata.jsonl`` (``task_id``, ``Question``, ``Level``, ``Final answer``, ``file_name``)
  with attachment files beside it; scored with the GAIA rules.
- BrowseComp: the CSV whose ``problem`` and ``answer`` fields are encrypted with the row's ``canary``
  (XOR with a SHA-256-derived key stream, base64), decrypted as the reference implementation
  (openai/simple-evals ``browsecomp_eval.py``) does.
- SimpleQA-style CSV: ``problem``, ``answer`` (and ``metadata``).
- Plain JSONL: ``{id, question, answer, aliases?, ...}`` (thrifty's own task files included).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

from thrifty.errors import ConfigError
from thrifty.evals.tasks import Task


def derive_key(password: str, length: int) -> bytes:
    key = hashlib.sha256(password.encode()).digest()
    return key * (length // len(key)) + key[: length % len(key)]


def decrypt(ciphertext_b64: str, password: str) -> str:
    encrypted = base64.b64decode(ciphertext_b64, validate=True)
    key = derive_key(password, len(encrypted))
    return bytes(a ^ b for a, b in zip(encrypted, key, strict=True)).decode()


def encrypt(plaintext: str, password: str) -> str:
    """The inverse of :func:`decrypt` (for round-trip tests and for making private test sets)."""
    data = plaintext.encode()
    key = derive_key(password, len(data))
    return base64.b64encode(bytes(a ^ b for a, b in zip(data, key, strict=True))).decode()


def _task(id: str, question: str, answer: str, kind: str, difficulty: str = "unknown", **meta: object) -> Task:
    return Task(
        id=id,
        question=question,
        answer=answer,
        aliases=(),
        type=kind,
        difficulty=difficulty,
        evidence_urls=(),
        oracle_budget={},
        meta=dict(meta),
    )


def load_gaia(folder: Path) -> Iterator[Task]:
    path = folder / "metadata.jsonl"
    if not path.is_file():
        raise ConfigError("gaia", f"{path} not found (download the GAIA split yourself; thrifty never fetches it)")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                question, answer = row["Question"], str(row.get("Final answer", ""))
                level = str(row.get("Level", ""))
                attachment = row.get("file_name") or ""
            except KeyError as exc:
                raise ConfigError("gaia", f"{path}:{n}: missing field {exc}") from None
            files = [str(folder / attachment)] if attachment else []
            yield _task(row["task_id"], question, answer, "gaia", f"level{level}", attachments=files, scorer="gaia")


def load_browsecomp(path: Path) -> Iterator[Task]:
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f)):
            try:
                canary = row["canary"]
                question, answer = decrypt(row["problem"], canary), decrypt(row["answer"], canary)
            except KeyError as exc:
                raise ConfigError("browsecomp", f"{path}: missing column {exc}") from None
            except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
                raise ConfigError(
                    "browsecomp", f"{path}: row {n + 1} does not decrypt (bad base64 or not this row's canary)"
                ) from None
            yield _task(f"bc-{n:04d}", question, answer, "browsecomp", topic=row.get("problem_topic", ""))


def load_simpleqa(path: Path) -> Iterator[Task]:
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f)):
            if "problem" not in row or "answer" not in row:
                raise ConfigError("simpleqa", f"{path}: needs columns 'problem' and 'answer'")
            yield _task(f"sqa-{n:04d}", row["problem"], row["answer"], "simpleqa", metadata=row.get("metadata", ""))


def load_jsonl(path: Path) -> Iterator[Task]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ConfigError("jsonl", f"{path}:{n}: not JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ConfigError("jsonl", f"{path}:{n}: each line must be a JSON object")
            if "type" in row and "evidence_urls" in row:  # thrifty's own task format
                yield _own_task(row, f"{path}:{n}")
                continue
            if "question" not in row or "answer" not in row:
                raise ConfigError("jsonl", f"{path}:{n}: each line needs 'question' and 'answer'")
            task = _task(str(row.get("id", f"j-{n:04d}")), row["question"], str(row["answer"]), "jsonl")
            yield Task(**{**task.__dict__, "aliases": tuple(row.get("aliases", ()))})


def _own_task(row: dict[str, object], where: str) -> Task:
    known = {f.name for f in fields(Task)}
    if unknown := sorted(set(row) - known):
        valid = ", ".join(sorted(known))
        raise ConfigError("jsonl", f"{where}: unknown field(s) {', '.join(unknown)}; a task has {valid}")
    row["aliases"] = tuple(row.get("aliases") or ())  # type: ignore[arg-type]
    row["evidence_urls"] = tuple(row["evidence_urls"])  # type: ignore[arg-type]
    row["candidate_trace"] = tuple(row.get("candidate_trace") or ())  # type: ignore[arg-type]
    try:
        return Task(**row)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ConfigError("jsonl", f"{where}: {exc}") from None


def load(path: Path, kind: str | None = None) -> Iterator[Task]:
    """Pick a loader from ``kind`` or the path: a folder is GAIA, ``.csv`` with ``canary`` is BrowseComp."""
    if kind == "gaia" or (kind is None and path.is_dir()):
        return load_gaia(path)
    if kind in ("browsecomp", "simpleqa") or (kind is None and path.suffix == ".csv"):
        if kind == "browsecomp":
            return load_browsecomp(path)
        if kind == "simpleqa":
            return load_simpleqa(path)
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
        return load_browsecomp(path) if "canary" in header else load_simpleqa(path)
    return load_jsonl(path)
