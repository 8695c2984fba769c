"""Class labels of the 1008 logits: ``SYNSET INDEX NAME`` lines, INDEX = logit index 1..1000."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from interp.errors import WeightsUnavailable
from interp.network.layers import NUM_LOGITS


@dataclass(frozen=True)
class Labels:
    names: tuple[str | None, ...]  # one per logit; None for the unused dummy classes (0 and 1001-1007)
    synsets: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.names)

    def name(self, index: int) -> str:
        label = self.names[index]
        return label if label is not None else f"(unused class {index})"

    def is_real(self, index: int) -> bool:
        return 0 <= index < len(self.names) and self.names[index] is not None

    @cached_property
    def real_indices(self) -> tuple[int, ...]:
        return tuple(i for i, name in enumerate(self.names) if name is not None)

    def find(self, text: str) -> list[int]:
        """Indices whose label contains ``text`` (case-insensitive), for search boxes."""
        needle = text.strip().lower()
        return [i for i, name in enumerate(self.names) if name and needle in name.lower()]


def parse_labels(text: str, source: str = "the label file") -> Labels:
    names: list[str | None] = [None] * NUM_LOGITS
    synsets: list[str | None] = [None] * NUM_LOGITS
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=2)
        if len(parts) != 3 or not parts[1].isdigit():
            raise WeightsUnavailable(f"Line {line_number} of {source} is not 'SYNSET INDEX NAME': {line!r}.")
        synset, index, name = parts[0], int(parts[1]), parts[2].strip()
        if not 1 <= index < NUM_LOGITS:
            raise WeightsUnavailable(f"Line {line_number} of {source} names logit {index}, outside 1-{NUM_LOGITS - 1}.")
        names[index], synsets[index] = name, synset
    if sum(name is not None for name in names) != 1000:
        raise WeightsUnavailable(f"{source} should name 1000 classes; it names {sum(n is not None for n in names)}.")
    return Labels(tuple(names), tuple(synsets))


def read_labels(path: Path) -> Labels:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WeightsUnavailable(f"Could not read the label file {path}: {error}") from None
    return parse_labels(text, source=str(path))
