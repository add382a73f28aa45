"""The storyboard's life cycle, as esmini runs it: which stories, acts, maneuver groups, maneuvers, events
and actions are in standby, running or complete, frame by frame, and which events fired when.

Every element goes init -> standby (it has a start trigger) -> running -> complete, or back to standby
while its maximumExecutionCount is not used up (events, maneuver groups). Each frame `evaluate` checks the
StopTrigger and start triggers of every element depth first on the world as it is at that frame: an event
that fires starts its actions at once (priority override ends the maneuver's running events, skip waits
while one runs, parallel runs beside them); `step` then ends the actions whose transition is over, and an
end propagates to the parents. A StoryboardElementStateCondition sees a change from the next evaluation
on (the same frame when the change happened earlier in the same evaluation).

What the actions do to the world is the runner's: `Storyboard(definition, world)` calls the world's
(`runner.Runner`'s)
- `check(condition) -> bool`: whether a condition on the world (time, values, entities) holds now;
- `start_action(node, t)`: an action node starts running (the runner sets `node.run`);
- `stop_action(node, t)`: an action node ends or is stopped, whether or not its transition is over;
- `finish_if_over(node, t) -> bool`: whether the action's transition is over at t (then it is done).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from drivesim.standards.openscenario import conditions as cond
from drivesim.standards.openscenario.conditions import Condition, Trigger
from drivesim.standards.openscenario.model import ScenarioDef
from drivesim.standards.openscenario.xmltree import located

INIT, STANDBY, RUNNING, COMPLETE = "init", "standby", "running", "complete"


@dataclass
class Node:
    """A storyboard element with esmini's life cycle (init -> standby -> running -> complete)."""

    kind: str  # storyboard | story | act | maneuverGroup | maneuver | event | action
    name: str
    parent: Optional["Node"]
    definition: Any = None
    actor: Optional[str] = None
    children: list["Node"] = field(default_factory=list)
    start_trigger: Optional[Trigger] = None
    stop_trigger: Optional[Trigger] = None
    max_executions: int = -1
    executions: int = 0
    state: str = INIT
    watchers: list[Condition] = field(default_factory=list)
    run: Any = None  # an action's: what the runner runs for it (runner.Run)
    # kept by __setattr__ as children change state, so that a parent never scans its children (a maneuver
    # may hold 1,000 events): how many are complete, and the running ones (by their index among the children)
    complete_children: int = 0
    running_children: dict[int, "Node"] = field(default_factory=dict)
    index: int = 0  # its place among its parent's children

    def __setattr__(self, key: str, value: Any) -> None:
        parent = self.parent if key == "state" else None
        if parent is not None:
            old = self.__dict__.get("state")
            if (old == COMPLETE) != (value == COMPLETE):
                parent.complete_children += 1 if value == COMPLETE else -1
            if value == RUNNING:
                parent.running_children[self.index] = self
            elif old == RUNNING:
                parent.running_children.pop(self.index, None)
        object.__setattr__(self, key, value)

    def running(self) -> list["Node"]:
        """Its running children, in storyboard order."""
        return [self.running_children[i] for i in sorted(self.running_children)]

    @property
    def path(self) -> str:
        return self.name if self.parent is None or self.parent.kind == "storyboard" else f"{self.parent.path}::{self.name}"


@dataclass(frozen=True)
class FiredEvent:
    time_s: float
    event: str  # the event's path, story::act::group::maneuver::event
    execution: int


class Storyboard:
    """The element tree of a scenario's storyboard and its life cycle on a world (the runner)."""

    def __init__(self, definition: ScenarioDef, world: Any):
        self.world = world
        self.events: list[FiredEvent] = []
        self.root = self._build(definition)

    # --- what the runner's loop calls ----------------------------------------------------------

    def start(self) -> None:
        self._set(self.root, RUNNING, "start")
        for story in self.root.children:
            self._start(story, 0.0)

    def stop_trigger_holds(self, t: float) -> bool:
        trigger = self.root.stop_trigger
        return trigger is not None and trigger.evaluate(t, self._check)

    def evaluate(self, t: float) -> None:
        for story in self.root.children:
            self._eval(story, t)

    def step(self, t: float) -> None:
        for story in self.root.children:
            self._step(story, t)

    def end(self, node: Node, t: float) -> None:
        if node.state == COMPLETE:
            return
        for child in node.children:
            if child.state == RUNNING:
                self.end(child, t)
        if node.state == COMPLETE:
            return
        if node.kind == "action":
            self.world.stop_action(node, t)
        if node.state in (RUNNING, STANDBY):
            if node.kind in ("maneuverGroup", "event") and not (
                    node.max_executions != -1 and node.executions >= node.max_executions):
                for trigger in (node.start_trigger, node.stop_trigger):
                    if trigger is not None:
                        trigger.reset()
                self._set(node, STANDBY, "end")
                for child in node.children:
                    _reset(child)
            else:
                self._set(node, COMPLETE, "end")
        if node.parent is not None:
            self._propagate(node.parent, t)

    # --- the life cycle -------------------------------------------------------------------------

    @staticmethod
    def _build(definition: ScenarioDef) -> Node:
        board = Node("storyboard", "", None, stop_trigger=definition.stop_trigger)
        for story in definition.stories:
            s = Node("story", story.name, board, story)
            board.children.append(s)
            for act in story.acts:
                a = Node("act", act.name, s, act, start_trigger=act.start_trigger, stop_trigger=act.stop_trigger)
                s.children.append(a)
                for group in act.groups:
                    g = Node("maneuverGroup", group.name, a, group, max_executions=group.max_executions)
                    a.children.append(g)
                    for man in group.maneuvers:
                        mn = Node("maneuver", man.name, g, man)
                        g.children.append(mn)
                        for ev in man.events:
                            e = Node("event", ev.name, mn, ev, start_trigger=ev.start_trigger,
                                     max_executions=ev.max_executions)
                            mn.children.append(e)
                            for act_def in ev.actions:
                                for actor in act_def.actors or [None]:
                                    e.children.append(Node("action", act_def.name, e, act_def, actor=actor))
        nodes = list(_walk(board))
        for n in nodes:
            for k, child in enumerate(n.children):
                child.index = k
        index = _index(nodes)
        for trigger in [board.stop_trigger] + [n.start_trigger for n in nodes] + [n.stop_trigger for n in nodes]:
            for c in trigger.conditions() if trigger is not None else ():
                if isinstance(c.spec, cond.StoryboardState):
                    _resolve(index, c).watchers.append(c)
        return board

    def _set(self, node: Node, state: str, transition: str) -> None:
        if node.state != state:
            for c in node.watchers:
                c.changes.append((state, transition))
            node.state = state

    def _start(self, node: Node, t: float) -> None:
        if node.state == INIT and node.start_trigger is not None:
            self._set(node, STANDBY, "initToStandby")
        elif (node.state == INIT and node.start_trigger is None) or node.state == STANDBY or node.executions:
            self._set(node, RUNNING, "start")
            node.executions += 1
        if node.kind not in ("event", "action") and node.state == RUNNING:
            for child in node.children:
                self._start_event(child, t) if child.kind == "event" else self._start(child, t)

    def _start_event(self, ev: Node, t: float) -> None:
        maneuver, priority = ev.parent, ev.definition.priority
        if priority in ("override", "parallel") and ev.state == RUNNING:
            return
        if priority == "override":
            for other in maneuver.running():
                if other is not ev and other.state == RUNNING:
                    self.end(other, t)
        elif priority == "skip" and maneuver.running_children:
            for c in ev.watchers:  # standby -> standby: a StoryboardElementStateCondition sees skipTransition
                c.changes.append((ev.state, "skip"))
            return
        self._start(ev, t)
        if ev.state != RUNNING:
            return
        self.events.append(FiredEvent(t, ev.path, ev.executions))
        if not ev.children:
            self.end(ev, t)
            return
        for action in ev.children:
            self._start(action, t)
            self.world.start_action(action, t)

    def _stop(self, node: Node, t: float) -> None:
        for child in node.children:
            self._stop(child, t)
        if node.state in (STANDBY, RUNNING):
            if node.kind == "action":
                self.world.stop_action(node, t)
            self._set(node, COMPLETE, "stop")
            if node.parent is not None:
                self._propagate(node.parent, t)

    def _propagate(self, node: Node, t: float) -> None:
        if node.kind != "storyboard" and node.state != COMPLETE and node.complete_children == len(node.children):
            self.end(node, t)

    def _eval(self, node: Node, t: float) -> None:
        if node.state == RUNNING and node.stop_trigger is not None and node.stop_trigger.evaluate(t, self._check):
            self._stop(node, t)
        if node.state == STANDBY and (node.start_trigger is None or node.start_trigger.evaluate(t, self._check)):
            self._start_event(node, t) if node.kind == "event" else self._start(node, t)
        if node.state == RUNNING:
            for child in list(node.children):
                self._eval(child, t)

    def _step(self, node: Node, t: float) -> None:
        if node.state != RUNNING:
            return
        for child in list(node.children):
            if child.kind == "action":
                if child.state == RUNNING and self.world.finish_if_over(child, t):
                    self.end(child, t)
            else:
                self._step(child, t)

    def _check(self, c: Condition) -> bool:
        if not isinstance(c.spec, cond.StoryboardState):
            return self.world.check(c)
        wanted = _STATE_TESTS[c.spec.state]
        if not c.changes:
            return c.latest is not None and wanted((c.latest[0], None))
        result = any(wanted(change) for change in c.changes)
        c.latest = c.changes[-1]
        c.changes.clear()
        return result


def _walk(node: Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _reset(node: Node) -> None:
    """esmini's Reset: back to init, silently, triggers cleared (executions are kept)."""
    for child in node.children:
        _reset(child)
    node.state = INIT
    for trigger in (node.start_trigger, node.stop_trigger):
        if trigger is not None:
            trigger.reset()


def _index(nodes: list[Node]) -> dict[tuple[str, str], list[Node]]:
    """(kind, reference) -> the nodes, in storyboard order, that a reference names: its name, its path, or
    the end of its path after a '::' (each node's path is read once: one lookup per condition, not a scan)."""
    index: dict[tuple[str, str], list[Node]] = {}
    for n in nodes:
        path = n.path
        refs = {n.name, path}
        at = path.find("::")
        while at >= 0:
            refs.add(path[at + 2:])
            at = path.find("::", at + 1)
        for ref in refs:
            index.setdefault((n.kind, ref), []).append(n)
    return index


def _resolve(index: dict[tuple[str, str], list[Node]], c: Condition) -> Node:
    spec = c.spec
    ref = spec.ref.replace("/", "::")
    found = index.get((spec.element_type, ref), [])
    if spec.element_type == "action":  # one action per actor: any of them stands for the action
        found = found[:1]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise located(c.node, f"{what} {spec.element_type} named {spec.ref!r} in the storyboard",
                      "name an existing element (a unique name, or its path story::act::...)")
    return found[0]


# state in a StoryboardElementStateCondition -> test of a (state, transition) change
_STATE_TESTS = {
    "startTransition": lambda c: c[1] == "start", "endTransition": lambda c: c[1] == "end",
    "stopTransition": lambda c: c[1] == "stop", "skipTransition": lambda c: c[1] == "skip",
    "completeState": lambda c: c[0] == COMPLETE, "runningState": lambda c: c[0] == RUNNING,
    "standbyState": lambda c: c[0] == STANDBY,
}
