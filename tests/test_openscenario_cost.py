"""The OpenSCENARIO runner's cost is linear in the number of events: 1,000 events in one maneuver validate
with the right result, and the motion profiles are evaluated a number of times that grows with the events
and frames, not with their square (the runner used to rebuild and re-evaluate every profile at each event
start: 100 copies of one event took 29 s, 300 more than 25 minutes).

No wall time is asserted: the bound is on the work, counted -- evaluations of a blend's shape (every
value, rate or integral of a `BlendedProfile` evaluates one shape function per segment it looks at) and
the profiles built from scratch.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from drivesim.scenario import motion as scenario_motion
from drivesim.scenario.motion import BlendedProfile, EntityMotion
from drivesim.scenario.network import scenario_world
from drivesim.standards.openscenario import ImportOptions, import_openscenario
from openscenario_fixtures import absolute, car, event, place, sim_time, speed_action, story, trigger, xosc

FPS = 10.0


def _events_file(tmp_path, n: int):
    """The Overtaker's maneuver: n speed events, 20 a frame (t > 0.005 i), each a step to 10 + i % 20 m/s;
    the scenario stops 1 s after the maneuver has ended (its end: every event's)."""
    events = [event(f"E{i}", speed_action(absolute(10 + i % 20)), trigger(sim_time(0.005 * i)), priority="parallel")
              for i in range(n)]
    stop = trigger('<Condition name="Done" delay="1" conditionEdge="rising"><ByValueCondition>'
                   '<StoryboardElementStateCondition storyboardElementType="maneuver" storyboardElementRef="SManeuver" '
                   'state="endTransition"/></ByValueCondition></Condition>', tag="StopTrigger")
    return xosc(tmp_path, car("Ego") + car("Overtaker", "car_red"),
                place("Ego", -2, 50.0, 20.0) + place("Overtaker", -1, 30.0, 20.0),
                story("Overtaker", *events), stop, name=f"events_{n}.xosc")


def _counted(patch: pytest.MonkeyPatch) -> Counter:
    """Count every shape evaluation and every profile built from its changes."""
    counts: Counter = Counter()

    def counting(f):
        def wrapped(u):
            counts["shape"] += 1
            return f(u)
        return wrapped
    for name, functions in list(scenario_motion._SHAPES.items()):
        patch.setitem(scenario_motion._SHAPES, name, tuple(counting(f) for f in functions))
    built = BlendedProfile.__init__

    def init(self, *args, **kwargs):
        counts["built"] += 1
        built(self, *args, **kwargs)
    patch.setattr(BlendedProfile, "__init__", init)
    return counts


SMALL, LARGE = 100, 1000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{n: (the imported scenario, its counts)} for SMALL and LARGE events."""
    out = {}
    for n in (SMALL, LARGE):
        path = _events_file(tmp_path_factory.mktemp(f"events{n}"), n)
        with pytest.MonkeyPatch.context() as patch:
            counts = _counted(patch)
            out[n] = import_openscenario(path, ImportOptions(fps=FPS)), counts
    return out


def test_a_thousand_events_validate_with_the_right_result(runs):
    imported, _ = runs[LARGE]
    fired = [e.event.split("::")[-1] for e in imported.events]
    assert sorted(fired) == sorted(f"E{i}" for i in range(LARGE))  # every event fired once
    assert imported.stopped_by_trigger
    # the last event fires at the first frame after 0.005 (n - 1) s; the maneuver ends in the next, +1 s delay
    last_frame = np.ceil(0.005 * (LARGE - 1) * FPS + 1e-9) / FPS
    assert imported.scenario.duration_s == pytest.approx(last_frame + 1 / FPS + 1.0)
    world = scenario_world(imported.scenario)
    final = EntityMotion(world.agents[0]).at(np.array([imported.scenario.duration_s - 0.5]))
    assert float(final.speed_mps[0]) == pytest.approx(10 + (LARGE - 1) % 20)


def test_profile_work_grows_linearly_with_the_events(runs):
    (_, few), (_, many) = runs[SMALL], runs[LARGE]
    # a bounded number of shape evaluations per event (the frames grow with the events here too: 20 events a
    # frame); quadratic work would be ~100 times the small run's (it was: 184,650 for 100 events, 4.6 million
    # for 300), not ~10
    assert many["shape"] <= 20 * LARGE
    assert many["shape"] <= 15 * few["shape"]
    # a profile grows in place as the runner records its changes: built as often for 1,000 events as for 100,
    # not once per change
    assert many["built"] == few["built"]
