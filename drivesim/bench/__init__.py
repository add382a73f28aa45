"""Benchmarks: speed and memory targets (`drivesim bench`), the GPU path's frames/s, counted FLOPs
and MFU (`drivesim bench --mfu`, scripts/device_check.sh), training steps/s and the gRPC transport.

Modules: speed.py (the CPU targets: s/frame per stage, ratios against the reference in one run),
device.py (the GPU path) with device_report.py (its Markdown report) and training.py (training steps),
flops.py (torch's FLOP counter per network forward), grpc.py (a local server against the backend).
May import every other package; nothing imports it but the CLI.
"""
