from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, utcnow


class FederationPeer(IdMixin, Base):
    """The other side of a link: on a district's deployment the city, on the city's each district
    that runs its own brain; with what the bridge last saw of the link."""

    __tablename__ = "hub_federation_peers"

    code: Mapped[str] = mapped_column(String(20), unique=True, doc="The peer's region code")
    role: Mapped[str] = mapped_column(String(10), doc="The peer's part: city or district")
    district_code: Mapped[str] = mapped_column(String(20), doc="The district the link is for")
    connected: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(String(400), default="")
    waiting_in: Mapped[int] = mapped_column(
        default=0, doc="Messages in the stream not yet taken by this side, when last checked"
    )
    last_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_sent_subject: Mapped[str] = mapped_column(String(200), default="")
    last_received_at: Mapped[datetime | None] = mapped_column(default=None)
    last_received_subject: Mapped[str] = mapped_column(String(200), default="")
    last_received_created_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="When the last message received was queued by its sender"
    )
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    figures_at: Mapped[datetime | None] = mapped_column(default=None)


class FederationMessage(IdMixin, Base):
    """A message of the exchange, kept by each side: ``out`` rows are this side's outbox (sent
    when ``sent_at`` is set), ``in`` rows what it received (the id is how a message delivered
    twice is known the second time)."""

    __tablename__ = "hub_federation_messages"
    __table_args__ = (
        UniqueConstraint("direction", "message_id"),
        Index("ix_hub_federation_messages_unsent", "direction", "sent_at", "id"),
    )

    message_id: Mapped[str] = mapped_column(String(36))
    direction: Mapped[str] = mapped_column(String(3), doc="out: sent by this side; in: received")
    peer_code: Mapped[str] = mapped_column(String(20), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    case_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    seq: Mapped[int] = mapped_column(default=0, doc="The message's place among its case's")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, doc="Queued by its sender")
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(400), default="")


class FederationLink(IdMixin, Base):
    """A case known on both sides: this side's number, the peer's, how many messages about it
    went each way (for their order), and the state the peer last said it is in."""

    __tablename__ = "hub_federation_links"
    __table_args__ = (UniqueConstraint("peer_code", "case_number"),)

    peer_code: Mapped[str] = mapped_column(String(20))
    case_number: Mapped[str] = mapped_column(String(32), index=True)
    peer_number: Mapped[str] = mapped_column(String(32), default="", index=True)
    sent_seq: Mapped[int] = mapped_column(default=0)
    received_seq: Mapped[int] = mapped_column(default=0)
    peer_state: Mapped[str] = mapped_column(String(20), default="")
    peer_action: Mapped[str] = mapped_column(String(20), default="")
    peer_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    step_seq: Mapped[int] = mapped_column(
        default=0, server_default="0", doc="The place of this side's last step sent"
    )
    apart_since: Mapped[datetime | None] = mapped_column(
        default=None, index=True, doc="Since when the two sides' states differ (none: agree)"
    )
    apart_why: Mapped[str] = mapped_column(String(400), default="", server_default="")
