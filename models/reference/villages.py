"""Villages by name as an operator types it (English or Hindi, "Village (Block)" when needed)."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import (
    Select,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, contains_eager

from models.normalize import search_key
from models.reference.tables import Block, Village

# ---- villages, by name as an operator types it


class UnknownVillage(ValueError):
    """No village has that name."""


class AmbiguousVillage(ValueError):
    """Several villages (in different blocks) have that name."""

    def __init__(self, villages: list[Village]) -> None:
        super().__init__(", ".join(f"{v.name} ({v.block.name})" for v in villages))
        self.villages = villages


BLOCK_SUFFIX = re.compile(r"^(?P<village>.+?)\s*\((?P<block>[^()]+)\)\s*$")


def by_block(session: Session) -> list[Village]:
    """Every village with its block loaded, block by block and by name: what a village choice lists."""
    query = select(Village).join(Village.block).options(contains_eager(Village.block))
    return list(session.scalars(query.order_by(Block.name, Village.name)))


def find_villages(session: Session, text: str, limit: int = 20) -> list[Village]:
    """Villages whose English or Hindi name starts with text, by name."""
    query = villages_starting(text)
    if query is None:
        return []
    query = query.join(Village.block).options(contains_eager(Village.block))
    return list(session.scalars(query.order_by(Village.name, Block.name).limit(limit)))


def villages_starting(text: str) -> Select[tuple[Village]] | None:
    key = search_key(text)
    if not key:
        return None
    # 10,000 villages: a scan of lower(name) costs a few ms, and villages.py keeps no search key.
    return select(Village).where(
        or_(
            func.lower(Village.name).startswith(key, autoescape=True),
            Village.name_hi.startswith(unicodedata.normalize("NFC", text.strip()), autoescape=True),
        )
    )


def resolve_village(session: Session, text: str) -> Village:
    """The village named text: "Chando", "चांदो" or, when the name is in two blocks, "Chando (Pratappur)".

    :raise UnknownVillage: no such village. :raise AmbiguousVillage: the block is needed.
    """
    name, block = text.strip(), ""
    match = BLOCK_SUFFIX.match(name)
    if match:
        name, block = match["village"], match["block"].strip()
    name = unicodedata.normalize("NFC", name)
    query = (
        select(Village)
        .join(Village.block)
        .options(contains_eager(Village.block))
        .where(or_(Village.name == name, func.lower(Village.name) == name.lower(), Village.name_hi == name))
    )
    if block:
        query = query.where(or_(func.lower(Block.name) == block.lower(), Block.name_hi == block))
    found = list(session.scalars(query.order_by(Block.name)))
    if not found:
        raise UnknownVillage(text.strip())
    if len(found) > 1:
        raise AmbiguousVillage(found)
    return found[0]


class VillageIndex:
    """Every village by English (any case) and Hindi name, so 50,000 rows need no query each."""

    def __init__(self, session: Session) -> None:
        self.by_name: dict[str, list[tuple[int, str, str]]] = {}
        rows = session.execute(
            select(Village.id, Village.name, Village.name_hi, Block.name, Block.name_hi).join(Village.block)
        )
        for village_id, name, name_hi, block, block_hi in rows:
            entry = (village_id, block, block_hi)
            self.by_name.setdefault(search_key(name), []).append(entry)
            if name_hi:
                self.by_name.setdefault(search_key(name_hi), []).append(entry)

    def resolve(self, village: str, block: str) -> int:
        found = {e[0]: e for e in self.by_name.get(search_key(village), [])}.values()
        if block:
            wanted = search_key(block)
            found = [e for e in found if wanted in (search_key(e[1]), search_key(e[2]))]
        if not found:
            raise ValueError(f"unknown village '{village}'" + (f" in block '{block}'" if block else ""))
        if len(found) > 1:
            blocks = ", ".join(sorted(e[1] for e in found))
            raise ValueError(f"village '{village}' is in several blocks ({blocks}): give the block")
        return next(iter(found))[0]
