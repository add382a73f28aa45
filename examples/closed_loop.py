"""Closed-loop simulation against drivesim's OpenSession: adaptive cruise control behind a braking car.

    python examples/closed_loop.py                        # starts a schematic server in this process
    drivesim serve --backend schematic &                  # or any running server:
    python examples/closed_loop.py --server localhost:50051 -o out/closed_loop

The simulator (this file) owns the world: each step it moves the ego and two cars, sends their
states, and gets back the camera frame with its labels. The controller closes the loop on what
the *camera labels* say (the lead's `distance_m`), not on the simulator's own state, the way a
perception stack in the loop would. The lead brakes hard at 3 s; the controller must keep a
safe gap. The last line reports the smallest gap and whether it stayed above MIN_SAFE_GAP_M.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass

HEADER = """\
version: 1
name: acc_closed_loop
duration_s: 1            # required by the format; a session runs as long as the client steps
fps: 10
camera: {width: 512, height: 256, fov_deg: 90, mount_height_m: 1.5}
environment: {time_of_day: day, crowdedness: 0.0}
road: {lanes: 3, lane_width_m: 3.5}
ego: {lane: 1, speed_mps: 20}
"""
LANE_WIDTH_M, EGO_LANE = 3.5, 1
CAR_LENGTH_M = 4.5
MIN_SAFE_GAP_M = 2.0  # bumper to bumper


@dataclass
class Car:
    id: str
    lane: int
    s_m: float  # position along the road (world frame: where the ego started is 0)
    speed_mps: float

    @property
    def lateral_m(self) -> float:
        return (self.lane + 0.5) * LANE_WIDTH_M


def lead_speed_command(t: float) -> float:
    """The scripted lead: cruises at 20 m/s, brakes to 6 m/s from t = 3 s, then holds."""
    return 20.0 if t < 3.0 else 6.0


def acc_accel(gap_m: float | None, closing_mps: float, ego_speed: float, set_speed: float = 22.0) -> float:
    """A textbook ACC: hold `set_speed`, or a 1.6 s time gap + 4 m standstill to the lead (m/s^2)."""
    cruise = 0.4 * (set_speed - ego_speed)
    if gap_m is None:
        return max(-3.0, min(1.5, cruise))
    desired = 4.0 + 1.6 * ego_speed
    follow = 0.25 * (gap_m - desired) - 0.9 * closing_mps
    return max(-8.0, min(1.5, min(cruise, follow)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="HOST:PORT of a drivesim server (default: start one in-process)")
    parser.add_argument("--token", default=os.environ.get("DRIVESIM_TOKEN"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("-o", "--output", help="folder for the frames with boxes drawn (PNG)")
    args = parser.parse_args()

    from drivesim.serve.client import DrivesimClient

    with contextlib.ExitStack() as stack:
        target = args.server
        if target is None:
            from drivesim.serve.generator import SchematicGenerator
            from drivesim.serve.server import DrivesimServer, ServeConfig

            target = stack.enter_context(DrivesimServer(SchematicGenerator(), ServeConfig(port=0))).address
        client = stack.enter_context(DrivesimClient(target, token=args.token))
        session = stack.enter_context(client.session(HEADER, encoding="png"))
        return run_loop(session, args.seconds, args.output)


def run_loop(session, seconds: float, output: str | None) -> int:
    dt = 1.0 / session.fps
    ego = Car("ego", EGO_LANE, 0.0, 20.0)
    lead = Car("lead", EGO_LANE, 30.0, 20.0)
    overtaker = Car("overtaker", 2, -15.0, 27.0)  # passes on the right, never in the ego's lane
    measured_gap, last_gap, min_gap = None, None, float("inf")
    steps = round(seconds / dt)
    for k in range(steps):
        t = k * dt
        # 1. the world -> agent states relative to the camera (at the ego's front, centre of its lane)
        agents = [{"id": c.id, "type": "car", "lateral_m": c.lateral_m, "distance_m": c.s_m - ego.s_m,
                   "speed_mps": c.speed_mps} for c in (lead, overtaker)]
        (frame,) = session.step(agents, ego={"speed_mps": ego.speed_mps})
        # 2. perception: the lead's gap from the frame's labels (distance is to its centre)
        lead_box = next((b for b in frame.boxes if b.track_id == "lead"), None)
        measured_gap = lead_box.distance_m - CAR_LENGTH_M / 2 if lead_box else None
        closing = 0.0 if (measured_gap is None or last_gap is None) else (last_gap - measured_gap) / dt
        last_gap = measured_gap
        true_gap = lead.s_m - ego.s_m - CAR_LENGTH_M / 2
        min_gap = min(min_gap, true_gap)
        if output:
            save_frame(output, frame)
        if k % round(1.0 / dt) == 0:
            print(f"t={t:4.1f}s  ego {ego.speed_mps:5.2f} m/s  lead {lead.speed_mps:5.2f} m/s  "
                  f"gap {true_gap:5.1f} m (camera says {measured_gap if measured_gap is None else round(measured_gap, 1)})")
        # 3. control and physics
        accel = acc_accel(measured_gap, closing, ego.speed_mps)
        ego.speed_mps = max(0.0, ego.speed_mps + accel * dt)
        lead.speed_mps += max(-6.0, min(2.0, (lead_speed_command(t) - lead.speed_mps) / dt)) * dt
        for car in (ego, lead, overtaker):
            car.s_m += car.speed_mps * dt
    safe = min_gap >= MIN_SAFE_GAP_M
    print(f"{steps} steps: smallest gap {min_gap:.1f} m -> {'safe' if safe else 'TOO CLOSE'}")
    return 0 if safe else 1


def save_frame(folder: str, frame) -> None:
    import cv2

    from drivesim.draw.overlay import draw_boxes

    os.makedirs(folder, exist_ok=True)
    shown = draw_boxes(frame.image, frame.boxes)
    cv2.imwrite(os.path.join(folder, f"{frame.index:06d}.png"), cv2.cvtColor(shown, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    raise SystemExit(main())
