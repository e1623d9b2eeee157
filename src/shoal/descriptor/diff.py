"""The deploy diff as a value: which servers a new expanded application adds, removes, changes.

A server changed when its `ServerDescription` differs (IceGrid's `isServerUpdated`: it moved to
another node or `descriptorEqual` is false). IceGrid compares options and envs as sets; Shoal
compares every field in order, because a reordered option list is a different argv (and a later
env entry wins), so reordering restarts the server. The changed field names come from
`dataclasses.fields`, never from a hand-written list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from shoal.descriptor.model import Application, Node, ReplicaGroup, ServerDescription

__all__ = ["ApplicationDiff", "changed_fields", "diff_applications"]


@dataclass(frozen=True)
class ApplicationDiff:
    """Server ids by outcome, each sorted; `changed` maps a server id to its changed fields."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: Mapping[str, tuple[str, ...]] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    unchanged: tuple[str, ...] = ()
    replica_groups: tuple[str, ...] = ()  # ids added, removed or changed
    nodes: tuple[str, ...] = ()  # nodes added, removed, or whose load factor/description changed
    description_changed: bool = False

    @property
    def is_empty(self) -> bool:
        """True when deploying the new application would change nothing at all."""
        return not (
            self.added
            or self.removed
            or self.changed
            or self.replica_groups
            or self.nodes
            or self.description_changed
        )

    def summary(self) -> str:
        """One line per outcome, as `shoal admin deploy` prints it."""
        if self.is_empty:
            return "no change"
        changed = [f"{sid} ({', '.join(names)})" for sid, names in self.changed.items()]
        lines = [
            ("added", list(self.added)),
            ("removed", list(self.removed)),
            ("restarted", changed),
            ("left running", list(self.unchanged)),
            ("replica groups updated", list(self.replica_groups)),
            ("nodes updated", list(self.nodes)),
        ]
        text = [f"{label}: {', '.join(ids)}" for label, ids in lines if ids]
        if self.description_changed:
            text.append("description updated")
        return "\n".join(text)


def changed_fields(old: ServerDescription, new: ServerDescription) -> tuple[str, ...]:
    """The names of the fields that differ, in declaration order (empty when equal)."""
    return tuple(
        f.name
        for f in dataclasses.fields(ServerDescription)
        if f.compare and getattr(old, f.name) != getattr(new, f.name)
    )


def diff_applications(old: Application | None, new: Application) -> ApplicationDiff:
    """How `new` differs from the deployed `old` (None: nothing deployed yet)."""
    before = old.servers() if old is not None else {}
    after = new.servers()
    changed = {
        sid: names
        for sid in sorted(before.keys() & after.keys())
        if (names := changed_fields(before[sid], after[sid]))
    }
    return ApplicationDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=MappingProxyType(changed),
        unchanged=tuple(sorted((before.keys() & after.keys()) - changed.keys())),
        replica_groups=_keyed_changes(
            {g.id: g for g in old.replica_groups} if old is not None else {},
            {g.id: g for g in new.replica_groups},
        ),
        nodes=_keyed_changes(
            {n.name: _node_attributes(n) for n in old.nodes.values()} if old is not None else {},
            {n.name: _node_attributes(n) for n in new.nodes.values()},
        ),
        description_changed=old is not None and old.description != new.description,
    )


def _node_attributes(node: Node) -> tuple[float | None, str]:
    """What a node is apart from its servers (those are diffed one by one)."""
    return node.load_factor, node.description


def _keyed_changes(
    before: Mapping[str, ReplicaGroup | tuple[float | None, str]],
    after: Mapping[str, ReplicaGroup | tuple[float | None, str]],
) -> tuple[str, ...]:
    """Keys added, removed or whose value changed, sorted."""
    keys = before.keys() | after.keys()
    return tuple(sorted(k for k in keys if before.get(k) != after.get(k)))
