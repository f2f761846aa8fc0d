"""The audit ledger: append, prove, sign, verify.

Each entry is chained to the one before it (``entry_hash = SHA-256(prev_hash ‖ canonical JSON)``)
and is leaf ``seq`` of a Merkle tree built as RFC 9162 §2.1 defines it: ``leaf = SHA-256(0x00 ‖
entry_hash)``, ``node = SHA-256(0x01 ‖ left ‖ right)``. Hashes of complete subtrees of at least
``2**NODE_MIN_LEVEL`` leaves are stored as they complete, so a proof or a root needs O(log n)
stored nodes plus at most a few dozen leaf hashes, whatever the size of the ledger. Tree heads are
signed with Ed25519.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.orm import Session

from citybase.core.db.engine import after_commit, tx_cache
from citybase.core.errors import InvalidInput, NotFound
from citybase.core.ledger import repository
from citybase.core.ledger.models import LedgerEntry, TreeHead
from citybase.core.ledger.schemas import (
    Actor,
    ConsistencyProof,
    EntryWithProof,
    InclusionProof,
    LedgerEntryRead,
    LedgerFilter,
    SignedTreeHead,
)
from citybase.core.ledger.witness import Witness, WitnessedHead, WitnessError, witness_for
from citybase.core.settings import Settings

log = logging.getLogger(__name__)

GENESIS = bytes(32)
NODE_MIN_LEVEL = 4  # subtrees of 16 leaves and up are stored; below that they are recomputed
_HEAD_KEY = "citybase_ledger_head"


# --- Merkle tree hashing (RFC 9162 §2.1) -------------------------------------------------------


def hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size ≥ 2)."""
    return 1 << ((size - 1).bit_length() - 1)


RangeHash = Callable[[int, int], bytes]


def inclusion_path(index: int, lo: int, hi: int, mth: RangeHash) -> list[bytes]:
    """PATH(m, D[lo:hi]) of RFC 9162 §2.1.3.1, leaf to root."""
    if hi - lo <= 1:
        return []
    k = _split(hi - lo)
    if index < lo + k:
        return [*inclusion_path(index, lo, lo + k, mth), mth(lo + k, hi)]
    return [*inclusion_path(index, lo + k, hi, mth), mth(lo, lo + k)]


def consistency_path(first: int, second: int, mth: RangeHash) -> list[bytes]:
    """PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1."""

    def subproof(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, lo, lo + k, complete), mth(lo + k, hi)]
        return [*subproof(m - k, lo + k, hi, False), mth(lo, lo + k)]

    return subproof(first, 0, second, True)


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    proof = list(path)
    if first & (first - 1) == 0:  # a power of two: the first root is the first node of the proof
        proof.insert(0, first_root)
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class StoredTree:
    """Merkle hashes of ranges of the stored ledger, fetched in two batched queries.

    The shape of a proof depends only on the indexes, so a first pass records which stored nodes
    and leaves it will touch; they are fetched at once, then the second pass computes the hashes.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._leaves: dict[int, bytes] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._want_leaves: set[int] = set()
        self._want_nodes: set[tuple[int, int]] = set()
        self._recording = False

    def mth(self, lo: int, hi: int) -> bytes:
        size = hi - lo
        if size == 1:
            if self._recording:
                self._want_leaves.add(lo)
                return GENESIS
            return self._leaves[lo]
        level = size.bit_length() - 1
        if size == 1 << level and lo % size == 0 and level >= NODE_MIN_LEVEL:
            if self._recording:
                self._want_nodes.add((level, lo >> level))
                return GENESIS
            return self._nodes[(level, lo >> level)]
        k = _split(size)
        return hash_children(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def run(self, compute: Callable[[], Any], *, leaves: Iterable[int] = ()) -> Any:
        """Compute twice: first to learn what is needed, then with it fetched in two queries.
        ``leaves`` are leaf hashes the caller wants as well (see ``leaf``)."""
        self._recording = True
        compute()
        self._recording = False
        self._want_leaves.update(leaves)
        self._leaves.update(repository.leaf_hashes(self.session, self._want_leaves))
        self._nodes.update(repository.node_hashes(self.session, self._want_nodes))
        missing = self._want_leaves - self._leaves.keys()
        if missing or self._want_nodes - self._nodes.keys():
            raise LedgerCorrupt(
                f"stored Merkle tree is incomplete near entry {min(missing) if missing else '?'}"
            )
        return compute()

    def leaf(self, index: int) -> bytes:
        return self._leaves[index]


class LedgerCorrupt(Exception):
    pass


# --- entries -----------------------------------------------------------------------------------


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _entry_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": row["seq"],
        "recorded_at": row["recorded_at"].astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": row["actor"],
        "actor_unit": row["actor_unit"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "reason": row["reason"],
        "case_number": row["case_number"],
        "details": row["details"],
    }


def compute_entry_hash(prev_hash: bytes, row: dict[str, Any]) -> bytes:
    return hashlib.sha256(prev_hash + canonical(_entry_body(row))).digest()


@dataclass
class _Head:
    size: int
    last_hash: bytes
    # leaf hashes of the current, not yet complete, block of 2**NODE_MIN_LEVEL leaves
    block: list[bytes] = field(default_factory=list)


def _head(session: Session) -> _Head:
    cache = tx_cache(session)
    head: _Head | None = cache.get(_HEAD_KEY)
    if head is None:
        repository.lock_for_append(session)
        last = repository.last_entry(session)
        size = 0 if last is None else last[0] + 1
        head = _Head(size=size, last_hash=GENESIS if last is None else last[1])
        block_start = size - size % (1 << NODE_MIN_LEVEL)
        if block_start < size:
            found = repository.leaf_hashes(session, range(block_start, size))
            head.block = [found[i] for i in range(block_start, size)]
        cache[_HEAD_KEY] = head
    return head


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: str | int = "",
    reason: str = "",
    case_number: str = "",
    details: dict[str, Any] | None = None,
) -> int:
    """Append one entry in the caller's transaction; returns its ``seq``."""
    return record_many(
        session,
        [
            {
                "actor": actor.name,
                "actor_unit": actor.unit,
                "action": action,
                "object_type": object_type,
                "object_id": str(object_id),
                "reason": reason,
                "case_number": case_number,
                "details": details or {},
            }
        ],
    )[0]


def record_many(session: Session, items: list[dict[str, Any]]) -> list[int]:
    """Append several entries at once (same fields as ``record``); returns their ``seq``."""
    head = _head(session)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    nodes: dict[tuple[int, int], bytes] = {}
    block_size = 1 << NODE_MIN_LEVEL
    for item in items:
        row = {
            "seq": head.size,
            "recorded_at": item.get("recorded_at") or now,
            "actor": item["actor"],
            "actor_unit": item.get("actor_unit", ""),
            "action": item["action"],
            "object_type": item.get("object_type", ""),
            "object_id": str(item.get("object_id", "")),
            "reason": item.get("reason", ""),
            "case_number": item.get("case_number", ""),
            "details": item.get("details") or {},
            "prev_hash": head.last_hash,
        }
        row["entry_hash"] = compute_entry_hash(head.last_hash, row)
        row["leaf_hash"] = hash_leaf(row["entry_hash"])
        rows.append(row)
        head.block.append(row["leaf_hash"])
        head.size += 1
        head.last_hash = row["entry_hash"]
        if len(head.block) == block_size:
            nodes.update(_complete_nodes(session, head, nodes))
    try:
        repository.insert_entries(session, rows)
        repository.insert_nodes(session, nodes)
    except BaseException:
        tx_cache(session).pop(_HEAD_KEY, None)
        raise
    return [r["seq"] for r in rows]


def _complete_nodes(
    session: Session, head: _Head, pending: dict[tuple[int, int], bytes]
) -> dict[tuple[int, int], bytes]:
    """Nodes completed by the block that just filled; climbs while left siblings exist."""
    level_hashes = head.block
    while len(level_hashes) > 1:
        level_hashes = [
            hash_children(level_hashes[i], level_hashes[i + 1])
            for i in range(0, len(level_hashes), 2)
        ]
    node = level_hashes[0]
    head.block = []
    level, index = NODE_MIN_LEVEL, head.size // (1 << NODE_MIN_LEVEL) - 1
    new = {(level, index): node}
    while index % 2 == 1:
        left = pending.get((level, index - 1))
        if left is None:
            left = repository.node_hashes(session, [(level, index - 1)])[(level, index - 1)]
        node = hash_children(left, node)
        level, index = level + 1, index // 2
        new[(level, index)] = node
    return new


def size(session: Session) -> int:
    return repository.count(session)


def signing_lag(session: Session, now: datetime | None = None) -> tuple[int, float]:
    """(entries not yet covered by a stored signed tree head, seconds since the newest head was
    signed; 0 when there is none) — what an alert on a stalled signer watches."""
    head = repository.latest_tree_head(session)
    entries = repository.count(session)
    if head is None:
        return entries, 0.0
    moment = now or datetime.now(UTC)
    return entries - head.tree_size, max(0.0, (moment - head.signed_at).total_seconds())


def root_hash(session: Session, tree_size: int) -> bytes:
    if tree_size == 0:
        return hashlib.sha256(b"").digest()
    tree = StoredTree(session)
    result: bytes = tree.run(lambda: tree.mth(0, tree_size))
    return result


def _check_size(session: Session, tree_size: int | None) -> int:
    current = size(session)
    if tree_size is None:
        return current
    if not 0 < tree_size <= current:
        raise InvalidInput(
            f"tree_size must be between 1 and the ledger's size ({current})", field="tree_size"
        )
    return tree_size


def inclusion_proof(session: Session, seq: int, tree_size: int | None = None) -> InclusionProof:
    n = _check_size(session, tree_size)
    if not 0 <= seq < n:
        raise NotFound(f"no ledger entry {seq} in a tree of {n}", field="seq")
    tree = StoredTree(session)
    path, root = tree.run(
        lambda: (inclusion_path(seq, 0, n, tree.mth), tree.mth(0, n)), leaves=[seq]
    )
    leaf = tree.leaf(seq)
    return InclusionProof(
        leaf_index=seq,
        tree_size=n,
        leaf_hash=leaf.hex(),
        root_hash=root.hex(),
        audit_path=[p.hex() for p in path],
    )


def consistency_proof(session: Session, first: int, second: int | None = None) -> ConsistencyProof:
    n = _check_size(session, second)
    if not 0 < first <= n:
        raise InvalidInput(f"first must be between 1 and {n}", field="first")
    tree = StoredTree(session)
    path, first_root, second_root = tree.run(
        lambda: (consistency_path(first, n, tree.mth), tree.mth(0, first), tree.mth(0, n))
    )
    return ConsistencyProof(
        first=first,
        second=n,
        first_root=first_root.hex(),
        second_root=second_root.hex(),
        proof=[p.hex() for p in path],
    )


def get_entry(session: Session, seq: int) -> LedgerEntryRead:
    entry = repository.get_entry(session, seq)
    if entry is None:
        raise NotFound(f"no ledger entry {seq}", field="seq")
    return to_read(entry)


def entry_with_proof(session: Session, seq: int, tree_size: int | None = None) -> EntryWithProof:
    entry = get_entry(session, seq)
    return EntryWithProof(entry=entry, proof=inclusion_proof(session, seq, tree_size))


SubjectFinder = Callable[[Session, str, str], set[int]]
_subject_finders: list[SubjectFinder] = []


def add_subject_finder(finder: SubjectFinder) -> None:
    """A domain that records whose data an entry served says how to find those entries:
    ``finder(session, masking_key, subject_id)`` → their sequence numbers. The ledger keeps no
    citizen ID or credit code itself; the domains keep keyed hashes of them."""
    if finder not in _subject_finders:
        _subject_finders.append(finder)


def entries_about(session: Session, masking_key: str, subject_id: str) -> list[int]:
    """The entries that served a data subject's record (a citizen ID or credit code)."""
    return sorted({seq for find in _subject_finders for seq in find(session, masking_key,
                                                                      subject_id)})  # fmt: skip


def find_entries(session: Session, flt: LedgerFilter) -> tuple[list[LedgerEntryRead], int]:
    rows, total = repository.find_entries(session, flt)
    return [to_read(r) for r in rows], total


def to_read(entry: LedgerEntry) -> LedgerEntryRead:
    return LedgerEntryRead(
        seq=entry.seq,
        recorded_at=entry.recorded_at,
        actor=entry.actor,
        actor_unit=entry.actor_unit,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        reason=entry.reason,
        case_number=entry.case_number,
        details=entry.details,
        prev_hash=entry.prev_hash.hex(),
        entry_hash=entry.entry_hash.hex(),
        leaf_hash=entry.leaf_hash.hex(),
    )


# --- signed tree heads -------------------------------------------------------------------------


class Signer:
    """Signs and checks tree heads with an Ed25519 key given as 32 hex-encoded bytes."""

    def __init__(self, private_key_hex: str) -> None:
        try:
            seed = bytes.fromhex(private_key_hex)
            self._key = Ed25519PrivateKey.from_private_bytes(seed)
        except ValueError as exc:
            raise InvalidInput(
                "the ledger signing key must be 32 bytes in hex", field="ledger.signing_key"
            ) from exc
        self.public_key: Ed25519PublicKey = self._key.public_key()
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_hex = raw.hex()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def check(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def tree_head_message(tree_size: int, root: bytes, timestamp: datetime) -> bytes:
    return canonical(
        {
            "tree_size": tree_size,
            "root_hash": root.hex(),
            "timestamp": timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
        }
    )


def signed_tree_head(session: Session, signer: Signer) -> SignedTreeHead:
    """The current head, signed now (not stored)."""
    n = size(session)
    root = root_hash(session, n)
    now = datetime.now(UTC)
    signature = signer.sign(tree_head_message(n, root, now))
    return SignedTreeHead(
        tree_size=n,
        root_hash=root.hex(),
        timestamp=now,
        signature=signature.hex(),
        key_id=signer.key_id,
        public_key=signer.public_hex,
    )


def store_tree_head(session: Session, signer: Signer) -> TreeHead | None:
    """Sign and keep the current head if the ledger grew since the last stored one."""
    n = size(session)
    latest = repository.latest_tree_head(session)
    if n == 0 or (latest is not None and latest.tree_size >= n):
        return None
    root = root_hash(session, n)
    now = datetime.now(UTC)
    head = TreeHead(
        tree_size=n,
        root_hash=root,
        signed_at=now,
        signature=signer.sign(tree_head_message(n, root, now)),
        key_id=signer.key_id,
    )
    repository.add_tree_head(session, head)
    return head


def witnessed(head: TreeHead) -> WitnessedHead:
    return WitnessedHead(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        signed_at=head.signed_at,
        signature=head.signature,
        key_id=head.key_id,
    )


def sign_tree_head(session: Session, settings: Settings) -> TreeHead | None:
    """Sign and keep the current head if the ledger grew; once the transaction has committed,
    publish the newest kept head to the witness.

    Published after the commit, never before: a witnessed head the database then failed to keep
    would read as a deleted one. A witness that cannot be reached is caught up on the next run,
    since the newest kept head is published each time (the witness ignores what it already has).
    """
    head = store_tree_head(session, signer_for(settings))
    latest = repository.latest_tree_head(session)
    if latest is not None:
        newest = witnessed(latest)
        witness = witness_for(settings)

        def publish() -> None:
            try:
                witness.publish(newest)
            except Exception:
                log.exception("tree head %s not published to %s", newest.tree_size, witness.where)

        after_commit(session, publish)
    return head


def publish_newest_head(session: Session, witness: Witness) -> WitnessedHead | None:
    """Publish the newest kept head to ``witness`` now (raises ``WitnessError`` if it fails)."""
    latest = repository.latest_tree_head(session)
    if latest is None:
        return None
    head = witnessed(latest)
    try:
        witness.publish(head)
    except WitnessError:
        raise
    except Exception as exc:
        raise WitnessError(f"{witness.where}: {exc}") from exc
    return head


# --- verification ------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    entries: int = 0
    nodes_checked: int = 0
    heads_checked: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    witnessed_size: int | None = None  # the newest witnessed head the ledger was held to

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_with_witness(
    session: Session,
    signer: Signer,
    witness: Witness,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """``verify``, holding the ledger to the newest head ``witness`` keeps.

    The witnessed head must carry a valid signature of this platform's key; the ledger must still
    hold that many entries, its root at that size must be the witnessed root (so the entries up to
    there are the ones that were witnessed), and the database must still keep that head. A witness
    that is empty while the database holds signed heads fails too: it was lost or replaced.
    """
    report = VerifyReport()
    try:
        newest = witness.latest()
    except WitnessError as exc:
        report.problems.append(str(exc))
        return report
    except Exception as exc:
        report.problems.append(f"the witness {witness.where} cannot be read: {exc}")
        return report
    if newest is None:
        if repository.latest_tree_head(session) is not None:
            report.problems.append(
                f"the witness {witness.where} holds no tree head while the database keeps signed "
                "ones: the witness was lost or replaced, or no head was published to it yet "
                "(`citybase ledger sign` publishes the newest)"
            )
            return report
    else:
        problem = _check_witnessed_signature(newest, signer, witness.where)
        if problem:
            report.problems.append(problem)
            return report
    return verify(session, signer, progress, witnessed=newest)


def _check_witnessed_signature(head: WitnessedHead, signer: Signer, where: str) -> str | None:
    if head.key_id != signer.key_id:
        return (
            f"the newest head in {where} (size {head.tree_size}) is signed with key "
            f"{head.key_id}, not this platform's key {signer.key_id}"
        )
    message = tree_head_message(head.tree_size, head.root_hash, head.signed_at)
    if not signer.check(head.signature, message):
        return (
            f"the newest head in {where} (size {head.tree_size}) does not carry a valid "
            "signature: the witness was altered"
        )
    return None


def verify(
    session: Session,
    signer: Signer | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    witnessed: WitnessedHead | None = None,
) -> VerifyReport:
    """Recompute the chain, every stored Merkle node and every stored tree head.

    Stops at the first problem and names the entry: an altered entry breaks its own hash, a
    removed one leaves a gap in ``seq``, a rewritten chain disagrees with the stored nodes, and
    entries cut from the end fall short of a signed tree head. A ledger with entries and no
    signed head at all fails: its heads were deleted, or none was ever signed. With
    ``witnessed`` (a head kept outside the database, checked by the caller), the ledger must
    also reach its size with its root, and the database must still keep it: this is what finds
    a tail cut together with the heads that covered it.
    """
    report = VerifyReport()
    heads = {h.tree_size: h for h in repository.tree_heads(session)}
    if witnessed is not None:
        report.witnessed_size = witnessed.tree_size
    stored = repository.all_nodes(session)
    stack: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees, left to right
    prev = GENESIS

    def fail(seq: int, message: str) -> VerifyReport:
        report.first_bad_seq = seq
        report.problems.append(message)
        return report

    for expected_seq, entry in enumerate(_entries(session)):
        if entry.seq != expected_seq:
            return fail(
                expected_seq, f"entry {expected_seq} is missing (next present: {entry.seq})"
            )
        row = {c: getattr(entry, c) for c in _FIELDS}
        if entry.prev_hash != prev:
            return fail(entry.seq, f"entry {entry.seq} does not chain to entry {entry.seq - 1}")
        if compute_entry_hash(prev, row) != entry.entry_hash:
            return fail(entry.seq, f"entry {entry.seq} was altered: its hash does not match")
        leaf = hash_leaf(entry.entry_hash)
        if leaf != entry.leaf_hash:
            return fail(entry.seq, f"entry {entry.seq} was altered: its leaf hash does not match")
        prev = entry.entry_hash
        stack.append((0, leaf))
        while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
            (level, right), (_, left) = stack.pop(), stack.pop()
            level += 1
            node = hash_children(left, right)
            stack.append((level, node))
            if level >= NODE_MIN_LEVEL:
                index = (entry.seq + 1) // (1 << level) - 1
                if stored.get((level, index)) != node:
                    first = index << level
                    return fail(
                        first,
                        f"entries {first}–{entry.seq} do not match the stored Merkle tree "
                        f"(node {level}/{index}): one of them was altered",
                    )
                report.nodes_checked += 1
        report.entries = entry.seq + 1
        head = heads.get(report.entries)
        if head is not None:
            problem = _check_head(head, _fold(stack), signer)
            if problem:
                return fail(entry.seq, problem)
            report.heads_checked += 1
        if witnessed is not None and report.entries == witnessed.tree_size:
            if _fold(stack) != witnessed.root_hash:
                return fail(
                    entry.seq,
                    f"the ledger's first {witnessed.tree_size} entries do not match the tree "
                    f"head witnessed at {_when(witnessed.signed_at)}: they were rewritten",
                )
            if head is None:
                return fail(
                    entry.seq,
                    f"the signed tree head of {witnessed.tree_size} entries (signed at "
                    f"{_when(witnessed.signed_at)}) is kept by the witness but missing from "
                    "the database: it was deleted",
                )
        if progress is not None:
            progress(report.entries)
    beyond = [s for s in heads if s > report.entries]
    if beyond:
        return fail(
            report.entries,
            f"entries from {report.entries} on were removed: a signed tree head covers "
            f"{max(beyond)} entries but the ledger holds {report.entries}",
        )
    if witnessed is not None and witnessed.tree_size > report.entries:
        return fail(
            report.entries,
            f"entries from {report.entries} on were removed: the witness keeps a signed tree "
            f"head of {witnessed.tree_size} entries (signed at {_when(witnessed.signed_at)}) "
            f"but the ledger holds {report.entries}",
        )
    if report.entries and not heads:
        return fail(
            report.entries - 1,
            f"the ledger holds {report.entries} entries but no signed tree head: the heads were "
            "deleted, or none was signed yet (`citybase ledger sign` signs one)",
        )
    return report


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


_FIELDS = (
    "seq",
    "recorded_at",
    "actor",
    "actor_unit",
    "action",
    "object_type",
    "object_id",
    "reason",
    "case_number",
    "details",
)


def _entries(session: Session) -> Iterator[LedgerEntry]:
    return repository.iter_entries(session)


def _fold(stack: list[tuple[int, bytes]]) -> bytes:
    root = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        root = hash_children(left, root)
    return root


def _check_head(head: TreeHead, root: bytes, signer: Signer | None) -> str | None:
    if head.root_hash != root:
        return f"the ledger's first {head.tree_size} entries do not match their signed tree head"
    if signer is not None and head.key_id == signer.key_id:
        message = tree_head_message(head.tree_size, head.root_hash, head.signed_at)
        if not signer.check(head.signature, message):
            return f"the signature of the tree head at size {head.tree_size} is not valid"
    return None


def signer_for(settings: Settings) -> Signer:
    return Signer(settings.ledger_signing_key)
